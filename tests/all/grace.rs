//! Long grace periods: a container whose own stop timeout (22 s) would not
//! fit in the agent's 20 s is stopped with a shortened one, in time, and the
//! shortening is on record.

use std::time::{Duration, Instant};

use crate::support::{Container, Sandbox};

/// A container that ignores SIGTERM (a shell as PID 1 with no trap) and asks
/// Docker for 22 s of grace: the reference blocks until Docker kills it.
fn slow_to_stop(prefix: &str) -> Container {
    Container::with_args(
        prefix,
        &[
            "--stop-timeout",
            "22",
            "--entrypoint",
            "/bin/sh",
            crate::support::image(),
            "-c",
            "echo ready; while :; do sleep 1; done",
        ],
    )
}

/// The `timeout_s` of the audit lines of `verb` (`inspect` for the read of
/// the container's own stop timeout).
fn audited_timeouts(sandbox: &Sandbox, verb: &str) -> Vec<u64> {
    sandbox
        .audit()
        .iter()
        .filter(|line| line["event"] == "host-call" && line["verb"] == verb)
        .filter_map(|line| line["timeout_s"].as_u64())
        .collect()
}

#[test]
fn a_stop_longer_than_the_agent_waits_is_shortened_and_succeeds() {
    let container = slow_to_stop("grace-stop");
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let run = sandbox.sme(&[&container.name, "stop"]);
    let took = started.elapsed();
    run.succeeds_with("\"\"");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(!container.is_running());
    assert_eq!(
        audited_timeouts(&sandbox, "inspect"),
        [22],
        "own timeout read"
    );
    assert_eq!(
        audited_timeouts(&sandbox, "stop"),
        [10],
        "shortened to the cap"
    );
}

#[test]
fn a_restart_longer_than_the_agent_waits_is_shortened_and_succeeds() {
    let container = slow_to_stop("grace-restart");
    let before = container.started_at();
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let run = sandbox.sme(&[&container.name, "restart"]);
    let took = started.elapsed();
    run.succeeds_with("\"\"");
    assert!(took < Duration::from_secs(16), "took {took:?}");
    assert!(container.is_running());
    assert_ne!(container.started_at(), before, "it was restarted");
    assert_eq!(audited_timeouts(&sandbox, "restart"), [10]);
}

#[test]
fn the_grace_cap_is_a_setting() {
    let container = slow_to_stop("grace-cap");
    let sandbox = Sandbox::new();
    sandbox.config("[modules.stop.settings]\ngrace_cap_s = 2\n");
    let started = Instant::now();
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(!container.is_running());
    assert_eq!(audited_timeouts(&sandbox, "stop"), [2]);
}

#[test]
fn a_grace_period_that_fits_is_left_alone() {
    let container = Container::with_args("grace-fits", &["--stop-timeout", "3"]);
    let sandbox = Sandbox::new();
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(audited_timeouts(&sandbox, "inspect"), [3]);
    assert_eq!(audited_timeouts(&sandbox, "stop"), [3]);
}
