//! `impl Host` for the `stats` capability.

use std::time::Duration;

use super::StatsHost;
use super::history::{DEFAULT_MAX_AGE, History, MAX_AGE, Network};
use crate::backend::{Containers, Counters};
use crate::contract::{CallError, Measurement, Sample, Status, counters, cpu_window, stats};
use crate::sandbox::gate::{Noted, Scope};
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
        let networks = self.networks();
        let networks = networks.as_ref();
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Container(name), |_| {
                measure_kept(engine, history, networks, name, max_age)
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
    networks: Option<&History>,
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
    if let Some(networks) = networks {
        networks.save_network(&container.id, &Network::of(&measurement.current));
    }
    Ok(measurement)
}

fn unix_ns_now() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

/// The shortest and longest pause between the two reads of a measurement
/// with no kept reading (`counters.measure`'s `window-ms`).
const COUNTER_WINDOW_MS: std::ops::RangeInclusive<u32> = 100..=1000;

impl counters::Host for StatsHost {
    async fn measure(
        &mut self,
        name: String,
        max_age_ms: u32,
        window_ms: u32,
    ) -> wasmtime::Result<Result<counters::Sourced, CallError>> {
        let engine = &*self.containers;
        let state_dir = self.state_dir.as_deref();
        let max_age = Duration::from_millis(max_age_ms.into()).min(MAX_AGE);
        let window = window_ms.clamp(*COUNTER_WINDOW_MS.start(), *COUNTER_WINDOW_MS.end());
        let window = Duration::from_millis(window.into());
        let name = name.as_str();
        let noted = |(sourced, network): &(counters::Sourced, Option<&'static str>)| Noted {
            source: Some(match sourced.source {
                counters::Source::Cgroup => "cgroup",
                counters::Source::Engine => "engine",
            }),
            network: *network,
            ..Noted::default()
        };
        let answer = self
            .gate
            .call_noting(Verb::Stats, Scope::Container(name), noted, |_| async move {
                let networks = state_dir.and_then(History::open_network);
                if let Some(first) = engine.counters(name).await?
                    && let Some(mut sourced) =
                        measure_counted(engine, state_dir, name, first, max_age, window).await?
                {
                    let network = network_of(networks.as_ref(), &mut sourced);
                    return Ok((sourced.answer, Some(network)));
                }
                // The files cannot be read here (or the container
                // stopped between two reads): the Engine's stats API,
                // with its own kept readings.
                let history = state_dir.and_then(History::open);
                let measurement =
                    measure_kept(engine, history.as_ref(), networks.as_ref(), name, max_age)
                        .await?;
                let answer = counters::Sourced {
                    measurement,
                    source: counters::Source::Engine,
                    network: true,
                };
                Ok((answer, None))
            })
            .await?;
        Ok(answer.map(|(sourced, _)| sourced))
    }
}

/// A measurement from the cgroup, with what the network counters need.
struct Counted {
    answer: counters::Sourced,
    /// The container's ID, its files' name.
    id: String,
    /// When it last started, if known.
    started_ms: Option<u64>,
}

/// Where the network counters of a measurement from the cgroup came from,
/// for the audit line: read now (and kept for runs that cannot read them),
/// else the last kept ones from since the container last started, else none
/// (they stay 0). A namespace's counters start from 0 with the container.
fn network_of(networks: Option<&History>, counted: &mut Counted) -> &'static str {
    let current = &mut counted.answer.measurement.current;
    if counted.answer.network {
        if let Some(networks) = networks {
            networks.save_network(&counted.id, &Network::of(current));
        }
        return "read";
    }
    let since_start = |kept: &Network| {
        counted
            .started_ms
            .is_some_and(|started| kept.read_ns / 1_000_000 >= started)
    };
    match networks
        .and_then(|n| n.load_network(&counted.id))
        .filter(since_start)
    {
        Some(kept) => {
            current.network_rx = kept.rx;
            current.network_tx = kept.tx;
            "kept"
        }
        None => "none",
    }
}

impl Network {
    fn of(sample: &Sample) -> Network {
        Network {
            read_ns: sample.cpu.read_ns,
            rx: sample.network_rx,
            tx: sample.network_tx,
        }
    }
}

/// A measurement from counters read from the cgroup: `first`, against a
/// kept cgroup reading at most `max_age` old, else against a second read
/// `window` later; `None` when that second read finds no counters (the
/// container stopped, or is another one now). A paused container measures
/// 0 % CPU, as docker shows it.
async fn measure_counted(
    engine: &dyn Containers,
    state_dir: Option<&std::path::Path>,
    name: &str,
    first: Counters,
    max_age: Duration,
    window: Duration,
) -> Result<Option<Counted>, CallError> {
    let id = first.id.clone();
    let started_ms = first.started_ms;
    let history = state_dir.and_then(History::open_cgroup);
    let mut kept = history.as_ref().map(|h| h.load(&id)).unwrap_or_default();
    let sourced = |previous, current: Counters| counters::Sourced {
        measurement: Measurement {
            previous,
            current: current.sample,
        },
        source: counters::Source::Cgroup,
        network: current.network,
    };
    let answer = if first.paused {
        sourced(None, first)
    } else if let Some(previous) = kept.baseline_for(&first.sample.cpu, max_age) {
        sourced(Some(previous), first)
    } else {
        tokio::time::sleep(window).await;
        let second = engine.counters(name).await?;
        let Some(second) = second.filter(|second| second.id == id) else {
            return Ok(None);
        };
        kept.remember(&first.sample.cpu);
        sourced(Some(first.sample.cpu), second)
    };
    kept.remember(&answer.measurement.current.cpu);
    if let Some(history) = &history {
        history.save(&id, &kept);
    }
    Ok(Some(Counted {
        answer,
        id,
        started_ms,
    }))
}
