//! The `clock` capability: the time, and waits bounded by the deadline.

mod host;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::contract::clock;
use crate::sandbox::gate::Gate;
use crate::sandbox::held::Clock;

/// What the `clock` host functions need.
#[derive(Debug)]
pub struct ClockHost {
    gate: Arc<Gate>,
    clock: Clock,
}

impl ClockHost {
    /// The capability for one module's run, reading `clock`.
    pub fn new(gate: Arc<Gate>, clock: Clock) -> ClockHost {
        ClockHost { gate, clock }
    }
}

/// Adds the `sme:policy/clock` functions to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut ClockHost,
) -> wasmtime::Result<()> {
    clock::add_to_linker::<T, HasSelf<ClockHost>>(linker, get)
}
