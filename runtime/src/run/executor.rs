//! `sme <service> <operation>`: the EdgeX executor contract.
//!
//! The reference executor's argument errors and texts are kept exactly;
//! everything else is decided by the policy module for the operation. All
//! output goes to stdout without a trailing newline, as the reference
//! printed it; the exit code is 0 on success and 1 on any failure.

use std::sync::Arc;
use std::time::Instant;

use crate::backend::{self, Backends};
use crate::config::{Config, Env};
use crate::contract::Request;
use crate::names;
use crate::policy::{self, Policy, PolicyDir, World};
use crate::run::invoke::{Answer, CompileRule, Runtime};
use crate::run::logging;
use crate::run::metrics::{self, ModuleFields};
use crate::sandbox::audit::{self, Audit};

/// The reference executor's text for fewer than two arguments.
pub const MISSING_ARGUMENTS: &str = "missing <service> and <operation> command line arguments";
/// The reference executor's text for an operation it does not know.
pub const UNSUPPORTED: &str = "operation not supported by executor";

/// What the executor prints, and whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The text for stdout (no trailing newline).
    pub output: String,
    /// Exit status 0 when true, 1 when false.
    pub success: bool,
}

impl Outcome {
    /// Success, printing `output`.
    pub fn ok(output: String) -> Outcome {
        Outcome {
            output,
            success: true,
        }
    }

    /// Failure, printing `output`.
    pub fn failed(output: impl Into<String>) -> Outcome {
        Outcome {
            output: output.into(),
            success: false,
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        if self.success { 0 } else { 1 }
    }
}

/// Runs the executor for `args` (without the program name).
pub async fn execute(args: &[String], env: &Env) -> Outcome {
    let [service, operation, ..] = args else {
        return Outcome::failed(MISSING_ARGUMENTS);
    };
    let config = match Config::load(env) {
        Ok(config) => config,
        Err(error) => return Outcome::failed(error.to_string()),
    };
    let audit = match Audit::open(config.audit_log.as_deref(), config.strictness) {
        Ok(audit) => Arc::new(audit),
        Err(error) => return Outcome::failed(error.to_string()),
    };
    let log = match logging::init(&config) {
        Ok(log) => log,
        Err(dropped) => {
            if let Err(error) = audit.notice(&dropped) {
                return Outcome::failed(error.to_string());
            }
            None
        }
    };
    tracing::debug!("configuration loaded");
    let outcome = match backend::connect(
        &config.docker_host,
        config.counter_roots(),
        config.systemd.bus(),
    ) {
        // The agent's request: a large policy file is never compiled here.
        Ok(engine) => {
            Invocation {
                service,
                operation,
                audit,
                started: Instant::now(),
                compile_rule: CompileRule::UpToLimit,
            }
            .run(config, engine)
            .await
        }
        Err(error) => Outcome::failed(error.to_string()),
    };
    if let Some(log) = log {
        log.flush();
    }
    outcome
}

/// Serves one request with the given engines and audit trail: what `sme`
/// does once its arguments, configuration and connections are in place
/// (`smectl run` calls it with dry-run engines and a capturing audit),
/// except that a policy file of any size is compiled when it has no
/// artifact in the cache (`sme` compiles up to `compile_on_demand_kib`).
pub async fn serve(
    config: Config,
    backends: Backends,
    audit: Arc<Audit>,
    service: &str,
    operation: &str,
) -> Outcome {
    Invocation {
        service,
        operation,
        audit,
        started: Instant::now(),
        compile_rule: CompileRule::AnySize,
    }
    .run(config, backends)
    .await
}

/// Serves `request` with the modules already chosen: `policy`, then (for
/// metrics) `addons`. What `sme` does once it has found them; `smectl test`
/// and `smectl bench` choose them themselves (a built file, a scenario).
pub async fn serve_modules(
    config: Config,
    backends: Backends,
    audit: Arc<Audit>,
    policy: &Policy,
    addons: &[Policy],
    request: &Request,
) -> Outcome {
    if let Err(invalid) = names::check_container(&request.service) {
        return Outcome::failed(invalid.to_string());
    }
    match Runtime::new(config, backends, audit, Instant::now()) {
        Ok(runtime) => run_modules(&runtime, policy, addons, request).await,
        Err(error) => Outcome::failed(format!("cannot start the runtime: {error}")),
    }
}

/// One request from the agent, for the audit trail of early failures.
struct Invocation<'a> {
    service: &'a str,
    operation: &'a str,
    audit: Arc<Audit>,
    started: Instant,
    compile_rule: CompileRule,
}

