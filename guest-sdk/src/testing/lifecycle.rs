//! How each lifecycle verb changes a container: the runtime's `simulate`
//! (`runtime/src/sim/lifecycle.rs`) over the guest's types, so the fake
//! changes state and refuses calls exactly as the simulated engine and the
//! Docker Engine do. The guest SDK cannot depend on the host crate, so this
//! is a copy: change both together (the runtime's is held against the real
//! daemon by `kit::the_simulation_answers_and_changes_state_as_the_daemon_does`).

use crate::containers::{Container, Health, Status};

/// A verb of the module's grant that addresses containers or services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Verb {
    Inspect,
    List,
    Stats,
    Start,
    Stop,
    Restart,
    Pause,
    Unpause,
    Scale,
    Redeploy,
}

impl Verb {
    /// Every verb, as written in grants, scenes and [`super::calls`].
    const ALL: [(&'static str, Verb); 10] = [
        ("inspect", Verb::Inspect),
        ("list", Verb::List),
        ("stats", Verb::Stats),
        ("start", Verb::Start),
        ("stop", Verb::Stop),
        ("restart", Verb::Restart),
        ("pause", Verb::Pause),
        ("unpause", Verb::Unpause),
        ("scale", Verb::Scale),
        ("redeploy", Verb::Redeploy),
    ];

    /// The verb named `text`. A scene naming an unknown verb is a mistake in
    /// the test, so this panics with the accepted names.
    pub(crate) fn named(text: &str) -> Verb {
        Verb::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, verb)| *verb)
            .unwrap_or_else(|| {
                let names: Vec<&str> = Verb::ALL.iter().map(|(name, _)| *name).collect();
                panic!(
                    "sme_guest::testing: unknown verb {text:?}; use one of {}",
                    names.join(", ")
                )
            })
    }

    pub(crate) fn name(self) -> &'static str {
        Verb::ALL
            .iter()
            .find(|(_, verb)| *verb == self)
            .map_or("", |(name, _)| name)
    }
}

/// Whether a container in `status` has processes: Docker's `State.Running`,
/// true while paused or restarting too, and what a listing without `all`
/// shows.
pub(crate) fn is_up(status: Status) -> bool {
    matches!(
        status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// The parts of a container's state that lifecycle calls change. The
/// restart count is not one of them: Docker counts only the restarts its
/// restart policy makes, never `docker restart`. A stop or pause leaves a
/// container with a health check `unhealthy`, a start `starting`, as Docker
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    status: Status,
    running: bool,
    exit_code: i64,
    started_ms: Option<u64>,
    finished_ms: Option<u64>,
    health: Health,
}

impl State {
    fn of(container: &Container) -> State {
        State {
            status: container.status,
            running: container.running,
            exit_code: container.exit_code,
            started_ms: container.started_ms,
            finished_ms: container.finished_ms,
            health: container.health,
        }
    }

    fn show(self, container: &mut Container) {
        container.status = self.status;
        container.running = self.running;
        container.exit_code = self.exit_code;
        container.started_ms = self.started_ms;
        container.finished_ms = self.finished_ms;
        container.health = self.health;
    }

    fn started(self, now_ms: u64) -> State {
        State {
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

    /// Assumes the process exits cleanly on the stop signal, as the runtime's
    /// simulation does.
    fn stopped(self, now_ms: u64) -> State {
        State {
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

/// Applies `verb` to `container` at `now_ms` as the Docker Engine does: the
/// same changes, the same "not modified" no-ops, and the same refusals with
/// the daemon's own messages (the container is then left as it was).
pub(crate) fn apply(verb: Verb, container: &mut Container, now_ms: u64) -> Result<(), String> {
    let before = State::of(container);
    let id = &container.id;
    let marked_for_removal = matches!(before.status, Status::Removing | Status::Dead);
    let up = is_up(before.status);
    let after = match verb {
        Verb::Start if marked_for_removal => {
            return Err("container is marked for removal and cannot be started".to_owned());
        }
        Verb::Start if before.status == Status::Paused => {
            return Err("cannot start a paused container, try unpause instead".to_owned());
        }
        // Starting a running container is answered "not modified".
        Verb::Start if up => before,
        Verb::Start => before.started(now_ms),
        // Stopping a stopped container is answered "not modified".
        Verb::Stop if !up => before,
        Verb::Stop => before.stopped(now_ms),
        Verb::Restart if marked_for_removal => {
            return Err("container is marked for removal and cannot be started".to_owned());
        }
        // A restart stops (only a container that is up) then starts.
        Verb::Restart if up => before.stopped(now_ms).started(now_ms),
        Verb::Restart => before.started(now_ms),
        Verb::Pause => match before.status {
            // Docker reports a paused container with a health check unhealthy.
            Status::Running => State {
                status: Status::Paused,
                health: match before.health {
                    Health::None => Health::None,
                    _ => Health::Unhealthy,
                },
                ..before
            },
            Status::Paused => return Err(format!("Container {id} is already paused")),
            Status::Restarting => {
                return Err(format!(
                    "Container {id} is restarting, wait until the container is running"
                ));
            }
            _ => return Err(format!("Container {id} is not running")),
        },
        Verb::Unpause => match before.status {
            Status::Paused => State {
                status: Status::Running,
                ..before
            },
            _ => return Err(format!("Container {id} is not paused")),
        },
        // Reads change nothing; scale and redeploy address services only.
        Verb::Inspect | Verb::List | Verb::Stats | Verb::Scale | Verb::Redeploy => before,
    };
    after.show(container);
    Ok(())
}
