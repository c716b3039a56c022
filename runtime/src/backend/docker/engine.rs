//! The Docker Engine API client (bollard), and the conversion of its answers
//! into the records policies see.

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerStatsResponse,
    ContainerSummaryStateEnum, HealthStatusEnum, Service as RawService, ServiceSpecMode,
    ServiceUpdateStatusStateEnum, Task as RawTask, TaskState as RawTaskState,
};
use bollard::query_parameters::{
    ListContainersOptions, ListServicesOptions, ListTasksOptions, RestartContainerOptions,
    StatsOptions, StopContainerOptions,
};
use bollard::{ClientVersion, errors::Error as BollardError};
use futures_util::StreamExt;
use serde_json::Value;

use super::cgroup::{self, Roots};
use super::raw::{self, RawClient};
use super::{DockerError, Result, Stats};
use crate::backend::{Containers, Counters, Services};
use crate::contract::{
    Container, CpuReading, Health, Mode, Sample, Service, ServiceSummary, Status, Summary, Task,
    TaskState, UpdateState,
};
use crate::names::could_be_id_prefix;

mod services;

/// The Engine API version SME speaks: the first with one-shot stats (Docker
/// 20.10). Newer daemons accept it, and naming it saves a version
/// negotiation round trip on every run.
const API_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// bollard's own request timeout, in seconds: only a backstop, the gate
/// applies each module's Docker timeout.
const CLIENT_TIMEOUT_SECS: u64 = 120;

/// How long a request the daemon would not take (connection refused, socket
/// gone) is tried again: a daemon restarting is back within it. Only
/// requests never sent are tried again, so no change is ever made twice.
pub const RECONNECT: Duration = Duration::from_secs(3);

/// A Docker Engine reached over its API.
#[derive(Debug, Clone)]
pub struct Engine {
    /// bollard's client, made by the first request: for a socket, bollard
    /// wants the file to exist, and a restarting daemon may have removed it.
    client: OnceLock<bollard::Docker>,
    /// For the service updates bollard's model cannot carry (see [`raw`]).
    raw: RawClient,
    endpoint: String,
    /// Where containers' counters are read ([`cgroup`]).
    roots: Roots,
}

impl Engine {
    /// Prepares a client for `endpoint` (`unix:///path` or `tcp://host:port`).
    /// Nothing is sent until the first request.
    pub fn connect(endpoint: &str) -> Result<Engine> {
        let unsupported = || DockerError::Unreachable {
            endpoint: endpoint.to_owned(),
            reason: "unsupported endpoint; use unix:///path/to/docker.sock or tcp://host:port"
                .to_owned(),
        };
        let client = OnceLock::new();
        match bollard_client(endpoint) {
            Ok(Some(made)) => {
                let _ = client.set(made);
            }
            Ok(None) => return Err(unsupported()),
            // Made again by the first request (see [`RECONNECT`]).
            Err(BollardError::SocketNotFoundError(_)) => {}
            Err(error) => {
                return Err(DockerError::Unreachable {
                    endpoint: endpoint.to_owned(),
                    reason: root_cause(&error),
                });
            }
        }
        let prefix = format!(
            "/v{}.{}",
            API_VERSION.major_version, API_VERSION.minor_version
        );
        let timeout = Duration::from_secs(CLIENT_TIMEOUT_SECS);
        let raw = RawClient::new(endpoint, prefix, timeout).ok_or_else(unsupported)?;
        Ok(Engine {
            client,
            raw,
            endpoint: endpoint.to_owned(),
            roots: Roots::default(),
        })
    }

