//! Write SME policies in a few lines of Rust.
//!
//! An SME policy is a WebAssembly component that decides what the EdgeX
//! executor does for one operation. This crate hides the component bindings:
//! a policy is a plain function, exported with [`operation!`] or [`metrics!`],
//! that calls the host through typed modules ([`containers`], [`services`],
//! [`stats`], [`log`], [`clock`], [`state`]) and reuses the reference executor's behaviour from
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
//!
//! Outside a component (any target but `wasm32`), the host functions are
//! answered by a fake held per test thread, so a policy's logic is unit-tested
//! with plain `cargo test`: see the `testing` module, which exists only there.
#![deny(missing_docs)]

// Answers a host call: the generated import inside a component, the thread's
// fake (`testing`) everywhere else, so that a policy's unit tests run
// natively; wit-bindgen's own stubs there abort the whole test binary. The
// fake is not compiled into components at all.
macro_rules! host_call {
    ($import:expr, $fake:expr) => {{
        #[cfg(target_arch = "wasm32")]
        {
            $import
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            $fake
        }
    }};
}

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
                    "sme:policy/services@0.1.0": crate::__private::sme::policy::services,
                    "sme:policy/counters@0.1.0": crate::__private::sme::policy::counters,
                    "sme:policy/systemd@0.1.0": crate::__private::sme::policy::systemd,
                    "sme:policy/state@0.1.0": crate::__private::sme::policy::state,
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

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub mod containers {
    //! Container lifecycle and inspection. Every call names its container
    //! exactly and is checked against the module's grant.
    //!
    //! ```
    //! use sme_guest::containers::{self, Health};
    //! # use sme_guest::testing::{self, Scene};
    //! # Scene::new()
    //! #     .container(testing::container("edgex-core-data").health(Health::Unhealthy))
    //! #     .install();
    //! let container = containers::inspect("edgex-core-data")?;
    //! if container.health == Health::Unhealthy {
    //!     containers::restart("edgex-core-data", Some(5))?;
    //! }
    //! # assert_eq!(testing::calls(), ["inspect edgex-core-data", "restart edgex-core-data"]);
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    use crate::Error;
    use crate::host::containers as import;
    pub use import::{Container, Filter, Health, Status, Summary};

    /// Inspects one container.
    pub fn inspect(name: &str) -> Result<Container, Error> {
        host_call!(
            import::inspect(name),
            crate::testing::serve("containers::inspect", |world| world.inspect(name))
        )
    }

    /// Lists containers; only those the module may `list` are returned.
    pub fn list(filter: &Filter) -> Result<Vec<Summary>, Error> {
        host_call!(
            import::list(filter),
            crate::testing::serve("containers::list", |world| world.list(filter))
        )
    }

    /// Starts a container; starting a running container succeeds.
    pub fn start(name: &str) -> Result<(), Error> {
        host_call!(
            import::start(name),
            crate::testing::serve("containers::start", |world| world
                .lifecycle("start", name, None))
        )
    }

    /// Stops a container, killing it after `timeout_seconds` (the
    /// container's own stop timeout when none). Stopping a stopped container
    /// succeeds.
    pub fn stop(name: &str, timeout_seconds: Option<u32>) -> Result<(), Error> {
        host_call!(
            import::stop(name, timeout_seconds),
            crate::testing::serve("containers::stop", |world| world.lifecycle(
                "stop",
                name,
                timeout_seconds
            ))
        )
    }

    /// Restarts a container, with the same timeout rule as [`stop`].
    pub fn restart(name: &str, timeout_seconds: Option<u32>) -> Result<(), Error> {
        host_call!(
            import::restart(name, timeout_seconds),
            crate::testing::serve("containers::restart", |world| world.lifecycle(
                "restart",
                name,
                timeout_seconds
            ))
        )
    }

    /// Freezes every process of a running container.
    pub fn pause(name: &str) -> Result<(), Error> {
        host_call!(
            import::pause(name),
            crate::testing::serve("containers::pause", |world| world
                .lifecycle("pause", name, None))
        )
    }

    /// Thaws a paused container.
    pub fn unpause(name: &str) -> Result<(), Error> {
        host_call!(
            import::unpause(name),
            crate::testing::serve("containers::unpause", |world| world
                .lifecycle("unpause", name, None))
        )
    }
}

