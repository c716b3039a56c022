//! systemd units in a [`Scene`](super::Scene): what `systemd::*` answers,
//! changed by the same rules as the runtime's simulated units
//! (`sme_model::units`).

use sme_model::names;
use sme_model::units::{Behaviour, UnitModel};

use super::verb::Verb;
use super::world::{SwarmTarget, World};
use crate::systemd::{CpuTime, Error, Job, Measurement, Refusal, Unit, UnitStats};

/// systemd's own bound on a unit's stop before its SIGKILL, when the unit
/// sets none (`DefaultTimeoutStopSec`).
pub const TIMEOUT_STOP_MS: u32 = 90_000;

/// The signal a stop past its bound sends.
const SIGKILL: i32 = 9;

/// A unit for a [`Scene`](super::Scene), named `name` (a unit name such as
/// `snap.edgexfoundry.core-data.service`): loaded, active and running, its
/// process exiting on SIGTERM, 0 % CPU, no memory and one task.
///
/// ```
/// use sme_guest::systemd;
/// use sme_guest::testing::{self, Scene};
/// Scene::new()
///     .unit(testing::unit("edgex-core-data.service").inactive())
///     .unit(testing::unit("edgex-ui.service").fails())
///     .unit(testing::unit("edgex-redis.service").masked())
///     .install();
/// assert_eq!(systemd::inspect("edgex-core-data.service")?.active_state, "inactive");
/// assert_eq!(systemd::start("edgex-ui.service")?.unit.result, "exit-code");
/// assert_eq!(
///     systemd::start("edgex-redis.service").unwrap_err().message(),
///     "org.freedesktop.systemd1.UnitMasked: Unit edgex-redis.service is masked."
/// );
/// # Ok::<(), sme_guest::systemd::Error>(())
/// ```
pub fn unit(name: &str) -> UnitBuilder {
    UnitBuilder {
        name: name.to_owned(),
        behaviour: Behaviour::Runs,
        masked: false,
        active: true,
        ignores_sigterm: false,
        cpu_percent: 0.0,
        memory_bytes: 0,
        tasks: 1,
    }
}

/// One unit of a [`Scene`](super::Scene), made by [`unit`].
#[derive(Clone)]
pub struct UnitBuilder {
    pub(crate) name: String,
    behaviour: Behaviour,
    masked: bool,
    active: bool,
    ignores_sigterm: bool,
    cpu_percent: f64,
    memory_bytes: u64,
    tasks: u64,
}

impl UnitBuilder {
    /// Not started: loaded, `inactive` (`dead`).
    pub fn inactive(mut self) -> UnitBuilder {
        self.active = false;
        self
    }

    /// Its process exits with an error as it starts (a failing
    /// `Type=oneshot` unit): a start leaves it `failed` with `exit-code`.
    /// Inactive, as such a unit is before any start.
    pub fn fails(mut self) -> UnitBuilder {
        self.behaviour = Behaviour::Fails;
        self.active = false;
        self
    }

    /// Masked: systemd refuses to start it, in its words. Inactive.
    pub fn masked(mut self) -> UnitBuilder {
        self.masked = true;
        self.active = false;
        self
    }

    /// Its process ignores SIGTERM: a stop lasts until systemd's SIGKILL,
    /// after the stop's bound (`kill_after_ms`) or else
    /// [`TIMEOUT_STOP_MS`], moving the scene's clock on by that much, and
    /// leaves the unit `failed` with `signal`.
    pub fn ignores_sigterm(mut self) -> UnitBuilder {
        self.ignores_sigterm = true;
        self
    }

    /// The CPU it uses while running, in percent of one CPU.
    pub fn cpu_percent(mut self, percent: f64) -> UnitBuilder {
        self.cpu_percent = percent;
        self
    }

    /// The memory it uses while running, in bytes.
    pub fn memory(mut self, bytes: u64) -> UnitBuilder {
        self.memory_bytes = bytes;
        self
    }

    /// Its tasks (processes and threads) while running.
    pub fn tasks(mut self, tasks: u64) -> UnitBuilder {
        self.tasks = tasks;
        self
    }

    pub(crate) fn build(self, now_ms: u64) -> UnitFixture {
        let mut model = UnitModel::new(&self.name, self.behaviour, self.masked);
        if self.active {
            // Already running when the test starts, as a started unit is.
            let _ = model.start();
        }
        UnitFixture {
            model,
            ignores_sigterm: self.ignores_sigterm,
            cpu_percent: self.cpu_percent,
            memory_bytes: self.memory_bytes,
            tasks: self.tasks,
            since_ms: self.active.then_some(now_ms),
        }
    }
}

/// A unit of the scene and its figures.
#[derive(Clone)]
pub(crate) struct UnitFixture {
    model: UnitModel,
    ignores_sigterm: bool,
    cpu_percent: f64,
    memory_bytes: u64,
    tasks: u64,
    since_ms: Option<u64>,
}

impl UnitFixture {
    pub(crate) fn name(&self) -> &str {
        &self.model.name
    }

    pub(crate) fn shown(&self) -> Unit {
        let state = self.model.state();
        Unit {
            name: self.model.name.clone(),
            load_state: state.load_state.to_owned(),
            active_state: state.active_state.to_owned(),
            sub_state: state.sub_state.to_owned(),
            result: state.result.to_owned(),
            main_pid: if state.running { 4242 } else { 0 },
            since_ms: self.since_ms,
        }
    }
}

fn refused(refusal: sme_model::units::Refusal) -> Error {
    Error::Refused(Refusal {
        name: refusal.name.to_owned(),
        message: refusal.message,
    })
}