    /// bollard's client, made now if the socket was missing until now.
    fn client(&self) -> Result<bollard::Docker, BollardError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let made = bollard_client(&self.endpoint)?.ok_or_else(|| {
            BollardError::UnsupportedURISchemeError {
                uri: self.endpoint.clone(),
            }
        })?;
        Ok(self.client.get_or_init(|| made).clone())
    }

    /// Sends the request `request` makes with the client, and tries it again
    /// while it could not be sent at all, for at most [`RECONNECT`].
    pub(super) async fn send<T, F, Fut>(&self, request: F) -> Result<T, BollardError>
    where
        F: Fn(bollard::Docker) -> Fut,
        Fut: Future<Output = Result<T, BollardError>>,
    {
        let first = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let answer = match self.client() {
                Ok(client) => request(client).await,
                Err(error) => Err(error),
            };
            match answer {
                Err(error) if never_sent(&error) && first.elapsed() + pause < RECONNECT => {
                    tracing::debug!(error = %error, "the Docker Engine did not take the request; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(400));
                }
                answer => return answer,
            }
        }
    }

    /// This engine, reading containers' counters under `roots`.
    pub fn reading(self, roots: Roots) -> Engine {
        Engine { roots, ..self }
    }

    /// The daemon's version and API version (`20.10.24`, `1.41`): one
    /// request, for `smectl check` to tell the endpoint answers.
    pub async fn version(&self) -> Result<(String, String)> {
        let version = self
            .send(|client| async move { client.version().await })
            .await
            .map_err(|e| self.failure("", e))?;
        Ok((
            version.version.unwrap_or_default(),
            version.api_version.unwrap_or_default(),
        ))
    }

    fn failure(&self, name: &str, error: BollardError) -> DockerError {
        match error {
            // The Engine explains every error it answers; an HTTP error with
            // no message comes from something else at that address (a proxy,
            // another server), and a 404 from it says nothing of containers.
            BollardError::DockerResponseServerError {
                status_code,
                message,
            } if message.trim().is_empty() => DockerError::Protocol(format!(
                "{} answered HTTP {status_code} with no message: is it a Docker Engine?",
                self.endpoint
            )),
            BollardError::DockerResponseServerError {
                status_code: 404, ..
            } => DockerError::NotFound(name.to_owned()),
            BollardError::DockerResponseServerError { message, .. } => DockerError::Engine(message),
            BollardError::JsonDataError { .. }
            | BollardError::JsonSerdeError { .. }
            | BollardError::StrParseError { .. } => DockerError::Protocol(root_cause(&error)),
            error if never_sent(&error) => DockerError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: format!(
                    "{} (tried for {} s)",
                    root_cause(&error),
                    RECONNECT.as_secs()
                ),
            },
            BollardError::HyperLegacyError { .. }
            | BollardError::HyperResponseError { .. }
            | BollardError::IOError { .. }
            | BollardError::RequestTimeoutError => DockerError::Lost {
                endpoint: self.endpoint.clone(),
                reason: root_cause(&error),
            },
            other => DockerError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: root_cause(&other),
            },
        }
    }

    async fn inspect_raw(&self, name: &str) -> Result<ContainerInspectResponse> {
        let response = self
            .send(|client| async move { client.inspect_container(name, None).await })
            .await
            .map_err(|e| self.failure(name, e))?;
        // Docker also accepts an ID prefix here; only the exact name counts.
        let found = response.name.as_deref().map(|n| n.trim_start_matches('/'));
        if found != Some(name) {
            return Err(DockerError::NotFound(name.to_owned()));
        }
        Ok(response)
    }

    /// The path parameter that addresses exactly the container named `name`.
    /// Names that cannot be ID prefixes are used as they are; others are
    /// resolved to their ID first, so Docker cannot pick another container.
    async fn address(&self, name: &str) -> Result<String> {
        if !could_be_id_prefix(name) {
            return Ok(name.to_owned());
        }
        self.inspect_raw(name)
            .await?
            .id
            .ok_or_else(|| DockerError::Protocol(format!("inspect of {name} has no Id")))
    }

    async fn stats(&self, name: &str, one_shot: bool) -> Result<ContainerStatsResponse> {
        let address = self.address(name).await?;
        let options = StatsOptions {
            stream: false,
            one_shot,
        };
        let address = &address;
        let answer = self
            .send(|client| {
                let options = options.clone();
                async move {
                    client
                        .stats(address, Some(options))
                        .next()
                        .await
                        .transpose()
                }
            })
            .await;
        match answer {
            Ok(Some(stats)) => Ok(stats),
            Err(error) => Err(self.failure(name, error)),
            Ok(None) => Err(DockerError::Protocol(format!("no stats answer for {name}"))),
        }
    }
}

