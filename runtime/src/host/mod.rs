//! The host side of a policy's sandbox: one module per capability, each with
//! its own state, its own `add_to_linker` and its `impl Host`, all checking
//! calls through the module's [`Gate`](crate::sandbox::gate::Gate).
//!
//! Policies also get WASI, with nothing in it: no preopened directories, no
//! environment, no arguments, no network, and stdout/stderr captured into a
//! capped buffer instead of inherited.

pub mod clock;
pub mod containers;
pub mod log;
pub mod services;
pub mod settings;
pub mod state;
pub mod stats;
pub mod stdio;
pub mod systemd;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::backend::Backends;
use crate::contract::types;
use crate::sandbox::gate::Gate;
use crate::sandbox::limits::{Copying, MemoryLimiter};
use clock::ClockHost;
use containers::ContainersHost;
use log::LogHost;
use services::ServicesHost;
use settings::SettingsHost;
use state::StateHost;
use stats::StatsHost;
use stdio::Captured;
use systemd::SystemdHost;

/// The data of one module's `Store`.
pub struct PolicyState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    copying: Copying,
    containers: ContainersHost,
    stats: StatsHost,
    log: LogHost,
    clock: ClockHost,
    settings: SettingsHost,
    services: ServicesHost,
    systemd: SystemdHost,
    state: StateHost,
}

impl std::fmt::Debug for PolicyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyState")
            .field("containers", &self.containers)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// What a module's store is built from.
#[derive(Debug)]
pub struct Setup {
    /// The module's gate (its grant, limits and audit trail).
    pub gate: Arc<Gate>,
    /// The engines of each kind of object.
    pub backends: Backends,
    /// Where CPU readings are kept between runs, if anywhere.
    pub state_dir: Option<std::path::PathBuf>,
    /// The module's name, for its log lines.
    pub module: String,
    /// Cap on all linear memories and tables together, in bytes.
    pub memory: usize,
    /// Where the guest's stdout goes.
    pub stdout: Captured,
    /// Where the guest's stderr goes.
    pub stderr: Captured,
    /// The module's validated settings.
    pub settings: std::collections::BTreeMap<String, String>,
    /// Whether the request is about a Swarm service (`[swarm] mode`); the
    /// gate knows which one.
    pub swarm_mode: crate::config::swarm::Mode,
    /// Whether the request may be about a systemd unit (`[systemd] mode`).
    pub systemd_mode: crate::config::systemd::Mode,
    /// The unit the request's service name maps to; the gate's `self`
    /// for units.
    pub unit: crate::config::systemd::Mapped,
    /// The values the module keeps between runs.
    pub kept: crate::sandbox::kept::Kept,
    /// The clock the module reads.
    pub clock: crate::sandbox::held::Clock,
}

impl PolicyState {
    /// The state of a store for one module's run.
    pub fn new(setup: Setup) -> PolicyState {
        let wasi = WasiCtxBuilder::new()
            .stdout(setup.stdout)
            .stderr(setup.stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        PolicyState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(setup.memory),
            copying: Copying::default(),
            containers: ContainersHost::new(setup.gate.clone(), setup.backends.containers.clone()),
            stats: StatsHost::new(
                setup.gate.clone(),
                setup.backends.containers.clone(),
                setup.state_dir.clone(),
            ),
            systemd: SystemdHost::new(
                setup.gate.clone(),
                setup.backends.units.clone(),
                setup.systemd_mode,
                setup.unit,
                setup.state_dir.clone(),
            ),
            services: ServicesHost::new(
                setup.gate.clone(),
                setup.backends,
                setup.swarm_mode,
                setup.state_dir,
            ),
            log: LogHost::new(setup.gate.clone(), &setup.module),
            state: StateHost::new(setup.gate.clone(), setup.kept),
            clock: ClockHost::new(setup.gate, setup.clock),
            settings: SettingsHost::new(setup.settings),
        }
    }

    /// The store's memory limiter.
    pub fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }

    /// Which copy out of guest memory comes next.
    pub fn copying(&self) -> Copying {
        self.copying
    }

    /// Records which copy out of guest memory comes next.
    pub fn set_copying(&mut self, copying: Copying) {
        self.copying = copying;
    }
}

impl WasiView for PolicyState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for PolicyState {}

/// How a listing's filter is named in audit lines (`name=<p> label=<l>`).
fn listing_described(name: Option<&str>, label: Option<&str>) -> String {
    format!(
        "name={} label={}",
        name.unwrap_or("*"),
        label.unwrap_or("*")
    )
}

/// Checks a listing's filter (a name pattern, a label selector) as a grant's
/// targets are checked, and returns the pattern to keep rows by.
fn listing_pattern(
    name: Option<&str>,
    label: Option<&str>,
) -> Result<Option<crate::sandbox::grants::Pattern>, crate::contract::CallError> {
    use crate::contract::CallError;
    use crate::sandbox::grants::{Pattern, Target, TargetError};
    let pattern = name
        .map(Pattern::parse)
        .transpose()
        .map_err(|e| CallError::InvalidArgument(e.to_string()))?;
    if let Some(label) = label {
        match Target::parse(&format!("label:{label}")) {
            // A filter selects rows; it grants nothing, so a module may
            // look for its own notes.
            Ok(_) | Err(TargetError::Reserved(_)) => {}
            Err(e) => return Err(CallError::InvalidArgument(e.to_string())),
        }
    }
    Ok(pattern)
}

/// Adds WASI (empty) and every SME capability to `linker`.
pub fn add_to_linker(linker: &mut Linker<PolicyState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    types::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)?;
    containers::add_to_linker(linker, |state| &mut state.containers)?;
    stats::add_to_linker(linker, |state| &mut state.stats)?;
    log::add_to_linker(linker, |state| &mut state.log)?;
    clock::add_to_linker(linker, |state| &mut state.clock)?;
    settings::add_to_linker(linker, |state| &mut state.settings)?;
    services::add_to_linker(linker, |state| &mut state.services)?;
    systemd::add_to_linker(linker, |state| &mut state.systemd)?;
    state::add_to_linker(linker, |state| &mut state.state)?;
    Ok(())
}
