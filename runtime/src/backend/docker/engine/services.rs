//! The Engine's Swarm services: reading a service and its tasks into the
//! records policies see, and the read-change-write updates behind `scale`
//! and `redeploy` (see docs/swarm.md).

use super::*;

/// How many times a service update is read and sent again after the daemon
/// refused it as out of sequence (another update landed between our read
/// and our write): enough for a handful of agents acting at once, and a
/// bound on the requests one call can make.
const UPDATE_RETRIES: usize = 5;

#[async_trait]
impl Services for Engine {
    async fn service(&self, name: &str) -> Result<Service> {
        let service = self.service_raw(name).await?;
        let id = service
            .id
            .as_deref()
            .ok_or_else(|| DockerError::Protocol(format!("inspect of service {name} has no ID")))?;
        let tasks = self.tasks_raw(name, id).await?;
        service_record(name, service, tasks)
    }

    async fn services(&self, label: Option<&str>) -> Result<Vec<ServiceSummary>> {
        let filters =
            label.map(|label| HashMap::from([("label".to_owned(), vec![label.to_owned()])]));
        let options = ListServicesOptions {
            filters,
            ..Default::default()
        };
        let rows = self
            .send(|client| {
                let options = options.clone();
                async move { client.list_services(Some(options)).await }
            })
            .await
            .map_err(|e| self.failure("", e))?;
        Ok(rows.into_iter().filter_map(service_summary).collect())
    }

    async fn scale(
        &self,
        name: &str,
        replicas: u64,
        labels: &[(String, Option<String>)],
    ) -> Result<()> {
        self.update(name, |spec| rescale(name, spec, replicas, labels))
            .await
    }

    async fn redeploy(&self, name: &str) -> Result<()> {
        self.update(name, |spec| force_update(name, spec).map(|()| true))
            .await
    }
}

impl Engine {
    /// A failed service request: there the daemon's 404 means the service
    /// named is not there (or no longer, for a task listing or an update).
    fn service_failure(&self, name: &str, error: BollardError) -> DockerError {
        match self.failure(name, error) {
            DockerError::NotFound(_) => DockerError::NoService(name.to_owned()),
            other => other,
        }
    }

    /// `GET /services/{name}`, for the service named exactly `name`.
    pub(super) async fn service_raw(&self, name: &str) -> Result<RawService> {
        let response = self
            .send(|client| async move { client.inspect_service(name, None).await })
            .await
            .map_err(|e| self.service_failure(name, e))?;
        // Docker also resolves IDs and ID prefixes here; only the exact name
        // counts.
        let found = response.spec.as_ref().and_then(|spec| spec.name.as_deref());
        if found != Some(name) {
            return Err(DockerError::NoService(name.to_owned()));
        }
        Ok(response)
    }

    /// `GET /tasks?filters={"service":[id]}`: every task the manager keeps
    /// for the service with ID `id` (named `name`, for messages).
    pub(super) async fn tasks_raw(&self, name: &str, id: &str) -> Result<Vec<RawTask>> {
        let options = ListTasksOptions {
            filters: Some(HashMap::from([("service".to_owned(), vec![id.to_owned()])])),
        };
        self.send(|client| {
            let options = options.clone();
            async move { client.list_tasks(Some(options)).await }
        })
        .await
        .map_err(|e| self.service_failure(name, e))
    }

