//! Simulated systemd units: the [`Units`] calls answered from units held in
//! memory, changed by `sme_model`'s rules (`units.rs`), which the
//! integration tests hold against a real systemd. They account no
//! resources: `stats` answers no figures.

use std::time::Duration;

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use sme_model::units::{Refusal, UnitModel};

use super::now_ms;
use crate::backend::Units;
use crate::backend::systemd::{Job, Result, SystemdError, Unit, UnitStats, checked};
use crate::sandbox::held::Clock;

/// Units held in memory, with the PIDs and times systemd would report.
#[derive(Debug, Default)]
pub struct SimUnits {
    units: Mutex<BTreeMap<String, Held>>,
    /// What changes are stamped with (a scenario's clock).
    clock: Clock,
}

#[derive(Debug)]
struct Held {
    model: UnitModel,
    main_pid: u32,
    since_ms: Option<u64>,
}

/// Simulated PIDs: distinct for every start, like the kernel's.
fn next_pid() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl SimUnits {
    /// These units, loaded, each in its model's state: one already
    /// running has a main process, since now.
    pub fn with(units: impl IntoIterator<Item = UnitModel>) -> SimUnits {
        let units = units
            .into_iter()
            .map(|model| {
                let running = model.state().running;
                let held = Held {
                    model,
                    main_pid: if running { next_pid() } else { 0 },
                    since_ms: running.then(now_ms),
                };
                (held.model.name.clone(), held)
            })
            .collect();
        SimUnits {
            units: Mutex::new(units),
            clock: Clock::default(),
        }
    }

    /// Stamps changes (and the units already running) with `clock`'s time
    /// instead of the machine's.
    pub fn with_clock(mut self, clock: Clock) -> SimUnits {
        let now = clock.now_ms();
        for held in self
            .units
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .values_mut()
        {
            if held.since_ms.is_some() {
                held.since_ms = Some(now);
            }
        }
        self.clock = clock;
        self
    }

    /// Every unit as `inspect` would show it now, by name.
    pub fn states(&self) -> BTreeMap<String, Unit> {
        let units = self.units.lock().unwrap_or_else(PoisonError::into_inner);
        units
            .iter()
            .map(|(name, held)| (name.clone(), unit_of(held)))
            .collect()
    }

    /// Runs `change` on unit `name` and answers its state after it.
    fn change<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut UnitModel) -> std::result::Result<T, Refusal>,
    ) -> Result<(T, Unit)> {
        checked(name)?;
        let mut units = self.units.lock().unwrap_or_else(PoisonError::into_inner);
        let held = units
            .get_mut(name)
            .ok_or_else(|| SystemdError::NotFound(name.to_owned()))?;
        let before = held.model.state().clone();
        let answer = change(&mut held.model).map_err(|refusal| SystemdError::Refused {
            name: refusal.name.to_owned(),
            message: refusal.message,
        })?;
        let after = held.model.state();
        if after != &before {
            held.since_ms = Some(self.clock.now_ms());
            held.main_pid = if after.running { next_pid() } else { 0 };
        }
        Ok((answer, unit_of(held)))
    }
}

/// Whether systemd holds the unit in memory: an inactive unit nothing
/// refers to is unloaded, and loaded again afresh when asked about, with
/// no state-change time.
fn held_in_memory(held: &Held) -> bool {
    held.model.state().active_state != "inactive"
}

fn unit_of(held: &Held) -> Unit {
    let state = held.model.state();
    Unit {
        name: held.model.name.clone(),
        load_state: state.load_state.to_owned(),
        active_state: state.active_state.to_owned(),
        sub_state: state.sub_state.to_owned(),
        result: state.result.to_owned(),
        main_pid: held.main_pid,
        since_ms: held.since_ms.filter(|_| held_in_memory(held)),
    }
}

fn job((result, unit): (&'static str, Unit)) -> Job {
    Job {
        result: result.to_owned(),
        unit,
    }
}

#[async_trait]
impl Units for SimUnits {
    async fn unit(&self, name: &str) -> Result<Unit> {
        self.change(name, |_| Ok(())).map(|(_, unit)| unit)
    }

    async fn units(&self, pattern: &str) -> Result<Vec<Unit>> {
        // systemd lists the units it holds in memory.
        let units = self.units.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(units
            .values()
            .filter(|held| held_in_memory(held))
            .filter(|held| sme_model::names::matches(pattern, &held.model.name))
            .map(unit_of)
            .collect())
    }

    async fn start(&self, name: &str) -> Result<Job> {
        self.change(name, UnitModel::start).map(job)
    }

    async fn stop(&self, name: &str, _kill_after: Option<Duration>) -> Result<Job> {
        self.change(name, |unit| Ok(unit.stop())).map(job)
    }

    async fn restart(&self, name: &str, _kill_after: Option<Duration>) -> Result<Job> {
        self.change(name, UnitModel::restart).map(job)
    }

    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        self.change(name, |unit| {
            unit.kill(signal);
            Ok(())
        })
        .map(|_| ())
    }

    async fn stats(&self, name: &str) -> Result<UnitStats> {
        self.unit(name).await?;
        Ok(UnitStats {
            read_ns: self.clock.now_ms().saturating_mul(1_000_000),
            cpu_ns: None,
            memory_bytes: None,
            tasks: None,
            io_read_bytes: None,
            io_write_bytes: None,
            ip_ingress_bytes: None,
            ip_egress_bytes: None,
        })
    }
}
