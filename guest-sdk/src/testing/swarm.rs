//! The fake's Swarm services: what a [`Scene`](super::Scene) says about
//! them, and how `scale` and `redeploy` change their tasks.
//!
//! The model is the one every engine shares (docs/swarm.md, the runtime's
//! real and simulated engines): exact names, `service <name> not found`,
//! global services refused a replica count, a scale to the current count
//! with the same labels sending nothing, a redeploy replacing every task
//! and raising the version. Tasks change at once unless the builder says
//! they take a while to start or stop ([`ServiceBuilder::starts_after_ms`],
//! [`ServiceBuilder::stops_after_ms`]), so a policy's waiting can be tested
//! too.

use std::collections::HashMap;

use super::lifecycle::Verb;
use super::{CREATED_MS, STARTED_MS, fake_id};
use crate::services::{Mode, Service, Summary, Task, TaskState, UpdateState};

/// The text Docker gives a task whose container exited with status 1.
const NON_ZERO_EXIT: &str = "task: non-zero exit (1)";

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
/// assert_eq!((ui.replicas, ui.desired_tasks, ui.running_tasks), (None, 2, 0));
/// assert!(ui.tasks.iter().all(|task| task.state == TaskState::Failed));
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
    /// while the orchestrator still wants it running. A redeploy's update
    /// ends `paused`, as with Docker's default failure action.
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
        let service = Service {
            id: fake_id(&format!("service {}", self.name))[..25].to_owned(),
            name: self.name,
            image: self.image,
            mode: match self.replicas {
                Some(_) => Mode::Replicated,
                None => Mode::Global,
            },
            replicas: self.replicas,
            desired_tasks: 0,
            running_tasks: 0,
            tasks: Vec::new(),
            update_state: UpdateState::None,
            update_message: String::new(),
            labels: self.labels,
            version: 10,
            created_ms: CREATED_MS,
            updated_ms: CREATED_MS,
        };
        let mut fixture = SwarmFixture {
            nodes: (0..self.nodes)
                .map(|node| fake_id(&format!("node {node}"))[..25].to_owned())
                .collect(),
            service,
            failing: self.failing,
            starts_after_ms: self.starts_after_ms,
            stops_after_ms: self.stops_after_ms,
            stats: self.stats,
            failures: self.failures,
            update_ends: self.update_ends,
            ready_at: HashMap::new(),
            stop_at: HashMap::new(),
            created: 0,
        };
        // The scene's own tasks have run (or failed) since long ago.
        for (slot, node) in fixture.placement() {
            let task = fixture.new_task(slot, node, STARTED_MS, 0);
            fixture.service.tasks.insert(0, task);
        }
        fixture
    }
}

/// One service of the scene and how the fake answers for it.
#[derive(Clone)]
pub(crate) struct SwarmFixture {
    /// As `inspect` shows it, but for the two counts (see [`Self::shown`]).
    service: Service,
    nodes: Vec<String>,
    failing: bool,
    starts_after_ms: u64,
    stops_after_ms: u64,
    stats: Vec<TaskStats>,
    pub(crate) failures: HashMap<Verb, String>,
    update_ends: Option<(UpdateState, String)>,
    /// When each task still `starting` runs.
    ready_at: HashMap<String, u64>,
    /// When each task still running against the orchestrator's wish
    /// stops.
    stop_at: HashMap<String, u64>,
    /// Tasks created so far, for fresh IDs.
    created: u64,
}

impl SwarmFixture {
    pub(crate) fn name(&self) -> &str {
        &self.service.name
    }

    pub(crate) fn labels(&self) -> &[(String, String)] {
        &self.service.labels
    }

    /// The service as `inspect` answers at `now_ms`.
    pub(crate) fn shown(&mut self, now_ms: u64) -> Service {
        self.settle(now_ms);
        let mut service = self.service.clone();
        let wanted = |task: &&Task| task.desired_state == TaskState::Running;
        service.desired_tasks = match service.replicas {
            Some(replicas) => u32::try_from(replicas).unwrap_or(u32::MAX),
            None => count(service.tasks.iter().filter(wanted)),
        };
        service.running_tasks = count(
            service
                .tasks
                .iter()
                .filter(|task| task.state == TaskState::Running),
        );
        // Newest first; the sort is stable, so tasks changed in the same
        // millisecond keep the order they were made in.
        service
            .tasks
            .sort_by_key(|task| std::cmp::Reverse(task.updated_ms));
        service
    }

