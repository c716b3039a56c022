//! Unit tests for policies with plain `cargo test`, no daemon and no
//! runtime.
//!
//! Off `wasm32`, every host function of this crate is served by a fake held
//! per thread. Each `#[test]` runs on its own thread, so each describes its
//! own world with a [`Scene`] and [`install`](Scene::install)s it, calls the
//! policy's real function, then looks at what the policy answered and did:
//! [`calls`], [`state`], [`logs`], [`timeouts`]. Lifecycle calls change the
//! containers exactly as the runtime's simulated engine does (the same
//! statuses, the same "not modified" no-ops, the same refusals with the
//! daemon's own messages), and a failing assertion fails that test only.
//!
//! This module does not exist in a component: inside `wasm32` the host
//! functions call the runtime.
//!
//! ```
//! use sme_guest::containers::Status;
//! use sme_guest::edgex::{self, Lifecycle};
//! use sme_guest::testing::{self, Scene};
//!
//! // The policy under test.
//! fn stop(request: sme_guest::Request) -> Result<String, String> {
//!     edgex::lifecycle(Lifecycle::Stop, &request.service)
//! }
//!
//! // Its test.
//! Scene::new()
//!     .container(testing::container("edgex-core-data").status(Status::Running))
//!     .install();
//! assert_eq!(stop(testing::request("edgex-core-data", "stop")), Ok(edgex::SUCCESS.to_owned()));
//! assert_eq!(
//!     testing::calls(),
//!     ["inspect edgex-core-data", "stop edgex-core-data", "inspect edgex-core-data"]
//! );
//! assert_eq!(testing::state("edgex-core-data").unwrap().status, Status::Exited);
//!
//! // A container that does not exist is answered as the daemon answers it.
//! assert_eq!(
//!     stop(testing::request("edgex-x", "stop")),
//!     Err("exit status 1: Error response from daemon: No such container: edgex-x\n".to_owned())
//! );
//! ```

mod swarm;
mod units;
mod verb;
mod world;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

pub use self::swarm::{ServiceBuilder, TaskStats, service};
pub use self::units::{TIMEOUT_STOP_MS, UnitBuilder, unit};

use self::verb::Verb;
use self::world::{Fixture, SwarmTarget, World};
use crate::Request;
use crate::containers::{Container, Health, Status};
use crate::log::Level;
use crate::services::Service;

mod wit {
    // The runtime's rules (`sme_model`) work on types of their own, the
    // same records field for field.
    use crate::containers::{Container, Health, Status};
    use crate::services::{Mode, Service, Summary, Task, TaskState, UpdateState};
    sme_model::wit_types! {
        status: Status, health: Health, container: Container,
        mode: Mode, task_state: TaskState, update_state: UpdateState,
        task: Task, service: Service, summary: Summary,
    }
}

/// What [`clock::now_ms`](crate::clock::now_ms) answers when a scene is
/// installed: 2023-11-14 22:13:20 UTC. [`clock::sleep`](crate::clock::sleep)
/// moves it on without waiting.
pub const NOW_MS: u64 = 1_700_000_000_000;

/// When a container of the scene was created: two hours before [`NOW_MS`].
pub const CREATED_MS: u64 = NOW_MS - 2 * 3_600_000;

/// When a container of the scene last started, unless it is `created`: one
/// hour before [`NOW_MS`].
pub const STARTED_MS: u64 = NOW_MS - 3_600_000;