    /// Reads service `name`, lets `change` edit its spec, and sends the
    /// edited spec as the update of the version read. `change` answers
    /// whether it changed anything; when it did not, nothing is sent. When
    /// another update landed between the read and the write, the daemon
    /// refuses ours, and it is read, changed and sent again.
    pub(super) async fn update<F>(&self, name: &str, change: F) -> Result<()>
    where
        F: Fn(&mut Value) -> Result<bool> + Send + Sync,
    {
        let mut retries = 0;
        loop {
            let path = format!("/services/{name}");
            let answer = self
                .send(|_| self.raw.get(&path))
                .await
                .map_err(|e| self.service_failure(name, e))?;
            let mut service = raw::json(&answer)?;
            // As for reads: an ID or ID prefix may have answered.
            if service.pointer("/Spec/Name").and_then(Value::as_str) != Some(name) {
                return Err(DockerError::NoService(name.to_owned()));
            }
            let missing = |what: &str| {
                DockerError::Protocol(format!("inspect of service {name} has no {what}"))
            };
            let id = service
                .get("ID")
                .and_then(Value::as_str)
                .filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric()))
                .ok_or_else(|| missing("ID"))?
                .to_owned();
            let version = service
                .pointer("/Version/Index")
                .and_then(Value::as_u64)
                .ok_or_else(|| missing("Version.Index"))?;
            let mut spec = service
                .get_mut("Spec")
                .map(Value::take)
                .ok_or_else(|| missing("Spec"))?;
            if !change(&mut spec)? {
                return Ok(());
            }
            let path = format!("/services/{id}/update?version={version}");
            match self.send(|_| self.raw.post(&path, &spec)).await {
                Ok(_) => return Ok(()),
                Err(error) => match self.service_failure(name, error) {
                    DockerError::Engine(message)
                        if out_of_sequence(&message) && retries < UPDATE_RETRIES =>
                    {
                        retries += 1;
                        tracing::debug!(
                            service = name,
                            retries,
                            "another update came first; reading the service again"
                        );
                    }
                    other => return Err(other),
                },
            }
        }
    }
}

/// Whether the daemon refused an update because another came in between
/// (swarmkit's `errSequence`). The Engine gives no code of its own for it,
/// so its text is all there is.
fn out_of_sequence(message: &str) -> bool {
    message.contains("update out of sequence")
}

/// Sets a replicated service's replica count and labels (a `None` value
/// removes the label) in its spec, read as JSON; false when both are
/// already as asked. Nothing else in the spec is touched.
pub(super) fn rescale(
    name: &str,
    spec: &mut Value,
    replicas: u64,
    labels: &[(String, Option<String>)],
) -> Result<bool> {
    let mode = spec
        .get("Mode")
        .map(|mode| serde_json::from_value::<ServiceSpecMode>(mode.clone()))
        .transpose()
        .map_err(|e| DockerError::Protocol(format!("service {name}'s Spec.Mode: {e}")))?;
    let (mode, current) = placement(name, mode.as_ref())?;
    if mode == Mode::Global {
        return Err(DockerError::Unsuitable(format!(
            "service {name} is global: it runs one task per node and has no replica count to scale"
        )));
    }
    let kept = object_at(name, spec, "Labels")?;
    sme_model::notes::check_total(name, kept.keys().map(String::as_str), labels)
        .map_err(DockerError::Unsuitable)?;
    let labelled = labels
        .iter()
        .all(|(key, value)| kept.get(key).and_then(Value::as_str) == value.as_deref());
    if current == Some(replicas) && labelled {
        return Ok(false);
    }
    for (key, value) in labels {
        match value {
            Some(value) => kept.insert(key.clone(), Value::from(value.as_str())),
            None => kept.remove(key),
        };
    }
    // `placement` found the count there.
    let count = spec
        .pointer_mut("/Mode/Replicated/Replicas")
        .ok_or_else(|| {
            DockerError::Protocol(format!(
                "service {name}'s spec has no Mode.Replicated.Replicas"
            ))
        })?;
    *count = Value::from(replicas);
    Ok(true)
}

/// Raises `TaskTemplate.ForceUpdate` by one in a spec read as JSON, which
/// makes the orchestrator replace every task (`docker service update
/// --force`).
pub(super) fn force_update(name: &str, spec: &mut Value) -> Result<()> {
    let template = object_at(name, spec, "TaskTemplate")?;
    let count = template.get("ForceUpdate").and_then(Value::as_u64);
    let raised = count.unwrap_or(0).wrapping_add(1);
    template.insert("ForceUpdate".to_owned(), Value::from(raised));
    Ok(())
}

/// The object under `key` in the JSON object `parent`, made empty when it
/// is absent or null.
fn object_at<'a>(
    name: &str,
    parent: &'a mut Value,
    key: &str,
) -> Result<&'a mut serde_json::Map<String, Value>> {
    let shapeless =
        || DockerError::Protocol(format!("service {name}'s spec has no object at {key}"));
    let entry = parent
        .as_object_mut()
        .ok_or_else(shapeless)?
        .entry(key)
        .or_insert(Value::Null);
    if entry.is_null() {
        *entry = Value::Object(serde_json::Map::new());
    }
    entry.as_object_mut().ok_or_else(shapeless)
}

