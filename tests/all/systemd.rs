//! The systemd engine against a real systemd: PID 1 of a container booted
//! from Debian's packages (`scripts/systemd-image`), its system bus reached
//! through a bind-mounted `/run/dbus`, as root on that bus.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sme::backend::Units;
use sme::backend::systemd::{Systemd, SystemdError};

use crate::support::{block_on, docker, sandboxes, unique};

/// The image, built once per run (and kept between runs) by the script.
fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/systemd-image");
        let output = std::process::Command::new(script).output().unwrap();
        assert!(output.status.success(), "scripts/systemd-image: {output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    })
}

/// A unit whose process ignores SIGTERM, with a long stop timeout of its
/// own. It says when its trap is set (`Host::wait_stubborn`): a SIGTERM that
/// came before would end it at once.
pub const STUBBORN: &str = "[Service]\nExecStart=/bin/sh -c \"trap '' TERM; touch /run/%n.ready; \
                            while :; do sleep 1; done\"\nExecStopPost=/bin/rm -f /run/%n.ready\n\
                            TimeoutStopSec=60\n";

/// A booted systemd, removed when dropped.
pub struct Host {
    pub name: String,
    /// The directory mounted on its `/run/dbus`.
    pub dbus: PathBuf,
}

impl Host {
    /// Boots one and waits until systemd says it is running.
    pub fn boot() -> Host {
        let name = unique("systemd");
        let dbus = sandboxes().join(format!("{name}-dbus"));
        std::fs::create_dir_all(&dbus).unwrap();
        let mount = format!("{}:/run/dbus", dbus.display());
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--stop-signal",
            "SIGRTMIN+3",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:ro",
            "-v",
            &mount,
        ];
        // cgroup v1 with cpu and cpuacct mounted apart (this host): systemd
        // reads a unit's CPU time where it expects the joint hierarchy.
        let v1_cpuacct = "/sys/fs/cgroup/cpuacct:/sys/fs/cgroup/cpu";
        if Path::new("/sys/fs/cgroup/cpuacct/cpuacct.usage").is_file() {
            args.extend(["-v", v1_cpuacct]);
        }
        args.push(image());
        docker(&args);
        let host = Host { name, dbus };
        let started = Instant::now();
        loop {
            let state = host.sh("systemctl is-system-running || true");
            if state == "running" || state == "degraded" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "systemd did not come up: {state}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        host
    }

    /// The bus address, as `[systemd] bus` takes it.
    pub fn bus(&self) -> String {
        format!("unix:path={}/system_bus_socket", self.dbus.display())
    }

    /// Runs a shell command in it; its standard output, trimmed.
    pub fn sh(&self, script: &str) -> String {
        docker(&["exec", &self.name, "sh", "-c", script])
    }

    /// Installs `<name>` with `body` where packages put units
    /// (`/lib/systemd/system`, so it can be masked), and reloads.
    pub fn unit(&self, name: &str, body: &str) {
        self.sh(&format!(
            "cat > /lib/systemd/system/{name} <<'EOF'\n{body}\nEOF\nsystemctl daemon-reload"
        ));
    }

