//! What a security team relies on: grants, limits, pinning and the audit
//! log, exercised with the hostile guest corpus against real containers.

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox, Service, unique};

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
            "[limits]\nfuel = 10\nfuell = 10\n",
            3,
            "unknown field `fuell`, expected one of `deadline_ms`, `fuel`",
        ),
        (
            "[modules.stop.limits]\nrequest_deadline_ms = 100\n",
            2,
            "`request_deadline_ms` is one budget for the whole request",
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
    let mut audit = sandbox.audit();
    assert_eq!(audit.len(), 5, "{audit:?}");
    // The read of the container's own stop timeout: none set, so the
    // stop asks for Docker's default, 10 s.
    let own = audit.remove(0);
    assert_eq!(
        (own["verb"].as_str(), own.get("timeout_s")),
        (Some("inspect"), None)
    );
    // The line announcing the stop is checked in trust.rs.
    let intent = audit.remove(0);
    assert_eq!(intent["event"], "intent");
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
    assert_eq!(audit[0]["timeout_s"], 10, "the grace period asked for");
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
    run.fails_with(
        "cannot use audit log /nonexistent-dir/audit.jsonl: /nonexistent-dir does not exist",
    );
    assert!(container.is_running());
}

/// Installs the hostile metrics guest as add-on `metrics.d/hostile.wasm` and
/// asks for metrics of a container whose name picks its misbehaviour.
fn hostile_metrics(behaviour: &str) -> (crate::support::Run, std::path::PathBuf) {
    let container = Container::running(behaviour);
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::HOSTILE_METRICS, "metrics.d/hostile.wasm");
    let run = sandbox.sme(&[&container.name, "metrics"]);
    (run, path)
}

#[test]
fn metrics_json_nested_past_the_depth_limit_is_refused() {
    let (run, path) = hostile_metrics("nest");
    run.fails_mentioning(&[
        &format!("policy metrics.d/hostile ({}): ", path.display()),
        "nests JSON more than 64 levels deep",
    ]);
}

#[test]
fn the_output_limit_counts_metrics_as_printed_after_escaping() {
    // 20 KiB of control characters, 120 KiB once JSON-escaped.
    let (run, path) = hostile_metrics("ctrl");
    run.fails_mentioning(&[
        &format!("policy metrics.d/hostile ({}): ", path.display()),
        "output limit of 64 KiB (limit `output_kib`)",
    ]);
}