/// A service's mode and, when it is replicated, its replica count.
fn placement(name: &str, mode: Option<&ServiceSpecMode>) -> Result<(Mode, Option<u64>)> {
    let missing = || DockerError::Protocol(format!("inspect of service {name} has no Spec.Mode"));
    let mode = mode.ok_or_else(missing)?;
    if let Some(replicated) = &mode.replicated {
        let replicas = replicated
            .replicas
            .and_then(|replicas| u64::try_from(replicas).ok())
            .ok_or_else(|| {
                DockerError::Protocol(format!(
                    "inspect of service {name} has no Spec.Mode.Replicated.Replicas"
                ))
            })?;
        return Ok((Mode::Replicated, Some(replicas)));
    }
    if mode.global.is_some() {
        return Ok((Mode::Global, None));
    }
    if mode.replicated_job.is_some() || mode.global_job.is_some() {
        // A job runs its tasks to completion: there is nothing to keep
        // running, stop or restart, and policies see only the two modes.
        return Err(DockerError::Unsuitable(format!(
            "service {name} is a job: SME manages replicated and global services, not jobs"
        )));
    }
    Err(missing())
}

/// The record policies see of service `name`, from its inspection and the
/// tasks the manager keeps for it.
pub(super) fn service_record(
    name: &str,
    service: RawService,
    tasks: Vec<RawTask>,
) -> Result<Service> {
    let missing =
        |what: &str| DockerError::Protocol(format!("inspect of service {name} has no {what}"));
    let spec = service.spec.ok_or_else(|| missing("Spec"))?;
    let (mode, replicas) = placement(name, spec.mode.as_ref())?;
    let mut tasks = tasks
        .into_iter()
        .map(|raw| {
            let created = raw.created_at.as_deref().and_then(unix_ms).unwrap_or(0);
            task(name, raw).map(|task| (task, created))
        })
        .collect::<Result<Vec<_>>>()?;
    // Newest first; a stable sort keeps the daemon's order among equals.
    tasks.sort_by_key(|(task, created)| std::cmp::Reverse((task.updated_ms, *created)));
    let tasks: Vec<Task> = tasks.into_iter().map(|(task, _)| task).collect();
    let count = |keep: &dyn Fn(&Task) -> bool| {
        u32::try_from(tasks.iter().filter(|task| keep(task)).count()).unwrap_or(u32::MAX)
    };
    let running_tasks = count(&|task| task.state == TaskState::Running);
    let desired_tasks = match replicas {
        Some(replicas) => u32::try_from(replicas).unwrap_or(u32::MAX),
        None => count(&|task| task.desired_state == TaskState::Running),
    };
    let update = service.update_status.unwrap_or_default();
    Ok(Service {
        id: service.id.ok_or_else(|| missing("ID"))?,
        name: name.to_owned(),
        image: spec
            .task_template
            .and_then(|template| template.container_spec)
            .and_then(|container| container.image)
            .unwrap_or_default(),
        mode,
        replicas,
        desired_tasks,
        running_tasks,
        tasks,
        update_state: update.state.map_or(UpdateState::None, update_state),
        update_message: update.message.unwrap_or_default(),
        labels: sorted_labels(spec.labels),
        version: service
            .version
            .and_then(|version| version.index)
            .ok_or_else(|| missing("Version.Index"))?,
        created_ms: service.created_at.as_deref().and_then(unix_ms).unwrap_or(0),
        updated_ms: service.updated_at.as_deref().and_then(unix_ms).unwrap_or(0),
    })
}

/// One task of service `name`, as policies see it.
fn task(name: &str, task: RawTask) -> Result<Task> {
    let missing =
        |what: &str| DockerError::Protocol(format!("a task of service {name} has no {what}"));
    let status = task.status.unwrap_or_default();
    let state = task_state(status.state.ok_or_else(|| missing("Status.State"))?);
    let desired_state = task_state(task.desired_state.ok_or_else(|| missing("DesiredState"))?);
    let container = status.container_status.unwrap_or_default();
    let container_id = container.container_id.filter(|id| !id.is_empty());
    // A task past `running` whose container ran has exited with the code
    // Docker kept; before that the code reads 0 and means nothing.
    let exited = matches!(
        state,
        TaskState::Complete
            | TaskState::Shutdown
            | TaskState::Failed
            | TaskState::Rejected
            | TaskState::Remove
            | TaskState::Orphaned
    );
    let exit_code = container
        .exit_code
        .filter(|_| exited && container_id.is_some());
    let updated = status.timestamp.or(task.updated_at);
    Ok(Task {
        id: task.id.ok_or_else(|| missing("ID"))?,
        node_id: task.node_id.unwrap_or_default(),
        // Global services' tasks have no slot (Docker sends 0 or nothing).
        slot: task
            .slot
            .filter(|&slot| slot > 0)
            .and_then(|slot| u32::try_from(slot).ok()),
        desired_state,
        state,
        message: status.message.unwrap_or_default(),
        err: status.err.filter(|err| !err.is_empty()),
        container_id,
        exit_code,
        updated_ms: updated.as_deref().and_then(unix_ms).unwrap_or(0),
    })
}

