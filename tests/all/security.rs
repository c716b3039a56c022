//! What a security team relies on: grants, limits, pinning and the audit
//! log, exercised with the hostile guest corpus against real containers.

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox};

/// Installs `guest` as `<operation>.wasm`, runs it for a fresh container,
/// and checks the run failed with a one-line message containing `expected`,
/// left an `error` audit line, and changed no container.
#[track_caller]
fn stopped_by(guest: &str, operation: &str, config: &str, expected: &str) {
    let container = Container::running(operation);
    let started = container.started_at();
    let sandbox = Sandbox::new();
    let path = sandbox.install(guest, &format!("{operation}.wasm"));
    sandbox.config(config);
    let run = sandbox.sme(&[&container.name, operation]);
    run.fails_mentioning(&[
        &format!("policy {operation} ({}): ", path.display()),
        expected,
    ]);
    assert!(run.elapsed.as_secs() < 10, "took {:?}", run.elapsed);
    let audit = sandbox.audit();
    let invocation = audit
        .iter()
        .find(|l| l["event"] == "invocation")
        .expect("an invocation line");
    assert_eq!(invocation["outcome"], "error");
    assert_eq!(invocation["detail"].as_str(), Some(run.stdout.as_str()));
    assert!(
        container.is_running() && container.started_at() == started,
        "the container changed"
    );
}

#[test]
fn an_infinite_loop_is_stopped_by_the_fuel_limit() {
    stopped_by(
        guests::LOOP_FOREVER,
        "spin",
        "",
        "stopped: exceeded its CPU fuel of 2000000000 units (limit `fuel`)",
    );
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline() {
    let config = "[modules.spin.limits]\nfuel = 1000000000000000\ndeadline_ms = 300\n";
    stopped_by(
        guests::LOOP_FOREVER,
        "spin",
        config,
        "stopped: exceeded its deadline of 300 ms (limit `deadline_ms`)",
    );
}

#[test]
fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    stopped_by(
        guests::MEMORY_BOMB,
        "hoard",
        "",
        "stopped: exceeded its memory limit of 64 MiB (limit `memory_mib`)",
    );
    let config = "[limits]\nmemory_mib = 8\n";
    stopped_by(
        guests::MEMORY_BOMB,
        "hoard",
        config,
        "exceeded its memory limit of 8 MiB",
    );
}

#[test]
fn many_memories_share_one_memory_limit() {
    // Eight memories of 15 MiB each: every one is under the cap, together
    // they are almost twice over it.
    stopped_by(
        guests::MANY_MEMORIES,
        "hoard",
        "",
        "stopped: exceeded its memory limit of 64 MiB (limit `memory_mib`)",
    );
}

#[test]
fn unbounded_recursion_is_stopped_by_the_stack_limit() {
    stopped_by(
        guests::DEEP_RECURSION,
        "descend",
        "",
        "stopped: exceeded the wasm stack limit of 512 KiB",
    );
}

#[test]
fn a_trap_is_reported_with_its_panic() {
    stopped_by(guests::TRAP, "crash", "", "trapped: panicked at");
}

#[test]
fn a_huge_answer_is_stopped_by_the_output_limit() {
    stopped_by(
        guests::HUGE_OUTPUT,
        "shout",
        "",
        "stopped: exceeded its output limit of 64 KiB (limit `output_kib`)",
    );
}

#[test]
fn flooding_stdout_is_stopped_and_never_reaches_the_agent() {
    stopped_by(
        guests::STDOUT_FLOOD,
        "flood",
        "",
        "stopped: exceeded its output limit of 64 KiB",
    );
}

#[test]
fn a_host_call_storm_is_stopped_by_the_call_limit() {
    let config = "[modules.storm.grants]\ninspect = [\"self\"]\n";
    stopped_by(
        guests::HOST_CALL_STORM,
        "storm",
        config,
        "stopped: exceeded its limit of 100 host calls (limit `host_calls`)",
    );
    let config =
        "[modules.storm.grants]\ninspect = [\"self\"]\n[modules.storm.limits]\nhost_calls = 5\n";
    stopped_by(
        guests::HOST_CALL_STORM,
        "storm",
        config,
        "exceeded its limit of 5 host calls",
    );
}