/// When a container of the scene that is `exited` or `dead` stopped: half
/// an hour before [`NOW_MS`].
pub const FINISHED_MS: u64 = NOW_MS - 1_800_000;

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// The containers, services, settings and denials a test's host calls are
/// answered from. Build one, then [`install`](Scene::install) it.
///
/// ```
/// use sme_guest::containers::{self, Status};
/// use sme_guest::testing::{self, Scene};
///
/// Scene::new()
///     .container(testing::container("edgex-core-data").label("org.sme.protected", "true"))
///     .container(testing::container("edgex-redis").status(Status::Exited))
///     .setting("grace_cap_s", "5")
///     .deny("stop", "edgex-redis")
///     .install();
///
/// assert_eq!(sme_guest::settings::get("grace_cap_s").as_deref(), Some("5"));
/// assert!(matches!(
///     containers::stop("edgex-redis", None),
///     Err(sme_guest::Error::Denied(_))
/// ));
/// assert_eq!(testing::calls(), ["stop edgex-redis denied"]);
/// ```
#[derive(Default)]
pub struct Scene {
    containers: Vec<ContainerBuilder>,
    services: Vec<ServiceBuilder>,
    swarm: SwarmTarget,
    units: Vec<UnitBuilder>,
    systemd: SwarmTarget,
    settings: HashMap<String, String>,
    denied: HashSet<(Verb, String)>,
    kept: BTreeMap<String, String>,
    bounds: Option<sme_model::state::Bounds>,
    now_ms: Option<u64>,
    budgets: Vec<(&'static str, u32, u64)>,
    spent: BTreeMap<(String, String), Vec<u64>>,
}

/// The effects budgets count, as the runtime names them (docs/budgets.md).
const EFFECTS: [&str; 6] = ["start", "stop", "restart", "pause", "unpause", "scale"];

fn effect_named(effect: &str) -> &'static str {
    EFFECTS
        .iter()
        .find(|known| **known == effect)
        .unwrap_or_else(|| {
            panic!(
                "sme_guest::testing: unknown effect {effect:?}; use one of {}",
                EFFECTS.join(", ")
            )
        })
}

impl Scene {
    /// A scene with no containers, no services, no settings and nothing
    /// denied, configured for containers only (`[swarm] mode = "off"`).
    pub fn new() -> Scene {
        Scene::default()
    }

    /// Adds a Swarm service (see [`service`]). A service of the same name
    /// added earlier is replaced. A container and a service may share a
    /// name, as they do on a node running both.
    pub fn service(mut self, service: ServiceBuilder) -> Scene {
        self.services.retain(|s| s.name != service.name);
        self.services.push(service);
        self
    }

    /// What [`services::target`](crate::services::target) answers, as the
    /// runtime does with `[swarm] mode = "on"` (some service name) or
    /// `"off"` (none, the default): the request is about that service, or
    /// about a container. The answer costs no host call and is not listed
    /// in [`calls`].
    ///
    /// ```
    /// use sme_guest::services;
    /// use sme_guest::testing::Scene;
    /// Scene::new().swarm_target(Some("edgex-core-data")).install();
    /// assert_eq!(services::target()?.as_deref(), Some("edgex-core-data"));
    /// Scene::new().install();
    /// assert_eq!(services::target()?, None);
    /// # Ok::<(), sme_guest::Error>(())
    /// ```
    pub fn swarm_target(mut self, service: Option<&str>) -> Scene {
        self.swarm = match service {
            Some(name) => SwarmTarget::On(name.to_owned()),
            None => SwarmTarget::Off,
        };
        self
    }

    /// Makes [`services::target`](crate::services::target) answer as the
    /// runtime does with `[swarm] mode = "auto"`: it inspects `service`
    /// (listed in [`calls`] as `inspect <service>`, and refused when the
    /// scene denies that) and answers its name when the scene has it, none
    /// otherwise (the request is then about a container).
    ///
    /// ```
    /// use sme_guest::services;
    /// use sme_guest::testing::{self, Scene};
    /// Scene::new().swarm_auto("edgex-core-data").install();
    /// assert_eq!(services::target()?, None);
    /// Scene::new()
    ///     .service(testing::service("edgex-core-data"))
    ///     .swarm_auto("edgex-core-data")
    ///     .install();
    /// assert_eq!(services::target()?.as_deref(), Some("edgex-core-data"));
    /// assert_eq!(testing::calls(), ["inspect edgex-core-data"]);
    /// # Ok::<(), sme_guest::Error>(())
    /// ```
    pub fn swarm_auto(mut self, service: &str) -> Scene {
        self.swarm = SwarmTarget::Auto(service.to_owned());
        self
    }

