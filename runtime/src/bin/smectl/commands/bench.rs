//! `smectl bench <service> <operation> [-n N] [--real]`: where one policy's
//! time goes, measured as `sme` would run it against the daemon.
//!
//! - **compile**: the module compiled by Cranelift with the runtime's engine
//!   and no cache (what the first run of a new policy file pays; built-ins
//!   are precompiled into `sme` and never pay it);
//! - **warm runs**: after one untimed run, N runs as `sme` serves a request
//!   with a warm cache (policy lookup, engine, linker, loading the
//!   precompiled or cached artifact, instantiation, the call, audit lines),
//!   each split into its host calls (the sum of the `duration_us` the gate
//!   records for each) and the rest, the guest's own time. What every `sme`
//!   process also pays before that (process start, configuration, the
//!   Docker connection) is not included.
//!
//! `--interval MS` waits that long before each timed run, untimed: the
//! agent asks for metrics seconds apart, and back-to-back stats requests
//! measure Docker's stats collector (on Docker 20.10 a request arriving
//! while it sleeps waits up to a second), not the policy. Each run writes
//! its audit lines to the configured audit log, as `sme` would, marked
//! `dry_run` unless `--real`.
//!
//! Unless `--real` is given, start/stop/restart/pause/unpause go to a fresh
//! [`DryRun`] each run, so the service is not disturbed and those calls cost
//! nothing like the daemon's own stop or start. With `--real` the first
//! (untimed) run changes the container and the timed runs find it already
//! in the operation's target state.
//!
//! `--scenario FILE` measures against that scenario's simulated engine and
//! configuration instead (each run starts from the scenario's state): the
//! policy's own time with no daemon in it.
//!
//! [`measure`] takes the engines as [`Backends`], so the same measurement
//! runs against any engine behind the backend's traits.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use sme::backend::{self, Backends};
use sme::config::{Config, Env};
use sme::policy::loader::{Loader, Source};
use sme::policy::{self, Policy, PolicyDir};
use sme::sandbox::audit::{self, Audit};
use sme::sandbox::ledger::Counting;
use sme::sim::DryRun;
use sme::sim::scenario::Scenario;

use super::wasmtime_error;

/// The number of timed runs when none is given.
pub const DEFAULT_RUNS: u32 = 20;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct Bench<'a> {
    /// The service (container) name.
    pub service: &'a str,
    /// The operation.
    pub operation: &'a str,
    /// Timed warm runs.
    pub runs: u32,
    /// Perform mutating calls instead of dry-running them.
    pub real: bool,
    /// The untimed wait before each timed run.
    pub interval: Duration,
    /// Run against this scenario's simulated engine instead of the daemon.
    pub scenario: Option<&'a Path>,
}

/// One timed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTimes {
    /// The whole request, in microseconds.
    pub total_us: u64,
    /// The sum of its host calls' durations.
    pub host_calls_us: u64,
    /// How many host calls it made.
    pub host_calls: usize,
    /// What `sme` would have exited with.
    pub exit_code: i32,
}

impl RunTimes {
    /// Everything that was not a host call.
    pub fn guest_us(&self) -> u64 {
        self.total_us.saturating_sub(self.host_calls_us)
    }
}

/// Median and p95 (nearest rank) of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The 50th percentile.
    pub median: u64,
    /// The 95th percentile.
    pub p95: u64,
}

impl Summary {
    /// The summary of `values` (nearest-rank percentiles, so the median is
    /// never above the p95); zeros for no values.
    pub fn of(values: impl IntoIterator<Item = u64>) -> Summary {
        let mut sorted: Vec<u64> = values.into_iter().collect();
        sorted.sort_unstable();
        let rank = |p: f64| {
            let n = sorted.len();
            if n == 0 {
                return 0;
            }
            let rank = (p * n as f64).ceil() as usize;
            sorted[rank.clamp(1, n) - 1]
        };
        Summary {
            median: rank(0.50),
            p95: rank(0.95),
        }
    }

    fn json(self) -> serde_json::Value {
        serde_json::json!({ "median": self.median, "p95": self.p95 })
    }
}

/// Everything measured.
#[derive(Debug)]
pub struct Report {
    /// The operation's module.
    pub policy: Policy,
    /// Whether mutating calls were dry-run.
    pub dry_run: bool,
    /// Cranelift compile time with no cache.
    pub compile: Duration,
    /// How the warm runs obtained the compiled module.
    pub source: Source,
    /// The timed runs.
    pub runs: Vec<RunTimes>,
    /// The last run's output.
    pub output: String,
}

