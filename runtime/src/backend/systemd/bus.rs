//! The D-Bus client: systemd's manager and its units' properties.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::StreamExt as _;
use futures_util::future::{Either, join_all, select};
use zbus::proxy::CacheProperties;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::unit_name::is_unit_name;
use super::{Job, Result, SystemdError, Unit, UnitStats, checked};
use crate::backend::Units;

const SYSTEMD: &str = "org.freedesktop.systemd1";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const SERVICE: &str = "org.freedesktop.systemd1.Service";
/// systemd's "not set" for a counter it does not account.
const UNSET: u64 = u64::MAX;
/// The job mode of every start, stop and restart: replace a queued
/// conflicting job, as `systemctl` does.
const MODE: &str = "replace";
/// systemd's answer to a job for a unit it cannot find.
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
/// The unit properties a unit's state is read from.
const UNIT_STATE: &[&str] = &[
    "LoadState",
    "ActiveState",
    "SubState",
    "StateChangeTimestamp",
];
/// The service properties a unit's state is read from.
const SERVICE_STATE: &[&str] = &["Result", "MainPID"];
/// The service properties of its counters.
const COUNTERS: &[&str] = &[
    "CPUUsageNSec",
    "MemoryCurrent",
    "TasksCurrent",
    "IOReadBytes",
    "IOWriteBytes",
    "IPIngressBytes",
    "IPEgressBytes",
];
/// What a stop past its bound sends.
const SIGKILL: i32 = 9;

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
trait Manager {
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn kill_unit(&self, name: &str, whom: &str, signal: i32) -> zbus::Result<()>;
    #[allow(clippy::type_complexity)]
    fn list_units_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<
        Vec<(
            String,
            String,
            String,
            String,
            String,
            String,
            OwnedObjectPath,
            u32,
            String,
            OwnedObjectPath,
        )>,
    >;
    fn subscribe(&self) -> zbus::Result<()>;
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: OwnedObjectPath,
        unit: String,
        result: String,
    ) -> zbus::Result<()>;
}

/// systemd's manager on one bus connection.
#[derive(Debug, Clone)]
pub struct Systemd {
    bus: String,
    connection: zbus::Connection,
    manager: ManagerProxy<'static>,
}

impl Systemd {
    /// Connects to the bus at `bus` (`unix:path=/run/dbus/system_bus_socket`)
    /// and asks systemd for job signals. Callers bound the wait.
    pub async fn connect(bus: &str) -> Result<Systemd> {
        let unreachable = |error: zbus::Error| SystemdError::Unreachable {
            bus: bus.to_owned(),
            reason: error.to_string(),
        };
        let connection = zbus::connection::Builder::address(bus)
            .map_err(unreachable)?
            .build()
            .await
            .map_err(unreachable)?;
        // No property cache: systemd's manager has about a hundred, and
        // nothing here reads them.
        let manager = ManagerProxy::builder(&connection)
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(unreachable)?;
        let systemd = Systemd {
            bus: bus.to_owned(),
            connection,
            manager,
        };
        // Without a subscriber systemd sends no JobRemoved signals.
        systemd
            .manager
            .subscribe()
            .await
            .map_err(|e| systemd.error(e))?;
        Ok(systemd)
    }

    /// A zbus error in SME's terms: systemd's refusals keep their name and
    /// words; a lost connection is unreachable.
    fn error(&self, error: zbus::Error) -> SystemdError {
        match error {
            zbus::Error::MethodError(name, message, _) => refused(name.as_str(), message),
            zbus::Error::FDO(fdo) => {
                let fdo = *fdo;
                let name = zbus::DBusError::name(&fdo).to_string();
                let message = zbus::DBusError::description(&fdo).map(str::to_owned);
                refused(&name, message)
            }
            zbus::Error::InputOutput(_) | zbus::Error::Handshake(_) | zbus::Error::Address(_) => {
                SystemdError::Unreachable {
                    bus: self.bus.clone(),
                    reason: error.to_string(),
                }
            }
            other => SystemdError::Protocol(other.to_string()),
        }
    }

