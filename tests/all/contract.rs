//! The EdgeX executor contract, through the real `sme` and the real daemon:
//! outputs, exit codes, nothing on stderr, and the container's state after.

use std::time::Duration;

use crate::support::{Container, Sandbox, keys_in_order};

#[test]
fn stop_prints_empty_json_string_and_stops() {
    let container = Container::running("stop");
    Sandbox::new()
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(container.status(), "exited");
}

#[test]
fn start_prints_empty_json_string_and_starts() {
    let container = Container::stopped("start");
    Sandbox::new()
        .sme(&[&container.name, "start"])
        .succeeds_with("\"\"");
    assert!(container.is_running());
}

#[test]
fn start_works_on_a_never_started_container() {
    let container = Container::created("fresh");
    Sandbox::new()
        .sme(&[&container.name, "start"])
        .succeeds_with("\"\"");
    assert!(container.is_running());
}

#[test]
fn restart_restarts_a_running_container() {
    let container = Container::running("restart");
    let before = container.started_at();
    Sandbox::new()
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    assert!(container.is_running());
    assert_ne!(
        container.started_at(),
        before,
        "the container was not restarted"
    );
}

#[test]
fn restart_starts_a_stopped_container() {
    let container = Container::stopped("restart-stopped");
    Sandbox::new()
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    assert!(container.is_running());
}

#[test]
fn operations_already_in_their_target_state_succeed() {
    let running = Container::running("idempotent-run");
    let stopped = Container::stopped("idempotent-stop");
    let sandbox = Sandbox::new();
    sandbox.sme(&[&running.name, "start"]).succeeds_with("\"\"");
    sandbox.sme(&[&stopped.name, "stop"]).succeeds_with("\"\"");
    assert!(running.is_running());
    assert_eq!(stopped.status(), "exited");
}

#[test]
fn start_reports_a_container_that_cannot_start_in_the_clis_words() {
    let container = Container::created_with("cannot-start", &["--entrypoint", "/no/such/program"]);
    let run = Sandbox::new().sme(&[&container.name, "start"]);
    // The runtime's wording varies with its version; the lines around it are
    // the docker CLI's.
    assert_eq!((run.code, run.stderr.as_str()), (Some(1), ""), "{run:?}");
    assert!(
        run.stdout
            .starts_with("exit status 1: Error response from daemon: ")
            && run.stdout.contains("/no/such/program")
            && run.stdout.ends_with(&format!(
                "\nError: failed to start containers: {}\n",
                container.name
            )),
        "{run:?}"
    );
    assert_eq!(run.stdout.matches('\n').count(), 2, "{run:?}");
    assert!(!container.is_running());
}

#[test]
fn start_of_a_paused_container_prints_the_daemons_refusal_like_the_cli() {
    let container = Container::running("start-paused");
    crate::support::docker(&["pause", &container.name]);
    Sandbox::new()
        .sme(&[&container.name, "start"])
        .fails_with(&format!(
            "exit status 1: Error response from daemon: \
             cannot start a paused container, try unpause instead\n\
             Error: failed to start containers: {}\n",
            container.name
        ));
    assert_eq!(container.status(), "paused");
}

#[test]
fn missing_container_is_reported_in_the_references_exact_words() {
    let sandbox = Sandbox::new();
    let name = crate::support::unique("missing");
    let daemon = format!("exit status 1: Error response from daemon: No such container: {name}\n");
    for operation in ["stop", "restart", "metrics"] {
        sandbox.sme(&[&name, operation]).fails_with(&daemon);
    }
    sandbox.sme(&[&name, "start"]).fails_with(&format!(
        "{daemon}Error: failed to start containers: {name}\n"
    ));
}

#[test]
fn missing_arguments_use_the_reference_text() {
    let sandbox = Sandbox::new();
    for args in [&[][..], &["edgex-core-data"][..]] {
        sandbox
            .sme(args)
            .fails_with("missing <service> and <operation> command line arguments");
    }
}

