//! `impl Host` for the `containers` capability.

use std::time::{Duration, Instant, SystemTime};

use super::ContainersHost;
use super::settle::{Lost, SETTLE, settle};
use crate::backend::Containers;
use crate::backend::Kind;
use crate::backend::docker;
use crate::contract::{CallError, Container, Filter, Summary, container_config, containers};
use crate::host::{listing_described, listing_pattern};
use crate::sandbox::gate::{Noted, Scope};
use crate::sandbox::grants::Verb;

impl ContainersHost {
    /// A lifecycle call on one container, through the gate. When its answer
    /// is lost, what happened is found out by a fresh inspection
    /// ([`settle`]).
    async fn lifecycle<F>(
        &self,
        verb: Verb,
        name: &str,
        timeout_seconds: Option<u32>,
        call: F,
    ) -> wasmtime::Result<Result<(), CallError>>
    where
        F: for<'a> FnOnce(
            &'a dyn Containers,
            &'a str,
        ) -> futures_util::future::BoxFuture<'a, docker::Result<()>>,
    {
        let engine = &*self.containers;
        // The audit line of a stop or restart records the grace period asked
        // for, so a shortened one is on record, and what settled a lost answer.
        let answer = self
            .gate
            .call_settling(
                verb,
                Scope::Container(name),
                |settled: &Option<String>| Noted {
                    settled: settled.clone(),
                    ..Noted::timeout(timeout_seconds)
                },
                SETTLE,
                |budget| async move {
                    check_timeout(verb, timeout_seconds, budget)?;
                    let started = Instant::now();
                    let sent = SystemTime::now();
                    let why = match tokio::time::timeout(budget, call(engine, name)).await {
                        Ok(Ok(())) => return Ok(None),
                        Ok(Err(lost @ docker::DockerError::Lost { .. })) => lost.to_string(),
                        Ok(Err(error)) => return Err(CallError::from(error)),
                        Err(_) => format!(
                            "no answer came within the {} ms the call may take (limit \
                             `docker_timeout_ms`)",
                            budget.as_millis()
                        ),
                    };
                    // Past the grace period asked for (a stop's or restart's;
                    // the others take none), the change is over or will
                    // not happen.
                    let grace = match verb {
                        Verb::Stop | Verb::Restart => timeout_seconds
                            .map_or(budget, |seconds| Duration::from_secs(seconds.into())),
                        _ => Duration::ZERO,
                    };
                    let until = started + grace.min(budget) + SETTLE;
                    let lost = Lost {
                        verb,
                        name,
                        sent,
                        why,
                        until,
                    };
                    settle(engine, lost).await
                },
            )
            .await?;
        Ok(answer.map(|_| ()))
    }
}

/// A stop or restart timeout must leave Docker time to answer within the
/// call's budget, or the policy would see a timeout for a call that succeeds.
fn check_timeout(
    verb: Verb,
    timeout_seconds: Option<u32>,
    budget: Duration,
) -> Result<(), CallError> {
    match timeout_seconds {
        Some(seconds) if Duration::from_secs(seconds.into()) >= budget => {
            Err(CallError::InvalidArgument(format!(
                "{verb} timeout of {seconds} s does not fit in the {} ms this call may take \
                 (limits `docker_timeout_ms` and `deadline_ms`)",
                budget.as_millis()
            )))
        }
        _ => Ok(()),
    }
}

impl containers::Host for ContainersHost {
    async fn inspect(&mut self, name: String) -> wasmtime::Result<Result<Container, CallError>> {
        let engine = &*self.containers;
        let name = name.as_str();
        self.gate
            .call(Verb::Inspect, Scope::Container(name), |_| async move {
                engine.inspect(name).await.map_err(CallError::from)
            })
            .await
    }

    async fn list(&mut self, filter: Filter) -> wasmtime::Result<Result<Vec<Summary>, CallError>> {
        let engine = &*self.containers;
        let described = listing_described(filter.name.as_deref(), filter.label.as_deref());
        let rows = self
            .gate
            .call(Verb::List, Scope::Listing(&described), |_| async {
                let pattern = listing_pattern(filter.name.as_deref(), filter.label.as_deref())?;
                let rows = engine.list(filter.label.as_deref(), filter.all).await?;
                Ok(rows
                    .into_iter()
                    .filter(|row| pattern.as_ref().is_none_or(|p| p.matches(&row.name)))
                    .collect::<Vec<Summary>>())
            })
            .await?;
        // Only the containers this module may list are shown to it.
        Ok(rows.map(|rows| {
            rows.into_iter()
                .filter(|row| {
                    self.gate
                        .covers(Verb::List, Kind::Container, &row.name, &row.labels)
                })
                .collect()
        }))
    }

    async fn start(&mut self, name: String) -> wasmtime::Result<Result<(), CallError>> {
        self.lifecycle(Verb::Start, &name, None, |d, n| d.start(n))
            .await
    }

    async fn stop(
        &mut self,
        name: String,
        timeout_seconds: Option<u32>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        self.lifecycle(Verb::Stop, &name, timeout_seconds, move |d, n| {
            d.stop(n, timeout_seconds)
        })
        .await
    }

    async fn restart(
        &mut self,
        name: String,
        timeout_seconds: Option<u32>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        self.lifecycle(Verb::Restart, &name, timeout_seconds, move |d, n| {
            d.restart(n, timeout_seconds)
        })
        .await
    }

    async fn pause(&mut self, name: String) -> wasmtime::Result<Result<(), CallError>> {
        self.lifecycle(Verb::Pause, &name, None, |d, n| d.pause(n))
            .await
    }

    async fn unpause(&mut self, name: String) -> wasmtime::Result<Result<(), CallError>> {
        self.lifecycle(Verb::Unpause, &name, None, |d, n| d.unpause(n))
            .await
    }
}

impl container_config::Host for ContainersHost {
    async fn stop_timeout(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Option<u32>, CallError>> {
        let engine = &*self.containers;
        let name = name.as_str();
        // Part of what `docker inspect` shows, so the `inspect` verb covers it.
        self.gate
            .call_noting(
                Verb::Inspect,
                Scope::Container(name),
                |own: &Option<u32>| Noted::timeout(*own),
                |_| async move { engine.stop_timeout(name).await.map_err(CallError::from) },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_timeouts_must_fit_the_call_budget() {
        let budget = Duration::from_secs(12);
        assert!(check_timeout(Verb::Stop, Some(10), budget).is_ok());
        assert!(check_timeout(Verb::Stop, None, budget).is_ok());
        assert!(matches!(
            check_timeout(Verb::Stop, Some(30), budget),
            Err(CallError::InvalidArgument(_))
        ));
    }
}
