//! The fake host behind one thread's host calls: the containers and
//! services of the installed [`Scene`](super::Scene) and everything the
//! policy did to them.

use std::collections::{BTreeMap, HashMap, HashSet};

use sme_model::Op;
use sme_model::lifecycle::{self, is_up};
use sme_model::names;
use sme_model::state::{self, Bounds};

use super::swarm::{SwarmFixture, TaskStats};
use super::units::{UnitBuilder, UnitFixture};
use super::verb::Verb;
use super::{ContainerBuilder, NOW_MS, ServiceBuilder};
use crate::Error;
use crate::containers::{Container, Filter, Health, Status, Summary};
use crate::log::Level;
use crate::services::{self, Service, TaskMeasurement};
use crate::stats::{CpuReading, Measurement, Sample};

/// What `services::target` answers: the runtime's `[swarm] mode`.
#[derive(Debug, Clone, Default)]
pub(crate) enum SwarmTarget {
    /// Containers only: none, without a call.
    #[default]
    Off,
    /// Always this service, without a call.
    On(String),
    /// This service when the scene has it, after inspecting it.
    Auto(String),
}

/// CPUs the fake host has online.
const ONLINE_CPUS: u32 = 2;
/// How far apart the two readings of a measurement are, in nanoseconds.
const READING_GAP_NS: u64 = 1_000_000_000;
/// Where the CPU counters of the earlier reading stand: any values do, as
/// only the deltas count; these look like a host up for a while.
const TOTAL_BASE_NS: u64 = 40_000_000_000;
const SYSTEM_BASE_NS: u64 = 9_000_000_000_000_000;

/// One container of the scene and how the fake answers for it.
#[derive(Clone)]
pub(crate) struct Fixture {
    pub(crate) container: Container,
    pub(crate) stop_timeout: Option<u32>,
    pub(crate) cpu_percent: f64,
    pub(crate) memory_usage: u64,
    pub(crate) memory_limit: u64,
    pub(crate) failures: HashMap<Verb, String>,
    pub(crate) health_after_start: Option<Health>,
}

pub(crate) struct World {
    /// The module's kept values (`state`), and what it may keep.
    pub(crate) kept: BTreeMap<String, String>,
    pub(crate) bounds: Bounds,
    /// The scene's budgets (effect, max, period in ms) and what each
    /// object spent of each effect, by (name, effect).
    pub(crate) budgets: Vec<(&'static str, u32, u64)>,
    pub(crate) spent: BTreeMap<(String, String), Vec<u64>>,
    fixtures: Vec<Fixture>,
    services: Vec<SwarmFixture>,
    swarm: SwarmTarget,
    pub(crate) units: Vec<UnitFixture>,
    /// What `systemd::target` answers: the runtime's `[systemd] mode`.
    pub(crate) systemd: SwarmTarget,
    settings: HashMap<String, String>,
    pub(crate) denied: HashSet<(Verb, String)>,
    pub(crate) calls: Vec<String>,
    pub(crate) timeouts: Vec<(String, Option<u32>)>,
    pub(crate) logs: Vec<(Level, String)>,
    pub(crate) now_ms: u64,
}

impl World {
    pub(crate) fn new(
        containers: Vec<ContainerBuilder>,
        services: Vec<ServiceBuilder>,
        swarm: SwarmTarget,
        (units, systemd): (Vec<UnitBuilder>, SwarmTarget),
        settings: HashMap<String, String>,
        denied: HashSet<(Verb, String)>,
    ) -> World {
        World {
            kept: BTreeMap::new(),
            bounds: DEFAULT_BOUNDS,
            budgets: Vec::new(),
            spent: BTreeMap::new(),
            fixtures: containers
                .into_iter()
                .map(ContainerBuilder::build)
                .collect(),
            services: services.into_iter().map(ServiceBuilder::build).collect(),
            swarm,
            units: units.into_iter().map(|unit| unit.build(NOW_MS)).collect(),
            systemd,
            settings,
            denied,
            calls: Vec::new(),
            timeouts: Vec::new(),
            logs: Vec::new(),
            now_ms: NOW_MS,
        }
    }

    pub(crate) fn container(&self, name: &str) -> Option<&Container> {
        self.fixtures
            .iter()
            .map(|fixture| &fixture.container)
            .find(|container| container.name == name)
    }

    /// Records the call and answers the gate's denial, if the scene denies
    /// it.
    pub(crate) fn admit(&mut self, verb: Verb, name: &str) -> Result<(), Error> {
        let effect = match verb.name() {
            "redeploy" => Some("restart"),
            "start" | "stop" | "restart" | "pause" | "unpause" => Some(verb.name()),
            _ => None,
        };
        self.admit_spending(verb, name, effect)
    }