pub mod services {
    //! Docker Swarm services: inspection, scaling, redeployment and the
    //! figures of their tasks. Every call names its service exactly (no ID
    //! prefixes) and is checked against the module's grant with the same
    //! targets as containers; [`inspect`], [`list`] and [`task_stats`] use
    //! the `inspect`, `list` and `stats` verbs, [`scale`] and [`redeploy`]
    //! verbs of their own.
    //!
    //! [`target`] says whether the request is about a service at all: the
    //! operator configures that (`[swarm]`), and it is none for a container.
    //!
    //! ```
    //! use sme_guest::services;
    //! # use sme_guest::testing::{self, Scene};
    //! # Scene::new()
    //! #     .service(testing::service("edgex-core-data").replicas(2))
    //! #     .swarm_target(Some("edgex-core-data"))
    //! #     .install();
    //! if let Some(name) = services::target()? {
    //!     let service = services::inspect(&name)?;
    //!     if service.running_tasks < service.desired_tasks {
    //!         services::redeploy(&name)?;
    //!     }
    //!     // Remember the count in the service itself, then scale it to zero.
    //!     let count = service.replicas.unwrap_or(0).to_string();
    //!     services::scale(&name, 0, &[("replicas".to_owned(), Some(count))])?;
    //!     assert_eq!(services::inspect(&name)?.note("replicas"), Some("2"));
    //! }
    //! # assert_eq!(
    //! #     testing::calls(),
    //! #     ["inspect edgex-core-data", "scale edgex-core-data", "inspect edgex-core-data"]
    //! # );
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    use crate::Error;
    use crate::host::services as import;
    pub use import::{
        Filter, Mode, Service, Summary, Task, TaskMeasurement, TaskState, UpdateState,
    };

    /// What a module's notes are kept under: [`scale`] stores the note `key`
    /// as the service label `sme.note.<key>`.
    pub const NOTE_PREFIX: &str = "sme.note.";

    impl Service {
        /// The value of the service's label `key`, if it has one.
        pub fn label(&self, key: &str) -> Option<&str> {
            self.labels
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, value)| value.as_str())
        }

        /// The note `key` a module left with [`scale`] (the label
        /// `sme.note.<key>`), if there is one.
        pub fn note(&self, key: &str) -> Option<&str> {
            self.label(&format!("{NOTE_PREFIX}{key}"))
        }
    }

    /// The Swarm service this run is for, when the operator configured SME
    /// for a swarm (`[swarm] mode`): the agent's service name mapped to a
    /// service name. None when the request is for a container, which is
    /// always the case with `mode = "off"`. With `mode = "auto"` the host
    /// looks the service up first, under the module's `inspect` grant.
    pub fn target() -> Result<Option<String>, Error> {
        host_call!(
            import::target(),
            crate::testing::serve("services::target", |world| world.swarm_target())
        )
    }

    /// Inspects one service and every task the manager keeps for it, newest
    /// first. A name no service has answers [`Error::NotFound`] with the
    /// daemon's words, `service <name> not found`.
    pub fn inspect(name: &str) -> Result<Service, Error> {
        host_call!(
            import::inspect(name),
            crate::testing::serve("services::inspect", |world| world.service(name))
        )
    }

    /// Lists services; only those the module may `list` are returned.
    pub fn list(filter: &Filter) -> Result<Vec<Summary>, Error> {
        host_call!(
            import::list(filter),
            crate::testing::serve("services::list", |world| world.services(filter))
        )
    }

    /// Sets a replicated service's replica count and, in the same update,
    /// the module's notes on it: each `(key, value)` is kept as the label
    /// `sme.note.<key>` ([`Service::note`] reads it back), a none value
    /// removes it. Keys are 1 to 64 characters of `[a-z0-9.-]`, values at
    /// most 256 bytes, at most 8 notes. Scaling to the current count with
    /// notes already as asked sends nothing. A global service cannot be
    /// scaled: that is an [`Error::InvalidArgument`].
    pub fn scale(
        name: &str,
        replicas: u64,
        notes: &[(String, Option<String>)],
    ) -> Result<(), Error> {
        host_call!(
            import::scale(name, replicas, notes),
            crate::testing::serve("services::scale", |world| world
                .scale(name, replicas, notes))
        )
    }

    /// Forces a rolling update that replaces every task (`docker service
    /// update --force`). It answers once the update is accepted, not done:
    /// watch the service's `version`, `update_state` and tasks with
    /// [`inspect`] to see it through.
    pub fn redeploy(name: &str) -> Result<(), Error> {
        host_call!(
            import::redeploy(name),
            crate::testing::serve("services::redeploy", |world| world.redeploy(name))
        )
    }

    /// Measures the containers of the service's running tasks that this
    /// daemon runs (a node sees only its own tasks' containers), each
    /// against a kept CPU reading at most `max_age_ms` old, as
    /// [`crate::cpu_window::recent_within`] measures a container.
    pub fn task_stats(name: &str, max_age_ms: u32) -> Result<Vec<TaskMeasurement>, Error> {
        host_call!(
            import::task_stats(name, max_age_ms),
            crate::testing::serve("services::task_stats", |world| {
                let _ = max_age_ms;
                world.task_stats(name)
            })
        )
    }
}

