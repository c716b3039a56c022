//! `impl Host` for the `services` capability.

use std::time::Duration;

use futures_util::future::join_all;

use super::{MAX_NOTE_KEY, MAX_NOTE_VALUE, MAX_NOTES, ServicesHost};
use crate::backend::Kind;
use crate::backend::docker::DockerError;
use crate::config::swarm::Mode;
use crate::contract::{CallError, Service, ServiceSummary, TaskMeasurement, TaskState, services};
use crate::host::stats::history::{History, MAX_AGE};
use crate::host::stats::measure_kept;
use crate::host::{listing_described, listing_pattern};
use crate::sandbox::gate::Scope;
use crate::sandbox::grants::{NOTE_PREFIX, Verb};

/// The label Docker puts on every task container, naming its service's ID.
const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";

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
                let docker = &*self.docker;
                let name = service.as_str();
                let found = self
                    .gate
                    .call(Verb::Inspect, Scope::Service(name), |_| async move {
                        match docker.service(name).await {
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
        let docker = &*self.docker;
        let name = name.as_str();
        self.gate
            .call(Verb::Inspect, Scope::Service(name), |_| async move {
                docker.service(name).await.map_err(CallError::from)
            })
            .await
    }

    async fn list(
        &mut self,
        filter: services::Filter,
    ) -> wasmtime::Result<Result<Vec<ServiceSummary>, CallError>> {
        let docker = &*self.docker;
        let described = listing_described(filter.name.as_deref(), filter.label.as_deref());
        let rows = self
            .gate
            .call(Verb::List, Scope::ServiceListing(&described), |_| async {
                let pattern = listing_pattern(filter.name.as_deref(), filter.label.as_deref())?;
                let rows = docker.services(filter.label.as_deref()).await?;
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
        let docker = &*self.docker;
        let name = name.as_str();
        self.gate
            .call(Verb::Scale, Scope::Service(name), |_| async move {
                let labels = note_labels(notes)?;
                docker
                    .scale(name, replicas, &labels)
                    .await
                    .map_err(CallError::from)
            })
            .await
    }

    async fn redeploy(&mut self, name: String) -> wasmtime::Result<Result<(), CallError>> {
        let docker = &*self.docker;
        let name = name.as_str();
        self.gate
            .call(Verb::Redeploy, Scope::Service(name), |_| async move {
                docker.redeploy(name).await.map_err(CallError::from)
            })
            .await
    }

    async fn task_stats(
        &mut self,
        name: String,
        max_age_ms: u32,
    ) -> wasmtime::Result<Result<Vec<TaskMeasurement>, CallError>> {
        let docker = &*self.docker;
        let history = self.state_dir.as_deref().and_then(History::open);
        let history = history.as_ref();
        let max_age = Duration::from_millis(max_age_ms.into()).min(MAX_AGE);
        let name = name.as_str();
        self.gate
            .call(Verb::Stats, Scope::Service(name), |_| async move {
                let service = docker.service(name).await?;
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
                let local = docker.list(Some(&selector), false).await?;
                let measured = running.iter().filter_map(|&(task, container)| {
                    let row = local.iter().find(|row| row.id == container)?;
                    Some(async move {
                        measure_kept(docker, history, &row.name, max_age)
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

/// A module's notes as the labels they are kept in, checked.
fn note_labels(
    notes: Vec<(String, Option<String>)>,
) -> Result<Vec<(String, Option<String>)>, CallError> {
    if notes.len() > MAX_NOTES {
        return Err(CallError::InvalidArgument(format!(
            "{} notes in one scale: at most {MAX_NOTES}",
            notes.len()
        )));
    }
    notes
        .into_iter()
        .map(|(key, value)| {
            let valid = !key.is_empty()
                && key.len() <= MAX_NOTE_KEY
                && key.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-')
                });
            if !valid {
                return Err(CallError::InvalidArgument(format!(
                    "note key {:?} is not 1 to {MAX_NOTE_KEY} characters of [a-z0-9.-]",
                    crate::names::Shown::new(&key).to_string()
                )));
            }
            if value.as_ref().is_some_and(|v| v.len() > MAX_NOTE_VALUE) {
                return Err(CallError::InvalidArgument(format!(
                    "note {key} is longer than {MAX_NOTE_VALUE} bytes"
                )));
            }
            Ok((format!("{NOTE_PREFIX}{key}"), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_become_prefixed_labels() {
        assert_eq!(
            note_labels(vec![
                ("replicas".into(), Some("3".into())),
                ("x".into(), None)
            ])
            .unwrap(),
            [
                ("sme.note.replicas".to_owned(), Some("3".to_owned())),
                ("sme.note.x".to_owned(), None)
            ]
        );
    }

    #[test]
    fn bad_notes_are_refused() {
        for key in ["", "Upper", "a=b", "a b", &"k".repeat(65)] {
            assert!(note_labels(vec![(key.to_owned(), None)]).is_err(), "{key}");
        }
        assert!(note_labels(vec![("k".into(), Some("v".repeat(257)))]).is_err());
        let many = (0..9).map(|i| (format!("k{i}"), None)).collect();
        assert!(note_labels(many).is_err());
    }
}
