//! The `state` capability: the small values a module keeps between runs
//! ([`crate::sandbox::kept`]), each call counted and audited by the gate,
//! each write's audit line noting the key and the length of the value.

mod host;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::contract::state;
use crate::sandbox::gate::Gate;
use crate::sandbox::kept::Kept;

/// What the `state` host functions need.
#[derive(Debug)]
pub struct StateHost {
    gate: Arc<Gate>,
    kept: Kept,
}

impl StateHost {
    /// The capability for one module's run, over its kept values.
    pub fn new(gate: Arc<Gate>, kept: Kept) -> StateHost {
        StateHost { gate, kept }
    }
}

/// Adds the `sme:policy/state` functions to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut StateHost,
) -> wasmtime::Result<()> {
    state::add_to_linker::<T, HasSelf<StateHost>>(linker, get)
}