pub mod systemd {
    //! systemd units (native installs such as `edgex-core-data.service`,
    //! snap services such as `snap.edgexfoundry.core-data.service`), over
    //! systemd's D-Bus API. Every call names its unit exactly and is
    //! checked against the module's grant: `self` is the unit the request
    //! maps to, `name:` patterns match unit names, `label:` matches no unit.
    //! [`kill`] is checked as a `stop`.
    //!
    //! [`target`] says whether the request is about a unit at all: the
    //! operator configures that (`[systemd]`), and it is none otherwise.
    //! Errors are this interface's own [`Error`]: systemd's refusals keep
    //! its D-Bus error name and its words ([`Error::Refused`]).
    //!
    //! ```
    //! use sme_guest::systemd;
    //! # use sme_guest::testing::{self, Scene};
    //! # Scene::new()
    //! #     .unit(testing::unit("snap.edgexfoundry.core-data.service"))
    //! #     .systemd_target(Some("snap.edgexfoundry.core-data.service"))
    //! #     .install();
    //! if let Some(unit) = systemd::target()? {
    //!     // Stop it, with systemd's SIGKILL at most 5 s into the stop.
    //!     let job = systemd::stop(&unit, Some(5_000))?;
    //!     assert_eq!((job.result.as_str(), job.unit.active_state.as_str()), ("done", "inactive"));
    //! }
    //! # Ok::<(), sme_guest::systemd::Error>(())
    //! ```
    use crate::host::systemd as import;
    pub use import::{CpuTime, Error, Job, Measurement, Refusal, Unit, UnitStats};

    impl Error {
        /// The host's explanation, without the kind; for a refusal,
        /// systemd's D-Bus error name and its message
        /// (`org.freedesktop.systemd1.UnitMasked: Unit x.service is masked.`).
        pub fn message(&self) -> String {
            match self {
                Error::Refused(refusal) => format!("{}: {}", refusal.name, refusal.message),
                Error::Denied(m)
                | Error::NotFound(m)
                | Error::Timeout(m)
                | Error::LimitExceeded(m)
                | Error::InvalidArgument(m)
                | Error::Unreachable(m) => m.clone(),
            }
        }
    }

    /// Lets `?` turn a unit error into a policy's `Err(String)`.
    impl From<Error> for String {
        fn from(error: Error) -> String {
            error.message()
        }
    }

    impl Unit {
        /// Whether a process of the unit may run: it is `active`,
        /// `activating`, `deactivating` or `reloading`.
        pub fn is_running(&self) -> bool {
            matches!(
                self.active_state.as_str(),
                "active" | "activating" | "deactivating" | "reloading"
            )
        }

        /// Whether it is up: `active` or `reloading`.
        pub fn is_up(&self) -> bool {
            matches!(self.active_state.as_str(), "active" | "reloading")
        }
    }

    /// The unit this run is for, when the operator configured SME for
    /// systemd (`[systemd] mode`): the agent's service name mapped by the
    /// `unit` template. None when the request is for a container or a
    /// Swarm service. With `mode = "auto"` the host looks the unit up
    /// first, under the module's `inspect` grant. A name the template
    /// cannot make a unit of is [`Error::InvalidArgument`] with `"on"`,
    /// none with `"auto"`.
    pub fn target() -> Result<Option<String>, Error> {
        host_call!(
            import::target(),
            crate::testing::serve("systemd::target", |world| world.systemd_target())
        )
    }

    /// The unit's state. A unit systemd cannot find is
    /// [`Error::NotFound`]: `Unit <name> not found.`
    pub fn inspect(name: &str) -> Result<Unit, Error> {
        host_call!(
            import::inspect(name),
            crate::testing::serve("systemd::inspect", |world| world.unit(name))
        )
    }

