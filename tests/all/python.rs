//! Policies written in Python (`policies/python/`, with the SDK in
//! `guest-sdk/python/`): built by `scripts/python-policy build-examples`
//! (which `scripts/test` runs before `cargo test`) into
//! `target/python-policies/`, put in place with `smectl install` as an
//! operator would, and run by the real `sme` against real containers. Their
//! output must be byte for byte what the Rust policies print.

use std::path::{Path, PathBuf};

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox, keys_in_order};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built Python example's path.
fn built(name: &str) -> String {
    crate::support::python_policy(name).display().to_string()
}

/// A sandbox with `file` installed as module `name` through `smectl install`
/// (checked, pinned and precompiled into the sandbox's cache), after `config`.
fn installed(file: &str, name: &str, config: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.config(config);
    let run = sandbox.smectl(&["install", file, "--as", name]);
    assert_eq!(
        run.code,
        Some(0),
        "smectl install {file} --as {name}: {run:?}"
    );
    sandbox
}

#[test]
fn python_stop_answers_byte_for_byte_as_the_built_in_stop() {
    let python = installed(&built("stop"), "stop", "");
    let rust = Sandbox::new();

    let (first, second) = (Container::running("py-stop"), Container::running("rs-stop"));
    let run = python.sme(&[&first.name, "stop"]);
    run.succeeds_with("\"\"");
    run.answers_as(&rust.sme(&[&second.name, "stop"]));
    assert_eq!(
        (first.status(), second.status()),
        ("exited".into(), "exited".into())
    );

    let stopped = Container::stopped("py-stopped");
    python
        .sme(&[&stopped.name, "stop"])
        .answers_as(&rust.sme(&[&stopped.name, "stop"]));

    let missing = crate::support::unique("py-missing");
    let run = python.sme(&[&missing, "stop"]);
    run.fails_with(&format!(
        "exit status 1: Error response from daemon: No such container: {missing}\n"
    ));
    run.answers_as(&rust.sme(&[&missing, "stop"]));
}

#[test]
fn python_stop_caps_a_long_grace_period_with_its_setting() {
    let python = installed(
        &built("stop"),
        "stop",
        "[modules.stop.settings]\ngrace_cap_s = 1\n",
    );
    let container = Container::with_args("py-grace", &["--stop-timeout", "30"]);
    python.sme(&[&container.name, "stop"]).succeeds_with("\"\"");
    let asked: Vec<u64> = python
        .audit()
        .into_iter()
        .filter(|line| line["verb"] == "stop")
        .filter_map(|line| line["timeout_s"].as_u64())
        .collect();
    assert_eq!(asked, [1], "the grace period asked of Docker");
    assert_eq!(container.status(), "exited");
}

