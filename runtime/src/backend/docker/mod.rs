//! The Docker Engine behind a narrow trait.
//!
//! The host capabilities talk to Docker only through [`Docker`]: the Engine
//! API client in [`engine`] is the one real implementation, and the
//! simulated engine (`crate::sim`) implements the same typed methods. The
//! wrappers that treat every call alike (recording, replay, dry run) get
//! each call as a value instead ([`call`]).

pub mod call;
mod engine;
mod raw;

pub use call::{Call, Relay, Reply};
pub use engine::Engine;

use async_trait::async_trait;

use crate::backend::Kind;

use crate::contract::{CallError, Container, CpuReading, Sample, Service, ServiceSummary, Summary};

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

/// The Docker Engine operations the host capabilities use. Names are
/// validated container names; implementations address containers by exact
/// name only.
#[async_trait]
pub trait Docker: Send + Sync + std::fmt::Debug {
    /// The endpoint, for messages.
    fn endpoint(&self) -> &str;
    /// `GET /containers/{name}/json`.
    async fn inspect(&self, name: &str) -> Result<Container>;
    /// `GET /containers/json`, optionally filtered by a label selector.
    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>>;
    /// `Config.StopTimeout` of `GET /containers/{name}/json`: the container's
    /// own grace period in seconds, none when it uses the daemon's default.
    async fn stop_timeout(&self, name: &str) -> Result<Option<u32>>;
    /// `POST /containers/{name}/start`.
    async fn start(&self, name: &str) -> Result<()>;
    /// `POST /containers/{name}/stop`.
    async fn stop(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()>;
    /// `POST /containers/{name}/restart`.
    async fn restart(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()>;
    /// `POST /containers/{name}/pause`.
    async fn pause(&self, name: &str) -> Result<()>;
    /// `POST /containers/{name}/unpause`.
    async fn unpause(&self, name: &str) -> Result<()>;
    /// `GET /containers/{name}/stats?stream=false&one-shot=true`: answers at once.
    async fn one_shot(&self, name: &str) -> Result<Stats>;
    /// `GET /containers/{name}/stats?stream=false`: waits for the daemon's
    /// next collection and returns its previous CPU reading with it.
    async fn measure(&self, name: &str) -> Result<(Option<CpuReading>, Stats)>;

    // Swarm services (see docs/swarm.md). Names are validated service names,
    // addressed exactly: a name that only prefixes an ID is not found.

    /// `GET /services/{name}` and `GET /tasks?filters={"service":[id]}`.
    async fn service(&self, name: &str) -> Result<Service>;
    /// `GET /services`, optionally filtered by a label selector.
    async fn services(&self, label: Option<&str>) -> Result<Vec<ServiceSummary>>;
    /// `POST /services/{id}/update`: sets a replicated service's replica
    /// count and labels (a `None` value removes the label) in one update,
    /// read and written again when another update came in between.
    async fn scale(
        &self,
        name: &str,
        replicas: u64,
        labels: &[(String, Option<String>)],
    ) -> Result<()>;
    /// `POST /services/{id}/update` with `TaskTemplate.ForceUpdate` raised by
    /// one: replaces every task with the service's update settings.
    async fn redeploy(&self, name: &str) -> Result<()>;

    /// The labels of an object of kind `kind`: what label grants select on.
    async fn labels(&self, kind: Kind, name: &str) -> Result<Vec<(String, String)>> {
        match kind {
            Kind::Container => self.inspect(name).await.map(|container| container.labels),
            Kind::Service => self.service(name).await.map(|service| service.labels),
        }
    }
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
            DockerError::Unreachable { .. } | DockerError::Protocol(_) => {
                CallError::Timeout(error.to_string())
            }
        }
    }
}