#[test]
fn unknown_operations_are_not_supported() {
    let container = Container::running("unknown-op");
    let sandbox = Sandbox::new();
    for operation in [
        "reboot",
        "STOP",
        "../stop",
        "stop.wasm",
        "",
        "metrics.d/x",
        "start;stop",
    ] {
        sandbox
            .sme(&[&container.name, operation])
            .fails_with("operation not supported by executor");
    }
    assert!(container.is_running());
}

#[test]
fn extra_arguments_are_ignored_like_the_reference() {
    let container = Container::running("extra-args");
    Sandbox::new()
        .sme(&[&container.name, "stop", "--force", "now"])
        .succeeds_with("\"\"");
    assert_eq!(container.status(), "exited");
}

#[test]
fn strange_service_names_are_refused_and_change_nothing() {
    let container = Container::running("strange");
    let sandbox = Sandbox::new();
    let names = [
        format!("{};docker rm -f {}", container.name, container.name),
        format!("$({})", container.name),
        format!("`{}`", container.name),
        format!("{} && reboot", container.name),
        format!("{}|cat", container.name),
        format!("../{}", container.name),
        format!("{}/../../images/json", container.name),
        format!("{}?force=1", container.name),
        format!("{}\nstop", container.name),
        "-rf".to_owned(),
        "x".to_owned(),
        String::new(),
    ];
    for name in &names {
        for operation in ["stop", "restart", "metrics"] {
            let run = sandbox.sme(&[name, operation]);
            run.fails_mentioning(&["is not a valid container name"]);
        }
    }
    assert!(
        container.is_running(),
        "a refused request changed the container"
    );
}

#[test]
fn names_as_long_as_docker_accepts_are_served() {
    for length in [300, 1004] {
        let mut name = crate::support::unique("long");
        name.push('-');
        name.push_str(&"n".repeat(length - name.len()));
        let container = Container::named(&name, &[]);
        let sandbox = Sandbox::new();
        let metrics = sandbox.sme(&[&name, "metrics"]);
        assert_eq!(
            (metrics.code, metrics.stderr.as_str()),
            (Some(0), ""),
            "{metrics:?}"
        );
        assert_eq!(
            keys_in_order(&metrics.stdout),
            ["cpuUsedPercent", "memoryUsed", "raw"]
        );
        let before = container.started_at();
        sandbox.sme(&[&name, "restart"]).succeeds_with("\"\"");
        assert_ne!(container.started_at(), before, "{length}: not restarted");
        // A stop before the new shell sets its trap would wait out the grace period.
        while crate::support::docker(&["logs", &name])
            .matches("ready")
            .count()
            < 2
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        sandbox.sme(&[&name, "stop"]).succeeds_with("\"\"");
        assert_eq!(container.status(), "exited", "{length}");
        sandbox.sme(&[&name, "start"]).succeeds_with("\"\"");
        assert!(container.is_running(), "{length}");
    }
}

#[test]
fn metrics_print_the_reference_fields() {
    let container = Container::running("metrics");
    let run = Sandbox::new().sme(&[&container.name, "metrics"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(!run.stdout.ends_with('\n'));
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        keys_in_order(&run.stdout),
        ["cpuUsedPercent", "memoryUsed", "raw"]
    );
    assert!(value["cpuUsedPercent"].as_f64().unwrap() >= 0.0);
    assert!(
        value["memoryUsed"].as_i64().unwrap() > 0,
        "a running shell uses memory"
    );
    // The reference's `docker stats --format` template order.
    let raw = value["raw"].as_object().unwrap();
    let raw_text = &run.stdout[run.stdout.find("\"raw\":").unwrap() + 6..run.stdout.len() - 1];
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
    assert!(raw.values().all(serde_json::Value::is_string));
    let cpu = raw["cpu_perc"].as_str().unwrap();
    assert!(
        cpu.ends_with('%') && cpu.split('.').nth(1).unwrap().len() == 3,
        "{cpu}"
    );
    let memory = raw["mem_usage"].as_str().unwrap();
    assert!(memory.contains(" / ") && memory.contains("iB"), "{memory}");
    assert!(raw["net_io"].as_str().unwrap().contains(" / "));
    assert!(raw["pids"].as_str().unwrap().parse::<u32>().unwrap() >= 1);
    // memoryUsed is read back from the formatted figure, as the reference did.
    let used = memory.split(' ').next().unwrap();
    assert_eq!(value["memoryUsed"].as_i64().unwrap(), binary_bytes(used));
}

/// `5.234MiB` in bytes, the way the reference executor parsed it.
fn binary_bytes(text: &str) -> i64 {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    };
    (number.parse::<f64>().unwrap() * scale + 0.5) as i64
}

