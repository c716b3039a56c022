//! `impl Host` for the `systemd` capability.

use std::time::Duration;

use super::SystemdHost;
use crate::backend::Kind;
use crate::backend::systemd::SystemdError;
use crate::config::systemd::{Mapped, Mode};
use crate::contract::systemd::{self, CpuTime, Job, Measurement, Unit};
use crate::contract::{CpuReading, UnitError};
use crate::host::listing_pattern;
use crate::host::stats::history::{History, MAX_AGE, unit_key};
use crate::sandbox::gate::{Noted, Scope};
use crate::sandbox::grants::Verb;

/// The shortest and longest wait between two reads of a unit's CPU time
/// when no kept reading serves.
const WINDOW_MS: std::ops::RangeInclusive<u32> = 100..=1000;

type Answer<T> = wasmtime::Result<Result<T, UnitError>>;

impl SystemdHost {
    /// Runs one unit call under `verb`, its errors in the WIT's terms.
    async fn unit_call<T, F, Fut>(&self, verb: Verb, name: &str, perform: F) -> Answer<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, SystemdError>>,
    {
        self.gate
            .call(verb, Scope::Unit(name), |_| async move {
                perform().await.map_err(UnitError::from)
            })
            .await
    }

    /// Whether systemd has the unit `unit` (`auto` mode): asked under the
    /// `inspect` grant. A bus with no systemd means it has none.
    async fn has(&self, unit: &str) -> Answer<bool> {
        let units = &self.units;
        self.gate
            .call(Verb::Inspect, Scope::Unit(unit), |_| async move {
                match units.unit(unit).await {
                    Ok(_) => Ok(true),
                    Err(SystemdError::NotFound(_) | SystemdError::Unreachable { .. }) => Ok(false),
                    Err(other) => Err(UnitError::from(other)),
                }
            })
            .await
    }
}

impl systemd::Host for SystemdHost {
    async fn target(&mut self) -> Answer<Option<String>> {
        match (&self.mapped, self.mode) {
            (Mapped::Off, _) | (_, Mode::Off) => Ok(Ok(None)),
            (Mapped::Unmappable(message), Mode::On) => {
                Ok(Err(UnitError::InvalidArgument(message.clone())))
            }
            (Mapped::Unmappable(_), Mode::Auto) => Ok(Ok(None)),
            (Mapped::Unit(unit), Mode::On) => Ok(Ok(Some(unit.clone()))),
            (Mapped::Unit(unit), Mode::Auto) => {
                let found = self.has(unit).await?;
                Ok(found.map(|found| found.then(|| unit.clone())))
            }
        }
    }

    async fn inspect(&mut self, name: String) -> Answer<Unit> {
        let units = &self.units;
        self.unit_call(Verb::Inspect, &name, || units.unit(&name))
            .await
    }

    async fn list(&mut self, pattern: String) -> Answer<Vec<Unit>> {
        let units = &self.units;
        let rows = self
            .gate
            .call(Verb::List, Scope::UnitListing(&pattern), |_| async {
                listing_pattern(Some(&pattern), None).map_err(UnitError::from)?;
                units.units(&pattern).await.map_err(UnitError::from)
            })
            .await?;
        // Only the units this module may list are shown to it.
        Ok(rows.map(|rows| {
            rows.into_iter()
                .filter(|row| self.gate.covers(Verb::List, Kind::Unit, &row.name, &[]))
                .collect()
        }))
    }

    async fn start(&mut self, name: String) -> Answer<Job> {
        let units = &self.units;
        self.unit_call(Verb::Start, &name, || units.start(&name))
            .await
    }

    async fn stop(&mut self, name: String, kill_after_ms: Option<u32>) -> Answer<Job> {
        let units = &self.units;
        let kill_after = kill_after_ms.map(|ms| Duration::from_millis(ms.into()));
        self.gate
            .call_noting(
                Verb::Stop,
                Scope::Unit(&name),
                |_| Noted::timeout(kill_after_s(kill_after_ms)),
                |_| async { units.stop(&name, kill_after).await.map_err(UnitError::from) },
            )
            .await
    }

    async fn restart(&mut self, name: String, kill_after_ms: Option<u32>) -> Answer<Job> {
        let units = &self.units;
        let kill_after = kill_after_ms.map(|ms| Duration::from_millis(ms.into()));
        self.gate
            .call_noting(
                Verb::Restart,
                Scope::Unit(&name),
                |_| Noted::timeout(kill_after_s(kill_after_ms)),
                |_| async {
                    units
                        .restart(&name, kill_after)
                        .await
                        .map_err(UnitError::from)
                },
            )
            .await
    }

    async fn kill(&mut self, name: String, signal: i32) -> Answer<()> {
        let units = &self.units;
        self.gate
            .call(Verb::Stop, Scope::Unit(&name), |_| async {
                if !(1..=64).contains(&signal) {
                    return Err(UnitError::InvalidArgument(format!(
                        "signal {signal} is not a signal number from 1 to 64"
                    )));
                }
                units.kill(&name, signal).await.map_err(UnitError::from)
            })
            .await
    }

    async fn stats(
        &mut self,
        name: String,
        max_age_ms: u32,
        window_ms: u32,
    ) -> Answer<Measurement> {
        let units = &self.units;
        let history = self.state_dir.as_deref().and_then(History::open_units);
        let history = history.as_ref();
        let max_age = Duration::from_millis(max_age_ms.into()).min(MAX_AGE);
        let window =
            Duration::from_millis(window_ms.clamp(*WINDOW_MS.start(), *WINDOW_MS.end()).into());
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Unit(name), |left| async move {
                let key = unit_key(name);
                let mut kept = history.map(|h| h.load(&key)).unwrap_or_default();
                let first = units.stats(name).await?;
                let Some(cpu_ns) = first.cpu_ns else {
                    return Ok(Measurement {
                        now: first,
                        previous: None,
                    });
                };
                let reading = |read_ns: u64, cpu_ns: u64| CpuReading {
                    read_ns,
                    total_ns: cpu_ns,
                    system_ns: read_ns,
                    online_cpus: 1,
                };
                let first_reading = reading(first.read_ns, cpu_ns);
                let (now, previous) = match kept.baseline_for(&first_reading, max_age) {
                    Some(previous) => (first, previous),
                    None => {
                        // Nothing kept that serves: a second read, a window
                        // after the first, if the call's budget allows it.
                        if window >= left {
                            return Err(UnitError::LimitExceeded(format!(
                                "a CPU window of {} ms would pass the call's time budget \
                                 ({} ms left)",
                                window.as_millis(),
                                left.as_millis()
                            )));
                        }
                        tokio::time::sleep(window).await;
                        kept.remember(&first_reading);
                        (units.stats(name).await?, first_reading)
                    }
                };
                let current = now.cpu_ns.map(|cpu_ns| reading(now.read_ns, cpu_ns));
                // Counters that went back started again (a restart): there
                // is nothing to measure against.
                let previous = current
                    .filter(|current| previous.total_ns <= current.total_ns)
                    .map(|current| {
                        kept.remember(&current);
                        if let Some(history) = history {
                            history.save(&key, &kept);
                        }
                        CpuTime {
                            read_ns: previous.read_ns,
                            cpu_ns: previous.total_ns,
                        }
                    });
                Ok(Measurement { now, previous })
            })
            .await
    }
}

/// A stop's bound as the audit line's `timeout_s`, rounded up to whole
/// seconds as a container's grace period is.
fn kill_after_s(kill_after_ms: Option<u32>) -> Option<u32> {
    kill_after_ms.map(|ms| ms.div_ceil(1000))
}