    /// The units systemd holds whose names match `pattern` (`*` any run
    /// of characters, `?` one), by name; only those the module may `list`.
    pub fn list(pattern: &str) -> Result<Vec<Unit>, Error> {
        host_call!(
            import::list(pattern),
            crate::testing::serve("systemd::list", |world| world.units(pattern))
        )
    }

    /// Starts the unit and waits for systemd's job. The job is `done` even
    /// for a unit that then fails: look at [`Job::unit`].
    pub fn start(name: &str) -> Result<Job, Error> {
        host_call!(
            import::start(name),
            crate::testing::serve("systemd::start", |world| world
                .unit_job("start", name, None))
        )
    }

    /// Stops the unit and waits for systemd's job. systemd waits up to the
    /// unit's `TimeoutStopSec` (90 s by default) before its SIGKILL; with
    /// `kill_after_ms`, the runtime has systemd SIGKILL the unit's
    /// processes once the stop has run that long.
    pub fn stop(name: &str, kill_after_ms: Option<u32>) -> Result<Job, Error> {
        host_call!(
            import::stop(name, kill_after_ms),
            crate::testing::serve("systemd::stop", |world| world.unit_job(
                "stop",
                name,
                kill_after_ms
            ))
        )
    }

    /// Restarts the unit and waits for systemd's job; `kill_after_ms` as
    /// for [`stop`] bounds its stopping half.
    pub fn restart(name: &str, kill_after_ms: Option<u32>) -> Result<Job, Error> {
        host_call!(
            import::restart(name, kill_after_ms),
            crate::testing::serve("systemd::restart", |world| world.unit_job(
                "restart",
                name,
                kill_after_ms
            ))
        )
    }

    /// Sends `signal` (1 to 64) to every process of the unit. Checked as
    /// a `stop`.
    pub fn kill(name: &str, signal: i32) -> Result<(), Error> {
        host_call!(
            import::kill(name, signal),
            crate::testing::serve("systemd::kill", |world| world.unit_kill(name, signal))
        )
    }

    /// The unit's counters now and an earlier CPU time to measure CPU %
    /// against: one kept by an earlier run at most `max_age_ms` old, else
    /// a second read `window_ms` (100 to 1000) after a first.
    pub fn stats(name: &str, max_age_ms: u32, window_ms: u32) -> Result<Measurement, Error> {
        host_call!(
            import::stats(name, max_age_ms, window_ms),
            crate::testing::serve("systemd::stats", |world| {
                let _ = (max_age_ms, window_ms);
                world.unit_stats(name)
            })
        )
    }
}

pub mod stats {
    //! Raw resource samples; see [`crate::Figures`] for what `docker stats`
    //! computes from them.
    //!
    //! ```
    //! # use sme_guest::testing::{self, Scene};
    //! # Scene::new()
    //! #     .container(testing::container("edgex-core-data").cpu_percent(2.5))
    //! #     .install();
    //! let measurement = sme_guest::stats::recent("edgex-core-data")?;
    //! let figures = sme_guest::Figures::of(&measurement);
    //! # assert!((figures.cpu_percent - 2.5).abs() < 1e-9);
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    use crate::Error;
    use crate::host::stats as import;
    pub use import::{CpuReading, Measurement, Sample};

    /// One sample, answered at once (the Engine's `one-shot` stats).
    pub fn one_shot(name: &str) -> Result<Sample, Error> {
        host_call!(
            import::one_shot(name),
            crate::testing::serve("stats::one_shot", |world| world.one_shot(name))
        )
    }

    /// The daemon's own two-sample measurement, as `docker stats
    /// --no-stream` gets it: it waits for the daemon's next collection,
    /// about 1 to 2 s.
    pub fn measure(name: &str) -> Result<Measurement, Error> {
        host_call!(
            import::measure(name),
            crate::testing::serve("stats::measure", |world| world.measure(name))
        )
    }

    /// A one-shot sample paired with a CPU reading the runtime kept from an
    /// earlier run (about a second old when runs are that frequent, at most
    /// two minutes old). When there is none, this falls back to [`measure`].
    /// Fast after the first call.
    pub fn recent(name: &str) -> Result<Measurement, Error> {
        host_call!(
            import::recent(name),
            crate::testing::serve("stats::recent", |world| world.measure(name))
        )
    }
}