#[async_trait]
impl Containers for Engine {
    async fn inspect(&self, name: &str) -> Result<Container> {
        container(name, self.inspect_raw(name).await?)
    }

    async fn list(&self, label: Option<&str>, all: bool) -> Result<Vec<Summary>> {
        let filters =
            label.map(|label| HashMap::from([("label".to_owned(), vec![label.to_owned()])]));
        let options = ListContainersOptions {
            all,
            filters,
            ..Default::default()
        };
        let rows = self
            .send(|client| {
                let options = options.clone();
                async move { client.list_containers(Some(options)).await }
            })
            .await
            .map_err(|e| self.failure("", e))?;
        Ok(rows.into_iter().filter_map(summary).collect())
    }

    async fn stop_timeout(&self, name: &str) -> Result<Option<u32>> {
        let response = self.inspect_raw(name).await?;
        // Docker keeps any int; a negative one means "wait forever", which
        // no call budget can honour, so it reads as the largest timeout.
        Ok(response
            .config
            .and_then(|config| config.stop_timeout)
            .map(|seconds| u32::try_from(seconds).unwrap_or(u32::MAX)))
    }

    async fn start(&self, name: &str) -> Result<()> {
        let address = self.address(name).await?;
        let address = &address;
        self.send(|client| async move { client.start_container(address, None).await })
            .await
            .map_err(|e| self.failure(name, e))
    }

    async fn stop(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        let address = self.address(name).await?;
        let options = StopContainerOptions {
            t: timeout_seconds.map(clamp_seconds),
            ..Default::default()
        };
        let address = &address;
        self.send(|client| {
            let options = options.clone();
            async move { client.stop_container(address, Some(options)).await }
        })
        .await
        .map_err(|e| self.failure(name, e))
    }

    async fn restart(&self, name: &str, timeout_seconds: Option<u32>) -> Result<()> {
        let address = self.address(name).await?;
        let options = RestartContainerOptions {
            t: timeout_seconds.map(clamp_seconds),
            ..Default::default()
        };
        let address = &address;
        self.send(|client| {
            let options = options.clone();
            async move { client.restart_container(address, Some(options)).await }
        })
        .await
        .map_err(|e| self.failure(name, e))
    }

    async fn pause(&self, name: &str) -> Result<()> {
        let address = self.address(name).await?;
        let address = &address;
        self.send(|client| async move { client.pause_container(address).await })
            .await
            .map_err(|e| self.failure(name, e))
    }

    async fn unpause(&self, name: &str) -> Result<()> {
        let address = self.address(name).await?;
        let address = &address;
        self.send(|client| async move { client.unpause_container(address).await })
            .await
            .map_err(|e| self.failure(name, e))
    }

    async fn one_shot(&self, name: &str) -> Result<Stats> {
        let stats = self.stats(name, true).await?;
        Ok(Stats {
            id: stats.id.clone().unwrap_or_default(),
            sample: sample(&stats),
        })
    }

    async fn counters(&self, name: &str) -> Result<Option<Counters>> {
        // No request at all where no container's cgroup can be seen (the
        // agent's container without the mount): the caller falls back.
        if self.roots.visible().is_none() {
            return Ok(None);
        }
        let response = self.inspect_raw(name).await?;
        let id = response.id.unwrap_or_default();
        let parent = response.host_config.and_then(|host| host.cgroup_parent);
        let state = response.state.unwrap_or_default();
        let pid = state.pid.unwrap_or(0);
        let subject = cgroup::Subject {
            id: &id,
            parent: parent.as_deref(),
            pid,
        };
        let Some(layout) = self.roots.find(&subject) else {
            return Ok(None);
        };
        let read = self.roots.read(&layout, &subject, unix_ns_now());
        Ok(read.map(|read| Counters {
            id: id.clone(),
            sample: read.sample,
            network: read.network,
            paused: state.paused.unwrap_or(false),
            started_ms: state.started_at.as_deref().and_then(unix_ms),
        }))
    }

