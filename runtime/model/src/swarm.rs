//! How service calls change a Swarm service, as a swarm manager changes it.
//!
//! One state machine for everything that pretends to be a swarm: the
//! runtime's simulated engine applies it to services held in memory, its
//! dry run on top of a real inspection, and the guest SDK's fake to a
//! test's scene. Measured against a single-node swarm of Docker 20.10, as
//! the state settles (the manager needs a second or so):
//!
//! - every update bumps the version and clears the update status;
//! - scaling up creates a running task in each lowest free slot; scaling
//!   down removes the current tasks of the highest slots;
//! - a slot keeps its earlier tasks in its history, [`TASK_HISTORY`] at
//!   most (Docker's default retention); a slot that lost its task to a
//!   scale-down keeps them until the next update forgets them;
//! - a forced update shuts every current task down (`shutdown`, kept in the
//!   history) and starts a new one in its slot, then reports `completed`,
//!   or nothing at all when the service has no task to update;
//! - a failing service's tasks end `failed` with the daemon's error, a
//!   retry waiting (`ready`) in each slot, so it never has a running task,
//!   and a forced update of it is `paused` at its first failed task.
//!
//! Tasks change at once unless the deployment says they take a while to
//! start or stop ([`Deployment::starts_after_ms`],
//! [`Deployment::stops_after_ms`]): then a new task is `starting` until
//! its time comes, a task told to stop keeps running until then, and a
//! forced update is `updating` until every task has settled, so that a
//! policy's waiting can be tested. A global service runs one task on each
//! node; a replicated one spreads its slots over the nodes in turn.

use std::collections::BTreeSet;

use sha2::Digest as _;

/// The daemon's answer to a service request on a node that is no swarm
/// manager (HTTP 503), word for word.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \
                                 \"docker swarm join\" to connect this node to swarm and try again.";

/// Tasks a slot keeps, its current one included: Docker's default
/// `TaskHistoryRetentionLimit`.
pub const TASK_HISTORY: usize = 5;

/// The version a service reads when it was deployed and never updated:
/// what a fresh swarm's first service reads.
pub const FIRST_VERSION: u64 = 11;

/// The message of a completed update.
const UPDATE_COMPLETED: &str = "update completed";
/// The message of an update under way.
const UPDATE_IN_PROGRESS: &str = "update in progress";

/// The label the daemon puts on every task container, naming its service.
pub const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";
/// The label naming the task container's service by name.
pub const SERVICE_NAME_LABEL: &str = "com.docker.swarm.service.name";
/// The label naming the task container's task.
pub const TASK_ID_LABEL: &str = "com.docker.swarm.task.id";
/// The label naming the task container's node.
pub const NODE_ID_LABEL: &str = "com.docker.swarm.node.id";

/// How a service's tasks are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A replica count, spread over the nodes.
    Replicated,
    /// One task on every node.
    Global,
}

/// Docker's task states (`Status.State`, `DesiredState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum TaskState {
    New,
    Allocated,
    Pending,
    Assigned,
    Accepted,
    Preparing,
    Ready,
    Starting,
    Running,
    Complete,
    Shutdown,
    Failed,
    Rejected,
    Remove,
    Orphaned,
}

/// Where a rolling update stands (`UpdateStatus.State`); `None` when the
/// service was never updated, or since its last plain update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum UpdateState {
    None,
    Updating,
    Paused,
    Completed,
    RollbackStarted,
    RollbackPaused,
    RollbackCompleted,
}

/// One task the manager keeps for a service, its history included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The task's ID.
    pub id: String,
    /// The node it was scheduled on.
    pub node_id: String,
    /// Its slot; none for a global service's task.
    pub slot: Option<u32>,
    /// What the manager wants of it.
    pub desired_state: TaskState,
    /// Where it is.
    pub state: TaskState,
    /// `Status.Message`.
    pub message: String,
    /// `Status.Err`, when it failed.
    pub err: Option<String>,
    /// Its container, once it has one.
    pub container_id: Option<String>,
    /// Its container's exit code, once it exited.
    pub exit_code: Option<i64>,
    /// When its status last changed, in milliseconds since the epoch.
    pub updated_ms: u64,
}

