//! The one place a host call is checked.
//!
//! Every host function of every capability goes through [`Gate::call`],
//! which, in order: counts the call against the module's budget, validates
//! the container name, decides allow or deny from the module's grant, for a
//! change spends the budgets that outlast the run (docs/budgets.md:
//! beyond one, the call is answered `limit-exceeded` and nothing is sent),
//! for a call that changes a container writes its `intent` audit line (and stops
//! the guest, sending nothing, if that fails), performs the call within its
//! time budget, and writes the audit line of its result. A denial is an
//! ordinary [`CallError::Denied`] answer; exceeding a limit stops the guest.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::backend::{Backends, Kind, Labels};
use crate::contract::{CallError, UnitError};
use crate::names;
use crate::sandbox::audit::{self, Audit, Call, HostCall};
use crate::sandbox::budgets::{self, Budget, Effect};
use crate::sandbox::grants::{Decision, Grant, Target, Verb};
use crate::sandbox::ledger::{LOCK_WAIT, Spending};
use crate::sandbox::limits::{Deadline, LimitExceeded, Limits};

/// What a call is about, which decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One container, named by the policy: checked against the grant.
    Container(&'a str),
    /// A listing (described by its filter): allowed when the verb is granted
    /// on any target; the caller keeps only the rows the grant covers.
    Listing(&'a str),
    /// One Swarm service, named by the policy: checked against the grant,
    /// where `self` is the service the request maps to.
    Service(&'a str),
    /// A listing of services: as [`Scope::Listing`].
    ServiceListing(&'a str),
    /// One systemd unit, named by the policy: checked against the grant,
    /// where `self` is the unit the request maps to.
    Unit(&'a str),
    /// A listing of units: as [`Scope::Listing`].
    UnitListing(&'a str),
    /// No container (logging, the clock): counted and audited only.
    Local(&'a str),
}

/// What a call names, for its audit lines: the name (or listing filter)
/// and, for a Swarm service or a unit, `Some("service")` or `Some("unit")`.
type Named<'a> = (&'a str, Option<&'static str>);

impl Scope<'_> {
    fn object(&self) -> Option<&'static str> {
        match self {
            Scope::Service(_) | Scope::ServiceListing(_) => Some("service"),
            Scope::Unit(_) | Scope::UnitListing(_) => Some("unit"),
            Scope::Container(_) | Scope::Listing(_) | Scope::Local(_) => None,
        }
    }

    fn target(&self) -> &str {
        match self {
            Scope::Container(target)
            | Scope::Listing(target)
            | Scope::Service(target)
            | Scope::ServiceListing(target)
            | Scope::Unit(target)
            | Scope::UnitListing(target)
            | Scope::Local(target) => target,
        }
    }
}

/// The checks and the audit trail of one module's run.
#[derive(Debug)]
pub struct Gate {
    module: String,
    service: String,
    /// The Swarm service `self` means for service calls.
    swarm_service: String,
    /// Whether `[swarm]` is on or auto: with it off, no service call is
    /// made at all.
    swarm: bool,
    /// The unit `self` means for unit calls; empty (no unit) when the
    /// request maps to none.
    unit: String,
    grant: Grant,
    limits: Limits,
    deadline: Deadline,
    calls: AtomicU32,
    backends: Backends,
    audit: Arc<Audit>,
    /// The labels of each object read so far, read once per run.
    labels: Mutex<HashMap<(Kind, String), Labels>>,
    /// The budgets changes spend; none configured when `None`.
    spending: Option<Spending>,
}

impl Gate {
    /// A gate for module `module` invoked for `service`.
    pub fn new(
        module: &str,
        service: &str,
        grant: Grant,
        limits: Limits,
        deadline: Deadline,
        backends: Backends,
        audit: Arc<Audit>,
    ) -> Gate {
        Gate {
            module: module.to_owned(),
            service: service.to_owned(),
            swarm_service: service.to_owned(),
            swarm: false,
            unit: String::new(),
            grant,
            limits,
            deadline,
            calls: AtomicU32::new(0),
            backends,
            audit,
            labels: Mutex::new(HashMap::new()),
            spending: None,
        }
    }

    /// Makes changes spend `spending`'s budgets.
    pub fn with_spending(mut self, spending: Spending) -> Gate {
        self.spending = Some(spending);
        self
    }

    /// Allows calls on Swarm services (`[swarm]` is on or auto; with it
    /// off every one is denied without a request), where `self` means
    /// `service` (the agent's name mapped by `[swarm] service`).
    pub fn with_swarm_service(mut self, service: String) -> Gate {
        self.swarm_service = service;
        self.swarm = true;
        self
    }

    /// The module's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The Swarm service `self` means.
    pub fn swarm_service(&self) -> &str {
        &self.swarm_service
    }

    /// Makes `self` mean `unit` for calls on systemd units (the agent's name
    /// mapped by `[systemd] unit`); it means no unit otherwise.
    pub fn with_unit(mut self, unit: String) -> Gate {
        self.unit = unit;
        self
    }

    /// The unit `self` means; empty when there is none.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// The audit trail this gate writes to (the `log` capability also
    /// hands it the module's messages, see [`Audit::guest_log`]).
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Checks, performs and audits one host call. `perform` receives the
    /// time the call may take and does the work; for container and listing
    /// calls that time is also enforced here.
    pub async fn call<T, E, F, Fut>(
        &self,
        verb: Verb,
        scope: Scope<'_>,
        perform: F,
    ) -> wasmtime::Result<Result<T, E>>
    where
        E: From<CallError> + AuditDetail,
        F: FnOnce(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_noting(verb, scope, |_| Noted::default(), perform)
            .await
    }

    /// [`Gate::call`], with what the audit line notes of the answer taken
    /// from it by `note`: the grace period a stop asked for, or the one a
    /// container has ([`HostCall::timeout_s`]); where a measurement's
    /// counters came from ([`HostCall::source`]).
    pub async fn call_noting<T, E, N, F, Fut>(
        &self,
        verb: Verb,
        scope: Scope<'_>,
        note: N,
        perform: F,
    ) -> wasmtime::Result<Result<T, E>>
    where
        E: From<CallError> + AuditDetail,
        N: FnOnce(&T) -> Noted,
        F: FnOnce(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_settling(verb, scope, note, Duration::ZERO, perform)
            .await
    }

    /// [`Gate::call`] for a change that spends `effect` rather than its
    /// verb's ([`Effect::of_scale`]).
    pub async fn call_spending<T, E, F, Fut>(
        &self,
        verb: Verb,
        effect: Effect,
        scope: Scope<'_>,
        perform: F,
    ) -> wasmtime::Result<Result<T, E>>
    where
        E: From<CallError> + AuditDetail,
        F: FnOnce(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.checked_call(
            verb,
            Some(effect),
            scope,
            |_| Noted::default(),
            Duration::ZERO,
            perform,
        )
        .await
    }

    /// [`Gate::call_noting`] for a change whose answer may be lost: `perform`
    /// gets the call's timeout to wait for the answer, and `settle` more
    /// (within the module's deadline) to find out what happened without it.
    pub async fn call_settling<T, E, N, F, Fut>(
        &self,
        verb: Verb,
        scope: Scope<'_>,
        note: N,
        settle: Duration,
        perform: F,
    ) -> wasmtime::Result<Result<T, E>>
    where
        E: From<CallError> + AuditDetail,
        N: FnOnce(&T) -> Noted,
        F: FnOnce(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.checked_call(verb, Effect::of(verb), scope, note, settle, perform)
            .await
    }

    async fn checked_call<T, E, N, F, Fut>(
        &self,
        verb: Verb,
        effect: Option<Effect>,
        scope: Scope<'_>,
        note: N,
        settle: Duration,
        perform: F,
    ) -> wasmtime::Result<Result<T, E>>
    where
        E: From<CallError> + AuditDetail,
        N: FnOnce(&T) -> Noted,
        F: FnOnce(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let target = scope.target();
        let object = scope.object();
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if calls > self.limits.host_calls {
            return self.stop(
                verb,
                (target, object),
                LimitExceeded::HostCalls(self.limits.host_calls),
                started,
            );
        }
        if let Err(refusal) = self.admit(verb, scope).await {
            self.record(verb, (target, object), "deny", Err(&refusal), started)?;
            return Ok(Err(E::from(refusal)));
        }
        let limits_said = match effect {
            Some(effect) => match self.spend(verb, effect, scope).await {
                Ok(said) => said,
                Err(refusal) => {
                    self.record(verb, (target, object), "limit", Err(&refusal), started)?;
                    return Ok(Err(E::from(refusal)));
                }
            },
            None => None,
        };

        if verb.is_mutating() {
            // Fails closed: without its line, the change is never sent.
            self.audit.intent(&self.described(verb, (target, object)))?;
        }
        let left = self.deadline.left();
        let deadline = self.deadline.exceeded.clone();
        if left.is_zero() {
            return self.stop(verb, (target, object), deadline, started);
        }
        let answer = match scope {
            Scope::Local(_) => perform(left).await,
            Scope::Container(_)
            | Scope::Listing(_)
            | Scope::Service(_)
            | Scope::ServiceListing(_)
            | Scope::Unit(_)
            | Scope::UnitListing(_) => {
                let (timeout, which) = match scope {
                    Scope::Unit(_) | Scope::UnitListing(_) => (self.limits.unit_timeout, "unit"),
                    _ => (self.limits.docker_timeout, "Docker"),
                };
                let budget = timeout.min(left);
                let allowed = (timeout + settle).min(left);
                match tokio::time::timeout(allowed, perform(budget)).await {
                    Ok(answer) => answer,
                    Err(_) if allowed < timeout + settle => {
                        return self.stop(verb, (target, object), deadline, started);
                    }
                    Err(_) => Err(E::from(CallError::Timeout(format!(
                        "{verb} of {target} took longer than the {which} timeout of {} ms",
                        budget.as_millis()
                    )))),
                }
            }
        };
        let noted = Noted {
            limits: limits_said,
            ..answer.as_ref().map_or_else(|_| Noted::default(), note)
        };
        let outcome = answer
            .as_ref()
            .map(|_| ())
            .map_err(|e| e as &dyn AuditDetail);
        self.record_noting(verb, (target, object), "allow", outcome, noted, started)?;
        Ok(answer)
    }

    /// Audits a call that ran into `limit`, and returns the error that stops
    /// the guest.
    fn stop<T>(
        &self,
        verb: Verb,
        target: Named<'_>,
        limit: LimitExceeded,
        started: Instant,
    ) -> wasmtime::Result<T> {
        self.record(verb, target, "limit", Err(&limit.to_string()), started)?;
        Err(limit.into())
    }

    /// Validates and decides a call: `Err` is the refusal to answer.
    async fn admit(&self, verb: Verb, scope: Scope<'_>) -> Result<(), CallError> {
        if matches!(scope, Scope::Service(_) | Scope::ServiceListing(_)) && !self.swarm {
            return Err(CallError::Denied(format!(
                "module {} may not {verb} {}: Swarm is off in SME's configuration \
                 ([swarm] mode = \"off\"), so no service call is made",
                self.module,
                scope.target()
            )));
        }
        let (kind, name) = match scope {
            Scope::Local(_) => return Ok(()),
            Scope::Listing(_) | Scope::ServiceListing(_) | Scope::UnitListing(_)
                if self.grant.has(verb) =>
            {
                return Ok(());
            }
            Scope::Listing(_) => return Err(self.denied(verb, Kind::Container, None)),
            Scope::ServiceListing(_) => return Err(self.denied(verb, Kind::Service, None)),
            Scope::UnitListing(_) => return Err(self.denied(verb, Kind::Unit, None)),
            Scope::Container(container) => (Kind::Container, container),
            Scope::Service(service) => (Kind::Service, service),
            Scope::Unit(unit) => (Kind::Unit, unit),
        };
        if kind == Kind::Unit {
            crate::backend::systemd::checked(name)
                .map_err(|invalid| CallError::InvalidArgument(invalid.to_string()))?;
        } else {
            names::check_container(name)
                .map_err(|invalid| CallError::InvalidArgument(invalid.to_string()))?;
        }
        match self.decide(verb, kind, name).await {
            Decision::Allow => Ok(()),
            _ => Err(self.denied(verb, kind, Some(name))),
        }
    }

    /// Checks `effect` against its windows, then spends it on the object of
    /// `scope` from every budget that counts it. `Ok` says what the windows
    /// and budgets found, for the call's audit line (none when nothing
    /// applies); `Err` is the refusal to answer, outside the windows, when
    /// a budget is spent, or when the counts cannot be read or written
    /// (fails closed).
    async fn spend(
        &self,
        verb: Verb,
        effect: Effect,
        scope: Scope<'_>,
    ) -> Result<Option<String>, CallError> {
        let Some(spending) = &self.spending else {
            return Ok(None);
        };
        let (kind, name) = match scope {
            Scope::Container(name) => (Kind::Container, name),
            Scope::Service(name) => (Kind::Service, name),
            Scope::Unit(name) => (Kind::Unit, name),
            _ => return Ok(None),
        };
        let refused = |why: String| {
            CallError::LimitExceeded(format!(
                "module {} may not {verb} {name} now: {why}",
                self.module
            ))
        };
        let mut said = spending.open(effect).map_err(refused)?;
        let mut applying: Vec<&Budget> = Vec::new();
        for budget in spending.budgets.iter().filter(|b| b.effect == effect) {
            if self.counts(budget.target.as_ref(), kind, name).await {
                applying.push(budget);
            }
        }
        if !applying.is_empty() {
            let object = budgets::object_key(kind, name);
            let wait = LOCK_WAIT.min(self.deadline.left());
            said.push(
                spending
                    .spend(&object, effect, &applying, wait)
                    .map_err(refused)?,
            );
        }
        Ok((!said.is_empty()).then(|| said.join("; ")))
    }

    /// Whether a budget's `target` counts the object: every object without
    /// one; by labels only when they can be read, else counted (a budget
    /// fails closed).
    async fn counts(&self, target: Option<&Target>, kind: Kind, name: &str) -> bool {
        let Some(target) = target else {
            return true;
        };
        if !target.needs_labels() {
            return target.matches_name(name, self.own_name(kind));
        }
        self.labels_of(kind, name)
            .await
            .is_none_or(|labels| target.matches_labels(&labels))
    }

    /// What `self` means for an object of kind `kind`: the agent's name for
    /// a container, the service it maps to for a Swarm service.
    fn own_name(&self, kind: Kind) -> &str {
        match kind {
            Kind::Container => &self.service,
            Kind::Service => &self.swarm_service,
            Kind::Unit => &self.unit,
        }
    }

    async fn decide(&self, verb: Verb, kind: Kind, name: &str) -> Decision {
        let own = self.own_name(kind);
        match self.grant.permits(verb, name, own, None) {
            Decision::NeedLabels => match self.labels_of(kind, name).await {
                Some(labels) => self.grant.permits(verb, name, own, Some(&labels)),
                None => Decision::Deny,
            },
            decision => decision,
        }
    }

    /// Whether the grant covers `verb` on an object with these labels, for
    /// filtering the rows of a listing.
    pub fn covers(&self, verb: Verb, kind: Kind, name: &str, labels: &[(String, String)]) -> bool {
        self.grant
            .permits(verb, name, self.own_name(kind), Some(labels))
            == Decision::Allow
    }

    /// The labels of an object, read once per run through the engine (and
    /// again by nothing: a module's own notes on a service never select a
    /// grant, see [`crate::sandbox::grants::NOTE_PREFIX`]). `None` when they
    /// cannot be read, which denies label-based grants.
    async fn labels_of(&self, kind: Kind, name: &str) -> Option<Labels> {
        let key = (kind, name.to_owned());
        let cached = self
            .labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(labels) = cached {
            return Some(labels);
        }
        let left = self.deadline.left();
        let lookup = self.backends.labels(kind, name);
        let labels = tokio::time::timeout(self.limits.docker_timeout.min(left), lookup)
            .await
            .ok()?
            .ok()?;
        self.labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, labels.clone());
        Some(labels)
    }

    /// The refusal of `verb` on object `name` of kind `kind`, or on a
    /// listing of them when `name` is `None`.
    fn denied(&self, verb: Verb, kind: Kind, name: Option<&str>) -> CallError {
        let target = name.unwrap_or(kind.plural());
        let own_name = self.own_name(kind);
        let allowed = self.grant.describe(verb);
        let own = if self
            .grant
            .targets(verb)
            .contains(&crate::sandbox::grants::Target::Service)
        {
            format!(" (self is {own_name})")
        } else {
            String::new()
        };
        CallError::Denied(format!(
            "module {} may not {verb} {target}: its grant allows {verb} on {allowed}{own}",
            self.module
        ))
    }

    fn record(
        &self,
        verb: Verb,
        target: Named<'_>,
        decision: &str,
        result: Result<(), &dyn AuditDetail>,
        started: Instant,
    ) -> wasmtime::Result<()> {
        self.record_noting(verb, target, decision, result, Noted::default(), started)
    }

    /// What a call of `verb` on `target` by this module is, for its lines.
    fn described<'a>(&'a self, verb: Verb, (target, object): Named<'a>) -> Call<'a> {
        Call {
            module: &self.module,
            service: &self.service,
            verb: verb.name(),
            target,
            object,
        }
    }

    fn record_noting(
        &self,
        verb: Verb,
        target: Named<'_>,
        decision: &str,
        result: Result<(), &dyn AuditDetail>,
        noted: Noted,
        started: Instant,
    ) -> wasmtime::Result<()> {
        let (result, detail) = match &result {
            Ok(()) => ("ok", None),
            Err(error) => (error.kind(), Some(error.detail())),
        };
        let detail = detail.as_deref();
        self.audit.host_call(&HostCall {
            call: self.described(verb, target),
            decision,
            result,
            detail,
            timeout_s: noted.timeout_s,
            source: noted.source,
            network: noted.network,
            settled: noted.settled.as_deref(),
            replaced: noted.replaced,
            bytes: noted.bytes,
            limits: noted.limits.as_deref(),
            duration_us: audit::micros(started.elapsed()),
        })?;
        Ok(())
    }
}

/// What an audit line notes of a call's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Noted {
    /// See [`HostCall::timeout_s`].
    pub timeout_s: Option<u32>,
    /// See [`HostCall::source`].
    pub source: Option<&'static str>,
    /// See [`HostCall::network`].
    pub network: Option<&'static str>,
    /// See [`HostCall::settled`].
    pub settled: Option<String>,
    /// See [`HostCall::replaced`].
    pub replaced: Option<bool>,
    /// See [`HostCall::bytes`].
    pub bytes: Option<usize>,
    /// See [`HostCall::limits`].
    pub limits: Option<String>,
}

impl Noted {
    /// A grace period, in seconds.
    pub fn timeout(timeout_s: Option<u32>) -> Noted {
        Noted {
            timeout_s,
            ..Noted::default()
        }
    }

    /// A state write: whether it replaced the value, and the value's length.
    pub fn bytes(replaced: bool, bytes: usize) -> Noted {
        Noted {
            replaced: Some(replaced),
            bytes: Some(bytes),
            ..Noted::default()
        }
    }
}

/// What an audit line says about a failed call: the answers of every
/// capability's error type.
pub trait AuditDetail {
    /// The kind of answer (`not-found`...).
    fn kind(&self) -> &str;
    /// Its explanation.
    fn detail(&self) -> Cow<'_, str>;
}

impl AuditDetail for CallError {
    fn kind(&self) -> &str {
        CallError::kind(self)
    }

    fn detail(&self) -> Cow<'_, str> {
        self.message().into()
    }
}

impl AuditDetail for UnitError {
    fn kind(&self) -> &str {
        UnitError::kind(self)
    }

    fn detail(&self) -> Cow<'_, str> {
        self.message()
    }
}