    pub(crate) fn summary(&self) -> Summary {
        Summary {
            id: self.service.id.clone(),
            name: self.service.name.clone(),
            image: self.service.image.clone(),
            mode: self.service.mode,
            replicas: self.service.replicas,
            labels: self.service.labels.clone(),
        }
    }

    /// Sets the replica count and labels in one update, as the engines do.
    pub(crate) fn scale(
        &mut self,
        replicas: u64,
        labels: &[(String, Option<String>)],
        now_ms: u64,
    ) -> Result<(), String> {
        let name = &self.service.name;
        let Some(before) = self.service.replicas else {
            return Err(format!(
                "service {name} is global: it runs one task per node and has no replica \
                 count to scale"
            ));
        };
        let unchanged = labels.iter().all(|(key, value)| {
            let current = self.service.labels.iter().find(|(k, _)| k == key);
            current.map(|(_, v)| v) == value.as_ref()
        });
        if before == replicas && unchanged {
            return Ok(());
        }
        self.settle(now_ms);
        for (key, value) in labels {
            self.service.labels.retain(|(k, _)| k != key);
            if let Some(value) = value {
                self.service.labels.push((key.clone(), value.clone()));
            }
        }
        self.service.replicas = Some(replicas);
        self.bump(now_ms);
        // Any update, a scale too, clears the last rolling update's status
        // (as the daemon does).
        self.service.update_state = UpdateState::None;
        self.service.update_message = String::new();
        if replicas < before {
            // The scaled-down slots' tasks are removed with their history,
            // once the running ones have stopped.
            let dropped = |task: &Task| task.slot.is_some_and(|slot| u64::from(slot) > replicas);
            let stops_at = now_ms + self.stops_after_ms;
            for task in self.service.tasks.iter_mut().filter(|task| dropped(task)) {
                task.desired_state = TaskState::Remove;
                self.ready_at.remove(&task.id);
                if task.state == TaskState::Running && self.stops_after_ms > 0 {
                    self.stop_at.insert(task.id.clone(), stops_at);
                }
            }
            let stop_at = &self.stop_at;
            self.service
                .tasks
                .retain(|task| !dropped(task) || stop_at.contains_key(&task.id));
        }
        for (slot, node) in self.placement() {
            if slot.is_some_and(|slot| u64::from(slot) > before) {
                let task = self.new_task(slot, node, now_ms, self.starts_after_ms);
                self.service.tasks.insert(0, task);
            }
        }
        Ok(())
    }

    /// Replaces every task with a new one and raises the version.
    pub(crate) fn redeploy(&mut self, now_ms: u64) {
        self.settle(now_ms);
        self.bump(now_ms);
        let stops_at = now_ms + self.stops_after_ms;
        for task in &mut self.service.tasks {
            if task.desired_state == TaskState::Running {
                task.desired_state = TaskState::Shutdown;
                self.ready_at.remove(&task.id);
                if task.state == TaskState::Running && self.stops_after_ms > 0 {
                    self.stop_at.insert(task.id.clone(), stops_at);
                } else if matches!(task.state, TaskState::Running | TaskState::Starting) {
                    shut_down(task, now_ms);
                }
            }
        }
        let placement = self.placement();
        // With no task to replace there is no rolling update: the daemon
        // leaves the update status as it was cleared, none.
        let (state, message) = if placement.is_empty() {
            (UpdateState::None, String::new())
        } else {
            (UpdateState::Updating, "update in progress".to_owned())
        };
        for (slot, node) in placement {
            let task = self.new_task(slot, node, now_ms, self.starts_after_ms);
            self.service.tasks.insert(0, task);
        }
        self.service.update_state = state;
        self.service.update_message = message;
        self.settle(now_ms);
    }

    /// The running tasks on this daemon's node, with their container's
    /// name and figures.
    pub(crate) fn local_running(&mut self, now_ms: u64) -> Vec<(String, String, TaskStats)> {
        self.settle(now_ms);
        let service = &self.service;
        service
            .tasks
            .iter()
            .filter(|task| {
                task.state == TaskState::Running
                    && task.desired_state == TaskState::Running
                    && task.node_id == self.nodes[0]
            })
            .map(|task| {
                let place = match task.slot {
                    Some(slot) => slot.to_string(),
                    None => task.node_id.clone(),
                };
                let index = match task.slot {
                    Some(slot) => slot as usize - 1,
                    None => self
                        .nodes
                        .iter()
                        .position(|n| *n == task.node_id)
                        .unwrap_or(0),
                };
                let stats = self.stats.get(index).copied().unwrap_or_default();
                let container = format!("{}.{place}.{}", service.name, task.id);
                (task.id.clone(), container, stats)
            })
            .collect()
    }

