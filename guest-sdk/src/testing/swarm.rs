//! The fake's Swarm services: what a [`Scene`](super::Scene) says about
//! them, and how `scale` and `redeploy` change their tasks.
//!
//! The model is the runtime's own (`sme_model::swarm`, held against a real
//! swarm by the runtime's tests): exact names, `service <name> not found`,
//! global services refused a replica count, a scale to the current count
//! with the same labels sending nothing, a redeploy replacing every task
//! and raising the version, five tasks of history a slot, failed tasks and
//! their retries. Tasks change at once unless the builder says
//! they take a while to start or stop ([`ServiceBuilder::starts_after_ms`],
//! [`ServiceBuilder::stops_after_ms`]), so a policy's waiting can be tested
//! too.

use std::collections::HashMap;

use sme_model::TaskState;
use sme_model::swarm::{Deployment, Failure, ServiceModel};

use super::verb::Verb;
use super::{CREATED_MS, STARTED_MS};
use crate::services::{Service, Summary, UpdateState};

/// What `docker stats` shows for one task's container: the figures the
/// fake's [`task_stats`](crate::services::task_stats) gives back through
/// [`Figures::of`](crate::Figures::of).
///
/// ```
/// use sme_guest::testing::TaskStats;
/// let busy = TaskStats { network_rx: 2_000, ..TaskStats::cpu_memory(12.5, 1 << 20, 1 << 30) };
/// assert_eq!((busy.cpu_percent, busy.pids), (12.5, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskStats {
    /// CPU use as a percentage of one CPU.
    pub cpu_percent: f64,
    /// Memory in use, in bytes.
    pub memory_usage: u64,
    /// The container's memory limit, in bytes.
    pub memory_limit: u64,
    /// Bytes received over all networks.
    pub network_rx: u64,
    /// Bytes sent over all networks.
    pub network_tx: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
    /// Processes and threads in the container.
    pub pids: u64,
}

impl TaskStats {
    /// A task using `cpu_percent` of a CPU and `usage` of its `limit`
    /// bytes of memory, one process, no I/O.
    pub fn cpu_memory(cpu_percent: f64, usage: u64, limit: u64) -> TaskStats {
        TaskStats {
            cpu_percent,
            memory_usage: usage,
            memory_limit: limit,
            ..TaskStats::default()
        }
    }
}

/// An idle task: no CPU, no memory, no I/O, one process.
impl Default for TaskStats {
    fn default() -> TaskStats {
        TaskStats {
            cpu_percent: 0.0,
            memory_usage: 0,
            memory_limit: 0,
            network_rx: 0,
            network_tx: 0,
            block_read: 0,
            block_write: 0,
            pids: 1,
        }
    }
}

/// A Swarm service for a [`Scene`](super::Scene), named `name`: replicated
/// with one replica, its task running since [`STARTED_MS`] on the one node
/// of the swarm (this daemon's), created at [`CREATED_MS`], image
/// `busybox:latest`, no labels, never updated, idle.
///
/// ```
/// use sme_guest::services::{self, Mode, TaskState};
/// use sme_guest::testing::{self, Scene, TaskStats};
///
/// Scene::new()
///     .service(
///         testing::service("edgex-core-data")
///             .replicas(3)
///             .nodes(2)
///             .label("tier", "core")
///             .task_stats(vec![TaskStats::cpu_memory(2.5, 1 << 20, 1 << 30)]),
///     )
///     .service(testing::service("edgex-ui").global().nodes(2).failing())
///     .install();
///
/// let data = services::inspect("edgex-core-data")?;
/// assert_eq!((data.mode, data.replicas), (Mode::Replicated, Some(3)));
/// assert_eq!((data.desired_tasks, data.running_tasks), (3, 3));
/// let ui = services::inspect("edgex-ui")?;
/// // Docker wants no task of a global service whose tasks fail running.
/// assert_eq!((ui.replicas, ui.desired_tasks, ui.running_tasks), (None, 0, 0));
/// let failed = ui.tasks.iter().filter(|task| task.state == TaskState::Failed);
/// let retries = ui.tasks.iter().filter(|task| task.state == TaskState::Ready);
/// assert_eq!((failed.count(), retries.count()), (2, 2));
/// // Tasks 1 and 3 run on this daemon's node, task 2 on the other one.
/// assert_eq!(services::task_stats("edgex-core-data", 5000)?.len(), 2);
/// # Ok::<(), sme_guest::Error>(())
/// ```
pub fn service(name: &str) -> ServiceBuilder {
    ServiceBuilder {
        name: name.to_owned(),
        image: "busybox:latest".to_owned(),
        replicas: Some(1),
        nodes: 1,
        labels: Vec::new(),
        failing: false,
        starts_after_ms: 0,
        stops_after_ms: 0,
        stats: Vec::new(),
        failures: HashMap::new(),
        update_ends: None,
    }
}

