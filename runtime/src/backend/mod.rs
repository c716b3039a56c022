//! The engines SME drives for a policy: the Docker Engine (containers and
//! Swarm services) today, and the record of a run's calls, which any
//! engine can be wrapped in. [`connect`] is the one place the engine a
//! configuration names is made; the gate asks an engine for an object's
//! labels in the terms of [`Kind`], whatever the engine.

pub mod docker;
pub mod recording;

use std::sync::Arc;

use docker::{Docker, Engine};

/// The kinds of object a policy acts on, in terms no engine owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A container.
    Container,
    /// A Swarm service.
    Service,
}

impl Kind {
    /// Its name in audit lines and messages (`containers`, `services`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Container => "containers",
            Kind::Service => "services",
        }
    }
}

/// The engine at `docker_host` (the configuration's `docker_host`).
pub fn connect(docker_host: &str) -> docker::Result<Arc<dyn Docker>> {
    Ok(Arc::new(Engine::connect(docker_host)?))
}
