//! The fast paths: the compiled-component cache and fast metrics. Timings are
//! never asserted here (that is `bench/`); what is checked is that the fast
//! paths are taken and stay correct.

use std::path::PathBuf;

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox, docker};

/// Runs `sme` with debug logging and returns how the component was loaded
/// (`Precompiled`, `Cached` or `Compiled`), checking the run succeeded.
fn load_source(sandbox: &mut Sandbox, args: &[&str]) -> String {
    sandbox.env("SME_LOG", "sme=debug");
    let run = sandbox.sme(args);
    sandbox.envs.retain(|(key, _)| key != "SME_LOG");
    assert_eq!(run.code, Some(0), "{run:?}");
    let line = run
        .stderr
        .lines()
        .find(|line| line.contains("component loaded"))
        .unwrap_or_else(|| panic!("no load line in {:?}", run.stderr));
    line.split("source=").nth(1).unwrap().trim().to_owned()
}

/// The cache's files (artifacts and any temporary file), without the
/// directory of digest records.
fn artifacts(sandbox: &Sandbox) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sandbox.root.join("cache"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.file_name() != "digests")
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn built_ins_load_precompiled() {
    let container = Container::running("precompiled");
    let mut sandbox = Sandbox::new();
    assert_eq!(
        load_source(&mut sandbox, &[&container.name, "start"]),
        "Precompiled"
    );
    assert!(
        artifacts(&sandbox).is_empty(),
        "nothing to cache for a built-in"
    );
}

#[test]
fn a_policy_file_is_compiled_once_then_loaded_from_the_cache() {
    let container = Container::running("cached");
    let mut sandbox = Sandbox::new();
    sandbox.install(guests::DEFAULT_STOP, "stop.wasm");
    assert_eq!(
        load_source(&mut sandbox, &[&container.name, "stop"]),
        "Compiled"
    );
    let cached = artifacts(&sandbox);
    assert_eq!(cached.len(), 1, "{cached:?}");
    let name = cached[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let sha = crate::support::sha256_of(&sandbox.policy_dir().join("stop.wasm"));
    assert!(
        name.starts_with(&format!("{sha}-")) && name.ends_with(".cwasm"),
        "{name}"
    );
    assert_eq!(
        load_source(&mut sandbox, &[&container.name, "stop"]),
        "Cached"
    );
    assert_eq!(artifacts(&sandbox), cached);
}

#[test]
fn a_changed_module_is_compiled_again() {
    let container = Container::running("changed");
    let mut sandbox = Sandbox::new();
    sandbox.install(guests::DEFAULT_STOP, "stop.wasm");
    load_source(&mut sandbox, &[&container.name, "stop"]);
    sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    container.start_again();
    assert_eq!(
        load_source(&mut sandbox, &[&container.name, "stop"]),
        "Compiled"
    );
    assert_eq!(artifacts(&sandbox).len(), 2, "one artifact per module hash");
}

#[test]
fn a_corrupt_cache_entry_is_compiled_again() {
    let container = Container::running("corrupt");
    let mut sandbox = Sandbox::new();
    sandbox.install(guests::DEFAULT_STOP, "stop.wasm");
    load_source(&mut sandbox, &[&container.name, "stop"]);
    let artifact = artifacts(&sandbox).pop().unwrap();
    std::fs::write(&artifact, b"\x7fELF but not really").unwrap();
    assert_eq!(
        load_source(&mut sandbox, &[&container.name, "stop"]),
        "Compiled"
    );
    assert_eq!(
        load_source(&mut sandbox, &[&container.name, "stop"]),
        "Cached"
    );
}

#[test]
fn an_unusable_cache_directory_only_costs_speed() {
    use std::os::unix::fs::PermissionsExt;

    let container = Container::running("no-cache");
    let mut sandbox = Sandbox::new();
    sandbox.install(guests::DEFAULT_STOP, "stop.wasm");
    let shared = sandbox.root.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let not_a_dir = sandbox.root.join("sme.toml");
    for dir in [
        shared.clone(),
        not_a_dir,
        PathBuf::from("/proc/sme-cache"),
        PathBuf::new(),
    ] {
        sandbox.env("SME_CACHE_DIR", dir.to_str().unwrap());
        assert_eq!(
            load_source(&mut sandbox, &[&container.name, "stop"]),
            "Compiled"
        );
    }
    assert_eq!(
        std::fs::read_dir(&shared).unwrap().count(),
        0,
        "a shared directory was written"
    );
}

#[test]
fn concurrent_first_runs_share_one_artifact() {
    let containers: Vec<Container> = (0..12).map(|_| Container::running("first-runs")).collect();
    let sandbox = Sandbox::new();
    sandbox.install(guests::DEFAULT_STOP, "stop.wasm");
    let sandbox_ref = &sandbox;
    std::thread::scope(|scope| {
        let runs: Vec<_> = containers
            .iter()
            .map(|c| scope.spawn(move || sandbox_ref.sme(&[&c.name, "stop"])))
            .collect();
        for run in runs {
            run.join().unwrap().succeeds_with("\"\"");
        }
    });
    let cached = artifacts(&sandbox);
    assert_eq!(
        cached.len(),
        1,
        "exactly one artifact and no temporary files: {cached:?}"
    );
    let mut sandbox = sandbox;
    let last = &containers[0];
    last.start_again();
    assert_eq!(load_source(&mut sandbox, &[&last.name, "stop"]), "Cached");
}

#[test]
fn fast_metrics_memory_agrees_with_docker() {
    let container = Container::running("memory");
    let sandbox = Sandbox::new();
    let run = sandbox.sme(&[&container.name, "metrics"]);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let ours = value["raw"]["mem_usage"]
        .as_str()
        .unwrap()
        .split(" / ")
        .nth(1)
        .unwrap()
        .to_owned();
    let theirs = docker(&[
        "stats",
        &container.name,
        "--no-stream",
        "--format",
        "{{.MemUsage}}",
    ]);
    assert_eq!(
        ours,
        theirs.split(" / ").nth(1).unwrap(),
        "the memory limits differ"
    );
    let used = value["memoryUsed"].as_f64().unwrap();
    assert!(used > 100_000.0 && used < 50_000_000.0, "{used}");
}
