//! Running one policy module: a fresh store with the module's limits, gate
//! and capabilities; one instantiation; one call; every way it can end
//! turned into an [`Answer`] or a one-line [`RunError`]; one audit line.

use crate::config::systemd::Mapped;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::Linker;
use wasmtime::{CallHook, Store, Trap, UpdateDeadline};

use crate::backend::Backends;
use crate::config::Config;
use crate::config::settings::{self, SettingsError};
use crate::contract::{Metric, Metrics, Operation, Request};
use crate::host::stdio::Captured;
use crate::host::{self, PolicyState, Setup};
use crate::policy::engine_config::MAX_WASM_STACK;
use crate::policy::loader::{self, LoadError, Loader};
use crate::policy::{Policy, World};
use crate::sandbox::audit::{self, Audit, AuditError};
use crate::sandbox::gate::Gate;
use crate::sandbox::kept::Kept;
use crate::sandbox::ledger::{Counting, Ledger, LedgerError, Spending};
use crate::sandbox::limits::{self, Copying, Deadline, LimitExceeded};

/// How often the engine's epoch advances; the precision of deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Extra time the whole call gets beyond the module's deadline before it is
/// abandoned: a backstop, since the deadline itself is enforced inside.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// What a module answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// An operation policy's `ok` text.
    Done(String),
    /// A metrics policy's fields.
    Fields(Vec<Metric>),
    /// The policy's `err` text: a refusal or a failure it reports itself.
    Refused(String),
}

/// Why a module could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// It is not a usable component.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Its configured settings are not what it declares.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// It could not be instantiated (e.g. it imports what SME does not give).
    #[error("{policy}: cannot be instantiated: {reason}")]
    Instantiate {
        /// Names the module.
        policy: String,
        /// Why, on one line.
        reason: String,
    },
    /// It ran into one of its limits and was stopped.
    #[error("{policy}: stopped: {limit}")]
    Limit {
        /// Names the module.
        policy: String,
        /// The limit.
        limit: LimitExceeded,
    },
    /// It trapped (a panic, an `unreachable`, a host fault).
    #[error("{policy}: trapped: {reason}")]
    Trap {
        /// Names the module.
        policy: String,
        /// The panic message or trap, on one line.
        reason: String,
    },
    /// Its audit trail could not be written, so it was stopped.
    #[error("{policy}: stopped: {source}")]
    Audit {
        /// Names the module.
        policy: String,
        /// The audit failure.
        #[source]
        source: AuditError,
    },
}

/// Everything needed to run policy modules for one invocation.
pub struct Runtime {
    loader: Loader,
    linker: Linker<PolicyState>,
    backends: Backends,
    audit: Arc<Audit>,
    config: Config,
    /// When the request's time budget, shared by every module, runs out.
    request_ends: Instant,
    ticker: Ticker,
    /// Whether policy files over `compile_on_demand_kib` must come from the
    /// cache (an agent request) or may be compiled now (`smectl`).
    compile_rule: CompileRule,
}

