//! Metrics from containers' counters where the host's processes cannot be
//! seen (the agent's container without the host's `/proc`): network I/O is
//! the last figure kept, marked as such in the audit line, never a wait
//! for Docker and never another namespace's figures.

use crate::support::{Container, Sandbox, docker, pair};

/// The metrics run's network figure, and what the audit line says of it.
fn network(sandbox: &Sandbox, container: &Container) -> ((f64, f64), String) {
    let before = sandbox.audit().len();
    let run = sandbox.sme(&[&container.name, "metrics"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let figure = pair(value["raw"]["net_io"].as_str().unwrap());
    let audit = sandbox.audit();
    let line = audit[before..]
        .iter()
        .find(|line| line["verb"] == "stats")
        .expect("an audit line for the measurement");
    assert_eq!(line["source"], "cgroup", "{line}");
    (figure, line["network"].as_str().unwrap().to_owned())
}

/// Sends a few packets from the container, so its counters are not 0.
fn talk(container: &Container) {
    let gateway = docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Gateway}}",
        &container.name,
    ]);
    docker(&[
        "exec",
        &container.name,
        "busybox",
        "ping",
        "-c",
        "2",
        "-W",
        "1",
        &gateway,
    ]);
}

#[test]
fn without_the_hosts_processes_network_io_is_the_last_figure_kept() {
    let container = Container::running("netkept");
    talk(&container);
    let mut sandbox = Sandbox::new();
    // A process table with no processes: nothing to read the namespace
    // through, and nothing kept yet.
    let empty = sandbox.root.join("no-processes");
    std::fs::create_dir(&empty).unwrap();
    let blind = |sandbox: &mut Sandbox| {
        sandbox.env("SME_HOST_PROC", &empty.display().to_string());
    };
    blind(&mut sandbox);
    assert_eq!(network(&sandbox, &container), ((0.0, 0.0), "none".into()));

    // Where they can be seen, read now, and kept.
    sandbox.env("SME_HOST_PROC", "/proc");
    let (read, how) = network(&sandbox, &container);
    assert_eq!(how, "read");
    assert!(read.0 > 0.0 && read.1 > 0.0, "{read:?}");

    // Blind again: the kept figure, said to be kept.
    talk(&container);
    blind(&mut sandbox);
    assert_eq!(network(&sandbox, &container), (read, "kept".into()));

    // A restart starts the namespace's counters from 0: what was kept
    // before it is not the container's figure any more.
    docker(&["restart", "-t", "1", &container.name]);
    container.wait_for_ready_lines(2);
    assert_eq!(network(&sandbox, &container), ((0.0, 0.0), "none".into()));
}

#[test]
fn a_relative_host_proc_is_refused_in_one_line() {
    let mut sandbox = Sandbox::new();
    sandbox.env("SME_HOST_PROC", "host/proc");
    let container = Container::running("relproc");
    sandbox
        .sme(&[&container.name, "metrics"])
        .fails_mentioning(&["environment variable SME_HOST_PROC: must be an absolute path"]);
    // And smectl, before checking anything else.
    let check = sandbox.smectl(&["check"]);
    assert_eq!(
        (check.code, check.stdout.as_str()),
        (
            Some(1),
            "error: environment variable SME_HOST_PROC: must be an absolute path, not \"host/proc\"\n"
        ),
        "{check:?}"
    );
}