fn task_state(state: RawTaskState) -> TaskState {
    match state {
        RawTaskState::NEW => TaskState::New,
        RawTaskState::ALLOCATED => TaskState::Allocated,
        RawTaskState::PENDING => TaskState::Pending,
        RawTaskState::ASSIGNED => TaskState::Assigned,
        RawTaskState::ACCEPTED => TaskState::Accepted,
        RawTaskState::PREPARING => TaskState::Preparing,
        RawTaskState::READY => TaskState::Ready,
        RawTaskState::STARTING => TaskState::Starting,
        RawTaskState::RUNNING => TaskState::Running,
        RawTaskState::COMPLETE => TaskState::Complete,
        RawTaskState::SHUTDOWN => TaskState::Shutdown,
        RawTaskState::FAILED => TaskState::Failed,
        RawTaskState::REJECTED => TaskState::Rejected,
        RawTaskState::REMOVE => TaskState::Remove,
        RawTaskState::ORPHANED => TaskState::Orphaned,
    }
}

fn update_state(state: ServiceUpdateStatusStateEnum) -> UpdateState {
    match state {
        ServiceUpdateStatusStateEnum::EMPTY => UpdateState::None,
        ServiceUpdateStatusStateEnum::UPDATING => UpdateState::Updating,
        ServiceUpdateStatusStateEnum::PAUSED => UpdateState::Paused,
        ServiceUpdateStatusStateEnum::COMPLETED => UpdateState::Completed,
        ServiceUpdateStatusStateEnum::ROLLBACK_STARTED => UpdateState::RollbackStarted,
        ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED => UpdateState::RollbackPaused,
        ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED => UpdateState::RollbackCompleted,
    }
}

