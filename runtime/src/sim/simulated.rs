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
//!
//! Swarm services, when the scenario has a swarm, change through the
//! state machine of `sme_model::swarm`; each task that has a container
//! has one here too, named and labelled as Docker does it, so that listing
//! a service's task containers and measuring them works as on a node of a
//! real swarm. A simulation without a swarm answers service calls as a
//! daemon that is no swarm manager does.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use sme_model::lifecycle::{Holds, is_up};
use sme_model::names::label_matches;
use sme_model::swarm::{
    NODE_ID_LABEL, NOT_A_MANAGER, SERVICE_ID_LABEL, SERVICE_NAME_LABEL, ServiceModel, TASK_ID_LABEL,
};

use super::deployed;
use crate::backend::docker::{DockerError, Result, Stats};
use crate::backend::{Containers, Services};
use crate::contract::{
    Container, CpuReading, Health, Sample, Service, ServiceSummary, Status, Summary,
};
use crate::sandbox::grants::Verb;
use crate::sandbox::held::Clock;
use sme_model::TaskState;

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
                id: hex::encode(sha2::Sha256::digest(name.as_bytes())),
                name: name.to_owned(),
                image: "scenario".to_owned(),
                status,
                running: is_up(status.into()),
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

/// One Swarm service of the simulation, with what its tasks' containers
/// report.
#[derive(Debug, Clone, PartialEq)]
pub struct SimService {
    /// Its state, which service calls change.
    pub model: ServiceModel,
    /// Verbs the daemon refuses for this service, with its message
    /// (`inspect`, `scale`, `redeploy`; `stats` is refused for its tasks'
    /// containers).
    pub fail: Vec<(Verb, String)>,
    /// What every task container is like: its figures and refusals. Its
    /// name, ID, image, labels and state are its task's.
    pub task_container: SimContainer,
}

impl SimService {
    /// A service as [`deployed`](super::deployed) makes it, whose task
    /// containers have [`SimContainer::new`]'s figures.
    pub fn new(name: &str, replicas: Option<u64>, now_ms: u64) -> SimService {
        SimService {
            model: deployed(name, replicas, now_ms),
            fail: Vec::new(),
            task_container: SimContainer::new(name, Status::Running, now_ms),
        }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        self.model.name()
    }
}

/// The simulated engine.
#[derive(Debug)]
pub struct Simulated {
    world: Mutex<World>,
    unreachable: bool,
    /// What changes are stamped with (a scenario's clock).
    clock: Clock,
}

/// Everything the simulated daemon holds.
#[derive(Debug, Default)]
struct World {
    containers: BTreeMap<String, SimContainer>,
    /// The swarm's services by name; none when the daemon is in no swarm.
    services: Option<BTreeMap<String, SimService>>,
}

impl Simulated {
    /// An engine holding `containers`, in no swarm.
    pub fn new(containers: impl IntoIterator<Item = SimContainer>) -> Simulated {
        Simulated {
            world: Mutex::new(World {
                containers: containers
                    .into_iter()
                    .map(|c| (c.container.name.clone(), c))
                    .collect(),
                services: None,
            }),
            unreachable: false,
            clock: Clock::default(),
        }
    }

    /// This engine as the manager of a single-node swarm running
    /// `services`, with a container for each of their tasks that has one.
    #[must_use]
    pub fn with_services(self, services: impl IntoIterator<Item = SimService>) -> Simulated {
        {
            let mut world = self.world();
            let world = &mut *world;
            let services: BTreeMap<String, SimService> = services
                .into_iter()
                .map(|s| (s.name().to_owned(), s))
                .collect();
            for service in services.values() {
                sync_task_containers(&mut world.containers, service);
            }
            world.services = Some(services);
        }
        self
    }

    /// Stamps changes with `clock`'s time instead of the machine's.
    pub fn with_clock(mut self, clock: Clock) -> Simulated {
        self.clock = clock;
        self
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
        self.world().containers.clone()
    }

