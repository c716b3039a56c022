//! A Docker that reads for real but only records what it would change.
//!
//! `smectl run --dry-run` runs a policy against the real daemon through this
//! wrapper: inspections, listings and stats go to the daemon; start, stop,
//! restart, pause and unpause, and a Swarm service's scale and redeploy, are
//! recorded and reported as done. Later inspections and listings see the
//! state the recorded calls would have left (for a container: status,
//! `State.Running`, exit code, `StartedAt`, `FinishedAt`; for a service: its
//! replicas, labels, version, update status and tasks, as the swarm manager
//! would leave them once settled), and a call the daemon would refuse in
//! that state is refused with the daemon's own message, so a policy that
//! checks its own work behaves as it would for real.
//!
//! systemd units go the same way: their state is read from systemd, a
//! start, stop, restart or kill is recorded and applied to a model of the
//! unit seeded from what systemd reported (`sme_model::units`), and later
//! reads of that unit see the model.
//!
//! This is a preview, not a sandbox: the module runs unchanged and can still
//! behave differently for real (it may read the clock, or a process may take
//! longer to stop or exit with another code than the simulation assumes; a
//! service's new tasks are assumed to start, and take no time to).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use sme_model::lifecycle::{Holds, Lifecycle, is_up};
use sme_model::names::label_matches;

use sme_model::units::{Behaviour, Refusal, UnitModel};

use super::{ServiceModel, now_ms};
use crate::backend::docker::call::send;
use crate::backend::docker::{Call, DockerError, Relay, Reply, Result};
use crate::backend::systemd::call::{UnitCall, UnitRelay, UnitReply};
use crate::backend::systemd::{self, Job, SystemdError, Unit};
use crate::backend::{Backends, Kind};
use crate::contract::{Container, Service, ServiceSummary, Summary};
use crate::sandbox::grants::Verb;

/// A mutating call that was recorded instead of performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// What would have been done.
    pub verb: Verb,
    /// To what kind of object.
    pub kind: Kind,
    /// To which container, service or unit.
    pub target: String,
    /// The stop or restart timeout, if one was given.
    pub timeout_seconds: Option<u32>,
    /// For `scale`: what it would have set.
    pub scale: Option<Scaled>,
}

/// What a recorded `scale` would have set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaled {
    /// The replica count.
    pub replicas: u64,
    /// The labels (a `None` value removes the label).
    pub labels: Vec<(String, Option<String>)>,
}

/// The dry-run wrapper around real engines.
#[derive(Debug)]
pub struct DryRun {
    inner: Backends,
    state: Mutex<Simulation>,
}

#[derive(Debug, Default)]
struct Simulation {
    recorded: Vec<Recorded>,
    /// What the recorded calls would have left, by container name.
    lifecycle: HashMap<String, Lifecycle>,
    /// What the recorded calls would have left, by service name.
    services: HashMap<String, ServiceModel>,
    /// What the recorded calls would have left, by unit name, with the
    /// main PID systemd reported.
    units: HashMap<String, (UnitModel, u32)>,
}

impl DryRun {
    /// These engines, with this dry run in front of each.
    pub fn backends(self: &std::sync::Arc<Self>) -> Backends {
        Backends::of(self.clone()).with_units(self.clone())
    }

    /// Wraps `inner`.
    pub fn new(inner: Backends) -> DryRun {
        DryRun {
            inner,
            state: Mutex::new(Simulation::default()),
        }
    }

    /// The calls recorded so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state().recorded.clone()
    }

    fn state(&self) -> MutexGuard<'_, Simulation> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn record(&self, verb: Verb, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        // The call would fail on a missing container, or in a state the
        // daemon refuses it in; so does its dry run, and nothing is recorded.
        let container = self.inspect_seen(name).await?;
        let op = verb
            .op()
            .ok_or_else(|| DockerError::Protocol(format!("{verb} changes no container")))?;
        let after = container
            .lifecycle()
            .after(op, &container.id, now_ms())
            .map_err(DockerError::Engine)?;
        let mut state = self.state();
        state.lifecycle.insert(name.to_owned(), after);
        state.recorded.push(Recorded {
            verb,
            kind: Kind::Container,
            target: name.to_owned(),
            timeout_seconds,
            scale: None,
        });
        Ok(())
    }

    /// The service `name` as the recorded calls would have left it, to
    /// change: read from the daemon (which must still find it) the first
    /// time.
    async fn model(&self, name: &str) -> Result<ServiceModel> {
        let service = self.inner.services.service(name).await?;
        Ok(self
            .state()
            .services
            .get(name)
            .cloned()
            .unwrap_or_else(|| ServiceModel::from_service(service.into())))
    }
}

