//! The policy kit: `smectl test` (scenarios on the simulated engine, no
//! daemon), record and replay, and the simulation held against the real
//! Docker Engine.

use std::path::{Path, PathBuf};

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox, docker};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A sandbox whose Docker endpoint answers nothing: whatever passes here
/// used no daemon. Compiled modules go to a cache of its own.
fn no_daemon() -> Sandbox {
    let mut sandbox = Sandbox::new();
    let nowhere = format!("unix://{}", sandbox.root.join("no-docker.sock").display());
    let cache = sandbox.root.join("xdg-cache").display().to_string();
    sandbox
        .env("DOCKER_HOST", &nowhere)
        .env("XDG_CACHE_HOME", &cache);
    sandbox
}

fn scenarios(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| path.display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios in {}", dir.display());
    files
}

#[test]
fn the_built_in_policies_pass_their_scenarios_with_no_daemon() {
    let sandbox = no_daemon();
    for policy in ["start", "stop", "restart", "metrics"] {
        let files = scenarios(
            &repo()
                .join("policies/default")
                .join(policy)
                .join("scenarios"),
        );
        let mut args = vec!["test"];
        args.extend(files.iter().map(String::as_str));
        let run = sandbox.smectl(&args);
        assert_eq!(run.code, Some(0), "{policy}: {run:?}");
        assert!(
            run.stdout
                .ends_with(&format!("{} passed, 0 failed\n", files.len())),
            "{run:?}"
        );
    }
}

#[test]
fn the_examples_pass_their_scenarios_as_built_files() {
    let sandbox = no_daemon();
    let examples = [
        ("protected-stop", guests::PROTECTED_STOP, "stop"),
        ("healthy-restart", guests::HEALTHY_RESTART, "restart"),
        ("pause", guests::PAUSE, "pause"),
        ("uptime", guests::UPTIME, "metrics.d/uptime"),
        ("backoff-restart", guests::BACKOFF_RESTART, "restart"),
    ];
    for (example, module, name) in examples {
        let files = scenarios(
            &repo()
                .join("policies/examples")
                .join(example)
                .join("scenarios"),
        );
        let mut args = vec!["--json", "test", "--module", module, "--as", name];
        args.extend(files.iter().map(String::as_str));
        let run = sandbox.smectl(&args);
        let report = json(&run.stdout);
        assert_eq!(run.code, Some(0), "{example}: {report:#}");
        assert_eq!(report["passed"], files.len(), "{example}");
    }
}

#[test]
fn a_failing_scenario_shows_what_differs_and_exits_1() {
    let sandbox = no_daemon();
    let file = sandbox.root.join("wrong.toml");
    std::fs::write(
        &file,
        r#"
description = "expects the wrong things"
[request]
service = "edgex-a"
operation = "stop"
[[container]]
name = "edgex-a"
[expect]
output = "nope"
calls = ["inspect edgex-a", "restart edgex-a"]
[expect.container.edgex-a]
status = "running"
"#,
    )
    .unwrap();
    let path = file.display().to_string();
    let run = sandbox.smectl(&["test", &path]);
    assert_eq!(run.code, Some(1), "{run:?}");
    for line in [
        "FAIL  wrong",
        "expects the wrong things",
        "output (- expected, + actual):",
        "- \"nope\"",
        "+ \"\\\"\\\"\"",
        "    inspect edgex-a",
        "- restart edgex-a",
        "+ stop edgex-a timeout=10",
        "container edgex-a status (- expected, + actual):",
        "- \"running\"",
        "+ \"exited\"",
    ] {
        assert!(
            run.stdout.contains(line),
            "{line:?} missing: {}",
            run.stdout
        );
    }
    assert!(run.stdout.ends_with("0 passed, 1 failed\n"), "{run:?}");

    let report = json(&sandbox.smectl(&["--json", "test", &path]).stdout);
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(0), Some(1))
    );
    let whats: Vec<&str> = report["tests"][0]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats, ["output", "calls", "container edgex-a status"]);
}