    /// [`World::admit`] for a change that spends `effect` (scale to 0
    /// spends `stop`), checked against the scene's budgets as the runtime
    /// checks its own: past one, the call is listed with ` limit` and
    /// answered [`Error::LimitExceeded`].
    pub(crate) fn admit_spending(
        &mut self,
        verb: Verb,
        name: &str,
        effect: Option<&'static str>,
    ) -> Result<(), Error> {
        let denied = self.denied.contains(&(verb, name.to_owned()));
        let verb_name = verb.name();
        self.calls.push(if denied {
            format!("{verb_name} {name} denied")
        } else {
            format!("{verb_name} {name}")
        });
        if denied {
            return Err(Error::Denied(format!(
                "module under test may not {verb_name} {name}: the test's scene denies it"
            )));
        }
        let Some(effect) = effect else {
            return Ok(());
        };
        let spent = self
            .spent
            .entry((name.to_owned(), effect.to_owned()))
            .or_default();
        for &(of, max, per_ms) in &self.budgets {
            if of != effect {
                continue;
            }
            if let Some(next_ms) = sme_model::budget::next_allowed(max, per_ms, spent, self.now_ms)
            {
                if let Some(call) = self.calls.last_mut() {
                    call.push_str(" limit");
                }
                return Err(Error::LimitExceeded(format!(
                    "module under test may not {verb_name} {name} now: budget {effect} ({max} per \
                     {per_ms} ms) is spent for {name}; the next {effect} is allowed at {next_ms} ms"
                )));
            }
        }
        spent.push(self.now_ms);
        Ok(())
    }

    /// Records the call and answers what the gate and the daemon would
    /// answer before the verb itself: a denial, a missing container, a
    /// failure the scene asked for.
    fn reach(&mut self, verb: Verb, name: &str) -> Result<&mut Fixture, Error> {
        self.admit(verb, name)?;
        let fixture = self
            .fixtures
            .iter_mut()
            .find(|fixture| fixture.container.name == name)
            .ok_or_else(|| Error::NotFound(format!("No such container: {name}")))?;
        match fixture.failures.get(&verb) {
            Some(message) => Err(Error::Docker(message.clone())),
            None => Ok(fixture),
        }
    }

    pub(crate) fn inspect(&mut self, name: &str) -> Result<Container, Error> {
        Ok(self.reach(Verb::INSPECT, name)?.container.clone())
    }

    pub(crate) fn stop_timeout(&mut self, name: &str) -> Result<Option<u32>, Error> {
        // Part of what `docker inspect` shows, so the runtime checks and
        // lists it as an `inspect`.
        Ok(self.reach(Verb::INSPECT, name)?.stop_timeout)
    }

    pub(crate) fn list(&mut self, filter: &Filter) -> Result<Vec<Summary>, Error> {
        self.calls.push("list".to_owned());
        check_pattern(filter.name.as_deref())?;
        Ok(self
            .fixtures
            .iter()
            .map(|fixture| &fixture.container)
            .filter(|c| filter.all || is_up(c.status.into()))
            .filter(|c| {
                filter
                    .name
                    .as_deref()
                    .is_none_or(|p| names::matches(p, &c.name))
            })
            .filter(|c| {
                filter
                    .label
                    .as_deref()
                    .is_none_or(|l| names::label_matches(&c.labels, l))
            })
            // The gate shows a module only the containers it may list.
            .filter(|c| !self.denied.contains(&(Verb::LIST, c.name.clone())))
            .map(|c| Summary {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image.clone(),
                status: c.status,
                labels: c.labels.clone(),
            })
            .collect())
    }

    pub(crate) fn lifecycle(
        &mut self,
        verb: &str,
        name: &str,
        timeout_seconds: Option<u32>,
    ) -> Result<(), Error> {
        let verb = Verb::named(verb);
        let Some(op) = verb.op() else {
            panic!("sme_guest::testing: {} changes no container", verb.name());
        };
        if matches!(op, Op::Stop | Op::Restart) {
            self.timeouts
                .push((format!("{} {name}", verb.name()), timeout_seconds));
        }
        let now_ms = self.now_ms;
        let fixture = self.reach(verb, name)?;
        let started_before = fixture.container.started_ms;
        lifecycle::apply(op, &mut fixture.container, now_ms).map_err(Error::Docker)?;
        // A (re)start runs no health check here: `starting`, as Docker says
        // until the first check, unless the builder says what it would find.
        if fixture.container.started_ms != started_before
            && let Some(health) = fixture.health_after_start
        {
            fixture.container.health = health;
        }
        Ok(())
    }

    pub(crate) fn one_shot(&mut self, name: &str) -> Result<Sample, Error> {
        let now_ns = self.now_ms * 1_000_000;
        let fixture = self.reach(Verb::STATS, name)?;
        Ok(readings(fixture, now_ns).1)
    }

