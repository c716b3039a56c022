//! The `services` capability: Docker Swarm services, checked by the same
//! gate and grant language as containers (see docs/swarm.md).

mod host;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::backend::Backends;
use crate::config::swarm::Mode;
use crate::contract::services;
use crate::sandbox::gate::Gate;

/// What the `services` host functions need.
#[derive(Debug)]
pub struct ServicesHost {
    gate: Arc<Gate>,
    backends: Backends,
    mode: Mode,
    state_dir: Option<PathBuf>,
}

impl ServicesHost {
    /// The capability for one module's run. The service the request maps
    /// to is the gate's [`Gate::swarm_service`]; `mode` says whether the
    /// request is about it.
    pub fn new(
        gate: Arc<Gate>,
        backends: Backends,
        mode: Mode,
        state_dir: Option<PathBuf>,
    ) -> ServicesHost {
        ServicesHost {
            gate,
            backends,
            mode,
            state_dir,
        }
    }
}

/// Adds the `sme:policy/services` functions to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut ServicesHost,
) -> wasmtime::Result<()> {
    services::add_to_linker::<T, HasSelf<ServicesHost>>(linker, get)
}
