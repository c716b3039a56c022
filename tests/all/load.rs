//! Under load: many `sme` processes at once on a few services, sharing the
//! audit log, the CPU-reading state and the compile cache, while an operator
//! replaces a module with `smectl install`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox};

/// What a run may answer besides success: the daemon's own words, or a
/// state check that another run's change made true or false meanwhile.
fn answered_by_the_daemon_or_the_race(output: &str) -> bool {
    output.contains("Error response from daemon")
        || output.contains("running but shouldn't be")
        || output.contains("not running but should be")
}

#[test]
fn fifty_concurrent_runs_keep_the_shared_files_whole() {
    let services: Vec<Container> = (0..10).map(|_| Container::running("load")).collect();
    let sandbox = Sandbox::new();
    let uptime = guests::UPTIME;
    let grant = "[modules.\"metrics.d/uptime\".grants]\ninspect = [\"self\"]\n";
    sandbox.config(grant);
    let first = sandbox.smectl(&["install", uptime, "--as", "metrics.d/uptime"]);
    assert_eq!(first.code, Some(0), "{first:?}");

    let operations = ["metrics", "stop", "start", "restart", "metrics"];
    let started = Instant::now();
    let runs: Vec<_> = (0..50)
        .map(|i| {
            let service = &services[i % services.len()].name;
            let operation = operations[i % operations.len()];
            let child = sandbox
                .command(env!("CARGO_BIN_EXE_sme"), &[service, operation])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (operation, child)
        })
        .collect();
    // The operator replaces the add-on meanwhile.
    let replaced = sandbox.smectl(&["install", uptime, "--as", "metrics.d/uptime"]);
    let mut succeeded = 0;
    for (operation, child) in runs {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{operation}");
        match output.status.code() {
            Some(0) => succeeded += 1,
            Some(1) if answered_by_the_daemon_or_the_race(&stdout) => {}
            other => panic!("{operation} exited {other:?}: {stdout}"),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(replaced.code, Some(0), "{replaced:?}");
    assert!(succeeded >= 40, "only {succeeded} of 50 runs succeeded");
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");

    // Every audit line whole; every kept reading readable.
    let lines = sandbox.audit();
    let invocations = lines
        .iter()
        .filter(|line| line["event"] == "invocation")
        .count();
    assert!(invocations >= 50, "{invocations} invocation lines");
    let state = sandbox.root.join("state");
    for kind in std::fs::read_dir(&state).unwrap() {
        let kind = kind.unwrap().path();
        if !kind.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&kind).unwrap() {
            let file = file.unwrap().path();
            let text = std::fs::read_to_string(&file).unwrap();
            let whole = text.ends_with('\n')
                && text.lines().all(|line| {
                    line.split_ascii_whitespace()
                        .all(|field| field.parse::<u64>().is_ok())
                });
            assert!(whole, "{}: {text:?}", file.display());
        }
    }
}