    pub(crate) fn measure(&mut self, name: &str) -> Result<Measurement, Error> {
        let now_ns = self.now_ms * 1_000_000;
        let fixture = self.reach(Verb::STATS, name)?;
        let (previous, current) = readings(fixture, now_ns);
        Ok(Measurement {
            previous: Some(previous),
            current,
        })
    }

    pub(crate) fn swarm_target(&mut self) -> Result<Option<String>, Error> {
        match self.swarm.clone() {
            SwarmTarget::Off => Ok(None),
            SwarmTarget::On(name) => Ok(Some(name)),
            SwarmTarget::Auto(name) => {
                // The runtime asks under the `inspect` grant; no such
                // service means the request is about a container.
                match self.reach_service(Verb::INSPECT, &name) {
                    Ok(_) => Ok(Some(name)),
                    Err(Error::NotFound(_)) => Ok(None),
                    Err(other) => Err(other),
                }
            }
        }
    }

    /// The service `name` of the scene, or the daemon's answer when there
    /// is none or the scene makes `verb` fail on it.
    fn service_fixture(&mut self, verb: Verb, name: &str) -> Result<&mut SwarmFixture, Error> {
        let fixture = self
            .services
            .iter_mut()
            .find(|fixture| fixture.name() == name)
            .ok_or_else(|| Error::NotFound(format!("service {name} not found")))?;
        match fixture.failures.get(&verb) {
            Some(message) => Err(Error::Docker(message.clone())),
            None => Ok(fixture),
        }
    }

    /// [`Self::reach`] for a service.
    fn reach_service(&mut self, verb: Verb, name: &str) -> Result<&mut SwarmFixture, Error> {
        self.admit(verb, name)?;
        self.service_fixture(verb, name)
    }

    pub(crate) fn service(&mut self, name: &str) -> Result<Service, Error> {
        let now_ms = self.now_ms;
        Ok(self.reach_service(Verb::INSPECT, name)?.shown(now_ms))
    }

    pub(crate) fn service_now(&mut self, name: &str) -> Option<Service> {
        let now_ms = self.now_ms;
        self.services
            .iter_mut()
            .find(|fixture| fixture.name() == name)
            .map(|fixture| fixture.shown(now_ms))
    }

    pub(crate) fn services(
        &mut self,
        filter: &services::Filter,
    ) -> Result<Vec<services::Summary>, Error> {
        self.calls.push("list".to_owned());
        check_pattern(filter.name.as_deref())?;
        Ok(self
            .services
            .iter()
            .filter(|s| {
                filter
                    .name
                    .as_deref()
                    .is_none_or(|p| names::matches(p, s.name()))
            })
            .filter(|s| {
                filter
                    .label
                    .as_deref()
                    .is_none_or(|l| names::label_matches(s.labels(), l))
            })
            // The gate shows a module only the services it may list.
            .filter(|s| !self.denied.contains(&(Verb::LIST, s.name().to_owned())))
            .map(SwarmFixture::summary)
            .collect())
    }

    pub(crate) fn scale(
        &mut self,
        name: &str,
        replicas: u64,
        notes: &[(String, Option<String>)],
    ) -> Result<(), Error> {
        let now_ms = self.now_ms;
        // The runtime checks the notes once the gate admits the call, before
        // asking the daemon anything.
        let effect = if replicas == 0 { "stop" } else { "scale" };
        self.admit_spending(Verb::SCALE, name, Some(effect))?;
        let labels = sme_model::notes::note_labels(notes).map_err(Error::InvalidArgument)?;
        self.service_fixture(Verb::SCALE, name)?
            .scale(replicas, &labels, now_ms)
            .map_err(Error::InvalidArgument)
    }

    pub(crate) fn redeploy(&mut self, name: &str) -> Result<(), Error> {
        let now_ms = self.now_ms;
        self.reach_service(Verb::REDEPLOY, name)?.redeploy(now_ms);
        Ok(())
    }

    pub(crate) fn task_stats(&mut self, name: &str) -> Result<Vec<TaskMeasurement>, Error> {
        let now_ms = self.now_ms;
        let tasks = self.reach_service(Verb::STATS, name)?.local_running(now_ms);
        Ok(tasks
            .into_iter()
            .map(|(task_id, container, stats)| {
                let (previous, current) = task_readings(&stats, now_ms * 1_000_000);
                TaskMeasurement {
                    task_id,
                    container,
                    measurement: Measurement {
                        previous: Some(previous),
                        current,
                    },
                }
            })
            .collect())
    }

    pub(crate) fn setting(&self, key: &str) -> Option<String> {
        self.settings.get(key).cloned()
    }

