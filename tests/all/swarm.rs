//! The default policies on Docker Swarm services, through the real `sme`
//! and a real swarm (turned on for the tests when the daemon is in none):
//! what each operation prints, what it leaves the service in, and the
//! requests it does not send.

use std::time::Duration;

use crate::support::{Container, Run, Sandbox, Service, keys_in_order, unique};

const SWARM_ON: &str = "[swarm]\nmode = \"on\"\n";

fn sandbox(config: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.config(config);
    sandbox
}

/// The `scale` calls the audit log recorded.
fn scales(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    sandbox
        .audit()
        .into_iter()
        .filter(|line| line["event"] == "host-call" && line["verb"] == "scale")
        .collect()
}

fn note(service: &Service) -> Option<String> {
    service
        .labels()
        .get("sme.note.replicas")
        .map(|value| value.as_str().unwrap().to_owned())
}

#[test]
fn stop_scales_to_zero_and_notes_the_count() {
    let service = Service::replicated("svc-stop", 2);
    let sandbox = sandbox(SWARM_ON);
    sandbox.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(service.replicas(), "0");
    assert_eq!(note(&service).as_deref(), Some("2"));
    assert!(service.running_tasks().is_empty(), "{:?}", service.tasks());
    assert_eq!(scales(&sandbox).len(), 1);
    // The change is announced before it is sent, as a service's.
    let audit = sandbox.audit();
    let intent = audit
        .iter()
        .position(|line| line["event"] == "intent" && line["verb"] == "scale")
        .expect("an intent line for the scale");
    let sent = audit
        .iter()
        .position(|line| line["event"] == "host-call" && line["verb"] == "scale")
        .unwrap();
    assert!(intent < sent, "{audit:?}");
    assert_eq!(audit[intent]["object"], "service");
    assert_eq!(audit[intent]["target"], service.name.as_str());

    let version = service.version();
    sandbox.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(scales(&sandbox).len(), 1, "a second stop wrote nothing");
    assert_eq!(service.version(), version);
    assert_eq!(note(&service).as_deref(), Some("2"));
}

#[test]
fn start_restores_the_noted_count() {
    let service = Service::replicated("svc-start", 2);
    let sandbox = sandbox(SWARM_ON);
    sandbox.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    sandbox.sme(&[&service.name, "start"]).succeeds_with("\"\"");
    assert_eq!(service.replicas(), "2");
    assert_eq!(note(&service), None, "the note is used up");
    assert_eq!(service.running_tasks().len(), 2, "{:?}", service.tasks());

    // Started already: no write, success.
    let version = service.version();
    sandbox.sme(&[&service.name, "start"]).succeeds_with("\"\"");
    assert_eq!(service.version(), version);
}

#[test]
fn start_without_a_note_starts_one_task() {
    let service = Service::create(&unique("svc-zero"), &["--replicas", "0"], &[]);
    sandbox(SWARM_ON)
        .sme(&[&service.name, "start"])
        .succeeds_with("\"\"");
    assert_eq!(service.replicas(), "1");
    assert_eq!(service.running_tasks().len(), 1);
}

#[test]
fn start_of_a_bad_note_starts_one_task() {
    let name = unique("svc-bad-note");
    let service = Service::create(
        &name,
        &["--replicas", "0", "--label", "sme.note.replicas=many"],
        &[],
    );
    sandbox(SWARM_ON)
        .sme(&[&service.name, "start"])
        .succeeds_with("\"\"");
    assert_eq!(service.replicas(), "1");
}

#[test]
fn restart_replaces_every_task() {
    let service = Service::replicated("svc-restart", 2);
    let before = service.running_tasks();
    let force = service.inspect("{{.Spec.TaskTemplate.ForceUpdate}}");
    let run = sandbox(SWARM_ON).sme(&[&service.name, "restart"]);
    run.succeeds_with("\"\"");
    let after = service.running_tasks();
    assert_eq!(after.len(), 2, "{:?}", service.tasks());
    assert!(
        after.iter().all(|task| !before.contains(task)),
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        service.inspect("{{.Spec.TaskTemplate.ForceUpdate}}"),
        (force.parse::<u64>().unwrap() + 1).to_string()
    );
    assert_eq!(service.inspect("{{.UpdateStatus.State}}"), "completed");
}

/// Docker replaces one task at a time and watches each for 5 s: three
/// replicas take over 10 s. Out of its wait, the restart answers success
/// once new tasks run and the update is still going, and Docker finishes it.
#[test]
fn a_long_rolling_update_answers_once_under_way() {
    let service = Service::replicated("svc-rolling", 3);
    let before = service.running_tasks();
    let config = format!("{SWARM_ON}[modules.restart.settings]\nswarm_wait_ms = 3000\n");
    sandbox(&config)
        .sme(&[&service.name, "restart"])
        .succeeds_with("\"\"");
    assert_eq!(service.inspect("{{.UpdateStatus.State}}"), "updating");
    let replaced = service
        .running_tasks()
        .into_iter()
        .filter(|task| !before.contains(task))
        .count();
    assert!(replaced >= 1, "no new task yet: {:?}", service.tasks());
}

