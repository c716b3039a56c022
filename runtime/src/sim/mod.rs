//! Engines that pretend, for `smectl` only: a Docker Engine held in memory
//! ([`Simulated`], driven by a [`scenario`]), a dry run that reads for real
//! and records what it would change ([`DryRun`]), and the state machines both
//! share, measured against the real daemon ([`lifecycle`] for containers,
//! [`swarm_sim`] for services). `sme` never uses them.

mod dry_run;
pub mod lifecycle;
mod replay;
pub mod scenario;
mod simulated;
pub mod swarm_sim;

pub use dry_run::{DryRun, Recorded, Scaled};
pub use lifecycle::now_ms;
pub use replay::Replay;
pub use simulated::{SimContainer, SimService, Simulated};
pub use swarm_sim::{Failure, NOT_A_MANAGER, ServiceModel};
