//! How service calls change a Swarm service, as a swarm manager changes it.
//!
//! One state machine for every engine that pretends, as [`super::lifecycle`]
//! is for containers: [`super::Simulated`] applies it to services held in
//! memory, [`super::DryRun`] on top of a real inspection. Measured against a
//! single-node swarm of Docker 20.10, as the state settles (the manager
//! needs a second or so; the simulation takes none):
//!
//! - every update bumps the version and clears the update status;
//! - scaling up creates a running task in each lowest free slot; scaling
//!   down removes the current tasks of the highest slots (the manager marks
//!   them `remove` and deletes them once stopped);
//! - a slot keeps its earlier tasks in its history, five at most (Docker's
//!   default retention); a slot that lost its task to a scale-down keeps
//!   them until the next update forgets them;
//! - a forced update shuts every current task down (`shutdown`, kept in the
//!   history) and starts a new one in its slot, then reports `completed`,
//!   or nothing at all when the service has no task to update;
//! - a failing service's tasks end `failed` with the daemon's error, a
//!   retry waiting (`ready`) in each slot, so it never has a running task,
//!   and a forced update of it is `paused` at its first failed task.

use std::collections::BTreeSet;

use sha2::Digest as _;

use crate::backend::docker::{DockerError, Result};
use crate::contract::{Mode, Service, ServiceSummary, Task, TaskState, UpdateState};

/// The daemon's answer to a service request on a node that is no swarm
/// manager (HTTP 503), word for word.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \
                                 \"docker swarm join\" to connect this node to swarm and try again.";

/// Tasks a slot keeps, its current one included: Docker's default
/// `TaskHistoryRetentionLimit`.
pub const TASK_HISTORY: usize = 5;

/// The version a simulated service starts at when the scenario names none:
/// what a fresh swarm's first service reads.
pub const FIRST_VERSION: u64 = 11;

/// The message of a completed update.
const UPDATE_COMPLETED: &str = "update completed";

/// The label the daemon puts on every task container, naming its service.
pub const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";
/// The label naming the task container's service by name.
pub const SERVICE_NAME_LABEL: &str = "com.docker.swarm.service.name";
/// The label naming the task container's task.
pub const TASK_ID_LABEL: &str = "com.docker.swarm.task.id";

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

/// One service of the simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceModel {
    /// What `inspect` answers: the counts are kept up to date with the tasks.
    pub service: Service,
    /// How its tasks fail, when they do.
    pub failing: Option<Failure>,
    /// Tasks made so far: the next task's ID is derived from it.
    made: u64,
}

impl ServiceModel {
    /// A healthy service deployed an hour before `now_ms`, with `replicas`
    /// running tasks (none: a global service, one task on the one node).
    /// Its ID, like its tasks', is derived from its name, so that a scenario
    /// answers the same on every run.
    pub fn new(name: &str, replicas: Option<u64>, now_ms: u64) -> ServiceModel {
        let hour = 3_600_000;
        let then = now_ms.saturating_sub(hour);
        let mut sim = ServiceModel {
            service: Service {
                id: swarm_id(&format!("service/{name}")),
                name: name.to_owned(),
                image: "scenario".to_owned(),
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
                labels: Vec::new(),
                version: FIRST_VERSION,
                created_ms: then,
                updated_ms: then,
            },
            failing: None,
            made: 0,
        };
        sim.fill_slots(then);
        sim.settle();
        sim
    }

    /// A service as a real daemon reported it, to simulate calls on top of.
    pub fn from_service(service: Service) -> ServiceModel {
        let mut sim = ServiceModel {
            service,
            failing: None,
            made: 0,
        };
        sim.settle();
        sim
    }

    /// Makes the service one whose tasks fail as `failure` says, as
    /// deployed: each slot holds a task that ended `failed` and its retry.
    pub fn fail_tasks(&mut self, failure: Failure) {
        self.failing = Some(failure);
        self.service.tasks.clear();
        self.made = 0;
        self.fill_slots(self.service.created_ms);
        self.settle();
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.service.name
    }

