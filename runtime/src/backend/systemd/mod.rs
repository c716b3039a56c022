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
pub mod call;
mod reach;
pub mod unit_name;

pub use bus::Systemd;
pub use reach::{Lazy, Off};

use crate::contract::{UnitError, systemd};

// A unit's state, a finished job and a unit's counters are the WIT's
// records (`wit/systemd.wit`), field for field what systemd reports.
pub use crate::contract::systemd::{Job, Unit, UnitStats};

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
impl From<SystemdError> for UnitError {
    fn from(error: SystemdError) -> UnitError {
        match error {
            SystemdError::NotFound(_) => UnitError::NotFound(error.to_string()),
            SystemdError::InvalidName(message) => UnitError::InvalidArgument(message),
            SystemdError::Refused { name, message } => {
                UnitError::Refused(systemd::Refusal { name, message })
            }
            SystemdError::Unreachable { .. } | SystemdError::Protocol(_) => {
                UnitError::Unreachable(error.to_string())
            }
        }
    }
}
