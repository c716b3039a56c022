//! A Docker that reads for real but only records what it would change.
//!
//! `smectl run --dry-run` runs a policy against the real daemon through this
//! wrapper: inspections, listings and stats go to the daemon; start, stop,
//! restart, pause and unpause are recorded and reported as done. Later
//! inspections of a container see the state the recorded call would have left
//! it in, so a policy that checks its own work behaves as it would for real.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{Docker, Result, Stats};
use crate::bindings::{Container, CpuReading, Status, Summary};
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
    recorded: Mutex<Vec<Recorded>>,
}

impl DryRun {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Docker>) -> DryRun {
        DryRun {
            inner,
            recorded: Mutex::new(Vec::new()),
        }
    }

    /// The calls recorded so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn record(&self, verb: Verb, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        // The call would fail on a missing container; so does its dry run.
        self.inner.inspect(name).await?;
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Recorded {
                verb,
                container: name.to_owned(),
                timeout_seconds,
            });
        Ok(())
    }

    /// The state the last recorded call on `name` would have left.
    fn simulated(&self, name: &str) -> Option<Status> {
        let recorded = self.recorded.lock().unwrap_or_else(PoisonError::into_inner);
        recorded
            .iter()
            .rev()
            .find(|call| call.container == name)
            .map(|call| match call.verb {
                Verb::Stop => Status::Exited,
                Verb::Pause => Status::Paused,
                _ => Status::Running,
            })
    }
}

#[async_trait]
impl Docker for DryRun {
    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    async fn inspect(&self, name: &str) -> Result<Container> {
        let mut container = self.inner.inspect(name).await?;
        if let Some(status) = self.simulated(name) {
            container.status = status;
            container.running = status != Status::Exited;
        }
        Ok(container)
    }

    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        self.inner.list(label, all).await
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
