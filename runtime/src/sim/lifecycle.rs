//! How lifecycle calls change a container, as the Docker Engine changes it.
//!
//! One state machine for every engine that pretends: [`super::DryRun`]
//! applies it on top of real reads, [`super::Simulated`] to containers held
//! in memory. Measured against Docker 20.10: the same changes, the same
//! no-ops, and the same refusals with the daemon's own messages.

use std::time::SystemTime;

use crate::backend::docker::{DockerError, Result};
use crate::contract::{Container, Health, Status};
use crate::sandbox::grants::Verb;

/// The parts of a container's state that lifecycle calls change. The restart
/// count is not one of them: Docker counts only the restarts its restart
/// policy makes, never `docker restart`. Health is (measured on Docker 20.10):
/// a stop or a pause leaves a container with a health check `unhealthy`, a
/// start `starting` until its first check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lifecycle {
    pub(super) status: Status,
    pub(super) running: bool,
    pub(super) exit_code: i64,
    pub(super) started_ms: Option<u64>,
    pub(super) finished_ms: Option<u64>,
    pub(super) health: Health,
}

impl Lifecycle {
    pub(super) fn of(container: &Container) -> Lifecycle {
        Lifecycle {
            status: container.status,
            running: container.running,
            exit_code: container.exit_code,
            started_ms: container.started_ms,
            finished_ms: container.finished_ms,
            health: container.health,
        }
    }

    pub(super) fn show(self, container: &mut Container) {
        container.status = self.status;
        container.running = self.running;
        container.exit_code = self.exit_code;
        container.started_ms = self.started_ms;
        container.finished_ms = self.finished_ms;
        container.health = self.health;
    }

    fn is_up(self) -> bool {
        is_up(self.status)
    }

    fn started(self, now_ms: u64) -> Lifecycle {
        Lifecycle {
            status: Status::Running,
            running: true,
            exit_code: 0,
            started_ms: Some(now_ms),
            health: match self.health {
                Health::None => Health::None,
                _ => Health::Starting,
            },
            ..self
        }
    }

    /// Assumes the process exits cleanly on the stop signal; one killed after
    /// the timeout would leave 137 (see the module's note on limits).
    fn stopped(self, now_ms: u64) -> Lifecycle {
        Lifecycle {
            status: Status::Exited,
            running: false,
            exit_code: 0,
            finished_ms: Some(now_ms),
            health: match self.health {
                Health::None => Health::None,
                _ => Health::Unhealthy,
            },
            ..self
        }
    }
}

/// What `verb` does to a container in state `before` at `now_ms`, as the
/// Docker Engine does it (measured against Docker 20.10): the same changes,
/// the same no-ops, and the same refusals with the daemon's own messages.
pub(super) fn simulate(verb: Verb, before: Lifecycle, id: &str, now_ms: u64) -> Result<Lifecycle> {
    let refused = |message: String| Err(DockerError::Engine(message));
    let marked_for_removal = matches!(before.status, Status::Removing | Status::Dead);
    match verb {
        Verb::Start if marked_for_removal => {
            refused("container is marked for removal and cannot be started".to_owned())
        }
        Verb::Start if before.status == Status::Paused => {
            refused("cannot start a paused container, try unpause instead".to_owned())
        }
        // Starting a running container is answered "not modified".
        Verb::Start if before.is_up() => Ok(before),
        Verb::Start => Ok(before.started(now_ms)),
        // Stopping a stopped container is answered "not modified".
        Verb::Stop if !before.is_up() => Ok(before),
        Verb::Stop => Ok(before.stopped(now_ms)),
        Verb::Restart if marked_for_removal => {
            refused("container is marked for removal and cannot be started".to_owned())
        }
        // A restart stops (only a container that is up) then starts.
        Verb::Restart if before.is_up() => Ok(before.stopped(now_ms).started(now_ms)),
        Verb::Restart => Ok(before.started(now_ms)),
        Verb::Pause => match before.status {
            // The daemon stops a paused container's health checks and
            // reports it unhealthy until a check passes again.
            Status::Running => Ok(Lifecycle {
                status: Status::Paused,
                health: match before.health {
                    Health::None => Health::None,
                    _ => Health::Unhealthy,
                },
                ..before
            }),
            Status::Paused => refused(format!("Container {id} is already paused")),
            Status::Restarting => refused(format!(
                "Container {id} is restarting, wait until the container is running"
            )),
            _ => refused(format!("Container {id} is not running")),
        },
        Verb::Unpause => match before.status {
            Status::Paused => Ok(Lifecycle {
                status: Status::Running,
                ..before
            }),
            _ => refused(format!("Container {id} is not paused")),
        },
        Verb::Inspect | Verb::List | Verb::Stats | Verb::Log | Verb::Clock => Ok(before),
        // Service verbs never reach a container.
        Verb::Scale | Verb::Redeploy => Ok(before),
    }
}

