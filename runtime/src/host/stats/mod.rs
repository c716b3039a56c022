//! The `stats` capability: one-shot samples, the daemon's two-sample
//! measurement, and the fast path that pairs a one-shot sample with a CPU
//! reading kept from an earlier run ([`history`]), over the default window
//! (`stats.recent`) or one the policy chooses (`cpu-window.recent-within`),
//! and the fastest of all: counters read from the container's cgroup, where
//! the engine can see them (`counters.measure`).

pub mod history;
mod host;

pub(crate) use host::measure_kept;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::backend::Containers;
use crate::contract::{counters, cpu_window, stats};
use crate::sandbox::gate::Gate;
use history::History;

/// What the `stats` host functions need.
#[derive(Debug)]
pub struct StatsHost {
    gate: Arc<Gate>,
    containers: Arc<dyn Containers>,
    state_dir: Option<PathBuf>,
}

impl StatsHost {
    /// The capability for one module's run; CPU readings are kept under
    /// `state_dir` between runs (none kept when `None`).
    pub fn new(
        gate: Arc<Gate>,
        containers: Arc<dyn Containers>,
        state_dir: Option<PathBuf>,
    ) -> StatsHost {
        StatsHost {
            gate,
            containers,
            state_dir,
        }
    }

    /// Where readings are kept, opened only by the call that needs it.
    fn history(&self) -> Option<History> {
        self.state_dir.as_deref().and_then(History::open)
    }

    /// Where the last network counters are kept.
    fn networks(&self) -> Option<History> {
        self.state_dir.as_deref().and_then(History::open_network)
    }
}

/// Adds the `sme:policy/stats` and `sme:policy/cpu-window` functions to
/// `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut StatsHost,
) -> wasmtime::Result<()> {
    stats::add_to_linker::<T, HasSelf<StatsHost>>(linker, get)?;
    cpu_window::add_to_linker::<T, HasSelf<StatsHost>>(linker, get)?;
    counters::add_to_linker::<T, HasSelf<StatsHost>>(linker, get)
}
