//! `sme` on systemd units (`[systemd]`): the real binary, the built-in
//! policies, and a real systemd booted from Debian's packages
//! (`systemd::Host`), reached over its bus as root.

use std::time::Duration;

use std::os::unix::process::CommandExt as _;

use crate::support::{Container, Run, Sandbox};
use crate::systemd::{Host, STUBBORN};

/// A unit whose process runs until SIGTERM.
const RUNS: &str = "[Service]\nExecStart=/bin/sleep infinity\n";

/// A sandbox whose `[systemd]` is `mode` with the unit template `unit`, on
/// the booted systemd's bus.
fn sandbox(host: &Host, mode: &str, unit: &str, more: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.config(&format!(
        "[systemd]\nmode = \"{mode}\"\nunit = \"{unit}\"\nbus = \"{}\"\n{more}",
        host.bus()
    ));
    sandbox
}

/// The `host-call` audit lines of the last run of `operation`.
fn unit_calls(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    sandbox
        .audit()
        .into_iter()
        .filter(|line| line["event"] == "host-call" && line["object"] == "unit")
        .collect()
}

#[test]
fn the_executor_stops_starts_restarts_and_measures_a_snaps_unit() {
    let host = Host::boot();
    let unit = "snap.edgexfoundry.core-data.service";
    host.unit(unit, RUNS);
    host.sh(&format!("systemctl start {unit}"));
    let sandbox = sandbox(&host, "on", "snap.edgexfoundry.{name}.service", "");

    sandbox
        .sme(&["edgex-core-data", "stop"])
        .succeeds_with("\"\"");
    assert_eq!(host.show(unit, "ActiveState"), "inactive");
    let calls = unit_calls(&sandbox);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (&calls[0]["verb"], &calls[0]["target"], &calls[0]["result"]),
        (&"stop".into(), &unit.into(), &"ok".into())
    );
    assert_eq!(calls[0]["timeout_s"], 10, "the stop's bound is grace_cap_s");
    let intent = sandbox
        .audit()
        .into_iter()
        .find(|line| line["event"] == "intent")
        .expect("an intent line before the stop");
    assert_eq!(intent["target"], unit);

    sandbox
        .sme(&["edgex-core-data", "start"])
        .succeeds_with("\"\"");
    assert_eq!(host.show(unit, "ActiveState"), "active");
    let before = host.show(unit, "MainPID");
    sandbox
        .sme(&["edgex-core-data", "restart"])
        .succeeds_with("\"\"");
    assert_eq!(host.show(unit, "ActiveState"), "active");
    assert_ne!(host.show(unit, "MainPID"), before, "a new process");

    let metrics = sandbox.sme(&["edgex-core-data", "metrics"]);
    assert_eq!(
        (metrics.code, metrics.stderr.as_str()),
        (Some(0), ""),
        "{metrics:?}"
    );
    let printed: serde_json::Value = serde_json::from_str(&metrics.stdout).unwrap();
    assert!(printed["cpuUsedPercent"].is_number(), "{printed}");
    let memory = printed["memoryUsed"].as_i64().unwrap();
    assert!(memory > 0, "systemd accounts the unit's memory: {printed}");
    let raw = &printed["raw"];
    for key in [
        "cpu_perc",
        "mem_usage",
        "mem_perc",
        "net_io",
        "block_io",
        "pids",
    ] {
        assert!(raw[key].is_string(), "{key} missing: {printed}");
    }
    assert_eq!(raw["pids"], "1", "{printed}");
}

#[test]
fn a_native_install_maps_the_agents_name_as_is() {
    let host = Host::boot();
    host.unit("edgex-ui.service", RUNS);
    let sandbox = sandbox(&host, "on", "{service}.service", "");
    sandbox.sme(&["edgex-ui", "start"]).succeeds_with("\"\"");
    assert_eq!(host.show("edgex-ui.service", "ActiveState"), "active");
    sandbox.sme(&["edgex-ui", "stop"]).succeeds_with("\"\"");
    assert_eq!(host.show("edgex-ui.service", "ActiveState"), "inactive");
    // A stop of an inactive unit succeeds, as `snapctl stop` did.
    sandbox.sme(&["edgex-ui", "stop"]).succeeds_with("\"\"");
}