impl Invocation<'_> {
    async fn run(&self, config: Config, backends: Backends) -> Outcome {
        let dir = match PolicyDir::open(&config) {
            Ok(dir) => dir,
            Err(error) => return self.refuse(None, &error.to_string()),
        };
        let policy = match policy::find(&config, dir.as_ref(), self.operation) {
            Ok(Some(policy)) => policy,
            Ok(None) => return self.refuse(None, UNSUPPORTED),
            Err(error) => return self.refuse(Some(self.operation), &error.to_string()),
        };
        if let Err(invalid) = names::check_container(self.service) {
            return self.refuse(Some(&policy.name), &invalid.to_string());
        }
        let addons = match policy.world {
            World::Metrics => match dir.as_ref().map(|dir| dir.addons(&config)) {
                Some(Ok(addons)) => addons,
                None => Vec::new(),
                Some(Err(error)) => return self.refuse(Some(&policy.name), &error.to_string()),
            },
            World::Operation => Vec::new(),
        };
        // The request's time budget counts from when the request arrived,
        // so loading and compiling modules are paid from it too.
        let runtime = match Runtime::new(config, backends, self.audit.clone(), self.started) {
            Ok(runtime) => runtime.with_compile_rule(self.compile_rule),
            Err(error) => {
                return self.refuse(
                    Some(&policy.name),
                    &format!("cannot start the runtime: {error}"),
                );
            }
        };
        let request = Request {
            service: self.service.to_owned(),
            operation: self.operation.to_owned(),
        };
        let outcome = run_modules(&runtime, &policy, &addons, &request).await;
        tracing::debug!(success = outcome.success, "answered");
        outcome
    }

    /// Fails before any module ran, leaving an audit line for the attempt.
    fn refuse(&self, module: Option<&str>, message: &str) -> Outcome {
        let written = self.audit.invocation_done(&audit::Invocation {
            service: self.service,
            operation: self.operation,
            module,
            path: None,
            sha256: None,
            trust: None,
            outcome: "error",
            detail: Some(message),
            duration_us: audit::micros(self.started.elapsed()),
        });
        match written {
            Ok(()) => Outcome::failed(message),
            Err(error) => Outcome::failed(format!("{message} ({error})")),
        }
    }
}

/// Runs the operation's module, then (for metrics) every add-on, and turns
/// their answers into the executor's output.
async fn run_modules(
    runtime: &Runtime,
    policy: &Policy,
    addons: &[Policy],
    request: &Request,
) -> Outcome {
    let mut fields: Vec<ModuleFields> = Vec::new();
    for (index, module) in std::iter::once(policy).chain(addons).enumerate() {
        match runtime.run(module, request).await {
            Ok(Answer::Done(text)) => return Outcome::ok(text),
            // The operation's own refusal is the agent's answer as it stands;
            // an add-on's is prefixed with the add-on it came from.
            Ok(Answer::Refused(text)) if index == 0 => return Outcome::failed(text),
            Ok(Answer::Refused(text)) => return Outcome::failed(format!("{module}: {text}")),
            Ok(Answer::Fields(returned)) => fields.push(ModuleFields {
                module: module.to_string(),
                output_limit: runtime.config().module(&module.name).limits.output,
                fields: returned,
            }),
            Err(error) => return Outcome::failed(error.to_string()),
        }
    }
    match metrics::render(&fields) {
        Ok(json) => Outcome::ok(json),
        Err(error) => Outcome::failed(error.to_string()),
    }
}
