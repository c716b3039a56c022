//! A Docker that reads for real but only records what it would change.
//!
//! `smectl run --dry-run` runs a policy against the real daemon through this
//! wrapper: inspections, listings and stats go to the daemon; start, stop,
//! restart, pause and unpause are recorded and reported as done. Later
//! inspections and listings see the state the recorded calls would have left
//! (status, `State.Running`, exit code, `StartedAt`, `FinishedAt`), and a call
//! the daemon would refuse in that state is refused with the daemon's own
//! message, so a policy that checks its own work behaves as it would for real.
//!
//! This is a preview, not a sandbox: the module runs unchanged and can still
//! behave differently for real (it may read the clock, or a process may take
//! longer to stop or exit with another code than the simulation assumes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::lifecycle::{Lifecycle, is_up, now_ms, simulate};
use super::{Docker, Result, Stats};
use crate::bindings::{Container, CpuReading, Summary};
use crate::grants::Verb;

/// A mutating call that was recorded instead of performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// What would have been done.
    pub verb: Verb,
    /// To which container.
    pub container: String,
    /// The stop or restart timeout, if one was given.
    pub timeout_seconds: Option<u32>,
}

/// The dry-run wrapper around a real [`Docker`].
#[derive(Debug)]
pub struct DryRun {
    inner: Arc<dyn Docker>,
    state: Mutex<Simulation>,
}

#[derive(Debug, Default)]
struct Simulation {
    recorded: Vec<Recorded>,
    /// What the recorded calls would have left, by container name.
    lifecycle: HashMap<String, Lifecycle>,
}

impl DryRun {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Docker>) -> DryRun {
        DryRun {
            inner,
            state: Mutex::new(Simulation::default()),
        }
    }

    /// The calls recorded so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state().recorded.clone()
    }

    fn state(&self) -> MutexGuard<'_, Simulation> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn record(&self, verb: Verb, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        // The call would fail on a missing container, or in a state the
        // daemon refuses it in; so does its dry run, and nothing is recorded.
        let container = self.inspect(name).await?;
        let after = simulate(verb, Lifecycle::of(&container), &container.id, now_ms())?;
        let mut state = self.state();
        state.lifecycle.insert(name.to_owned(), after);
        state.recorded.push(Recorded {
            verb,
            container: name.to_owned(),
            timeout_seconds,
        });
        Ok(())
    }
}

#[async_trait]
impl Docker for DryRun {
    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    async fn inspect(&self, name: &str) -> Result<Container> {
        let mut container = self.inner.inspect(name).await?;
        if let Some(lifecycle) = self.state().lifecycle.get(name) {
            lifecycle.show(&mut container);
        }
        Ok(container)
    }