    /// Adds a systemd unit (see [`unit`]). A unit of the same name added
    /// earlier is replaced.
    pub fn unit(mut self, unit: UnitBuilder) -> Scene {
        self.units.retain(|u| u.name != unit.name);
        self.units.push(unit);
        self
    }

    /// What [`systemd::target`](crate::systemd::target) answers, as the
    /// runtime does with `[systemd] mode = "on"` (some unit name) or
    /// `"off"` (none, the default). The answer costs no host call and is
    /// not listed in [`calls`].
    ///
    /// ```
    /// use sme_guest::systemd;
    /// use sme_guest::testing::Scene;
    /// Scene::new().systemd_target(Some("edgex-core-data.service")).install();
    /// assert_eq!(systemd::target()?.as_deref(), Some("edgex-core-data.service"));
    /// # Ok::<(), sme_guest::systemd::Error>(())
    /// ```
    pub fn systemd_target(mut self, unit: Option<&str>) -> Scene {
        self.systemd = match unit {
            Some(name) => SwarmTarget::On(name.to_owned()),
            None => SwarmTarget::Off,
        };
        self
    }

    /// Makes [`systemd::target`](crate::systemd::target) answer as the
    /// runtime does with `[systemd] mode = "auto"`: it inspects `unit`
    /// (listed in [`calls`] as `inspect <unit>`) and answers its name when
    /// the scene has it, none otherwise.
    pub fn systemd_auto(mut self, unit: &str) -> Scene {
        self.systemd = SwarmTarget::Auto(unit.to_owned());
        self
    }

    /// Adds a container (see [`container`]). A container of the same name
    /// added earlier is replaced.
    pub fn container(mut self, container: ContainerBuilder) -> Scene {
        self.containers.retain(|c| c.name != container.name);
        self.containers.push(container);
        self
    }

    /// What [`settings::get`](crate::settings::get) answers for `key`, so a
    /// declared setting's `get` returns it (when it parses and is in range).
    /// Keys not set answer none: the declared default applies.
    pub fn setting(mut self, key: &str, value: &str) -> Scene {
        self.settings.insert(key.to_owned(), value.to_owned());
        self
    }

    /// What [`clock::now_ms`](crate::clock::now_ms) answers at first
    /// ([`NOW_MS`] unless set); [`advance`] and
    /// [`clock::sleep`](crate::clock::sleep) move it on.
    pub fn now(mut self, now_ms: u64) -> Scene {
        self.now_ms = Some(now_ms);
        self
    }