#[test]
fn wasi_gives_policies_no_files_environment_or_network() {
    let container = Container::running("escape");
    let sandbox = Sandbox::new();
    sandbox.install(guests::WASI_ESCAPE, "escape.wasm");
    let started = container.started_at();
    let run = sandbox.sme(&[&container.name, "escape"]);
    run.fails_mentioning(&[
        "no escape: ",
        "open /etc/passwd",
        "environment: empty",
        "connect 127.0.0.1:2375",
    ]);
    assert!(!run.stdout.contains("escaped"));
    let line = sandbox.audit().pop().unwrap();
    assert_eq!(line["event"], "invocation");
    assert_eq!(line["outcome"], "failed");
    assert!(container.is_running() && container.started_at() == started);
}

#[test]
fn a_pin_mismatch_refuses_the_module() {
    let container = Container::running("pinned");
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    let wrong = "0".repeat(64);
    sandbox.config(&format!("[modules.stop]\nsha256 = \"{wrong}\"\n"));
    let actual = crate::support::sha256_of(&path);
    sandbox.sme(&[&container.name, "stop"]).fails_with(&format!(
        "policy {}: refused, its sha256 is {actual} but the configuration pins {wrong}",
        path.display()
    ));
    assert!(container.is_running());
    let line = sandbox.audit().pop().unwrap();
    assert_eq!(
        (line["event"].as_str(), line["outcome"].as_str()),
        (Some("invocation"), Some("error"))
    );

    sandbox.config(&format!("[modules.stop]\nsha256 = \"{actual}\"\n"));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
}

#[test]
fn require_pinning_refuses_unpinned_files_but_not_built_ins() {
    let container = Container::running("require-pin");
    let sandbox = Sandbox::new();
    sandbox.config("require_pinning = true\n");
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    let path = sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    let actual = crate::support::sha256_of(&path);
    sandbox.sme(&[&container.name, "stop"]).fails_with(&format!(
        "policy {}: refused, require_pinning is set and it has no pin; add sha256 = \"{actual}\" under [modules.\"stop\"] if you trust it",
        path.display()
    ));
    assert!(container.is_running());
    sandbox.config(&format!(
        "require_pinning = true\n[modules.stop]\nsha256 = \"{actual}\"\n"
    ));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
}

#[test]
fn configuration_errors_name_the_line_and_change_nothing() {
    let container = Container::running("bad-config");
    let sandbox = Sandbox::new();
    let file = sandbox.root.join("sme.toml");
    let cases = [
        (
            "policy_dir = \"/x\"\nunknown_key = 1\n",
            2,
            "unknown field `unknown_key`",
        ),
        (
            "[modules.stop.grants]\nstop = [\"self\", \"name:a/b\"]\n",
            2,
            "bad name pattern \"a/b\"",
        ),
        (
            "[modules.stop.grants]\nstopp = [\"self\"]\n",
            2,
            "unknown field `stopp`",
        ),
        (
            "[limits]\n\ndeadline_ms = 0\n",
            3,
            "`deadline_ms` must be greater than 0",
        ),
        (
            "[modules.stop]\nsha256 = \"xyz\"\n",
            2,
            "is not 64 hexadecimal digits",
        ),
    ];
    for (text, line, message) in cases {
        sandbox.config(text);
        let run = sandbox.sme(&[&container.name, "stop"]);
        run.fails_mentioning(&[
            &format!("configuration {}, line {line}: ", file.display()),
            message,
        ]);
    }
    assert!(container.is_running());
}

