//! How lifecycle calls change a container, as the Docker Engine changes it
//! (measured against Docker 20.10): the same changes, the same "not
//! modified" no-ops, and the same refusals with the daemon's own messages.

/// Docker's `State.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Stopped.
    Exited,
    /// Failed to be removed.
    Dead,
}

/// Docker's `State.Health.Status`; `None` when the image has no check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// No health check.
    None,
    /// Waiting for the first check.
    Starting,
    /// The last checks passed.
    Healthy,
    /// The last checks failed.
    Unhealthy,
}

/// A call that changes a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `POST /containers/{name}/start`.
    Start,
    /// `POST /containers/{name}/stop`.
    Stop,
    /// `POST /containers/{name}/restart`.
    Restart,
    /// `POST /containers/{name}/pause`.
    Pause,
    /// `POST /containers/{name}/unpause`.
    Unpause,
}

impl Op {
    /// Every call, with its name in grants, audit lines and calls.
    pub const ALL: [(&'static str, Op); 5] = [
        ("start", Op::Start),
        ("stop", Op::Stop),
        ("restart", Op::Restart),
        ("pause", Op::Pause),
        ("unpause", Op::Unpause),
    ];

    /// The call named `name` (`stop`), if it changes a container.
    pub fn named(name: &str) -> Option<Op> {
        Op::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, op)| *op)
    }
}

/// Whether a container in `status` has processes: Docker's `State.Running`,
/// true while paused or restarting too, and what a listing without `all`
/// shows.
pub fn is_up(status: Status) -> bool {
    matches!(
        status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// The parts of a container's state that lifecycle calls change. The restart
/// count is not one of them: Docker counts only the restarts its restart
/// policy makes, never `docker restart`. Health is (measured on Docker 20.10):
/// a stop or a pause leaves a container with a health check `unhealthy`, a
/// start `starting` until its first check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// `State.Status`.
    pub status: Status,
    /// `State.Running`.
    pub running: bool,
    /// `State.ExitCode`.
    pub exit_code: i64,
    /// `State.StartedAt`, in milliseconds since the epoch.
    pub started_ms: Option<u64>,
    /// `State.FinishedAt`, in milliseconds since the epoch.
    pub finished_ms: Option<u64>,
    /// `State.Health.Status`.
    pub health: Health,
}

/// A container record that carries a [`Lifecycle`]: the WIT's `container`
/// in each crate's bindings ([`crate::wit_types!`] writes it).
pub trait Holds {
    /// The container's ID, for the daemon's messages.
    fn id(&self) -> &str;
    /// Its lifecycle state.
    fn lifecycle(&self) -> Lifecycle;
    /// Sets its lifecycle state.
    fn set_lifecycle(&mut self, lifecycle: Lifecycle);
}

/// Applies `op` to `container` at `now_ms`; a refusal (the daemon's words)
/// leaves it as it was.
pub fn apply(op: Op, container: &mut impl Holds, now_ms: u64) -> Result<(), String> {
    let after = container.lifecycle().after(op, container.id(), now_ms)?;
    container.set_lifecycle(after);
    Ok(())
}

impl Lifecycle {
    /// Whether the container has processes ([`is_up`]).
    pub fn is_up(self) -> bool {
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

    /// Assumes the process exits cleanly on the stop signal; one killed
    /// after the timeout would leave 137.
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

    /// What `op` leaves of a container in this state, whose ID is `id`, at
    /// `now_ms`; or the daemon's refusal.
    pub fn after(self, op: Op, id: &str, now_ms: u64) -> Result<Lifecycle, String> {
        let marked_for_removal = matches!(self.status, Status::Removing | Status::Dead);
        match op {
            Op::Start if marked_for_removal => {
                Err("container is marked for removal and cannot be started".to_owned())
            }
            Op::Start if self.status == Status::Paused => {
                Err("cannot start a paused container, try unpause instead".to_owned())
            }
            // Starting a running container is answered "not modified".
            Op::Start if self.is_up() => Ok(self),
            Op::Start => Ok(self.started(now_ms)),
            // Stopping a stopped container is answered "not modified".
            Op::Stop if !self.is_up() => Ok(self),
            Op::Stop => Ok(self.stopped(now_ms)),
            Op::Restart if marked_for_removal => {
                Err("container is marked for removal and cannot be started".to_owned())
            }
            // A restart stops (only a container that is up) then starts.
            Op::Restart if self.is_up() => Ok(self.stopped(now_ms).started(now_ms)),
            Op::Restart => Ok(self.started(now_ms)),
            Op::Pause => match self.status {
                // The daemon stops a paused container's health checks and
                // reports it unhealthy until a check passes again.
                Status::Running => Ok(Lifecycle {
                    status: Status::Paused,
                    health: match self.health {
                        Health::None => Health::None,
                        _ => Health::Unhealthy,
                    },
                    ..self
                }),
                Status::Paused => Err(format!("Container {id} is already paused")),
                Status::Restarting => Err(format!(
                    "Container {id} is restarting, wait until the container is running"
                )),
                _ => Err(format!("Container {id} is not running")),
            },
            Op::Unpause => match self.status {
                Status::Paused => Ok(Lifecycle {
                    status: Status::Running,
                    ..self
                }),
                _ => Err(format!("Container {id} is not paused")),
            },
        }
    }
}