    /// An effect budget, as `[budgets]` sets one for the runtime: at most
    /// `max` of `effect` (`start`, `stop`, `restart`, `pause`, `unpause`,
    /// `scale`) on each object in any `per_ms`. A change past it is listed
    /// in [`calls`] with ` limit` and answered
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded); `redeploy`
    /// spends `restart`, a scale to 0 `stop`.
    ///
    /// ```
    /// use sme_guest::testing::{self, Scene};
    /// Scene::new()
    ///     .container(testing::container("web"))
    ///     .budget("restart", 3, 600_000)
    ///     .spent("web", "restart", &[testing::NOW_MS - 540_000, testing::NOW_MS - 60_000])
    ///     .install();
    /// assert!(sme_guest::containers::restart("web", None).is_ok());
    /// assert!(matches!(
    ///     sme_guest::containers::restart("web", None),
    ///     Err(sme_guest::Error::LimitExceeded(_))
    /// ));
    /// testing::advance(60_000); // the oldest spend is 10 minutes old
    /// assert!(sme_guest::containers::restart("web", None).is_ok());
    /// assert_eq!(testing::calls(), ["restart web", "restart web limit", "restart web"]);
    /// ```
    pub fn budget(mut self, effect: &str, max: u32, per_ms: u64) -> Scene {
        self.budgets.push((effect_named(effect), max, per_ms));
        self
    }

    /// Spends of `effect` on the object `name` before the test, at these
    /// times (milliseconds since the epoch).
    pub fn spent(mut self, name: &str, effect: &str, at_ms: &[u64]) -> Scene {
        self.spent
            .entry((name.to_owned(), effect_named(effect).to_owned()))
            .or_default()
            .extend(at_ms);
        self
    }

    /// A value the module kept in an earlier run, which
    /// [`state::get`](crate::state::get) answers for `key`.
    pub fn state(mut self, key: &str, value: &str) -> Scene {
        self.kept.insert(key.to_owned(), value.to_owned());
        self
    }

    /// What the module may keep: the limits `state_keys` and `state_kib`
    /// (16 keys and 4 KiB unless set).
    pub fn state_limits(mut self, keys: usize, kib: usize) -> Scene {
        self.bounds = Some(sme_model::state::Bounds {
            keys,
            bytes: kib << 10,
        });
        self
    }

    /// Makes `verb` on the container or service `name` answer
    /// [`Error::Denied`], as the runtime does for a call outside the
    /// module's grant; the call is listed in [`calls`] with ` denied` after
    /// it and changes nothing. Verbs are `inspect` (which covers
    /// [`container_config::stop_timeout`] and, in auto mode,
    /// [`services::target`]), `list` (the container or service is left out
    /// of listings), `stats` (which covers
    /// [`services::task_stats`]), `start`, `stop`, `restart`, `pause`,
    /// `unpause`, `scale` and `redeploy`; any other panics.
    ///
    /// [`Error::Denied`]: crate::Error::Denied
    /// [`container_config::stop_timeout`]: crate::container_config::stop_timeout
    /// [`services::target`]: crate::services::target
    /// [`services::task_stats`]: crate::services::task_stats
    pub fn deny(mut self, verb: &str, name: &str) -> Scene {
        self.denied.insert((Verb::named(verb), name.to_owned()));
        self
    }

    /// Serves this thread's host calls from this scene from now on,
    /// replacing any scene installed before, with its calls, logs and clock.
    pub fn install(self) {
        let mut world = World::new(
            self.containers,
            self.services,
            self.swarm,
            (self.units, self.systemd),
            self.settings,
            self.denied,
        );
        world.kept = self.kept;
        world.budgets = self.budgets;
        world.spent = self.spent;
        if let Some(now_ms) = self.now_ms {
            world.now_ms = now_ms;
        }
        world.bounds = self.bounds.unwrap_or(world::DEFAULT_BOUNDS);
        WORLD.with_borrow_mut(|installed| *installed = Some(world));
    }
}

/// A container for a [`Scene`], named `name`: running since [`STARTED_MS`]
/// (created at [`CREATED_MS`]), no health check, exit code 0, never
/// restarted, image `busybox:latest`, no labels, no stop timeout of its own,
/// 0 % CPU and no memory in use.
///
/// ```
/// use sme_guest::containers::{self, Health, Status};
/// use sme_guest::testing::{self, Scene};
///
/// Scene::new()
///     .container(
///         testing::container("edgex-core-data")
///             .status(Status::Exited)
///             .health(Health::Unhealthy)
///             .exit_code(137)
///             .restart_count(3)
///             .image("edgexfoundry/core-data:3.1")
///             .stop_timeout(Some(30))
///             .fail("start", "driver failed"),
///     )
///     .install();
///
/// let container = containers::inspect("edgex-core-data")?;
/// assert_eq!((container.running, container.exit_code), (false, 137));
/// assert_eq!(container.finished_ms, Some(testing::FINISHED_MS));
/// assert_eq!(
///     containers::start("edgex-core-data").unwrap_err().message(),
///     "driver failed"
/// );
/// # Ok::<(), sme_guest::Error>(())
/// ```
pub fn container(name: &str) -> ContainerBuilder {
    ContainerBuilder {
        name: name.to_owned(),
        status: Status::Running,
        health: Health::None,
        exit_code: 0,
        restart_count: 0,
        image: "busybox:latest".to_owned(),
        labels: Vec::new(),
        stop_timeout: None,
        cpu_percent: 0.0,
        memory_usage: 0,
        memory_limit: 0,
        failures: HashMap::new(),
        health_after_start: None,
    }
}

