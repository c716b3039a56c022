//! The `clock` capability: the time, and waits bounded by the deadline.

mod host;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::contract::clock;
use crate::sandbox::gate::Gate;

/// What the `clock` host functions need.
#[derive(Debug)]
pub struct ClockHost {
    gate: Arc<Gate>,
}

impl ClockHost {
    /// The capability for one module's run.
    pub fn new(gate: Arc<Gate>) -> ClockHost {
        ClockHost { gate }
    }
}

/// Adds the `sme:policy/clock` functions to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut ClockHost,
) -> wasmtime::Result<()> {
    clock::add_to_linker::<T, HasSelf<ClockHost>>(linker, get)
}