/// Whether a runtime may compile any policy file it has no artifact for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileRule {
    /// Any size (`smectl run`, `test`, `bench`).
    AnySize,
    /// Only up to the module's `compile_on_demand_kib` (`sme`).
    UpToLimit,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("backends", &self.backends)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Prepares the engine, the linker and the capabilities for a request
    /// that started at `request_started`: its modules share the budget
    /// `request_deadline_ms` from then.
    pub fn new(
        config: Config,
        backends: Backends,
        audit: Arc<Audit>,
        request_started: Instant,
    ) -> wasmtime::Result<Runtime> {
        let loader = Loader::new(config.cache_dir.as_deref())?;
        tracing::debug!("engine ready");
        let mut linker = Linker::new(loader.engine());
        host::add_to_linker(&mut linker)?;
        let ticker = Ticker::start(loader.engine().clone());
        tracing::debug!("linker ready");
        Ok(Runtime {
            loader,
            linker,
            backends,
            audit,
            request_ends: request_started + config.request_deadline,
            config,
            ticker,
            compile_rule: CompileRule::AnySize,
        })
    }

    /// Sets what this runtime may compile (by default any size).
    pub fn with_compile_rule(mut self, rule: CompileRule) -> Runtime {
        self.compile_rule = rule;
        self
    }

    /// The configuration the runtime was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs `policy` for `request` and writes its invocation audit line.
    pub async fn run(&self, policy: &Policy, request: &Request) -> Result<Answer, RunError> {
        let started = Instant::now();
        let result = self.run_unaudited(policy, request).await;
        let (outcome, detail) = match &result {
            Ok(Answer::Done(_) | Answer::Fields(_)) => ("ok", None),
            Ok(Answer::Refused(text)) => ("failed", Some(text.clone())),
            Err(error) => ("error", Some(error.to_string())),
        };
        let location = policy.location();
        let sha256 = policy.sha256_hex();
        let trust = policy.trust.to_string();
        let written = self.audit.invocation_done(&audit::Invocation {
            service: &request.service,
            operation: &request.operation,
            module: Some(&policy.name),
            path: Some(&location),
            sha256: Some(&sha256),
            trust: Some(&trust),
            outcome,
            detail: detail.as_deref(),
            duration_us: audit::micros(started.elapsed()),
        });
        match (written, result) {
            (Ok(()), result) => result,
            // The first audit failure is the one worth reporting.
            (Err(_), Err(error @ RunError::Audit { .. })) => Err(error),
            (Err(source), _) => Err(RunError::Audit {
                policy: policy.to_string(),
                source,
            }),
        }
    }

    async fn run_unaudited(&self, policy: &Policy, request: &Request) -> Result<Answer, RunError> {
        let module = self.config.module(&policy.name);
        let limits = module.limits;
        let stopped = |limit| RunError::Limit {
            policy: policy.to_string(),
            limit,
        };
        // An add-on that starts with the request's budget already spent is
        // not even loaded.
        let request_budget = Deadline::for_module(
            Instant::now(),
            limits.deadline,
            self.request_ends,
            self.config.request_deadline,
        );
        if request_budget.left().is_zero() {
            return Err(stopped(request_budget.exceeded));
        }
        // Checked before anything runs: a module never sees a value it did
        // not declare, and an operator's typo refuses the module.
        let values = settings::resolve(
            &policy.name,
            &policy.wasm,
            &module.settings,
            self.config.file.as_deref(),
        )?;
        let loaded = match self.compile_rule {
            CompileRule::AnySize => self.loader.load(policy)?,
            CompileRule::UpToLimit => {
                let limit = self.config.module(&policy.name).limits.compile_on_demand;
                self.loader.load_within(policy, limit)?
            }
        };
        tracing::debug!(module = %policy.name, source = ?loaded.source, "component loaded");
        let component = loaded.component;
        // The module's own deadline counts from when it can run; loading is
        // paid from the request's budget.
        let deadline = Deadline::for_module(
            Instant::now(),
            limits.deadline,
            self.request_ends,
            self.config.request_deadline,
        );
        let mut gate = Gate::new(
            &policy.name,
            &request.service,
            module.grant,
            limits,
            deadline.clone(),
            self.backends.clone(),
            self.audit.clone(),
        );
        if let Some(service) = self.config.swarm.candidate(&request.service) {
            gate = gate.with_swarm_service(service);
        }
        let unit = self.config.systemd.map(&request.service);
        if let Mapped::Unit(name) = &unit {
            gate = gate.with_unit(name.clone());
        }
        if !module.budgets.is_empty() || !module.windows.is_empty() {
            // Opened only where a budget may be spent: an unusable state
            // directory then refuses the change that would spend it.
            let ledger = match self.config.counting {
                Counting::Fresh => Err(LedgerError::Unusable("a scenario keeps nothing".into())),
                _ if module.budgets.is_empty() => {
                    Err(LedgerError::Unusable("no budget is configured".into()))
                }
                _ => Ledger::open(self.config.state_dir.as_deref()),
            };
            gate = gate.with_spending(Spending {
                budgets: module.budgets,
                windows: module.windows,
                horizon: self.config.budget_horizon(),
                ledger,
                counting: self.config.counting,
                held: self.config.held.clone(),
            });
        }
        let gate = Arc::new(gate);
        let stdout = Captured::new(limits.output);
        let stderr = Captured::new(limits.output);
        let mut store = Store::new(
            self.loader.engine(),
            PolicyState::new(Setup {
                gate,
                backends: self.backends.clone(),
                state_dir: self.config.state_dir.clone(),
                module: policy.name.clone(),
                memory: limits.memory,
                stdout: stdout.clone(),
                stderr: stderr.clone(),
                settings: values,
                swarm_mode: self.config.swarm.mode,
                systemd_mode: self.config.systemd.mode,
                unit,
                clock: self.config.held.clock.clone(),
                kept: Kept::open(
                    self.config.state_dir.as_deref(),
                    &policy.name,
                    &limits,
                    self.config.counting,
                    &self.config.held.kept,
                ),
            }),
        );
        store.limiter(|state| state.limiter());
        bound_copies(&mut store, limits.output);
        store
            .set_fuel(limits.fuel)
            .expect("fuel is enabled in the engine configuration");
        store.set_epoch_deadline(1);
        let ticking = deadline.clone();
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= ticking.at {
                Err(ticking.exceeded.clone().into())
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        self.ticker.ensure_running();

        let described = policy.to_string();
        let call = self.call(policy.world, &mut store, &component, request, &described);
        let backstop = tokio::time::Instant::from_std(deadline.at + DEADLINE_GRACE);
        let answer = match tokio::time::timeout_at(backstop, call).await {
            Ok(answer) => answer,
            Err(_) => Err(CallFailure::Run(deadline.exceeded.clone().into())),
        };
        let guest_output = stdout.text() + &stderr.text();
        if !guest_output.is_empty() {
            tracing::debug!(module = %policy.name, output = %guest_output, "guest stdout and stderr");
        }
        let copying = store.data().copying();
        let answer = answer
            .map_err(|failure| classify(failure, policy, &limits, copying, &deadline, &stderr))?;
        check_size(&answer, limits.output).map_err(stopped)?;
        Ok(answer)
    }

    async fn call(
        &self,
        world: World,
        store: &mut Store<PolicyState>,
        component: &wasmtime::component::Component,
        request: &Request,
        policy: &str,
    ) -> Result<Answer, CallFailure> {
        let instantiate_failed =
            |error: wasmtime::Error| match error.downcast_ref::<LimitExceeded>() {
                Some(_) => CallFailure::Run(error),
                None => CallFailure::Instantiate(policy.to_owned(), loader::one_line(&error)),
            };
        match world {
            World::Operation => {
                let instance = Operation::instantiate_async(&mut *store, component, &self.linker)
                    .await
                    .map_err(instantiate_failed)?;
                tracing::debug!("instantiated");
                let answer = instance
                    .call_run(&mut *store, request)
                    .await
                    .map_err(CallFailure::Run)?;
                Ok(answer.map_or_else(Answer::Refused, Answer::Done))
            }
            World::Metrics => {
                let instance = Metrics::instantiate_async(&mut *store, component, &self.linker)
                    .await
                    .map_err(instantiate_failed)?;
                tracing::debug!("instantiated");
                let answer = instance
                    .call_collect(&mut *store, request)
                    .await
                    .map_err(CallFailure::Run)?;
                Ok(answer.map_or_else(Answer::Refused, Answer::Fields))
            }
        }
    }
}