/// One container of a [`Scene`], made by [`container`]: what `inspect`
/// reports, its configuration, its figures, and the failures it answers.
#[derive(Clone)]
pub struct ContainerBuilder {
    name: String,
    status: Status,
    health: Health,
    exit_code: i64,
    restart_count: u32,
    image: String,
    labels: Vec<(String, String)>,
    stop_timeout: Option<u32>,
    cpu_percent: f64,
    memory_usage: u64,
    memory_limit: u64,
    failures: HashMap<Verb, String>,
    health_after_start: Option<Health>,
}

impl ContainerBuilder {
    /// Docker's `State.Status`. `State.Running` follows it (true while
    /// running, paused or restarting); a container that is not `created` has
    /// started at [`STARTED_MS`], one `exited` or `dead` stopped at
    /// [`FINISHED_MS`].
    pub fn status(mut self, status: Status) -> ContainerBuilder {
        self.status = status;
        self
    }

    /// Docker's `State.Health.Status`. A start or restart makes it
    /// `starting`, as Docker does until the first check, unless
    /// [`health_after_start`](ContainerBuilder::health_after_start) says
    /// otherwise; a container without a health check stays `none`.
    pub fn health(mut self, health: Health) -> ContainerBuilder {
        self.health = health;
        self
    }

    /// The health a start or restart leaves: the fake runs no health checks,
    /// so this is what the first one would report.
    ///
    /// ```
    /// use sme_guest::containers::{self, Health};
    /// use sme_guest::testing::{self, Scene};
    /// Scene::new()
    ///     .container(
    ///         testing::container("edgex-core-data")
    ///             .health(Health::Healthy)
    ///             .health_after_start(Health::Unhealthy),
    ///     )
    ///     .install();
    /// containers::restart("edgex-core-data", None)?;
    /// assert_eq!(containers::inspect("edgex-core-data")?.health, Health::Unhealthy);
    /// # Ok::<(), sme_guest::Error>(())
    /// ```
    pub fn health_after_start(mut self, health: Health) -> ContainerBuilder {
        self.health_after_start = Some(health);
        self
    }

    /// Docker's `State.ExitCode`. A start or restart sets it to 0, and so
    /// does a stop (the fake's processes exit cleanly on the stop signal).
    pub fn exit_code(mut self, exit_code: i64) -> ContainerBuilder {
        self.exit_code = exit_code;
        self
    }

    /// Docker's `RestartCount`: restarts made by the restart policy, which a
    /// `docker restart` does not change.
    pub fn restart_count(mut self, restart_count: u32) -> ContainerBuilder {
        self.restart_count = restart_count;
        self
    }

    /// The image name.
    pub fn image(mut self, image: &str) -> ContainerBuilder {
        self.image = image.to_owned();
        self
    }

