//! The `containers` capability: inspect, list and the lifecycle verbs, and
//! the `container-config` reads (a container's own stop timeout).

mod host;
mod settle;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::backend::Containers;
use crate::contract::{container_config, containers};
use crate::sandbox::gate::Gate;

/// What the `containers` host functions need: the Docker client and the
/// module's gate.
#[derive(Debug)]
pub struct ContainersHost {
    gate: Arc<Gate>,
    containers: Arc<dyn Containers>,
}

impl ContainersHost {
    /// The capability for one module's run.
    pub fn new(gate: Arc<Gate>, containers: Arc<dyn Containers>) -> ContainersHost {
        ContainersHost { gate, containers }
    }
}

/// Adds the `sme:policy/containers` and `sme:policy/container-config`
/// functions to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut ContainersHost,
) -> wasmtime::Result<()> {
    containers::add_to_linker::<T, HasSelf<ContainersHost>>(linker, get)?;
    container_config::add_to_linker::<T, HasSelf<ContainersHost>>(linker, get)
}