/// Bounds what wasmtime copies out of the module's memory, before it copies
/// it: every string and list a module hands the host (host-call arguments,
/// its answer) is copied into host memory before any of our code can look
/// at its size, so the size is checked by wasmtime's per-copy "hostcall
/// fuel". A call hook sets the fuel for what comes next: leaving wasm for
/// the host means arguments are copied ([`limits::host_call_data`]),
/// returning from wasm to the host means the answer is
/// ([`limits::answer_data`]). The store remembers which, so that running out
/// can be named.
fn bound_copies(store: &mut Store<PolicyState>, output: usize) {
    let arguments = limits::host_call_data(output);
    let answer = limits::answer_data(output);
    store.set_hostcall_fuel(arguments);
    // Wasm fuel left when the last host call returned: a host call that
    // failed (its arguments over the bound) unwinds the guest without
    // running one more instruction, which is how leaving wasm that way is
    // told from returning an answer.
    let mut after_host_call = None;
    store.call_hook(move |mut store, hook| {
        let (copying, fuel) = match hook {
            CallHook::CallingHost => (Copying::Arguments, arguments),
            CallHook::ReturningFromHost => {
                after_host_call = store.get_fuel().ok();
                return Ok(());
            }
            CallHook::ReturningFromWasm if store.get_fuel().ok() == after_host_call => {
                return Ok(());
            }
            CallHook::ReturningFromWasm => (Copying::Answer, answer),
            CallHook::CallingWasm => return Ok(()),
        };
        store.set_hostcall_fuel(fuel);
        store.data_mut().set_copying(copying);
        Ok(())
    });
}