/// A Swarm service as `services.inspect` shows it: the counts follow its
/// tasks, which are listed newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image of its tasks.
    pub image: String,
    /// How its tasks are scheduled.
    pub mode: Mode,
    /// The replica count of a replicated service.
    pub replicas: Option<u64>,
    /// Tasks the manager wants running.
    pub desired_tasks: u32,
    /// Tasks running.
    pub running_tasks: u32,
    /// Its tasks, history included, newest first.
    pub tasks: Vec<Task>,
    /// Where its last forced update stands.
    pub update_state: UpdateState,
    /// The update's message.
    pub update_message: String,
    /// Its labels.
    pub labels: Vec<(String, String)>,
    /// The spec's version, raised by every update.
    pub version: u64,
    /// When it was created, in milliseconds since the epoch.
    pub created_ms: u64,
    /// When its spec last changed.
    pub updated_ms: u64,
}

/// A service's row in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The service's ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image of its tasks.
    pub image: String,
    /// How its tasks are scheduled.
    pub mode: Mode,
    /// The replica count of a replicated service.
    pub replicas: Option<u64>,
    /// Its labels.
    pub labels: Vec<(String, String)>,
}

/// How a failing service's tasks fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `Status.Err`, as the daemon words it.
    pub err: String,
    /// The task container's exit code.
    pub exit_code: i64,
}

impl Failure {
    /// A task whose process exits with `exit_code`, in the daemon's words.
    pub fn exit(exit_code: i64) -> Failure {
        Failure {
            err: format!("task: non-zero exit ({exit_code})"),
            exit_code,
        }
    }
}

/// What a deployment says of a service: everything a model starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The service's name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// Its replica count; none for a global service.
    pub replicas: Option<u64>,
    /// The nodes of the swarm (at least one; the first is this daemon's).
    pub nodes: u32,
    /// Its labels.
    pub labels: Vec<(String, String)>,
    /// The version it reads before any update.
    pub version: u64,
    /// When it was created.
    pub created_ms: u64,
    /// When its first tasks started (or failed).
    pub started_ms: u64,
    /// How its tasks fail, when they do.
    pub failing: Option<Failure>,
    /// How long a new task takes to start.
    pub starts_after_ms: u64,
    /// How long a task takes to stop.
    pub stops_after_ms: u64,
    /// How a forced update ends, instead of as the daemon ends it
    /// (`completed`, or `paused` for a failing service).
    pub update_ends: Option<(UpdateState, String)>,
}

impl Deployment {
    /// A healthy service named `name` with `replicas` (none: global),
    /// created at `created_ms` on a one-node swarm, image `busybox:latest`,
    /// no labels, never updated, its tasks starting and stopping at once.
    pub fn new(name: &str, replicas: Option<u64>, created_ms: u64) -> Deployment {
        Deployment {
            name: name.to_owned(),
            image: "busybox:latest".to_owned(),
            replicas,
            nodes: 1,
            labels: Vec::new(),
            version: FIRST_VERSION,
            created_ms,
            started_ms: created_ms,
            failing: None,
            starts_after_ms: 0,
            stops_after_ms: 0,
            update_ends: None,
        }
    }
}

/// A task still on its way: starting until `at_ms`, or stopping then.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    task: String,
    at_ms: u64,
    stopping: bool,
}

/// One service, and how calls change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceModel {
    /// What `inspect` answers, as of the last call that settled it.
    pub service: Service,
    /// How its tasks fail, when they do.
    pub failing: Option<Failure>,
    nodes: Vec<String>,
    starts_after_ms: u64,
    stops_after_ms: u64,
    update_ends: Option<(UpdateState, String)>,
    pending: Vec<Pending>,
    /// The first task a delayed forced update started: where a failing
    /// service's update pauses.
    update_task: Option<String>,
    /// Tasks made so far: the next task's ID is derived from it.
    made: u64,
}

