//! A change whose answer was lost: the request may have reached the daemon
//! (the connection was cut after it was sent, the answer was cut short, or
//! none came in time), so SME inspects the container afresh and answers
//! from what it finds, never from a guess.
//!
//! The change counts as done only when the container is in the state the
//! verb promises (`start`: running; `stop`: not running; `restart`: running
//! and started after the request was sent; `pause`: paused; `unpause`:
//! running and not paused). Otherwise the call fails, saying what was lost
//! and what the inspection found.

use std::time::{Duration, Instant, SystemTime};

use crate::backend::Containers;
use crate::contract::{CallError, Container, Status};
use crate::sandbox::grants::Verb;

/// How long, beyond the call's own timeout, finding out may take.
pub(super) const SETTLE: Duration = Duration::from_secs(2);

/// How often the container is inspected again while its state is not yet
/// the one the change promises (a stop still in its grace period).
const POLL: Duration = Duration::from_millis(100);

/// What SME knows of a change whose answer was lost.
pub(super) struct Lost<'a> {
    pub verb: Verb,
    pub name: &'a str,
    /// When the request was sent, by this machine's clock.
    pub sent: SystemTime,
    /// Why there is no answer (SME's message for it).
    pub why: String,
    /// Until when the container may still reach the promised state: the
    /// grace period the change asked for, and [`SETTLE`] more.
    pub until: Instant,
}

/// Inspects the container until it shows the state the change promises or
/// `lost.until` passes (at least once). `Ok` holds what the audit line
/// notes; `Err` says why the change cannot be said to have happened.
pub(super) async fn settle(
    engine: &dyn Containers,
    lost: Lost<'_>,
) -> Result<Option<String>, CallError> {
    let sent_ms = lost
        .sent
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let Lost {
        verb, name, why, ..
    } = &lost;
    loop {
        let wait = lost
            .until
            .saturating_duration_since(Instant::now())
            .max(POLL * 5);
        let seen = match tokio::time::timeout(wait, engine.inspect(name)).await {
            Ok(Ok(container)) if done(*verb, &container, sent_ms) => {
                return Ok(Some(format!(
                    "{why}; a fresh inspection shows it {}",
                    state(&container)
                )));
            }
            Ok(Ok(container)) => format!("shows it {}", state(&container)),
            Ok(Err(error)) => format!("failed too ({error})"),
            Err(_) => "got no answer either".to_owned(),
        };
        if Instant::now() + POLL >= lost.until {
            return Err(CallError::Timeout(format!(
                "{verb} of {name}: {why}; a fresh inspection {seen}, so the {verb} cannot be \
                 said to have happened"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether `container` is in the state `verb` promises, for a request sent
/// at `sent_ms` (milliseconds since the Unix epoch).
fn done(verb: Verb, container: &Container, sent_ms: u64) -> bool {
    let paused = container.status == Status::Paused;
    match verb {
        Verb::Start => container.running,
        Verb::Stop => !container.running,
        // Running is not enough: it may never have stopped.
        Verb::Restart => container.running && container.started_ms.is_some_and(|t| t >= sent_ms),
        Verb::Pause => paused,
        Verb::Unpause => container.running && !paused,
        _ => false,
    }
}

/// The container's state in words: `exited (exit code 0)`, `running`...
fn state(container: &Container) -> String {
    let status = match container.status {
        Status::Created => "created",
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Restarting => "restarting",
        Status::Removing => "being removed",
        Status::Exited => "exited",
        Status::Dead => "dead",
    };
    match container.status {
        Status::Exited | Status::Dead => {
            format!("{status} (exit code {})", container.exit_code)
        }
        _ => status.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Health;

    fn container(status: Status, started_ms: Option<u64>) -> Container {
        Container {
            id: "0123".into(),
            name: "web".into(),
            image: "busybox".into(),
            status,
            running: matches!(status, Status::Running | Status::Paused),
            health: Health::None,
            exit_code: 143,
            restart_count: 0,
            created_ms: 1,
            started_ms,
            finished_ms: None,
            labels: Vec::new(),
        }
    }

    #[test]
    fn each_verb_counts_only_its_own_end_state() {
        let running = container(Status::Running, Some(1_000));
        let exited = container(Status::Exited, Some(1_000));
        let paused = container(Status::Paused, Some(1_000));
        assert!(done(Verb::Stop, &exited, 500) && !done(Verb::Stop, &running, 500));
        assert!(done(Verb::Start, &running, 500) && !done(Verb::Start, &exited, 500));
        assert!(done(Verb::Pause, &paused, 500) && !done(Verb::Pause, &running, 500));
        assert!(done(Verb::Unpause, &running, 500) && !done(Verb::Unpause, &paused, 500));
        // A restart shows in a start after the request, not in running alone.
        assert!(done(Verb::Restart, &running, 1_000));
        assert!(!done(Verb::Restart, &running, 1_001));
        assert!(!done(Verb::Restart, &container(Status::Running, None), 0));
        assert!(!done(Verb::Inspect, &running, 0));
    }

    #[test]
    fn states_read_as_words() {
        assert_eq!(
            state(&container(Status::Exited, None)),
            "exited (exit code 143)"
        );
        assert_eq!(state(&container(Status::Paused, None)), "paused");
    }
}
