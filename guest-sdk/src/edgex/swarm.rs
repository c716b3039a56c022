//! The reference operations on a Docker Swarm service.
//!
//! The reference executor knew containers only; on a swarm, an EdgeX
//! service is a Swarm service, and stopping its container would only make
//! the orchestrator start another. So a stop scales the service to zero
//! (remembering the count in a note on the service), a start scales it back,
//! a restart redeploys it, and each waits for the tasks to get there.
//! Texts follow the reference's wherever it had one.

use crate::edgex::{EXIT_STATUS_1, Lifecycle, SUCCESS, daemon_error, expect_state, metric_fields};
use crate::services::{self, Service, TaskState, UpdateState};
use crate::{Error, Figures, Metric, MetricValue, clock, log};

/// How long a wait first pauses before looking at the service again, in
/// milliseconds; each pause doubles, up to [`POLL_MAX_MS`].
const POLL_MS: u64 = 100;

/// The longest pause between two looks. Each look costs three host calls
/// (`now-ms`, `sleep`, `inspect`), all counted against the module's
/// `host_calls` (100 by default): looking every 100 ms for the default 12 s
/// would need about 360. Doubling from 100 ms to 1 s needs about 45 for the
/// whole wait, and still sees a quick change within 100 to 300 ms.
const POLL_MAX_MS: u64 = 1000;

/// The note a stop leaves on a replicated service: its replica count, for
/// the start that follows.
const REPLICAS_NOTE: &str = "replicas";

/// Performs `action` on the Swarm service `service`, then waits up to
/// `wait_ms` for its tasks to be where `action` leaves them, looking after
/// 100 ms, then twice as long each time up to 1 s ([`clock::sleep`]). On success this prints what the reference
/// printed, [`SUCCESS`].
///
/// - **stop** scales a replicated service to zero, keeping its replica count
///   in the note `replicas` (the label `sme.note.replicas`), and waits until
///   no task runs. A service already at zero with nothing running is left
///   alone, with no update at all. A global service is refused: it has no
///   count to scale.
/// - **start** scales a service at zero back to the noted count (1 when
///   there is none), removing the note, and waits until that many tasks run;
///   a service not at zero (or global) gets no update, only the wait.
/// - **restart** redeploys the service (`docker service update --force`)
///   and waits until the update has completed with every task the service
///   wants running; a replicated service at zero is started instead, as
///   `docker restart` starts a stopped container.
///
/// The texts: a service that does not get there in time is
/// `<prefix>: service is not running but should be` (or `... is running but
/// shouldn't be` for a stop), as the reference said of a container; an
/// update Docker paused or rolled back is `Error restarting service: update
/// <state>: <Docker's message>`; anything else as [`service_failure`].
///
/// ```
/// use sme_guest::edgex::{Lifecycle, SUCCESS, service_lifecycle};
/// # use sme_guest::testing::{self, Scene};
/// # Scene::new().service(testing::service("edgex-core-data").replicas(0)).install();
/// // A service stopped by SME earlier starts with the count it had.
/// assert_eq!(service_lifecycle(Lifecycle::Start, "edgex-core-data", 12_000), Ok(SUCCESS.to_owned()));
/// # assert_eq!(testing::service_state("edgex-core-data").unwrap().running_tasks, 1);
/// ```
pub fn service_lifecycle(action: Lifecycle, service: &str, wait_ms: u32) -> Result<String, String> {
    let found = services::inspect(service).map_err(|error| service_failure(action, &error))?;
    match action {
        Lifecycle::Stop => stop(service, found, wait_ms),
        Lifecycle::Restart if found.replicas != Some(0) => restart(service, found, wait_ms),
        Lifecycle::Start | Lifecycle::Restart => start(action, service, found, wait_ms),
    }
}

/// The text for a failed call on a Swarm service. What the Docker Engine
/// refused ([`Error::NotFound`], [`Error::Docker`]) is printed as the docker
/// CLI printed a refusal, after Go's `exit status 1: `:
/// `exit status 1: Error response from daemon: service <name> not found\n`
/// (the CLI's `failed to start containers` line has no counterpart for a
/// service); anything else (a denial, a timeout) is `<prefix>: <message>`.
///
/// ```
/// use sme_guest::Error;
/// use sme_guest::edgex::{Lifecycle, service_failure};
/// let missing = Error::NotFound("service edgex-x not found".into());
/// assert_eq!(
///     service_failure(Lifecycle::Start, &missing),
///     "exit status 1: Error response from daemon: service edgex-x not found\n"
/// );
/// let denied = Error::Denied("module start may not scale edgex-x".into());
/// assert_eq!(
///     service_failure(Lifecycle::Start, &denied),
///     "Error starting service: module start may not scale edgex-x"
/// );
/// ```
pub fn service_failure(action: Lifecycle, error: &Error) -> String {
    match error {
        Error::NotFound(message) | Error::Docker(message) => {
            format!("{EXIT_STATUS_1}{}", daemon_error(message))
        }
        other => format!("{}: {}", action.prefix(), other.message()),
    }
}