    /// [`Systemd::error`] for a call about unit `name`: systemd's
    /// `NoSuchUnit` is [`SystemdError::NotFound`].
    fn unit_error(&self, name: &str, error: zbus::Error) -> SystemdError {
        match self.error(error) {
            SystemdError::Refused { name: error, .. } if error == NO_SUCH_UNIT => {
                SystemdError::NotFound(name.to_owned())
            }
            other => other,
        }
    }

    /// The object path of unit `name`, loading it if systemd has not; a
    /// unit systemd cannot find is [`SystemdError::NotFound`].
    async fn path(&self, name: &str) -> Result<(OwnedObjectPath, HashMap<String, OwnedValue>)> {
        checked(name)?;
        let path = self
            .manager
            .load_unit(name)
            .await
            .map_err(|e| self.error(e))?;
        let unit = self.properties(&path, UNIT, UNIT_STATE).await?;
        if text(&unit, "LoadState") == "not-found" {
            return Err(SystemdError::NotFound(name.to_owned()));
        }
        Ok((path, unit))
    }

    /// The properties `keys` of `interface` on the object at `path`, asked
    /// for together on the one connection. One `Get` each: `GetAll` of a
    /// unit made systemd build its whole table of about a hundred
    /// properties, about 6 ms apiece, when a few are needed.
    async fn properties(
        &self,
        path: &OwnedObjectPath,
        interface: &'static str,
        keys: &[&'static str],
    ) -> Result<HashMap<String, OwnedValue>> {
        let proxy = zbus::fdo::PropertiesProxy::builder(&self.connection)
            .destination(SYSTEMD)
            .and_then(|b| b.path(path.clone()))
            .map_err(|e| self.error(e))?
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(|e| self.error(e))?;
        let interface = zbus::names::InterfaceName::from_static_str_unchecked(interface);
        let asked = keys.iter().map(|&key| {
            let (proxy, interface) = (&proxy, interface.clone());
            async move { (key, proxy.get(interface, key).await) }
        });
        let mut properties = HashMap::with_capacity(keys.len());
        for (key, answer) in join_all(asked).await {
            let value = answer.map_err(|e| self.error(zbus::Error::FDO(Box::new(e))))?;
            properties.insert(key.to_owned(), value);
        }
        Ok(properties)
    }

    /// A service's properties `keys`; none for other unit types.
    async fn service(
        &self,
        path: &OwnedObjectPath,
        keys: &[&'static str],
    ) -> HashMap<String, OwnedValue> {
        self.properties(path, SERVICE, keys)
            .await
            .unwrap_or_default()
    }

    async fn state(&self, name: &str) -> Result<Unit> {
        let (path, unit) = self.path(name).await?;
        let service = self.service(&path, SERVICE_STATE).await;
        Ok(unit_of(name, &unit, &service))
    }

    /// Queues a job with `queue` and waits for systemd to remove it, then
    /// reads the unit. The signal stream is opened before the job is
    /// queued, so a job that ends at once is not missed.
    async fn job<'a, F, Fut>(
        &'a self,
        name: &'a str,
        kill_after: Option<Duration>,
        queue: F,
    ) -> Result<Job>
    where
        F: FnOnce(&'a ManagerProxy<'static>) -> Fut,
        Fut: std::future::Future<Output = zbus::Result<OwnedObjectPath>>,
    {
        // No look-up first: systemd answers a unit it cannot find with
        // NoSuchUnit, read as not found.
        checked(name)?;
        let mut removed = self
            .manager
            .receive_job_removed()
            .await
            .map_err(|e| self.error(e))?;
        let job = queue(&self.manager)
            .await
            .map_err(|e| self.unit_error(name, e))?;
        let mut kill_at = kill_after.map(|after| Box::pin(tokio::time::sleep(after)));
        let result = loop {
            let next = match kill_at.as_mut() {
                Some(timer) => match select(removed.next(), timer).await {
                    Either::Left((signal, _)) => signal,
                    Either::Right(((), _)) => {
                        // The unit's own stop takes too long: SIGKILL its
                        // processes, as systemd does after TimeoutStopSec.
                        kill_at = None;
                        self.manager
                            .kill_unit(name, "all", SIGKILL)
                            .await
                            .map_err(|e| self.error(e))?;
                        continue;
                    }
                },
                None => removed.next().await,
            };
            let Some(signal) = next else {
                return Err(SystemdError::Unreachable {
                    bus: self.bus.clone(),
                    reason: "the connection closed while waiting for the job".to_owned(),
                });
            };
            let args = signal.args().map_err(|e| self.error(e))?;
            if args.job == job {
                break args.result;
            }
        };
        Ok(Job {
            result,
            unit: self.state(name).await?,
        })
    }
}

#[async_trait]
impl Units for Systemd {
    async fn unit(&self, name: &str) -> Result<Unit> {
        self.state(name).await
    }

