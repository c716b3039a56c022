//! The `state` interface (docs/state.md): values a module keeps between
//! runs in the state directory, private to it, bounded by `state_keys` and
//! `state_kib`, changed atomically across concurrent `sme` processes, every
//! write audited; a dry run reads them and writes nothing; `smectl state`
//! shows and resets them.

use std::process::Stdio;

use crate::support::Sandbox;
use sme_test_artifacts as guests;

/// A sandbox with the state probe installed as each of `operations`.
fn probe(operations: &[&str]) -> Sandbox {
    let sandbox = Sandbox::new();
    for operation in operations {
        sandbox.install(guests::STATE_PROBE, &format!("{operation}.wasm"));
    }
    sandbox
}

#[test]
fn fifty_concurrent_runs_each_add_one_and_none_is_lost() {
    let sandbox = probe(&["count"]);
    let children: Vec<_> = (0..50)
        .map(|_| {
            sandbox
                .command(env!("CARGO_BIN_EXE_sme"), &["svc", "count"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut answers: Vec<u32> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            assert_eq!(String::from_utf8_lossy(&output.stderr), "");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(output.status.code(), Some(0), "{stdout}");
            stdout.parse().unwrap()
        })
        .collect();
    answers.sort_unstable();
    assert_eq!(
        answers,
        (1..=50).collect::<Vec<_>>(),
        "each run saw its own value"
    );
    let writes: Vec<serde_json::Value> = sandbox
        .audit()
        .into_iter()
        .filter(|l| l["verb"] == "state" && l["target"] == "compare-and-set n")
        .collect();
    let replaced = writes.iter().filter(|l| l["replaced"] == true).count();
    assert_eq!(replaced, 50, "one replacing write per run");
    assert!(
        writes
            .iter()
            .all(|l| l["bytes"].as_u64().is_some_and(|b| (1..=2).contains(&b))),
        "each write notes its value's length, not the value"
    );
}

#[test]
fn values_are_kept_between_runs_and_private_to_their_module() {
    let sandbox = probe(&["count", "read"]);
    sandbox.sme(&["svc", "count"]).succeeds_with("1");
    sandbox.sme(&["svc", "count"]).succeeds_with("2");
    sandbox.sme(&["svc", "read"]).succeeds_with("none");
    // A new file installed under the same name keeps the values.
    sandbox.install(guests::STATE_PROBE, "count.wasm");
    sandbox.sme(&["svc", "count"]).succeeds_with("3");

    let shown = sandbox.smectl(&["state"]);
    assert_eq!(shown.code, Some(0), "{shown:?}");
    assert_eq!(
        shown.stdout,
        "module count: 1 of 16 keys, 2 of 4096 bytes\n  \"n\" = \"3\"\n"
    );
    let reset = sandbox.smectl(&["state", "--reset", "count"]);
    assert_eq!(
        reset.stdout, "removed every value of module count\n",
        "{reset:?}"
    );
    let uid = rustix::process::getuid().as_raw();
    assert!(
        sandbox.audit().iter().any(|l| l["event"] == "notice"
            && l["detail"]
                .as_str()
                .is_some_and(|d| d.contains("module count") && d.contains(&format!("uid {uid}")))),
        "the reset is audited with the operator's uid"
    );
    sandbox.sme(&["svc", "count"]).succeeds_with("1");
}

#[test]
fn writes_past_the_limits_are_refused_and_bad_keys_are_invalid() {
    let sandbox = probe(&["fill", "keys", "bad-key"]);
    sandbox.config("[modules.fill.limits]\nstate_keys = 3\n");
    sandbox.sme(&["svc", "fill"]).succeeds_with(
        "3 then limit-exceeded: module fill may keep at most 3 keys (limit `state_keys`); \"k3\" would be one more",
    );
    let limited = sandbox.audit().into_iter().find(|l| {
        l["verb"] == "state"
            && l["result"] == "limit-exceeded"
            && l["target"] == "compare-and-set k3"
    });
    assert!(limited.is_some(), "the refused write is audited");

    sandbox.config("[modules.fill.limits]\nstate_keys = 1000\nstate_kib = 1\n");
    sandbox.smectl(&["state", "--reset", "fill"]);
    let run = sandbox.sme(&["svc", "fill"]);
    // "k0".."k9" take 12 bytes with their value, "k10".."k99" 13: 1024
    // bytes hold 10 of the first and 69 of the second.
    assert!(
        run.stdout
            .starts_with("79 then limit-exceeded: module fill may keep at most 1 KiB")
            && run.stdout.contains("(limit `state_kib`)"),
        "{run:?}"
    );
    sandbox.sme(&["svc", "keys"]).succeeds_with("");
    sandbox
        .sme(&["svc", "bad-key"])
        .succeeds_with("invalid-argument");

    let inspected = sandbox.smectl(&["inspect", guests::STATE_PROBE, "--as", "fill"]);
    assert!(
        inspected
            .stdout
            .contains("keeps at most 1000 keys, keeps at most 1 KiB"),
        "{inspected:?}"
    );
}

#[test]
fn without_a_usable_state_directory_every_state_call_fails_and_smectl_check_says_why() {
    let mut sandbox = probe(&["count"]);
    sandbox.env("SME_STATE_DIR", "/tmp");
    sandbox.sme(&["svc", "count"]).fails_mentioning(&[
        "module count's state cannot be kept",
        "/tmp/state is unusable",
    ]);
    let check = sandbox.smectl(&["check"]);
    assert!(
        check
            .stdout
            .contains("imports state, but its values cannot be kept: /tmp/state is unusable"),
        "{check:?}"
    );
}

#[test]
fn a_dry_run_reads_the_kept_values_and_writes_none() {
    let sandbox = probe(&["count"]);
    sandbox.sme(&["svc", "count"]).succeeds_with("1");
    let dry = sandbox.smectl(&["run", "svc", "count", "--dry-run"]);
    assert!(
        dry.stdout
            .contains("state    compare-and-set n        allow  ok")
            && dry.stdout.contains("output: 2\n"),
        "{dry:?}"
    );
    sandbox.sme(&["svc", "count"]).succeeds_with("2");
}