impl AuditDetail for String {
    fn kind(&self) -> &str {
        "limit-exceeded"
    }

    fn detail(&self) -> Cow<'_, str> {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::docker::{self, Call as DockerCall, DockerError, Relay, Reply};
    use crate::contract::{Container, Health, Mode, Service, Status, UpdateState};
    use crate::sandbox::grants::Target;

    /// Engines that know one labelled container and one labelled service,
    /// and fail everything else.
    #[derive(Debug)]
    struct Fake;

    #[async_trait::async_trait]
    impl Relay for Fake {
        async fn relay(&self, call: DockerCall) -> docker::Result<Reply> {
            let labels = vec![("tier".into(), "core".into())];
            match call {
                DockerCall::Inspect { name } if name == "labelled" => {
                    Ok(Reply::Container(Container {
                        id: "1".into(),
                        name,
                        image: "img".into(),
                        status: Status::Running,
                        running: true,
                        health: Health::None,
                        exit_code: 0,
                        restart_count: 0,
                        created_ms: 0,
                        started_ms: None,
                        finished_ms: None,
                        labels,
                    }))
                }
                DockerCall::Service { name } if name == "labelled-service" => {
                    Ok(Reply::Service(Service {
                        id: "s1".into(),
                        name,
                        image: "img".into(),
                        mode: Mode::Replicated,
                        replicas: Some(1),
                        desired_tasks: 1,
                        running_tasks: 1,
                        tasks: Vec::new(),
                        update_state: UpdateState::None,
                        update_message: String::new(),
                        labels,
                        version: 1,
                        created_ms: 0,
                        updated_ms: 0,
                    }))
                }
                DockerCall::Inspect { name } => Err(DockerError::NotFound(name)),
                DockerCall::Service { name } => Err(DockerError::NoService(name)),
                other => Err(DockerError::Engine(format!("{other} is not faked"))),
            }
        }
    }