/// Prints the report; `Ok(false)` when a run would have exited 1.
pub fn run(env: &Env, bench: Bench<'_>, json: bool) -> anyhow::Result<bool> {
    let mut deployment = Config::load(env)?;
    if !bench.real {
        // Dry runs consult budgets, and spend none.
        deployment.counting = Counting::Consult;
    }
    let (config, engine): (Config, Backends) = match bench.scenario {
        Some(file) => {
            if bench.real {
                bail!("--real with --scenario: a scenario's engine is simulated; leave out --real");
            }
            let scenario = Scenario::load(file)?;
            // The scenario's configuration, with the deployment's cache:
            // warm runs load what `sme` would load.
            let config = scenario
                .config(env, deployment.cache_dir.as_deref())
                .map_err(|error| anyhow!("{}: {error}", file.display()))?;
            let engines =
                Backends::of(Arc::new(scenario.engine())).with_units(Arc::new(scenario.units()));
            (config, engines)
        }
        None => {
            let engine = backend::connect(
                &deployment.docker_host,
                deployment.counter_roots(),
                deployment.systemd.bus(),
            )?;
            (deployment, engine)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(measure(&config, engine, bench))?;
    let success = report.runs.iter().all(|run| run.exit_code == 0);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&report, bench))?
        );
    } else {
        print!("{}", report_text(&report, bench));
    }
    Ok(success)
}

/// Measures `bench` against `engines`: the policy `sme` would run for the
/// operation, compiled cold, then run warm.
pub async fn measure(
    config: &Config,
    engines: Backends,
    bench: Bench<'_>,
) -> anyhow::Result<Report> {
    let Bench {
        service,
        operation,
        real,
        ..
    } = bench;
    let dir = PolicyDir::open(config)?;
    let Some(policy) = policy::find(config, dir.as_ref(), operation)? else {
        bail!(
            "no policy for operation {operation:?}: no {operation}.wasm in {} and no built-in",
            config.policy_dir.display()
        );
    };
    sme::names::check_container(service)?;
    // Before anything is timed: an unreachable daemon or a missing container
    // would only measure how fast a failure is.
    engines
        .containers
        .inspect(service)
        .await
        .with_context(|| format!("cannot bench {operation} of {service}"))?;

    let cold = Loader::new(None).map_err(wasmtime_error)?;
    let started = Instant::now();
    let component = cold.compile_uncached(&policy)?;
    let compile = started.elapsed();
    // Kept, so that no run pays for it inside its time budget (a module that
    // cannot be cached is compiled by every run, as the report says).
    let cache = Loader::new(config.cache_dir.as_deref()).map_err(wasmtime_error)?;
    if matches!(policy.origin, sme::policy::Origin::File(_)) && !cache.has_artifact(&policy) {
        let _ = cache.store(&policy, &component);
    }

    let mut output = once(config, &engines, bench).await?.1;
    // What the warm runs loaded: a file compiles every time when the cache
    // cannot be used, and the report says so.
    let source = Loader::new(config.cache_dir.as_deref())
        .map_err(wasmtime_error)?
        .compile(&policy)?
        .source;
    let mut runs = Vec::new();
    for _ in 0..bench.runs {
        tokio::time::sleep(bench.interval).await;
        let (times, answered) = once(config, &engines, bench).await?;
        runs.push(times);
        output = answered;
    }
    Ok(Report {
        policy,
        dry_run: !real,
        compile,
        source,
        runs,
        output,
    })
}

/// One request served as `sme` serves it, timed.
async fn once(
    config: &Config,
    engine: &Backends,
    bench: Bench<'_>,
) -> anyhow::Result<(RunTimes, String)> {
    let audit = Audit::open(config.audit_log.as_deref(), config.strictness)?.capturing();
    let (audit, engines) = if bench.real {
        (audit, engine.clone())
    } else {
        (
            audit.dry_run(),
            Backends::of(Arc::new(DryRun::new(engine.clone()))),
        )
    };
    let audit = Arc::new(audit);
    let started = Instant::now();
    let outcome = sme::run::executor::serve(
        config.clone(),
        engines,
        audit.clone(),
        bench.service,
        bench.operation,
    )
    .await;
    let total_us = audit::micros(started.elapsed());
    let durations: Vec<u64> = audit
        .captured()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["event"] == "host-call")
        .map(|line| line["duration_us"].as_u64().unwrap_or(0))
        .collect();
    let times = RunTimes {
        total_us,
        host_calls_us: durations.iter().sum(),
        host_calls: durations.len(),
        exit_code: outcome.exit_code(),
    };
    Ok((times, outcome.output))
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Precompiled => "precompiled",
        Source::Cached => "cached",
        Source::Compiled => "compiled",
    }
}

