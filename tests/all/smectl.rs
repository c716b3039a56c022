//! `smectl`, the operator's and auditor's command: inspect, check, run,
//! install, new.

use std::path::{Path, PathBuf};
use std::process::Command;

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox, docker, sha256_of};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn inspect_shows_world_imports_hash_grants_and_warnings() {
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::PAUSE, "pause.wasm");
    sandbox.config("[modules.pause.grants]\npause = [\"self\"]\nrestart = [\"name:edgex-*\"]\n");
    let run = sandbox.smectl(&["inspect", path.to_str().unwrap()]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let text = &run.stdout;
    for expected in [
        "module      pause",
        "world       operation",
        "run: func(request: record{service, operation}) -> result<string, string>",
        "sme:policy/containers@0.1.0",
        "inspect, pause",
        "given nothing, no files, environment, network or stdio",
        "grants      (configured)",
        "pause     self  (changes containers)",
        "restart   name:edgex-*",
        "limits      deadline 15000 ms, fuel 2000000000, memory 64 MiB, 100 host calls",
        "module file 64 MiB, compiled on demand up to 1024 KiB; shared by the whole request: \
         request deadline 16000 ms",
        "warning: imports inspect but is granted inspect on no container",
        "warning: is granted restart but never imports it",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(text.contains(&crate::support::sha256_of(&path)));
}

#[test]
fn inspect_json_is_machine_readable() {
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::UPTIME, "metrics.d/uptime.wasm");
    let run = sandbox.smectl(&["--json", "inspect", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = json(&run.stdout);
    assert_eq!(report["module"], "metrics.d/uptime");
    assert_eq!(report["world"], "metrics");
    assert_eq!(report["sha256"], crate::support::sha256_of(&path).as_str());
    assert_eq!(
        report["grant_source"],
        "nothing configured: deny everything"
    );
    assert_eq!(report["grants"], serde_json::json!({}));
    assert_eq!(report["limits"]["host_calls"], 100);
    // Every key of `[limits]`, the request's own marked.
    let keys: Vec<&str> = report["limits"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        sme::sandbox::limits::LIMIT_KEYS.len(),
        "every limit key, module_mib and compile_on_demand_kib included: {keys:?}"
    );
    assert_eq!(report["limits"]["compile_on_demand_kib"], 1024);
    assert_eq!(report["limits"]["module_mib"], 64);
    assert_eq!(report["limits"]["request_deadline_ms"], 16000);
    assert_eq!(
        report["per_request_limits"],
        serde_json::json!(["request_deadline_ms"])
    );
    let imports = report["imports"].as_array().unwrap();
    let containers = imports
        .iter()
        .find(|i| i["name"] == "sme:policy/containers@0.1.0")
        .unwrap();
    assert_eq!(containers["functions"], serde_json::json!(["inspect"]));
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("imports inspect")
    );
}

#[test]
fn inspect_reports_a_pin_mismatch_as_a_problem() {
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    sandbox.config(&format!(
        "[modules.stop]\nsha256 = \"{}\"\n",
        "a".repeat(64)
    ));
    let run = sandbox.smectl(&["inspect", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("(MISMATCH)"));
    assert!(
        run.stdout
            .contains("problem: sha256 does not match the pin")
    );
}

#[test]
fn inspect_of_a_non_component_is_a_one_line_error() {
    let sandbox = Sandbox::new();
    let path = sandbox.install_bytes(b"\0asm\x01\0\0\0", "stop.wasm");
    let run = sandbox.smectl(&["inspect", path.to_str().unwrap()]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(
        run.stderr
            .contains("a core WebAssembly module, not a component")
    );
    let run = sandbox.smectl(&["--json", "inspect", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(1));
    let error = json(&run.stdout)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("not a component"), "{error}");
}

#[test]
fn check_passes_a_good_deployment() {
    let sandbox = Sandbox::new();
    sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    sandbox.install(guests::PAUSE, "pause.wasm");
    sandbox.config("[modules.pause.grants]\npause = [\"self\"]\ninspect = [\"self\"]\n");
    let run = sandbox.smectl(&["check"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(
        run.stdout.contains("5 modules checked, 0 with problems"),
        "{}",
        run.stdout
    );
    let report = json(&sandbox.smectl(&["--json", "check"]).stdout);
    assert_eq!(report["ok"], true);
    let modules: Vec<&str> = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["module"].as_str().unwrap())
        .collect();
    assert_eq!(modules, ["pause", "stop", "start", "restart", "metrics"]);
}

#[test]
fn check_fails_on_any_module_that_would_not_run() {
    let sandbox = Sandbox::new();
    let stop = std::fs::read(guests::DEFAULT_STOP).unwrap();
    sandbox.install_bytes(&stop[..stop.len() / 3], "stop.wasm");
    sandbox.install(guests::UPTIME, "restart.wasm");
    sandbox.install(guests::PAUSE, "pause.wasm");
    sandbox.config(&format!(
        "[modules.pause]\nsha256 = \"{}\"\n",
        "b".repeat(64)
    ));
    let run = sandbox.smectl(&["--json", "check"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let report = json(&run.stdout);
    assert_eq!(report["ok"], false);
    let problem = |name: &str| {
        report["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["module"] == name)
            .and_then(|m| m["problem"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        problem("stop").contains("not a valid component"),
        "{report}"
    );
    assert!(
        problem("restart").contains("implements the metrics world"),
        "{report}"
    );
    assert!(
        problem("pause").contains("refused, its sha256 is"),
        "{report}"
    );
    assert_eq!(problem("metrics"), "");
}

#[test]
fn check_fails_on_a_bad_configuration() {
    let sandbox = Sandbox::new();
    sandbox.config("[modules.stop.grants]\nstop = [\"everyone\"]\n");
    let run = sandbox.smectl(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.starts_with("error: configuration "), "{run:?}");
    assert!(
        run.stdout
            .contains("line 2: [modules.stop] unknown target \"everyone\""),
        "{run:?}"
    );
}

#[test]
fn dry_run_records_mutations_without_performing_them() {
    let container = Container::running("dry-run");
    let started = container.started_at();
    let sandbox = Sandbox::new();
    let run = sandbox.smectl(&["run", &container.name, "stop", "--dry-run"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("would stop {}", container.name)),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("output: \"\""), "{}", run.stdout);
    assert!(container.is_running() && container.started_at() == started);

    let report = json(
        &sandbox
            .smectl(&["--json", "run", &container.name, "restart", "--dry-run"])
            .stdout,
    );
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["output"], "\"\"");
    assert_eq!(report["recorded"][0]["verb"], "restart");
    let verbs: Vec<&str> = report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verb"].as_str().unwrap())
        .collect();
    // The first inspect reads the container's own stop timeout.
    assert_eq!(verbs, ["inspect", "restart", "inspect"]);
    assert!(container.is_running() && container.started_at() == started);
    assert!(sandbox.audit().iter().all(|l| l["dry_run"] == true));
}

#[test]
fn dry_run_shows_denials_too() {
    let container = Container::running("dry-deny");
    let sandbox = Sandbox::new();
    sandbox.install(guests::STOP_OTHER, "reach.wasm");
    let report = json(
        &sandbox
            .smectl(&["--json", "run", &container.name, "reach", "--dry-run"])
            .stdout,
    );
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["host_calls"][0]["decision"], "deny");
    assert_eq!(report["recorded"], serde_json::json!([]));
}

#[test]
fn run_without_dry_run_performs_the_operation() {
    let container = Container::running("real-run");
    let run = Sandbox::new().smectl(&["run", &container.name, "stop"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!container.is_running());
}

#[test]
fn check_finds_and_removes_a_swapped_cache_artifact() {
    let container = Container::running("swapped");
    let sandbox = Sandbox::new();
    let stop = sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    let restart = sandbox.install(guests::HEALTHY_RESTART, "restart.wasm");
    // Both runs compile their module and cache the artifact.
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    let cache = sandbox.root.join("cache");
    let artifact_of = |module: &std::path::Path| {
        let sha = crate::support::sha256_of(module);
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&sha))
            .unwrap_or_else(|| panic!("no cached artifact for {}", module.display()))
    };
    let (stop_artifact, restart_artifact) = (artifact_of(&stop), artifact_of(&restart));
    assert_eq!(
        sandbox.smectl(&["check"]).code,
        Some(0),
        "the honest cache passes"
    );

    // Whoever can write the cache makes `stop` run the restart policy (here
    // with stop's grant, so its restart is denied).
    std::fs::copy(&restart_artifact, &stop_artifact).unwrap();
    let swapped = sandbox.sme(&[&container.name, "stop"]);
    assert!(
        swapped.stdout.contains("may not restart"),
        "the swapped artifact did not run: {swapped:?}"
    );
    assert!(container.is_running());

    let run = sandbox.smectl(&["--json", "check"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let report = json(&run.stdout);
    assert_eq!(report["ok"], false);
    let modules = report["modules"].as_array().unwrap();
    let problem = |name: &str| {
        modules.iter().find(|m| m["module"] == name).unwrap()["problem"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let flagged = problem("stop");
    for expected in [
        format!("policy stop ({})", stop.display()),
        format!("cached artifact {}", stop_artifact.display()),
        "was not compiled from this module".to_owned(),
        "removed it".to_owned(),
    ] {
        assert!(
            flagged.contains(&expected),
            "{expected:?} missing from {flagged:?}"
        );
    }
    assert_eq!(problem("restart"), "");
    assert!(!stop_artifact.exists(), "the bad artifact is still there");

    // The next run compiles and runs the real module again.
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
    assert!(stop_artifact.exists());
    assert_eq!(sandbox.smectl(&["check"]).code, Some(0));
}

/// A container for one side of a dry-run comparison, in state `state`.
fn twin(state: &str) -> Container {
    match state {
        "running" => Container::running("twin"),
        "exited" => Container::stopped("twin"),
        "paused" => {
            let container = Container::running("twin");
            docker(&["pause", &container.name]);
            container
        }
        other => panic!("no twin state {other}"),
    }
}

/// How a timestamp moved from `before` to `after`: the values differ from
/// run to run, the movement must not.
fn moved(probe: &serde_json::Value, key: &str) -> &'static str {
    let (before, after) = (&probe["before"][key], &probe["after"][key]);
    if before == after {
        return "unchanged";
    }
    let newer = after
        .as_u64()
        .is_some_and(|a| before.as_u64().is_none_or(|b| a > b));
    assert!(newer, "{key} went from {before} to {after}");
    "newer"
}

#[test]
fn dry_run_shows_what_the_daemon_shows_after_the_same_call() {
    let sandbox = Sandbox::new();
    let verbs = ["start", "stop", "restart", "pause", "unpause"];
    let mut config = String::new();
    for verb in verbs {
        sandbox.install(guests::LIFECYCLE_PROBE, &format!("probe-{verb}.wasm"));
        config +=
            &format!("[modules.probe-{verb}.grants]\n{verb} = [\"self\"]\nread = [\"self\"]\n");
    }
    sandbox.config(&config);
    let cases = [
        ("start", "exited"),
        ("stop", "running"),
        ("restart", "running"),
        ("restart", "exited"),
        ("pause", "running"),
        ("unpause", "paused"),
        // Refused by the daemon, so by the dry run too.
        ("pause", "exited"),
        ("unpause", "running"),
        ("start", "paused"),
    ];
    for (verb, state) in cases {
        let case = format!("{verb} from {state}");
        let operation = format!("probe-{verb}");
        let (dry, real) = (twin(state), twin(state));
        let id_of = |c: &Container| docker(&["inspect", "-f", "{{.Id}}", &c.name]);

        let report = json(
            &sandbox
                .smectl(&["--json", "run", &dry.name, &operation, "--dry-run"])
                .stdout,
        );
        assert_eq!(report["exit_code"], 0, "{case}: {report}");
        assert_eq!(
            dry.status(),
            state,
            "{case}: the dry run changed the container"
        );
        let dry_probe = json(
            &report["output"]
                .as_str()
                .unwrap()
                .replace(&id_of(&dry), "<id>"),
        );
        let run = sandbox.sme(&[&real.name, &operation]);
        assert_eq!(run.code, Some(0), "{case}: {run:?}");
        let real_probe = json(&run.stdout.replace(&id_of(&real), "<id>"));

        assert_eq!(dry_probe["answer"], real_probe["answer"], "{case}");
        for key in ["status", "running", "exit_code", "restart_count", "listed"] {
            assert_eq!(
                dry_probe["after"][key], real_probe["after"][key],
                "{case}: {key}\ndry:  {dry_probe}\nreal: {real_probe}"
            );
        }
        for key in ["started_ms", "finished_ms"] {
            assert_eq!(
                moved(&dry_probe, key),
                moved(&real_probe, key),
                "{case}: {key}\ndry:  {dry_probe}\nreal: {real_probe}"
            );
        }
    }
}

#[test]
fn check_fails_a_module_that_could_do_nothing_and_warns_on_partial_denials() {
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::PAUSE, "pause.wasm");
    // Granted nothing: its inspect and pause would both be denied.
    let run = sandbox.smectl(&["check"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "policy pause ({}): can do nothing: it imports inspect, pause and is granted none of them \
             (nothing configured: deny everything)",
            path.display()
        )),
        "{}",
        run.stdout
    );
    let report = json(&sandbox.smectl(&["--json", "check"]).stdout);
    assert_eq!(report["ok"], false);

    // Granted one of the two: it runs, and the other is a warning.
    sandbox.config("[modules.pause.grants]\npause = [\"self\"]\n");
    let run = sandbox.smectl(&["check"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains("warning: pause imports inspect but is granted inspect on no container"),
        "{}",
        run.stdout
    );
}

/// Every file under `dir`, with its contents, to show nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The compiled artifacts in the sandbox's cache.
fn artifacts(sandbox: &Sandbox) -> Vec<String> {
    std::fs::read_dir(sandbox.root.join("cache"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".cwasm"))
        .collect()
}

#[test]
fn install_checks_copies_pins_and_precompiles() {
    let sandbox = Sandbox::new();
    let config = "# staging box\n[modules.pause.grants]\n# its own container only\npause = [\"self\"]\ninspect = [\"self\"]\n";
    sandbox.config(config);
    let sha = sha256_of(Path::new(guests::PAUSE));
    let run = sandbox.smectl(&["install", guests::PAUSE]);
    let target = sandbox.policy_dir().join("pause.wasm");
    let config_path = sandbox.root.join("sme.toml");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(lines[0].starts_with("precompiled pause: "), "{lines:?}");
    assert_eq!(
        lines[1..],
        [
            format!("installed pause: {} (sha256 {sha})", target.display()),
            format!(
                "pinned pause: {} ([modules.\"pause\"] sha256 added)",
                config_path.display()
            ),
        ]
    );
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(guests::PAUSE).unwrap()
    );
    let edited = std::fs::read_to_string(&config_path).unwrap();
    // Its header lands above its grants', the rest of the file untouched.
    let pin = format!("[modules.pause]\nsha256 = \"{sha}\"\n");
    assert!(
        edited.starts_with(&format!("# staging box\n{pin}")),
        "{edited}"
    );
    assert_eq!(edited.replacen(&pin, "", 1), config);
    assert!(artifacts(&sandbox).iter().any(|a| a.starts_with(&sha)));
    // What `sme` would load now: the deployment passes, warm and pinned.
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(0), "{check:?}");

    // Again: the same module is already pinned, the file left as it was.
    let again = sandbox.smectl(&["--json", "install", guests::PAUSE]);
    assert_eq!(again.code, Some(0), "{again:?}");
    let report = json(&again.stdout);
    assert_eq!(report["module"], "pause");
    assert_eq!(report["sha256"], sha.as_str());
    let changes: Vec<&str> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["precompiled", "installed", "pinned"]);
    assert!(
        report["changes"][2]["detail"]
            .as_str()
            .unwrap()
            .contains("already pinned"),
        "{report}"
    );
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), edited);
}

#[test]
fn install_dry_run_changes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.config("[modules.pause.grants]\npause = [\"self\"]\n");
    let before = snapshot(&sandbox.root);
    let run = sandbox.smectl(&["install", guests::PAUSE, "--dry-run"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    for expected in [
        "would precompile pause: ",
        "would install pause: ",
        "would pin pause: ",
        "warning: pause imports inspect but is granted inspect on no container",
        "dry run: nothing was changed",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing from {}",
            run.stdout
        );
    }
    assert_eq!(snapshot(&sandbox.root), before);
}

#[test]
fn install_creates_a_missing_configuration_holding_the_pin() {
    let mut sandbox = Sandbox::new();
    let config_path = sandbox.root.join("new.toml");
    sandbox.env("SME_CONFIG", config_path.to_str().unwrap());
    // The built-in stop's grant applies: the default stop may stop itself.
    let run = sandbox.smectl(&["install", guests::DEFAULT_STOP]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "pinned stop: {} (a new configuration file holding the pin)",
            config_path.display()
        )),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(&config_path).unwrap();
    let sha = sha256_of(Path::new(guests::DEFAULT_STOP));
    assert!(
        text.contains(&format!("[modules.stop]\nsha256 = \"{sha}\"\n")),
        "{text}"
    );
    assert!(sandbox.policy_dir().join("stop.wasm").is_file());
}

#[test]
fn install_puts_an_add_on_into_metrics_d_and_quotes_its_name() {
    let sandbox = Sandbox::new();
    sandbox.config("[modules.\"metrics.d/uptime\".grants]\ninspect = [\"self\"]\n");
    let run = sandbox.smectl(&[
        "--json",
        "install",
        guests::UPTIME,
        "--as",
        "metrics.d/uptime",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = json(&run.stdout);
    assert_eq!(report["module"], "metrics.d/uptime");
    assert_eq!(report["warnings"], serde_json::json!([]));
    let target = sandbox.policy_dir().join("metrics.d/uptime.wasm");
    assert_eq!(report["changes"][1]["path"], target.display().to_string());
    assert!(target.is_file());
    let text = std::fs::read_to_string(sandbox.root.join("sme.toml")).unwrap();
    assert!(
        text.starts_with(&format!(
            "[modules.\"metrics.d/uptime\"]\nsha256 = \"{}\"\n",
            sha256_of(&target)
        )),
        "{text}"
    );
    assert_eq!(sandbox.smectl(&["check"]).code, Some(0));
}

#[test]
fn install_misuse_is_one_line_naming_the_file_and_changes_nothing() {
    let sandbox = Sandbox::new();
    let core = sandbox.root.join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let missing = sandbox.root.join("missing.wasm");
    let uptime = guests::UPTIME;
    let pause = guests::PAUSE;
    let cases: [(&str, &[&str], &str, String); 6] = [
        (
            "missing file",
            &["install", missing.to_str().unwrap()],
            "",
            format!("{} does not exist", missing.display()),
        ),
        (
            "not a component",
            &["install", core.to_str().unwrap(), "--as", "stop"],
            "",
            "a core WebAssembly module, not a component".to_owned(),
        ),
        (
            "wrong world",
            &["install", uptime, "--as", "stop"],
            "",
            format!(
                "policy stop ({uptime}): implements the metrics world (exports `collect`), not the operation world"
            ),
        ),
        (
            "bad name",
            &["install", pause, "--as", "pause.wasm"],
            "",
            format!("{pause}: cannot be installed as \"pause.wasm\""),
        ),
        (
            "could do nothing",
            &["install", pause],
            "",
            format!("policy pause ({pause}): can do nothing: it imports inspect, pause"),
        ),
        (
            "bad configuration",
            &["install", pause],
            "[modules.pause.grants]\npause = [\"all\"]\n",
            "sme.toml, line 2: [modules.pause] unknown target \"all\"".to_owned(),
        ),
    ];
    for (case, args, config, expected) in cases {
        sandbox.config(config);
        let before = snapshot(&sandbox.root);
        let run = sandbox.smectl(args);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (Some(1), ""),
            "{case}: {run:?}"
        );
        assert_eq!(run.stderr.lines().count(), 1, "{case}: {run:?}");
        assert!(
            run.stderr.contains(&expected),
            "{case}: {expected:?} missing from {:?}",
            run.stderr
        );
        assert_eq!(snapshot(&sandbox.root), before, "{case}: something changed");
    }

    // A policy directory others could write is refused as `sme` refuses it.
    sandbox.config("[modules.pause.grants]\npause = [\"self\"]\n");
    let dir = sandbox.policy_dir();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let before = snapshot(&sandbox.root);
    let run = sandbox.smectl(&["--json", "install", pause]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let error = json(&run.stdout)["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains(&format!(
            "policy directory {}: refused: {} is writable by group or others",
            dir.display(),
            dir.display()
        )),
        "{error}"
    );
    assert_eq!(snapshot(&sandbox.root), before);

    // So is a configuration file others could write.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = sandbox.root.join("sme.toml");
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let run = sandbox.smectl(&["install", pause]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "configuration refused: {} is writable by group or others (mode 0666)",
            config.display()
        )),
        "{run:?}"
    );
    assert_eq!(snapshot(&sandbox.root), before);
}

