//! A Docker Engine held in memory, for `smectl test` and `smectl bench
//! --scenario`: no daemon at all.
//!
//! Containers come from a scenario. Lifecycle calls change them through the
//! same state machine as a dry run ([`super::lifecycle`]), so they change
//! what the daemon changes and are refused with the daemon's own messages;
//! a missing name is `No such container`. Stats are made up from the
//! scenario's figures so that `docker stats`' arithmetic (the guest SDK's
//! `Figures`) gives them back: CPU % over a one-second window, memory as
//! usage with no inactive file cache. A container that is not running reads
//! zero counters, as it does from the daemon.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::lifecycle::{Lifecycle, is_up, now_ms, simulate};
use super::{Docker, DockerError, Result, Stats};
use crate::bindings::{Container, CpuReading, Health, Sample, Status, Summary};
use crate::grants::Verb;

/// What the simulated engine calls itself in messages.
pub const ENDPOINT: &str = "simulated";

/// One container of the simulation, with what its stats report.
#[derive(Debug, Clone, PartialEq)]
pub struct SimContainer {
    /// What `inspect` answers (its lifecycle fields change with calls).
    pub container: Container,
    /// `Config.StopTimeout`; none for the daemon's default.
    pub stop_timeout: Option<u32>,
    /// The CPU % `docker stats` would show while it runs.
    pub cpu_percent: f64,
    /// The memory `docker stats` would show as used, in bytes.
    pub memory_usage: u64,
    /// The memory limit, in bytes.
    pub memory_limit: u64,
    /// CPUs online.
    pub online_cpus: u32,
    /// Bytes received and sent, read from and written to block devices.
    pub io: [u64; 4],
    /// Processes.
    pub pids: u64,
    /// Verbs the daemon refuses for this container, with its message.
    pub fail: Vec<(Verb, String)>,
    /// The health a (re)start leaves: the simulation runs no health checks.
    /// None: `starting` for a container with a health check (what Docker
    /// reports until its first check), `none` without one.
    pub health_after_start: Option<Health>,
}

impl SimContainer {
    /// A container in `status`, as created an hour before `now_ms` (and
    /// started then, or stopped ten minutes ago, as its status says), with
    /// the ID Docker would never give it twice: the sha256 of its name. It
    /// runs at 0.5 % CPU in 1 MiB of a 1 GiB limit on 2 CPUs, one process.
    pub fn new(name: &str, status: Status, now_ms: u64) -> SimContainer {
        use sha2::Digest as _;
        let hour = 3_600_000;
        let ever_started = status != Status::Created;
        let stopped = matches!(status, Status::Exited | Status::Dead);
        SimContainer {
            container: Container {
                id: crate::policy::hex(&sha2::Sha256::digest(name.as_bytes())),
                name: name.to_owned(),
                image: "scenario".to_owned(),
                status,
                running: is_up(status),
                health: Health::None,
                exit_code: 0,
                restart_count: 0,
                created_ms: now_ms.saturating_sub(hour),
                started_ms: ever_started.then(|| now_ms.saturating_sub(hour)),
                finished_ms: stopped.then(|| now_ms.saturating_sub(hour / 6)),
                labels: Vec::new(),
            },
            stop_timeout: None,
            cpu_percent: 0.5,
            memory_usage: 1 << 20,
            memory_limit: 1 << 30,
            online_cpus: 2,
            io: [0; 4],
            pids: 1,
            fail: Vec::new(),
            health_after_start: None,
        }
    }
}

/// The simulated engine.
#[derive(Debug)]
pub struct Simulated {
    containers: Mutex<BTreeMap<String, SimContainer>>,
    unreachable: bool,
}

impl Simulated {
    /// An engine holding `containers`.
    pub fn new(containers: impl IntoIterator<Item = SimContainer>) -> Simulated {
        Simulated {
            containers: Mutex::new(
                containers
                    .into_iter()
                    .map(|c| (c.container.name.clone(), c))
                    .collect(),
            ),
            unreachable: false,
        }
    }

    /// An engine nobody answers for, as when the daemon is down.
    pub fn unreachable() -> Simulated {
        Simulated {
            unreachable: true,
            ..Simulated::new([])
        }
    }

    /// The containers as they are now, by name.
    pub fn containers(&self) -> BTreeMap<String, SimContainer> {
        self.state().clone()
    }

