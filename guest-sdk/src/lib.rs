//! Write SME policies in a few lines of Rust.
//!
//! An SME policy is a WebAssembly component that decides what the EdgeX
//! executor does for one operation. This crate hides the component bindings:
//! a policy is a plain function, exported with [`operation!`] or [`metrics!`],
//! that calls the host through typed modules ([`containers`], [`stats`],
//! [`log`], [`clock`]) and reuses the reference executor's behaviour from
//! [`edgex`].
//!
//! A stop that refuses to stop the database, and otherwise does exactly what
//! the reference executor does:
//!
//! ```
//! use sme_guest::edgex::{self, Lifecycle};
//! use sme_guest::Request;
//!
//! fn stop(request: Request) -> Result<String, String> {
//!     if request.service == "edgex-redis" {
//!         return Err("Error stopping service: edgex-redis is protected".into());
//!     }
//!     edgex::lifecycle(Lifecycle::Stop, &request.service)
//! }
//!
//! sme_guest::operation!(stop);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and drop the
//! `.wasm` file into the policy directory as `stop.wasm`. Every host call is
//! checked against the module's grant; a call outside it returns
//! [`Error::Denied`] rather than doing anything.
#![deny(missing_docs)]

pub mod edgex;
pub mod figures;
pub mod settings;
pub mod units;

pub use figures::Figures;

#[doc(hidden)]
pub mod __private {
    //! The generated component bindings. Not part of the API: use the
    //! modules and macros at the crate root.
    #![allow(missing_docs)]

    wit_bindgen::generate!({
        world: "host",
        path: "../wit",
    });

    /// Generates the bindings of one policy world, reusing the host
    /// interfaces generated above, with an export macro for that world.
    macro_rules! policy_world {
        ($world:literal, $export_macro:literal, $module:literal) => {
            wit_bindgen::generate!({
                world: $world,
                path: "../wit",
                with: {
                    "sme:policy/types@0.1.0": crate::__private::sme::policy::types,
                    "sme:policy/containers@0.1.0": crate::__private::sme::policy::containers,
                    "sme:policy/stats@0.1.0": crate::__private::sme::policy::stats,
                    "sme:policy/log@0.1.0": crate::__private::sme::policy::log,
                    "sme:policy/clock@0.1.0": crate::__private::sme::policy::clock,
                    "sme:policy/settings@0.1.0": crate::__private::sme::policy::settings,
                    "sme:policy/container-config@0.1.0": crate::__private::sme::policy::container_config,
                    "sme:policy/cpu-window@0.1.0": crate::__private::sme::policy::cpu_window,
                },
                pub_export_macro: true,
                export_macro_name: $export_macro,
                default_bindings_module: $module,
            });
        };
    }

    pub mod operation {
        policy_world!(
            "operation",
            "export_operation",
            "sme_guest::__private::operation"
        );
    }

    pub mod metrics {
        policy_world!("metrics", "export_metrics", "sme_guest::__private::metrics");
    }
}

use __private::sme::policy as host;

pub use host::types::{Error, Metric, MetricValue, Request};

impl Error {
    /// The host's explanation, without the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::Denied(m)
            | Error::NotFound(m)
            | Error::Timeout(m)
            | Error::LimitExceeded(m)
            | Error::InvalidArgument(m)
            | Error::Docker(m) => m,
        }
    }
}

/// Lets `?` turn a host error into a policy's `Err(String)`: the text is the
/// host's message, which names the container and the cause.
impl From<Error> for String {
    fn from(error: Error) -> String {
        error.message().to_owned()
    }
}

pub mod containers {
    //! Container lifecycle and inspection. Every call names its container
    //! exactly and is checked against the module's grant.
    //!
    //! ```no_run
    //! use sme_guest::containers::{self, Health};
    //! let container = containers::inspect("edgex-core-data")?;
    //! if container.health == Health::Unhealthy {
    //!     containers::restart("edgex-core-data", Some(5))?;
    //! }
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    pub use crate::host::containers::{
        Container, Filter, Health, Status, Summary, inspect, list, pause, restart, start, stop,
        unpause,
    };
}

