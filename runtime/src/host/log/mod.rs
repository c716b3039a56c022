//! The `log` capability: a policy's diagnostics, tagged with its module name,
//! to the operator's log (never to the agent).

mod host;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::contract::log;
use crate::sandbox::gate::Gate;

/// Longest message kept; a policy cannot flood the log with one call, and
/// the host-call budget bounds the number of calls.
pub const MAX_MESSAGE: usize = 4096;

/// What the `log` host function needs.
#[derive(Debug)]
pub struct LogHost {
    gate: Arc<Gate>,
    module: String,
}

impl LogHost {
    /// The capability for module `module`.
    pub fn new(gate: Arc<Gate>, module: &str) -> LogHost {
        LogHost {
            gate,
            module: module.to_owned(),
        }
    }
}

/// Adds the `sme:policy/log` function to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut LogHost,
) -> wasmtime::Result<()> {
    log::add_to_linker::<T, HasSelf<LogHost>>(linker, get)
}
