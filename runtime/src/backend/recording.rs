//! Record every Docker call of a run, and answer a later run from that record.
//!
//! `smectl run --record FILE` wraps its Docker (the real one, or a dry run
//! of it) in [`Recording`]; `smectl test --replay FILE` runs the module
//! against `crate::sim::Replay`, which answers each call with the recorded answer as
//! long as the module asks exactly what it asked then, and otherwise stops
//! answering and keeps the first difference. Calls the gate denies never
//! reach Docker, so they are not in a recording; under the same
//! configuration a replay denies them again.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::docker::{Docker, DockerError, Result, Stats};
use crate::contract::{Container, CpuReading, Service, ServiceSummary, Summary};

/// One Docker request, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Call {
    /// `inspect`.
    Inspect {
        /// The container.
        name: String,
    },
    /// `list`.
    List {
        /// The label selector.
        label: Option<String>,
        /// Whether stopped containers are listed too.
        all: bool,
    },
    /// `stop_timeout`.
    StopTimeout {
        /// The container.
        name: String,
    },
    /// `start`.
    Start {
        /// The container.
        name: String,
    },
    /// `stop`.
    Stop {
        /// The container.
        name: String,
        /// The grace period asked for.
        timeout_seconds: Option<u32>,
    },
    /// `restart`.
    Restart {
        /// The container.
        name: String,
        /// The grace period asked for.
        timeout_seconds: Option<u32>,
    },
    /// `pause`.
    Pause {
        /// The container.
        name: String,
    },
    /// `unpause`.
    Unpause {
        /// The container.
        name: String,
    },
    /// `one_shot` stats.
    OneShot {
        /// The container.
        name: String,
    },
    /// `measure` stats.
    Measure {
        /// The container.
        name: String,
    },
    /// `service`: a Swarm service and its tasks.
    Service {
        /// The service.
        name: String,
    },
    /// `services`: a listing of Swarm services.
    Services {
        /// The label selector.
        label: Option<String>,
    },
    /// `scale`.
    Scale {
        /// The service.
        name: String,
        /// The replica count asked for.
        replicas: u64,
        /// The labels set (a `null` value removes the label).
        labels: Vec<(String, Option<String>)>,
    },
    /// `redeploy`.
    Redeploy {
        /// The service.
        name: String,
    },
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let timeout = |t: &Option<u32>| t.map(|t| format!(" (timeout {t} s)")).unwrap_or_default();
        match self {
            Call::Inspect { name } => write!(f, "inspect {name}"),
            Call::List { label, all } => write!(
                f,
                "list (label {}, all {all})",
                label.as_deref().unwrap_or("none")
            ),
            Call::StopTimeout { name } => write!(f, "stop-timeout {name}"),
            Call::Start { name } => write!(f, "start {name}"),
            Call::Stop {
                name,
                timeout_seconds,
            } => write!(f, "stop {name}{}", timeout(timeout_seconds)),
            Call::Restart {
                name,
                timeout_seconds,
            } => write!(f, "restart {name}{}", timeout(timeout_seconds)),
            Call::Pause { name } => write!(f, "pause {name}"),
            Call::Unpause { name } => write!(f, "unpause {name}"),
            Call::OneShot { name } => write!(f, "one-shot stats of {name}"),
            Call::Measure { name } => write!(f, "measured stats of {name}"),
            Call::Service { name } => write!(f, "inspect service {name}"),
            Call::Services { label } => write!(
                f,
                "list services (label {})",
                label.as_deref().unwrap_or("none")
            ),
            Call::Scale {
                name,
                replicas,
                labels,
            } => {
                write!(f, "scale service {name} to {replicas}")?;
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(key, value)| match value {
                        Some(value) => format!("{key}={value:?}"),
                        None => format!("{key} removed"),
                    })
                    .collect();
                if !labels.is_empty() {
                    write!(f, " (labels {})", labels.join(", "))?;
                }
                Ok(())
            }
            Call::Redeploy { name } => write!(f, "redeploy service {name}"),
        }
    }
}

/// A call and what the engine answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The request.
    #[serde(flatten)]
    pub call: Call,
    /// The answer: the value as JSON, or the engine's error.
    pub answer: std::result::Result<serde_json::Value, DockerError>,
}

/// The version of the recording format [`RecordFile`] writes: 2 added the
/// Swarm service calls.
pub const RECORD_VERSION: u32 = 2;

/// The oldest recording format still read: each version only added calls,
/// so an older recording reads as it was written.
pub const OLDEST_RECORD_VERSION: u32 = 1;

