//! A unit call as a value: what recordings keep, replays answer and dry
//! runs simulate, as `backend/docker/call.rs` is for Docker calls. An engine
//! that handles every unit call alike implements [`UnitRelay`] and gets
//! [`Units`] from it.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Job, Result, SystemdError, Unit, UnitStats};
use crate::backend::Units;

/// One call of the [`Units`] trait, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum UnitCall {
    /// `unit`.
    Unit {
        /// The unit.
        name: String,
    },
    /// `units`.
    Units {
        /// The name pattern.
        pattern: String,
    },
    /// `start`.
    UnitStart {
        /// The unit.
        name: String,
    },
    /// `stop`.
    UnitStop {
        /// The unit.
        name: String,
        /// The stop's bound, in milliseconds.
        kill_after_ms: Option<u64>,
    },
    /// `restart`.
    UnitRestart {
        /// The unit.
        name: String,
        /// The bound of its stopping half, in milliseconds.
        kill_after_ms: Option<u64>,
    },
    /// `kill`.
    UnitKill {
        /// The unit.
        name: String,
        /// The signal.
        signal: i32,
    },
    /// `stats`.
    UnitStats {
        /// The unit.
        name: String,
    },
}

impl std::fmt::Display for UnitCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bound = |ms: &Option<u64>| {
            ms.map(|ms| format!(" (kill after {ms} ms)"))
                .unwrap_or_default()
        };
        match self {
            UnitCall::Unit { name } => write!(f, "unit {name}"),
            UnitCall::Units { pattern } => write!(f, "units {pattern}"),
            UnitCall::UnitStart { name } => write!(f, "unit-start {name}"),
            UnitCall::UnitStop {
                name,
                kill_after_ms,
            } => write!(f, "unit-stop {name}{}", bound(kill_after_ms)),
            UnitCall::UnitRestart {
                name,
                kill_after_ms,
            } => write!(f, "unit-restart {name}{}", bound(kill_after_ms)),
            UnitCall::UnitKill { name, signal } => write!(f, "unit-kill {name} {signal}"),
            UnitCall::UnitStats { name } => write!(f, "unit-stats {name}"),
        }
    }
}

impl UnitCall {
    /// The unit the call names, if it names one.
    pub fn name(&self) -> Option<&str> {
        match self {
            UnitCall::Units { .. } => None,
            UnitCall::Unit { name }
            | UnitCall::UnitStart { name }
            | UnitCall::UnitStop { name, .. }
            | UnitCall::UnitRestart { name, .. }
            | UnitCall::UnitKill { name, .. }
            | UnitCall::UnitStats { name } => Some(name),
        }
    }
}

/// What a unit call answers.
#[derive(Debug, Clone, PartialEq)]
pub enum UnitReply {
    /// To `unit`.
    Unit(Unit),
    /// To `units`.
    Units(Vec<Unit>),
    /// To `start`, `stop`, `restart`.
    Job(Job),
    /// To `kill`.
    Done,
    /// To `stats`.
    Stats(UnitStats),
}

impl UnitReply {
    /// The answer as JSON, as recordings keep it.
    pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            UnitReply::Unit(value) => serde_json::to_value(value),
            UnitReply::Units(value) => serde_json::to_value(value),
            UnitReply::Job(value) => serde_json::to_value(value),
            UnitReply::Done => Ok(serde_json::Value::Null),
            UnitReply::Stats(value) => serde_json::to_value(value),
        }
    }

    /// Reads back what [`UnitReply::to_json`] kept of the answer to `call`.
    pub fn from_json(call: &UnitCall, value: serde_json::Value) -> serde_json::Result<UnitReply> {
        use serde_json::from_value as read;
        Ok(match call {
            UnitCall::Unit { .. } => UnitReply::Unit(read(value)?),
            UnitCall::Units { .. } => UnitReply::Units(read(value)?),
            UnitCall::UnitStart { .. }
            | UnitCall::UnitStop { .. }
            | UnitCall::UnitRestart { .. } => UnitReply::Job(read(value)?),
            UnitCall::UnitKill { .. } => {
                read::<()>(value)?;
                UnitReply::Done
            }
            UnitCall::UnitStats { .. } => UnitReply::Stats(read(value)?),
        })
    }
}