#[test]
fn a_malformed_scenario_names_the_file_the_line_and_the_cause() {
    let sandbox = no_daemon();
    let file = sandbox.root.join("typo.toml");
    std::fs::write(
        &file,
        "[request]\nservice = \"edgex-a\"\n[[container]]\nname = \"edgex-a\"\nstatsu = \"exited\"\n[expect]\n",
    )
    .unwrap();
    let run = sandbox.smectl(&["test", &file.display().to_string()]);
    assert_eq!(run.code, Some(1));
    let expected = format!(
        "error: {}:3: unknown container key `statsu`",
        file.display()
    );
    assert!(run.stdout.contains(&expected), "{run:?}");

    let mut here = sandbox.command(env!("CARGO_BIN_EXE_smectl"), &["test"]);
    here.current_dir(&sandbox.root);
    let elsewhere = crate::support::Run::of(here);
    assert_eq!(elsewhere.code, Some(1));
    assert!(
        elsewhere
            .stderr
            .starts_with("smectl: no scenarios given and no policy project here")
            && elsewhere.stderr.lines().count() == 1,
        "{elsewhere:?}"
    );
}

/// The probe's report with the container's ID replaced, so that a real and
/// a simulated container compare.
fn probe_report(output: &str, id: &str) -> serde_json::Value {
    json(&output.replace(id, "<id>"))
}

fn moved(probe: &serde_json::Value, key: &str) -> &'static str {
    let (before, after) = (&probe["before"][key], &probe["after"][key]);
    match (before.as_u64(), after.as_u64()) {
        _ if before == after => "unchanged",
        (before, Some(after)) if before.is_none_or(|b| after > b) => "newer",
        _ => panic!("{key} went from {before} to {after}"),
    }
}

/// The same lifecycle call on a real container and on a scenario that
/// describes it: the same answer, the same state and listing afterwards,
/// the same timestamps moved.
#[test]
fn the_simulation_answers_and_changes_state_as_the_daemon_does() {
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
        ("start", "running"),
        ("stop", "running"),
        ("stop", "exited"),
        ("restart", "running"),
        ("restart", "exited"),
        ("pause", "running"),
        ("unpause", "paused"),
        ("pause", "exited"),
        ("pause", "paused"),
        ("unpause", "running"),
        ("start", "paused"),
    ];
    for (index, (verb, state)) in cases.into_iter().enumerate() {
        let case = format!("{verb} from {state}");
        // Half the cases with a health check, whose status a stop and a
        // start change too.
        let checked = index % 2 == 0;
        let args: &[&str] = if checked {
            &["--health-cmd", "true", "--health-interval", "1s"]
        } else {
            &[]
        };
        let real = Container::with_args("sim", args);
        let health_of = || docker(&["inspect", "-f", "{{.State.Health.Status}}", &real.name]);
        // A steady state first: the first check passes about 1 s after the start.
        let waited = std::time::Instant::now();
        while checked && health_of() != "healthy" {
            assert!(waited.elapsed().as_secs() < 10, "{case}: never healthy");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        match state {
            "exited" => drop(docker(&["stop", &real.name])),
            "paused" => drop(docker(&["pause", &real.name])),
            _ => {}
        }
        let health = if checked {
            health_of()
        } else {
            "none".to_owned()
        };
        let operation = format!("probe-{verb}");
        let run = sandbox.sme(&[&real.name, &operation]);
        let id = docker(&["inspect", "-f", "{{.Id}}", &real.name]);
        let real_probe = probe_report(&run.stdout, &id);

        let file = sandbox.root.join(format!("{verb}-{state}.toml"));
        std::fs::write(
            &file,
            format!(
                "[request]\nservice = \"{0}\"\noperation = \"{operation}\"\n\
                 [[container]]\nname = \"{0}\"\nid = \"{id}\"\nstatus = \"{state}\"\n\
                 health = \"{health}\"\n[expect]\n",
                real.name
            ),
        )
        .unwrap();
        let report = json(
            &sandbox
                .smectl(&["--json", "test", &file.display().to_string()])
                .stdout,
        );
        let test = &report["tests"][0];
        assert_eq!(test["error"], serde_json::Value::Null, "{case}: {report}");
        assert_eq!(
            test["exit_code"].as_i64(),
            run.code.map(i64::from),
            "{case}: {report}\nreal: {run:?}"
        );
        let simulated = probe_report(test["output"].as_str().unwrap(), &id);
        assert_eq!(simulated["answer"], real_probe["answer"], "{case}");
        for key in [
            "status",
            "running",
            "exit_code",
            "restart_count",
            "health",
            "listed",
        ] {
            assert_eq!(
                simulated["after"][key], real_probe["after"][key],
                "{case}: {key}\nsimulated: {simulated}\nreal:      {real_probe}"
            );
        }
        for key in ["started_ms", "finished_ms"] {
            assert_eq!(
                moved(&simulated, key),
                moved(&real_probe, key),
                "{case}: {key}\nsimulated: {simulated}\nreal:      {real_probe}"
            );
        }
    }
}