/// Where scaffolds are built: one target directory for every test, so the
/// SDK and its dependencies are compiled once.
fn scaffold_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffolds-target")
}

/// `cargo` for a scaffold in `dir`.
fn cargo(dir: &Path, args: &[&str]) -> crate::support::Run {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scaffold_target())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    crate::support::Run::of(command)
}

/// Scaffolds `operation` into a fresh directory and builds it; gives the
/// sandbox, the project and the module built.
fn scaffold(operation: &str, extra: &[&str]) -> (Sandbox, PathBuf, PathBuf) {
    let sandbox = Sandbox::new();
    let project = sandbox.root.join(operation);
    let mut args = vec!["new", operation];
    args.extend_from_slice(extra);
    args.push(project.to_str().unwrap());
    let run = sandbox.smectl(&args);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let build = cargo(
        &project,
        &["build", "--release", "--target", "wasm32-wasip2"],
    );
    assert_eq!(build.code, Some(0), "{build:?}");
    let lib = operation.replace('-', "_");
    let module = scaffold_target().join(format!("wasm32-wasip2/release/{lib}.wasm"));
    assert!(module.is_file(), "{} was not built", module.display());
    (sandbox, project, module)
}

#[test]
fn new_scaffolds_an_operation_that_builds_and_is_granted_what_it_imports() {
    let (sandbox, project, module) = scaffold("drain-queue", &[]);
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    for expected in [
        "name = \"drain_queue\"",
        "crate-type = [\"cdylib\"]",
        "[package.metadata.sme]\nmodule = \"drain-queue\"",
        "\n[workspace]\n",
        "opt-level = \"s\"",
    ] {
        assert!(
            manifest.contains(expected),
            "{expected:?} missing from:\n{manifest}"
        );
    }
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    for expected in [
        "cargo build --release --target wasm32-wasip2",
        "target/wasm32-wasip2/release/drain_queue.wasm",
        "cargo test",
        "smectl test",
        "[modules.\"drain-queue\".grants]\ninspect = [\"self\"]",
        "smectl --config staging.toml run edgex-demo drain-queue --dry-run",
        "smectl install target/wasm32-wasip2/release/drain_queue.wasm --as drain-queue",
        "smectl check",
    ] {
        assert!(
            readme.contains(expected),
            "{expected:?} missing from the README"
        );
    }
    assert!(project.join("scenarios/running.toml").is_file());
    assert_eq!(
        std::fs::read_to_string(project.join(".gitignore")).unwrap(),
        "target/\nstaging/\n"
    );

    // Under the staging configuration's grant, nothing it imports is denied
    // and nothing granted is unused.
    let staging = project.join("staging.toml");
    let run = sandbox.smectl(&[
        "--config",
        staging.to_str().unwrap(),
        "inspect",
        module.to_str().unwrap(),
        "--as",
        "drain-queue",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("world       operation"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
    // And install takes it there, editing the staging configuration.
    let mut staged = Sandbox::new();
    staged.env("SME_CONFIG", staging.to_str().unwrap());
    staged.env("SME_POLICY_DIR", project.join("staging").to_str().unwrap());
    let run = staged.smectl(&["install", module.to_str().unwrap(), "--as", "drain-queue"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(project.join("staging/drain-queue.wasm").is_file());
    assert!(
        std::fs::read_to_string(&staging)
            .unwrap()
            .starts_with("# Staging")
    );
}

#[test]
fn new_scaffolds_a_metrics_add_on_and_the_base_metrics_module() {
    let (sandbox, project, module) = scaffold("queue-depth", &["--metrics"]);
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("module = \"metrics.d/queue-depth\""),
        "{manifest}"
    );
    let staging = project.join("staging.toml");
    let run = sandbox.smectl(&[
        "--config",
        staging.to_str().unwrap(),
        "inspect",
        module.to_str().unwrap(),
        "--as",
        "metrics.d/queue-depth",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("world       metrics"), "{}", run.stdout);
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);

    let base = sandbox.root.join("base");
    let run = sandbox.smectl(&["new", "metrics", "--metrics", base.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let manifest = std::fs::read_to_string(base.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("module = \"metrics\"\n"), "{manifest}");
}

#[test]
fn new_misuse_is_one_line_naming_the_directory() {
    let sandbox = Sandbox::new();
    let taken = sandbox.root.join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("notes"), "mine").unwrap();
    let fresh = sandbox.root.join("fresh");
    let nowhere = sandbox.root.join("no-sdk-here");
    let cases: [(&[&str], String); 4] = [
        (
            &["new", "drain", taken.to_str().unwrap()],
            format!("{}: already exists and is not empty", taken.display()),
        ),
        (
            &["new", "Drain!", fresh.to_str().unwrap()],
            format!("{}: \"Drain!\" is not an operation name", fresh.display()),
        ),
        (
            &["new", "metrics", fresh.to_str().unwrap()],
            "`metrics` is the metrics module: scaffold it with --metrics".to_owned(),
        ),
        (
            &[
                "new",
                "drain",
                "--sdk",
                nowhere.to_str().unwrap(),
                fresh.to_str().unwrap(),
            ],
            format!("the guest SDK given by --sdk ({})", nowhere.display()),
        ),
    ];
    for (args, expected) in cases {
        let run = sandbox.smectl(args);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (Some(1), ""),
            "{args:?}: {run:?}"
        );
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(
            run.stderr.contains(&expected),
            "{expected:?} missing from {:?}",
            run.stderr
        );
    }
    assert!(!fresh.exists());
    assert_eq!(
        std::fs::read_to_string(taken.join("notes")).unwrap(),
        "mine"
    );
}

/// The scaffold's unit tests run on the SDK's off-wasm fake
/// (`sme_guest::testing`).
#[test]
fn new_scaffold_unit_tests_pass() {
    let sandbox = Sandbox::new();
    for (operation, extra) in [("drain", &[][..]), ("queue-depth", &["--metrics"][..])] {
        let project = sandbox.root.join(operation);
        let mut args = vec!["new", operation];
        args.extend_from_slice(extra);
        args.push(project.to_str().unwrap());
        assert_eq!(sandbox.smectl(&args).code, Some(0));
        let run = cargo(&project, &["test"]);
        assert_eq!(run.code, Some(0), "{operation}: {run:?}");
    }
}

/// A fresh scaffold's scenario passes `smectl test`, unchanged.
#[test]
fn new_scaffold_scenarios_pass_smectl_test() {
    let kinds: [(&str, &[&str]); 3] = [
        ("drain", &[]),
        ("queue-depth", &["--metrics"]),
        ("metrics", &["--metrics"]),
    ];
    for (operation, extra) in kinds {
        let (sandbox, project, _) = scaffold(operation, extra);
        let mut command = sandbox.command(env!("CARGO_BIN_EXE_smectl"), &["test"]);
        command
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", scaffold_target());
        let run = crate::support::Run::of(command);
        assert_eq!(run.code, Some(0), "{operation}: {run:?}");
        assert!(run.stdout.contains("1 passed, 0 failed"), "{}", run.stdout);
    }
}

/// A container the example protected stop refuses (so it logs a warning).
fn protected(prefix: &str) -> Container {
    Container::with_args(prefix, &["--label", "org.sme.protected=true"])
}

#[test]
fn run_shows_the_module_log_lines_among_its_host_calls() {
    let container = protected("logs");
    let sandbox = Sandbox::new();
    sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    let said = format!("refused to stop protected service {}", container.name);

    // Logging is off (the sandbox clears SME_LOG and sets no log_file).
    let run = sandbox.smectl(&["run", &container.name, "stop"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(1), ""), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{}", run.stdout))
    };
    assert!(at("inspect") < at(&format!("log      stop warn: {said}")));

    let report = json(
        &sandbox
            .smectl(&["--json", "run", &container.name, "stop"])
            .stdout,
    );
    let calls = report["host_calls"].as_array().unwrap();
    let verbs: Vec<&str> = calls.iter().map(|c| c["verb"].as_str().unwrap()).collect();
    assert_eq!(verbs, ["inspect", "log"], "{report}");
    assert_eq!(
        (
            &calls[1]["module"],
            &calls[1]["level"],
            &calls[1]["message"]
        ),
        (&"stop".into(), &"warn".into(), &said.as_str().into()),
    );
    assert!(container.is_running());
    // The audit log has the log call, never what was said.
    let audit = sandbox.audit();
    assert!(audit.iter().any(|l| l["verb"] == "log"));
    assert!(audit.iter().all(|l| l["event"] != "log"), "{audit:?}");
    let text = std::fs::read_to_string(sandbox.root.join("audit.jsonl")).unwrap();
    assert!(!text.contains("refused to stop protected"), "{text}");
}

#[test]
fn stable_json_is_the_same_for_two_runs_of_the_same_request() {
    let (kept, plain) = (protected("stable"), Container::running("stable"));
    let sandbox = Sandbox::new();
    sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    for (container, extra) in [(&kept, None), (&plain, Some("--dry-run"))] {
        let mut args = vec!["--json", "run", &container.name, "stop", "--stable"];
        args.extend(extra);
        let (first, second) = (sandbox.smectl(&args), sandbox.smectl(&args));
        assert_eq!(first.stderr, "", "{first:?}");
        assert_eq!(first.stdout, second.stdout);
        let report = json(&first.stdout);
        for call in report["host_calls"].as_array().unwrap() {
            for key in ["time", "invocation", "duration_us"] {
                assert!(call.get(key).is_none(), "{key} in {call}");
            }
        }
        assert!(container.is_running());
    }
    // Without --stable, the per-run values are there.
    let report = json(
        &sandbox
            .smectl(&["--json", "run", &kept.name, "stop"])
            .stdout,
    );
    assert!(report["host_calls"][0]["duration_us"].is_u64(), "{report}");
}

#[test]
fn bench_times_a_policy_without_disturbing_the_service() {
    let container = Container::running("bench");
    let started = container.started_at();
    let sandbox = Sandbox::new();
    let run = sandbox.smectl(&[
        "--json",
        "bench",
        &container.name,
        "stop",
        "-n",
        "3",
        "--interval",
        "10",
    ]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let report = json(&run.stdout);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["interval_ms"], 10);
    assert_eq!(report["module"]["name"], "stop");
    assert_eq!(report["module"]["location"], "builtin");
    assert_eq!(report["module"]["sha256"].as_str().unwrap().len(), 64);
    assert!(report["module"]["size_bytes"].as_u64().unwrap() > 0);
    assert!(report["compile_us"].as_u64().unwrap() > 0);
    assert_eq!(report["warm"]["runs"], 3);
    assert_eq!(report["warm"]["source"], "precompiled");
    for series in ["total_us", "guest_us", "host_calls_us"] {
        let summary = &report["warm"][series];
        assert!(
            summary["median"].as_u64().unwrap() <= summary["p95"].as_u64().unwrap(),
            "{series}: {summary}"
        );
    }
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        let (total, host) = (
            run["total_us"].as_u64().unwrap(),
            run["host_calls_us"].as_u64().unwrap(),
        );
        assert!(host <= total, "{run}");
        assert_eq!(run["guest_us"].as_u64().unwrap(), total - host);
        // The container's own stop timeout, the stop, the inspection after.
        assert_eq!(run["host_calls"], 3, "{run}");
        assert_eq!(run["exit_code"], 0);
    }
    assert_eq!(report["output"], "\"\"");
    assert!(container.is_running() && container.started_at() == started);

    let text = sandbox.smectl(&["bench", &container.name, "stop", "-n", "2"]);
    assert_eq!(text.code, Some(0), "{text:?}");
    for expected in [
        "compile ",
        "warm runs   2",
        "median",
        "host calls",
        "dry run",
    ] {
        assert!(
            text.stdout.contains(expected),
            "{expected:?} missing from:\n{}",
            text.stdout
        );
    }
    assert!(container.is_running() && container.started_at() == started);
}

#[test]
fn bench_misuse_is_one_line() {
    let container = Container::running("bench-misuse");
    let mut sandbox = Sandbox::new();
    let cases: [(&str, &str, &str); 3] = [
        (
            &container.name,
            "frobnicate",
            "no policy for operation \"frobnicate\"",
        ),
        ("a;b", "stop", "is not a valid container name"),
        (
            "edgex-no-such-bench",
            "stop",
            "No such container: edgex-no-such-bench",
        ),
    ];
    for (service, operation, expected) in cases {
        let run = sandbox.smectl(&["bench", service, operation, "-n", "1"]);
        assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing: {run:?}"
        );
    }
    sandbox.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let run = sandbox.smectl(&["--json", "bench", &container.name, "stop"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let error = json(&run.stdout)["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("cannot reach the Docker Engine at unix:///nonexistent/docker.sock"),
        "{error}"
    );
    assert!(!error.contains('\n'));
}

/// A module that imports every host function (as componentize-py builds
/// do) but is granted only what it calls: nothing to warn about.
#[test]
fn inspect_does_not_alarm_about_a_module_that_imports_the_whole_world() {
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::WHOLE_WORLD, "stop.wasm");
    let run = sandbox.smectl(&["inspect", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stdout.contains("warning:"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "note: imports every host function (as componentize-py builds do), so its imports \
             do not tell which calls it makes"
        ) && run.stdout.contains(
            "note: not granted, and answered `denied` if it ever calls them: list, stats, start, \
             restart, pause, unpause"
        ),
        "{}",
        run.stdout
    );
    let report = json(
        &sandbox
            .smectl(&["--json", "inspect", path.to_str().unwrap()])
            .stdout,
    );
    assert_eq!(report["warnings"], serde_json::json!([]));
    assert_eq!(report["notes"].as_array().unwrap().len(), 2);

    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(0), "{check:?}");
    assert!(!check.stdout.contains("warning: stop"), "{}", check.stdout);
    // Granted nothing at all, it still can do nothing.
    sandbox.config("[modules.stop.grants]\n");
    assert_eq!(sandbox.smectl(&["check"]).code, Some(1));
}

/// The default stop imports the `services` interface: `inspect` shows the
/// calls and the Swarm verb its built-in grant gives it, and `check` warns
/// when an operator's own grant leaves that verb out.
#[test]
fn inspect_and_check_understand_service_imports_and_verbs() {
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::DEFAULT_STOP, "stop.wasm");
    let run = sandbox.smectl(&["inspect", path.to_str().unwrap()]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let text = &run.stdout;
    for expected in [
        "sme:policy/services@0.1.0",
        "target, inspect",
        "scale",
        "grants      (the built-in policy's default)",
        "scale     self  (changes services)",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(!text.contains("warning:"), "{text}");

    sandbox.config("[modules.stop.grants]\ninspect = [\"self\"]\nstop = [\"self\"]\n");
    let check = sandbox.smectl(&["check"]);
    assert_eq!(
        check.code,
        Some(0),
        "a partial grant is a warning: {check:?}"
    );
    assert!(
        check
            .stdout
            .contains("imports scale but is granted scale on no service"),
        "{}",
        check.stdout
    );
    let report = json(
        &sandbox
            .smectl(&["--json", "inspect", path.to_str().unwrap()])
            .stdout,
    );
    let granted = report.to_string();
    assert!(!granted.contains("\"scale\":[\"self\"]"), "{granted}");
}

#[test]
fn check_says_whether_the_daemon_state_and_cache_are_usable_and_what_it_costs() {
    use std::os::unix::fs::PermissionsExt;

    let mut sandbox = Sandbox::new();
    let run = sandbox.smectl(&["--json", "check"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = json(&run.stdout);
    let deployment = report["deployment"].as_array().unwrap();
    let settings: Vec<&str> = deployment
        .iter()
        .map(|d| d["setting"].as_str().unwrap())
        .collect();
    assert_eq!(
        settings,
        ["docker_host", "state_dir", "cache_dir", "cgroup"]
    );
    assert!(
        deployment[..3].iter().all(|d| d["usable"] == true),
        "{report}"
    );
    // Whether metrics can read containers' cgroups here, and their network
    // counters: this host's answer, said either way.
    let counters = deployment[3]["detail"].as_str().unwrap();
    assert!(
        counters.contains("cgroup v1") || counters.contains("cgroup v2"),
        "{report}"
    );
    assert!(
        deployment[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("Docker "),
        "{report}"
    );

    // A state directory as Docker's default tmpfs makes it (mode 1777).
    let state = sandbox.root.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    // A cache directory that cannot be created (a file is in its way).
    let cache = sandbox.root.join("file/cache");
    std::fs::write(sandbox.root.join("file"), "").unwrap();
    sandbox.env("SME_CACHE_DIR", &cache.display().to_string());
    let run = sandbox.smectl(&["check"]);
    assert_eq!(run.code, Some(0), "costs, not failures: {run:?}");
    for expected in [
        format!("state_dir      {}: not usable", state.display()),
        format!(
            "warning: state_dir {} is not usable ({}",
            state.display(),
            state.display()
        ),
        "(mode 1777)".to_owned(),
        "every metrics call waits for Docker's own measurement, about 1 s".to_owned(),
        "a tmpfs with mode=0700".to_owned(),
        format!("warning: cache_dir {} is not usable (", cache.display()),
        "policy files are compiled on every call".to_owned(),
    ] {
        assert!(run.stdout.contains(&expected), "{expected:?}: {run:?}");
    }

    // Turned off, it says so; an unreachable daemon fails the check.
    sandbox
        .env("SME_STATE_DIR", "")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let run = sandbox.smectl(&["check"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .contains("warning: state_dir is turned off: no CPU reading is kept"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(
            "error: docker_host: cannot reach the Docker Engine at unix:///nonexistent/docker.sock"
        ) && run
            .stdout
            .contains("every operation the agent asks for will fail"),
        "{run:?}"
    );
}

/// A module's text (its answer, its log lines, what it asked for) reaches
/// the operator's terminal escaped: it cannot drive the terminal.
#[test]
fn smectl_run_prints_module_text_with_control_characters_escaped() {
    let sandbox = Sandbox::new();
    sandbox.install(sme_test_artifacts::LONG_STRINGS, "stop.wasm");
    let run = sandbox.smectl(&["run", "edgex-ctrl", "stop"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        !run.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the terminal"
    );
    assert!(
        run.stdout.contains("output: \\u{1}\\u{1}"),
        "the answer, escaped"
    );
}

/// A stray file in `metrics.d/` does not cost the agent its metrics: a
/// hidden one is not looked at, one named like no module is passed over by
/// `sme` and reported by `smectl check`.
#[test]
fn a_stray_add_on_file_is_passed_over_and_reported_by_check() {
    let sandbox = Sandbox::new();
    sandbox.install(guests::UPTIME, "metrics.d/uptime.wasm");
    for stray in [".hidden.wasm", ".#uptime.wasm", "Up.wasm", "x.wasm.wasm"] {
        sandbox.install(guests::UPTIME, &format!("metrics.d/{stray}"));
    }
    sandbox.config("[modules.\"metrics.d/uptime\".grants]\ninspect = [\"self\"]\n");
    let container = Container::running("stray");
    let run = sandbox.sme(&[&container.name, "metrics"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(run.stdout.contains("\"uptime"), "{run:?}");
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(1), "{check:?}");
    for stray in ["Up.wasm", "x.wasm.wasm"] {
        assert!(
            check.stdout.contains(stray),
            "{stray} not reported: {check:?}"
        );
    }
    assert!(!check.stdout.contains("hidden"), "{check:?}");
}