#[test]
fn restart_of_a_stopped_service_starts_it() {
    let service = Service::replicated("svc-restart-stopped", 1);
    // The built-in restart grant has `scale` for this.
    let sandbox = sandbox(SWARM_ON);
    sandbox.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    sandbox
        .sme(&[&service.name, "restart"])
        .succeeds_with("\"\"");
    assert_eq!(service.replicas(), "1");
    assert_eq!(service.running_tasks().len(), 1);
}

#[test]
fn updates_keep_the_rest_of_the_spec() {
    // A health check, among others, is what bollard's typed spec loses.
    let service = Service::create(
        &unique("svc-spec"),
        &[
            "--replicas",
            "1",
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            "--env",
            "KEEP=1",
            "--label",
            "keep=yes",
        ],
        &[],
    );
    service.wait_running(1);
    let spec = |service: &Service| {
        let mut spec: serde_json::Value =
            serde_json::from_str(&service.inspect("{{json .Spec}}")).unwrap();
        spec["Mode"]["Replicated"]["Replicas"] = serde_json::Value::Null;
        spec["Labels"]
            .as_object_mut()
            .unwrap()
            .remove("sme.note.replicas");
        spec
    };
    let before = spec(&service);
    assert!(
        before
            .pointer("/TaskTemplate/ContainerSpec/Healthcheck")
            .is_some()
    );
    let sandbox = sandbox(SWARM_ON);
    sandbox.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(spec(&service), before);
    sandbox.sme(&[&service.name, "start"]).succeeds_with("\"\"");
    assert_eq!(spec(&service), before);
}

