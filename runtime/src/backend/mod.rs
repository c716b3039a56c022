//! The engines SME drives for a policy, behind one trait per kind of
//! object: [`Containers`] and [`Services`] (Swarm), answered today by the
//! Docker Engine ([`docker`]) and by whatever wraps it (the recording, the
//! simulation and the dry run in `crate::sim`). [`connect`] is the one place
//! the engines a configuration names are made, and [`Backends`] is what the
//! rest of the runtime holds: one engine per kind. The gate asks it for an
//! object's labels in the terms of [`Kind`], whatever the engine.
//!
//! A new kind of object is a trait here, a field of [`Backends`] and a
//! [`Kind`]; a new engine is a folder beside `docker/` that implements the
//! traits of the kinds it has, and one arm in [`connect`].

pub mod docker;
pub mod recording;
pub mod systemd;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::contract::{Container, CpuReading, Sample, Service, ServiceSummary, Summary};
use docker::cgroup::Roots;
use docker::{Engine, Result, Stats};

/// The kinds of object a policy acts on, in terms no engine owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A container.
    Container,
    /// A Swarm service.
    Service,
    /// A systemd unit.
    Unit,
}

impl Kind {
    /// Its name in audit lines and messages (`containers`, `services`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Container => "containers",
            Kind::Service => "services",
            Kind::Unit => "units",
        }
    }
}

/// An object's labels, as `(key, value)` pairs.
pub type Labels = Vec<(String, String)>;