    /// Its row in a listing.
    pub fn summary(&self) -> ServiceSummary {
        let s = &self.service;
        ServiceSummary {
            id: s.id.clone(),
            name: s.name.clone(),
            image: s.image.clone(),
            mode: s.mode,
            replicas: s.replicas,
            labels: s.labels.clone(),
        }
    }

    /// Sets the replica count and labels (a `None` value removes the label)
    /// in one update. A global service is refused; asking for what already
    /// is changes nothing (the engine sends nothing). `Ok(true)` when the
    /// service was updated.
    pub fn scale(
        &mut self,
        replicas: u64,
        labels: &[(String, Option<String>)],
        now_ms: u64,
    ) -> Result<bool> {
        if self.service.mode == Mode::Global {
            return Err(global(&self.service.name));
        }
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
        // The highest slots go; their earlier tasks stay, in a slot now
        // dead, until the next update.
        let wanted = usize::try_from(replicas).unwrap_or(usize::MAX);
        let current = self.current_slots();
        for &slot in current.iter().skip(wanted) {
            self.service
                .tasks
                .retain(|task| !(is_current(task) && task.slot == slot));
        }
        self.fill_slots(now_ms);
        self.settle();
        Ok(true)
    }

    /// A forced update: every current task is shut down and replaced in
    /// its slot, one slot after another; a replacement that fails pauses
    /// the update there, as the daemon's default failure action does.
    pub fn redeploy(&mut self, now_ms: u64) {
        self.updated(now_ms);
        for slot in self.current_slots() {
            self.retire(slot, now_ms);
            let id = self.add_task(slot, now_ms);
            if self.failing.is_some() {
                self.service.update_state = UpdateState::Paused;
                self.service.update_message =
                    format!("update paused due to failure or early termination of task {id}");
                self.settle();
                return;
            }
            self.service.update_state = UpdateState::Completed;
            self.service.update_message = UPDATE_COMPLETED.to_owned();
        }
        self.settle();
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
        let current = self.current_slots();
        let replicas = self.service.replicas;
        self.service.tasks.retain(|task| {
            let dead = !current.contains(&task.slot);
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

    /// The slots with a current task, in order; a global service's one
    /// "slot" is its node (`None`).
    fn current_slots(&self) -> Vec<Option<u32>> {
        let slots: BTreeSet<Option<u32>> = self
            .service
            .tasks
            .iter()
            .filter(|task| is_current(task))
            .map(|task| task.slot)
            .collect();
        slots.into_iter().collect()
    }

    /// Creates the tasks the mode asks for in the slots that lack one.
    fn fill_slots(&mut self, now_ms: u64) {
        let current = self.current_slots();
        let wanted: Vec<Option<u32>> = match self.service.replicas {
            None => vec![None],
            Some(replicas) => {
                let missing = usize::try_from(replicas)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(current.len());
                (1..=u32::MAX)
                    .map(Some)
                    .filter(|slot| !current.contains(slot))
                    .take(missing)
                    .collect()
            }
        };
        for slot in wanted {
            if !current.contains(&slot) {
                self.add_task(slot, now_ms);
            }
        }
    }

    /// Shuts the current task of `slot` down.
    fn retire(&mut self, slot: Option<u32>, now_ms: u64) {
        let Some(index) = self
            .service
            .tasks
            .iter()
            .position(|task| is_current(task) && task.slot == slot)
        else {
            return;
        };
        let mut task = self.service.tasks.remove(index);
        task.desired_state = TaskState::Shutdown;
        if task.state == TaskState::Running {
            task.exit_code = Some(0);
        }
        task.state = TaskState::Shutdown;
        task.message = "shutdown".to_owned();
        task.updated_ms = now_ms;
        self.service.tasks.insert(0, task);
    }

    /// Starts a task in `slot`: running, or for a failing service a failed
    /// one and its retry. Returns the ID of the task that ran.
    fn add_task(&mut self, slot: Option<u32>, now_ms: u64) -> String {
        let mut task = self.task(slot, now_ms);
        let id = task.id.clone();
        task.container_id = Some(container_id(&self.container_name(&task)));
        match self.failing.clone() {
            None => self.service.tasks.insert(0, task),
            Some(failure) => {
                task.desired_state = TaskState::Shutdown;
                task.state = TaskState::Failed;
                task.err = Some(failure.err);
                task.exit_code = Some(failure.exit_code);
                self.service.tasks.insert(0, task);
                let mut retry = self.task(slot, now_ms);
                retry.desired_state = TaskState::Ready;
                retry.state = TaskState::Ready;
                retry.message = "prepared".to_owned();
                self.service.tasks.insert(0, retry);
            }
        }
        self.trim_history(slot);
        id
    }

    /// A new running task, with no container yet.
    fn task(&mut self, slot: Option<u32>, now_ms: u64) -> Task {
        self.made += 1;
        Task {
            id: swarm_id(&format!("task/{}/{}", self.service.id, self.made)),
            node_id: node_id(),
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

    /// Forgets the oldest tasks of `slot` beyond [`TASK_HISTORY`].
    fn trim_history(&mut self, slot: Option<u32>) {
        let mut kept = 0;
        self.service.tasks.retain(|task| {
            if task.slot != slot {
                return true;
            }
            kept += 1;
            kept <= TASK_HISTORY || is_current(task)
        });
    }

    /// Recomputes the counts from the tasks, which are kept newest first.
    fn settle(&mut self) {
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

/// Whether a task is its slot's current one (not shut down or removed).
fn is_current(task: &Task) -> bool {
    matches!(
        task.desired_state,
        TaskState::Running | TaskState::Ready | TaskState::Accepted
    )
}

/// The refusal to scale a global service.
pub fn global(name: &str) -> DockerError {
    DockerError::Unsuitable(format!(
        "service {name} is global: it runs one task per node and has no replica count to scale"
    ))
}

/// The simulated node's ID.
pub fn node_id() -> String {
    swarm_id("node/simulated")
}

/// An ID as Swarm writes them (25 characters of `[a-z0-9]`), derived from
/// `seed` so that a scenario gives the same IDs every run.
fn swarm_id(seed: &str) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    sha2::Sha256::digest(seed.as_bytes())
        .iter()
        .take(25)
        .map(|byte| char::from(DIGITS[usize::from(*byte) % DIGITS.len()]))
        .collect()
}

/// The ID of the container named `name`, as the simulation gives it (see
/// [`super::SimContainer::new`]).
pub fn container_id(name: &str) -> String {
    hex::encode(sha2::Sha256::digest(name.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 10_000_000;

    fn states(sim: &ServiceModel) -> Vec<(Option<u32>, TaskState, TaskState)> {
        sim.service
            .tasks
            .iter()
            .map(|t| (t.slot, t.desired_state, t.state))
            .collect()
    }

    #[test]
    fn a_new_service_runs_its_replicas_and_a_global_one_task() {
        let web = ServiceModel::new("web", Some(2), NOW);
        assert_eq!(
            (web.service.desired_tasks, web.service.running_tasks),
            (2, 2)
        );
        assert_eq!(web.service.version, FIRST_VERSION);
        assert_eq!(web.service.update_state, UpdateState::None);
        let mut slots: Vec<_> = web.service.tasks.iter().map(|t| t.slot).collect();
        slots.sort();
        assert_eq!(slots, [Some(1), Some(2)]);
        assert!(
            web.service
                .tasks
                .iter()
                .all(|t| t.id.len() == 25 && t.exit_code.is_none() && t.container_id.is_some())
        );
        let agent = ServiceModel::new("agent", None, NOW);
        assert_eq!(agent.service.mode, Mode::Global);
        assert_eq!(
            states(&agent),
            [(None, TaskState::Running, TaskState::Running)]
        );
        assert_eq!(agent.service.desired_tasks, 1);
        assert_eq!(
            ServiceModel::new("web", Some(2), NOW),
            web,
            "the same every run"
        );
    }

    #[test]
    fn scaling_down_removes_the_highest_slots_and_up_fills_the_lowest() {
        let mut web = ServiceModel::new("web", Some(3), NOW);
        assert_eq!(web.scale(1, &[], NOW + 1), Ok(true));
        assert_eq!(
            states(&web),
            [(Some(1), TaskState::Running, TaskState::Running)]
        );
        assert_eq!(web.service.version, FIRST_VERSION + 1);
        assert_eq!(web.service.updated_ms, NOW + 1);
        assert_eq!(web.scale(0, &[], NOW + 2), Ok(true));
        assert!(web.service.tasks.is_empty());
        assert_eq!(
            (web.service.desired_tasks, web.service.running_tasks),
            (0, 0)
        );
        assert_eq!(web.scale(2, &[], NOW + 3), Ok(true));
        let mut slots: Vec<_> = web.service.tasks.iter().map(|t| t.slot).collect();
        slots.sort();
        assert_eq!(slots, [Some(1), Some(2)]);
        assert!(web.service.tasks.iter().all(|t| t.updated_ms == NOW + 3));
        assert_eq!(web.service.running_tasks, 2);
    }

    #[test]
    fn scaling_to_what_is_changes_nothing_and_a_global_service_is_unsuitable() {
        let mut web = ServiceModel::new("web", Some(1), NOW);
        let before = web.clone();
        assert_eq!(web.scale(1, &[], NOW), Ok(false));
        assert_eq!(web.scale(1, &[("k".into(), None)], NOW), Ok(false));
        assert_eq!(web, before);
        let mut agent = ServiceModel::new("agent", None, NOW);
        assert_eq!(
            agent.scale(1, &[], NOW),
            Err(DockerError::Unsuitable(
                "service agent is global: it runs one task per node and has no replica count \
                 to scale"
                    .into()
            ))
        );
    }

    #[test]
    fn labels_are_set_and_removed_in_the_same_update() {
        let mut web = ServiceModel::new("web", Some(1), NOW);
        web.service.labels = vec![("tier".into(), "db".into())];
        let notes = [("sme.note.replicas".to_owned(), Some("1".to_owned()))];
        assert_eq!(web.scale(0, &notes, NOW), Ok(true));
        assert_eq!(
            web.service.labels,
            [
                ("sme.note.replicas".to_owned(), "1".to_owned()),
                ("tier".to_owned(), "db".to_owned())
            ]
        );
        // The same labels and count again: nothing to send.
        assert_eq!(web.scale(0, &notes, NOW), Ok(false));
        let version = web.service.version;
        let removed = [("sme.note.replicas".to_owned(), None)];
        assert_eq!(web.scale(0, &removed, NOW), Ok(true));
        assert_eq!(web.service.labels, [("tier".to_owned(), "db".to_owned())]);
        assert_eq!(web.service.version, version + 1);
    }

    #[test]
    fn a_redeploy_replaces_every_task_and_completes() {
        let mut web = ServiceModel::new("web", Some(2), NOW);
        let old: Vec<String> = web.service.tasks.iter().map(|t| t.id.clone()).collect();
        web.redeploy(NOW + 5);
        let s = &web.service;
        assert_eq!(s.version, FIRST_VERSION + 1);
        assert_eq!(
            (s.update_state, s.update_message.as_str()),
            (UpdateState::Completed, "update completed")
        );
        assert_eq!((s.running_tasks, s.desired_tasks, s.tasks.len()), (2, 2, 4));
        // Newest first: slot 2's new task and its predecessor, then slot 1's.
        assert_eq!(
            states(&web),
            [
                (Some(2), TaskState::Running, TaskState::Running),
                (Some(2), TaskState::Shutdown, TaskState::Shutdown),
                (Some(1), TaskState::Running, TaskState::Running),
                (Some(1), TaskState::Shutdown, TaskState::Shutdown),
            ]
        );
        for task in &web.service.tasks {
            let was_there = old.contains(&task.id);
            assert_eq!(was_there, task.state == TaskState::Shutdown, "{task:?}");
            assert_eq!(task.exit_code, was_there.then_some(0));
        }
        // Any later update clears the update status.
        web.scale(1, &[], NOW + 6).unwrap();
        assert_eq!(web.service.update_state, UpdateState::None);
        assert_eq!(web.service.update_message, "");
        // Slot 2's task went; its history stays until the next update.
        assert_eq!(
            states(&web),
            [
                (Some(2), TaskState::Shutdown, TaskState::Shutdown),
                (Some(1), TaskState::Running, TaskState::Running),
                (Some(1), TaskState::Shutdown, TaskState::Shutdown),
            ]
        );
        web.scale(1, &[("k".into(), Some("v".into()))], NOW + 7)
            .unwrap();
        assert_eq!(
            states(&web),
            [
                (Some(1), TaskState::Running, TaskState::Running),
                (Some(1), TaskState::Shutdown, TaskState::Shutdown),
            ]
        );
        // Scaling up again reuses a dead slot, history and all.
        web.scale(0, &[], NOW + 8).unwrap();
        web.scale(1, &[], NOW + 9).unwrap();
        assert_eq!(
            states(&web),
            [
                (Some(1), TaskState::Running, TaskState::Running),
                (Some(1), TaskState::Shutdown, TaskState::Shutdown),
            ]
        );
    }

    #[test]
    fn a_redeploy_of_nothing_reports_no_update() {
        let mut idle = ServiceModel::new("idle", Some(0), NOW);
        idle.redeploy(NOW);
        assert_eq!(idle.service.update_state, UpdateState::None);
        assert_eq!(idle.service.version, FIRST_VERSION + 1);
        assert!(idle.service.tasks.is_empty());
    }

    #[test]
    fn a_failing_service_never_runs_and_its_redeploy_pauses() {
        let mut bad = ServiceModel::new("bad", Some(2), NOW);
        bad.fail_tasks(Failure::exit(3));
        let s = &bad.service;
        assert_eq!((s.running_tasks, s.desired_tasks), (0, 2));
        let failed: Vec<&Task> = s
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Failed)
            .collect();
        assert_eq!(failed.len(), 2);
        for task in failed {
            assert_eq!(task.err.as_deref(), Some("task: non-zero exit (3)"));
            assert_eq!(task.exit_code, Some(3));
            assert_eq!(task.desired_state, TaskState::Shutdown);
        }
        assert_eq!(
            s.tasks
                .iter()
                .filter(|t| t.state == TaskState::Ready)
                .count(),
            2,
            "a retry waits in each slot"
        );
        bad.redeploy(NOW + 1);
        assert_eq!(bad.service.update_state, UpdateState::Paused);
        let newest_failed = bad
            .service
            .tasks
            .iter()
            .find(|t| t.state == TaskState::Failed)
            .unwrap();
        assert_eq!(
            bad.service.update_message,
            format!(
                "update paused due to failure or early termination of task {}",
                newest_failed.id
            )
        );
        assert_eq!(bad.service.running_tasks, 0);
        // Scaling down removes the retries; the failed tasks stay, as the
        // daemon keeps them, until the next update.
        bad.scale(0, &[], NOW + 2).unwrap();
        assert!(
            bad.service
                .tasks
                .iter()
                .all(|t| t.state == TaskState::Failed || t.state == TaskState::Shutdown)
        );
        assert_eq!(bad.service.desired_tasks, 0);
        bad.redeploy(NOW + 3);
        assert!(bad.service.tasks.is_empty());
    }

    #[test]
    fn a_global_failing_service_wants_no_task_running() {
        let mut agent = ServiceModel::new("agent", None, NOW);
        agent.fail_tasks(Failure::exit(1));
        assert_eq!(
            (agent.service.desired_tasks, agent.service.running_tasks),
            (0, 0)
        );
    }

    #[test]
    fn a_slot_keeps_five_tasks() {
        let mut web = ServiceModel::new("web", Some(1), NOW);
        for step in 1..=7 {
            web.redeploy(NOW + step);
        }
        assert_eq!(web.service.tasks.len(), TASK_HISTORY);
        assert_eq!(web.service.tasks[0].state, TaskState::Running);
        assert_eq!(web.service.tasks[0].updated_ms, NOW + 7);
    }

    #[test]
    fn task_containers_are_named_as_docker_names_them() {
        let web = ServiceModel::new("web", Some(1), NOW);
        let task = &web.service.tasks[0];
        assert_eq!(web.container_name(task), format!("web.1.{}", task.id));
        let agent = ServiceModel::new("agent", None, NOW);
        let task = &agent.service.tasks[0];
        assert_eq!(
            agent.container_name(task),
            format!("agent.{}.{}", node_id(), task.id)
        );
        assert_eq!(
            task.container_id.as_deref(),
            Some(container_id(&agent.container_name(task)).as_str())
        );
    }
}