impl World {
    pub(crate) fn systemd_target(&mut self) -> Result<Option<String>, Error> {
        match self.systemd.clone() {
            SwarmTarget::Off => Ok(None),
            SwarmTarget::On(name) => Ok(Some(name)),
            SwarmTarget::Auto(name) => match self.reach_unit(Verb::INSPECT, &name) {
                Ok(_) => Ok(Some(name)),
                Err(Error::NotFound(_)) => Ok(None),
                Err(other) => Err(other),
            },
        }
    }

    /// Records the call and answers the gate's denial, or systemd's answer
    /// for a unit it does not know.
    fn reach_unit(&mut self, verb: Verb, name: &str) -> Result<&mut UnitFixture, Error> {
        self.admit(verb, name).map_err(|refused| match refused {
            crate::Error::LimitExceeded(message) => Error::LimitExceeded(message),
            other => Error::Denied(other.message().to_owned()),
        })?;
        self.units
            .iter_mut()
            .find(|unit| unit.name() == name)
            .ok_or_else(|| Error::NotFound(format!("Unit {name} not found.")))
    }

    pub(crate) fn unit(&mut self, name: &str) -> Result<Unit, Error> {
        Ok(self.reach_unit(Verb::INSPECT, name)?.shown())
    }

    pub(crate) fn unit_now(&self, name: &str) -> Option<Unit> {
        self.units
            .iter()
            .find(|unit| unit.name() == name)
            .map(UnitFixture::shown)
    }

    pub(crate) fn units(&mut self, pattern: &str) -> Result<Vec<Unit>, Error> {
        if !names::valid_pattern(pattern) {
            return Err(Error::InvalidArgument(names::bad_pattern(pattern)));
        }
        self.calls.push("list".to_owned());
        let denied = self.denied.clone();
        let mut units: Vec<Unit> = self
            .units
            .iter()
            .filter(|unit| names::matches(pattern, unit.name()))
            .filter(|unit| !denied.contains(&(Verb::LIST, unit.name().to_owned())))
            .map(UnitFixture::shown)
            // systemd holds no inactive unit nothing needs.
            .filter(|unit| unit.active_state != "inactive")
            .collect();
        units.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(units)
    }

    /// A start, stop or restart (`verb`), with a stop's bound.
    pub(crate) fn unit_job(
        &mut self,
        verb: &str,
        name: &str,
        kill_after_ms: Option<u32>,
    ) -> Result<Job, Error> {
        let now_ms = self.now_ms();
        let unit = self.reach_unit(Verb::named(verb), name)?;
        let before = unit.model.state().clone();
        // A process that ignores SIGTERM lasts until the SIGKILL.
        let stubborn = verb != "start" && unit.ignores_sigterm && before.running;
        let waited = if stubborn {
            kill_after_ms
                .unwrap_or(TIMEOUT_STOP_MS)
                .min(TIMEOUT_STOP_MS)
        } else {
            0
        };
        let result = match verb {
            "start" => unit.model.start().map_err(refused)?,
            "stop" if stubborn => {
                unit.model.kill(SIGKILL);
                "done"
            }
            "stop" => unit.model.stop(),
            _ if stubborn => {
                unit.model.kill(SIGKILL);
                unit.model.start().map_err(refused)?
            }
            _ => unit.model.restart().map_err(refused)?,
        };
        let after_ms = now_ms + u64::from(waited);
        if *unit.model.state() != before {
            unit.since_ms = Some(after_ms);
        }
        let shown = unit.shown();
        self.timeouts.push((
            format!("{verb} {name}"),
            kill_after_ms.map(|ms| ms.div_ceil(1000)),
        ));
        self.advance(waited);
        Ok(Job {
            result: result.to_owned(),
            unit: shown,
        })
    }

    pub(crate) fn unit_kill(&mut self, name: &str, signal: i32) -> Result<(), Error> {
        if !(1..=64).contains(&signal) {
            return Err(Error::InvalidArgument(format!(
                "signal {signal} is not a signal number from 1 to 64"
            )));
        }
        let now_ms = self.now_ms();
        let unit = self.reach_unit(Verb::STOP, name)?;
        let before = unit.model.state().clone();
        unit.model.kill(signal);
        if *unit.model.state() != before {
            unit.since_ms = Some(now_ms);
        }
        Ok(())
    }

    pub(crate) fn unit_stats(&mut self, name: &str) -> Result<Measurement, Error> {
        let now_ns = self.now_ms() * 1_000_000;
        let unit = self.reach_unit(Verb::STATS, name)?;
        if !unit.model.state().running {
            // No cgroup: systemd accounts nothing.
            return Ok(Measurement {
                now: UnitStats {
                    read_ns: now_ns,
                    cpu_ns: None,
                    memory_bytes: None,
                    tasks: None,
                    io_read_bytes: None,
                    io_write_bytes: None,
                    ip_ingress_bytes: None,
                    ip_egress_bytes: None,
                },
                previous: None,
            });
        }
        // Two readings a second apart that give back the unit's CPU %.
        let base_ns = 40_000_000_000;
        let used_ns = (unit.cpu_percent / 100.0 * 1e9).round() as u64;
        Ok(Measurement {
            now: UnitStats {
                read_ns: now_ns,
                cpu_ns: Some(base_ns + used_ns),
                memory_bytes: Some(unit.memory_bytes),
                tasks: Some(unit.tasks),
                io_read_bytes: None,
                io_write_bytes: None,
                ip_ingress_bytes: None,
                ip_egress_bytes: None,
            },
            previous: Some(CpuTime {
                read_ns: now_ns - 1_000_000_000,
                cpu_ns: base_ns,
            }),
        })
    }
}