impl ServiceModel {
    /// The service `deployment` describes, its tasks running (or failed)
    /// since it was created. Its ID, like its tasks', is derived from its
    /// name, so that a scenario answers the same on every run.
    pub fn deploy(deployment: Deployment) -> ServiceModel {
        let Deployment {
            name,
            image,
            replicas,
            nodes,
            mut labels,
            version,
            created_ms,
            started_ms,
            failing,
            starts_after_ms,
            stops_after_ms,
            update_ends,
        } = deployment;
        labels.sort();
        let mut model = ServiceModel {
            service: Service {
                id: swarm_id(&format!("service/{name}")),
                name,
                image,
                mode: if replicas.is_some() {
                    Mode::Replicated
                } else {
                    Mode::Global
                },
                replicas,
                desired_tasks: 0,
                running_tasks: 0,
                tasks: Vec::new(),
                update_state: UpdateState::None,
                update_message: String::new(),
                labels,
                version,
                created_ms,
                updated_ms: created_ms,
            },
            failing,
            nodes: (0..nodes.max(1)).map(node_id).collect(),
            starts_after_ms: 0,
            stops_after_ms: 0,
            update_ends,
            pending: Vec::new(),
            update_task: None,
            made: 0,
        };
        model.fill_slots(started_ms);
        model.starts_after_ms = starts_after_ms;
        model.stops_after_ms = stops_after_ms;
        model.recount();
        model
    }

    /// A service as a real daemon reported it, to simulate calls on top of.
    pub fn from_service(service: Service) -> ServiceModel {
        let mut nodes: Vec<String> = Vec::new();
        for task in &service.tasks {
            if !nodes.contains(&task.node_id) {
                nodes.push(task.node_id.clone());
            }
        }
        if nodes.is_empty() {
            nodes.push(node_id(0));
        }
        let mut model = ServiceModel {
            service,
            failing: None,
            nodes,
            starts_after_ms: 0,
            stops_after_ms: 0,
            update_ends: None,
            pending: Vec::new(),
            update_task: None,
            made: 0,
        };
        model.recount();
        model
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.service.name
    }

    /// The IDs of the swarm's nodes; the first is this daemon's.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The service as it stands at `now_ms`: the tasks that were starting
    /// or stopping and whose time has come have done so.
    pub fn at(&mut self, now_ms: u64) -> &Service {
        self.settle(now_ms);
        &self.service
    }

    /// Its row in a listing.
    pub fn summary(&self) -> Summary {
        let s = &self.service;
        Summary {
            id: s.id.clone(),
            name: s.name.clone(),
            image: s.image.clone(),
            mode: s.mode,
            replicas: s.replicas,
            labels: s.labels.clone(),
        }
    }

    /// Sets the replica count and labels (a `None` value removes the label)
    /// in one update at `now_ms`. A global service is refused; asking for
    /// what already is changes nothing (the engine sends nothing).
    /// `Ok(true)` when the service was updated.
    pub fn scale(
        &mut self,
        replicas: u64,
        labels: &[(String, Option<String>)],
        now_ms: u64,
    ) -> Result<bool, String> {
        if self.service.mode == Mode::Global {
            return Err(global(&self.service.name));
        }
        self.settle(now_ms);
        let keys = self.service.labels.iter().map(|(key, _)| key.as_str());
        crate::notes::check_total(&self.service.name, keys, labels)?;
        let labelled = labels.iter().all(|(key, value)| {
            let current = self.service.labels.iter().find(|(k, _)| k == key);
            current.map(|(_, v)| v) == value.as_ref()
        });
        if self.service.replicas == Some(replicas) && labelled {
            return Ok(false);
        }
        for (key, value) in labels {
            self.service.labels.retain(|(k, _)| k != key);
            if let Some(value) = value {
                self.service.labels.push((key.clone(), value.clone()));
            }
        }
        self.service.labels.sort();
        self.service.replicas = Some(replicas);
        self.updated(now_ms);
        // The highest slots go (once stopped, when tasks take a while);
        // their earlier tasks stay, in a slot now dead, until the next
        // update.
        let wanted = usize::try_from(replicas).unwrap_or(usize::MAX);
        for place in self.current_places().into_iter().skip(wanted) {
            self.retire(&place, TaskState::Remove, now_ms);
        }
        self.fill_slots(now_ms);
        self.settle(now_ms);
        Ok(true)
    }