    fn gate(grant: Grant, limits: Limits) -> (Gate, Arc<Audit>) {
        let audit = Arc::new(Audit::none().capturing());
        let deadline = Deadline {
            at: Instant::now() + limits.deadline,
            exceeded: LimitExceeded::Deadline(limits.deadline),
        };
        let gate = Gate::new(
            "test",
            "svc",
            grant,
            limits,
            deadline,
            Backends::of(Arc::new(Fake)),
            audit.clone(),
        );
        (gate, audit)
    }

    fn granted(verb: Verb, target: &str) -> Grant {
        let mut grant = Grant::none();
        grant.allow(verb, Target::parse(target).unwrap());
        grant
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }

    async fn stop(gate: &Gate, container: &str) -> wasmtime::Result<Result<(), CallError>> {
        gate.call(Verb::Stop, Scope::Container(container), |_| async {
            Ok(())
        })
        .await
    }

    #[test]
    fn stop_is_denied_outside_grant() {
        let (gate, audit) = gate(granted(Verb::Stop, "self"), Limits::default());
        let answer = block_on(stop(&gate, "other")).unwrap();
        let Err(CallError::Denied(message)) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(
            message,
            "module test may not stop other: its grant allows stop on self (self is svc)"
        );
        let line: serde_json::Value = serde_json::from_str(&audit.captured()[0]).unwrap();
        assert_eq!(
            (line["decision"].as_str(), line["verb"].as_str()),
            (Some("deny"), Some("stop"))
        );
        assert!(block_on(stop(&gate, "svc")).unwrap().is_ok());
    }