/// One row of a service listing; none for a row SME cannot show (a job,
/// a row with no name).
pub(super) fn service_summary(row: RawService) -> Option<ServiceSummary> {
    let spec = row.spec?;
    let name = spec.name?;
    let (mode, replicas) = placement(&name, spec.mode.as_ref()).ok()?;
    Some(ServiceSummary {
        id: row.id?,
        image: spec
            .task_template
            .and_then(|template| template.container_spec)
            .and_then(|container| container.image)
            .unwrap_or_default(),
        name,
        mode,
        replicas,
        labels: sorted_labels(spec.labels),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_service(mode: serde_json::Value, labels: serde_json::Value) -> RawService {
        serde_json::from_value(serde_json::json!({
            "ID": "gmx5114b9hylew9l6aztvrdd4",
            "Version": {"Index": 55},
            "CreatedAt": "1970-01-01T00:00:01Z",
            "UpdatedAt": "1970-01-01T00:00:02Z",
            "Spec": {
                "Name": "web",
                "Labels": labels,
                "TaskTemplate": {"ContainerSpec": {"Image": "busybox:latest"}, "ForceUpdate": 0},
                "Mode": mode,
                "EndpointSpec": {"Mode": "vip"}
            },
            "UpdateStatus": {"State": "updating", "Message": "update in progress"}
        }))
        .unwrap()
    }

    fn raw_task(id: &str, desired: &str, state: &str, at: &str, exit: i64) -> RawTask {
        serde_json::from_value(serde_json::json!({
            "ID": id,
            "CreatedAt": "1970-01-01T00:00:01Z",
            "UpdatedAt": "1970-01-01T00:00:09Z",
            "Slot": 1,
            "NodeID": "node",
            "Status": {
                "Timestamp": at,
                "State": state,
                "Message": "started",
                "Err": if exit == 0 { "" } else { "task: non-zero exit (1)" },
                "ContainerStatus": {"ContainerID": format!("c-{id}"), "PID": 0, "ExitCode": exit}
            },
            "DesiredState": desired
        }))
        .unwrap()
    }

    fn replicated(replicas: i64) -> serde_json::Value {
        serde_json::json!({"Replicated": {"Replicas": replicas}})
    }

    #[test]
    fn a_service_record_counts_its_tasks_newest_first() {
        let tasks = vec![
            raw_task("old", "shutdown", "failed", "1970-01-01T00:00:03Z", 1),
            raw_task("new", "running", "starting", "1970-01-01T00:00:05Z", 0),
            raw_task("going", "shutdown", "running", "1970-01-01T00:00:04Z", 0),
            raw_task("up", "running", "running", "1970-01-01T00:00:04.5Z", 0),
        ];
        let labels = serde_json::json!({"b": "2", "a": "1"});
        let service = service_record("web", raw_service(replicated(2), labels), tasks).unwrap();
        let ids: Vec<&str> = service.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["new", "up", "going", "old"]);
        assert_eq!(
            (service.mode, service.replicas),
            (Mode::Replicated, Some(2))
        );
        assert_eq!(service.desired_tasks, 2);
        assert_eq!(
            service.running_tasks, 2,
            "a running task being shut down counts"
        );
        assert_eq!(service.update_state, UpdateState::Updating);
        assert_eq!(service.update_message, "update in progress");
        assert_eq!(
            (service.version, service.created_ms, service.updated_ms),
            (55, 1000, 2000)
        );
        assert_eq!(service.image, "busybox:latest");
        assert_eq!(
            service.labels,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
        let [new, .., old] = &service.tasks[..] else {
            unreachable!()
        };
        assert_eq!(
            (new.exit_code, new.err.as_deref(), new.updated_ms),
            (None, None, 5000),
            "a task that has not exited has no exit code"
        );
        assert_eq!(
            (
                old.exit_code,
                old.err.as_deref(),
                old.container_id.as_deref()
            ),
            (Some(1), Some("task: non-zero exit (1)"), Some("c-old"))
        );
        assert_eq!((old.slot, old.node_id.as_str()), (Some(1), "node"));
        assert_eq!(
            (old.desired_state, old.state),
            (TaskState::Shutdown, TaskState::Failed)
        );
    }

    #[test]
    fn a_global_service_wants_the_tasks_it_keeps_running() {
        let tasks = vec![
            raw_task("a", "running", "running", "1970-01-01T00:00:03Z", 0),
            raw_task("b", "running", "preparing", "1970-01-01T00:00:04Z", 0),
            raw_task("c", "shutdown", "shutdown", "1970-01-01T00:00:02Z", 0),
        ];
        let mode = serde_json::json!({"Global": {}});
        let service =
            service_record("web", raw_service(mode, serde_json::json!({})), tasks).unwrap();
        assert_eq!((service.mode, service.replicas), (Mode::Global, None));
        assert_eq!((service.desired_tasks, service.running_tasks), (2, 1));
    }

    #[test]
    fn a_task_without_a_timestamp_sorts_by_its_update() {
        let mut task = raw_task("t", "running", "running", "1970-01-01T00:00:03Z", 0);
        task.status.as_mut().unwrap().timestamp = None;
        assert_eq!(self::task("web", task).unwrap().updated_ms, 9000);
    }

    #[test]
    fn a_service_never_updated_has_no_update_state() {
        let mut raw = raw_service(replicated(0), serde_json::json!({}));
        raw.update_status = None;
        let service = service_record("web", raw, Vec::new()).unwrap();
        assert_eq!(service.update_state, UpdateState::None);
        assert_eq!((service.desired_tasks, service.running_tasks), (0, 0));
        assert!(service.tasks.is_empty());
    }

    #[test]
    fn jobs_and_shapeless_modes_are_not_services_sme_manages() {
        let job = serde_json::json!({"ReplicatedJob": {"MaxConcurrent": 1}});
        let answer = service_record("web", raw_service(job, serde_json::json!({})), Vec::new());
        assert!(matches!(answer, Err(DockerError::Unsuitable(m)) if m.contains("is a job")));
        let odd = serde_json::json!({});
        let answer = service_record("web", raw_service(odd, serde_json::json!({})), Vec::new());
        assert!(matches!(answer, Err(DockerError::Protocol(m)) if m.contains("Spec.Mode")));
        let listed = service_summary(raw_service(
            serde_json::json!({"GlobalJob": {}}),
            serde_json::json!({}),
        ));
        assert_eq!(listed, None);
        let listed = service_summary(raw_service(replicated(3), serde_json::json!({}))).unwrap();
        assert_eq!(
            (listed.name.as_str(), listed.mode, listed.replicas),
            ("web", Mode::Replicated, Some(3))
        );
    }

    fn spec(mode: serde_json::Value, labels: serde_json::Value) -> Value {
        serde_json::json!({
            "Name": "web",
            "Labels": labels,
            "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}, "ForceUpdate": 0},
            "Mode": mode
        })
    }

    #[test]
    fn scaling_to_the_same_count_and_labels_changes_nothing() {
        let labels = serde_json::json!({"sme.note.replicas": "3", "keep": "x"});
        let mut spec = spec(replicated(0), labels);
        let original = spec.clone();
        let note =
            |value: Option<&str>| vec![("sme.note.replicas".to_owned(), value.map(str::to_owned))];
        assert!(!rescale("web", &mut spec, 0, &note(Some("3"))).unwrap());
        assert!(!rescale("web", &mut spec, 0, &[]).unwrap());
        assert!(!rescale("web", &mut spec, 0, &[("gone".into(), None)]).unwrap());
        assert_eq!(spec, original);
        assert!(rescale("web", &mut spec, 3, &note(None)).unwrap());
        assert_eq!(spec["Mode"]["Replicated"]["Replicas"], 3);
        assert_eq!(
            spec["Labels"],
            serde_json::json!({"keep": "x"}),
            "a None value removes the label, others stay"
        );
        assert!(rescale("web", &mut spec, 3, &note(Some("7"))).unwrap());
        assert_eq!(spec["Labels"]["sme.note.replicas"], "7");
    }

    #[test]
    fn a_ninth_note_on_a_service_is_refused_with_nothing_changed() {
        let held: serde_json::Map<String, Value> = (0..8)
            .map(|n| (format!("sme.note.n{n}"), Value::from("1")))
            .collect();
        let mut spec = spec(replicated(1), Value::Object(held));
        let before = spec.clone();
        let ninth = [("sme.note.n8".to_owned(), Some("1".to_owned()))];
        let refused = rescale("web", &mut spec, 0, &ninth).unwrap_err();
        assert!(
            refused.to_string().contains("at most 8 per service"),
            "{refused}"
        );
        assert_eq!(spec, before);
    }

    #[test]
    fn a_spec_without_labels_gets_them() {
        let mut spec = spec(replicated(1), Value::Null);
        let note = [("sme.note.replicas".to_owned(), Some("1".to_owned()))];
        assert!(rescale("web", &mut spec, 0, &note).unwrap());
        assert_eq!(
            spec["Labels"],
            serde_json::json!({"sme.note.replicas": "1"})
        );
        assert_eq!(spec["Mode"]["Replicated"]["Replicas"], 0);
    }

    #[test]
    fn a_global_service_cannot_be_scaled() {
        let mut spec = spec(serde_json::json!({"Global": {}}), serde_json::json!({}));
        assert_eq!(
            rescale("web", &mut spec, 0, &[]),
            Err(DockerError::Unsuitable(
                "service web is global: it runs one task per node and has no replica count to scale"
                    .into()
            ))
        );
    }

    #[test]
    fn a_redeploy_raises_force_update_by_one() {
        let mut spec = spec(replicated(1), serde_json::json!({}));
        force_update("web", &mut spec).unwrap();
        force_update("web", &mut spec).unwrap();
        assert_eq!(spec["TaskTemplate"]["ForceUpdate"], 2);
        let mut bare = serde_json::json!({"Name": "web"});
        force_update("web", &mut bare).unwrap();
        assert_eq!(bare["TaskTemplate"], serde_json::json!({"ForceUpdate": 1}));
        let mut odd = serde_json::json!({"TaskTemplate": 3});
        assert!(matches!(
            force_update("web", &mut odd),
            Err(DockerError::Protocol(_))
        ));
    }

    /// A service's spec as Docker 20.10 answered it for `docker service
    /// create` with most of its options.
    const RICH_SPEC: &str = r#"{
          "Name": "fixture-rich",
          "Labels": {
            "svc": "1"
          },
          "TaskTemplate": {
            "ContainerSpec": {
              "Image": "sme-busybox:latest",
              "Labels": {
                "c": "2"
              },
              "Hostname": "h1",
              "Env": [
                "A=1"
              ],
              "Dir": "/tmp",
              "User": "root",
              "Init": false,
              "Mounts": [
                {
                  "Type": "tmpfs",
                  "Target": "/cache"
                }
              ],
              "StopGracePeriod": 1000000000,
              "Healthcheck": {
                "Test": [
                  "CMD-SHELL",
                  "true"
                ],
                "Interval": 5000000000
              },
              "DNSConfig": {},
              "Isolation": "default"
            },
            "Resources": {
              "Limits": {
                "MemoryBytes": 67108864
              },
              "Reservations": {
                "NanoCPUs": 100000000
              }
            },
            "RestartPolicy": {
              "Condition": "on-failure",
              "Delay": 5000000000,
              "MaxAttempts": 3
            },
            "Placement": {
              "Constraints": [
                "node.role==manager"
              ]
            },
            "LogDriver": {
              "Name": "json-file",
              "Options": {
                "max-size": "1m"
              }
            },
            "ForceUpdate": 0,
            "Runtime": "container"
          },
          "Mode": {
            "Replicated": {
              "Replicas": 1
            }
          },
          "UpdateConfig": {
            "Parallelism": 2,
            "Delay": 1000000000,
            "FailureAction": "rollback",
            "Monitor": 5000000000,
            "MaxFailureRatio": 0,
            "Order": "start-first"
          },
          "RollbackConfig": {
            "Parallelism": 1,
            "FailureAction": "pause",
            "Monitor": 5000000000,
            "MaxFailureRatio": 0,
            "Order": "stop-first"
          },
          "EndpointSpec": {
            "Mode": "vip",
            "Ports": [
              {
                "Protocol": "tcp",
                "TargetPort": 80,
                "PublishedPort": 18080,
                "PublishMode": "ingress"
              }
            ]
          }
        }"#;

    #[test]
    fn an_update_sends_back_every_part_of_the_spec_it_read() {
        let read: Value = serde_json::from_str(RICH_SPEC).unwrap();
        let mut scaled = read.clone();
        let note = [("sme.note.replicas".to_owned(), Some("1".to_owned()))];
        assert!(rescale("fixture-rich", &mut scaled, 0, &note).unwrap());
        let mut expected = read.clone();
        expected["Mode"]["Replicated"]["Replicas"] = 0.into();
        expected["Labels"]["sme.note.replicas"] = "1".into();
        assert_eq!(scaled, expected);
        let mut forced = read.clone();
        force_update("fixture-rich", &mut forced).unwrap();
        expected = read.clone();
        expected["TaskTemplate"]["ForceUpdate"] = 1.into();
        assert_eq!(forced, expected);
        // What bollard's typed spec would have sent back lacks the health
        // check, which is why updates keep the spec as JSON.
        let typed: bollard::models::ServiceSpec = serde_json::from_value(read.clone()).unwrap();
        let typed = serde_json::to_value(typed).unwrap();
        assert!(
            read.pointer("/TaskTemplate/ContainerSpec/Healthcheck")
                .is_some()
        );
        assert!(
            typed
                .pointer("/TaskTemplate/ContainerSpec/Healthcheck")
                .is_none()
        );
    }

    #[test]
    fn a_service_404_means_no_such_service() {
        let engine = Engine::connect("tcp://127.0.0.1:1").unwrap();
        let answer = |status_code, message: &str| {
            engine.service_failure(
                "web",
                BollardError::DockerResponseServerError {
                    status_code,
                    message: message.to_owned(),
                },
            )
        };
        let missing = answer(404, "service web not found");
        assert_eq!(missing, DockerError::NoService("web".into()));
        assert_eq!(missing.to_string(), "service web not found");
        let stale = answer(
            500,
            "rpc error: code = Unknown desc = update out of sequence",
        );
        assert!(matches!(&stale, DockerError::Engine(m) if out_of_sequence(m)));
        assert!(!out_of_sequence("This node is not a swarm manager."));
    }
}