    async fn units(&self, pattern: &str) -> Result<Vec<Unit>> {
        let listed = self
            .manager
            .list_units_by_patterns(&[], &[pattern])
            .await
            .map_err(|e| self.error(e))?;
        let mut units = Vec::with_capacity(listed.len());
        for row in listed {
            let (name, path) = (row.0, row.6);
            if !is_unit_name(&name) {
                continue;
            }
            let unit = self.properties(&path, UNIT, UNIT_STATE).await?;
            let service = self.service(&path, SERVICE_STATE).await;
            units.push(unit_of(&name, &unit, &service));
        }
        units.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(units)
    }

    async fn start(&self, name: &str) -> Result<Job> {
        self.job(name, None, |m| m.start_unit(name, MODE)).await
    }

    async fn stop(&self, name: &str, kill_after: Option<Duration>) -> Result<Job> {
        self.job(name, kill_after, |m| m.stop_unit(name, MODE))
            .await
    }

    async fn restart(&self, name: &str, kill_after: Option<Duration>) -> Result<Job> {
        self.job(name, kill_after, |m| m.restart_unit(name, MODE))
            .await
    }

    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        // Loaded first: KillUnit alone answers a unit systemd has not loaded
        // (an inactive one) as if it did not exist.
        self.path(name).await?;
        self.manager
            .kill_unit(name, "all", signal)
            .await
            .map_err(|e| self.unit_error(name, e))
    }

    async fn stats(&self, name: &str) -> Result<UnitStats> {
        let (path, _) = self.path(name).await?;
        let service = self.service(&path, COUNTERS).await;
        let read_ns = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let counter = |key: &str| number(&service, key).filter(|&n| n != UNSET);
        Ok(UnitStats {
            read_ns,
            cpu_ns: counter("CPUUsageNSec"),
            memory_bytes: counter("MemoryCurrent"),
            tasks: counter("TasksCurrent"),
            io_read_bytes: counter("IOReadBytes"),
            io_write_bytes: counter("IOWriteBytes"),
            ip_ingress_bytes: counter("IPIngressBytes"),
            ip_egress_bytes: counter("IPEgressBytes"),
        })
    }
}

fn refused(name: &str, message: Option<String>) -> SystemdError {
    SystemdError::Refused {
        name: name.to_owned(),
        message: message.unwrap_or_default(),
    }
}

fn unit_of(
    name: &str,
    unit: &HashMap<String, OwnedValue>,
    service: &HashMap<String, OwnedValue>,
) -> Unit {
    let since_us = number(unit, "StateChangeTimestamp").filter(|&us| us != 0);
    Unit {
        name: name.to_owned(),
        load_state: text(unit, "LoadState"),
        active_state: text(unit, "ActiveState"),
        sub_state: text(unit, "SubState"),
        result: text(service, "Result"),
        main_pid: service
            .get("MainPID")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        since_ms: since_us.map(|us| us / 1000),
    }
}

fn text(properties: &HashMap<String, OwnedValue>, key: &str) -> String {
    properties
        .get(key)
        .and_then(|value| <&str>::try_from(value).ok().map(str::to_owned))
        .unwrap_or_default()
}

fn number(properties: &HashMap<String, OwnedValue>, key: &str) -> Option<u64> {
    properties.get(key).and_then(|v| u64::try_from(v).ok())
}