    async fn measure(&self, name: &str) -> Result<(Option<CpuReading>, Stats)> {
        let stats = self.stats(name, false).await?;
        let previous = previous_cpu(&stats);
        Ok((
            previous,
            Stats {
                id: stats.id.clone().unwrap_or_default(),
                sample: sample(&stats),
            },
        ))
    }
}

/// The time now, in nanoseconds since the Unix epoch.
fn unix_ns_now() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

fn clamp_seconds(seconds: u32) -> i32 {
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

/// A bollard client for `endpoint`; none for an endpoint of another kind.
fn bollard_client(endpoint: &str) -> Result<Option<bollard::Docker>, BollardError> {
    if endpoint.starts_with("unix://") {
        bollard::Docker::connect_with_unix(endpoint, CLIENT_TIMEOUT_SECS, &API_VERSION).map(Some)
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        bollard::Docker::connect_with_http(endpoint, CLIENT_TIMEOUT_SECS, &API_VERSION).map(Some)
    } else {
        Ok(None)
    }
}

/// Whether `error` means the request never reached the daemon: no socket,
/// no listener, no route. Anything after the connection was made may have
/// reached it.
pub(super) fn never_sent(error: &BollardError) -> bool {
    use std::io::ErrorKind;
    let refused = |error: &std::io::Error| {
        matches!(
            error.kind(),
            ErrorKind::ConnectionRefused | ErrorKind::NotFound | ErrorKind::AddrNotAvailable
        )
    };
    match error {
        BollardError::SocketNotFoundError(_) => true,
        BollardError::HyperLegacyError { err } => err.is_connect(),
        BollardError::IOError { err } => refused(err),
        _ => false,
    }
}

/// The innermost message of an error chain: for a connection failure that is
/// the operating system's reason, not the HTTP client's wrapper.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string().replace('\n', " ")
}

fn container(name: &str, response: ContainerInspectResponse) -> Result<Container> {
    let missing = |what: &str| DockerError::Protocol(format!("inspect of {name} has no {what}"));
    let state = response.state.ok_or_else(|| missing("State"))?;
    let status = match state.status {
        Some(ContainerStateStatusEnum::CREATED) => Status::Created,
        Some(ContainerStateStatusEnum::RUNNING) => Status::Running,
        Some(ContainerStateStatusEnum::PAUSED) => Status::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => Status::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => Status::Removing,
        Some(ContainerStateStatusEnum::EXITED) => Status::Exited,
        Some(ContainerStateStatusEnum::DEAD) => Status::Dead,
        _ => return Err(missing("State.Status")),
    };
    let health = match state.health.and_then(|h| h.status) {
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
        _ => Health::None,
    };
    let config = response.config.unwrap_or_default();
    Ok(Container {
        id: response.id.ok_or_else(|| missing("Id"))?,
        name: name.to_owned(),
        image: config.image.unwrap_or_default(),
        status,
        running: state.running.unwrap_or(false),
        health,
        exit_code: state.exit_code.unwrap_or(0),
        restart_count: response
            .restart_count
            .and_then(|count| u32::try_from(count).ok())
            .unwrap_or(0),
        created_ms: response.created.as_deref().and_then(unix_ms).unwrap_or(0),
        started_ms: state.started_at.as_deref().and_then(unix_ms),
        finished_ms: state.finished_at.as_deref().and_then(unix_ms),
        labels: sorted_labels(config.labels),
    })
}