/// What the dry run answers itself: reads as the recorded changes would
/// leave them, and the changes, recorded.
impl DryRun {
    async fn inspect_seen(&self, name: &str) -> Result<Container> {
        let mut container = self.inner.containers.inspect(name).await?;
        if let Some(lifecycle) = self.state().lifecycle.get(name) {
            container.set_lifecycle(*lifecycle);
        }
        Ok(container)
    }

    async fn list_seen(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        let simulated = self.state().lifecycle.clone();
        if simulated.is_empty() {
            return self.inner.containers.list(label, all).await;
        }
        // A simulated start can bring a stopped container into a listing of
        // running ones, so ask for every container and filter here as the
        // daemon would: without `all`, only containers that are up.
        let mut rows = self.inner.containers.list(label, true).await?;
        for row in &mut rows {
            if let Some(lifecycle) = simulated.get(&row.name) {
                row.status = lifecycle.status.into();
            }
        }
        if !all {
            rows.retain(|row| is_up(row.status.into()));
        }
        Ok(rows)
    }

    async fn service_seen(&self, name: &str) -> Result<Service> {
        let real = self.inner.services.service(name).await?;
        Ok(match self.state().services.get(name) {
            Some(model) => model.service.clone().into(),
            None => real,
        })
    }

    async fn services_seen(&self, label: Option<&str>) -> Result<Vec<ServiceSummary>> {
        let simulated = self.state().services.clone();
        if simulated.is_empty() {
            return self.inner.services.services(label).await;
        }
        // A recorded scale can change a service's labels, so ask for every
        // service and filter here as the daemon would.
        let mut rows = self.inner.services.services(None).await?;
        for row in &mut rows {
            if let Some(model) = simulated.get(&row.name) {
                *row = model.summary().into();
            }
        }
        rows.retain(|row| label.is_none_or(|selector| label_matches(&row.labels, selector)));
        Ok(rows)
    }

    async fn scale_seen(
        &self,
        name: &str,
        replicas: u64,
        labels: &[(String, Option<String>)],
    ) -> Result<()> {
        let mut model = self.model(name).await?;
        // Refused as the engine refuses it; what is already so sends nothing.
        let updated = model
            .scale(replicas, labels, now_ms())
            .map_err(DockerError::Unsuitable)?;
        if !updated {
            return Ok(());
        }
        let mut state = self.state();
        state.services.insert(name.to_owned(), model);
        state.recorded.push(Recorded {
            verb: Verb::Scale,
            kind: Kind::Service,
            target: name.to_owned(),
            timeout_seconds: None,
            scale: Some(Scaled {
                replicas,
                labels: labels.to_vec(),
            }),
        });
        Ok(())
    }

    async fn redeploy_seen(&self, name: &str) -> Result<()> {
        let mut model = self.model(name).await?;
        model.redeploy(now_ms());
        let mut state = self.state();
        state.services.insert(name.to_owned(), model);
        state.recorded.push(Recorded {
            verb: Verb::Redeploy,
            kind: Kind::Service,
            target: name.to_owned(),
            timeout_seconds: None,
            scale: None,
        });
        Ok(())
    }
}