    pub(crate) fn log(&mut self, level: Level, message: &str) {
        self.logs.push((level, message.to_owned()));
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Moves the clock on by `millis`, as a wait of the host does.
    pub(crate) fn advance(&mut self, millis: u32) {
        self.now_ms += u64::from(millis);
    }

    pub(crate) fn sleep(&mut self, millis: u32) -> Result<(), Error> {
        self.now_ms += u64::from(millis);
        Ok(())
    }

    pub(crate) fn state_get(&self, key: &str) -> Result<Option<String>, Error> {
        state::check_key(key).map_err(Error::InvalidArgument)?;
        Ok(self.kept.get(key).cloned())
    }

    pub(crate) fn state_keys(&self) -> Vec<String> {
        self.kept.keys().cloned().collect()
    }

    pub(crate) fn compare_and_set(
        &mut self,
        key: &str,
        expected: Option<&str>,
        value: Option<&str>,
    ) -> Result<bool, Error> {
        state::check_key(key).map_err(Error::InvalidArgument)?;
        if self.kept.get(key).map(String::as_str) != expected {
            return Ok(false);
        }
        state::write(&mut self.kept, key, value, self.bounds)
            .map_err(|refusal| Error::LimitExceeded(refusal.message("policy", key)))?;
        Ok(true)
    }
}

/// What a module may keep by default: the runtime's `state_keys` (16) and
/// `state_kib` (4).
pub(crate) const DEFAULT_BOUNDS: Bounds = Bounds {
    keys: 16,
    bytes: 4 << 10,
};

/// Two readings a second apart from which `docker stats` arithmetic gives
/// back the fixture's CPU % and memory. A container that is not running
/// reports zero counters, as Docker does; a paused one keeps its memory but
/// uses no CPU.
fn readings(fixture: &Fixture, now_ns: u64) -> (CpuReading, Sample) {
    let status = fixture.container.status;
    if !is_up(status.into()) {
        let zero = CpuReading {
            read_ns: 0,
            total_ns: 0,
            system_ns: 0,
            online_cpus: 0,
        };
        return (zero, sample(zero, 0, 0, 0));
    }
    let cpu_percent = if status == Status::Paused {
        0.0
    } else {
        fixture.cpu_percent
    };
    let (previous, current) = cpu_readings(cpu_percent, now_ns);
    let memory = sample(current, fixture.memory_usage, fixture.memory_limit, 1);
    (previous, memory)
}

/// Two readings a second apart from which `docker stats` arithmetic gives
/// back a task's figures.
fn task_readings(stats: &TaskStats, now_ns: u64) -> (CpuReading, Sample) {
    let (previous, current) = cpu_readings(stats.cpu_percent, now_ns);
    let sample = Sample {
        network_rx: stats.network_rx,
        network_tx: stats.network_tx,
        block_read: stats.block_read,
        block_write: stats.block_write,
        ..sample(current, stats.memory_usage, stats.memory_limit, stats.pids)
    };
    (previous, sample)
}

/// Two CPU readings a second apart that measure `cpu_percent`.
fn cpu_readings(cpu_percent: f64, now_ns: u64) -> (CpuReading, CpuReading) {
    let system_delta = READING_GAP_NS * u64::from(ONLINE_CPUS);
    // cpu % = cpu_delta / system_delta * online_cpus * 100.
    let cpu_delta = (cpu_percent.max(0.0) / 100.0 * system_delta as f64 / f64::from(ONLINE_CPUS))
        .round() as u64;
    let previous = CpuReading {
        read_ns: now_ns - READING_GAP_NS,
        total_ns: TOTAL_BASE_NS,
        system_ns: SYSTEM_BASE_NS,
        online_cpus: ONLINE_CPUS,
    };
    let current = CpuReading {
        read_ns: now_ns,
        total_ns: TOTAL_BASE_NS + cpu_delta,
        system_ns: SYSTEM_BASE_NS + system_delta,
        online_cpus: ONLINE_CPUS,
    };
    (previous, current)
}

fn sample(cpu: CpuReading, memory_usage: u64, memory_limit: u64, pids: u64) -> Sample {
    Sample {
        cpu,
        memory_usage,
        memory_limit,
        total_inactive_file: None,
        // cgroup v2, with no page cache to subtract.
        inactive_file: (pids > 0).then_some(0),
        network_rx: 0,
        network_tx: 0,
        block_read: 0,
        block_write: 0,
        pids,
    }
}

/// Refuses a listing's name pattern as the host refuses it.
fn check_pattern(pattern: Option<&str>) -> Result<(), Error> {
    match pattern {
        Some(pattern) if !names::valid_pattern(pattern) => {
            Err(Error::InvalidArgument(names::bad_pattern(pattern)))
        }
        _ => Ok(()),
    }
}
