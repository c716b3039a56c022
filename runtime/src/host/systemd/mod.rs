//! The `systemd` capability: systemd units, checked by the same gate and
//! grant language as containers (see docs/systemd.md). Without `[systemd]`
//! the engine is [`crate::backend::systemd::Off`]: no call connects.

mod host;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::backend::Units;
use crate::config::systemd::{Mapped, Mode};
use crate::contract::systemd;
use crate::sandbox::gate::Gate;

/// What the `systemd` host functions need.
#[derive(Debug)]
pub struct SystemdHost {
    gate: Arc<Gate>,
    units: Arc<dyn Units>,
    mode: Mode,
    mapped: Mapped,
    state_dir: Option<PathBuf>,
}

impl SystemdHost {
    /// The capability for one module's run: `mapped` is what the request's
    /// service name means for units (also `self` in the gate), `mode`
    /// whether the request is about it.
    pub fn new(
        gate: Arc<Gate>,
        units: Arc<dyn Units>,
        mode: Mode,
        mapped: Mapped,
        state_dir: Option<PathBuf>,
    ) -> SystemdHost {
        SystemdHost {
            gate,
            units,
            mode,
            mapped,
            state_dir,
        }
    }
}

/// Adds the `sme:policy/systemd` functions to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut SystemdHost,
) -> wasmtime::Result<()> {
    systemd::add_to_linker::<T, HasSelf<SystemdHost>>(linker, get)
}