/// Whether a container in `status` has processes: Docker's `State.Running`,
/// true while paused or restarting too, and what a listing without `all` shows.
pub(super) fn is_up(status: Status) -> bool {
    matches!(
        status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123abcd";

    fn state(status: Status, started_ms: Option<u64>, finished_ms: Option<u64>) -> Lifecycle {
        Lifecycle {
            status,
            running: is_up(status),
            exit_code: 0,
            started_ms,
            finished_ms,
            health: Health::None,
        }
    }

    #[test]
    fn each_call_changes_what_the_daemon_changes() {
        use Status::*;
        let (then, now) = (Some(100), Some(900));
        let cases = [
            // verb, before (status, started, finished), after
            (Verb::Start, (Created, None, None), (Running, now, None)),
            (Verb::Start, (Exited, then, then), (Running, now, then)),
            (Verb::Start, (Running, then, None), (Running, then, None)),
            (Verb::Stop, (Running, then, None), (Exited, then, now)),
            (Verb::Stop, (Paused, then, None), (Exited, then, now)),
            (Verb::Stop, (Exited, then, then), (Exited, then, then)),
            (Verb::Stop, (Created, None, None), (Created, None, None)),
            (Verb::Restart, (Running, then, None), (Running, now, now)),
            (Verb::Restart, (Paused, then, then), (Running, now, now)),
            (Verb::Restart, (Exited, then, then), (Running, now, then)),
            (Verb::Restart, (Created, None, None), (Running, now, None)),
            (Verb::Pause, (Running, then, None), (Paused, then, None)),
            (Verb::Unpause, (Paused, then, None), (Running, then, None)),
        ];
        for (verb, (status, started, finished), (s, st, fi)) in cases {
            let after = simulate(verb, state(status, started, finished), ID, 900);
            assert_eq!(after, Ok(state(s, st, fi)), "{verb} from {status:?}");
        }
    }

    #[test]
    fn a_start_makes_a_health_check_start_over() {
        let healthy = Lifecycle {
            health: Health::Healthy,
            ..state(Status::Running, Some(1), None)
        };
        for verb in [Verb::Restart, Verb::Stop] {
            let after = simulate(verb, healthy, ID, 9).unwrap();
            let expected = if verb == Verb::Stop {
                Health::Unhealthy
            } else {
                Health::Starting
            };
            assert_eq!(after.health, expected, "{verb}");
        }
        let unchecked = state(Status::Exited, Some(1), Some(2));
        assert_eq!(
            simulate(Verb::Start, unchecked, ID, 9).unwrap().health,
            Health::None
        );
    }

    #[test]
    fn a_start_clears_the_exit_code_and_a_stop_assumes_a_clean_exit() {
        let exited = Lifecycle {
            exit_code: 3,
            ..state(Status::Exited, Some(1), Some(2))
        };
        for verb in [Verb::Start, Verb::Restart] {
            assert_eq!(simulate(verb, exited, ID, 9).unwrap().exit_code, 0);
        }
        assert_eq!(simulate(Verb::Stop, exited, ID, 9).unwrap().exit_code, 3);
        let running = state(Status::Running, Some(1), None);
        assert_eq!(simulate(Verb::Stop, running, ID, 9).unwrap().exit_code, 0);
    }

    #[test]
    fn calls_the_daemon_refuses_are_refused_with_its_message() {
        use Status::*;
        let cases = [
            (
                Verb::Pause,
                Exited,
                format!("Container {ID} is not running"),
            ),
            (
                Verb::Pause,
                Created,
                format!("Container {ID} is not running"),
            ),
            (
                Verb::Pause,
                Paused,
                format!("Container {ID} is already paused"),
            ),
            (
                Verb::Unpause,
                Running,
                format!("Container {ID} is not paused"),
            ),
            (
                Verb::Unpause,
                Exited,
                format!("Container {ID} is not paused"),
            ),
            (
                Verb::Start,
                Paused,
                "cannot start a paused container, try unpause instead".to_owned(),
            ),
            (
                Verb::Start,
                Dead,
                "container is marked for removal and cannot be started".to_owned(),
            ),
        ];
        for (verb, status, message) in cases {
            assert_eq!(
                simulate(verb, state(status, Some(1), None), ID, 9),
                Err(DockerError::Engine(message)),
                "{verb} from {status:?}"
            );
        }
    }
}