fn report_json(report: &Report, bench: Bench<'_>) -> serde_json::Value {
    let runs = &report.runs;
    serde_json::json!({
        "service": bench.service,
        "operation": bench.operation,
        "module": {
            "name": report.policy.name,
            "location": report.policy.location(),
            "size_bytes": report.policy.wasm.len(),
            "sha256": report.policy.sha256_hex(),
        },
        "dry_run": report.dry_run,
        "scenario": bench.scenario,
        "interval_ms": audit::micros(bench.interval) / 1000,
        "compile_us": audit::micros(report.compile),
        "warm": {
            "runs": runs.len(),
            "source": source_name(report.source),
            "total_us": Summary::of(runs.iter().map(|r| r.total_us)).json(),
            "guest_us": Summary::of(runs.iter().map(RunTimes::guest_us)).json(),
            "host_calls_us": Summary::of(runs.iter().map(|r| r.host_calls_us)).json(),
        },
        "runs": runs.iter().map(|r| serde_json::json!({
            "total_us": r.total_us,
            "guest_us": r.guest_us(),
            "host_calls_us": r.host_calls_us,
            "host_calls": r.host_calls,
            "exit_code": r.exit_code,
        })).collect::<Vec<_>>(),
        "output": report.output,
        "exit_code": runs.last().map_or(0, |r| r.exit_code),
    })
}

fn report_text(report: &Report, bench: Bench<'_>) -> String {
    let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
    let runs = &report.runs;
    let policy = &report.policy;
    let mut text = String::new();
    writeln!(
        text,
        "module      {} ({}), {} bytes, sha256 {}",
        policy.name,
        policy.location(),
        policy.wasm.len(),
        policy.sha256_hex()
    )
    .unwrap();
    let scenario = bench.scenario.map(|file| {
        format!(
            "scenario {}: the simulated engine, every run from its state",
            file.display()
        )
    });
    let docker = if let Some(scenario) = &scenario {
        scenario.as_str()
    } else if report.dry_run {
        "dry run: start/stop/restart/pause/unpause not performed, so not timed as the daemon's (--real to perform them)"
    } else {
        "real: every call performed"
    };
    writeln!(text, "docker      {docker}").unwrap();
    writeln!(
        text,
        "compile     {} (Cranelift, no cache)",
        ms(audit::micros(report.compile))
    )
    .unwrap();
    let source = match report.source {
        Source::Precompiled => "the module precompiled into sme",
        Source::Cached => "the module from the compiled-component cache",
        Source::Compiled => "no usable cache: every run compiled the module",
    };
    let interval = match bench.interval.as_millis() {
        0 => String::new(),
        ms => format!(", {ms} ms apart"),
    };
    writeln!(text, "warm runs   {}{interval}, {source}", runs.len()).unwrap();
    writeln!(text, "            {:>11} {:>11}", "median", "p95").unwrap();
    let calls = Summary::of(runs.iter().map(|r| r.host_calls as u64)).median;
    let rows: [(&str, Summary, String); 3] = [
        (
            "total",
            Summary::of(runs.iter().map(|r| r.total_us)),
            String::new(),
        ),
        (
            "guest",
            Summary::of(runs.iter().map(RunTimes::guest_us)),
            String::new(),
        ),
        (
            "host calls",
            Summary::of(runs.iter().map(|r| r.host_calls_us)),
            format!("  ({calls} per run)"),
        ),
    ];
    for (name, summary, note) in rows {
        writeln!(
            text,
            "  {name:<10}{:>11} {:>11}{note}",
            ms(summary.median),
            ms(summary.p95)
        )
        .unwrap();
    }
    let failed = runs.iter().filter(|r| r.exit_code != 0).count();
    writeln!(
        text,
        "output      {} (exit {}){}",
        report.output,
        runs.last().map_or(0, |r| r.exit_code),
        if failed > 0 {
            format!(", {failed} of {} runs failed", runs.len())
        } else {
            String::new()
        }
    )
    .unwrap();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(Summary::of([]), Summary { median: 0, p95: 0 });
        assert_eq!(Summary::of([7]), Summary { median: 7, p95: 7 });
        let twenty = (1..=20).rev();
        assert_eq!(
            Summary::of(twenty),
            Summary {
                median: 10,
                p95: 19
            }
        );
        assert_eq!(
            Summary::of([5, 1, 100]),
            Summary {
                median: 5,
                p95: 100
            }
        );
    }
}