#[test]
fn failing_masked_and_missing_units_are_one_line_failures_in_systemds_words() {
    let host = Host::boot();
    host.unit(
        "edgex-bad.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    host.unit("edgex-masked.service", RUNS);
    host.sh("systemctl mask edgex-masked.service");
    let sandbox = sandbox(&host, "on", "{service}.service", "");

    sandbox.sme(&["edgex-bad", "start"]).fails_with(
        "Error starting service: service is not running but should be (unit edgex-bad.service \
         is failed/failed, result exit-code, job failed)",
    );
    sandbox.sme(&["edgex-masked", "start"]).fails_with(
        "Error starting service: org.freedesktop.systemd1.UnitMasked: Unit \
         edgex-masked.service is masked.",
    );
    assert_eq!(host.show("edgex-masked.service", "ActiveState"), "inactive");
    let refused = unit_calls(&sandbox)
        .into_iter()
        .find(|line| line["target"] == "edgex-masked.service")
        .unwrap();
    assert_eq!(refused["result"], "refused");
    assert_eq!(
        refused["detail"],
        "org.freedesktop.systemd1.UnitMasked: Unit edgex-masked.service is masked."
    );
    sandbox
        .sme(&["edgex-missing", "stop"])
        .fails_with("Error stopping service: Unit edgex-missing.service not found.");
    sandbox
        .sme(&["edgex-missing", "metrics"])
        .fails_with("Unit edgex-missing.service not found.");
}

#[test]
fn a_unit_ignoring_sigterm_is_stopped_within_the_grace_cap() {
    let host = Host::boot();
    let unit = "edgex-stubborn.service";
    host.unit(unit, STUBBORN);
    host.sh(&format!("systemctl start {unit}"));
    host.wait_stubborn(unit);
    let sandbox = sandbox(
        &host,
        "on",
        "{service}.service",
        "[modules.stop.settings]\ngrace_cap_s = 2\n",
    );
    let run = sandbox.sme(&["edgex-stubborn", "stop"]);
    run.succeeds_with("\"\"");
    assert!(run.elapsed >= Duration::from_secs(2), "{run:?}");
    assert!(run.elapsed < Duration::from_secs(10), "{run:?}");
    assert_ne!(host.show(unit, "ActiveState"), "active");
    assert_eq!(unit_calls(&sandbox)[0]["timeout_s"], 2);
}

#[test]
fn an_unreachable_bus_is_one_line_and_auto_mode_without_a_unit_is_the_container() {
    let sandbox = Sandbox::new();
    sandbox.config("[systemd]\nmode = \"on\"\nbus = \"unix:path=/nonexistent/bus\"\n");
    sandbox.sme(&["edgex-x", "stop"]).fails_mentioning(&[
        "Error stopping service: ",
        "cannot reach systemd on the bus unix:path=/nonexistent/bus",
    ]);

    // With `auto`, no systemd on the bus means no unit: the container.
    let container = Container::running("unit-auto");
    sandbox.config("[systemd]\nmode = \"auto\"\nbus = \"unix:path=/nonexistent/bus\"\n");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
}

#[test]
fn auto_mode_prefers_the_unit_when_systemd_has_it() {
    let host = Host::boot();
    let container = Container::running("unit-auto");
    let unit = format!("{}.service", container.name);
    host.unit(&unit, RUNS);
    host.sh(&format!("systemctl start {unit}"));
    let sandbox = sandbox(&host, "auto", "{service}.service", "");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(host.show(&unit, "ActiveState"), "inactive");
    assert!(container.is_running(), "the container is left alone");
}

#[test]
fn the_python_stop_takes_the_unit_path_and_answers_as_the_built_in() {
    let host = Host::boot();
    let unit = "edgex-stubborn.service";
    host.unit(unit, STUBBORN);
    host.sh(&format!("systemctl start {unit}"));
    host.wait_stubborn(unit);
    let settings = "[modules.stop.settings]\ngrace_cap_s = 1\n";
    let python = sandbox(&host, "on", "{service}.service", settings);
    let file = crate::support::python_policy("stop").display().to_string();
    let installed = python.smectl(&["install", &file, "--as", "stop"]);
    assert_eq!(installed.code, Some(0), "{installed:?}");

    let run = python.sme(&["edgex-stubborn", "stop"]);
    run.succeeds_with("\"\"");
    assert!(run.elapsed < Duration::from_secs(10), "{run:?}");
    assert_ne!(host.show(unit, "ActiveState"), "active");
    assert_eq!(unit_calls(&python)[0]["timeout_s"], 1);

    let rust = sandbox(&host, "on", "{service}.service", "");
    python
        .sme(&["edgex-missing", "stop"])
        .answers_as(&rust.sme(&["edgex-missing", "stop"]));
}

/// The user the least-privilege test runs `sme` as, on the host and in the
/// booted systemd alike (the bus sees the client's uid).
const AGENT_UID: u32 = 61_234;

/// The polkit rule docs/systemd.md gives: the agent's user may start, stop
/// and restart the EdgeX units it lists, and nothing else.
const POLKIT_RULE: &str = r#"polkit.addRule(function(action, subject) {
    if (action.id == "org.freedesktop.systemd1.manage-units" &&
        subject.user == "edgex-agent") {
        var units = ["edgex-core-data.service", "edgex-ui.service"];
        var verb = action.lookup("verb");
        if (units.indexOf(action.lookup("unit")) >= 0 &&
            ["start", "stop", "restart", "kill"].indexOf(verb) >= 0) {
            return polkit.Result.YES;
        }
        return polkit.Result.NO;
    }
});"#;