pub mod container_config {
    //! Parts of a container's configuration `inspect` does not report,
    //! checked against the module's `inspect` grant.
    //!
    //! ```
    //! # use sme_guest::testing::{self, Scene};
    //! # Scene::new().container(testing::container("edgex-core-data")).install();
    //! // None: the daemon's default grace period applies.
    //! let own = sme_guest::container_config::stop_timeout("edgex-core-data")?
    //!     .unwrap_or(sme_guest::container_config::DOCKER_DEFAULT_STOP_TIMEOUT);
    //! # assert_eq!(own, 10);
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    use crate::Error;

    /// The container's own stop timeout in seconds (Docker's
    /// `Config.StopTimeout`, what `docker stop` waits before killing it);
    /// none when the container sets none and the daemon's default
    /// ([`DOCKER_DEFAULT_STOP_TIMEOUT`]) applies. Checked against the
    /// module's grant like `inspect`.
    pub fn stop_timeout(name: &str) -> Result<Option<u32>, Error> {
        host_call!(
            crate::host::container_config::stop_timeout(name),
            crate::testing::serve("container_config::stop_timeout", |world| world
                .stop_timeout(name))
        )
    }

    /// The grace period, in seconds, Docker gives a container that sets no
    /// stop timeout of its own.
    pub const DOCKER_DEFAULT_STOP_TIMEOUT: u32 = 10;
}

pub mod cpu_window {
    //! CPU measurement over a window the policy chooses.
    //!
    //! ```
    //! # use sme_guest::testing::{self, Scene};
    //! # Scene::new().container(testing::container("edgex-core-data")).install();
    //! // Measure against a kept reading at most 3 s old, else as docker does.
    //! let measurement = sme_guest::cpu_window::recent_within("edgex-core-data", 3000)?;
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    use crate::Error;
    use crate::stats::Measurement;

    /// Like [`crate::stats::recent`], but the kept CPU reading it measures
    /// against is at most `max_age_ms` old (the runtime caps this at two
    /// minutes); when there is none that recent, it measures the way `docker
    /// stats` does, which takes about 1 to 2 s. A paused container measures
    /// 0 % CPU.
    pub fn recent_within(name: &str, max_age_ms: u32) -> Result<Measurement, Error> {
        host_call!(
            crate::host::cpu_window::recent_within(name, max_age_ms),
            crate::testing::serve("cpu_window::recent_within", |world| {
                let _ = max_age_ms;
                world.measure(name)
            })
        )
    }
}

pub mod counters {
    //! A container's counters read where Docker's collector reads them (its
    //! cgroup), without waiting for the collector's next round: the fastest
    //! measurement, with where it came from.
    //!
    //! ```
    //! # use sme_guest::testing::{self, Scene};
    //! # Scene::new().container(testing::container("edgex-core-data").cpu_percent(12.5)).install();
    //! use sme_guest::counters::{self, Source};
    //! // Against a kept reading at most 5 s old, else two reads 250 ms apart.
    //! let sourced = counters::measure("edgex-core-data", 5000, 250)?;
    //! assert_eq!(sourced.source, Source::Cgroup);
    //! let figures = sme_guest::Figures::of(&sourced.measurement);
    //! assert!((figures.cpu_percent - 12.5).abs() < 1e-9);
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    pub use crate::__private::sme::policy::counters::{Source, Sourced};
    use crate::Error;

    /// `name`'s counters now, measured against an earlier CPU reading of the
    /// same source: one kept by an earlier run at most `max_age_ms` old
    /// (capped at two minutes), else a second read `window_ms` after a first
    /// (100 to 1000 ms). Where the runtime cannot read the cgroup files,
    /// this is [`crate::cpu_window::recent_within`] and says so
    /// ([`Source::Engine`]). A paused container measures 0 % CPU.
    pub fn measure(name: &str, max_age_ms: u32, window_ms: u32) -> Result<Sourced, Error> {
        host_call!(
            crate::host::counters::measure(name, max_age_ms, window_ms),
            crate::testing::serve("counters::measure", |world| {
                let _ = (max_age_ms, window_ms);
                Ok(Sourced {
                    measurement: world.measure(name)?,
                    source: Source::Cgroup,
                    network: true,
                })
            })
        )
    }
}

pub mod clock {
    //! Time within the module's deadline.
    //!
    //! ```
    //! # sme_guest::testing::Scene::new().install();
    //! let started = sme_guest::clock::now_ms();
    //! sme_guest::clock::sleep(250)?;
    //! # assert_eq!(sme_guest::clock::now_ms() - started, 250);
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    use crate::Error;

    /// Milliseconds since the Unix epoch.
    pub fn now_ms() -> u64 {
        host_call!(
            crate::host::clock::now_ms(),
            crate::testing::serve("clock::now_ms", |world| world.now_ms())
        )
    }