    /// Waits until a [`STUBBORN`] unit has set its trap (at most 10 s).
    pub fn wait_stubborn(&self, unit: &str) {
        let started = Instant::now();
        while self.sh(&format!("test -e /run/{unit}.ready && echo ready || true")) != "ready" {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{unit} did not set its trap"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `systemctl show -p <property> --value <unit>`.
    pub fn show(&self, unit: &str, property: &str) -> String {
        self.sh(&format!("systemctl show -p {property} --value {unit}"))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(&self.dbus);
    }
}

const SLEEPER: &str = "[Service]\nExecStart=/bin/sleep infinity\n";

#[test]
fn a_unit_starts_stops_and_restarts_through_systemds_jobs() {
    let host = Host::boot();
    let unit = "snap.edgexfoundry.demo.service";
    host.unit(unit, SLEEPER);
    block_on(async {
        let systemd = Systemd::connect(&host.bus()).await.unwrap();
        let before = systemd.unit(unit).await.unwrap();
        assert_eq!(
            (
                before.load_state.as_str(),
                before.active_state.as_str(),
                before.main_pid
            ),
            ("loaded", "inactive", 0)
        );

        let started = systemd.start(unit).await.unwrap();
        assert_eq!(started.result, "done");
        assert_eq!(
            (
                started.unit.active_state.as_str(),
                started.unit.sub_state.as_str()
            ),
            ("active", "running")
        );
        assert_eq!(
            started.unit.main_pid.to_string(),
            host.show(unit, "MainPID")
        );
        assert!(started.unit.since_ms.is_some());

        let listed = systemd.units("snap.edgexfoundry.*").await.unwrap();
        assert_eq!(listed, vec![started.unit.clone()]);

        let restarted = systemd.restart(unit, None).await.unwrap();
        assert_eq!(restarted.result, "done");
        assert_ne!(restarted.unit.main_pid, started.unit.main_pid);
        assert_eq!(host.show(unit, "ActiveState"), "active");

        for _ in 0..2 {
            let stopped = systemd.stop(unit, None).await.unwrap();
            assert_eq!(stopped.result, "done");
            assert_eq!(
                (
                    stopped.unit.active_state.as_str(),
                    stopped.unit.main_pid,
                    stopped.unit.result.as_str()
                ),
                ("inactive", 0, "success")
            );
        }
        assert_eq!(host.show(unit, "ActiveState"), "inactive");
    });
}

#[test]
fn a_unit_that_fails_keeps_systemds_result_and_a_masked_one_is_refused_in_its_words() {
    let host = Host::boot();
    host.unit(
        "edgex-broken.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    host.unit("edgex-masked.service", SLEEPER);
    host.sh("systemctl mask edgex-masked.service");
    block_on(async {
        let systemd = Systemd::connect(&host.bus()).await.unwrap();
        let failed = systemd.start("edgex-broken.service").await.unwrap();
        assert_eq!(failed.result, "failed");
        assert_eq!(
            (
                failed.unit.active_state.as_str(),
                failed.unit.result.as_str()
            ),
            ("failed", "exit-code")
        );

        let masked = systemd.start("edgex-masked.service").await.unwrap_err();
        assert_eq!(
            masked,
            SystemdError::Refused {
                name: "org.freedesktop.systemd1.UnitMasked".to_owned(),
                message: "Unit edgex-masked.service is masked.".to_owned(),
            }
        );
        assert_eq!(
            systemd
                .unit("edgex-masked.service")
                .await
                .unwrap()
                .load_state,
            "masked"
        );
    });
}

#[test]
fn a_missing_unit_is_not_found_and_a_bad_name_never_reaches_systemd() {
    let host = Host::boot();
    block_on(async {
        let systemd = Systemd::connect(&host.bus()).await.unwrap();
        let missing = systemd
            .stop("edgex-missing.service", None)
            .await
            .unwrap_err();
        assert_eq!(
            missing,
            SystemdError::NotFound("edgex-missing.service".to_owned())
        );
        assert_eq!(missing.to_string(), "Unit edgex-missing.service not found.");
        for name in [
            "getty@tty1.service",
            "a\\x2db.service",
            "edgex-x",
            "../x.service",
        ] {
            let refused = systemd.start(name).await.unwrap_err();
            assert!(
                matches!(refused, SystemdError::InvalidName(_)),
                "{name}: {refused:?}"
            );
        }
    });
    // Nothing was started on the way.
    assert_eq!(
        host.sh("systemctl list-units --no-legend 'getty@*' | wc -l"),
        "0"
    );
}

#[test]
fn a_unit_ignoring_sigterm_is_killed_at_the_stops_bound_without_waiting_for_its_timeout() {
    let host = Host::boot();
    let unit = "edgex-stubborn.service";
    host.unit(unit, &format!("{STUBBORN}KillMode=mixed\n"));
    block_on(async {
        let systemd = Systemd::connect(&host.bus()).await.unwrap();
        systemd.start(unit).await.unwrap();
        host.wait_stubborn(unit);
        let started = Instant::now();
        let stopped = systemd
            .stop(unit, Some(Duration::from_millis(500)))
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited {:?}",
            started.elapsed()
        );
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "killed before its bound: {:?}",
            started.elapsed()
        );
        assert_eq!(stopped.result, "done");
        assert_ne!(stopped.unit.active_state, "active");
    });
}

#[test]
fn a_unit_reports_cpu_memory_and_tasks_as_systemd_accounts_them() {
    let host = Host::boot();
    let unit = "edgex-busy.service";
    host.unit(
        unit,
        "[Service]\nExecStart=/bin/sh -c \"while :; do :; done\"\n",
    );
    block_on(async {
        let systemd = Systemd::connect(&host.bus()).await.unwrap();
        systemd.start(unit).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let first = systemd.stats(unit).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let second = systemd.stats(unit).await.unwrap();
        let (Some(a), Some(b)) = (first.cpu_ns, second.cpu_ns) else {
            panic!("no CPU time: {first:?}");
        };
        let busy = (b - a) as f64 / (second.read_ns - first.read_ns) as f64;
        assert!(busy > 0.2, "a spinning shell used {busy} of a core");
        assert!(second.memory_bytes.is_some_and(|m| m > 0), "{second:?}");
        assert_eq!(second.tasks, Some(1));
        // IP accounting is off unless a unit asks for it: absent, not 0.
        assert_eq!(second.ip_ingress_bytes, None);
    });
}

#[test]
fn an_unreachable_bus_is_said_in_one_line() {
    let nowhere = sandboxes().join(unique("no-bus"));
    let bus = format!("unix:path={}/system_bus_socket", nowhere.display());
    let error = block_on(Systemd::connect(&bus)).unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, SystemdError::Unreachable { .. })
            && text.starts_with(&format!("cannot reach systemd on the bus {bus}: "))
            && !text.contains('\n'),
        "{text}"
    );
}