    #[test]
    fn a_budget_on_restart_counts_every_backend_s_restart_and_scale_to_zero_is_a_stop() {
        use crate::sandbox::ledger::{Counting, Ledger, Spending};
        let state = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("gate-budgets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        let one = |effect| Budget {
            effect,
            max: 1,
            per: Duration::from_secs(60),
            target: None,
            source: "[budgets]".into(),
        };
        let mut grant = Grant::none();
        for verb in [Verb::Restart, Verb::Redeploy, Verb::Scale, Verb::Stop] {
            grant.allow(verb, Target::parse("name:*").unwrap());
        }
        let (gate, audit) = gate(grant, Limits::default());
        let gate = gate
            .with_swarm_service("svc".into())
            .with_spending(Spending {
                budgets: vec![one(Effect::Restart), one(Effect::Stop)],
                windows: Vec::new(),
                horizon: (Duration::from_secs(60), 1),
                ledger: Ledger::open(Some(&state)),
                counting: Counting::Spend,
                held: Default::default(),
            });
        let done = |_| async { Ok::<(), CallError>(()) };
        let twice = |verb, scope| {
            block_on(async {
                let first = gate.call(verb, scope, done).await.unwrap();
                let second = gate.call(verb, scope, done).await.unwrap();
                (first.is_ok(), second)
            })
        };
        for (verb, scope) in [
            (Verb::Restart, Scope::Unit("demo.service")),
            (Verb::Restart, Scope::Container("demo")),
            (Verb::Redeploy, Scope::Service("demo")),
        ] {
            let (first, second) = twice(verb, scope);
            assert!(first, "{verb} of {scope:?}");
            let Err(CallError::LimitExceeded(message)) = second else {
                panic!("{second:?}")
            };
            assert!(
                message.contains("budget restart (1 per 1m, [budgets]) is spent"),
                "{message}"
            );
        }
        // Scaling a service to none spends its stop; to some, nothing here.
        let scale = |replicas| {
            block_on(gate.call_spending(
                Verb::Scale,
                Effect::of_scale(replicas),
                Scope::Service("demo"),
                done,
            ))
            .unwrap()
        };
        assert!(scale(2).is_ok() && scale(2).is_ok());
        assert!(scale(0).is_ok());
        assert!(matches!(scale(0), Err(CallError::LimitExceeded(_))));
        let limits = audit
            .captured()
            .iter()
            .filter(|line| line.contains(r#""decision":"limit""#))
            .count();
        assert_eq!(limits, 4);
        std::fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn label_grants_read_the_labels() {
        let (gate, _) = gate(granted(Verb::Stop, "label:tier=core"), Limits::default());
        assert!(block_on(stop(&gate, "labelled")).unwrap().is_ok());
        assert!(matches!(
            block_on(stop(&gate, "missing")).unwrap(),
            Err(CallError::Denied(_))
        ));
    }

    #[test]
    fn invalid_names_are_refused_before_the_grant() {
        let (gate, _) = gate(granted(Verb::Stop, "name:*"), Limits::default());
        let answer = block_on(stop(&gate, "a;reboot")).unwrap();
        assert!(
            matches!(answer, Err(CallError::InvalidArgument(_))),
            "{answer:?}"
        );
    }

    #[test]
    fn the_host_call_budget_stops_the_guest() {
        let limits = Limits {
            host_calls: 2,
            ..Limits::default()
        };
        let (gate, audit) = gate(granted(Verb::Stop, "self"), limits);
        assert!(block_on(stop(&gate, "svc")).is_ok());
        assert!(block_on(stop(&gate, "svc")).is_ok());
        let error = block_on(stop(&gate, "svc")).unwrap_err();
        assert_eq!(
            error.downcast_ref::<LimitExceeded>(),
            Some(&LimitExceeded::HostCalls(2))
        );
        assert!(
            audit
                .captured()
                .last()
                .unwrap()
                .contains(r#""decision":"limit""#)
        );
    }

    #[test]
    fn slow_docker_calls_time_out() {
        let limits = Limits {
            docker_timeout: Duration::from_millis(20),
            ..Limits::default()
        };
        let (gate, _) = gate(granted(Verb::Stop, "self"), limits);
        let answer = block_on(gate.call(Verb::Stop, Scope::Container("svc"), |_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        }))
        .unwrap();
        assert!(matches!(answer, Err(CallError::Timeout(_))), "{answer:?}");
    }

    #[test]
    fn a_change_is_audited_before_it_is_sent() {
        let (stopper, audit) = gate(granted(Verb::Stop, "self"), Limits::default());
        let seen = block_on(stopper.call(Verb::Stop, Scope::Container("svc"), |_| {
            let lines = audit.captured();
            async move { Ok::<_, CallError>(lines) }
        }))
        .unwrap()
        .unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let intent: serde_json::Value = serde_json::from_str(&seen[0]).unwrap();
        assert_eq!(
            (intent["event"].as_str(), intent["verb"].as_str()),
            (Some("intent"), Some("stop"))
        );
        let after: serde_json::Value = serde_json::from_str(&audit.captured()[1]).unwrap();
        assert_eq!(after["event"], "host-call");
        // Reads are not announced.
        let (reader, audit) = gate(granted(Verb::Inspect, "self"), Limits::default());
        let inspected = block_on(
            reader.call(Verb::Inspect, Scope::Container("svc"), |_| async {
                Ok::<(), CallError>(())
            }),
        );
        assert!(inspected.unwrap().is_ok());
        assert_eq!(audit.captured().len(), 1);
    }

    #[test]
    fn listings_need_the_list_verb() {
        let (gate, _) = gate(granted(Verb::Inspect, "self"), Limits::default());
        let answer = block_on(gate.call(Verb::List, Scope::Listing("*"), |_| async {
            Ok::<(), CallError>(())
        }));
        assert!(matches!(answer.unwrap(), Err(CallError::Denied(_))));
    }

    #[test]
    fn self_on_a_service_means_the_mapped_service() {
        let (gate, _) = gate(granted(Verb::Scale, "self"), Limits::default());
        let gate = gate.with_swarm_service("edgex_svc".to_owned());
        let call = |target| {
            block_on(gate.call(Verb::Scale, Scope::Service(target), |_| async {
                Ok::<(), CallError>(())
            }))
        };
        assert_eq!(call("edgex_svc").unwrap(), Ok(()));
        let Err(CallError::Denied(message)) = call("svc").unwrap() else {
            panic!("the agent's own name is not the service")
        };
        assert!(message.contains("(self is edgex_svc)"), "{message}");
        // On a container, self is still the agent's name.
        let (containers, _) = gate_for(granted(Verb::Stop, "self"), "edgex_svc");
        let answer = block_on(
            containers.call(Verb::Stop, Scope::Container("svc"), |_| async {
                Ok::<(), CallError>(())
            }),
        );
        assert_eq!(answer.unwrap(), Ok(()));
    }

    fn gate_for(grant: Grant, swarm_service: &str) -> (Gate, Arc<Audit>) {
        let (gate, audit) = gate(grant, Limits::default());
        (gate.with_swarm_service(swarm_service.to_owned()), audit)
    }

    #[test]
    fn service_label_grants_read_the_services_labels() {
        let (gate, audit) = gate_for(granted(Verb::Redeploy, "label:tier=core"), "svc");
        let call = |target| {
            block_on(
                gate.call(Verb::Redeploy, Scope::Service(target), |_| async {
                    Ok::<(), CallError>(())
                }),
            )
        };
        assert_eq!(call("labelled-service").unwrap(), Ok(()));
        // A container of that name does not make a service of it, and a
        // missing service has no labels.
        assert!(matches!(
            call("labelled").unwrap(),
            Err(CallError::Denied(_))
        ));
        assert!(matches!(call("gone").unwrap(), Err(CallError::Denied(_))));
        let lines = audit.captured();
        assert!(lines[0].contains("\"verb\":\"redeploy\""), "{lines:?}");
        // Service calls say so; container lines stay as they always were.
        assert!(
            lines
                .iter()
                .all(|line| line.contains("\"object\":\"service\"")),
            "{lines:?}"
        );
        let (containers, audit) = gate_for(granted(Verb::Stop, "self"), "svc");
        block_on(stop(&containers, "svc")).unwrap().unwrap();
        assert!(audit.captured().iter().all(|line| !line.contains("object")));
    }

    async fn stop_unit(gate: &Gate, unit: &str) -> wasmtime::Result<Result<(), UnitError>> {
        gate.call(Verb::Stop, Scope::Unit(unit), |_| async { Ok(()) })
            .await
    }

    #[test]
    fn self_on_a_unit_means_the_mapped_unit_and_labels_select_none() {
        let (plain, audit) = gate(granted(Verb::Stop, "self"), Limits::default());
        // With no unit mapped, self is no unit.
        let answer = block_on(stop_unit(&plain, "svc.service")).unwrap();
        assert!(matches!(answer, Err(UnitError::Denied(_))), "{answer:?}");
        let mapped = plain.with_unit("snap.edgex.svc.service".to_owned());
        assert_eq!(
            block_on(stop_unit(&mapped, "snap.edgex.svc.service")).unwrap(),
            Ok(())
        );
        let Err(UnitError::Denied(message)) =
            block_on(stop_unit(&mapped, "other.service")).unwrap()
        else {
            panic!("another unit is not self")
        };
        assert!(
            message.contains("(self is snap.edgex.svc.service)"),
            "{message}"
        );
        assert!(
            audit
                .captured()
                .iter()
                .all(|line| line.contains("\"object\":\"unit\"")),
            "{:?}",
            audit.captured()
        );
        let (labelled, _) = gate(granted(Verb::Stop, "label:tier"), Limits::default());
        let answer = block_on(stop_unit(&labelled, "labelled.service")).unwrap();
        assert!(matches!(answer, Err(UnitError::Denied(_))), "{answer:?}");
        let (named, _) = gate(granted(Verb::Stop, "name:snap.*"), Limits::default());
        assert_eq!(
            block_on(stop_unit(&named, "snap.x.service")).unwrap(),
            Ok(())
        );
    }

    #[test]
    fn unit_names_are_checked_as_unit_names() {
        let (gate, _) = gate(granted(Verb::Stop, "name:*"), Limits::default());
        for name in [
            "svc",
            "getty@tty1.service",
            "a\\x2db.service",
            "a/b.service",
        ] {
            let answer = block_on(stop_unit(&gate, name)).unwrap();
            assert!(
                matches!(answer, Err(UnitError::InvalidArgument(_))),
                "{name}: {answer:?}"
            );
        }
    }

    #[test]
    fn slow_unit_calls_time_out_on_their_own_key() {
        let limits = Limits {
            unit_timeout: Duration::from_millis(20),
            ..Limits::default()
        };
        let (gate, audit) = gate(granted(Verb::Stop, "name:*"), limits);
        let answer = block_on(gate.call(Verb::Stop, Scope::Unit("x.service"), |_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<(), UnitError>(())
        }));
        let Err(UnitError::Timeout(message)) = answer.unwrap() else {
            panic!("not a timeout")
        };
        assert!(message.contains("the unit timeout of 20 ms"), "{message}");
        assert!(audit.captured()[1].contains("\"result\":\"timeout\""));
    }

    #[test]
    fn a_refusal_is_audited_in_systemds_words() {
        let (gate, audit) = gate(granted(Verb::Start, "name:*"), Limits::default());
        let answer = block_on(gate.call(Verb::Start, Scope::Unit("x.service"), |_| async {
            Err::<(), _>(UnitError::Refused(crate::contract::systemd::Refusal {
                name: "org.freedesktop.systemd1.UnitMasked".to_owned(),
                message: "Unit x.service is masked.".to_owned(),
            }))
        }));
        assert!(matches!(answer.unwrap(), Err(UnitError::Refused(_))));
        let line: serde_json::Value =
            serde_json::from_str(audit.captured().last().unwrap()).unwrap();
        assert_eq!(line["result"], "refused");
        assert_eq!(
            line["detail"],
            "org.freedesktop.systemd1.UnitMasked: Unit x.service is masked."
        );
    }

    #[test]
    fn service_verbs_are_denied_without_a_grant() {
        let (gate, _) = gate_for(granted(Verb::Stop, "self"), "svc");
        let answer = block_on(gate.call(Verb::Scale, Scope::Service("svc"), |_| async {
            Ok::<(), CallError>(())
        }));
        let Err(CallError::Denied(message)) = answer.unwrap() else {
            panic!("scale is not granted")
        };
        assert!(
            message.ends_with("its grant allows scale on no service"),
            "{message}"
        );
        let listing = block_on(
            gate.call(Verb::List, Scope::ServiceListing("*"), |_| async {
                Ok::<(), CallError>(())
            }),
        );
        assert!(matches!(listing.unwrap(), Err(CallError::Denied(_))));
    }

    #[test]
    fn with_swarm_off_no_service_call_is_made_whatever_the_grant() {
        let (gate, audit) = gate(granted(Verb::Scale, "self"), Limits::default());
        let sent = std::sync::atomic::AtomicBool::new(false);
        let answer = block_on(gate.call(Verb::Scale, Scope::Service("svc"), |_| async {
            sent.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok::<(), CallError>(())
        }));
        let Err(CallError::Denied(message)) = answer.unwrap() else {
            panic!("a service call with Swarm off")
        };
        assert!(message.contains("Swarm is off"), "{message}");
        assert!(
            !sent.load(std::sync::atomic::Ordering::Relaxed),
            "nothing sent"
        );
        let line: serde_json::Value = serde_json::from_str(&audit.captured()[0]).unwrap();
        assert_eq!(
            (line["decision"].as_str(), line["object"].as_str()),
            (Some("deny"), Some("service"))
        );
        let listing = block_on(
            gate.call(Verb::List, Scope::ServiceListing("*"), |_| async {
                Ok::<(), CallError>(())
            }),
        );
        assert!(matches!(listing.unwrap(), Err(CallError::Denied(_))));
    }
}