/// The built-in policies' answers from the simulation and from the daemon:
/// the same output byte for byte (for metrics, of a stopped container, whose
/// figures are all zero) and the same host calls.
#[test]
fn built_in_policies_answer_the_simulation_as_they_answer_the_daemon() {
    let sandbox = Sandbox::new();
    let cases = [
        ("stop", "running"),
        ("stop", "exited"),
        ("start", "exited"),
        ("restart", "running"),
        ("metrics", "exited"),
        ("stop", "missing"),
        ("start", "missing"),
        ("start", "paused"),
    ];
    for (operation, state) in cases {
        let case = format!("{operation} of a {state} container");
        let (name, real) = match state {
            "missing" => (crate::support::unique("edgex-missing"), None),
            _ => {
                let real = match state {
                    "running" => Container::running("edgex-sim"),
                    "exited" => Container::stopped("edgex-sim"),
                    _ => {
                        let container = Container::running("edgex-sim");
                        docker(&["pause", &container.name]);
                        container
                    }
                };
                (real.name.clone(), Some(real))
            }
        };
        let ran = json(&sandbox.smectl(&["--json", "run", &name, operation]).stdout);
        let real_calls: Vec<String> = ran["host_calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !matches!(c["verb"].as_str(), Some("log" | "clock")))
            .map(|c| {
                let timeout = match (c["verb"].as_str(), c["timeout_s"].as_u64()) {
                    (Some("stop" | "restart"), Some(t)) => format!(" timeout={t}"),
                    _ => String::new(),
                };
                format!(
                    "{} {}{timeout}",
                    c["verb"].as_str().unwrap(),
                    c["target"].as_str().unwrap()
                )
            })
            .collect();
        let file = sandbox.root.join(format!("{operation}-{state}.toml"));
        let container = match &real {
            Some(_) => format!("[[container]]\nname = \"{name}\"\nstatus = \"{state}\"\n"),
            None => String::new(),
        };
        std::fs::write(
            &file,
            format!("[request]\nservice = \"{name}\"\noperation = \"{operation}\"\n{container}[expect]\n"),
        )
        .unwrap();
        let report = json(
            &sandbox
                .smectl(&["--json", "test", &file.display().to_string()])
                .stdout,
        );
        let test = &report["tests"][0];
        assert_eq!(test["output"], ran["output"], "{case}");
        assert_eq!(test["exit_code"], ran["exit_code"], "{case}");
        assert_eq!(test["calls"], serde_json::json!(real_calls), "{case}");
        drop(real);
    }
}

#[test]
fn a_recorded_metrics_run_keeps_the_cgroup_read_and_replays_it() {
    let sandbox = Sandbox::new();
    let container = Container::running("edgex-rec-metrics");
    let (run, recording, recorded) = sandbox.record(&container.name, "metrics");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        recorded.kept["sme_recording"],
        sme::backend::recording::RECORD_VERSION
    );
    // No kept reading yet: the cgroup's counters are read twice.
    assert_eq!(recorded.calls, ["counters", "counters"]);
    let offline = no_daemon();
    offline.config("");
    let record = recording.display().to_string();
    let replay = offline.smectl(&["test", "--replay", &record]);
    assert_eq!(replay.code, Some(0), "{replay:?}");
}

