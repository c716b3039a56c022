//! How a run reaches systemd: never (`[systemd] mode = "off"`), or over one
//! connection made by the first unit call that needs it.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{Job, Result, Systemd, SystemdError, Unit, UnitStats, checked};
use crate::backend::Units;

/// No systemd: every call is answered at once, without a connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Off;

impl Off {
    fn refuse<T>(name: Option<&str>) -> Result<T> {
        if let Some(name) = name {
            checked(name)?;
        }
        Err(SystemdError::Unreachable {
            bus: "(none)".to_owned(),
            reason: "systemd is off in SME's configuration ([systemd] mode = \"off\")".to_owned(),
        })
    }
}

#[async_trait]
impl Units for Off {
    async fn unit(&self, name: &str) -> Result<Unit> {
        Off::refuse(Some(name))
    }
    async fn units(&self, _pattern: &str) -> Result<Vec<Unit>> {
        Off::refuse(None)
    }
    async fn start(&self, name: &str) -> Result<Job> {
        Off::refuse(Some(name))
    }
    async fn stop(&self, name: &str, _kill_after: Option<Duration>) -> Result<Job> {
        Off::refuse(Some(name))
    }
    async fn restart(&self, name: &str, _kill_after: Option<Duration>) -> Result<Job> {
        Off::refuse(Some(name))
    }
    async fn kill(&self, name: &str, _signal: i32) -> Result<()> {
        Off::refuse(Some(name))
    }
    async fn stats(&self, name: &str) -> Result<UnitStats> {
        Off::refuse(Some(name))
    }
}

/// systemd on the bus at an address, connected to by the first call that
/// needs it (a run that makes no unit call never connects). A failed
/// connection answers every later call of the run the same way.
#[derive(Debug)]
pub struct Lazy {
    bus: String,
    connected: OnceCell<Result<Systemd>>,
    /// The runtime the connection was made on: zbus tidies a connection
    /// up with a task of that runtime, so it is dropped there.
    runtime: std::sync::OnceLock<tokio::runtime::Handle>,
}

impl Drop for Lazy {
    fn drop(&mut self) {
        let connected = self.connected.take();
        if let Some(runtime) = self.runtime.get() {
            let _inside = runtime.enter();
            drop(connected);
        }
    }
}

impl Lazy {
    /// systemd on the bus at `bus` (`unix:path=/run/dbus/system_bus_socket`).
    pub fn new(bus: &str) -> Lazy {
        Lazy {
            bus: bus.to_owned(),
            connected: OnceCell::new(),
            runtime: std::sync::OnceLock::new(),
        }
    }

    /// The connection, made on first use; a bad name is refused first,
    /// without one.
    async fn systemd(&self, name: Option<&str>) -> Result<&Systemd> {
        if let Some(name) = name {
            checked(name)?;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let _ = self.runtime.set(runtime);
        }
        self.connected
            .get_or_init(|| Systemd::connect(&self.bus))
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[async_trait]
impl Units for Lazy {
    async fn unit(&self, name: &str) -> Result<Unit> {
        self.systemd(Some(name)).await?.unit(name).await
    }
    async fn units(&self, pattern: &str) -> Result<Vec<Unit>> {
        self.systemd(None).await?.units(pattern).await
    }
    async fn start(&self, name: &str) -> Result<Job> {
        self.systemd(Some(name)).await?.start(name).await
    }
    async fn stop(&self, name: &str, kill_after: Option<Duration>) -> Result<Job> {
        self.systemd(Some(name)).await?.stop(name, kill_after).await
    }
    async fn restart(&self, name: &str, kill_after: Option<Duration>) -> Result<Job> {
        self.systemd(Some(name))
            .await?
            .restart(name, kill_after)
            .await
    }
    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        self.systemd(Some(name)).await?.kill(name, signal).await
    }
    async fn stats(&self, name: &str) -> Result<UnitStats> {
        self.systemd(Some(name)).await?.stats(name).await
    }
}