/// One service of a [`Scene`](super::Scene), made by [`service`]: how it
/// places its tasks, whether they run, their figures, and the failures the
/// service answers.
#[derive(Clone)]
pub struct ServiceBuilder {
    pub(super) name: String,
    image: String,
    replicas: Option<u64>,
    nodes: u32,
    labels: Vec<(String, String)>,
    failing: bool,
    starts_after_ms: u64,
    stops_after_ms: u64,
    stats: Vec<TaskStats>,
    failures: HashMap<Verb, String>,
    update_ends: Option<(UpdateState, String)>,
}

impl ServiceBuilder {
    /// Replicated, with `replicas` tasks (none: a service scaled to zero).
    pub fn replicas(mut self, replicas: u64) -> ServiceBuilder {
        self.replicas = Some(replicas);
        self
    }

    /// Global: one task on every node (see [`nodes`](ServiceBuilder::nodes)),
    /// no replica count, so a scale is refused as Docker refuses it.
    pub fn global(mut self) -> ServiceBuilder {
        self.replicas = None;
        self
    }

    /// The swarm's node count (at least 1). The first node is the one whose
    /// daemon the module talks to: only its tasks' containers are measured
    /// by [`task_stats`](crate::services::task_stats). A replicated
    /// service's task of slot `s` runs on node `(s - 1) % nodes`.
    pub fn nodes(mut self, nodes: u32) -> ServiceBuilder {
        self.nodes = nodes.max(1);
        self
    }

    /// The image name.
    pub fn image(mut self, image: &str) -> ServiceBuilder {
        self.image = image.to_owned();
        self
    }