    /// Waits `millis` milliseconds. Fails with [`Error::LimitExceeded`] when
    /// the wait would end after the module's deadline.
    pub fn sleep(millis: u32) -> Result<(), Error> {
        host_call!(
            crate::host::clock::sleep(millis),
            crate::testing::serve("clock::sleep", |world| world.sleep(millis))
        )
    }
}

pub mod state {
    //! Small values the module keeps between runs, under its own keys (no
    //! other module sees them): when it last restarted a service, how many
    //! times in a row something failed. Bounded by the limits `state_keys`
    //! (16) and `state_kib` (4 KiB of keys and values); every write is
    //! audited. A key has 1 to 128 bytes and no control characters.
    //!
    //! Runs of the executor happen at once (the agent runs one per
    //! service), so a read-then-write can lose another run's write: change a
    //! value with [`update`] (or [`compare_and_set`]), which writes only if
    //! nothing changed since it read.
    //!
    //! ```
    //! # sme_guest::testing::Scene::new().install();
    //! use sme_guest::state;
    //! let failures = state::update("failures:edgex-core-data", |n| {
    //!     let n: u32 = n.and_then(|n| n.parse().ok()).unwrap_or(0);
    //!     Some((n + 1).to_string())
    //! })?;
    //! assert_eq!(failures.as_deref(), Some("1"));
    //! # Ok::<(), sme_guest::Error>(())
    //! ```
    use crate::Error;
    #[cfg(target_arch = "wasm32")]
    use crate::host::state as import;

    /// How many times [`update`] reads and tries again when other runs
    /// keep changing the value first.
    pub const UPDATE_ATTEMPTS: u32 = 8;

    /// The value kept under `key`; none when nothing is.
    pub fn get(key: &str) -> Result<Option<String>, Error> {
        host_call!(
            import::get(key),
            crate::testing::serve("state::get", |world| world.state_get(key))
        )
    }

    /// Replaces the value under `key` by `value` (removes it when none) if
    /// the value kept now is `expected` (none: nothing is kept). `Ok(false)`
    /// when another run changed it first: nothing was written.
    pub fn compare_and_set(
        key: &str,
        expected: Option<&str>,
        value: Option<&str>,
    ) -> Result<bool, Error> {
        host_call!(
            import::compare_and_set(key, expected, value),
            crate::testing::serve("state::compare_and_set", |world| world
                .compare_and_set(key, expected, value))
        )
    }

    /// Every key the module keeps, sorted.
    pub fn keys() -> Result<Vec<String>, Error> {
        host_call!(
            import::keys(),
            crate::testing::serve("state::keys", |world| Ok(world.state_keys()))
        )
    }

    /// Changes the value under `key` to what `change` makes of the value
    /// kept now (none: remove it), atomically: when another run changed it
    /// in between, reads it again and retries, up to [`UPDATE_ATTEMPTS`]
    /// times. Answers the value written. Each attempt is two host calls.
    pub fn update(
        key: &str,
        mut change: impl FnMut(Option<&str>) -> Option<String>,
    ) -> Result<Option<String>, Error> {
        for _ in 0..UPDATE_ATTEMPTS {
            let now = get(key)?;
            let next = change(now.as_deref());
            if compare_and_set(key, now.as_deref(), next.as_deref())? {
                return Ok(next);
            }
        }
        Err(Error::LimitExceeded(format!(
            "the value under {key:?} changed under each of {UPDATE_ATTEMPTS} attempts to update it"
        )))
    }
}

pub mod log {
    //! Diagnostics for the operator's log; never shown to the agent.
    //!
    //! ```
    //! # use sme_guest::testing::Scene;
    //! # Scene::new().install();
    //! sme_guest::log::info("checking edgex-core-data");
    //! # assert_eq!(sme_guest::testing::logs()[0].1, "checking edgex-core-data");
    //! ```
    pub use crate::host::log::Level;

    /// Writes one message at `level`, tagged with the module's name.
    /// Messages are truncated at 4 KiB and dropped unless logging is enabled.
    pub fn log(level: Level, message: &str) {
        host_call!(
            crate::host::log::log(level, message),
            crate::testing::serve("log::log", |world| world.log(level, message))
        )
    }

    /// Logs at `debug` level.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    /// Logs at `info` level.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Logs at `warn` level.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Logs at `error` level.
    pub fn error(message: &str) {
        log(Level::Error, message);
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
