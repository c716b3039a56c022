//! A Docker call as a value: what the engines that only pass calls on, or
//! keep them, handle once for every method.
//!
//! An engine implements the typed methods of [`Containers`] and [`Services`]
//! itself ([`super::Engine`], the simulated one). A wrapper that does the
//! same to every call (recording it, answering it from a recording, holding
//! back what it would change) implements [`Relay`] instead: it receives each
//! call as a [`Call`] and answers a [`Reply`], and both traits follow.
//! [`send`] turns a call back into the typed method of the engines a wrapper
//! wraps.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{DockerError, Result, Stats};
use crate::backend::{Backends, Containers, Counters, Services};
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
    /// `counters`: the container's counters read from its cgroup.
    Counters {
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
            Call::Counters { name } => write!(f, "cgroup counters of {name}"),
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

/// What an engine answers to a [`Call`], one variant per answer type.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// To `inspect`.
    Container(Container),
    /// To `list`.
    Summaries(Vec<Summary>),
    /// To `stop_timeout`.
    StopTimeout(Option<u32>),
    /// To a call that changes something: done.
    Done,
    /// To `one_shot`.
    Stats(Stats),
    /// To `measure`: the daemon's previous CPU reading and the new one.
    Measured(Option<CpuReading>, Stats),
    /// To `service`.
    Service(Service),
    /// To `services`.
    Services(Vec<ServiceSummary>),
    /// To `counters`: none when the engine cannot read them.
    Counters(Option<Counters>),
}

impl Reply {
    /// The answer as JSON, as recordings keep it: the typed value alone.
    pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            Reply::Container(value) => serde_json::to_value(value),
            Reply::Summaries(value) => serde_json::to_value(value),
            Reply::StopTimeout(value) => serde_json::to_value(value),
            Reply::Done => Ok(serde_json::Value::Null),
            Reply::Stats(value) => serde_json::to_value(value),
            Reply::Measured(cpu, stats) => serde_json::to_value((cpu, stats)),
            Reply::Service(value) => serde_json::to_value(value),
            Reply::Services(value) => serde_json::to_value(value),
            Reply::Counters(value) => serde_json::to_value(value),
        }
    }

    /// Reads back what [`Reply::to_json`] kept of the answer to `call`.
    pub fn from_json(call: &Call, value: serde_json::Value) -> serde_json::Result<Reply> {
        use serde_json::from_value as read;
        Ok(match call {
            Call::Inspect { .. } => Reply::Container(read(value)?),
            Call::List { .. } => Reply::Summaries(read(value)?),
            Call::StopTimeout { .. } => Reply::StopTimeout(read(value)?),
            Call::Start { .. }
            | Call::Stop { .. }
            | Call::Restart { .. }
            | Call::Pause { .. }
            | Call::Unpause { .. }
            | Call::Scale { .. }
            | Call::Redeploy { .. } => {
                read::<()>(value)?;
                Reply::Done
            }
            Call::OneShot { .. } => Reply::Stats(read(value)?),
            Call::Measure { .. } => {
                let (cpu, stats) = read(value)?;
                Reply::Measured(cpu, stats)
            }
            Call::Service { .. } => Reply::Service(read(value)?),
            Call::Services { .. } => Reply::Services(read(value)?),
            Call::Counters { .. } => Reply::Counters(read(value)?),
        })
    }
}

/// Sends `call` to the engine of its kind among `engines`, through its
/// typed method.
pub async fn send(engines: &Backends, call: Call) -> Result<Reply> {
    let containers = &*engines.containers;
    let services = &*engines.services;
    Ok(match call {
        Call::Inspect { name } => Reply::Container(containers.inspect(&name).await?),
        Call::List { label, all } => {
            Reply::Summaries(containers.list(label.as_deref(), all).await?)
        }
        Call::StopTimeout { name } => Reply::StopTimeout(containers.stop_timeout(&name).await?),
        Call::Start { name } => containers.start(&name).await.map(|()| Reply::Done)?,
        Call::Stop {
            name,
            timeout_seconds,
        } => containers
            .stop(&name, timeout_seconds)
            .await
            .map(|()| Reply::Done)?,
        Call::Restart {
            name,
            timeout_seconds,
        } => containers
            .restart(&name, timeout_seconds)
            .await
            .map(|()| Reply::Done)?,
        Call::Pause { name } => containers.pause(&name).await.map(|()| Reply::Done)?,
        Call::Unpause { name } => containers.unpause(&name).await.map(|()| Reply::Done)?,
        Call::OneShot { name } => Reply::Stats(containers.one_shot(&name).await?),
        Call::Measure { name } => {
            let (cpu, stats) = containers.measure(&name).await?;
            Reply::Measured(cpu, stats)
        }
        Call::Counters { name } => Reply::Counters(containers.counters(&name).await?),
        Call::Service { name } => Reply::Service(services.service(&name).await?),
        Call::Services { label } => Reply::Services(services.services(label.as_deref()).await?),
        Call::Scale {
            name,
            replicas,
            labels,
        } => services
            .scale(&name, replicas, &labels)
            .await
            .map(|()| Reply::Done)?,
        Call::Redeploy { name } => services.redeploy(&name).await.map(|()| Reply::Done)?,
    })
}