/// The reference executor's metrics for a Swarm service, summed over its
/// running tasks on this node (a daemon measures only its own containers),
/// each measured against a kept CPU reading at most `window_ms` old
/// ([`services::task_stats`]), then three counts of its own:
///
/// - `cpuUsedPercent`, `memoryUsed`, `raw`: as for a container
///   ([`metric_fields`]), from the tasks' figures summed ([`Figures::sum`]):
///   CPU %, memory, I/O and PIDs added up, memory % of the summed limits. No
///   task measured here prints the zeros of a stopped container.
/// - `desiredTasks`: the tasks the service wants running (its replica count,
///   or one per eligible node for a global service).
/// - `runningTasks`: its tasks running anywhere in the swarm.
/// - `measuredTasks`: the tasks measured here.
///
/// A daemon's refusal (a missing service) is printed as the CLI printed it,
/// `exit status 1: Error response from daemon: service <name> not found\n`;
/// anything else is the host's message.
///
/// ```
/// use sme_guest::edgex::service_metrics;
/// # use sme_guest::testing::{self, Scene, TaskStats};
/// # Scene::new()
/// #     .service(testing::service("edgex-core-data").replicas(2).task_stats(vec![
/// #         TaskStats::cpu_memory(1.25, 1 << 20, 1 << 30),
/// #         TaskStats::cpu_memory(2.5, 3 << 20, 1 << 30),
/// #     ]))
/// #     .install();
/// let fields = service_metrics("edgex-core-data", 5_000)?;
/// let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
/// assert_eq!(
///     names,
///     ["cpuUsedPercent", "memoryUsed", "raw", "desiredTasks", "runningTasks", "measuredTasks"]
/// );
/// # Ok::<(), String>(())
/// ```
pub fn service_metrics(service: &str, window_ms: u32) -> Result<Vec<Metric>, String> {
    let refused = |error: Error| match error {
        Error::NotFound(message) | Error::Docker(message) => {
            format!("{EXIT_STATUS_1}{}", daemon_error(&message))
        }
        other => other.message().to_owned(),
    };
    let found = services::inspect(service).map_err(refused)?;
    let measured = services::task_stats(service, window_ms).map_err(refused)?;
    let figures: Vec<Figures> = measured
        .iter()
        .map(|task| Figures::of(&task.measurement))
        .collect();
    let mut fields = metric_fields(&Figures::sum(&figures));
    let counts = [
        ("desiredTasks", i64::from(found.desired_tasks)),
        ("runningTasks", i64::from(found.running_tasks)),
        ("measuredTasks", measured.len() as i64),
    ];
    fields.extend(counts.into_iter().map(|(name, count)| Metric {
        name: name.to_owned(),
        value: MetricValue::Integer(count),
    }));
    Ok(fields)
}

fn stop(service: &str, found: Service, wait_ms: u32) -> Result<String, String> {
    let action = Lifecycle::Stop;
    let Some(replicas) = found.replicas else {
        return Err(format!(
            "{}: service {service} is global (one task per node): SME stops only replicated \
             services",
            action.prefix()
        ));
    };
    if replicas == 0 && found.running_tasks == 0 {
        return Ok(SUCCESS.to_owned());
    }
    let current = if replicas > 0 {
        let note = (REPLICAS_NOTE.to_owned(), Some(replicas.to_string()));
        services::scale(service, 0, &[note]).map_err(|error| service_failure(action, &error))?;
        None
    } else {
        // Already scaled to zero, its last tasks still stopping.
        Some(found)
    };
    wait(action, service, wait_ms, current, |service| {
        if service.running_tasks == 0 {
            Progress::Done
        } else {
            Progress::Waiting
        }
    })
}

fn start(action: Lifecycle, service: &str, found: Service, wait_ms: u32) -> Result<String, String> {
    let current = if found.replicas == Some(0) {
        let replicas = found
            .note(REPLICAS_NOTE)
            .and_then(|count| count.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1);
        let note = (REPLICAS_NOTE.to_owned(), None);
        services::scale(service, replicas, &[note])
            .map_err(|error| service_failure(action, &error))?;
        None
    } else {
        Some(found)
    };
    wait(action, service, wait_ms, current, |service| {
        let running = u64::from(service.running_tasks);
        let wanted = match service.replicas {
            Some(replicas) => replicas,
            None => u64::from(service.desired_tasks),
        };
        if running >= wanted && wanted >= 1 {
            Progress::Done
        } else {
            Progress::Waiting
        }
    })
}

