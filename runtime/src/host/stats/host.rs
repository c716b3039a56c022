//! `impl Host` for the `stats` capability.

use std::time::Duration;

use super::StatsHost;
use super::history::{DEFAULT_MAX_AGE, History, MAX_AGE};
use crate::backend::Containers;
use crate::contract::{CallError, Measurement, Sample, Status, cpu_window, stats};
use crate::sandbox::gate::Scope;
use crate::sandbox::grants::Verb;

impl stats::Host for StatsHost {
    async fn one_shot(&mut self, name: String) -> wasmtime::Result<Result<Sample, CallError>> {
        let engine = &*self.containers;
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| async move {
                Ok(engine.one_shot(name).await?.sample)
            })
            .await
    }

    async fn measure(&mut self, name: String) -> wasmtime::Result<Result<Measurement, CallError>> {
        let engine = &*self.containers;
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| async move {
                let (previous, stats) = engine.measure(name).await?;
                Ok(Measurement {
                    previous,
                    current: stats.sample,
                })
            })
            .await
    }

    async fn recent(&mut self, name: String) -> wasmtime::Result<Result<Measurement, CallError>> {
        self.measure_recent(name, DEFAULT_MAX_AGE).await
    }
}

impl cpu_window::Host for StatsHost {
    async fn recent_within(
        &mut self,
        name: String,
        max_age_ms: u32,
    ) -> wasmtime::Result<Result<Measurement, CallError>> {
        let max_age = Duration::from_millis(max_age_ms.into()).min(MAX_AGE);
        self.measure_recent(name, max_age).await
    }
}

impl StatsHost {
    /// A one-shot sample measured against a kept reading at most `max_age`
    /// old, else the daemon's own measurement.
    async fn measure_recent(
        &self,
        name: String,
        max_age: Duration,
    ) -> wasmtime::Result<Result<Measurement, CallError>> {
        let engine = &*self.containers;
        let history = self.history();
        let history = history.as_ref();
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| {
                measure_kept(engine, history, name, max_age)
            })
            .await
    }
}

/// A one-shot sample of container `name` measured against a reading kept in
/// `history` at most `max_age` old, else the daemon's own measurement; the
/// new reading is kept for the next run. Shared with `services.task-stats`.
pub(crate) async fn measure_kept(
    engine: &dyn Containers,
    history: Option<&History>,
    name: &str,
    max_age: Duration,
) -> Result<Measurement, CallError> {
    // Inspecting is quick (no stats collection): it gives the ID
    // the readings are kept under, and whether there is anything
    // to measure at all.
    let container = engine.inspect(name).await?;
    // A paused container's counters stand still: docker shows
    // 0 %, which a window reaching back before the pause would not.
    if !container.running || container.status == Status::Paused {
        let current = engine.one_shot(name).await?.sample;
        return Ok(Measurement {
            previous: None,
            current,
        });
    }
    let mut kept = history.map(|h| h.load(&container.id)).unwrap_or_default();
    let mut measurement = None;
    if kept.could_serve(unix_ns_now(), max_age) {
        let now = engine.one_shot(name).await?.sample;
        measurement = kept
            .baseline_for(&now.cpu, max_age)
            .map(|previous| Measurement {
                previous: Some(previous),
                current: now,
            });
    }
    let measurement = match measurement {
        Some(measurement) => measurement,
        None => {
            // Nothing recent enough: measure the way docker does.
            let (previous, measured) = engine.measure(name).await?;
            if let Some(previous) = &previous {
                kept.remember(previous);
            }
            Measurement {
                previous,
                current: measured.sample,
            }
        }
    };
    kept.remember(&measurement.current.cpu);
    if let Some(history) = history {
        history.save(&container.id, &kept);
    }
    Ok(measurement)
}

fn unix_ns_now() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}
