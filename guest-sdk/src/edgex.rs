//! What the EdgeX reference Docker executor does, as building blocks.
//!
//! The default policies are one call each into this module; example policies
//! add their own checks before or after the same calls. Texts and formats are
//! the reference executor's, so the agent sees exactly what it used to see.
//!
//! Every operation first asks [`systemd::target`] whether the request is
//! about a systemd unit (the operator's `[systemd]` configuration; see
//! [`unit_lifecycle`] and [`unit_metrics`]), then [`services::target`]
//! whether it is about a Docker Swarm service (`[swarm]`).
//! When it is not, the operation is the reference executor's on the
//! container, call for call. When it is, the operation is carried out on the
//! service the way a Swarm operator would (see [`service_lifecycle`] and
//! [`service_metrics`]), with the same texts wherever the reference had one.

mod swarm;
mod units;

pub use swarm::{service_failure, service_lifecycle, service_metrics};
pub use units::{DEFAULT_SAMPLE_MS, expect_unit_state, unit_figures, unit_lifecycle, unit_metrics};

use crate::container_config::DOCKER_DEFAULT_STOP_TIMEOUT;
use crate::figures::{Figures, json_string};
use crate::{
    Error, Metric, MetricValue, container_config, containers, counters, cpu_window, log, services,
    stats, systemd,
};

/// What the reference executor prints when an operation succeeds: the JSON
/// encoding of an empty string.
pub const SUCCESS: &str = "\"\"";

/// The longest grace period, in seconds, a stop or restart asks Docker for
/// (the default of the default policies' `grace_cap_s` setting).
///
/// The agent gives up after 20 s, and SME's limits are set inside that: each
/// Docker call may take `docker_timeout_ms` (12 s), the module `deadline_ms`
/// (15 s), the request `request_deadline_ms` (16 s). A stop is one call:
/// Docker sends SIGTERM, waits the grace period, then sends SIGKILL and
/// waits for the exit (well under 1 s for a process that is not stuck in
/// the kernel; 2 s is allowed here, and for a restart the start). So
/// grace + 2 s must stay under 12 s: 10 s fits, with the reading of the
/// container's stop timeout and the check of its state (milliseconds each)
/// inside the module's 15 s. 10 s is also Docker's default, so a container
/// that sets no stop timeout is stopped exactly as the reference stops it;
/// only a longer grace period is shortened.
pub const DEFAULT_GRACE_CAP: u32 = 10;

/// How long a start, stop or restart of a Swarm service waits for its tasks
/// by default, in milliseconds (the default of the default policies'
/// `swarm_wait_ms` setting).
///
/// The agent gives up after 20 s and the module's deadline is 15 s: the
/// inspection and the one update before the wait take well under a second
/// each on a healthy manager, so 12 s of waiting leaves room for them and
/// for the answer. A task usually starts within a few seconds; one that
/// needs longer is reported as not running, as the reference reported a
/// container that did not come up.
pub const DEFAULT_SWARM_WAIT_MS: u32 = 12_000;

/// How long [`metrics`] accepts a kept CPU reading to be, in milliseconds:
/// what [`stats::recent`] accepts.
pub const RECENT_WINDOW_MS: u32 = 5_000;

/// What one lifecycle operation may spend waiting: the settings of the
/// default policies.
///
/// ```
/// use sme_guest::edgex::{Budget, DEFAULT_GRACE_CAP, DEFAULT_SWARM_WAIT_MS};
/// let budget = Budget { swarm_wait_ms: 5_000, ..Budget::default() };
/// assert_eq!((budget.grace_cap_s, budget.swarm_wait_ms), (DEFAULT_GRACE_CAP, 5_000));
/// # let _ = DEFAULT_SWARM_WAIT_MS;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The longest grace period, in seconds, a container's stop or restart
    /// asks Docker for (see [`Lifecycle::perform_within`]).
    pub grace_cap_s: u32,
    /// How long, in milliseconds, a Swarm service's start, stop or restart
    /// waits for its tasks (see [`service_lifecycle`]).
    pub swarm_wait_ms: u32,
}

