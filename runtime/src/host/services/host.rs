//! `impl Host` for the `services` capability.

use std::time::Duration;

use futures_util::future::join_all;

use super::ServicesHost;
use crate::backend::Kind;
use crate::backend::docker::DockerError;
use crate::config::swarm::Mode;
use crate::contract::{CallError, Service, ServiceSummary, TaskMeasurement, TaskState, services};
use crate::host::stats::history::{History, MAX_AGE};
use crate::host::stats::measure_kept;
use crate::host::{listing_described, listing_pattern};
use crate::sandbox::budgets::Effect;
use crate::sandbox::gate::Scope;
use crate::sandbox::grants::Verb;

use sme_model::swarm::SERVICE_ID_LABEL;

impl services::Host for ServicesHost {
    async fn target(&mut self) -> wasmtime::Result<Result<Option<String>, CallError>> {
        let service = self.gate.swarm_service().to_owned();
        match self.mode {
            Mode::Off => Ok(Ok(None)),
            Mode::On => Ok(Ok(Some(service))),
            Mode::Auto => {
                // The request is about the service when the swarm has one by
                // that name; a node outside a swarm, or a swarm without it,
                // means the container. Asked under the `inspect` grant.
                let backends = &self.backends;
                let name = service.as_str();
                let found = self
                    .gate
                    .call(Verb::Inspect, Scope::Service(name), |_| async move {
                        match backends.services.service(name).await {
                            Ok(_) => Ok(true),
                            Err(DockerError::NoService(_)) => Ok(false),
                            Err(DockerError::Engine(message)) if not_in_a_swarm(&message) => {
                                Ok(false)
                            }
                            Err(other) => Err(CallError::from(other)),
                        }
                    })
                    .await?;
                Ok(found.map(|found| found.then_some(service)))
            }
        }
    }

    async fn inspect(&mut self, name: String) -> wasmtime::Result<Result<Service, CallError>> {
        let backends = &self.backends;
        let name = name.as_str();
        self.gate
            .call(Verb::Inspect, Scope::Service(name), |_| async move {
                backends
                    .services
                    .service(name)
                    .await
                    .map_err(CallError::from)
            })
            .await
    }

    async fn list(
        &mut self,
        filter: services::Filter,
    ) -> wasmtime::Result<Result<Vec<ServiceSummary>, CallError>> {
        let backends = &self.backends;
        let described = listing_described(filter.name.as_deref(), filter.label.as_deref());
        let rows = self
            .gate
            .call(Verb::List, Scope::ServiceListing(&described), |_| async {
                let pattern = listing_pattern(filter.name.as_deref(), filter.label.as_deref())?;
                let rows = backends.services.services(filter.label.as_deref()).await?;
                Ok(rows
                    .into_iter()
                    .filter(|row| pattern.as_ref().is_none_or(|p| p.matches(&row.name)))
                    .collect::<Vec<ServiceSummary>>())
            })
            .await?;
        // Only the services this module may list are shown to it.
        Ok(rows.map(|rows| {
            rows.into_iter()
                .filter(|row| {
                    self.gate
                        .covers(Verb::List, Kind::Service, &row.name, &row.labels)
                })
                .collect()
        }))
    }

    async fn scale(
        &mut self,
        name: String,
        replicas: u64,
        notes: Vec<(String, Option<String>)>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let backends = &self.backends;
        let name = name.as_str();
        let ceiling = self.gate.limits().max_replicas;
        self.gate
            .call_spending(
                Verb::Scale,
                Effect::of_scale(replicas),
                Scope::Service(name),
                |_| async move {
                if replicas > ceiling {
                    return Err(CallError::InvalidArgument(format!(
                        "{replicas} replicas of {name}: at most {ceiling} (limit `max_replicas`)"
                    )));
                }
                let labels =
                    sme_model::notes::note_labels(&notes).map_err(CallError::InvalidArgument)?;
                backends
                    .services
                    .scale(name, replicas, &labels)
                    .await
                    .map_err(CallError::from)
            },
            )
            .await
    }

    async fn redeploy(&mut self, name: String) -> wasmtime::Result<Result<(), CallError>> {
        let backends = &self.backends;
        let name = name.as_str();
        self.gate
            .call(Verb::Redeploy, Scope::Service(name), |_| async move {
                backends
                    .services
                    .redeploy(name)
                    .await
                    .map_err(CallError::from)
            })
            .await
    }