/// The container operations the host capabilities use. Names are validated
/// container names; implementations address containers by exact name only.
#[async_trait]
pub trait Containers: Send + Sync + std::fmt::Debug {
    /// `GET /containers/{name}/json`.
    async fn inspect(&self, name: &str) -> Result<Container>;
    /// `GET /containers/json`, optionally filtered by a label selector.
    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>>;
    /// `Config.StopTimeout` of `GET /containers/{name}/json`: the container's
    /// own grace period in seconds, none when it uses the daemon's default.
    async fn stop_timeout(&self, name: &str) -> Result<Option<u32>>;
    /// `POST /containers/{name}/start`.
    async fn start(&self, name: &str) -> Result<()>;
    /// `POST /containers/{name}/stop`.
    async fn stop(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()>;
    /// `POST /containers/{name}/restart`.
    async fn restart(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()>;
    /// `POST /containers/{name}/pause`.
    async fn pause(&self, name: &str) -> Result<()>;
    /// `POST /containers/{name}/unpause`.
    async fn unpause(&self, name: &str) -> Result<()>;
    /// `GET /containers/{name}/stats?stream=false&one-shot=true`: answers at once.
    async fn one_shot(&self, name: &str) -> Result<Stats>;
    /// `GET /containers/{name}/stats?stream=false`: waits for the daemon's
    /// next collection and returns its previous CPU reading with it.
    async fn measure(&self, name: &str) -> Result<(Option<CpuReading>, Stats)>;
    /// The container's counters read where the engine's own collector
    /// reads them (its cgroup), at once; `None` when this engine cannot
    /// see them from here, and the stats calls above must answer instead.
    async fn counters(&self, name: &str) -> Result<Option<Counters>> {
        let _ = name;
        Ok(None)
    }
}

/// Counters a [`Containers`] engine read itself rather than through its
/// stats API.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// The full container ID (stable across renames, new on re-creation).
    pub id: String,
    /// The counters.
    pub sample: Sample,
    /// Whether the network counters are in `sample` (0 when not).
    pub network: bool,
    /// Whether the container is paused (its CPU counter stands still).
    pub paused: bool,
    /// When it last started (ms since the epoch), if known: a network
    /// namespace's counters start from 0 then. Absent in recordings made
    /// before it was kept.
    #[serde(default)]
    pub started_ms: Option<u64>,
}

/// The systemd unit operations (see docs/systemd.md). Names are checked
/// unit names ([`systemd::unit_name`]); a start, stop or restart answers
/// once systemd's job is gone, with its result and the unit's end state.
#[async_trait]
pub trait Units: Send + Sync + std::fmt::Debug {
    /// The unit's state (`LoadUnit`, then its properties); a unit systemd
    /// cannot find is not found.
    async fn unit(&self, name: &str) -> systemd::Result<systemd::Unit>;
    /// The loaded units whose names match a shell-style `pattern`
    /// (`ListUnitsByPatterns`), by name.
    async fn units(&self, pattern: &str) -> systemd::Result<Vec<systemd::Unit>>;
    /// `StartUnit`, waiting for its job.
    async fn start(&self, name: &str) -> systemd::Result<systemd::Job>;
    /// `StopUnit`, waiting for its job; past `kill_after`, `KillUnit` of
    /// all its processes with SIGKILL, and the wait goes on.
    async fn stop(&self, name: &str, kill_after: Option<Duration>)
    -> systemd::Result<systemd::Job>;
    /// `RestartUnit`, waiting for its job; `kill_after` as for a stop.
    async fn restart(
        &self,
        name: &str,
        kill_after: Option<Duration>,
    ) -> systemd::Result<systemd::Job>;
    /// `KillUnit` of all its processes with `signal`.
    async fn kill(&self, name: &str, signal: i32) -> systemd::Result<()>;
    /// The unit's resource counters systemd accounts.
    async fn stats(&self, name: &str) -> systemd::Result<systemd::UnitStats>;
}

/// The Swarm service operations (see docs/swarm.md). Names are validated
/// service names, addressed exactly: a name that only prefixes an ID is not
/// found.
#[async_trait]
pub trait Services: Send + Sync + std::fmt::Debug {
    /// `GET /services/{name}` and `GET /tasks?filters={"service":[id]}`.
    async fn service(&self, name: &str) -> Result<Service>;
    /// `GET /services`, optionally filtered by a label selector.
    async fn services(&self, label: Option<&str>) -> Result<Vec<ServiceSummary>>;
    /// `POST /services/{id}/update`: sets a replicated service's replica
    /// count and labels (a `None` value removes the label) in one update,
    /// read and written again when another update came in between.
    async fn scale(
        &self,
        name: &str,
        replicas: u64,
        labels: &[(String, Option<String>)],
    ) -> Result<()>;
    /// `POST /services/{id}/update` with `TaskTemplate.ForceUpdate` raised by
    /// one: replaces every task with the service's update settings.
    async fn redeploy(&self, name: &str) -> Result<()>;
}

/// The engine for each kind of object: what a run's host capabilities and
/// its gate hold. Cloning it clones handles, not engines.
#[derive(Debug, Clone)]
pub struct Backends {
    /// Answers container calls.
    pub containers: Arc<dyn Containers>,
    /// Answers Swarm service calls.
    pub services: Arc<dyn Services>,
    /// Answers systemd unit calls.
    pub units: Arc<dyn Units>,
}

impl Backends {
    /// One engine for containers and services (the Docker Engine has
    /// both), and no systemd.
    pub fn of<E: Containers + Services + 'static>(engine: Arc<E>) -> Backends {
        Backends {
            containers: engine.clone(),
            services: engine,
            units: Arc::new(systemd::Off),
        }
    }

    /// These engines, with `units` answering unit calls.
    pub fn with_units(self, units: Arc<dyn Units>) -> Backends {
        Backends { units, ..self }
    }

    /// The labels of an object of kind `kind`: what label grants select on.
    pub async fn labels(&self, kind: Kind, name: &str) -> Result<Labels> {
        match kind {
            Kind::Container => self.containers.inspect(name).await.map(|c| c.labels),
            Kind::Service => self.services.service(name).await.map(|s| s.labels),
            // Units have none: a label grant selects no unit.
            Kind::Unit => Ok(Labels::new()),
        }
    }
}

/// The engines a configuration names: the Docker Engine at `docker_host`
/// (its `docker_host`), reading containers' counters under `roots` (its
/// `cgroup_root` and `host_proc`), and systemd on the bus at `systemd_bus`
/// when `[systemd]` is not off (connected to by the first unit call).
pub fn connect(docker_host: &str, roots: Roots, systemd_bus: Option<&str>) -> Result<Backends> {
    let engine = Engine::connect(docker_host)?.reading(roots);
    let backends = Backends::of(Arc::new(engine));
    Ok(match systemd_bus {
        Some(bus) => backends.with_units(Arc::new(systemd::Lazy::new(bus))),
        None => backends,
    })
}