impl Default for Budget {
    /// [`DEFAULT_GRACE_CAP`] and [`DEFAULT_SWARM_WAIT_MS`].
    fn default() -> Budget {
        Budget {
            grace_cap_s: DEFAULT_GRACE_CAP,
            swarm_wait_ms: DEFAULT_SWARM_WAIT_MS,
        }
    }
}

/// A lifecycle operation of the reference executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// `docker start`; the container must be running afterwards.
    Start,
    /// `docker stop`; the container must not be running afterwards.
    Stop,
    /// `docker restart`; the container must be running afterwards.
    Restart,
}

impl Lifecycle {
    /// The prefix of the reference executor's error texts for this operation.
    pub fn prefix(self) -> &'static str {
        match self {
            Lifecycle::Start => "Error starting service",
            Lifecycle::Stop => "Error stopping service",
            Lifecycle::Restart => "Error restarting service",
        }
    }

    /// Whether the container must be running once the operation is done.
    pub fn should_run(self) -> bool {
        self != Lifecycle::Stop
    }

    /// Asks the host to perform the operation, with the container's own
    /// grace period shortened to [`DEFAULT_GRACE_CAP`] when it is longer.
    pub fn perform(self, service: &str) -> Result<(), Error> {
        self.perform_within(service, DEFAULT_GRACE_CAP)
    }

    /// Asks the host to perform the operation. A stop or restart gives the
    /// container its own grace period (Docker's `StopTimeout`, 10 s when
    /// unset) but at most `cap_seconds`, so the answer comes in time for the
    /// agent; a shortened grace period is logged, and the host's audit line
    /// of the stop records the timeout asked for.
    pub fn perform_within(self, service: &str, cap_seconds: u32) -> Result<(), Error> {
        if self == Lifecycle::Start {
            return containers::start(service);
        }
        let own = container_config::stop_timeout(service)?.unwrap_or(DOCKER_DEFAULT_STOP_TIMEOUT);
        let timeout = own.min(cap_seconds);
        if timeout < own {
            log::warn(&format!(
                "{service}: grace period shortened from {own} s to {timeout} s so the {} \
                 answers within the agent's 20 s (setting grace_cap_s)",
                self.verb()
            ));
        }
        match self {
            Lifecycle::Stop => containers::stop(service, Some(timeout)),
            _ => containers::restart(service, Some(timeout)),
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Lifecycle::Start => "start",
            Lifecycle::Stop => "stop",
            Lifecycle::Restart => "restart",
        }
    }
}

/// Performs `action` on the service's container and checks its state, exactly
/// as the reference executor does, or on the Swarm service the request is
/// for (see [`lifecycle_with`]), with the default [`Budget`]. This is the
/// whole default policy for `start`, `stop` and `restart`.
///
/// ```no_run
/// use sme_guest::edgex::{Lifecycle, lifecycle};
/// let printed = lifecycle(Lifecycle::Stop, "edgex-core-data");
/// ```
pub fn lifecycle(action: Lifecycle, service: &str) -> Result<String, String> {
    lifecycle_with(action, service, Budget::default())
}

/// [`lifecycle`], with at most `cap_seconds` of grace period for a
/// container's stop or restart (see [`Lifecycle::perform_within`]).
pub fn lifecycle_within(
    action: Lifecycle,
    service: &str,
    cap_seconds: u32,
) -> Result<String, String> {
    let budget = Budget {
        grace_cap_s: cap_seconds,
        ..Budget::default()
    };
    lifecycle_with(action, service, budget)
}

