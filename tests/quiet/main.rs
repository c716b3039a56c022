//! Tests that measure: they compare figures taken over one-second windows,
//! so they run in their own test binary, after the main suite (cargo runs test
//! binaries one at a time) and never beside dozens of other tests competing
//! for two cores.

#[path = "../all/support.rs"]
#[allow(dead_code)]
mod support;

use support::{Container, Sandbox, docker};

/// A container whose shell spins on one core.
fn busy() -> Container {
    Container::with_args(
        "busy",
        &[
            "--entrypoint",
            "/bin/sh",
            support::image(),
            "-c",
            "trap 'exit 0' TERM; echo ready; while :; do :; done",
        ],
    )
}

fn cpu_of(json: &str) -> f64 {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value["cpuUsedPercent"].as_f64().unwrap()
}

#[test]
fn fast_metrics_agree_with_docker_on_a_busy_container() {
    let container = busy();
    let sandbox = Sandbox::new();
    // The first run has no earlier reading: it measures as docker does and
    // keeps its readings for the next run.
    let first = sandbox.sme(&[&container.name, "metrics"]);
    assert_eq!(first.code, Some(0), "{first:?}");
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let fast = sandbox.sme(&[&container.name, "metrics"]);
    let docker_cpu = docker(&[
        "stats",
        &container.name,
        "--no-stream",
        "--format",
        "{{.CPUPerc}}",
    ]);
    let docker_cpu: f64 = docker_cpu.trim_end_matches('%').parse().unwrap();
    assert_eq!(fast.code, Some(0), "{fast:?}");
    let (first_cpu, fast_cpu) = (cpu_of(&first.stdout), cpu_of(&fast.stdout));
    // A spinning shell uses one core: 100% in docker's terms, much less when
    // the machine is busy with the other tests. The arithmetic is unit-tested
    // exactly; here the fast path must agree with docker's own figure taken
    // right after it, over the next second.
    assert!(
        docker_cpu > 10.0,
        "docker sees {docker_cpu}%: the container is not busy"
    );
    assert!(
        (fast_cpu - docker_cpu).abs() < 35.0,
        "sme {fast_cpu}% vs docker {docker_cpu}%"
    );
    assert!(
        (first_cpu - docker_cpu).abs() < 35.0,
        "sme {first_cpu}% vs docker {docker_cpu}%"
    );
    let readings = std::fs::read_dir(sandbox.root.join("state/cpu"))
        .unwrap()
        .count();
    assert_eq!(readings, 1, "one reading file per container");
}