#[test]
fn metrics_sum_the_tasks_and_count_them() {
    let service = Service::replicated("svc-metrics", 2);
    let run = sandbox(SWARM_ON).sme(&[&service.name, "metrics"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert_eq!(
        keys_in_order(&run.stdout),
        [
            "cpuUsedPercent",
            "memoryUsed",
            "raw",
            "desiredTasks",
            "runningTasks",
            "measuredTasks"
        ]
    );
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(value["cpuUsedPercent"].as_f64().unwrap() >= 0.0);
    assert!(value["memoryUsed"].as_i64().unwrap() > 0, "{run:?}");
    let raw_text = &run.stdout[run.stdout.find("\"raw\":").unwrap() + 6..];
    let raw_text = &raw_text[..raw_text.find('}').unwrap() + 1];
    assert_eq!(
        keys_in_order(raw_text),
        [
            "cpu_perc",
            "mem_usage",
            "mem_perc",
            "net_io",
            "block_io",
            "pids"
        ]
    );
    assert!(
        value["raw"]["pids"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 2,
        "two shells at least: {run:?}"
    );
    assert_eq!(
        (
            &value["desiredTasks"],
            &value["runningTasks"],
            &value["measuredTasks"]
        ),
        (&2.into(), &2.into(), &2.into())
    );
}

#[test]
fn metrics_of_a_stopped_service_are_zeroes() {
    let service = Service::create(&unique("svc-metrics-zero"), &["--replicas", "0"], &[]);
    sandbox(SWARM_ON).sme(&[&service.name, "metrics"]).succeeds_with(
        r#"{"cpuUsedPercent":0,"memoryUsed":0,"raw":{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"},"desiredTasks":0,"runningTasks":0,"measuredTasks":0}"#,
    );
}

#[test]
fn scale_is_denied_outside_grant_and_changes_nothing() {
    let service = Service::replicated("svc-denied", 1);
    let config =
        format!("{SWARM_ON}[modules.stop.grants]\ninspect = [\"self\"]\nstop = [\"self\"]\n");
    let sandbox = sandbox(&config);
    let run = sandbox.sme(&[&service.name, "stop"]);
    run.fails_mentioning(&[&format!(
        "Error stopping service: module stop may not scale {}: its grant allows scale on no ",
        service.name
    )]);
    assert!(
        run.stdout.starts_with("Error stopping service: "),
        "{run:?}"
    );
    assert_eq!(service.replicas(), "1");
    assert_eq!(note(&service), None);
    let denied = scales(&sandbox);
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["decision"], "deny");
}

#[test]
fn missing_service_is_reported_in_the_daemons_words() {
    let _swarm = crate::support::Swarm::join();
    let name = unique("no-svc");
    let sandbox = sandbox(SWARM_ON);
    let daemon = format!("exit status 1: Error response from daemon: service {name} not found\n");
    for operation in ["stop", "start", "restart", "metrics"] {
        sandbox.sme(&[&name, operation]).fails_with(&daemon);
    }
}

#[test]
fn id_prefixes_do_not_name_services() {
    let service = Service::replicated("svc-id", 1);
    let id = service.inspect("{{.ID}}");
    let prefix = &id[..12];
    sandbox(SWARM_ON)
        .sme(&[prefix, "stop"])
        .fails_with(&format!(
            "exit status 1: Error response from daemon: service {prefix} not found\n"
        ));
    assert_eq!(service.replicas(), "1");
}

#[test]
fn start_of_tasks_that_cannot_start_fails_in_time() {
    // Its command does not exist: every task fails before it runs.
    let service = Service::create(
        &unique("svc-failing"),
        &["--replicas", "0"],
        &["/no/such/program"],
    );
    let run = sandbox(SWARM_ON).sme(&[&service.name, "start"]);
    run.fails_with("Error starting service: service is not running but should be");
    assert!(
        run.elapsed > Duration::from_secs(11) && run.elapsed < Duration::from_secs(16),
        "waited {:?}",
        run.elapsed
    );
    assert_eq!(service.replicas(), "1");
    let failed = service.tasks();
    assert!(
        failed
            .iter()
            .any(|task| task.state == "failed" || task.state == "rejected"),
        "{failed:?}"
    );
}

#[test]
fn global_services_are_not_stopped_but_restart() {
    let service = Service::global("svc-global");
    let sandbox = sandbox(SWARM_ON);
    sandbox.sme(&[&service.name, "stop"]).fails_with(&format!(
        "Error stopping service: service {} is global (one task per node): SME stops only replicated services",
        service.name
    ));
    assert_eq!(scales(&sandbox).len(), 0);
    let before = service.running_tasks();
    assert_eq!(before.len(), 1);
    sandbox.sme(&[&service.name, "start"]).succeeds_with("\"\"");
    sandbox
        .sme(&[&service.name, "restart"])
        .succeeds_with("\"\"");
    let after = service.running_tasks();
    assert_eq!(after.len(), 1, "{:?}", service.tasks());
    assert_ne!(after, before);
}

#[test]
fn auto_mode_picks_the_service_or_the_container() {
    let service = Service::replicated("svc-auto", 1);
    let container = Container::running("ctr-auto");
    let sandbox = sandbox("[swarm]\nmode = \"auto\"\n");
    sandbox.sme(&[&service.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(service.replicas(), "0");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(container.status(), "exited");
    sandbox
        .sme(&[&container.name, "start"])
        .succeeds_with("\"\"");
    assert!(container.is_running());
}

#[test]
fn stack_names_map_from_the_agents_names() {
    // `docker stack deploy -c docker-compose.yml edgex` names the compose
    // service `core-data` `edgex_core-data`; the agent says `edgex-core-data`.
    let short = unique("stack");
    let service = Service::create(&format!("edgex_{short}"), &["--replicas", "1"], &[]);
    service.wait_running(1);
    let sandbox = sandbox("[swarm]\nmode = \"on\"\nservice = \"edgex_{name}\"\n");
    let agent_name = format!("edgex-{short}");
    sandbox.sme(&[&agent_name, "stop"]).succeeds_with("\"\"");
    assert_eq!(service.replicas(), "0");
    sandbox.sme(&[&agent_name, "start"]).succeeds_with("\"\"");
    assert_eq!(service.replicas(), "1");
    let scaled = scales(&sandbox);
    assert!(
        scaled
            .iter()
            .all(|line| line["target"] == service.name.as_str()),
        "{scaled:?}"
    );
}

/// Runs `operation` from four `sme` processes at once.
fn at_once(sandbox: &Sandbox, service: &str, operation: &str) -> Vec<Run> {
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let command = sandbox.command(env!("CARGO_BIN_EXE_sme"), &[service, operation]);
            std::thread::spawn(move || Run::of(command))
        })
        .collect();
    runs.into_iter().map(|run| run.join().unwrap()).collect()
}

#[test]
fn concurrent_stops_and_starts_agree() {
    let service = Service::replicated("svc-race", 2);
    let sandbox = sandbox(SWARM_ON);
    for run in at_once(&sandbox, &service.name, "stop") {
        run.succeeds_with("\"\"");
    }
    assert_eq!(service.replicas(), "0");
    assert_eq!(note(&service).as_deref(), Some("2"), "the count survives");
    assert!(service.running_tasks().is_empty());
    for run in at_once(&sandbox, &service.name, "start") {
        run.succeeds_with("\"\"");
    }
    assert_eq!(service.replicas(), "2");
    assert_eq!(note(&service), None);
    assert_eq!(service.running_tasks().len(), 2);
}