/// [`lifecycle`] within `budget`. It asks [`systemd::target`] first: when
/// the request is about a unit, the operation is [`unit_lifecycle`] on it,
/// its stop bounded by `budget.grace_cap_s`. Then [`services::target`]: when
/// the request is about a Swarm service, the operation is
/// [`service_lifecycle`] on it, waiting at most `budget.swarm_wait_ms`;
/// otherwise it is [`container_lifecycle`], exactly the reference's. A
/// failure to tell (a denied or failed look-up in `auto` mode) is
/// `<prefix>: <message>`.
///
/// ```
/// use sme_guest::edgex::{Budget, Lifecycle, SUCCESS, lifecycle_with};
/// # use sme_guest::testing::{self, Scene};
/// # Scene::new()
/// #     .service(testing::service("edgex-core-data").replicas(2))
/// #     .swarm_target(Some("edgex-core-data"))
/// #     .install();
/// let budget = Budget { swarm_wait_ms: 5_000, ..Budget::default() };
/// assert_eq!(lifecycle_with(Lifecycle::Stop, "edgex-core-data", budget), Ok(SUCCESS.to_owned()));
/// # assert_eq!(testing::service_state("edgex-core-data").unwrap().note("replicas"), Some("2"));
/// ```
pub fn lifecycle_with(action: Lifecycle, service: &str, budget: Budget) -> Result<String, String> {
    match systemd::target() {
        Err(error) => return Err(format!("{}: {}", action.prefix(), error.message())),
        Ok(Some(unit)) => return unit_lifecycle(action, &unit, budget.grace_cap_s),
        Ok(None) => {}
    }
    match services::target() {
        Err(error) => Err(format!("{}: {}", action.prefix(), error.message())),
        Ok(Some(target)) => service_lifecycle(action, &target, budget.swarm_wait_ms),
        Ok(None) => container_lifecycle(action, service, budget.grace_cap_s),
    }
}

/// The reference executor's operation on the container `service`: `action`
/// with at most `cap_seconds` of grace period (see
/// [`Lifecycle::perform_within`]), then [`verify`].
pub fn container_lifecycle(
    action: Lifecycle,
    service: &str,
    cap_seconds: u32,
) -> Result<String, String> {
    action
        .perform_within(service, cap_seconds)
        .map_err(|error| failure(action, service, &error))?;
    verify(action, service)
}

/// The reference executor's text for a failed operation.
///
/// When the Docker Engine refused the request ([`Error::NotFound`] or
/// [`Error::Docker`], whose text is the daemon's own message), this is what
/// the reference printed: Go's `exit status 1: ` and the docker CLI's output,
/// see [`cli_failure`]. Anything the reference could not have answered (a
/// denial, a timeout, an unreachable daemon) is `<prefix>: <SME's message>`.
///
/// ```
/// use sme_guest::Error;
/// use sme_guest::edgex::{Lifecycle, failure};
/// let missing = Error::NotFound("No such container: edgex-x".into());
/// assert_eq!(
///     failure(Lifecycle::Stop, "edgex-x", &missing),
///     "exit status 1: Error response from daemon: No such container: edgex-x\n"
/// );
/// ```
pub fn failure(action: Lifecycle, service: &str, error: &Error) -> String {
    match error {
        Error::NotFound(message) | Error::Docker(message) => cli_failure(action, service, message),
        other => format!("{}: {}", action.prefix(), other.message()),
    }
}

/// What the reference printed when the docker CLI's `start`, `stop` or
/// `restart` failed on the daemon's `message`: Go's `exit status 1: `, the
/// CLI's `Error response from daemon: <message>` line and, for `start`, the
/// CLI's summary line `Error: failed to start containers: <name>`. Every line
/// ends with a newline, as the CLI printed it.
pub fn cli_failure(action: Lifecycle, service: &str, message: &str) -> String {
    let mut text = format!("{EXIT_STATUS_1}{}", daemon_error(message));
    if action == Lifecycle::Start {
        text.push_str(&format!("Error: failed to start containers: {service}\n"));
    }
    text
}

/// The docker CLI's line for an error the daemon answered with `message`.
pub fn daemon_error(message: &str) -> String {
    format!("Error response from daemon: {message}\n")
}

/// Go's text for a command that exited with status 1, which the reference
/// put before the command's output. The docker CLI exits 1 on every error.
pub const EXIT_STATUS_1: &str = "exit status 1: ";

/// Inspects the container after `action` and checks it is (or is not)
/// running, with the reference executor's texts. A container gone by then is
/// what the reference's `docker inspect` answered:
/// `<prefix>: exit status 1: []\nError: No such object: <name>\n`.
pub fn verify(action: Lifecycle, service: &str) -> Result<String, String> {
    let prefix = action.prefix();
    let container = containers::inspect(service).map_err(|error| match error {
        Error::NotFound(_) => {
            format!("{prefix}: {EXIT_STATUS_1}[]\nError: No such object: {service}\n")
        }
        other => format!("{prefix}: {}", other.message()),
    })?;
    expect_state(action, container.running)
}