fn restart(service: &str, found: Service, wait_ms: u32) -> Result<String, String> {
    let action = Lifecycle::Restart;
    let before = found.version;
    let old: Vec<String> = found.tasks.iter().map(|task| task.id.clone()).collect();
    services::redeploy(service).map_err(|error| service_failure(action, &error))?;
    let settled = |service: &Service| {
        service
            .tasks
            .iter()
            .filter(|task| {
                task.state == TaskState::Running && task.desired_state == TaskState::Running
            })
            .count()
    };
    let check = |service: &Service| {
        if service.version <= before {
            // Still the spec as it was: not this update yet.
            return Progress::Waiting;
        }
        if let Some(state) = stalled(service.update_state) {
            return Progress::Failed(format!(
                "{}: update {state}: {}",
                action.prefix(),
                service.update_message
            ));
        }
        let wanted = service.desired_tasks as usize;
        if service.update_state == UpdateState::Completed
            && settled(service) == wanted
            && wanted >= 1
        {
            Progress::Done
        } else {
            Progress::Waiting
        }
    };
    // Docker replaces one task at a time and watches each for 5 s (its
    // default update settings), so more than two replicas take longer than
    // the agent waits. Out of time, an update that is still going, with new
    // tasks running and none failed, is a restart under way: it succeeds,
    // and the log says how far it got.
    let under_way = |service: &Service| {
        let replaced = service
            .tasks
            .iter()
            .filter(|task| {
                task.state == TaskState::Running
                    && task.desired_state == TaskState::Running
                    && !old.contains(&task.id)
            })
            .count();
        let going = service.version > before && service.update_state == UpdateState::Updating;
        if going && replaced >= 1 {
            log::warn(&format!(
                "{}: rolling update still going after {wait_ms} ms, {replaced} of {} tasks \
                 replaced; Docker completes it",
                service.name, service.desired_tasks
            ));
            true
        } else {
            false
        }
    };
    wait_or(action, service, wait_ms, None, check, under_way)
}

/// The name of an update state in which Docker no longer brings the new
/// tasks up: paused, or rolling back.
fn stalled(state: UpdateState) -> Option<&'static str> {
    match state {
        UpdateState::Paused => Some("paused"),
        UpdateState::RollbackStarted => Some("rollback-started"),
        UpdateState::RollbackPaused => Some("rollback-paused"),
        UpdateState::RollbackCompleted => Some("rollback-completed"),
        UpdateState::None | UpdateState::Updating | UpdateState::Completed => None,
    }
}

/// Where a service stands for the operation being waited on.
enum Progress {
    Done,
    Waiting,
    /// It will not get there: the text to print.
    Failed(String),
}

/// Looks at the service (`current` first, when given, else a fresh
/// inspection) until `check` says it is done or failed, at most `wait_ms`
/// after the first look, pausing [`POLL_MS`] and doubling up to
/// [`POLL_MAX_MS`]. Out of time (or out of the
/// module's deadline, which [`clock::sleep`] refuses to pass), the verdict
/// is the reference's for a container left in the wrong state.
fn wait(
    action: Lifecycle,
    service: &str,
    wait_ms: u32,
    current: Option<Service>,
    check: impl Fn(&Service) -> Progress,
) -> Result<String, String> {
    wait_or(action, service, wait_ms, current, check, |_| false)
}

/// [`wait`], where running out of time is still a success when `late` says
/// so of the service as last seen.
fn wait_or(
    action: Lifecycle,
    service: &str,
    wait_ms: u32,
    mut current: Option<Service>,
    check: impl Fn(&Service) -> Progress,
    late: impl Fn(&Service) -> bool,
) -> Result<String, String> {
    let mut last: Option<Service>;
    let deadline = clock::now_ms().saturating_add(u64::from(wait_ms));
    let mut poll = POLL_MS;
    loop {
        let seen = match current.take() {
            Some(seen) => seen,
            None => services::inspect(service).map_err(|error| service_failure(action, &error))?,
        };
        match check(&seen) {
            Progress::Done => return Ok(SUCCESS.to_owned()),
            Progress::Failed(text) => return Err(text),
            Progress::Waiting => {}
        }
        last = Some(seen);
        let now = clock::now_ms();
        if now >= deadline {
            break;
        }
        let pause = (deadline - now).min(poll) as u32;
        if clock::sleep(pause).is_err() {
            break;
        }
        poll = (poll * 2).min(POLL_MAX_MS);
    }
    if last.as_ref().is_some_and(late) {
        return Ok(SUCCESS.to_owned());
    }
    // Left running when it should not be, or the other way round.
    expect_state(action, !action.should_run())
}
