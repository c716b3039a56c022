//! The Docker Engine: containers and Swarm services.
//!
//! The Engine API client, [`Engine`], implements the backend's
//! [`Containers`](crate::backend::Containers) and
//! [`Services`](crate::backend::Services); so does the simulated engine
//! (`crate::sim`). The wrappers that treat every call alike (recording,
//! replay, dry run) get each call as a value instead ([`call`]).

pub mod call;
pub mod cgroup;
mod engine;
mod raw;

pub use call::{Call, Relay, Reply};
pub use engine::{Engine, RECONNECT};

use crate::contract::{CallError, Sample};

/// Why a Docker request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DockerError {
    /// No container has this name. Printed in the daemon's words for a
    /// missing name, also when SME itself found that the name addresses no
    /// container (an ID prefix, see [`crate::names::could_be_id_prefix`]).
    #[error("No such container: {0}")]
    NotFound(String),
    /// No Swarm service has this name: the daemon's message for it.
    #[error("service {0} not found")]
    NoService(String),
    /// The request cannot apply to this service (scaling a global service).
    #[error("{0}")]
    Unsuitable(String),
    /// The daemon could not be reached.
    #[error("cannot reach the Docker Engine at {endpoint}: {reason}")]
    Unreachable {
        /// The endpoint tried.
        endpoint: String,
        /// The connection error.
        reason: String,
    },
    /// The request may have reached the daemon, but no answer came back
    /// (the connection was cut, the answer was cut short, or it took too
    /// long): whether it was carried out is unknown.
    #[error("the answer of the Docker Engine at {endpoint} was lost: {reason}")]
    Lost {
        /// The endpoint the request went to.
        endpoint: String,
        /// What happened to the answer.
        reason: String,
    },
    /// The daemon refused or failed the request; its own message.
    #[error("Docker Engine: {0}")]
    Engine(String),
    /// The daemon's answer could not be understood.
    #[error("unexpected answer from the Docker Engine: {0}")]
    Protocol(String),
}

/// The result of a Docker request.
pub type Result<T, E = DockerError> = std::result::Result<T, E>;

/// One stats reading, with the ID of the container it belongs to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// The full container ID (stable across renames, new on re-creation).
    pub id: String,
    /// The counters.
    pub sample: Sample,
}

/// The daemon's own answers keep its exact words, with nothing of SME's
/// added: policies print them as the docker CLI did (see the guest SDK's
/// `edgex::failure`). Failures no daemon answered carry SME's explanation.
impl From<DockerError> for CallError {
    fn from(error: DockerError) -> CallError {
        match error {
            DockerError::NotFound(_) | DockerError::NoService(_) => {
                CallError::NotFound(error.to_string())
            }
            DockerError::Engine(message) => CallError::Docker(message),
            DockerError::Unsuitable(message) => CallError::InvalidArgument(message),
            // No variant of its own: the WIT's `error` is a public contract,
            // and a new case would break every component built against it.
            DockerError::Unreachable { .. }
            | DockerError::Lost { .. }
            | DockerError::Protocol(_) => CallError::Timeout(error.to_string()),
        }
    }
}