#[test]
fn label_and_name_grants_extend_a_module_to_other_containers() {
    let service = Container::running("granted");
    let victim = Container::named(
        &format!("{}-victim", service.name),
        &["--label", "sme.test.managed=yes"],
    );
    let sandbox = Sandbox::new();
    sandbox.install(guests::STOP_OTHER, "reach.wasm");
    sandbox.config("[modules.reach.grants]\nstop = [\"label:sme.test.managed=yes\"]\n");
    sandbox
        .sme(&[&service.name, "reach"])
        .succeeds_with("stopped a container outside the grant");
    assert!(!victim.is_running());
    assert!(service.is_running());
}

#[test]
fn a_call_outside_the_grant_is_denied_audited_and_changes_nothing() {
    let service = Container::running("deny");
    let victim_name = format!("{}-victim", service.name);
    let victim = Container::named(&victim_name, &[]);
    let sandbox = Sandbox::new();
    sandbox.install(guests::STOP_OTHER, "reach.wasm");
    sandbox.config("[modules.reach.grants]\nstop = [\"self\", \"name:other-*\"]\n");
    sandbox.sme(&[&service.name, "reach"]).fails_with(&format!(
        "module reach may not stop {victim_name}: its grant allows stop on self, name:other-* (self is {})",
        service.name
    ));
    assert!(victim.is_running(), "the victim was stopped");
    let audit = sandbox.audit();
    let call = audit.iter().find(|l| l["event"] == "host-call").unwrap();
    assert_eq!(call["verb"], "stop");
    assert_eq!(call["target"], victim_name.as_str());
    assert_eq!(call["decision"], "deny");
    assert_eq!(call["result"], "denied");
}

#[test]
fn the_audit_log_records_invocations_and_host_calls() {
    let container = Container::running("audited");
    let sandbox = Sandbox::new();
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    let audit = sandbox.audit();
    assert_eq!(audit.len(), 3, "{audit:?}");
    let id = audit[0]["invocation"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    assert!(
        audit
            .iter()
            .all(|l| l["invocation"] == id && l["time"].as_str().unwrap().ends_with('Z'))
    );
    let verbs: Vec<&str> = audit[..2]
        .iter()
        .map(|l| l["verb"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["stop", "inspect"]);
    for call in &audit[..2] {
        assert_eq!(call["event"], "host-call");
        assert_eq!(call["target"], container.name.as_str());
        assert_eq!(
            (call["decision"].as_str(), call["result"].as_str()),
            (Some("allow"), Some("ok"))
        );
        assert!(call["duration_us"].as_u64().is_some());
    }
    let invocation = &audit[2];
    assert_eq!(invocation["event"], "invocation");
    assert_eq!(invocation["service"], container.name.as_str());
    assert_eq!(invocation["operation"], "stop");
    assert_eq!(invocation["module"], "stop");
    assert_eq!(invocation["path"], "builtin");
    assert_eq!(invocation["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(invocation["outcome"], "ok");
    assert!(invocation["duration_us"].as_u64().unwrap() > 0);
}

#[test]
fn concurrent_runs_write_whole_audit_lines() {
    let containers: Vec<Container> = (0..12).map(|_| Container::running("audit-many")).collect();
    let sandbox = Sandbox::new();
    sandbox.install(guests::HOST_CALL_STORM, "storm.wasm");
    sandbox.config("[modules.storm.grants]\ninspect = [\"self\"]\n");
    let sandbox = &sandbox;
    std::thread::scope(|scope| {
        for container in &containers {
            scope.spawn(move || sandbox.sme(&[&container.name, "storm"]));
        }
    });
    // Each storm makes 100 allowed calls and one refused by the limit.
    let audit = sandbox.audit();
    assert_eq!(audit.len(), 12 * 102);
    for container in &containers {
        let mine = audit
            .iter()
            .filter(|l| l["service"] == container.name.as_str());
        assert_eq!(mine.count(), 102);
    }
}

#[test]
fn an_unwritable_audit_log_fails_closed() {
    let container = Container::running("audit-closed");
    let mut sandbox = Sandbox::new();
    sandbox.env("SME_AUDIT_LOG", "/nonexistent-dir/audit.jsonl");
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.fails_mentioning(&["cannot write audit log /nonexistent-dir/audit.jsonl"]);
    assert!(container.is_running());
}