    /// A forced update at `now_ms`: every current task is shut down and
    /// replaced in its place, one after another; a replacement that fails
    /// pauses the update there, as the daemon's default failure action
    /// does. When tasks take a while, every place is replaced at once and
    /// the update is `updating` until they have settled.
    pub fn redeploy(&mut self, now_ms: u64) {
        self.settle(now_ms);
        self.updated(now_ms);
        self.update_task = None;
        let delayed = self.starts_after_ms > 0 || self.stops_after_ms > 0;
        for place in self.current_places() {
            self.retire(&place, TaskState::Shutdown, now_ms);
            let id = self.add_task(place.0, &place.1, now_ms);
            if delayed {
                self.update_task.get_or_insert(id);
                self.service.update_state = UpdateState::Updating;
                self.service.update_message = UPDATE_IN_PROGRESS.to_owned();
                continue;
            }
            if self.failing.is_some() {
                self.end_update(Some(&id));
                self.recount();
                return;
            }
            self.end_update(None);
        }
        self.settle(now_ms);
    }

    /// Makes the service one whose tasks fail as `failure` says, as
    /// deployed: each slot holds a task that ended `failed` and its retry.
    pub fn fail_tasks(&mut self, failure: Failure) {
        self.failing = Some(failure);
        self.service.tasks.clear();
        self.pending.clear();
        self.made = 0;
        self.fill_slots(self.service.created_ms);
        self.recount();
    }

    /// The name of a task's container: `<service>.<slot>.<task>`, or
    /// `<service>.<node>.<task>` for a global service's, as Docker names it.
    pub fn container_name(&self, task: &Task) -> String {
        let place = task
            .slot
            .map_or_else(|| task.node_id.clone(), |slot| slot.to_string());
        format!("{}.{place}.{}", self.service.name, task.id)
    }

    /// A new spec version, with the update status cleared (the manager
    /// clears it on every update; a forced one then starts its own). The
    /// manager also forgets the history of slots that lost their task to an
    /// earlier scale-down and are beyond the replica count (an update that
    /// scales up again reuses those within it, history and all).
    fn updated(&mut self, now_ms: u64) {
        let current: BTreeSet<(Option<u32>, String)> = self
            .service
            .tasks
            .iter()
            .filter(|task| is_current(task))
            .map(place)
            .collect();
        let replicas = self.service.replicas;
        self.service.tasks.retain(|task| {
            let dead = !current.contains(&place(task));
            let beyond = match (task.slot, replicas) {
                (Some(slot), Some(replicas)) => u64::from(slot) > replicas,
                _ => false,
            };
            !(dead && beyond)
        });
        self.service.version += 1;
        self.service.updated_ms = now_ms;
        self.service.update_state = UpdateState::None;
        self.service.update_message.clear();
    }

    /// The places with a current task, in order (a replicated service's
    /// slots, a global service's nodes), each with the node its current
    /// task runs on.
    fn current_places(&self) -> Vec<(Option<u32>, String)> {
        let places: std::collections::BTreeMap<(Option<u32>, String), String> = self
            .service
            .tasks
            .iter()
            .filter(|task| is_current(task))
            .map(|task| (place(task), task.node_id.clone()))
            .collect();
        places
            .into_iter()
            .map(|((slot, _), node)| (slot, node))
            .collect()
    }

    /// Creates the tasks the mode asks for in the places that lack one.
    fn fill_slots(&mut self, now_ms: u64) {
        let current = self.current_places();
        let wanted: Vec<(Option<u32>, String)> = match self.service.replicas {
            None => self.nodes.iter().map(|node| (None, node.clone())).collect(),
            Some(replicas) => {
                let missing = usize::try_from(replicas)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(current.len());
                let taken: BTreeSet<Option<u32>> = current.iter().map(|(slot, _)| *slot).collect();
                (1..=u32::MAX)
                    .filter(|slot| !taken.contains(&Some(*slot)))
                    .take(missing)
                    .map(|slot| (Some(slot), self.node_of(slot)))
                    .collect()
            }
        };
        for (slot, node) in wanted {
            let taken = current
                .iter()
                .any(|(s, n)| *s == slot && (slot.is_some() || *n == node));
            if !taken {
                self.add_task(slot, &node, now_ms);
            }
        }
    }