    fn state(&self) -> MutexGuard<'_, BTreeMap<String, SimContainer>> {
        self.containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The container `name`, after the reachability and refusal checks a
    /// call of `verb` meets at the daemon.
    fn find(&self, verb: Verb, name: &str) -> Result<SimContainer> {
        if self.unreachable {
            return Err(DockerError::Unreachable {
                endpoint: ENDPOINT.to_owned(),
                reason: "the scenario has no daemon (`unreachable = true`)".to_owned(),
            });
        }
        let found = self
            .state()
            .get(name)
            .cloned()
            .ok_or_else(|| DockerError::NotFound(name.to_owned()))?;
        match found.fail.iter().find(|(failing, _)| *failing == verb) {
            Some((_, message)) => Err(DockerError::Engine(message.clone())),
            None => Ok(found),
        }
    }

    fn change(&self, verb: Verb, name: &str) -> Result<()> {
        let found = self.find(verb, name)?;
        let after = simulate(
            verb,
            Lifecycle::of(&found.container),
            &found.container.id,
            now_ms(),
        )?;
        if let Some(sim) = self.state().get_mut(name) {
            let started = after.started_ms != sim.container.started_ms;
            after.show(&mut sim.container);
            if let (true, Some(health)) = (started, sim.health_after_start) {
                sim.container.health = health;
            }
        }
        Ok(())
    }

    fn stats(&self, name: &str) -> Result<(Option<CpuReading>, Stats)> {
        let found = self.find(Verb::Stats, name)?;
        let container = &found.container;
        let id = container.id.clone();
        if !container.running {
            let zero = CpuReading {
                read_ns: 0,
                total_ns: 0,
                system_ns: 0,
                online_cpus: 0,
            };
            let sample = Sample {
                cpu: zero,
                memory_usage: 0,
                memory_limit: 0,
                total_inactive_file: None,
                inactive_file: None,
                network_rx: 0,
                network_tx: 0,
                block_read: 0,
                block_write: 0,
                pids: 0,
            };
            return Ok((None, Stats { id, sample }));
        }
        let (previous, current) = cpu_window(&found, now_ms());
        let [network_rx, network_tx, block_read, block_write] = found.io;
        let sample = Sample {
            cpu: current,
            memory_usage: found.memory_usage,
            memory_limit: found.memory_limit,
            total_inactive_file: None,
            inactive_file: Some(0),
            network_rx,
            network_tx,
            block_read,
            block_write,
            pids: found.pids,
        };
        Ok((Some(previous), Stats { id, sample }))
    }
}

/// Two CPU readings one second apart whose ratio is the container's CPU %
/// as the docker CLI computes it: `Δtotal / Δsystem × cpus × 100`. A paused
/// container's counters do not move.
fn cpu_window(container: &SimContainer, now_ms: u64) -> (CpuReading, CpuReading) {
    const SECOND_NS: u64 = 1_000_000_000;
    let cpus = container.online_cpus.max(1);
    let system_delta = SECOND_NS * u64::from(cpus);
    let percent = if container.container.status == Status::Paused {
        0.0
    } else {
        container.cpu_percent.max(0.0)
    };
    // Δtotal = percent / 100 × one second of one CPU.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total_delta = (percent / 100.0 * SECOND_NS as f64).round() as u64;
    let read_ns = now_ms.saturating_mul(1_000_000);
    let previous = CpuReading {
        read_ns: read_ns.saturating_sub(SECOND_NS),
        total_ns: 1_000 * SECOND_NS,
        system_ns: 1_000_000 * SECOND_NS,
        online_cpus: cpus,
    };
    let current = CpuReading {
        read_ns,
        total_ns: previous.total_ns + total_delta,
        system_ns: previous.system_ns + system_delta,
        online_cpus: cpus,
    };
    (previous, current)
}

/// Whether a row's labels match a `key` or `key=value` selector, as the
/// daemon's `label` filter does.
fn label_matches(labels: &[(String, String)], selector: &str) -> bool {
    match selector.split_once('=') {
        Some((key, value)) => labels.iter().any(|(k, v)| k == key && v == value),
        None => labels.iter().any(|(k, _)| k == selector),
    }
}

#[async_trait]
impl Docker for Simulated {
    fn endpoint(&self) -> &str {
        ENDPOINT
    }