/// How a call failed before it is classified.
enum CallFailure {
    Instantiate(String, String),
    Run(wasmtime::Error),
}

/// Names the cause of a failed run: a limit, an audit failure, or a trap
/// with the guest's panic message when it printed one.
fn classify(
    failure: CallFailure,
    policy: &Policy,
    limits: &limits::Limits,
    copying: Copying,
    deadline: &Deadline,
    stderr: &Captured,
) -> RunError {
    let fuel = limits.fuel;
    let policy_name = policy.to_string();
    let error = match failure {
        CallFailure::Instantiate(policy, reason) => {
            return RunError::Instantiate { policy, reason };
        }
        CallFailure::Run(error) => error,
    };
    if let Some(limit) = error.downcast_ref::<LimitExceeded>() {
        return RunError::Limit {
            policy: policy_name,
            limit: limit.clone(),
        };
    }
    let trap = error.downcast_ref::<Trap>().copied();
    let limit = match trap {
        Some(Trap::OutOfFuel) => Some(LimitExceeded::Fuel(fuel)),
        Some(Trap::StackOverflow) => Some(LimitExceeded::Stack(MAX_WASM_STACK)),
        Some(Trap::Interrupt) => Some(deadline.exceeded.clone()),
        _ => None,
    };
    if let Some(limit) = limit {
        return RunError::Limit {
            policy: policy_name,
            limit,
        };
    }
    if error.downcast_ref::<AuditError>().is_some() {
        let source = error.downcast::<AuditError>().expect("checked above");
        return RunError::Audit {
            policy: policy_name,
            source,
        };
    }
    if trap.is_none() && copying == Copying::Answer && copy_over_bound(&error) {
        // The module's export returned, and its answer was larger than the
        // bound on what is copied of it ([`limits::answer_data`]). Anything
        // else that fails there (a bad pointer from the module's allocator,
        // bad UTF-8) is the trap it is, named below.
        return RunError::Limit {
            policy: policy_name,
            limit: LimitExceeded::Output(limits.output),
        };
    }
    let cause = match trap {
        Some(trap) => trap.to_string(),
        None => loader::one_line(&error),
    };
    let reason = match stderr.panic_message() {
        Some(panic) => format!("{panic} ({cause})"),
        None => cause,
    };
    RunError::Trap {
        policy: policy_name,
        reason,
    }
}

/// What wasmtime says when a copy out of guest memory runs past the bound
/// set on it (`Store::set_hostcall_fuel`); its error type is private, so its
/// words are what there is. `security::the_output_limit_*` tests hold it.
const COPY_OVER_BOUND: &str = "fuel allocated for hostcalls has been exhausted";

/// Whether `error` is a copy out of guest memory past its bound.
fn copy_over_bound(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.to_string().contains(COPY_OVER_BOUND))
}

/// Checks an operation's text, printed exactly as answered, against the
/// output limit. Metrics fields are checked as printed, escaping included,
/// when the object is rendered (see [`crate::run::metrics::render`]): the base
/// module's and the add-ons' fields are one answer.
fn check_size(answer: &Answer, limit: usize) -> Result<(), LimitExceeded> {
    let size = match answer {
        Answer::Done(text) | Answer::Refused(text) => text.len(),
        Answer::Fields(_) => 0,
    };
    if size > limit {
        Err(LimitExceeded::Output(limit))
    } else {
        Ok(())
    }
}

/// A thread that advances the engine's epoch, so running wasm checks its
/// deadline every [`EPOCH_TICK`]. It stops when the runtime is dropped.
#[derive(Debug)]
struct Ticker {
    engine: wasmtime::Engine,
    running: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: wasmtime::Engine) -> Ticker {
        Ticker {
            engine,
            running: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts the thread on first use, so runs that never reach wasm (a
    /// refused module) do not pay for it.
    fn ensure_running(&self) {
        if self.running.swap(true, Ordering::Relaxed) {
            return;
        }
        let engine = self.engine.clone();
        let stop = self.stop.clone();
        let spawned = std::thread::Builder::new()
            .name("sme-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            });
        if let Err(error) = spawned {
            // Without the ticker, the fuel limit still stops runaway guests.
            tracing::warn!(%error, "no epoch thread: deadlines will not interrupt wasm");
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