    /// Where the service wants its tasks: (slot, node index) for each.
    fn placement(&self) -> Vec<(Option<u32>, usize)> {
        let nodes = self.nodes.len();
        match self.service.replicas {
            Some(replicas) => (1..=u32::try_from(replicas).unwrap_or(u32::MAX))
                .map(|slot| (Some(slot), (slot as usize - 1) % nodes))
                .collect(),
            None => (0..nodes).map(|node| (None, node)).collect(),
        }
    }

    fn new_task(&mut self, slot: Option<u32>, node: usize, now_ms: u64, delay_ms: u64) -> Task {
        self.created += 1;
        let id = fake_id(&format!("task {} {}", self.service.name, self.created))[..25].to_owned();
        let container_id = Some(fake_id(&format!("container {id}")));
        let mut task = Task {
            id,
            node_id: self.nodes[node].clone(),
            slot,
            desired_state: TaskState::Running,
            state: TaskState::Running,
            message: "started".to_owned(),
            err: None,
            container_id,
            exit_code: None,
            updated_ms: now_ms,
        };
        if delay_ms > 0 {
            task.state = TaskState::Starting;
            task.message = "starting".to_owned();
            self.ready_at.insert(task.id.clone(), now_ms + delay_ms);
        } else if self.failing {
            fail(&mut task);
        }
        task
    }

    /// Moves on the tasks whose start or stop time has come, and the update
    /// when none is left starting or stopping.
    fn settle(&mut self, now_ms: u64) {
        let stopped: Vec<(String, u64)> = self
            .stop_at
            .iter()
            .filter(|&(_, &at)| at <= now_ms)
            .map(|(id, &at)| (id.clone(), at))
            .collect();
        for (id, at) in stopped {
            self.stop_at.remove(&id);
            if let Some(task) = self.service.tasks.iter_mut().find(|task| task.id == id) {
                shut_down(task, at);
            }
        }
        // A scaled-down slot's task is removed once it has stopped.
        self.service.tasks.retain(|task| {
            task.desired_state != TaskState::Remove || task.state == TaskState::Running
        });
        for task in &mut self.service.tasks {
            let Some(&ready) = self.ready_at.get(&task.id) else {
                continue;
            };
            if ready <= now_ms {
                self.ready_at.remove(&task.id);
                task.updated_ms = ready;
                if self.failing {
                    fail(task);
                } else {
                    task.state = TaskState::Running;
                    task.message = "started".to_owned();
                }
            }
        }
        let moving = !self.ready_at.is_empty() || !self.stop_at.is_empty();
        if self.service.update_state == UpdateState::Updating && !moving {
            let (state, message) = match (&self.update_ends, self.failing) {
                (Some(ends), _) => ends.clone(),
                (None, true) => {
                    let first = self
                        .service
                        .tasks
                        .iter()
                        .find(|task| task.state == TaskState::Failed)
                        .map_or("", |task| task.id.as_str());
                    (
                        UpdateState::Paused,
                        format!(
                            "update paused due to failure or early termination of task {first}"
                        ),
                    )
                }
                (None, false) => (UpdateState::Completed, "update completed".to_owned()),
            };
            self.service.update_state = state;
            self.service.update_message = message;
        }
    }

    fn bump(&mut self, now_ms: u64) {
        self.service.version += 1;
        self.service.updated_ms = now_ms;
    }
}

/// Makes `task` one the orchestrator stopped at `at_ms`.
fn shut_down(task: &mut Task, at_ms: u64) {
    task.state = TaskState::Shutdown;
    task.message = "shutdown".to_owned();
    task.exit_code = Some(0);
    task.updated_ms = at_ms;
}

/// Makes `task` one whose container exited with status 1 while the
/// orchestrator still wants it running.
fn fail(task: &mut Task) {
    task.state = TaskState::Failed;
    task.message = NON_ZERO_EXIT.to_owned();
    task.err = Some(NON_ZERO_EXIT.to_owned());
    task.exit_code = Some(1);
}

fn count<'a>(tasks: impl Iterator<Item = &'a Task>) -> u32 {
    u32::try_from(tasks.count()).unwrap_or(u32::MAX)
}