    /// The node slot `slot` runs on: the nodes in turn.
    fn node_of(&self, slot: u32) -> String {
        let index = usize::try_from(slot.saturating_sub(1)).unwrap_or(0) % self.nodes.len();
        self.nodes[index].clone()
    }

    /// Tells the current task of `at` (its slot and node) to reach `desired` (shutdown, or
    /// remove for a scale-down): at once, or once its stop time comes.
    fn retire(&mut self, at: &(Option<u32>, String), desired: TaskState, now_ms: u64) {
        let Some(index) = self
            .service
            .tasks
            .iter()
            .position(|task| is_current(task) && task.slot == at.0 && task.node_id == at.1)
        else {
            return;
        };
        let mut task = self.service.tasks.remove(index);
        self.pending.retain(|pending| pending.task != task.id);
        task.desired_state = desired;
        if task.state == TaskState::Running && self.stops_after_ms > 0 {
            self.pending.push(Pending {
                task: task.id.clone(),
                at_ms: now_ms + self.stops_after_ms,
                stopping: true,
            });
            self.service.tasks.insert(0, task);
            return;
        }
        if desired == TaskState::Remove {
            return;
        }
        shut_down(&mut task, now_ms);
        self.service.tasks.insert(0, task);
    }

    /// Starts a task in `slot` on `node`: running, or for a failing service
    /// a failed one and its retry; starting, when tasks take a while.
    /// Returns the ID of the task that ran.
    fn add_task(&mut self, slot: Option<u32>, node: &str, now_ms: u64) -> String {
        let mut task = self.task(slot, node, now_ms);
        let id = task.id.clone();
        task.container_id = Some(container_id(&self.container_name(&task)));
        if self.starts_after_ms > 0 {
            task.state = TaskState::Starting;
            task.message = "starting".to_owned();
            self.pending.push(Pending {
                task: id.clone(),
                at_ms: now_ms + self.starts_after_ms,
                stopping: false,
            });
            self.service.tasks.insert(0, task);
        } else {
            self.service.tasks.insert(0, task);
            self.run_or_fail(&id, now_ms);
        }
        self.trim_history(slot, node);
        id
    }

    /// The task `id` has started: it runs, or for a failing service ends
    /// `failed` and a retry waits in its place.
    fn run_or_fail(&mut self, id: &str, now_ms: u64) {
        let Some(index) = self.service.tasks.iter().position(|task| task.id == id) else {
            return;
        };
        let task = &mut self.service.tasks[index];
        task.state = TaskState::Running;
        task.message = "started".to_owned();
        task.updated_ms = now_ms;
        let Some(failure) = self.failing.clone() else {
            return;
        };
        task.desired_state = TaskState::Shutdown;
        task.state = TaskState::Failed;
        task.err = Some(failure.err);
        task.exit_code = Some(failure.exit_code);
        let (slot, node) = (task.slot, task.node_id.clone());
        let mut retry = self.task(slot, &node, now_ms);
        retry.desired_state = TaskState::Ready;
        retry.state = TaskState::Ready;
        retry.message = "prepared".to_owned();
        self.service.tasks.insert(0, retry);
    }

    /// A new running task, with no container yet.
    fn task(&mut self, slot: Option<u32>, node: &str, now_ms: u64) -> Task {
        self.made += 1;
        Task {
            id: swarm_id(&format!("task/{}/{}", self.service.id, self.made)),
            node_id: node.to_owned(),
            slot,
            desired_state: TaskState::Running,
            state: TaskState::Running,
            message: "started".to_owned(),
            err: None,
            container_id: None,
            exit_code: None,
            updated_ms: now_ms,
        }
    }

    /// Forgets the oldest tasks of a place beyond [`TASK_HISTORY`].
    fn trim_history(&mut self, slot: Option<u32>, node: &str) {
        let here = match slot {
            Some(_) => (slot, String::new()),
            None => (None, node.to_owned()),
        };
        let mut kept = 0;
        self.service.tasks.retain(|task| {
            if place(task) != here {
                return true;
            }
            kept += 1;
            kept <= TASK_HISTORY || is_current(task)
        });
    }