#[test]
fn python_protected_stop_refuses_as_the_rust_example_does() {
    let config = "[modules.stop.settings]\nprotected_label = \"com.example.keep\"\n";
    let python = installed(&built("protected-stop"), "stop", config);
    let rust = installed(guests::PROTECTED_STOP, "stop", config);

    // By name: refused before any call, so no container is needed.
    let run = python.sme(&["edgex-redis", "stop"]);
    run.fails_with("Error stopping service: edgex-redis is protected and may not be stopped");
    run.answers_as(&rust.sme(&["edgex-redis", "stop"]));

    // By the label the setting names.
    let kept = Container::with_args("py-kept", &["--label", "com.example.keep=true"]);
    let run = python.sme(&[&kept.name, "stop"]);
    run.fails_with(&format!(
        "Error stopping service: {} is protected and may not be stopped",
        kept.name
    ));
    run.answers_as(&rust.sme(&[&kept.name, "stop"]));
    assert!(kept.is_running());

    // Anything else is stopped, and a missing service is the daemon's message.
    let ordinary = Container::with_args("py-ordinary", &["--label", "org.sme.protected=true"]);
    python.sme(&[&ordinary.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(ordinary.status(), "exited");
    let missing = crate::support::unique("py-missing");
    python
        .sme(&[&missing, "stop"])
        .answers_as(&rust.sme(&[&missing, "stop"]));
}

#[test]
fn python_uptime_adds_its_fields_after_the_base_metrics() {
    let grant = "[modules.\"metrics.d/uptime\".grants]\ninspect = [\"self\"]\n";
    let python = installed(&built("uptime"), "metrics.d/uptime", grant);
    let rust = installed(guests::UPTIME, "metrics.d/uptime", grant);

    let running = Container::running("py-uptime");
    let run = python.sme(&[&running.name, "metrics"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert_eq!(
        keys_in_order(&run.stdout),
        [
            "cpuUsedPercent",
            "memoryUsed",
            "raw",
            "uptimeSeconds",
            "restartCount"
        ]
    );
    let fields: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(fields["uptimeSeconds"].as_i64().unwrap() >= 0, "{fields}");
    assert_eq!(fields["restartCount"], 0);

    // A stopped container's figures are all zero: the whole object is the Rust add-on's.
    let stopped = Container::stopped("py-uptime-stopped");
    python
        .sme(&[&stopped.name, "metrics"])
        .answers_as(&rust.sme(&[&stopped.name, "metrics"]));
}

#[test]
fn python_examples_pass_their_scenarios_under_smectl_test() {
    for (example, name, config) in [
        ("stop", "stop", ""),
        ("protected-stop", "stop", ""),
        (
            "uptime",
            "metrics.d/uptime",
            "[modules.\"metrics.d/uptime\".grants]\ninspect = [\"self\"]\n",
        ),
        ("backoff-restart", "restart", ""),
    ] {
        // `smectl install` precompiles into the cache `smectl test` reads
        // (`$XDG_CACHE_HOME/sme`), as an operator's install does; compiling
        // a whole CPython inside the first scenario would spend its deadline.
        let mut sandbox = Sandbox::new();
        let nowhere = format!("unix://{}", sandbox.root.join("no-docker.sock").display());
        let xdg = sandbox.root.join("xdg");
        let cache = xdg.join("sme").display().to_string();
        sandbox
            .env("DOCKER_HOST", &nowhere)
            .env("XDG_CACHE_HOME", &xdg.display().to_string())
            .env("SME_CACHE_DIR", &cache);
        sandbox.config(config);
        let module = built(example);
        let install = sandbox.smectl(&["install", &module, "--as", name]);
        assert_eq!(install.code, Some(0), "{example}: {install:?}");

        let dir = repo()
            .join("policies/python")
            .join(example)
            .join("scenarios");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path().display().to_string())
            .filter(|path| path.ends_with(".toml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no scenarios in {}", dir.display());
        let mut args = vec!["--json", "test", "--module", &module, "--as", name];
        args.extend(files.iter().map(String::as_str));
        let run = sandbox.smectl(&args);
        let report: serde_json::Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
        assert_eq!(run.code, Some(0), "{example}: {report:#}");
        assert_eq!(report["passed"], files.len(), "{example}");
    }
}

/// The Python stop, built on `sme_guest.edgex`, drives a Swarm service as the
/// built-in stop does: scaled to zero with its count noted, then nothing to
/// do, then the built-in start brings it back.
#[test]
fn python_stop_drives_a_swarm_service_as_the_built_in_stop() {
    let swarm = "[swarm]\nmode = \"on\"\n";
    let python = installed(&built("stop"), "stop", swarm);
    let service = crate::support::Service::replicated("py-svc", 2);
    python.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(service.replicas(), "0");
    assert_eq!(
        service.labels()["sme.note.replicas"].as_str(),
        Some("2"),
        "{:?}",
        service.labels()
    );
    python.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    python.sme(&[&service.name, "start"]).succeeds_with("\"\"");
    assert_eq!(service.replicas(), "2");
}