#[test]
fn a_user_that_is_not_root_manages_only_the_units_polkit_allows_it() {
    let host = Host::boot();
    host.unit("edgex-core-data.service", RUNS);
    host.unit("edgex-other.service", RUNS);
    host.unit("edgex-ui.service", STUBBORN);
    host.sh(&format!(
        "useradd -M -u {AGENT_UID} edgex-agent && \
         cat > /etc/polkit-1/rules.d/60-edgex-agent.rules <<'EOF'\n{POLKIT_RULE}\nEOF"
    ));
    let sandbox = sandbox(
        &host,
        "on",
        "{service}.service",
        "[modules.stop.settings]\ngrace_cap_s = 1\n",
    );
    // As the agent's user: no state, cache or audit log it could not write.
    let as_agent = |service: &str, operation: &str| {
        let mut command = sandbox.command(env!("CARGO_BIN_EXE_sme"), &[service, operation]);
        command
            .env("SME_STATE_DIR", "")
            .env("SME_CACHE_DIR", "")
            .env_remove("SME_AUDIT_LOG")
            .uid(AGENT_UID);
        Run::of(command)
    };
    // polkitd reads the new rule within a moment.
    let mut started = as_agent("edgex-core-data", "start");
    for _ in 0..50 {
        if started.code == Some(0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        started = as_agent("edgex-core-data", "start");
    }
    started.succeeds_with("\"\"");
    assert_eq!(
        host.show("edgex-core-data.service", "ActiveState"),
        "active"
    );
    as_agent("edgex-core-data", "stop").succeeds_with("\"\"");
    assert_eq!(
        host.show("edgex-core-data.service", "ActiveState"),
        "inactive"
    );

    as_agent("edgex-other", "start").fails_with(
        "Error starting service: org.freedesktop.DBus.Error.AccessDenied: Permission denied",
    );
    assert_eq!(host.show("edgex-other.service", "ActiveState"), "inactive");
    // The bound of a stop is a kill the rule allows too.
    as_agent("edgex-ui", "start").succeeds_with("\"\"");
    host.wait_stubborn("edgex-ui.service");
    let stubborn = as_agent("edgex-ui", "stop");
    stubborn.succeeds_with("\"\"");
    assert!(stubborn.elapsed < Duration::from_secs(10), "{stubborn:?}");
    assert_ne!(host.show("edgex-ui.service", "ActiveState"), "active");
    // Reading is not managing: its metrics are answered.
    let metrics = as_agent("edgex-other", "metrics");
    assert_eq!(metrics.code, Some(0), "{metrics:?}");
}

#[test]
fn smectl_dry_runs_records_and_replays_a_units_stop() {
    let host = Host::boot();
    let unit = "edgex-core-data.service";
    host.unit(unit, RUNS);
    host.sh(&format!("systemctl start {unit}"));
    let sandbox = sandbox(&host, "on", "{service}.service", "");

    // A dry run reads the unit from systemd and leaves it running.
    let dry = sandbox.smectl(&["run", "edgex-core-data", "stop", "--dry-run", "--json"]);
    assert_eq!(dry.code, Some(0), "{dry:?}");
    let report: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(report["output"], "\"\"", "{report}");
    assert_eq!(report["recorded"][0]["verb"], "stop", "{report}");
    assert_eq!(report["recorded"][0]["unit"], unit, "{report}");
    assert_eq!(host.show(unit, "ActiveState"), "active");

    // A recording keeps the unit calls; its replay needs no systemd.
    let (run, path, recorded) = sandbox.record("edgex-core-data", "stop");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(host.show(unit, "ActiveState"), "inactive");
    assert_eq!(recorded.kept["sme_recording"], 4);
    assert_eq!(
        recorded.kept["units"][0]["call"], "unit-stop",
        "{}",
        recorded.kept
    );
    drop(host);
    let path = path.display().to_string();
    let replay = sandbox.smectl(&["test", "--replay", &path]);
    assert_eq!(replay.code, Some(0), "{replay:?}");
    assert!(replay.stdout.starts_with("ok"), "{replay:?}");
}

#[test]
fn a_unit_past_its_start_limit_is_refused_with_systemds_result() {
    let host = Host::boot();
    let unit = "edgex-flappy.service";
    // It exits at once and systemd starts it again, until the limit.
    host.unit(
        unit,
        "[Unit]\nStartLimitIntervalSec=60\nStartLimitBurst=3\n\
         [Service]\nExecStart=/bin/true\nRestart=always\nRestartSec=100ms\n",
    );
    host.sh(&format!("systemctl start {unit}"));
    let started = std::time::Instant::now();
    while host.show(unit, "Result") != "start-limit-hit" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the limit was not hit: {}",
            host.sh(&format!(
                "systemctl show -p Result -p NRestarts -p ActiveState {unit}"
            ))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sandbox = sandbox(&host, "on", "{service}.service", "");
    sandbox.sme(&["edgex-flappy", "start"]).fails_with(
        "Error starting service: service is not running but should be (unit edgex-flappy.service \
         is failed/failed, result start-limit-hit, job failed)",
    );
    let line = unit_calls(&sandbox).pop().unwrap();
    assert_eq!(
        (&line["verb"], &line["result"]),
        (&"start".into(), &"ok".into())
    );
}