#[test]
fn metrics_of_a_stopped_container_are_docker_zeroes() {
    let container = Container::stopped("metrics-stopped");
    Sandbox::new().sme(&[&container.name, "metrics"]).succeeds_with(
        r#"{"cpuUsedPercent":0,"memoryUsed":0,"raw":{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"}}"#,
    );
}

#[test]
fn unreachable_daemon_fails_after_the_reconnect_window_with_one_line() {
    let container = Container::running("unreachable");
    let mut sandbox = Sandbox::new();
    sandbox.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    // A daemon restarting is tried again for 3 s (docs/security.md); one
    // that does not come back is reported right after.
    let window = sme::backend::docker::RECONNECT;
    for operation in ["stop", "metrics"] {
        let run = sandbox.sme(&[&container.name, operation]);
        run.fails_mentioning(&[
            "cannot reach the Docker Engine at unix:///nonexistent/docker.sock",
            "(tried for 3 s)",
        ]);
        // No daemon answered, so nothing reads as the docker CLI's output.
        assert!(!run.stdout.starts_with("exit status"), "{run:?}");
        assert!(
            run.elapsed < window + Duration::from_secs(2),
            "took {:?}",
            run.elapsed
        );
    }
    sandbox.env("DOCKER_HOST", "tcp://127.0.0.1:1");
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.fails_mentioning(&[
        "Error stopping service: cannot reach the Docker Engine at tcp://127.0.0.1:1",
    ]);
    assert!(
        run.elapsed < window + Duration::from_secs(2),
        "took {:?}",
        run.elapsed
    );
    assert!(container.is_running());
}

#[test]
fn an_endpoint_that_is_not_docker_is_not_read_as_a_missing_container() {
    // An HTTP server that answers 404 with no body to everything, as a
    // proxy or a wrong port can: no answer from it may read as "not found".
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let mut sandbox = Sandbox::new();
    sandbox.env("DOCKER_HOST", &endpoint);
    for operation in ["stop", "metrics"] {
        let run = sandbox.sme(&["edgex-ui", operation]);
        run.fails_mentioning(&[&format!(
            "{endpoint} answered HTTP 404 with no message: is it a Docker Engine?"
        )]);
        assert!(!run.stdout.contains("not found"), "{run:?}");
    }
}

#[test]
fn many_concurrent_runs_all_succeed() {
    let containers: Vec<Container> = (0..16).map(|_| Container::running("concurrent")).collect();
    let sandbox = Sandbox::new();
    let sandbox = &sandbox;
    std::thread::scope(|scope| {
        let runs: Vec<_> = containers
            .iter()
            .enumerate()
            .map(|(i, c)| (c, if i % 2 == 0 { "metrics" } else { "stop" }))
            .map(|(c, op)| scope.spawn(move || (op, sandbox.sme(&[&c.name, op]))))
            .collect();
        for run in runs {
            let (operation, run) = run.join().unwrap();
            assert_eq!(
                (run.code, run.stderr.as_str()),
                (Some(0), ""),
                "{operation}: {run:?}"
            );
        }
    });
    let lines = sandbox.audit();
    assert!(lines.iter().filter(|l| l["event"] == "invocation").count() == 16);
}