    /// Moves the tasks whose time has come at `now_ms`, ends an update
    /// whose tasks have all settled, and recounts.
    fn settle(&mut self, now_ms: u64) {
        let mut due: Vec<Pending> = Vec::new();
        self.pending.retain(|pending| {
            let now = pending.at_ms <= now_ms;
            if now {
                due.push(pending.clone());
            }
            !now
        });
        due.sort_by_key(|pending| pending.at_ms);
        for pending in due {
            let Some(index) = self
                .service
                .tasks
                .iter()
                .position(|task| task.id == pending.task)
            else {
                continue;
            };
            if !pending.stopping {
                self.run_or_fail(&pending.task, pending.at_ms);
            } else if self.service.tasks[index].desired_state == TaskState::Remove {
                self.service.tasks.remove(index);
            } else {
                shut_down(&mut self.service.tasks[index], pending.at_ms);
            }
        }
        if self.service.update_state == UpdateState::Updating && self.pending.is_empty() {
            let first = self.update_task.take();
            self.end_update(first.as_deref());
        }
        self.recount();
    }

    /// Ends a forced update: as the deployment says, else paused at the
    /// failed task `failed`, else completed.
    fn end_update(&mut self, failed: Option<&str>) {
        let (state, message) = match (&self.update_ends, failed) {
            (Some(ends), _) => ends.clone(),
            (None, Some(id)) if self.failing.is_some() => (
                UpdateState::Paused,
                format!("update paused due to failure or early termination of task {id}"),
            ),
            (None, _) => (UpdateState::Completed, UPDATE_COMPLETED.to_owned()),
        };
        self.service.update_state = state;
        self.service.update_message = message;
    }

    /// Recomputes the counts from the tasks, and lists them newest first.
    fn recount(&mut self) {
        let count = |keep: &dyn Fn(&Task) -> bool| {
            u32::try_from(self.service.tasks.iter().filter(|t| keep(t)).count()).unwrap_or(u32::MAX)
        };
        self.service.running_tasks = count(&|task| task.state == TaskState::Running);
        self.service.desired_tasks = match self.service.replicas {
            Some(replicas) => u32::try_from(replicas).unwrap_or(u32::MAX),
            None => count(&|task| task.desired_state == TaskState::Running),
        };
        // Stable: among equal times, the order the changes were made in.
        self.service
            .tasks
            .sort_by_key(|task| std::cmp::Reverse(task.updated_ms));
    }
}

/// Where a task runs: its slot, or for a global service's task its node.
fn place(task: &Task) -> (Option<u32>, String) {
    match task.slot {
        Some(slot) => (Some(slot), String::new()),
        None => (None, task.node_id.clone()),
    }
}

/// Whether a task is its place's current one (not shut down or removed).
fn is_current(task: &Task) -> bool {
    matches!(
        task.desired_state,
        TaskState::Running | TaskState::Ready | TaskState::Accepted
    )
}

/// A task that has stopped, cleanly.
fn shut_down(task: &mut Task, at_ms: u64) {
    if task.state == TaskState::Running {
        task.exit_code = Some(0);
    }
    task.state = TaskState::Shutdown;
    task.message = "shutdown".to_owned();
    task.updated_ms = at_ms;
}

/// The refusal to scale a global service.
pub fn global(name: &str) -> String {
    format!("service {name} is global: it runs one task per node and has no replica count to scale")
}

/// 32 bytes derived from `seed` (its SHA-256): IDs in a simulation are
/// stable from run to run, so a scenario can quote them.
fn digest(seed: &str) -> [u8; 32] {
    sha2::Sha256::digest(seed.as_bytes()).into()
}

/// The ID of the simulated swarm's node `index`; the first is the
/// simulated daemon's own.
pub fn node_id(index: u32) -> String {
    match index {
        0 => swarm_id("node/simulated"),
        _ => swarm_id(&format!("node/{index}")),
    }
}

