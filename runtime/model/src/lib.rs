//! The pure rules SME's engines follow, in one place for everything that
//! pretends to be an engine: the runtime's simulated engine and dry run,
//! the runtime's own checks, and the guest SDK's fake host
//! (`sme_guest::testing`), so that a policy's unit tests see what `sme`
//! does. No I/O and no clock (callers pass the time); one dependency,
//! `sha2`, for the simulated IDs.
//!
//! - [`names`]: name patterns (`*`, `?`) and label selectors, and how a
//!   hostile string is shown in a message;
//! - [`notes`]: the labels a module's notes on a service are kept in;
//! - [`lifecycle`]: how start, stop, restart, pause and unpause change a
//!   container, as the Docker Engine changes it;
//! - [`swarm`]: how scale and redeploy change a Swarm service and its
//!   tasks, as a swarm manager does;
//! - [`units`]: how start, stop and restart change a systemd unit, as
//!   systemd's manager does;
//! - [`state`]: which keys a module may keep values under, and how much;
//! - [`budget`]: when an effect budget allows one more spend.
//!
//! Each rule is held against the real Docker Engine by the runtime's
//! integration tests. The Python SDK's fake keeps a model of its own; the
//! table of cases in `cases.json` runs against this crate and against it,
//! so the two cannot drift silently.
//!
//! The types here mirror the WIT records of `sme:policy` field for field;
//! [`wit_types!`] writes the conversions to and from a crate's generated
//! bindings.

pub mod budget;
pub mod lifecycle;
pub mod names;
pub mod notes;
pub mod state;
pub mod swarm;
pub mod units;
mod wit;

pub use lifecycle::{Health, Lifecycle, Op, Status};
pub use swarm::{Mode, Service, ServiceModel, Summary, Task, TaskState, UpdateState};