/// An engine that handles every call the same way: it gets each as a value,
/// and answers container and service calls by that alone.
#[async_trait]
pub trait Relay: Send + Sync + std::fmt::Debug {
    /// Answers one call.
    async fn relay(&self, call: Call) -> Result<Reply>;
}

/// The error for a reply of the wrong kind: a wrapper's bug, or a recording
/// edited by hand.
fn mismatched(call: &str, reply: &Reply) -> DockerError {
    DockerError::Protocol(format!("{call} was answered with {reply:?}"))
}

#[async_trait]
impl<T: Relay> Containers for T {
    async fn inspect(&self, name: &str) -> Result<Container> {
        match self.relay(Call::Inspect { name: name.into() }).await? {
            Reply::Container(container) => Ok(container),
            other => Err(mismatched("inspect", &other)),
        }
    }

    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        let label = label.map(str::to_owned);
        match self.relay(Call::List { label, all }).await? {
            Reply::Summaries(rows) => Ok(rows),
            other => Err(mismatched("list", &other)),
        }
    }

    async fn stop_timeout(&self, name: &str) -> Result<Option<u32>> {
        match self.relay(Call::StopTimeout { name: name.into() }).await? {
            Reply::StopTimeout(timeout) => Ok(timeout),
            other => Err(mismatched("stop-timeout", &other)),
        }
    }

    async fn start(&self, name: &str) -> Result<()> {
        done(
            self.relay(Call::Start { name: name.into() }).await?,
            "start",
        )
    }

    async fn stop(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        let call = Call::Stop {
            name: name.into(),
            timeout_seconds,
        };
        done(self.relay(call).await?, "stop")
    }

    async fn restart(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        let call = Call::Restart {
            name: name.into(),
            timeout_seconds,
        };
        done(self.relay(call).await?, "restart")
    }

    async fn pause(&self, name: &str) -> Result<()> {
        done(
            self.relay(Call::Pause { name: name.into() }).await?,
            "pause",
        )
    }

    async fn unpause(&self, name: &str) -> Result<()> {
        let reply = self.relay(Call::Unpause { name: name.into() }).await?;
        done(reply, "unpause")
    }

    async fn one_shot(&self, name: &str) -> Result<Stats> {
        match self.relay(Call::OneShot { name: name.into() }).await? {
            Reply::Stats(stats) => Ok(stats),
            other => Err(mismatched("one-shot", &other)),
        }
    }

    async fn measure(&self, name: &str) -> Result<(Option<CpuReading>, Stats)> {
        match self.relay(Call::Measure { name: name.into() }).await? {
            Reply::Measured(cpu, stats) => Ok((cpu, stats)),
            other => Err(mismatched("measure", &other)),
        }
    }

    async fn counters(&self, name: &str) -> Result<Option<Counters>> {
        match self.relay(Call::Counters { name: name.into() }).await? {
            Reply::Counters(counters) => Ok(counters),
            other => Err(mismatched("counters", &other)),
        }
    }
}

#[async_trait]
impl<T: Relay> Services for T {
    async fn service(&self, name: &str) -> Result<Service> {
        match self.relay(Call::Service { name: name.into() }).await? {
            Reply::Service(service) => Ok(service),
            other => Err(mismatched("service", &other)),
        }
    }

    async fn services(&self, label: Option<&str>) -> Result<Vec<ServiceSummary>> {
        let label = label.map(str::to_owned);
        match self.relay(Call::Services { label }).await? {
            Reply::Services(rows) => Ok(rows),
            other => Err(mismatched("services", &other)),
        }
    }

    async fn scale(
        &self,
        name: &str,
        replicas: u64,
        labels: &[(String, Option<String>)],
    ) -> Result<()> {
        let call = Call::Scale {
            name: name.into(),
            replicas,
            labels: labels.to_vec(),
        };
        done(self.relay(call).await?, "scale")
    }

    async fn redeploy(&self, name: &str) -> Result<()> {
        let reply = self.relay(Call::Redeploy { name: name.into() }).await?;
        done(reply, "redeploy")
    }
}

/// The answer to a call that changes something.
fn done(reply: Reply, call: &str) -> Result<()> {
    match reply {
        Reply::Done => Ok(()),
        other => Err(mismatched(call, &other)),
    }
}