/// An ID as Swarm writes them (25 characters of `[a-z0-9]`), derived from
/// `seed` so that a simulation gives the same IDs every run.
pub fn swarm_id(seed: &str) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    digest(seed)
        .iter()
        .take(25)
        .map(|byte| char::from(DIGITS[usize::from(*byte) % DIGITS.len()]))
        .collect()
}

/// A container ID as Docker writes them (64 hexadecimal digits), derived
/// from `seed` (a simulated task container's name).
pub fn container_id(seed: &str) -> String {
    digest(seed)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 10_000_000;

    fn web(replicas: Option<u64>) -> ServiceModel {
        ServiceModel::deploy(Deployment::new("web", replicas, NOW))
    }

    #[test]
    fn a_deployment_is_the_same_every_run_and_its_ids_look_like_dockers() {
        let service = web(Some(2)).service;
        assert_eq!(web(Some(2)).service, service);
        assert_eq!(service.version, FIRST_VERSION);
        assert_eq!(service.id.len(), 25);
        for task in &service.tasks {
            assert_eq!(task.id.len(), 25);
            assert!(
                task.id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
            );
            let container = task.container_id.as_deref().unwrap();
            assert_eq!(container.len(), 64);
            assert!(container.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(task.updated_ms, NOW);
        }
        assert_ne!(service.tasks[0].id, service.tasks[1].id);
    }

    #[test]
    fn task_containers_are_named_as_docker_names_them() {
        let model = web(Some(1));
        let task = &model.service.tasks[0];
        assert_eq!(model.container_name(task), format!("web.1.{}", task.id));
        let agent = ServiceModel::deploy(Deployment::new("agent", None, NOW));
        let task = &agent.service.tasks[0];
        assert_eq!(task.node_id, agent.nodes()[0]);
        assert_eq!(
            agent.container_name(task),
            format!("agent.{}.{}", task.node_id, task.id)
        );
        assert_eq!(
            task.container_id.as_deref(),
            Some(container_id(&agent.container_name(task)).as_str())
        );
    }

    #[test]
    fn replicas_take_the_nodes_in_turn() {
        let model = ServiceModel::deploy(Deployment {
            nodes: 2,
            ..Deployment::new("web", Some(3), NOW)
        });
        let nodes = model.nodes();
        let mut placed: Vec<(Option<u32>, &str)> = model
            .service
            .tasks
            .iter()
            .map(|t| (t.slot, t.node_id.as_str()))
            .collect();
        placed.sort();
        assert_eq!(
            placed,
            [
                (Some(1), nodes[0].as_str()),
                (Some(2), nodes[1].as_str()),
                (Some(3), nodes[0].as_str())
            ]
        );
    }

    #[test]
    fn a_service_read_from_a_daemon_is_changed_in_place() {
        let mut real = web(Some(1)).service;
        real.version = 40;
        let mut model = ServiceModel::from_service(real.clone());
        assert_eq!(model.service, real);
        model.redeploy(NOW + 1);
        assert_eq!(model.service.version, 41);
        let current: Vec<&Task> = model
            .service
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Running)
            .collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].node_id, real.tasks[0].node_id);
    }

    #[test]
    fn a_failing_tasks_error_is_the_daemons() {
        let mut model = web(Some(1));
        model.fail_tasks(Failure::exit(3));
        let failed = model
            .service
            .tasks
            .iter()
            .find(|t| t.state == TaskState::Failed)
            .unwrap();
        assert_eq!(failed.err.as_deref(), Some("task: non-zero exit (3)"));
        assert_eq!(failed.exit_code, Some(3));
    }

    #[test]
    fn an_update_can_be_told_how_it_ends() {
        let mut model = ServiceModel::deploy(Deployment {
            starts_after_ms: 10,
            update_ends: Some((UpdateState::RollbackCompleted, "rolled back".to_owned())),
            ..Deployment::new("web", Some(1), NOW)
        });
        model.redeploy(NOW + 1);
        assert_eq!(model.at(NOW + 5).update_state, UpdateState::Updating);
        let ended = model.at(NOW + 11);
        assert_eq!(
            (ended.update_state, ended.update_message.as_str()),
            (UpdateState::RollbackCompleted, "rolled back")
        );
    }
}