#[async_trait]
impl Relay for DryRun {
    async fn relay(&self, call: Call) -> Result<Reply> {
        let done = |()| Reply::Done;
        match call {
            Call::Inspect { name } => self.inspect_seen(&name).await.map(Reply::Container),
            Call::List { label, all } => self
                .list_seen(label.as_deref(), all)
                .await
                .map(Reply::Summaries),
            Call::Start { name } => self.record(Verb::Start, &name, None).await.map(done),
            Call::Stop {
                name,
                timeout_seconds,
            } => self
                .record(Verb::Stop, &name, timeout_seconds)
                .await
                .map(done),
            Call::Restart {
                name,
                timeout_seconds,
            } => self
                .record(Verb::Restart, &name, timeout_seconds)
                .await
                .map(done),
            Call::Pause { name } => self.record(Verb::Pause, &name, None).await.map(done),
            Call::Unpause { name } => self.record(Verb::Unpause, &name, None).await.map(done),
            Call::Service { name } => self.service_seen(&name).await.map(Reply::Service),
            Call::Services { label } => self
                .services_seen(label.as_deref())
                .await
                .map(Reply::Services),
            Call::Scale {
                name,
                replicas,
                labels,
            } => self.scale_seen(&name, replicas, &labels).await.map(done),
            Call::Redeploy { name } => self.redeploy_seen(&name).await.map(done),
            // Reads a dry run changes nothing in: the daemon's own answer.
            Call::StopTimeout { .. }
            | Call::OneShot { .. }
            | Call::Measure { .. }
            | Call::Counters { .. } => send(&self.inner, call).await,
        }
    }
}

/// A unit as systemd reported it, as a model to change: a unit that
/// runs, masked when systemd says so; active if it is, failed (by a start
/// that failed) if it is.
fn unit_model(unit: &Unit) -> UnitModel {
    let failed = unit.active_state == "failed";
    let behaviour = if failed {
        Behaviour::Fails
    } else {
        Behaviour::Runs
    };
    let mut model = UnitModel::new(&unit.name, behaviour, unit.load_state == "masked");
    let started = matches!(
        unit.active_state.as_str(),
        "active" | "reloading" | "activating" | "failed"
    );
    if started {
        let _ = model.start();
    }
    model
}

/// A unit as the recorded calls would have left it.
fn unit_seen(mut unit: Unit, model: &UnitModel, main_pid: u32) -> Unit {
    let state = model.state();
    unit.load_state = state.load_state.to_owned();
    unit.active_state = state.active_state.to_owned();
    unit.sub_state = state.sub_state.to_owned();
    unit.result = state.result.to_owned();
    unit.main_pid = if state.running { main_pid.max(1) } else { 0 };
    unit
}

impl DryRun {
    async fn unit_seen(&self, name: &str) -> systemd::Result<Unit> {
        let unit = self.inner.units.unit(name).await?;
        Ok(match self.state().units.get(name) {
            Some((model, pid)) => unit_seen(unit, model, *pid),
            None => unit,
        })
    }

    /// Records a change of unit `name` by `change` instead of making it;
    /// a unit systemd cannot find, or one it would refuse, fails as it would.
    async fn record_unit(
        &self,
        verb: Verb,
        name: &str,
        kill_after_ms: Option<u64>,
        change: impl FnOnce(&mut UnitModel) -> Result<&'static str, Refusal>,
    ) -> systemd::Result<Job> {
        let unit = self.inner.units.unit(name).await?;
        let mut state = self.state();
        let (model, pid) = state
            .units
            .entry(name.to_owned())
            .or_insert_with(|| (unit_model(&unit), unit.main_pid));
        let result = change(model).map_err(|refusal| SystemdError::Refused {
            name: refusal.name.to_owned(),
            message: refusal.message,
        })?;
        let job = Job {
            result: result.to_owned(),
            unit: unit_seen(unit, model, *pid),
        };
        state.recorded.push(Recorded {
            verb,
            kind: Kind::Unit,
            target: name.to_owned(),
            timeout_seconds: kill_after_ms
                .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)),
            scale: None,
        });
        Ok(job)
    }
}

