//! The reference operations on a systemd unit: what EdgeX's snap executor
//! did with `snapctl start|stop|restart <snap>.<service>`, and metrics it
//! never had. Each operation waits for systemd's job, then checks the unit's
//! end state as the container operations check a container's.

use crate::edgex::{Lifecycle, SUCCESS, metric_fields};
use crate::systemd::{self, Job, Measurement};
use crate::{Figures, Metric};

/// How far apart the two reads of a unit's CPU time are when no kept
/// reading serves, in milliseconds (the default of the default metrics
/// policy's `cpu_sample_ms`).
pub const DEFAULT_SAMPLE_MS: u32 = 250;

/// Performs `action` on the unit `unit` and checks its end state.
///
/// - **start** asks systemd to start it; it must then be `active`. A unit
///   whose process fails as it starts is answered `done` by systemd but
///   ends `failed`: that is a failure naming the unit's result.
/// - **stop** asks systemd to stop it, and has systemd SIGKILL its
///   processes once the stop has run `cap_seconds` (the default policies'
///   `grace_cap_s`), so a unit ignoring SIGTERM is stopped in time for the
///   agent instead of after its own `TimeoutStopSec` (90 s by default). It
///   must then not run: `inactive`, or `failed` after the kill.
/// - **restart** asks systemd to restart it, with the same bound on its
///   stopping half; it must then be `active`.
///
/// A refusal prints systemd's error name and words after the operation's
/// prefix (`Error starting service: org.freedesktop.systemd1.UnitMasked:
/// Unit x.service is masked.`); a failed check prints the reference's
/// words and the unit's state:
/// `Error starting service: service is not running but should be (unit
/// x.service is failed/failed, result exit-code, job done)`.
///
/// ```
/// use sme_guest::edgex::{Lifecycle, SUCCESS, unit_lifecycle};
/// use sme_guest::testing::{self, Scene};
/// Scene::new().unit(testing::unit("edgex-core-data.service").ignores_sigterm()).install();
/// assert_eq!(unit_lifecycle(Lifecycle::Stop, "edgex-core-data.service", 10), Ok(SUCCESS.to_owned()));
/// assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 10_000);
/// ```
pub fn unit_lifecycle(action: Lifecycle, unit: &str, cap_seconds: u32) -> Result<String, String> {
    let bound = Some(cap_seconds.saturating_mul(1000));
    let job = match action {
        Lifecycle::Start => systemd::start(unit),
        Lifecycle::Stop => systemd::stop(unit, bound),
        Lifecycle::Restart => systemd::restart(unit, bound),
    }
    .map_err(|error| format!("{}: {}", action.prefix(), error.message()))?;
    expect_unit_state(action, &job)
}

/// The verdict on the state a job left its unit in.
pub fn expect_unit_state(action: Lifecycle, job: &Job) -> Result<String, String> {
    let unit = &job.unit;
    let wrong = if action.should_run() {
        (!unit.is_up()).then_some("service is not running but should be")
    } else {
        unit.is_running()
            .then_some("service is running but shouldn't be")
    };
    match wrong {
        None => Ok(SUCCESS.to_owned()),
        Some(words) => Err(format!(
            "{}: {words} (unit {} is {}/{}, result {}, job {})",
            action.prefix(),
            unit.name,
            unit.active_state,
            unit.sub_state,
            unit.result,
            job.result
        )),
    }
}

/// The reference executor's metrics for a unit: `cpuUsedPercent` from its
/// CPU time against a kept reading at most `window_ms` old (else a second
/// read `sample_ms` later), `memoryUsed` and `raw` in `docker stats`' shape.
/// What systemd does not account is 0; a unit has no memory limit here, so
/// `raw` shows `0B` as the limit and `0.00%` of it.
pub fn unit_metrics(unit: &str, window_ms: u32, sample_ms: u32) -> Result<Vec<Metric>, String> {
    let measurement = systemd::stats(unit, window_ms, sample_ms).map_err(|e| e.message())?;
    Ok(metric_fields(&unit_figures(&measurement)))
}

/// What `docker stats` would show for a unit's counters.
///
/// ```
/// use sme_guest::edgex::unit_figures;
/// use sme_guest::systemd::{CpuTime, Measurement, UnitStats};
/// let now = UnitStats {
///     read_ns: 2_000_000_000, cpu_ns: Some(1_500_000_000), memory_bytes: Some(1 << 20),
///     tasks: Some(3), io_read_bytes: None, io_write_bytes: None,
///     ip_ingress_bytes: None, ip_egress_bytes: None,
/// };
/// let previous = Some(CpuTime { read_ns: 1_000_000_000, cpu_ns: 1_000_000_000 });
/// let figures = unit_figures(&Measurement { now, previous });
/// assert_eq!((figures.cpu_percent, figures.memory_used, figures.pids), (50.0, 1048576.0, 3));
/// ```
pub fn unit_figures(measurement: &Measurement) -> Figures {
    let now = &measurement.now;
    let cpu_percent = match (measurement.previous.as_ref(), now.cpu_ns) {
        (Some(previous), Some(cpu_ns)) if now.read_ns > previous.read_ns => {
            cpu_ns.saturating_sub(previous.cpu_ns) as f64 / (now.read_ns - previous.read_ns) as f64
                * 100.0
        }
        _ => 0.0,
    };
    let counted = |value: Option<u64>| value.unwrap_or(0) as f64;
    Figures {
        cpu_percent,
        memory_used: counted(now.memory_bytes),
        memory_limit: 0.0,
        memory_percent: 0.0,
        network_rx: counted(now.ip_ingress_bytes),
        network_tx: counted(now.ip_egress_bytes),
        block_read: counted(now.io_read_bytes),
        block_write: counted(now.io_write_bytes),
        pids: now.tasks.unwrap_or(0),
    }
}