    /// The Swarm services as they are now, by name (none in no swarm).
    pub fn service_states(&self) -> BTreeMap<String, SimService> {
        self.world().services.clone().unwrap_or_default()
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reachable(&self) -> Result<()> {
        if self.unreachable {
            return Err(DockerError::Unreachable {
                endpoint: ENDPOINT.to_owned(),
                reason: "the scenario has no daemon (`unreachable = true`)".to_owned(),
            });
        }
        Ok(())
    }

    /// The container `name`, after the reachability and refusal checks a
    /// call of `verb` meets at the daemon.
    fn find(&self, verb: Verb, name: &str) -> Result<SimContainer> {
        self.reachable()?;
        let found = self
            .world()
            .containers
            .get(name)
            .cloned()
            .ok_or_else(|| DockerError::NotFound(name.to_owned()))?;
        refusal(&found.fail, verb)?;
        Ok(found)
    }

    /// The service `name`, after the checks a call of `verb` meets: a
    /// daemon in no swarm refuses every service call, and names are exact.
    fn find_service(&self, verb: Verb, name: &str) -> Result<SimService> {
        self.reachable()?;
        let world = self.world();
        let services = world
            .services
            .as_ref()
            .ok_or_else(|| DockerError::Engine(NOT_A_MANAGER.to_owned()))?;
        let found = services
            .get(name)
            .cloned()
            .ok_or_else(|| DockerError::NoService(name.to_owned()))?;
        refusal(&found.fail, verb)?;
        Ok(found)
    }

    /// Keeps `service` as changed, and its task containers with it.
    fn keep_service(&self, service: SimService) {
        let mut world = self.world();
        let world = &mut *world;
        sync_task_containers(&mut world.containers, &service);
        if let Some(services) = world.services.as_mut() {
            services.insert(service.name().to_owned(), service);
        }
    }

    fn change(&self, verb: Verb, name: &str) -> Result<()> {
        let found = self.find(verb, name)?;
        let op = verb
            .op()
            .ok_or_else(|| DockerError::Protocol(format!("{verb} changes no container")))?;
        let container = &found.container;
        let after = container
            .lifecycle()
            .after(op, &container.id, self.clock.now_ms())
            .map_err(DockerError::Engine)?;
        if let Some(sim) = self.world().containers.get_mut(name) {
            let started = after.started_ms != sim.container.started_ms;
            sim.container.set_lifecycle(after);
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
        let (previous, current) = cpu_window(&found, self.clock.now_ms());
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

/// The daemon's refusal of `verb`, when the scenario gives one.
fn refusal(fail: &[(Verb, String)], verb: Verb) -> Result<()> {
    match fail.iter().find(|(failing, _)| *failing == verb) {
        Some((_, message)) => Err(DockerError::Engine(message.clone())),
        None => Ok(()),
    }
}

/// Gives each of `service`'s tasks that has a container that container, in
/// its task's state, and removes the containers of tasks that are gone, as
/// the node's daemon does.
fn sync_task_containers(containers: &mut BTreeMap<String, SimContainer>, service: &SimService) {
    let model = &service.model;
    let id = &model.service.id;
    let label = |c: &SimContainer, key: &str| {
        c.container
            .labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    containers.retain(|_, c| {
        label(c, SERVICE_ID_LABEL).as_ref() != Some(id)
            || model.service.tasks.iter().any(|task| {
                task.container_id.is_some() && label(c, TASK_ID_LABEL).as_ref() == Some(&task.id)
            })
    });
    for task in &model.service.tasks {
        let Some(container_id) = &task.container_id else {
            continue;
        };
        let name = model.container_name(task);
        let running = task.state == TaskState::Running;
        let sim = containers.entry(name.clone()).or_insert_with(|| {
            let mut sim = service.task_container.clone();
            let c = &mut sim.container;
            c.id = container_id.clone();
            c.name = name.clone();
            c.image = model.service.image.clone();
            c.labels = vec![
                (NODE_ID_LABEL.to_owned(), task.node_id.clone()),
                (SERVICE_ID_LABEL.to_owned(), id.clone()),
                (SERVICE_NAME_LABEL.to_owned(), model.service.name.clone()),
                ("com.docker.swarm.task".to_owned(), String::new()),
                (TASK_ID_LABEL.to_owned(), task.id.clone()),
                ("com.docker.swarm.task.name".to_owned(), name.clone()),
            ];
            c.created_ms = task.updated_ms;
            c.started_ms = Some(task.updated_ms);
            c.finished_ms = None;
            c.status = Status::Running;
            c.running = true;
            c.exit_code = 0;
            c.restart_count = 0;
            sim
        });
        if !running && sim.container.running {
            let c = &mut sim.container;
            c.status = Status::Exited;
            c.running = false;
            c.exit_code = task.exit_code.unwrap_or(0);
            c.finished_ms = Some(task.updated_ms);
        }
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

#[async_trait]
impl Containers for Simulated {
    async fn inspect(&self, name: &str) -> Result<Container> {
        self.find(Verb::Inspect, name).map(|found| found.container)
    }

    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        self.reachable()?;
        let mut rows: Vec<(u64, Summary)> = self
            .world()
            .containers
            .values()
            .map(|found| &found.container)
            .filter(|c| all || is_up(c.status.into()))
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

#[async_trait]
impl Services for Simulated {
    async fn service(&self, name: &str) -> Result<Service> {
        self.find_service(Verb::Inspect, name)
            .map(|mut found| found.model.at(self.clock.now_ms()).clone().into())
    }

    async fn services(&self, label: Option<&str>) -> Result<Vec<ServiceSummary>> {
        self.reachable()?;
        let world = self.world();
        let services = world
            .services
            .as_ref()
            .ok_or_else(|| DockerError::Engine(NOT_A_MANAGER.to_owned()))?;
        Ok(services
            .values()
            .map(|found| found.model.summary())
            .filter(|row| label.is_none_or(|selector| label_matches(&row.labels, selector)))
            .map(ServiceSummary::from)
            .collect())
    }

    async fn scale(
        &self,
        name: &str,
        replicas: u64,
        labels: &[(String, Option<String>)],
    ) -> Result<()> {
        // As the engine does: read the service, decide, then send.
        let mut found = self.find_service(Verb::Inspect, name)?;
        let updated = found
            .model
            .scale(replicas, labels, self.clock.now_ms())
            .map_err(DockerError::Unsuitable)?;
        if !updated {
            return Ok(());
        }
        refusal(&found.fail, Verb::Scale)?;
        self.keep_service(found);
        Ok(())
    }

    async fn redeploy(&self, name: &str) -> Result<()> {
        let mut found = self.find_service(Verb::Inspect, name)?;
        refusal(&found.fail, Verb::Redeploy)?;
        found.model.redeploy(self.clock.now_ms());
        self.keep_service(found);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{TaskState, UpdateState};

    fn container(name: &str, status: Status, labels: &[(&str, &str)]) -> SimContainer {
        SimContainer {
            container: Container {
                id: format!("{name}-id"),
                name: name.to_owned(),
                image: "busybox".to_owned(),
                status,
                running: is_up(status.into()),
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

    fn swarm(services: impl IntoIterator<Item = SimService>) -> Simulated {
        Simulated::new([container("web", Status::Running, &[])]).with_services(services)
    }

    fn tasks_of(engine: &Simulated, id: &str) -> Vec<Summary> {
        let selector = format!("{SERVICE_ID_LABEL}={id}");
        block_on(engine.list(Some(&selector), false)).unwrap()
    }

    #[test]
    fn services_are_found_by_exact_name_only() {
        let engine = swarm([SimService::new("edgex_core-data", Some(1), 1_000_000)]);
        let found = block_on(engine.service("edgex_core-data")).unwrap();
        assert_eq!(found.replicas, Some(1));
        for name in ["edgex_core", &found.id, &found.id[..5], "EDGEX_CORE-DATA"] {
            assert_eq!(
                block_on(engine.service(name)),
                Err(DockerError::NoService(name.to_owned())),
                "{name}"
            );
            assert_eq!(
                block_on(engine.scale(name, 0, &[])),
                Err(DockerError::NoService(name.to_owned()))
            );
            assert_eq!(
                block_on(engine.redeploy(name)),
                Err(DockerError::NoService(name.to_owned()))
            );
        }
        assert_eq!(
            DockerError::NoService("x".into()).to_string(),
            "service x not found"
        );
    }

    #[test]
    fn a_daemon_in_no_swarm_refuses_service_calls_as_the_daemon_does() {
        let plain = Simulated::new([container("web", Status::Running, &[])]);
        let refused = Err(DockerError::Engine(NOT_A_MANAGER.to_owned()));
        assert_eq!(block_on(plain.service("web")).map(|_| ()), refused);
        assert_eq!(block_on(plain.services(None)).map(|_| ()), refused);
        assert_eq!(block_on(plain.scale("web", 1, &[])), refused);
        assert_eq!(block_on(plain.redeploy("web")), refused);
        let down = Simulated::unreachable();
        assert!(matches!(
            block_on(down.service("web")),
            Err(DockerError::Unreachable { .. })
        ));
        // A swarm with no services is still a swarm: the name is not found.
        let empty = Simulated::new([]).with_services([]);
        assert_eq!(
            block_on(empty.service("web")),
            Err(DockerError::NoService("web".into()))
        );
        assert_eq!(block_on(empty.services(None)), Ok(Vec::new()));
    }

    #[test]
    fn scaling_changes_tasks_and_their_containers() {
        let engine = swarm([SimService::new("api", Some(2), 1_000_000)]);
        let before = block_on(engine.service("api")).unwrap();
        let containers = tasks_of(&engine, &before.id);
        assert_eq!(containers.len(), 2);
        for row in &containers {
            assert!(row.name.starts_with("api."), "{}", row.name);
            assert!(
                row.labels
                    .contains(&(SERVICE_NAME_LABEL.to_owned(), "api".to_owned()))
            );
            let task = before
                .tasks
                .iter()
                .find(|t| t.container_id.as_deref() == Some(row.id.as_str()))
                .unwrap();
            assert_eq!(block_on(engine.inspect(&row.name)).unwrap().id, row.id);
            assert_eq!(task.state, TaskState::Running);
        }
        // The plain container is not one of the service's.
        assert_eq!(block_on(engine.list(None, false)).unwrap().len(), 3);

        let notes = [("sme.note.replicas".to_owned(), Some("2".to_owned()))];
        block_on(engine.scale("api", 0, &notes)).unwrap();
        let stopped = block_on(engine.service("api")).unwrap();
        assert_eq!(
            (
                stopped.replicas,
                stopped.running_tasks,
                stopped.desired_tasks
            ),
            (Some(0), 0, 0)
        );
        assert!(stopped.version > before.version);
        assert_eq!(stopped.labels, [("sme.note.replicas".into(), "2".into())]);
        assert!(tasks_of(&engine, &before.id).is_empty());
        assert_eq!(
            engine.containers().len(),
            1,
            "scaled-down tasks' containers go"
        );

        block_on(engine.scale("api", 3, &[("sme.note.replicas".into(), None)])).unwrap();
        let started = block_on(engine.service("api")).unwrap();
        assert_eq!((started.running_tasks, started.desired_tasks), (3, 3));
        assert!(started.labels.is_empty());
        assert_eq!(tasks_of(&engine, &before.id).len(), 3);
        assert_eq!(
            Service::from(engine.service_states()["api"].model.service.clone()),
            started,
            "what the scenario's expectations read"
        );
    }

    #[test]
    fn scaling_to_the_current_count_sends_nothing() {
        let engine = swarm([SimService::new("api", Some(1), 1_000_000)]);
        let before = block_on(engine.service("api")).unwrap();
        block_on(engine.scale("api", 1, &[])).unwrap();
        assert_eq!(block_on(engine.service("api")).unwrap(), before);
        // Nothing is sent, so a refusal of the update is never met.
        let mut refusing = SimService::new("api", Some(1), 1_000_000);
        refusing
            .fail
            .push((Verb::Scale, "rpc error: update out of sequence".into()));
        let engine = swarm([refusing]);
        assert_eq!(block_on(engine.scale("api", 1, &[])), Ok(()));
        assert_eq!(
            block_on(engine.scale("api", 2, &[])),
            Err(DockerError::Engine(
                "rpc error: update out of sequence".into()
            ))
        );
        assert_eq!(block_on(engine.service("api")).unwrap().replicas, Some(1));
    }

    #[test]
    fn a_global_service_cannot_be_scaled_but_can_be_redeployed() {
        let engine = swarm([SimService::new("agent", None, 1_000_000)]);
        let answer = block_on(engine.scale("agent", 2, &[]));
        assert!(
            matches!(&answer, Err(DockerError::Unsuitable(m)) if m.starts_with("service agent is global")),
            "{answer:?}"
        );
        let before = block_on(engine.service("agent")).unwrap();
        assert_eq!((before.replicas, before.desired_tasks), (None, 1));
        block_on(engine.redeploy("agent")).unwrap();
        let after = block_on(engine.service("agent")).unwrap();
        assert_eq!(after.update_state, UpdateState::Completed);
        assert_eq!((after.running_tasks, after.tasks.len()), (1, 2));
        // The old task's container stays, exited; only the new one runs.
        assert_eq!(tasks_of(&engine, &after.id).len(), 1);
        let all = block_on(engine.list(Some(&format!("{SERVICE_ID_LABEL}={}", after.id)), true));
        assert_eq!(all.unwrap().len(), 2);
    }

    #[test]
    fn a_redeploy_replaces_running_tasks_with_new_containers() {
        let engine = swarm([SimService::new("api", Some(2), 1_000_000)]);
        let before = block_on(engine.service("api")).unwrap();
        let old: Vec<String> = tasks_of(&engine, &before.id)
            .into_iter()
            .map(|r| r.id)
            .collect();
        block_on(engine.redeploy("api")).unwrap();
        let after = block_on(engine.service("api")).unwrap();
        assert!(after.version > before.version);
        assert_eq!(
            (after.update_state, after.update_message.as_str()),
            (UpdateState::Completed, "update completed")
        );
        let new: Vec<String> = tasks_of(&engine, &after.id)
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(new.len(), 2);
        assert!(new.iter().all(|id| !old.contains(id)));
        for id in &old {
            let stopped = engine
                .containers()
                .into_values()
                .find(|c| &c.container.id == id)
                .unwrap();
            assert_eq!(stopped.container.status, Status::Exited);
        }
    }

    #[test]
    fn a_failing_service_has_failed_tasks_and_no_running_one() {
        let mut bad = SimService::new("bad", Some(1), 1_000_000);
        bad.model.fail_tasks(crate::sim::Failure::exit(2));
        let engine = swarm([bad]);
        let service = block_on(engine.service("bad")).unwrap();
        assert_eq!((service.running_tasks, service.desired_tasks), (0, 1));
        let failed = service
            .tasks
            .iter()
            .find(|t| t.state == TaskState::Failed)
            .unwrap();
        assert_eq!(failed.err.as_deref(), Some("task: non-zero exit (2)"));
        assert!(tasks_of(&engine, &service.id).is_empty());
        let exited = engine
            .containers()
            .into_values()
            .find(|c| Some(&c.container.id) == failed.container_id.as_ref())
            .unwrap();
        assert_eq!(
            (exited.container.status, exited.container.exit_code),
            (Status::Exited, 2)
        );
        block_on(engine.scale("bad", 2, &[])).unwrap();
        assert_eq!(block_on(engine.service("bad")).unwrap().running_tasks, 0);
        block_on(engine.redeploy("bad")).unwrap();
        let paused = block_on(engine.service("bad")).unwrap();
        assert_eq!(paused.update_state, UpdateState::Paused);
        assert!(
            paused
                .update_message
                .starts_with("update paused due to failure or early termination of task ")
        );
    }

    #[test]
    fn task_containers_report_the_services_figures_and_listings_filter_labels() {
        let mut api = SimService::new("api", Some(2), 1_000_000);
        api.task_container.cpu_percent = 4.0;
        api.task_container.memory_usage = 1000;
        api.model.service.labels = vec![("tier".into(), "edge".into())];
        let mut refused = SimService::new("db", Some(1), 1_000_000);
        refused
            .task_container
            .fail
            .push((Verb::Stats, "no stats here".into()));
        let engine = swarm([api, refused]);
        let id = block_on(engine.service("api")).unwrap().id;
        for row in tasks_of(&engine, &id) {
            let (_, stats) = block_on(engine.measure(&row.name)).unwrap();
            assert_eq!(stats.id, row.id);
            assert_eq!(stats.sample.memory_usage, 1000);
        }
        let db = block_on(engine.service("db")).unwrap().id;
        let row = &tasks_of(&engine, &db)[0];
        assert_eq!(
            block_on(engine.measure(&row.name)).map(|_| ()),
            Err(DockerError::Engine("no stats here".into()))
        );
        let names =
            |rows: Vec<ServiceSummary>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(block_on(engine.services(None)).unwrap()),
            ["api", "db"]
        );
        assert_eq!(
            names(block_on(engine.services(Some("tier=edge"))).unwrap()),
            ["api"]
        );
        assert!(
            block_on(engine.services(Some("tier=core")))
                .unwrap()
                .is_empty()
        );
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