fn summary(row: bollard::models::ContainerSummary) -> Option<Summary> {
    let name = own_name(row.names.as_deref()?)?;
    let status = match row.state? {
        ContainerSummaryStateEnum::CREATED => Status::Created,
        ContainerSummaryStateEnum::RUNNING => Status::Running,
        ContainerSummaryStateEnum::PAUSED => Status::Paused,
        ContainerSummaryStateEnum::RESTARTING => Status::Restarting,
        ContainerSummaryStateEnum::REMOVING => Status::Removing,
        ContainerSummaryStateEnum::EXITED => Status::Exited,
        ContainerSummaryStateEnum::DEAD => Status::Dead,
        _ => return None,
    };
    Some(Summary {
        id: row.id?,
        name,
        image: row.image.unwrap_or_default(),
        status,
        labels: sorted_labels(row.labels),
    })
}

/// The container's own name among a listing row's `Names`. Docker also lists
/// each legacy link alias there (`/a/b-alias` for `--link b:b-alias` on `a`),
/// in no set order; an alias names another container's view of this one, so
/// only the entry with a single leading `/` and no other is the name.
fn own_name(names: &[String]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| name.strip_prefix('/'))
        .find(|name| !name.is_empty() && !name.contains('/'))
        .map(str::to_owned)
}

fn sorted_labels(labels: Option<HashMap<String, String>>) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = labels.unwrap_or_default().into_iter().collect();
    labels.sort();
    labels
}

/// Milliseconds since the Unix epoch of an RFC 3339 time; `None` for Docker's
/// zero time (`0001-01-01T00:00:00Z`, "never").
fn unix_ms(text: &str) -> Option<u64> {
    let elapsed = since_epoch(text)?;
    u64::try_from(elapsed.as_millis()).ok()
}

fn since_epoch(text: &str) -> Option<Duration> {
    let time = humantime::parse_rfc3339(text).ok()?;
    time.duration_since(SystemTime::UNIX_EPOCH).ok()
}

fn unix_ns(text: Option<&str>) -> u64 {
    text.and_then(since_epoch)
        .and_then(|elapsed| u64::try_from(elapsed.as_nanos()).ok())
        .unwrap_or(0)
}

fn cpu_reading(read: Option<&str>, cpu: Option<&bollard::models::ContainerCpuStats>) -> CpuReading {
    let usage = cpu.and_then(|cpu| cpu.cpu_usage.as_ref());
    let online = cpu.and_then(|cpu| cpu.online_cpus).filter(|&n| n > 0);
    let per_cpu = usage
        .and_then(|usage| usage.percpu_usage.as_ref())
        .map_or(0, Vec::len);
    CpuReading {
        read_ns: unix_ns(read),
        total_ns: usage.and_then(|usage| usage.total_usage).unwrap_or(0),
        system_ns: cpu.and_then(|cpu| cpu.system_cpu_usage).unwrap_or(0),
        online_cpus: online.unwrap_or(u32::try_from(per_cpu).unwrap_or(u32::MAX)),
    }
}

fn sample(stats: &ContainerStatsResponse) -> Sample {
    let memory = stats.memory_stats.as_ref();
    let memory_stat = |key: &str| {
        memory
            .and_then(|m| m.stats.as_ref())
            .and_then(|s| s.get(key).copied())
    };
    let networks = stats.networks.iter().flat_map(|n| n.values());
    let (network_rx, network_tx) = networks.fold((0u64, 0u64), |(rx, tx), net| {
        (
            rx.saturating_add(net.rx_bytes.unwrap_or(0)),
            tx.saturating_add(net.tx_bytes.unwrap_or(0)),
        )
    });
    let block_entries = stats
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
        .into_iter()
        .flatten();
    let (block_read, block_write) = block_entries.fold((0u64, 0u64), |(read, write), entry| {
        let value = entry.value.unwrap_or(0);
        match entry.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => (read.saturating_add(value), write),
            Some("write") => (read, write.saturating_add(value)),
            _ => (read, write),
        }
    });
    Sample {
        cpu: cpu_reading(stats.read.as_deref(), stats.cpu_stats.as_ref()),
        memory_usage: memory.and_then(|m| m.usage).unwrap_or(0),
        memory_limit: memory.and_then(|m| m.limit).unwrap_or(0),
        total_inactive_file: memory_stat("total_inactive_file"),
        inactive_file: memory_stat("inactive_file"),
        network_rx,
        network_tx,
        block_read,
        block_write,
        pids: stats
            .pids_stats
            .as_ref()
            .and_then(|p| p.current)
            .unwrap_or(0),
    }
}

