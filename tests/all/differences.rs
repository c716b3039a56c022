//! Where SME deliberately answers differently from the reference executor
//! (README, "Differences from the reference executor"): each difference, on
//! the real daemon, with the containers it must not touch checked after.

use crate::support::{Container, Sandbox, docker};

#[test]
fn a_traversal_name_never_reaches_another_container() {
    // The reference's docker CLI joins the name into the request path, so
    // `<svc>/../<other>` acted on `<other>`, any container on the host.
    let service = Container::running("traversal");
    let running = Container::running("traversal-other");
    let stopped = Container::stopped("traversal-stopped");
    let started = running.started_at();
    let sandbox = Sandbox::new();
    for (target, operation) in [
        (&running, "stop"),
        (&running, "restart"),
        (&running, "metrics"),
        (&stopped, "start"),
    ] {
        let name = format!("{}/../{}", service.name, target.name);
        sandbox
            .sme(&[&name, operation])
            .fails_mentioning(&["is not a valid container name"]);
    }
    assert!(running.is_running(), "the other container was stopped");
    assert_eq!(
        running.started_at(),
        started,
        "the other container restarted"
    );
    assert_eq!(stopped.status(), "exited", "the other container started");
    assert!(service.is_running());
    assert!(
        sandbox
            .audit()
            .iter()
            .all(|line| line["event"] == "invocation"),
        "a refused name reached a module"
    );
}

#[test]
fn an_id_prefix_is_never_read_as_another_container() {
    // Docker resolves a path parameter that is no container's name as an ID
    // prefix; SME acts only on the container with exactly that name.
    let running = Container::running("id-prefix");
    let stopped = Container::stopped("id-prefix-stopped");
    let id = |container: &Container| docker(&["inspect", "-f", "{{.Id}}", &container.name]);
    let (running_id, stopped_id) = (id(&running), id(&stopped));
    let started = running.started_at();
    let sandbox = Sandbox::new();
    let missing = |name: &str| {
        format!("exit status 1: Error response from daemon: No such container: {name}\n")
    };
    for name in [&running_id[..12], running_id.as_str()] {
        for operation in ["stop", "restart", "metrics"] {
            sandbox.sme(&[name, operation]).fails_with(&missing(name));
        }
    }
    let prefix = &stopped_id[..12];
    sandbox.sme(&[prefix, "start"]).fails_with(&format!(
        "{}Error: failed to start containers: {prefix}\n",
        missing(prefix)
    ));
    assert!(running.is_running(), "the container was stopped");
    assert_eq!(running.started_at(), started, "the container restarted");
    assert_eq!(stopped.status(), "exited", "the container started");
}

#[test]
fn names_up_to_65000_characters_work_and_longer_ones_are_refused() {
    // Docker accepts longer names still; SME's requests carry the name in
    // their URI, which the HTTP library limits to 64 KiB.
    let name = format!("{}x", "n".repeat(64_999));
    let container = Container::named(&name, &[]);
    let sandbox = Sandbox::new();
    let metrics = sandbox.sme(&[&container.name, "metrics"]);
    assert_eq!(
        (metrics.code, metrics.stderr.as_str()),
        (Some(0), ""),
        "exit or stderr"
    );
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());

    let longer = "n".repeat(65_001);
    let run = sandbox.sme(&[&longer, "start"]);
    run.fails_mentioning(&["is not a valid container name", "at most 65000 characters"]);
    assert!(run.stdout.len() < 300, "the name is shown shortened");
}