pub mod stats {
    //! Raw resource samples; see [`crate::Figures`] for what `docker stats`
    //! computes from them.
    //!
    //! ```no_run
    //! let measurement = sme_guest::stats::recent("edgex-core-data")?;
    //! let figures = sme_guest::Figures::of(&measurement);
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    pub use crate::host::stats::{CpuReading, Measurement, Sample, measure, one_shot, recent};
}

pub mod container_config {
    //! Parts of a container's configuration `inspect` does not report,
    //! checked against the module's `inspect` grant.
    //!
    //! ```no_run
    //! // None: the daemon's default grace period applies.
    //! let own = sme_guest::container_config::stop_timeout("edgex-core-data")?
    //!     .unwrap_or(sme_guest::container_config::DOCKER_DEFAULT_STOP_TIMEOUT);
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    pub use crate::host::container_config::stop_timeout;

    /// The grace period, in seconds, Docker gives a container that sets no
    /// stop timeout of its own.
    pub const DOCKER_DEFAULT_STOP_TIMEOUT: u32 = 10;
}

pub mod cpu_window {
    //! CPU measurement over a window the policy chooses.
    //!
    //! ```no_run
    //! // Measure against a kept reading at most 3 s old, else as docker does.
    //! let measurement = sme_guest::cpu_window::recent_within("edgex-core-data", 3000)?;
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    pub use crate::host::cpu_window::recent_within;
}

pub mod clock {
    //! Time within the module's deadline.
    //!
    //! ```no_run
    //! let started = sme_guest::clock::now_ms();
    //! sme_guest::clock::sleep(250)?;
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    pub use crate::host::clock::{now_ms, sleep};
}

pub mod log {
    //! Diagnostics for the operator's log; never shown to the agent.
    //!
    //! ```no_run
    //! sme_guest::log::info("checking edgex-core-data");
    //! ```
    pub use crate::host::log::Level;

    /// Logs at `debug` level.
    pub fn debug(message: &str) {
        crate::host::log::log(Level::Debug, message);
    }

    /// Logs at `info` level.
    pub fn info(message: &str) {
        crate::host::log::log(Level::Info, message);
    }

    /// Logs at `warn` level.
    pub fn warn(message: &str) {
        crate::host::log::log(Level::Warn, message);
    }

    /// Logs at `error` level.
    pub fn error(message: &str) {
        crate::host::log::log(Level::Error, message);
    }
}

/// Exports a function `fn(Request) -> Result<String, String>` as an
/// operation policy (`start`, `stop`, `restart`, or one of your own).
///
/// `Ok` text is printed as is and the executor exits 0; `Err` text is printed
/// and the executor exits 1. Return [`edgex::SUCCESS`] for the reference
/// executor's success output.
///
/// ```
/// fn pause(request: sme_guest::Request) -> Result<String, String> {
///     sme_guest::containers::pause(&request.service)?;
///     Ok(sme_guest::edgex::SUCCESS.to_owned())
/// }
/// sme_guest::operation!(pause);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! operation {
    ($run:path) => {
        #[doc(hidden)]
        pub struct __SmeOperation;

        impl $crate::__private::operation::Guest for __SmeOperation {
            fn run(
                request: $crate::Request,
            ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                $run(request)
            }
        }

        $crate::__private::operation::export_operation!(
            __SmeOperation with_types_in $crate::__private::operation
        );
    };
}

/// Exports a function `fn(Request) -> Result<Vec<Metric>, String>` as a
/// metrics policy: the base `metrics.wasm`, or an add-on in `metrics.d/`
/// whose fields are appended to the object the executor prints.
///
/// ```
/// use sme_guest::{Metric, MetricValue, Request};
///
/// fn restarts(request: Request) -> Result<Vec<Metric>, String> {
///     let container = sme_guest::containers::inspect(&request.service)?;
///     Ok(vec![Metric {
///         name: "restartCount".into(),
///         value: MetricValue::Integer(container.restart_count.into()),
///     }])
/// }
/// sme_guest::metrics!(restarts);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! metrics {
    ($collect:path) => {
        #[doc(hidden)]
        pub struct __SmeMetrics;

        impl $crate::__private::metrics::Guest for __SmeMetrics {
            fn collect(
                request: $crate::Request,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::Metric>, ::std::string::String>
            {
                $collect(request)
            }
        }

        $crate::__private::metrics::export_metrics!(
            __SmeMetrics with_types_in $crate::__private::metrics
        );
    };
}