fn bound(kill_after_ms: Option<u64>) -> Option<Duration> {
    kill_after_ms.map(Duration::from_millis)
}

fn millis(kill_after: Option<Duration>) -> Option<u64> {
    kill_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Sends `call` to `units` through its typed method.
pub async fn send(units: &dyn Units, call: UnitCall) -> Result<UnitReply> {
    Ok(match call {
        UnitCall::Unit { name } => UnitReply::Unit(units.unit(&name).await?),
        UnitCall::Units { pattern } => UnitReply::Units(units.units(&pattern).await?),
        UnitCall::UnitStart { name } => UnitReply::Job(units.start(&name).await?),
        UnitCall::UnitStop {
            name,
            kill_after_ms,
        } => UnitReply::Job(units.stop(&name, bound(kill_after_ms)).await?),
        UnitCall::UnitRestart {
            name,
            kill_after_ms,
        } => UnitReply::Job(units.restart(&name, bound(kill_after_ms)).await?),
        UnitCall::UnitKill { name, signal } => {
            units.kill(&name, signal).await?;
            UnitReply::Done
        }
        UnitCall::UnitStats { name } => UnitReply::Stats(units.stats(&name).await?),
    })
}

/// An engine that handles every unit call the same way, as a value.
#[async_trait]
pub trait UnitRelay: Send + Sync + std::fmt::Debug {
    /// Answers one call.
    async fn relay_unit(&self, call: UnitCall) -> Result<UnitReply>;
}

/// The error for a reply of the wrong kind: a wrapper's bug, or a recording
/// edited by hand.
fn mismatched(call: &str, reply: &UnitReply) -> SystemdError {
    SystemdError::Protocol(format!("{call} was answered with {reply:?}"))
}

fn job(call: &str, reply: UnitReply) -> Result<Job> {
    match reply {
        UnitReply::Job(job) => Ok(job),
        other => Err(mismatched(call, &other)),
    }
}

#[async_trait]
impl<T: UnitRelay> Units for T {
    async fn unit(&self, name: &str) -> Result<Unit> {
        match self
            .relay_unit(UnitCall::Unit { name: name.into() })
            .await?
        {
            UnitReply::Unit(unit) => Ok(unit),
            other => Err(mismatched("unit", &other)),
        }
    }

    async fn units(&self, pattern: &str) -> Result<Vec<Unit>> {
        let call = UnitCall::Units {
            pattern: pattern.into(),
        };
        match self.relay_unit(call).await? {
            UnitReply::Units(units) => Ok(units),
            other => Err(mismatched("units", &other)),
        }
    }

    async fn start(&self, name: &str) -> Result<Job> {
        let call = UnitCall::UnitStart { name: name.into() };
        job("unit-start", self.relay_unit(call).await?)
    }

    async fn stop(&self, name: &str, kill_after: Option<Duration>) -> Result<Job> {
        let call = UnitCall::UnitStop {
            name: name.into(),
            kill_after_ms: millis(kill_after),
        };
        job("unit-stop", self.relay_unit(call).await?)
    }

    async fn restart(&self, name: &str, kill_after: Option<Duration>) -> Result<Job> {
        let call = UnitCall::UnitRestart {
            name: name.into(),
            kill_after_ms: millis(kill_after),
        };
        job("unit-restart", self.relay_unit(call).await?)
    }

    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        let call = UnitCall::UnitKill {
            name: name.into(),
            signal,
        };
        match self.relay_unit(call).await? {
            UnitReply::Done => Ok(()),
            other => Err(mismatched("unit-kill", &other)),
        }
    }

    async fn stats(&self, name: &str) -> Result<UnitStats> {
        match self
            .relay_unit(UnitCall::UnitStats { name: name.into() })
            .await?
        {
            UnitReply::Stats(stats) => Ok(stats),
            other => Err(mismatched("unit-stats", &other)),
        }
    }
}
