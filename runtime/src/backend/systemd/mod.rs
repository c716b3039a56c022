//! systemd units over D-Bus: the manager (`org.freedesktop.systemd1`) on
//! one connection to a bus, never a `systemctl` or `snapctl` process (see
//! docs/systemd.md).
//!
//! [`Systemd`] implements the backend's [`Units`](crate::backend::Units).
//! A start, stop or restart queues systemd's job and waits for the
//! manager's `JobRemoved` signal for it, then reads the unit's end state:
//! systemd answers a job `done` for a unit that then fails, so the caller
//! gets both. Unit names are checked ([`unit_name`]) before any request.

mod bus;
pub mod unit_name;

pub use bus::Systemd;

use crate::contract::CallError;

/// A unit's state, as `systemctl show` reports it (the parts policies use).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// Its name (`Id`): `snap.edgexfoundry.core-data.service`.
    pub name: String,
    /// `LoadState`: `loaded`, `not-found`, `masked`, `error`...
    pub load_state: String,
    /// `ActiveState`: `active`, `inactive`, `failed`, `activating`,
    /// `deactivating`, `reloading`.
    pub active_state: String,
    /// `SubState`: the unit type's own (`running`, `dead`, `exited`...).
    pub sub_state: String,
    /// A service's `Result` (`success`, `exit-code`, `signal`, `timeout`,
    /// `start-limit-hit`...); empty for other unit types.
    pub result: String,
    /// A service's `MainPID`; 0 when none runs.
    pub main_pid: u32,
    /// `StateChangeTimestamp`: when the unit last changed state, in
    /// milliseconds since the Unix epoch; none if it never did.
    pub since_ms: Option<u64>,
}

/// A finished job: systemd's word for it and the unit's state after it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// `JobRemoved`'s result: `done`, `canceled`, `timeout`, `failed`,
    /// `dependency` or `skipped`.
    pub result: String,
    /// The unit's state once the job was gone.
    pub unit: Unit,
}

/// A unit's resource counters, where systemd accounts them; none where it
/// does not (accounting off, a cgroup v1 controller it cannot use).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitStats {
    /// When they were read, in nanoseconds since the Unix epoch.
    pub read_ns: u64,
    /// `CPUUsageNSec`.
    pub cpu_ns: Option<u64>,
    /// `MemoryCurrent`, in bytes.
    pub memory_bytes: Option<u64>,
    /// `TasksCurrent`.
    pub tasks: Option<u64>,
    /// `IOReadBytes`.
    pub io_read_bytes: Option<u64>,
    /// `IOWriteBytes`.
    pub io_write_bytes: Option<u64>,
    /// `IPIngressBytes`.
    pub ip_ingress_bytes: Option<u64>,
    /// `IPEgressBytes`.
    pub ip_egress_bytes: Option<u64>,
}

/// Why a systemd request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SystemdError {
    /// systemd knows no unit of this name (its load state is `not-found`).
    #[error("Unit {0} not found.")]
    NotFound(String),
    /// The name is not a unit name SME sends (see [`unit_name`]).
    #[error("{0}")]
    InvalidName(String),
    /// systemd refused or failed the request: its D-Bus error name and its
    /// own message (`org.freedesktop.systemd1.UnitMasked: Unit x.service is
    /// masked.`).
    #[error("{name}: {message}")]
    Refused {
        /// The D-Bus error name.
        name: String,
        /// systemd's message.
        message: String,
    },
    /// The bus could not be reached, or systemd is not on it.
    #[error("cannot reach systemd on the bus {bus}: {reason}")]
    Unreachable {
        /// The bus address tried.
        bus: String,
        /// Why.
        reason: String,
    },
    /// systemd's answer could not be understood.
    #[error("unexpected answer from systemd: {0}")]
    Protocol(String),
}

/// The result of a systemd request.
pub type Result<T, E = SystemdError> = std::result::Result<T, E>;

/// `name`, if it is a unit name SME sends ([`unit_name::is_unit_name`]).
pub fn checked(name: &str) -> Result<()> {
    if unit_name::is_unit_name(name) {
        Ok(())
    } else {
        Err(SystemdError::InvalidName(format!(
            "{name:?} is not a valid unit name"
        )))
    }
}

/// systemd's own words keep their text; failures no systemd answered carry
/// SME's explanation.
impl From<SystemdError> for CallError {
    fn from(error: SystemdError) -> CallError {
        match error {
            SystemdError::NotFound(_) => CallError::NotFound(error.to_string()),
            SystemdError::InvalidName(message) => CallError::InvalidArgument(message),
            SystemdError::Refused { .. } => CallError::Docker(error.to_string()),
            SystemdError::Unreachable { .. } | SystemdError::Protocol(_) => {
                CallError::Timeout(error.to_string())
            }
        }
    }
}