    async fn stop_timeout(&self, name: &str) -> Result<Option<u32>> {
        self.inner.stop_timeout(name).await
    }

    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        let simulated = self.state().lifecycle.clone();
        if simulated.is_empty() {
            return self.inner.list(label, all).await;
        }
        // A simulated start can bring a stopped container into a listing of
        // running ones, so ask for every container and filter here as the
        // daemon would: without `all`, only containers that are up.
        let mut rows = self.inner.list(label, true).await?;
        for row in &mut rows {
            if let Some(lifecycle) = simulated.get(&row.name) {
                row.status = lifecycle.status;
            }
        }
        if !all {
            rows.retain(|row| is_up(row.status));
        }
        Ok(rows)
    }

    async fn start(&self, name: &str) -> Result<()> {
        self.record(Verb::Start, name, None).await
    }

    async fn stop(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        self.record(Verb::Stop, name, timeout_seconds).await
    }

    async fn restart(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        self.record(Verb::Restart, name, timeout_seconds).await
    }

    async fn pause(&self, name: &str) -> Result<()> {
        self.record(Verb::Pause, name, None).await
    }

    async fn unpause(&self, name: &str) -> Result<()> {
        self.record(Verb::Unpause, name, None).await
    }

    async fn one_shot(&self, name: &str) -> Result<Stats> {
        self.inner.one_shot(name).await
    }

    async fn measure(&self, name: &str) -> Result<(Option<CpuReading>, Stats)> {
        self.inner.measure(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::{Health, Status};
    use crate::docker::DockerError;

    const ID: &str = "0123abcd";

    /// One real-looking container, as the daemon reports it.
    #[derive(Debug)]
    struct Fake(Container);

    #[async_trait]
    impl Docker for Fake {
        fn endpoint(&self) -> &str {
            "fake"
        }
        async fn inspect(&self, name: &str) -> Result<Container> {
            if name == self.0.name {
                Ok(self.0.clone())
            } else {
                Err(DockerError::NotFound(name.to_owned()))
            }
        }
        async fn stop_timeout(&self, _: &str) -> Result<Option<u32>> {
            Ok(None)
        }
        async fn list(&self, _: Option<&str>, all: bool) -> Result<Vec<Summary>> {
            let row = Summary {
                id: self.0.id.clone(),
                name: self.0.name.clone(),
                image: self.0.image.clone(),
                status: self.0.status,
                labels: Vec::new(),
            };
            Ok(if all || self.0.running {
                vec![row]
            } else {
                Vec::new()
            })
        }
        async fn start(&self, _: &str) -> Result<()> {
            unreachable!("a dry run never starts")
        }
        async fn stop(&self, _: &str, _: Option<u32>) -> Result<()> {
            unreachable!("a dry run never stops")
        }
        async fn restart(&self, _: &str, _: Option<u32>) -> Result<()> {
            unreachable!("a dry run never restarts")
        }
        async fn pause(&self, _: &str) -> Result<()> {
            unreachable!("a dry run never pauses")
        }
        async fn unpause(&self, _: &str) -> Result<()> {
            unreachable!("a dry run never unpauses")
        }
        async fn one_shot(&self, _: &str) -> Result<Stats> {
            Err(DockerError::Engine("no stats".into()))
        }
        async fn measure(&self, _: &str) -> Result<(Option<CpuReading>, Stats)> {
            Err(DockerError::Engine("no stats".into()))
        }
    }

    fn running_container() -> Container {
        Container {
            id: ID.to_owned(),
            name: "web".to_owned(),
            image: "busybox".to_owned(),
            status: Status::Running,
            running: true,
            health: Health::None,
            exit_code: 0,
            restart_count: 2,
            created_ms: 10,
            started_ms: Some(100),
            finished_ms: None,
            labels: Vec::new(),
        }
    }

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn later_reads_see_the_recorded_calls() {
        let dry = DryRun::new(Arc::new(Fake(running_container())));
        block_on(async {
            let before = now_ms();
            dry.stop("web", Some(3)).await.unwrap();
            let stopped = dry.inspect("web").await.unwrap();
            assert_eq!((stopped.status, stopped.running), (Status::Exited, false));
            assert_eq!(stopped.started_ms, Some(100));
            assert!(stopped.finished_ms.unwrap() >= before);
            assert!(dry.list(None, false).await.unwrap().is_empty());
            assert_eq!(
                dry.list(None, true).await.unwrap()[0].status,
                Status::Exited
            );

            dry.restart("web", None).await.unwrap();
            let restarted = dry.inspect("web").await.unwrap();
            assert_eq!(restarted.status, Status::Running);
            assert!(restarted.started_ms.unwrap() >= before);
            assert_eq!(restarted.finished_ms, stopped.finished_ms);
            assert_eq!(restarted.restart_count, 2, "docker restart counts nothing");
            assert_eq!(dry.list(None, false).await.unwrap().len(), 1);
        });
        let verbs: Vec<Verb> = dry.recorded().iter().map(|r| r.verb).collect();
        assert_eq!(verbs, [Verb::Stop, Verb::Restart]);
        assert_eq!(dry.recorded()[0].timeout_seconds, Some(3));
    }

    #[test]
    fn a_refused_call_is_answered_like_the_daemon_and_not_recorded() {
        let dry = DryRun::new(Arc::new(Fake(running_container())));
        block_on(async {
            dry.pause("web").await.unwrap();
            assert_eq!(
                dry.pause("web").await,
                Err(DockerError::Engine(format!(
                    "Container {ID} is already paused"
                )))
            );
            assert_eq!(
                dry.list(None, false).await.unwrap()[0].status,
                Status::Paused
            );
            assert!(dry.inspect("web").await.unwrap().running);
            assert_eq!(
                dry.start("gone").await,
                Err(DockerError::NotFound("gone".into()))
            );
        });
        assert_eq!(dry.recorded().len(), 1);
    }
}