#[test]
fn a_recorded_run_replays_and_a_different_module_is_caught() {
    let sandbox = Sandbox::new();
    let container = Container::running("edgex-rec");
    let (run, recording, recorded) = sandbox.record(&container.name, "stop");
    let record = recording.display().to_string();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!container.is_running());
    assert_eq!(recorded.kept["output"], "\"\"");
    assert_eq!(recorded.kept["modules"][0]["name"], "stop");
    assert_eq!(recorded.calls, ["stop-timeout", "stop", "inspect"]);

    // The daemon is not needed to replay: the container is started again
    // and the endpoint pointed nowhere.
    docker(&["start", &container.name]);
    let offline = no_daemon();
    offline.config("");
    let replay = offline.smectl(&["test", "--replay", &record]);
    assert_eq!(replay.code, Some(0), "{replay:?}");
    assert!(container.is_running(), "a replay changed the container");

    // protected-stop inspects first: the first difference is named.
    let changed = offline.smectl(&[
        "test",
        "--replay",
        &record,
        "--module",
        guests::PROTECTED_STOP,
        "--as",
        "stop",
    ]);
    assert_eq!(changed.code, Some(1), "{changed:?}");
    let name = &container.name;
    let first = format!(
        "Docker calls: call 1: the module asked inspect {name}; the recording has stop-timeout {name}\n"
    );
    assert!(changed.stdout.contains(&first), "{changed:?}");

    // A dry run records too, and its recording replays.
    let dry = sandbox.root.join("dry.json").display().to_string();
    let run = sandbox.smectl(&[
        "run",
        &container.name,
        "restart",
        "--dry-run",
        "--record",
        &dry,
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        json(&std::fs::read_to_string(&dry).unwrap())["dry_run"],
        true
    );
    assert_eq!(offline.smectl(&["test", "--replay", &dry]).code, Some(0));
}

#[test]
fn a_file_that_is_not_a_recording_is_one_line() {
    let sandbox = no_daemon();
    let file = sandbox.root.join("not.json");
    std::fs::write(&file, "{\"calls\": 3}").unwrap();
    let run = sandbox.smectl(&["test", "--replay", &file.display().to_string()]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.contains(&format!(
            "error: {}: not a recording of `smectl run --record`",
            file.display()
        )),
        "{run:?}"
    );
}

#[test]
fn bench_times_a_policy_against_a_scenario_with_no_daemon() {
    let sandbox = no_daemon();
    let scenario = repo().join("policies/default/stop/scenarios/stops-a-running-service.toml");
    let file = scenario.display().to_string();
    let run = sandbox.smectl(&[
        "--json",
        "bench",
        "edgex-core-data",
        "stop",
        "-n",
        "5",
        "--scenario",
        &file,
    ]);
    let report = json(&run.stdout);
    assert_eq!(run.code, Some(0), "{report:#}");
    assert_eq!(report["scenario"], file.as_str());
    assert_eq!(report["warm"]["runs"], 5);
    // Every run starts from the scenario's state: a running service to stop.
    for one in report["runs"].as_array().unwrap() {
        assert_eq!(
            (one["exit_code"].as_i64(), one["host_calls"].as_u64()),
            (Some(0), Some(3))
        );
    }
    assert_eq!(report["output"], "\"\"");

    let real = sandbox.smectl(&[
        "bench",
        "edgex-core-data",
        "stop",
        "--real",
        "--scenario",
        &file,
    ]);
    assert_eq!(real.code, Some(1));
    assert!(real.stderr.contains("--real with --scenario"), "{real:?}");
}

