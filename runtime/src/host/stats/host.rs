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
        let history = self.history.as_ref();
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| async move {
                let now = docker.one_shot(name).await?;
                if now.sample.cpu.read_ns == 0 {
                    // Not running: there is no CPU rate to measure.
                    return Ok(Measurement {
                        previous: None,
                        current: now.sample,
                    });
                }
                let mut kept = history.map(|h| h.load(&now.id)).unwrap_or_default();
                let measurement = match kept.baseline_for(&now.sample.cpu) {
                    Some(previous) => Measurement {
                        previous: Some(previous),
                        current: now.sample,
                    },
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
                    history.save(&now.id, &kept);
                }
                Ok(measurement)
            })
            .await
    }
}