/// The reference executor's verdict on the state a container was left in.
pub fn expect_state(action: Lifecycle, running: bool) -> Result<String, String> {
    let prefix = action.prefix();
    match (running, action.should_run()) {
        (false, true) => Err(format!("{prefix}: service is not running but should be")),
        (true, false) => Err(format!("{prefix}: service is running but shouldn't be")),
        _ => Ok(SUCCESS.to_owned()),
    }
}

/// The reference executor's inspection text when no container matched its
/// name (printed after its prefix). Docker answers a missing name with an
/// error instead, see [`verify`]; this stays for policies of their own.
pub fn not_found(service: &str) -> String {
    format!("container {service} not found")
}

/// The reference executor's metrics: `cpuUsedPercent`, `memoryUsed` and
/// `raw`, measured with the host's fast path ([`stats::recent`], a kept
/// reading at most 5 s old). This is the whole default metrics policy. A
/// daemon's refusal (a missing container) is printed as the reference
/// printed `docker stats`' failure:
/// `exit status 1: Error response from daemon: <message>\n`.
///
/// When the request is about a Swarm service ([`services::target`]), these
/// are [`service_metrics`] over its tasks, measured against kept readings at
/// most [`RECENT_WINDOW_MS`] old.
pub fn metrics(service: &str) -> Result<Vec<Metric>, String> {
    if let Some(unit) = unit_target()? {
        return unit_metrics(&unit, RECENT_WINDOW_MS, DEFAULT_SAMPLE_MS);
    }
    match services::target().map_err(|error| error.message().to_owned())? {
        Some(target) => service_metrics(&target, RECENT_WINDOW_MS),
        None => metrics_from(stats::recent(service)),
    }
}

/// [`metrics`], measuring CPU against a kept reading at most `window_ms`
/// old ([`cpu_window::recent_within`]); when there is none, the host
/// measures as `docker stats` does (1 to 2 s). A Swarm service's tasks are
/// measured with the same window.
pub fn metrics_within(service: &str, window_ms: u32) -> Result<Vec<Metric>, String> {
    if let Some(unit) = unit_target()? {
        return unit_metrics(&unit, window_ms, DEFAULT_SAMPLE_MS);
    }
    match services::target().map_err(|error| error.message().to_owned())? {
        Some(target) => service_metrics(&target, window_ms),
        None => metrics_from(cpu_window::recent_within(service, window_ms)),
    }
}

/// [`metrics_within`], from the container's cgroup counters where the
/// runtime can read them ([`counters::measure`]): against a kept reading at
/// most `window_ms` old, else two reads `sample_ms` apart, never waiting for
/// Docker's collector. Where the files cannot be read, exactly
/// [`metrics_within`]. A Swarm service's tasks are measured as there.
pub fn metrics_counted(
    service: &str,
    window_ms: u32,
    sample_ms: u32,
) -> Result<Vec<Metric>, String> {
    if let Some(unit) = unit_target()? {
        return unit_metrics(&unit, window_ms, sample_ms);
    }
    match services::target().map_err(|error| error.message().to_owned())? {
        Some(target) => service_metrics(&target, window_ms),
        None => metrics_from(
            counters::measure(service, window_ms, sample_ms).map(|sourced| sourced.measurement),
        ),
    }
}

/// The unit the request is about, if any; a failure to tell is printed as
/// its message.
fn unit_target() -> Result<Option<String>, String> {
    systemd::target().map_err(|error| error.message())
}

fn metrics_from(measurement: Result<stats::Measurement, Error>) -> Result<Vec<Metric>, String> {
    let measurement = measurement.map_err(|error| match error {
        Error::NotFound(message) | Error::Docker(message) => {
            format!("{EXIT_STATUS_1}{}", daemon_error(&message))
        }
        other => other.message().to_owned(),
    })?;
    Ok(metric_fields(&Figures::of(&measurement)))
}

/// The reference executor's three fields for these figures. As the reference
/// did, the two numbers are read back from the formatted `raw` strings, so
/// they carry the same rounding.
pub fn metric_fields(figures: &Figures) -> Vec<Metric> {
    let raw = figures.raw();
    let memory = raw.mem_usage.split(' ').next().unwrap_or_default();
    vec![
        Metric {
            name: "cpuUsedPercent".to_owned(),
            value: MetricValue::Number(percent_value(&raw.cpu_perc)),
        },
        Metric {
            name: "memoryUsed".to_owned(),
            value: MetricValue::Integer(memory_bytes(memory)),
        },
        Metric {
            name: "raw".to_owned(),
            value: MetricValue::Json(raw.to_json()),
        },
    ]
}