    /// Adds a label (replacing one of the same key).
    pub fn label(mut self, key: &str, value: &str) -> ContainerBuilder {
        self.labels.retain(|(k, _)| k != key);
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The container's own stop timeout (`Config.StopTimeout`), what
    /// [`container_config::stop_timeout`](crate::container_config::stop_timeout)
    /// answers; none for the daemon's default.
    pub fn stop_timeout(mut self, seconds: Option<u32>) -> ContainerBuilder {
        self.stop_timeout = seconds;
        self
    }

    /// The CPU % `docker stats` shows while the container runs: stats are
    /// synthesised so that [`Figures::of`](crate::Figures::of) gives it back.
    /// A paused container uses none, one that is not running reports zero
    /// counters.
    ///
    /// ```
    /// use sme_guest::testing::{self, Scene};
    /// Scene::new()
    ///     .container(testing::container("edgex-core-data").cpu_percent(12.5).memory(688_128, 1 << 30))
    ///     .install();
    /// let figures = sme_guest::Figures::of(&sme_guest::stats::measure("edgex-core-data")?);
    /// assert!((figures.cpu_percent - 12.5).abs() < 1e-9);
    /// assert_eq!(figures.raw().mem_usage, "672KiB / 1GiB");
    /// assert_eq!(testing::calls(), ["stats edgex-core-data"]);
    /// # Ok::<(), sme_guest::Error>(())
    /// ```
    pub fn cpu_percent(mut self, percent: f64) -> ContainerBuilder {
        self.cpu_percent = percent;
        self
    }

    /// Memory in use and the container's limit, in bytes, as `docker stats`
    /// shows them while the container is up.
    pub fn memory(mut self, usage_bytes: u64, limit_bytes: u64) -> ContainerBuilder {
        self.memory_usage = usage_bytes;
        self.memory_limit = limit_bytes;
        self
    }

    /// Makes `verb` on this container answer [`Error::Docker`] with
    /// `message`, the daemon's own words, changing nothing. Verbs are those
    /// of [`Scene::deny`].
    ///
    /// [`Error::Docker`]: crate::Error::Docker
    pub fn fail(mut self, verb: &str, message: &str) -> ContainerBuilder {
        self.failures.insert(Verb::named(verb), message.to_owned());
        self
    }

    fn build(self) -> Fixture {
        let status = self.status;
        let container = Container {
            id: fake_id(&self.name),
            name: self.name,
            image: self.image,
            status,
            running: sme_model::lifecycle::is_up(status.into()),
            health: self.health,
            exit_code: self.exit_code,
            restart_count: self.restart_count,
            created_ms: CREATED_MS,
            started_ms: (status != Status::Created).then_some(STARTED_MS),
            finished_ms: matches!(status, Status::Exited | Status::Dead).then_some(FINISHED_MS),
            labels: self.labels,
        };
        Fixture {
            container,
            stop_timeout: self.stop_timeout,
            cpu_percent: self.cpu_percent,
            memory_usage: self.memory_usage,
            memory_limit: self.memory_limit,
            failures: self.failures,
            health_after_start: self.health_after_start,
        }
    }
}

/// A 64-digit hexadecimal ID, the same for the same name, as the daemon's
/// messages quote it.
fn fake_id(name: &str) -> String {
    (0u8..4)
        .map(|part| {
            // FNV-1a over the part number and the name.
            let hash = std::iter::once(part)
                .chain(name.bytes())
                .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
                });
            format!("{hash:016x}")
        })
        .collect()
}

/// The request the runtime passes a policy for `executor <service>
/// <operation>`.
///
/// ```
/// let request = sme_guest::testing::request("edgex-core-data", "stop");
/// assert_eq!((request.service.as_str(), request.operation.as_str()), ("edgex-core-data", "stop"));
/// ```
pub fn request(service: &str, operation: &str) -> Request {
    Request {
        service: service.to_owned(),
        operation: operation.to_owned(),
    }
}

/// Every container, service and stats call since the scene was installed,
/// in order, as the runtime's audit trail names them: `<verb> <name>`
/// (`inspect edgex-core-data`, `stop edgex-core-data`, `scale
/// edgex-core-data`; [`container_config::stop_timeout`] is an `inspect`,
/// every stats call, [`services::task_stats`] too, a `stats`), `list` for a
/// listing, ` denied` after a call the scene denied, and ` limit` after a
/// change past one of its budgets ([`Scene::budget`]).
/// [`services::target`] is listed only in auto mode ([`Scene::swarm_auto`]),
/// as the `inspect` it makes there. Settings, logs and the clock are not
/// listed.
///
/// [`container_config::stop_timeout`]: crate::container_config::stop_timeout
/// [`services::target`]: crate::services::target
/// [`services::task_stats`]: crate::services::task_stats
pub fn calls() -> Vec<String> {
    read("calls", |world| world.calls.clone())
}

