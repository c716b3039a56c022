//! `impl Host` for the `stats` capability.

use super::StatsHost;
use crate::bindings::{CallError, Measurement, Sample, stats};
use crate::gate::Scope;
use crate::grants::Verb;

impl stats::Host for StatsHost {
    async fn one_shot(&mut self, name: String) -> wasmtime::Result<Result<Sample, CallError>> {
        let docker = &*self.docker;
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| async move {
                Ok(docker.one_shot(name).await?.sample)
            })
            .await
    }

    async fn measure(&mut self, name: String) -> wasmtime::Result<Result<Measurement, CallError>> {
        let docker = &*self.docker;
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| async move {
                let (previous, stats) = docker.measure(name).await?;
                Ok(Measurement {
                    previous,
                    current: stats.sample,
                })
            })
            .await
    }

    async fn recent(&mut self, name: String) -> wasmtime::Result<Result<Measurement, CallError>> {
        let docker = &*self.docker;
        let history = self.history();
        let history = history.as_ref();
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| async move {
                // Inspecting is quick (no stats collection): it gives the ID
                // the readings are kept under, and whether there is anything
                // to measure at all.
                let container = docker.inspect(name).await?;
                if !container.running {
                    let current = docker.one_shot(name).await?.sample;
                    return Ok(Measurement {
                        previous: None,
                        current,
                    });
                }
                let mut kept = history.map(|h| h.load(&container.id)).unwrap_or_default();
                let mut measurement = None;
                if kept.could_serve(unix_ns_now()) {
                    let now = docker.one_shot(name).await?.sample;
                    measurement = kept.baseline_for(&now.cpu).map(|previous| Measurement {
                        previous: Some(previous),
                        current: now,
                    });
                }
                let measurement = match measurement {
                    Some(measurement) => measurement,
                    None => {
                        // Nothing recent enough: measure the way docker does.
                        let (previous, measured) = docker.measure(name).await?;
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
            })
            .await
    }
}

fn unix_ns_now() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}
