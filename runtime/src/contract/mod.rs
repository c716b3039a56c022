//! The generated component bindings, in one place.
//!
//! `bindgen!` runs once per world over `wit/`; the two policy worlds reuse the
//! host interfaces generated for the `host` world. Host functions are async
//! (they talk to Docker) and trappable: the outer `wasmtime::Result` stops
//! the guest (a limit, a host fault), the inner `Result` is the typed answer
//! the guest can handle.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "host",
        imports: { default: async | trappable },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });

    /// Generates one policy world, reusing the host interfaces above.
    macro_rules! policy_world {
        ($world:literal) => {
            wasmtime::component::bindgen!({
                path: "../wit",
                world: $world,
                imports: { default: async | trappable },
                exports: { default: async },
                with: { "sme:policy": super::sme::policy },
            });
        };
    }

    pub mod operation {
        policy_world!("operation");
    }

    pub mod metrics {
        policy_world!("metrics");
    }
}

pub use generated::metrics::Metrics;
pub use generated::operation::Operation;
pub use generated::sme::policy::containers::{self, Container, Filter, Health, Status, Summary};
pub use generated::sme::policy::services::{
    self, Mode, Service, Summary as ServiceSummary, Task, TaskMeasurement, TaskState, UpdateState,
};
pub use generated::sme::policy::stats::{self, CpuReading, Measurement, Sample};
pub use generated::sme::policy::systemd::{self, Error as UnitError};
pub use generated::sme::policy::types::{self, Error as CallError, Metric, MetricValue, Request};
pub use generated::sme::policy::{
    clock, container_config, counters, cpu_window, log, settings, state,
};

// The simulated engines' rules (`sme_model`) work on types of their own,
// the same records field for field.
sme_model::wit_types! {
    status: Status, health: Health, container: Container,
    mode: Mode, task_state: TaskState, update_state: UpdateState,
    task: Task, service: Service, summary: ServiceSummary,
}

impl CallError {
    /// The kind of answer, as written in audit lines (`not-found`...).
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Denied(_) => "denied",
            CallError::NotFound(_) => "not-found",
            CallError::Timeout(_) => "timeout",
            CallError::LimitExceeded(_) => "limit-exceeded",
            CallError::InvalidArgument(_) => "invalid-argument",
            CallError::Docker(_) => "docker",
        }
    }

    /// The explanation carried by the answer.
    pub fn message(&self) -> &str {
        match self {
            CallError::Denied(m)
            | CallError::NotFound(m)
            | CallError::Timeout(m)
            | CallError::LimitExceeded(m)
            | CallError::InvalidArgument(m)
            | CallError::Docker(m) => m,
        }
    }
}

impl UnitError {
    /// The kind of answer, as written in audit lines (`refused`...).
    pub fn kind(&self) -> &'static str {
        match self {
            UnitError::Denied(_) => "denied",
            UnitError::NotFound(_) => "not-found",
            UnitError::Timeout(_) => "timeout",
            UnitError::LimitExceeded(_) => "limit-exceeded",
            UnitError::InvalidArgument(_) => "invalid-argument",
            UnitError::Refused(_) => "refused",
            UnitError::Unreachable(_) => "unreachable",
        }
    }

    /// The explanation carried by the answer: systemd's error name and
    /// message for a refusal.
    pub fn message(&self) -> std::borrow::Cow<'_, str> {
        match self {
            UnitError::Refused(refusal) => format!("{}: {}", refusal.name, refusal.message).into(),
            UnitError::Denied(m)
            | UnitError::NotFound(m)
            | UnitError::Timeout(m)
            | UnitError::LimitExceeded(m)
            | UnitError::InvalidArgument(m)
            | UnitError::Unreachable(m) => m.into(),
        }
    }
}

/// The answers every host call may get (a denial, a limit, a timeout)
/// keep their kind on a unit call. The gate never answers `docker`.
impl From<CallError> for UnitError {
    fn from(error: CallError) -> UnitError {
        match error {
            CallError::Denied(m) => UnitError::Denied(m),
            CallError::NotFound(m) => UnitError::NotFound(m),
            CallError::Timeout(m) => UnitError::Timeout(m),
            CallError::LimitExceeded(m) => UnitError::LimitExceeded(m),
            CallError::InvalidArgument(m) => UnitError::InvalidArgument(m),
            CallError::Docker(m) => UnitError::Unreachable(m),
        }
    }
}