    async fn inspect(&self, name: &str) -> Result<Container> {
        self.find(Verb::Inspect, name).map(|found| found.container)
    }

    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        if self.unreachable {
            return self.find(Verb::List, "").map(|_| Vec::new());
        }
        let mut rows: Vec<(u64, Summary)> = self
            .state()
            .values()
            .map(|found| &found.container)
            .filter(|c| all || is_up(c.status))
            .filter(|c| label.is_none_or(|selector| label_matches(&c.labels, selector)))
            .map(|c| {
                let row = Summary {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    status: c.status,
                    labels: c.labels.clone(),
                };
                (c.created_ms, row)
            })
            .collect();
        // The daemon lists the most recently created first.
        rows.sort_by(|(a, x), (b, y)| b.cmp(a).then_with(|| x.name.cmp(&y.name)));
        Ok(rows.into_iter().map(|(_, row)| row).collect())
    }

    async fn stop_timeout(&self, name: &str) -> Result<Option<u32>> {
        self.find(Verb::Inspect, name)
            .map(|found| found.stop_timeout)
    }

    async fn start(&self, name: &str) -> Result<()> {
        self.change(Verb::Start, name)
    }

    async fn stop(&self, name: &str, _timeout_seconds: Option<u32>) -> Result<()> {
        self.change(Verb::Stop, name)
    }

    async fn restart(&self, name: &str, _timeout_seconds: Option<u32>) -> Result<()> {
        self.change(Verb::Restart, name)
    }

    async fn pause(&self, name: &str) -> Result<()> {
        self.change(Verb::Pause, name)
    }

    async fn unpause(&self, name: &str) -> Result<()> {
        self.change(Verb::Unpause, name)
    }

    async fn one_shot(&self, name: &str) -> Result<Stats> {
        self.stats(name).map(|(_, stats)| stats)
    }

    async fn measure(&self, name: &str) -> Result<(Option<CpuReading>, Stats)> {
        self.stats(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, status: Status, labels: &[(&str, &str)]) -> SimContainer {
        SimContainer {
            container: Container {
                id: format!("{name}-id"),
                name: name.to_owned(),
                image: "busybox".to_owned(),
                status,
                running: is_up(status),
                health: Health::None,
                exit_code: 0,
                restart_count: 0,
                created_ms: 1,
                started_ms: Some(2),
                finished_ms: None,
                labels: labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
            stop_timeout: None,
            cpu_percent: 12.5,
            memory_usage: 4096,
            memory_limit: 1 << 30,
            online_cpus: 2,
            io: [1, 2, 3, 4],
            pids: 3,
            fail: Vec::new(),
            health_after_start: None,
        }
    }

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn calls_change_state_and_missing_names_are_not_found() {
        let engine = Simulated::new([container("web", Status::Running, &[])]);
        block_on(async {
            engine.stop("web", None).await.unwrap();
            let stopped = engine.inspect("web").await.unwrap();
            assert_eq!((stopped.status, stopped.running), (Status::Exited, false));
            assert!(stopped.finished_ms.is_some());
            assert_eq!(
                engine.pause("web").await,
                Err(DockerError::Engine(
                    "Container web-id is not running".into()
                ))
            );
            assert_eq!(
                engine.start("gone").await,
                Err(DockerError::NotFound("gone".into()))
            );
        });
    }

    #[test]
    fn listings_filter_like_the_daemon() {
        let engine = Simulated::new([
            container("a", Status::Running, &[("tier", "db")]),
            container("b", Status::Exited, &[("tier", "db")]),
            container("c", Status::Paused, &[("tier", "web")]),
        ]);
        let names = |rows: Vec<Summary>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        block_on(async {
            assert_eq!(names(engine.list(None, false).await.unwrap()), ["a", "c"]);
            assert_eq!(names(engine.list(None, true).await.unwrap()).len(), 3);
            assert_eq!(
                names(engine.list(Some("tier=db"), true).await.unwrap()),
                ["a", "b"]
            );
            assert_eq!(
                names(engine.list(Some("tier"), false).await.unwrap()),
                ["a", "c"]
            );
        });
    }

    #[test]
    fn stats_give_back_the_scenarios_cpu_percent() {
        let engine = Simulated::new([container("web", Status::Running, &[])]);
        let (previous, current) = block_on(engine.measure("web")).unwrap();
        let previous = previous.unwrap();
        let cpu = &current.sample.cpu;
        #[allow(clippy::cast_precision_loss)]
        let percent = (cpu.total_ns - previous.total_ns) as f64
            / (cpu.system_ns - previous.system_ns) as f64
            * f64::from(cpu.online_cpus)
            * 100.0;
        assert!((percent - 12.5).abs() < 1e-9, "{percent}");
        assert_eq!(current.sample.memory_usage, 4096);
    }

    #[test]
    fn a_stopped_container_reads_zero_and_a_refusal_is_the_daemons() {
        let mut failing = container("web", Status::Exited, &[]);
        failing.fail.push((Verb::Start, "driver failed".into()));
        let engine = Simulated::new([failing]);
        let (previous, stats) = block_on(engine.measure("web")).unwrap();
        assert_eq!(previous, None);
        assert_eq!(stats.sample.memory_usage, 0);
        assert_eq!(
            block_on(engine.start("web")),
            Err(DockerError::Engine("driver failed".into()))
        );
        let down = Simulated::unreachable();
        assert!(matches!(
            block_on(down.inspect("web")),
            Err(DockerError::Unreachable { .. })
        ));
    }
}