    async fn task_stats(
        &mut self,
        name: String,
        max_age_ms: u32,
    ) -> wasmtime::Result<Result<Vec<TaskMeasurement>, CallError>> {
        let backends = &self.backends;
        let history = self.state_dir.as_deref().and_then(History::open);
        let history = history.as_ref();
        let networks = self.state_dir.as_deref().and_then(History::open_network);
        let networks = networks.as_ref();
        let max_age = Duration::from_millis(max_age_ms.into()).min(MAX_AGE);
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Service(name), |_| async move {
                let service = backends.services.service(name).await?;
                // The running tasks, by container; only those whose
                // container this daemon runs can be measured here.
                let running: Vec<(&str, &str)> = service
                    .tasks
                    .iter()
                    .filter(|task| {
                        task.state == TaskState::Running && task.desired_state == TaskState::Running
                    })
                    .filter_map(|task| Some((task.id.as_str(), task.container_id.as_deref()?)))
                    .collect();
                let selector = format!("{SERVICE_ID_LABEL}={}", service.id);
                let local = backends.containers.list(Some(&selector), false).await?;
                let measured = running.iter().filter_map(|&(task, container)| {
                    let row = local.iter().find(|row| row.id == container)?;
                    Some(async move {
                        measure_kept(&*backends.containers, history, networks, &row.name, max_age)
                            .await
                            .map(|measurement| TaskMeasurement {
                                task_id: task.to_owned(),
                                container: row.name.clone(),
                                measurement,
                            })
                    })
                });
                // A task that ended between the listing and its measurement
                // has nothing left to count.
                let measured = join_all(measured).await;
                let mut tasks = Vec::with_capacity(measured.len());
                for result in measured {
                    match result {
                        Ok(task) => tasks.push(task),
                        Err(CallError::NotFound(_)) => {}
                        Err(other) => return Err(other),
                    }
                }
                Ok(tasks)
            })
            .await
    }
}

/// The daemon's answer to a service request on a node that is no swarm
/// manager (HTTP 503, "This node is not a swarm manager. ..."). The Engine
/// gives no code of its own for it, so its text is all there is.
fn not_in_a_swarm(message: &str) -> bool {
    message.contains("not a swarm manager")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;
    use crate::backend::Backends;
    use crate::backend::docker::{self, Call, Relay, Reply};
    use crate::contract::services::Host as _;
    use crate::host::services::ServicesHost;
    use crate::sandbox::audit::Audit;
    use crate::sandbox::gate::Gate;
    use crate::sandbox::grants::{Grant, Target};
    use crate::sandbox::limits::{Deadline, LimitExceeded, Limits};

    /// An engine that counts the scales it is sent and answers them done.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl Relay for Counting {
        async fn relay(&self, call: Call) -> docker::Result<Reply> {
            match call {
                Call::Scale { .. } => {
                    self.0.fetch_add(1, Ordering::Relaxed);
                    Ok(Reply::Done)
                }
                other => Err(DockerError::Engine(format!("{other} is not faked"))),
            }
        }
    }

    fn host(limits: Limits) -> (ServicesHost, Arc<Counting>) {
        let engine = Arc::new(Counting::default());
        let backends = Backends::of(engine.clone());
        let mut grant = Grant::none();
        grant.allow(Verb::Scale, Target::parse("self").unwrap());
        let deadline = Deadline {
            at: Instant::now() + limits.deadline,
            exceeded: LimitExceeded::Deadline(limits.deadline),
        };
        let gate = Gate::new(
            "test",
            "api",
            grant,
            limits,
            deadline,
            backends.clone(),
            Arc::new(Audit::none().capturing()),
        )
        .with_swarm_service("api".to_owned());
        let host = ServicesHost::new(Arc::new(gate), backends, Mode::On, None);
        (host, engine)
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_replica_count_over_the_ceiling_is_refused_before_any_request() {
        let limits = Limits {
            max_replicas: 3,
            ..Limits::default()
        };
        let (mut host, engine) = host(limits);
        let refused = block_on(host.scale("api".into(), 4, Vec::new())).unwrap();
        let Err(CallError::InvalidArgument(message)) = refused else {
            panic!("{refused:?}")
        };
        assert!(message.contains("limit `max_replicas`"), "{message}");
        assert_eq!(engine.0.load(Ordering::Relaxed), 0, "nothing sent");
        assert_eq!(
            block_on(host.scale("api".into(), 3, Vec::new())).unwrap(),
            Ok(())
        );
        assert_eq!(engine.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn bad_notes_are_refused() {
        let (mut host, engine) = host(Limits::default());
        let note = |key: &str, value: &str| vec![(key.to_owned(), Some(value.to_owned()))];
        for notes in [note("a..b", "1"), note("ok", "\u{1b}[8m"), note("Up", "1")] {
            let answer = block_on(host.scale("api".into(), 1, notes.clone())).unwrap();
            assert!(
                matches!(answer, Err(CallError::InvalidArgument(_))),
                "{notes:?}: {answer:?}"
            );
        }
        assert_eq!(engine.0.load(Ordering::Relaxed), 0, "nothing sent");
    }
}