/// A recorded run, as `smectl run --record` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFile {
    /// [`RECORD_VERSION`].
    pub sme_recording: u32,
    /// The service the request named.
    pub service: String,
    /// The operation it named.
    pub operation: String,
    /// The modules that ran, `name` and `sha256`, in order.
    pub modules: Vec<RecordedModule>,
    /// Whether the run was a dry run (mutating calls simulated).
    pub dry_run: bool,
    /// Every Docker call and its answer, in order.
    pub calls: Vec<Exchange>,
    /// What the executor printed.
    pub output: String,
    /// Its exit code.
    pub exit_code: i32,
}

/// A module named in a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedModule {
    /// Its name (`stop`, `metrics.d/uptime`).
    pub name: String,
    /// The sha256 of its file.
    pub sha256: String,
}

/// A [`Docker`] that passes every call on and keeps it with its answer.
#[derive(Debug)]
pub struct Recording {
    inner: Arc<dyn Docker>,
    exchanges: Mutex<Vec<Exchange>>,
}

impl Recording {
    /// Records the calls made to `inner`.
    pub fn new(inner: Arc<dyn Docker>) -> Recording {
        Recording {
            inner,
            exchanges: Mutex::new(Vec::new()),
        }
    }

    /// Every call so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.exchanges).clone()
    }

    fn keep<T: Serialize>(&self, call: Call, answer: Result<T>) -> Result<T> {
        let kept = match &answer {
            Ok(value) => serde_json::to_value(value)
                .map_err(|e| DockerError::Protocol(format!("cannot record the answer: {e}"))),
            Err(error) => Err(error.clone()),
        };
        lock(&self.exchanges).push(Exchange { call, answer: kept });
        answer
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn name(name: &str) -> String {
    name.to_owned()
}

#[async_trait]
impl Docker for Recording {
    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    async fn inspect(&self, n: &str) -> Result<Container> {
        let answer = self.inner.inspect(n).await;
        self.keep(Call::Inspect { name: name(n) }, answer)
    }

    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        let answer = self.inner.list(label, all).await;
        let label = label.map(str::to_owned);
        self.keep(Call::List { label, all }, answer)
    }

    async fn stop_timeout(&self, n: &str) -> Result<Option<u32>> {
        let answer = self.inner.stop_timeout(n).await;
        self.keep(Call::StopTimeout { name: name(n) }, answer)
    }

    async fn start(&self, n: &str) -> Result<()> {
        let answer = self.inner.start(n).await;
        self.keep(Call::Start { name: name(n) }, answer)
    }

    async fn stop(&self, n: &str, timeout_seconds: Option<u32>) -> Result<()> {
        let answer = self.inner.stop(n, timeout_seconds).await;
        let call = Call::Stop {
            name: name(n),
            timeout_seconds,
        };
        self.keep(call, answer)
    }

    async fn restart(&self, n: &str, timeout_seconds: Option<u32>) -> Result<()> {
        let answer = self.inner.restart(n, timeout_seconds).await;
        let call = Call::Restart {
            name: name(n),
            timeout_seconds,
        };
        self.keep(call, answer)
    }

    async fn pause(&self, n: &str) -> Result<()> {
        let answer = self.inner.pause(n).await;
        self.keep(Call::Pause { name: name(n) }, answer)
    }

    async fn unpause(&self, n: &str) -> Result<()> {
        let answer = self.inner.unpause(n).await;
        self.keep(Call::Unpause { name: name(n) }, answer)
    }

    async fn one_shot(&self, n: &str) -> Result<Stats> {
        let answer = self.inner.one_shot(n).await;
        self.keep(Call::OneShot { name: name(n) }, answer)
    }

    async fn measure(&self, n: &str) -> Result<(Option<CpuReading>, Stats)> {
        let answer = self.inner.measure(n).await;
        self.keep(Call::Measure { name: name(n) }, answer)
    }

    async fn service(&self, n: &str) -> Result<Service> {
        let answer = self.inner.service(n).await;
        self.keep(Call::Service { name: name(n) }, answer)
    }

    async fn services(&self, label: Option<&str>) -> Result<Vec<ServiceSummary>> {
        let answer = self.inner.services(label).await;
        let label = label.map(str::to_owned);
        self.keep(Call::Services { label }, answer)
    }

    async fn scale(
        &self,
        n: &str,
        replicas: u64,
        labels: &[(String, Option<String>)],
    ) -> Result<()> {
        let answer = self.inner.scale(n, replicas, labels).await;
        let call = Call::Scale {
            name: name(n),
            replicas,
            labels: labels.to_vec(),
        };
        self.keep(call, answer)
    }

    async fn redeploy(&self, n: &str) -> Result<()> {
        let answer = self.inner.redeploy(n).await;
        self.keep(Call::Redeploy { name: name(n) }, answer)
    }
}