#[test]
fn misuse_of_test_and_record_is_one_line_and_runs_nothing() {
    let sandbox = no_daemon();
    let scenario = repo().join("policies/default/stop/scenarios/stops-a-running-service.toml");
    let scenario = scenario.display().to_string();
    let missing = sandbox.root.join("missing.wasm").display().to_string();
    let cases: [(&[&str], String); 3] = [
        (
            &["test", "--module", &missing, "--as", "stop", &scenario],
            missing.clone(),
        ),
        (
            &["test", "--module", guests::PROTECTED_STOP, &scenario],
            "cannot tell which module this is from its name; pass --as".to_owned(),
        ),
        (
            &[
                "test",
                "--module",
                guests::PAUSE,
                "--as",
                "Pause!",
                &scenario,
            ],
            "--as \"Pause!\": expected an operation".to_owned(),
        ),
    ];
    for (args, fragment) in cases {
        let run = sandbox.smectl(args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(
            run.stderr.starts_with("smectl: ") && run.stderr.lines().count() == 1,
            "{args:?}: {run:?}"
        );
        assert!(run.stderr.contains(&fragment), "{args:?}: {run:?}");
    }

    // A recording that cannot be written is refused before the run.
    let container = Container::running("edgex-unrecorded");
    let real = Sandbox::new();
    let nowhere = real.root.join("no-such-dir/rec.json").display().to_string();
    let run = real.smectl(&["run", &container.name, "stop", "--record", &nowhere]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("{nowhere}: cannot write the recording")),
        "{run:?}"
    );
    assert!(container.is_running(), "the run went ahead");

    // A module that answers another operation than the scenario asks for.
    let other = sandbox.smectl(&["test", "--module", guests::PAUSE, &scenario]);
    assert_eq!(other.code, Some(1));
    assert!(
        other.stdout.contains(
            "the scenario's request is for `stop`, but the module under test answers `pause`"
        ),
        "{other:?}"
    );
}

#[test]
fn the_example_configuration_holds_its_budgets_and_windows_in_time_with_no_daemon() {
    let sandbox = no_daemon();
    let files = scenarios(&repo().join("policies/examples/maintenance/scenarios"));
    let mut args = vec!["test"];
    args.extend(files.iter().map(String::as_str));
    let run = sandbox.smectl(&args);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .ends_with(&format!("{} passed, 0 failed\n", files.len())),
        "{run:?}"
    );
}

#[test]
fn a_step_that_differs_is_named_and_the_clock_budgets_and_state_are_seeded() {
    let sandbox = no_daemon();
    let file = sandbox.root.join("steps.toml");
    std::fs::write(
        &file,
        r#"
config = { budgets = { restart = { max = 1, per = "1h" } } }
[clock]
now = "2026-12-05T12:00:00Z"
[budgets.spent]
"container:edgex-a" = { restart = ["2026-12-05T11:30:00Z"] }
[request]
service = "edgex-a"
operation = "restart"
[[container]]
name = "edgex-a"
[expect]
exit_code = 1
[[then]]
after = "30m"
[then.expect]
exit_code = 1
"#,
    )
    .unwrap();
    let run = sandbox.smectl(&["--json", "test", &file.display().to_string()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let report = json(&run.stdout);
    let differences = &report["tests"][0]["differences"];
    assert_eq!(differences[0]["what"], "then[1] exit code", "{report:#}");
    assert_eq!(differences[0]["actual"], "0", "the spend freed at 12:30");

    std::fs::write(
        &file,
        "[request]\nservice = \"edgex-a\"\noperation = \"stop\"\n[expect]\n[[then]]\nafter = \"soon\"\n[then.expect]\n",
    )
    .unwrap();
    let run = sandbox.smectl(&["test", &file.display().to_string()]);
    assert!(
        run.stdout.contains(&format!(
            "error: {}:5: then[1] after \"soon\" is not a duration",
            file.display()
        )),
        "{run:?}"
    );
}