/// The number at the start of a `docker stats` percentage (`5.08%` is 5.08),
/// or -1 when there is none, as the reference executor read it.
pub fn percent_value(text: &str) -> f64 {
    leading_number(text).map_or(-1.0, |(value, _)| value)
}

/// Bytes in a `docker stats` memory figure (`5.234MiB` is 5488247), KiB, MiB
/// and GiB being powers of 1024, rounded to the nearest byte; -1 when there is
/// no number followed by a unit. Like the reference, other units are not
/// scaled.
pub fn memory_bytes(text: &str) -> i64 {
    let Some((value, unit)) = leading_number(text) else {
        return -1;
    };
    let scale = match unit {
        "" => return -1,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    };
    (value * scale + 0.5) as i64
}

/// Splits `text` into a leading decimal number and the rest.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let value = text[..end].parse().ok()?;
    Some((value, &text[end..]))
}

/// Quotes `text` as a JSON string, for policies that build `json` metric
/// values by hand.
pub fn json_quote(text: &str) -> String {
    json_string(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_back_like_the_reference() {
        assert_eq!(percent_value("5.08%"), 5.08);
        assert_eq!(percent_value("0.00%"), 0.0);
        assert_eq!(percent_value("--"), -1.0);
        assert_eq!(memory_bytes("5.234MiB"), 5_488_247);
        assert_eq!(memory_bytes("512B"), 512);
        assert_eq!(memory_bytes("0B"), 0);
        assert_eq!(memory_bytes("1.5KiB"), 1536);
        assert_eq!(memory_bytes("1.952GiB"), 2_095_944_040);
        assert_eq!(memory_bytes("--"), -1);
        assert_eq!(memory_bytes("12"), -1);
    }

    #[test]
    fn state_checks_use_the_reference_texts() {
        assert_eq!(expect_state(Lifecycle::Start, true), Ok(SUCCESS.to_owned()));
        assert_eq!(expect_state(Lifecycle::Stop, false), Ok(SUCCESS.to_owned()));
        assert_eq!(
            expect_state(Lifecycle::Start, false),
            Err("Error starting service: service is not running but should be".to_owned())
        );
        assert_eq!(
            expect_state(Lifecycle::Restart, false),
            Err("Error restarting service: service is not running but should be".to_owned())
        );
        assert_eq!(
            expect_state(Lifecycle::Stop, true),
            Err("Error stopping service: service is running but shouldn't be".to_owned())
        );
    }

    #[test]
    fn failure_texts_are_the_reference_texts() {
        let missing = Error::NotFound("No such container: svc".to_owned());
        assert_eq!(
            failure(Lifecycle::Stop, "svc", &missing),
            "exit status 1: Error response from daemon: No such container: svc\n"
        );
        assert_eq!(
            failure(Lifecycle::Restart, "svc", &missing),
            "exit status 1: Error response from daemon: No such container: svc\n"
        );
        assert_eq!(
            failure(Lifecycle::Start, "svc", &missing),
            "exit status 1: Error response from daemon: No such container: svc\n\
             Error: failed to start containers: svc\n"
        );
        let paused =
            Error::Docker("cannot start a paused container, try unpause instead".to_owned());
        assert_eq!(
            failure(Lifecycle::Start, "svc", &paused),
            "exit status 1: Error response from daemon: \
             cannot start a paused container, try unpause instead\n\
             Error: failed to start containers: svc\n"
        );
        let unreachable = Error::Timeout("cannot reach the Docker Engine".to_owned());
        assert_eq!(
            failure(Lifecycle::Stop, "svc", &unreachable),
            "Error stopping service: cannot reach the Docker Engine"
        );
        let denied = Error::Denied("module stop may not stop svc".to_owned());
        assert_eq!(
            failure(Lifecycle::Restart, "svc", &denied),
            "Error restarting service: module stop may not stop svc"
        );
        assert_eq!(Lifecycle::Restart.prefix(), "Error restarting service");
    }
}
