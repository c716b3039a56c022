//! The `services` capability: Docker Swarm services, checked by the same
//! gate and grant language as containers (see docs/swarm.md).

mod host;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::backend::docker::Docker;
use crate::config::swarm::Mode;
use crate::contract::services;
use crate::sandbox::gate::Gate;

/// Most notes one `scale` may set: a policy remembers a count or two, not
/// a database.
pub const MAX_NOTES: usize = 8;
/// Longest note key, before the `sme.note.` prefix.
pub const MAX_NOTE_KEY: usize = 64;
/// Longest note value, in bytes: labels travel in every service inspection.
pub const MAX_NOTE_VALUE: usize = 256;

/// What the `services` host functions need.
#[derive(Debug)]
pub struct ServicesHost {
    gate: Arc<Gate>,
    docker: Arc<dyn Docker>,
    mode: Mode,
    state_dir: Option<PathBuf>,
}

impl ServicesHost {
    /// The capability for one module's run. The service the request maps
    /// to is the gate's [`Gate::swarm_service`]; `mode` says whether the
    /// request is about it.
    pub fn new(
        gate: Arc<Gate>,
        docker: Arc<dyn Docker>,
        mode: Mode,
        state_dir: Option<PathBuf>,
    ) -> ServicesHost {
        ServicesHost {
            gate,
            docker,
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