/// The service named `name` as [`services::inspect`] would show it now,
/// after the policy's calls (without listing a call); none when the scene
/// has no such service.
///
/// ```
/// use sme_guest::services;
/// use sme_guest::testing::{self, Scene};
/// Scene::new().service(testing::service("edgex-core-data").replicas(2)).install();
/// services::scale("edgex-core-data", 0, &[("replicas".to_owned(), Some("2".to_owned()))])?;
/// let service = testing::service_state("edgex-core-data").unwrap();
/// assert_eq!((service.replicas, service.running_tasks), (Some(0), 0));
/// assert_eq!(service.note("replicas"), Some("2"));
/// # Ok::<(), sme_guest::Error>(())
/// ```
///
/// [`services::inspect`]: crate::services::inspect
pub fn service_state(name: &str) -> Option<Service> {
    serve("testing::service_state", |world| world.service_now(name))
}

/// The unit named `name` as [`systemd::inspect`] would show it now, after
/// the policy's calls (without listing a call); none when the scene has no
/// such unit.
///
/// [`systemd::inspect`]: crate::systemd::inspect
pub fn unit_state(name: &str) -> Option<crate::systemd::Unit> {
    read("unit_state", |world| world.unit_now(name))
}

/// The container named `name` as it is now, after the policy's calls; none
/// when the scene has no such container.
pub fn state(name: &str) -> Option<Container> {
    read("state", |world| world.container(name).cloned())
}

/// Moves the scene's clock on by `millis` without a host call: time passing
/// between two requests of a test.
///
/// ```
/// use sme_guest::testing::{self, Scene};
/// Scene::new().now(1_000).install();
/// testing::advance(600_000);
/// assert_eq!(sme_guest::clock::now_ms(), 601_000);
/// ```
pub fn advance(millis: u64) {
    serve("testing::advance", |world| world.now_ms += millis);
}

/// Every value the module keeps now (`state`), after the policy's writes.
///
/// ```
/// use sme_guest::testing::{self, Scene};
/// Scene::new().state("restarts", "2").install();
/// sme_guest::state::update("restarts", |n| Some((n.map_or(0, |n| n.parse::<u32>().unwrap()) + 1).to_string()))?;
/// assert_eq!(testing::kept()["restarts"], "3");
/// # Ok::<(), sme_guest::Error>(())
/// ```
pub fn kept() -> BTreeMap<String, String> {
    read("kept", |world| world.kept.clone())
}

/// Every message the policy logged, in order.
///
/// ```
/// use sme_guest::log::Level;
/// sme_guest::testing::Scene::new().install();
/// sme_guest::log::warn("grace period shortened");
/// assert_eq!(sme_guest::testing::logs(), [(Level::Warn, "grace period shortened".to_owned())]);
/// ```
pub fn logs() -> Vec<(Level, String)> {
    read("logs", |world| world.logs.clone())
}

/// The timeout every stop and restart asked for, in order, as
/// (`<verb> <name>`, timeout in seconds).
///
/// ```
/// use sme_guest::testing::{self, Scene};
/// Scene::new().container(testing::container("edgex-core-data")).install();
/// sme_guest::containers::stop("edgex-core-data", Some(5))?;
/// assert_eq!(testing::timeouts(), [("stop edgex-core-data".to_owned(), Some(5))]);
/// # Ok::<(), sme_guest::Error>(())
/// ```
pub fn timeouts() -> Vec<(String, Option<u32>)> {
    read("timeouts", |world| world.timeouts.clone())
}

/// Answers a host function (named for the message) from this thread's
/// scene. With none installed this is a mistake in the test, reported as a
/// panic (which fails that test only).
pub(crate) fn serve<T>(function: &str, answer: impl FnOnce(&mut World) -> T) -> T {
    WORLD
        .with_borrow_mut(|world| world.as_mut().map(answer))
        .unwrap_or_else(|| no_scene(function))
}

fn read<T>(function: &str, look: impl FnOnce(&World) -> T) -> T {
    WORLD
        .with_borrow(|world| world.as_ref().map(look))
        .unwrap_or_else(|| no_scene(&format!("testing::{function}")))
}

fn no_scene(function: &str) -> ! {
    panic!(
        "sme_guest: host function {function} called outside a WebAssembly component with no \
         test fake installed on this thread; install one at the start of the test: \
         sme_guest::testing::Scene::new().container(sme_guest::testing::container(\"<name>\"))\
         .install()"
    )
}