#[test]
fn slow_add_ons_share_one_request_deadline() {
    // Three modules that each sleep 1200 ms, each with the default 15 s
    // deadline of its own: the second add-on starts with under 1200 ms of
    // the 3000 ms request budget left, so it cannot finish.
    let container = Container::running("sleep");
    let sandbox = Sandbox::new();
    sandbox.install(guests::HOSTILE_METRICS, "metrics.wasm");
    sandbox.install(guests::HOSTILE_METRICS, "metrics.d/slow-a.wasm");
    let second = sandbox.install(guests::HOSTILE_METRICS, "metrics.d/slow-b.wasm");
    // Fuel enough that the second add-on's computing runs into the clock.
    sandbox.config("[limits]\nrequest_deadline_ms = 3000\nfuel = 1000000000000000\n");
    let run = sandbox.sme(&[&container.name, "metrics"]);
    run.fails_mentioning(&[
        &format!("policy metrics.d/slow-b ({}): stopped: ", second.display()),
        "request's time budget of 3000 ms",
        "(limit `request_deadline_ms`)",
    ]);
    // Alone, the three would take 3600 ms.
    assert!(
        run.elapsed < std::time::Duration::from_millis(3500),
        "took {:?}",
        run.elapsed
    );
    let audit = sandbox.audit();
    let outcomes: Vec<(&str, &str)> = audit
        .iter()
        .filter(|l| l["event"] == "invocation")
        .map(|l| {
            (
                l["module"].as_str().unwrap(),
                l["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("metrics", "ok"),
            ("metrics.d/slow-a", "ok"),
            ("metrics.d/slow-b", "error")
        ]
    );

    sandbox.config("[modules.metrics.limits]\nrequest_deadline_ms = 3000\n");
    sandbox
        .sme(&[&container.name, "metrics"])
        .fails_mentioning(&["`request_deadline_ms` is one budget for the whole request"]);
}

#[test]
fn listing_rows_carry_each_containers_own_name_never_a_link_alias() {
    let prefix = crate::support::unique("link");
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let linked = Container::named(&b, &[]);
    // On the default bridge Docker lists `b` as both `/b` and `/a/alias`.
    let linking = Container::named(&a, &["--link", &format!("{b}:alias")]);
    let sandbox = Sandbox::new();
    sandbox.install(guests::LIST_NAMES, "names.wasm");
    sandbox.config(&format!(
        "[modules.names.grants]\nlist = [\"name:{prefix}*\"]\n"
    ));
    sandbox
        .sme(&[&linking.name, "names"])
        .succeeds_with(&format!("{a} {b}"));

    // Even a grant of every name shows no alias.
    sandbox.config("[modules.names.grants]\nlist = [\"name:*\"]\n");
    let run = sandbox.sme(&[&linking.name, "names"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let names: Vec<&str> = run.stdout.split(' ').collect();
    assert!(names.contains(&a.as_str()) && names.contains(&linked.name.as_str()));
    assert!(!run.stdout.contains('/'), "{}", run.stdout);
}

/// `services.list` answers only the services the module may list, and a
/// grant on names never reaches a service outside it.
#[test]
fn services_outside_the_grant_are_not_listed() {
    let prefix = unique("listed");
    let mine = Service::create(&format!("{prefix}-a"), &["--replicas", "0"], &[]);
    let also = Service::create(&format!("{prefix}-b"), &["--replicas", "0"], &[]);
    let other = Service::create(&unique("unlisted"), &["--replicas", "0"], &[]);
    let sandbox = Sandbox::new();
    sandbox.install(guests::LIST_SERVICES, "services.wasm");
    sandbox.config(&format!(
        "[swarm]\nmode = \"auto\"\n[modules.services.grants]\nlist = [\"name:{prefix}*\"]\n"
    ));
    sandbox
        .sme(&[&mine.name, "services"])
        .succeeds_with(&format!("{} {}", mine.name, also.name));
    assert!(!other.name.starts_with(&prefix));

    // Without the verb the listing is denied, and audited as a service call.
    sandbox.config("[swarm]\nmode = \"auto\"\n[modules.services.grants]\ninspect = [\"self\"]\n");
    let run = sandbox.sme(&[&mine.name, "services"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("may not list services"), "{run:?}");
    let denied: Vec<serde_json::Value> = sandbox
        .audit()
        .into_iter()
        .filter(|line| line["verb"] == "list" && line["decision"] == "deny")
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["object"], "service");
}

/// With `[swarm]` off (the default), a module holding the built-in stop's
/// grant (`scale` on `self`) still makes no request to the Swarm API: the
/// gate denies every service call, and audits the denial.
#[test]
fn with_swarm_off_a_service_call_is_denied_and_never_sent() {
    let sandbox = Sandbox::new();
    sandbox.install(guests::SCALE_SELF, "stop.wasm");
    let run = sandbox.sme(&["edgex-swarm-off", "stop"]);
    run.fails_mentioning(&[
        "module stop may not scale edgex-swarm-off",
        "Swarm is off in SME's configuration ([swarm] mode = \"off\")",
    ]);
    let lines: Vec<serde_json::Value> = sandbox
        .audit()
        .into_iter()
        .filter(|line| line["event"] == "host-call" || line["event"] == "intent")
        .collect();
    assert_eq!(lines.len(), 1, "one denial, no intent: {lines:?}");
    assert_eq!(
        (
            &lines[0]["verb"],
            &lines[0]["decision"],
            &lines[0]["object"]
        ),
        (&"scale".into(), &"deny".into(), &"service".into())
    );
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: std::path::PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&at).unwrap();
        let options = format!("size={size},mode=0755");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(&at)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs at {}", at.display());
        SmallDisk(at)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// On a full disk an audit line is never left in part: the run that could
/// not write it is refused, the file ends where it did, and once there is
/// room again every line of it is whole.
#[test]
fn a_full_disk_never_tears_an_audit_line() {
    use std::io::Write as _;
    let mut sandbox = Sandbox::new();
    let disk = SmallDisk::mount(sandbox.root.join("small"), "16k");
    let log = disk.0.join("audit.jsonl");
    sandbox.env("SME_AUDIT_LOG", log.to_str().unwrap());
    sandbox.sme(&["edgex-full-disk", "stop"]);
    // Everything else on the disk is taken: the log can only grow inside
    // the page it ends in.
    let filler_path = disk.0.join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    while filler.write_all(&[b'x'; 512]).is_ok() {}
    while filler.write_all(b"x").is_ok() {}
    drop(filler);
    let mut refused = None;
    for _ in 0..20 {
        let run = sandbox.sme(&["edgex-full-disk", "stop"]);
        if run.stdout.contains("audit") {
            refused = Some(run);
            break;
        }
    }
    let refused = refused.expect("a run meets the full disk");
    assert_eq!(refused.code, Some(1), "{refused:?}");
    std::fs::remove_file(&filler_path).unwrap();
    sandbox.sme(&["edgex-full-disk", "stop"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|error| panic!("a torn line ({error}): {line}"));
    }
}

/// A module whose allocator hands the host a bad pointer for a host call's
/// answer is stopped naming the trap, not a limit the operator would raise
/// for nothing.
#[test]
fn a_bad_pointer_for_a_host_calls_answer_is_a_trap_not_the_output_limit() {
    let sandbox = Sandbox::new();
    let path = sandbox.install(guests::BAD_REALLOC, "stop.wasm");
    sandbox.config("[modules.stop.settings]\nmode = \"loud\"\n");
    let run = sandbox.sme(&["edgex-bad-realloc", "stop"]);
    run.fails_mentioning(&[&format!("policy stop ({}): ", path.display())]);
    assert!(!run.stdout.contains("output"), "{run:?}");
}