#[async_trait]
impl UnitRelay for DryRun {
    async fn relay_unit(&self, call: UnitCall) -> systemd::Result<UnitReply> {
        match call {
            UnitCall::Unit { name } => self.unit_seen(&name).await.map(UnitReply::Unit),
            UnitCall::Units { pattern } => {
                let listed = self.inner.units.units(&pattern).await?;
                let state = self.state();
                Ok(UnitReply::Units(
                    listed
                        .into_iter()
                        .map(|unit| match state.units.get(&unit.name) {
                            Some((model, pid)) => unit_seen(unit, model, *pid),
                            None => unit,
                        })
                        .collect(),
                ))
            }
            UnitCall::UnitStart { name } => self
                .record_unit(Verb::Start, &name, None, UnitModel::start)
                .await
                .map(UnitReply::Job),
            UnitCall::UnitStop {
                name,
                kill_after_ms,
            } => self
                .record_unit(Verb::Stop, &name, kill_after_ms, |model| Ok(model.stop()))
                .await
                .map(UnitReply::Job),
            UnitCall::UnitRestart {
                name,
                kill_after_ms,
            } => self
                .record_unit(Verb::Restart, &name, kill_after_ms, UnitModel::restart)
                .await
                .map(UnitReply::Job),
            UnitCall::UnitKill { name, signal } => self
                .record_unit(Verb::Stop, &name, None, |model| {
                    model.kill(signal);
                    Ok("done")
                })
                .await
                .map(|_| UnitReply::Done),
            // Figures are read, not simulated.
            UnitCall::UnitStats { name } => {
                self.inner.units.stats(&name).await.map(UnitReply::Stats)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::backend::docker::DockerError;
    use crate::backend::{Containers, Services};
    use crate::contract::{Health, Status};

    const ID: &str = "0123abcd";

    /// One real-looking container, and Swarm services, as the daemon
    /// reports them.
    #[derive(Debug)]
    struct Fake(Container, Vec<Service>);

    /// Answers the reads a dry run passes on; a change reaching it is a bug.
    #[async_trait]
    impl Relay for Fake {
        async fn relay(&self, call: Call) -> Result<Reply> {
            let Fake(container, services) = self;
            match call {
                Call::Inspect { name } if name == container.name => {
                    Ok(Reply::Container(container.clone()))
                }
                Call::Inspect { name } => Err(DockerError::NotFound(name)),
                Call::StopTimeout { .. } => Ok(Reply::StopTimeout(None)),
                Call::List { all, .. } => {
                    let row = Summary {
                        id: container.id.clone(),
                        name: container.name.clone(),
                        image: container.image.clone(),
                        status: container.status,
                        labels: Vec::new(),
                    };
                    let shown = all || container.running;
                    Ok(Reply::Summaries(if shown { vec![row] } else { Vec::new() }))
                }
                Call::OneShot { .. } | Call::Measure { .. } => {
                    Err(DockerError::Engine("no stats".into()))
                }
                Call::Service { name } => services
                    .iter()
                    .find(|s| s.name == name)
                    .cloned()
                    .map(Reply::Service)
                    .ok_or(DockerError::NoService(name)),
                Call::Services { label } => Ok(Reply::Services(
                    services
                        .iter()
                        .map(|s| {
                            ServiceSummary::from(
                                ServiceModel::from_service(s.clone().into()).summary(),
                            )
                        })
                        .filter(|row| {
                            label
                                .as_deref()
                                .is_none_or(|l| label_matches(&row.labels, l))
                        })
                        .collect(),
                )),
                change => unreachable!("a dry run never sends {change}"),
            }
        }
    }

    fn fake() -> Backends {
        Backends::of(Arc::new(Fake(running_container(), services())))
    }

    fn services() -> Vec<Service> {
        let mut api: Service = crate::sim::deployed("api", Some(2), 1_000_000)
            .service
            .into();
        api.labels = vec![("tier".into(), "edge".into())];
        let agent = crate::sim::deployed("agent", None, 1_000_000)
            .service
            .into();
        vec![api, agent]
    }

    fn running_container() -> Container {
        Container {
            id: ID.to_owned(),
            name: "web".to_owned(),
            image: "busybox".to_owned(),
            status: Status::Running,
            running: true,
            health: Health::None,
            exit_code: 0,
            restart_count: 2,
            created_ms: 10,
            started_ms: Some(100),
            finished_ms: None,
            labels: Vec::new(),
        }
    }

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn later_reads_see_the_recorded_calls() {
        let dry = DryRun::new(fake());
        block_on(async {
            let before = now_ms();
            dry.stop("web", Some(3)).await.unwrap();
            let stopped = dry.inspect("web").await.unwrap();
            assert_eq!((stopped.status, stopped.running), (Status::Exited, false));
            assert_eq!(stopped.started_ms, Some(100));
            assert!(stopped.finished_ms.unwrap() >= before);
            assert!(dry.list(None, false).await.unwrap().is_empty());
            assert_eq!(
                dry.list(None, true).await.unwrap()[0].status,
                Status::Exited
            );

            dry.restart("web", None).await.unwrap();
            let restarted = dry.inspect("web").await.unwrap();
            assert_eq!(restarted.status, Status::Running);
            assert!(restarted.started_ms.unwrap() >= before);
            assert_eq!(restarted.finished_ms, stopped.finished_ms);
            assert_eq!(restarted.restart_count, 2, "docker restart counts nothing");
            assert_eq!(dry.list(None, false).await.unwrap().len(), 1);
        });
        let verbs: Vec<Verb> = dry.recorded().iter().map(|r| r.verb).collect();
        assert_eq!(verbs, [Verb::Stop, Verb::Restart]);
        assert_eq!(dry.recorded()[0].timeout_seconds, Some(3));
    }

    #[test]
    fn a_refused_call_is_answered_like_the_daemon_and_not_recorded() {
        let dry = DryRun::new(fake());
        block_on(async {
            dry.pause("web").await.unwrap();
            assert_eq!(
                dry.pause("web").await,
                Err(DockerError::Engine(format!(
                    "Container {ID} is already paused"
                )))
            );
            assert_eq!(
                dry.list(None, false).await.unwrap()[0].status,
                Status::Paused
            );
            assert!(dry.inspect("web").await.unwrap().running);
            assert_eq!(
                dry.start("gone").await,
                Err(DockerError::NotFound("gone".into()))
            );
        });
        assert_eq!(dry.recorded().len(), 1);
    }

    #[test]
    fn a_dry_scale_is_recorded_and_later_reads_see_it() {
        let dry = DryRun::new(fake());
        let notes = [("sme.note.replicas".to_owned(), Some("2".to_owned()))];
        block_on(async {
            let before = dry.service("api").await.unwrap();
            dry.scale("api", 0, &notes).await.unwrap();
            let after = dry.service("api").await.unwrap();
            assert_eq!((after.replicas, after.running_tasks), (Some(0), 0));
            assert!(after.version > before.version);
            assert!(
                after
                    .labels
                    .contains(&("sme.note.replicas".into(), "2".into()))
            );
            // Listings see it too, and filter on the labels it would leave.
            let listed = dry.services(Some("sme.note.replicas")).await.unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].replicas, Some(0));
            assert_eq!(dry.services(None).await.unwrap().len(), 2);
            // Asking again for what would already be so records nothing.
            dry.scale("api", 0, &notes).await.unwrap();
            dry.redeploy("api").await.unwrap();
            dry.scale("api", 1, &[("sme.note.replicas".into(), None)])
                .await
                .unwrap();
            let started = dry.service("api").await.unwrap();
            assert_eq!((started.replicas, started.running_tasks), (Some(1), 1));
            assert_eq!(started.labels, [("tier".to_owned(), "edge".to_owned())]);
        });
        let recorded = dry.recorded();
        let calls: Vec<(Verb, &str)> = recorded
            .iter()
            .map(|r| (r.verb, r.target.as_str()))
            .collect();
        assert_eq!(
            calls,
            [
                (Verb::Scale, "api"),
                (Verb::Redeploy, "api"),
                (Verb::Scale, "api")
            ]
        );
        assert_eq!(
            recorded[0].scale,
            Some(Scaled {
                replicas: 0,
                labels: notes.to_vec()
            })
        );
        assert_eq!(recorded[1].scale, None);
    }

    #[test]
    fn a_dry_redeploy_completes_and_refusals_are_the_engines() {
        let dry = DryRun::new(fake());
        block_on(async {
            dry.redeploy("agent").await.unwrap();
            let agent = dry.service("agent").await.unwrap();
            assert_eq!(agent.update_state, crate::contract::UpdateState::Completed);
            assert_eq!(agent.running_tasks, 1);
            assert!(matches!(
                dry.scale("agent", 2, &[]).await,
                Err(DockerError::Unsuitable(_))
            ));
            assert_eq!(
                dry.scale("gone", 1, &[]).await,
                Err(DockerError::NoService("gone".into()))
            );
            assert_eq!(
                dry.redeploy("gone").await,
                Err(DockerError::NoService("gone".into()))
            );
            // Untouched services read as the daemon answers them.
            assert_eq!(dry.service("api").await.unwrap(), services()[0]);
        });
        assert_eq!(dry.recorded().len(), 1);
    }
}