/// The daemon's previous CPU reading (`precpu_stats`), if it has one.
fn previous_cpu(stats: &ContainerStatsResponse) -> Option<CpuReading> {
    let reading = cpu_reading(stats.preread.as_deref(), stats.precpu_stats.as_ref());
    (reading.read_ns != 0 && reading.system_ns != 0).then_some(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_engines_own_404_means_not_found() {
        let engine = Engine::connect("tcp://127.0.0.1:1").unwrap();
        let answer = |status_code, message: &str| {
            engine.failure(
                "web",
                BollardError::DockerResponseServerError {
                    status_code,
                    message: message.to_owned(),
                },
            )
        };
        assert_eq!(
            answer(404, "No such container: web"),
            DockerError::NotFound("web".into())
        );
        assert_eq!(
            answer(409, "container web is paused"),
            DockerError::Engine("container web is paused".into())
        );
        assert!(
            matches!(answer(404, ""), DockerError::Protocol(m) if m.contains("is it a Docker Engine?"))
        );
    }

    #[test]
    fn a_listing_row_carries_the_containers_own_name_never_a_link_alias() {
        let row = |names: &[&str]| {
            summary(
                serde_json::from_value(serde_json::json!({
                    "Id": "0123", "Names": names, "Image": "busybox", "State": "running"
                }))
                .unwrap(),
            )
            .map(|row| row.name)
        };
        assert_eq!(row(&["/a/b-alias", "/b"]).as_deref(), Some("b"));
        assert_eq!(row(&["/b", "/a/b-alias"]).as_deref(), Some("b"));
        assert_eq!(row(&["/b"]).as_deref(), Some("b"));
        assert_eq!(row(&["/a/b-alias"]), None, "no own name: no row");
        assert_eq!(row(&["//b", "/", "b"]), None);
        assert_eq!(row(&[]), None);
    }

    #[test]
    fn docker_zero_time_means_never() {
        assert_eq!(unix_ms("0001-01-01T00:00:00Z"), None);
        assert_eq!(unix_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(unix_ns(Some("2024-01-01T00:00:00.000000001Z")) % 1000, 1);
        assert_eq!(unix_ns(None), 0);
    }

    #[test]
    fn stats_are_summed_like_the_docker_cli() {
        let stats: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "read": "2024-01-01T00:00:02Z",
            "preread": "2024-01-01T00:00:01Z",
            "cpu_stats": {"cpu_usage": {"total_usage": 300, "percpu_usage": [1, 2, 3]},
                          "system_cpu_usage": 1000},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 500,
                             "online_cpus": 3},
            "memory_stats": {"usage": 1000, "limit": 4000,
                             "stats": {"inactive_file": 100, "total_inactive_file": 200}},
            "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20},
                         "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "Read", "value": 7},
                {"major": 8, "minor": 0, "op": "write", "value": 5},
                {"major": 8, "minor": 0, "op": "Total", "value": 12}]},
            "pids_stats": {"current": 4}
        }))
        .unwrap();
        let current = sample(&stats);
        assert_eq!(current.cpu.online_cpus, 3, "falls back to the per-CPU list");
        assert_eq!(current.cpu.total_ns, 300);
        assert_eq!((current.network_rx, current.network_tx), (11, 22));
        assert_eq!((current.block_read, current.block_write), (7, 5));
        assert_eq!(current.total_inactive_file, Some(200));
        assert_eq!(current.pids, 4);
        let previous = previous_cpu(&stats).unwrap();
        assert_eq!((previous.total_ns, previous.system_ns), (100, 500));
        assert_eq!(previous.read_ns + 1_000_000_000, current.cpu.read_ns);
    }

    #[test]
    fn connection_failures_name_the_endpoint() {
        let error = Engine::connect("ssh://host").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot reach the Docker Engine at ssh://host")
        );
    }
}