/// What the comparison with the simulation looks at: everything but PIDs
/// and times, which only the simulation makes up (whether there is one
/// stays).
#[derive(Debug, PartialEq)]
enum Seen {
    Unit(String, String, String, String, bool, bool),
    Job(String, Box<Seen>),
    Units(Vec<Seen>),
    Done,
    Error(String),
}

impl Seen {
    fn unit(unit: &sme::backend::systemd::Unit) -> Seen {
        Seen::Unit(
            unit.load_state.clone(),
            unit.active_state.clone(),
            unit.sub_state.clone(),
            unit.result.clone(),
            unit.main_pid > 0,
            unit.since_ms.is_some(),
        )
    }
}

/// The same calls on `units`, in order, as seen.
async fn script(units: &dyn Units, settle: Duration) -> Vec<(String, Seen)> {
    let demo = "snap.edgexfoundry.demo.service";
    let seen =
        |result: Result<Seen, SystemdError>| result.unwrap_or_else(|e| Seen::Error(e.to_string()));
    let job = |job: sme::backend::systemd::Job| {
        Seen::Job(job.result.clone(), Box::new(Seen::unit(&job.unit)))
    };
    let mut log = Vec::new();
    let steps: Vec<(&str, &str)> = vec![
        ("inspect", demo),
        ("start", demo),
        ("start", demo),
        ("restart", demo),
        ("list", "snap.edgexfoundry.*"),
        ("kill 15", demo),
        ("inspect", demo),
        ("start", demo),
        ("kill 9", demo),
        ("inspect", demo),
        ("stop", demo),
        ("restart", demo),
        ("stop", demo),
        ("stop", demo),
        ("list", "snap.edgexfoundry.*"),
        ("start", "edgex-broken.service"),
        ("inspect", "edgex-broken.service"),
        ("list", "edgex-*"),
        ("restart", "edgex-broken.service"),
        ("start", "edgex-masked.service"),
        ("restart", "edgex-masked.service"),
        ("stop", "edgex-masked.service"),
        ("inspect", "edgex-masked.service"),
        ("inspect", "edgex-missing.service"),
        ("stop", "edgex-missing.service"),
        ("start", "getty@tty1.service"),
    ];
    for (call, name) in steps {
        let answer = match call {
            "inspect" => seen(units.unit(name).await.map(|u| Seen::unit(&u))),
            "start" => seen(units.start(name).await.map(job)),
            "stop" => seen(units.stop(name, None).await.map(job)),
            "restart" => seen(units.restart(name, None).await.map(job)),
            "list" => seen(
                units
                    .units(name)
                    .await
                    .map(|all| Seen::Units(all.iter().map(Seen::unit).collect())),
            ),
            kill => {
                let signal = kill.trim_start_matches("kill ").parse().unwrap();
                let killed = units.kill(name, signal).await.map(|()| Seen::Done);
                // The process dies, then systemd sees it: a moment later.
                tokio::time::sleep(settle).await;
                seen(killed)
            }
        };
        log.push((format!("{call} {name}"), answer));
    }
    log
}

#[test]
fn the_simulated_units_answer_as_systemd_does() {
    use sme::sim::SimUnits;
    use sme_model::units::{Behaviour, UnitModel};

    let host = Host::boot();
    host.unit("snap.edgexfoundry.demo.service", SLEEPER);
    host.unit(
        "edgex-broken.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    host.unit("edgex-masked.service", SLEEPER);
    host.sh("systemctl mask edgex-masked.service");
    let real = block_on(async {
        let systemd = Systemd::connect(&host.bus()).await.unwrap();
        script(&systemd, Duration::from_millis(500)).await
    });
    let simulated = SimUnits::with([
        UnitModel::new("snap.edgexfoundry.demo.service", Behaviour::Runs, false),
        UnitModel::new("edgex-broken.service", Behaviour::Fails, false),
        UnitModel::new("edgex-masked.service", Behaviour::Runs, true),
    ]);
    let simulated = block_on(script(&simulated, Duration::ZERO));
    for (real, simulated) in real.iter().zip(&simulated) {
        assert_eq!(real, simulated, "real (left), simulated (right)");
    }
    assert_eq!(real.len(), simulated.len());
}