    /// Adds a label (replacing one of the same key).
    pub fn label(mut self, key: &str, value: &str) -> ServiceBuilder {
        self.labels.retain(|(k, _)| k != key);
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds labels, as [`label`](ServiceBuilder::label) does one by one.
    pub fn labels(self, labels: &[(&str, &str)]) -> ServiceBuilder {
        labels
            .iter()
            .fold(self, |builder, (key, value)| builder.label(key, value))
    }

    /// Adds the note a module left with [`scale`](crate::services::scale):
    /// the label `sme.note.<key>`.
    pub fn note(self, key: &str, value: &str) -> ServiceBuilder {
        let key = format!("{}{key}", crate::services::NOTE_PREFIX);
        self.label(&key, value)
    }

    /// Its tasks never run: every task, the scene's and those a scale or
    /// redeploy creates, ends `failed` with Docker's message for a
    /// container that exited with status 1 (`task: non-zero exit (1)`),
    /// and a retry waits (`ready`) in its place, as Docker's do. A
    /// redeploy's update ends `paused` at its first failed task, as with
    /// Docker's default failure action.
    pub fn failing(mut self) -> ServiceBuilder {
        self.failing = true;
        self
    }

    /// The tasks a scale or redeploy creates are `starting` for `millis`
    /// of the scene's clock (which moves with
    /// [`clock::sleep`](crate::clock::sleep)), then `running`; a
    /// redeploy's update is `updating` until then. Zero (the default): they
    /// run at once.
    ///
    /// ```
    /// use sme_guest::{clock, services};
    /// use sme_guest::testing::{self, Scene};
    /// Scene::new()
    ///     .service(testing::service("edgex-core-data").replicas(0).starts_after_ms(250))
    ///     .install();
    /// services::scale("edgex-core-data", 1, &[])?;
    /// assert_eq!(services::inspect("edgex-core-data")?.running_tasks, 0);
    /// clock::sleep(250)?;
    /// assert_eq!(services::inspect("edgex-core-data")?.running_tasks, 1);
    /// # Ok::<(), sme_guest::Error>(())
    /// ```
    pub fn starts_after_ms(mut self, millis: u64) -> ServiceBuilder {
        self.starts_after_ms = millis;
        self
    }

    /// The tasks a scale removes or a redeploy replaces keep running for
    /// `millis` of the scene's clock (the orchestrator wants them
    /// `remove`d or `shutdown` meanwhile), then are gone or `shutdown`.
    /// Zero (the default): they stop at once. A value longer than any wait
    /// models tasks that do not stop.
    ///
    /// ```
    /// use sme_guest::{clock, services};
    /// use sme_guest::testing::{self, Scene};
    /// Scene::new()
    ///     .service(testing::service("edgex-core-data").replicas(2).stops_after_ms(500))
    ///     .install();
    /// services::scale("edgex-core-data", 0, &[])?;
    /// assert_eq!(services::inspect("edgex-core-data")?.running_tasks, 2);
    /// clock::sleep(500)?;
    /// assert_eq!(services::inspect("edgex-core-data")?.running_tasks, 0);
    /// # Ok::<(), sme_guest::Error>(())
    /// ```
    pub fn stops_after_ms(mut self, millis: u64) -> ServiceBuilder {
        self.stops_after_ms = millis;
        self
    }

    /// What `docker stats` shows for each task's container, in slot order
    /// (node order for a global service); tasks past the end of `stats` are
    /// idle ([`TaskStats::default`]). A task that is not running is not
    /// measured at all.
    pub fn task_stats(mut self, stats: Vec<TaskStats>) -> ServiceBuilder {
        self.stats = stats;
        self
    }

    /// Makes `verb` on this service answer [`Error::Docker`] with `message`,
    /// the daemon's own words, changing nothing. Verbs are `inspect`,
    /// `list`, `stats`, `scale` and `redeploy`.
    ///
    /// [`Error::Docker`]: crate::Error::Docker
    pub fn fail(mut self, verb: &str, message: &str) -> ServiceBuilder {
        self.failures.insert(Verb::named(verb), message.to_owned());
        self
    }

    /// How a redeploy's rolling update ends once its tasks have started
    /// (`completed` with `update completed` unless said here, or `paused`
    /// for a [`failing`](ServiceBuilder::failing) service), e.g.
    /// `rollback-completed` for an update Docker rolled back.
    pub fn update_ends(mut self, state: UpdateState, message: &str) -> ServiceBuilder {
        self.update_ends = Some((state, message.to_owned()));
        self
    }

    pub(super) fn build(self) -> SwarmFixture {
        let model = ServiceModel::deploy(Deployment {
            image: self.image,
            nodes: self.nodes,
            labels: self.labels,
            version: 10,
            started_ms: STARTED_MS,
            failing: self.failing.then(|| Failure::exit(1)),
            starts_after_ms: self.starts_after_ms,
            stops_after_ms: self.stops_after_ms,
            update_ends: self
                .update_ends
                .map(|(state, message)| (state.into(), message)),
            ..Deployment::new(&self.name, self.replicas, CREATED_MS)
        });
        SwarmFixture {
            model,
            stats: self.stats,
            failures: self.failures,
        }
    }
}

/// One service of the scene and how the fake answers for it: the runtime's
/// model of a Swarm service, and what the scene adds.
#[derive(Clone)]
pub(crate) struct SwarmFixture {
    model: ServiceModel,
    stats: Vec<TaskStats>,
    pub(crate) failures: HashMap<Verb, String>,
}

impl SwarmFixture {
    pub(crate) fn name(&self) -> &str {
        self.model.name()
    }

    pub(crate) fn labels(&self) -> &[(String, String)] {
        &self.model.service.labels
    }

    /// The service as `inspect` shows it at `now_ms`.
    pub(crate) fn shown(&mut self, now_ms: u64) -> Service {
        self.model.at(now_ms).clone().into()
    }

    pub(crate) fn summary(&self) -> Summary {
        self.model.summary().into()
    }

    /// Scales as the runtime's engine does: a global service refused, what
    /// already is left alone.
    pub(crate) fn scale(
        &mut self,
        replicas: u64,
        labels: &[(String, Option<String>)],
        now_ms: u64,
    ) -> Result<(), String> {
        self.model.scale(replicas, labels, now_ms).map(drop)
    }

    pub(crate) fn redeploy(&mut self, now_ms: u64) {
        self.model.redeploy(now_ms);
    }

    /// The running tasks on this daemon's node (the swarm's first), each
    /// with its container's name and what `docker stats` shows for it: the
    /// builder's figures by slot, or by node for a global service.
    pub(crate) fn local_running(&mut self, now_ms: u64) -> Vec<(String, String, TaskStats)> {
        let nodes = self.model.nodes().to_vec();
        let service = self.model.at(now_ms).clone();
        service
            .tasks
            .iter()
            .filter(|task| {
                task.state == TaskState::Running
                    && task.desired_state == TaskState::Running
                    && task.node_id == nodes[0]
            })
            .map(|task| {
                let index = match task.slot {
                    Some(slot) => slot as usize - 1,
                    None => nodes.iter().position(|n| *n == task.node_id).unwrap_or(0),
                };
                let stats = self.stats.get(index).copied().unwrap_or_default();
                (task.id.clone(), self.model.container_name(task), stats)
            })
            .collect()
    }
}
