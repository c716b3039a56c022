//! Policies dropped into the policy directory: new operations, overrides of
//! the built-ins, metrics add-ons, and modules that are not usable at all.

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox};

const PAUSE_GRANT: &str = r#"
[modules.pause.grants]
pause = ["self"]
inspect = ["self"]
"#;

#[test]
fn custom_operation_dropped_in_runs_with_its_grant() {
    let container = Container::running("pause");
    let sandbox = Sandbox::new();
    sandbox.install(guests::PAUSE, "pause.wasm");
    sandbox.config(PAUSE_GRANT);
    sandbox
        .sme(&[&container.name, "pause"])
        .succeeds_with("\"\"");
    assert_eq!(container.status(), "paused");
}

#[test]
fn custom_operation_without_a_grant_is_denied() {
    let container = Container::running("pause-denied");
    let sandbox = Sandbox::new();
    sandbox.install(guests::PAUSE, "pause.wasm");
    let run = sandbox.sme(&[&container.name, "pause"]);
    run.fails_with(&format!(
        "Error pausing service: module pause may not pause {}: its grant allows pause on no container",
        container.name
    ));
    assert_eq!(container.status(), "running");
    let denied = sandbox
        .audit()
        .into_iter()
        .find(|l| l["decision"] == "deny")
        .unwrap();
    assert_eq!(
        (denied["verb"].as_str(), denied["module"].as_str()),
        (Some("pause"), Some("pause"))
    );
}

#[test]
fn override_of_stop_refuses_protected_services() {
    let protected = Container::with_args("protected", &["--label", "org.sme.protected=true"]);
    let ordinary = Container::running("ordinary");
    let sandbox = Sandbox::new();
    sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    sandbox.sme(&[&protected.name, "stop"]).fails_with(&format!(
        "Error stopping service: {} is protected and may not be stopped",
        protected.name
    ));
    assert!(protected.is_running());
    sandbox.sme(&[&ordinary.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(ordinary.status(), "exited");
    let paths: Vec<String> = sandbox
        .audit()
        .iter()
        .filter(|l| l["event"] == "invocation")
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        paths.iter().all(|p| p.ends_with("/policies/stop.wasm")),
        "{paths:?}"
    );
}

#[test]
fn healthy_restart_waits_until_the_container_is_healthy() {
    // Its health check passes two seconds after each start.
    let container = Container::created_with(
        "healthy",
        &[
            "--health-cmd",
            "test -f /tmp/healthy",
            "--health-interval",
            "500ms",
            "--health-retries",
            "20",
            "--entrypoint",
            "/bin/sh",
            crate::support::image(),
            "-c",
            "rm -f /tmp/healthy; trap 'exit 0' TERM; echo ready; (sleep 2; touch /tmp/healthy) & while :; do sleep 1 & wait $!; done",
        ],
    );
    crate::support::docker(&["start", &container.name]);
    container.wait_ready();
    let sandbox = Sandbox::new();
    sandbox.install(guests::HEALTHY_RESTART, "restart.wasm");
    let run = sandbox.sme(&[&container.name, "restart"]);
    run.succeeds_with("\"\"");
    assert!(
        run.elapsed.as_secs_f64() >= 1.5,
        "returned before the health check passed: {run:?}"
    );
    let health =
        crate::support::docker(&["inspect", "-f", "{{.State.Health.Status}}", &container.name]);
    assert_eq!(health, "healthy");
}

#[test]
fn healthy_restart_fails_when_the_container_turns_unhealthy() {
    let container = Container::with_args(
        "unhealthy",
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "500ms",
            "--health-retries",
            "1",
        ],
    );
    let sandbox = Sandbox::new();
    sandbox.install(guests::HEALTHY_RESTART, "restart.wasm");
    sandbox
        .sme(&[&container.name, "restart"])
        .fails_with(&format!(
            "Error restarting service: {} is unhealthy after the restart",
            container.name
        ));
}

#[test]
fn metrics_add_on_appends_its_fields() {
    let container = Container::running("uptime");
    let sandbox = Sandbox::new();
    sandbox.install(guests::UPTIME, "metrics.d/uptime.wasm");
    sandbox.config("[modules.\"metrics.d/uptime\".grants]\ninspect = [\"self\"]\n");
    let run = sandbox.sme(&[&container.name, "metrics"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        crate::support::keys_in_order(&run.stdout),
        [
            "cpuUsedPercent",
            "memoryUsed",
            "raw",
            "uptimeSeconds",
            "restartCount"
        ]
    );
    assert_eq!(value["restartCount"], 0);
    assert!(value["uptimeSeconds"].as_i64().unwrap() >= 0);
}

#[test]
fn metrics_add_on_without_a_grant_fails_naming_it() {
    let container = Container::running("uptime-denied");
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::UPTIME, "metrics.d/uptime.wasm");
    let run = sandbox.sme(&[&container.name, "metrics"]);
    run.fails_mentioning(&[
        &format!("policy metrics.d/uptime ({})", path.display()),
        "may not inspect",
    ]);
}

#[test]
fn component_of_the_wrong_world_is_refused() {
    let container = Container::running("wrong-world");
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::UPTIME, "stop.wasm");
    sandbox.sme(&[&container.name, "stop"]).fails_with(&format!(
        "policy stop ({}): implements the metrics world (exports `collect`), not the operation world (it must export `run`)",
        path.display()
    ));
    assert!(container.is_running());
    let metrics_path = sandbox.install(guests::PAUSE, "metrics.wasm");
    sandbox.sme(&[&container.name, "metrics"]).fails_with(&format!(
        "policy metrics ({}): implements the operation world (exports `run`), not the metrics world (it must export `collect`)",
        metrics_path.display()
    ));
}

#[test]
fn files_that_are_not_components_are_refused() {
    let container = Container::running("not-component");
    let sandbox = Sandbox::new();
    let stop = std::fs::read(guests::DEFAULT_STOP).unwrap();
    let cases: [(&[u8], &str); 4] = [
        (
            b"",
            "not a WebAssembly component (the file does not start with the wasm header)",
        ),
        (
            b"#!/bin/sh\nrm -rf /\n",
            "not a WebAssembly component (the file does not start with the wasm header)",
        ),
        (
            b"\0asm\x01\0\0\0",
            "a core WebAssembly module, not a component",
        ),
        (&stop[..stop.len() / 2], "not a valid component"),
    ];
    for (bytes, expected) in cases {
        let path = sandbox.install_bytes(bytes, "stop.wasm");
        let run = sandbox.sme(&[&container.name, "stop"]);
        run.fails_mentioning(&[&format!("policy stop ({}): {expected}", path.display())]);
        let line = sandbox.audit().pop().unwrap();
        assert_eq!(line["outcome"], "error");
        assert_eq!(line["detail"].as_str(), Some(run.stdout.as_str()));
    }
    assert!(container.is_running());
}

#[test]
fn a_policy_that_traps_reports_its_panic() {
    let container = Container::running("trap");
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::TRAP, "stop.wasm");
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.fails_mentioning(&[
        &format!("policy stop ({}): trapped: panicked at", path.display()),
        &format!("policy bug while handling {}", container.name),
    ]);
    assert!(container.is_running());
}

#[test]
fn built_in_policies_need_no_files() {
    let container = Container::running("builtin");
    let sandbox = Sandbox::new();
    std::fs::remove_dir_all(sandbox.policy_dir()).unwrap();
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    let cache = sandbox.root.join("cache");
    let cached = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached, 0, "a built-in was compiled at run time");
}
