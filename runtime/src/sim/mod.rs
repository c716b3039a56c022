//! Engines that pretend, for `smectl` only: a Docker Engine held in memory
//! ([`Simulated`], driven by a [`scenario`]), a dry run that reads for real
//! and records what it would change ([`DryRun`]), and the replay of a
//! recording ([`Replay`]). The rules they follow (how a call changes a
//! container or a Swarm service) are the `sme_model` crate's, which the
//! guest SDK's fake shares; the integration tests hold them against the
//! real daemon. `sme` never uses them.

mod dry_run;
mod replay;
pub mod scenario;
mod simulated;
mod units;

use std::time::SystemTime;

pub use dry_run::{DryRun, Recorded, Scaled};
pub use replay::Replay;
pub use simulated::{SimContainer, SimService, Simulated};
pub use sme_model::swarm::{Deployment, Failure, NOT_A_MANAGER, ServiceModel};
pub use units::SimUnits;

/// The time now, in milliseconds since the epoch: what simulated changes
/// are stamped with.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A healthy service deployed an hour before `now_ms`, with `replicas`
/// running tasks (none: a global service, one task on the one node), its
/// image `scenario`: what a scenario's `[[service]]` starts as.
pub fn deployed(name: &str, replicas: Option<u64>, now_ms: u64) -> ServiceModel {
    ServiceModel::deploy(Deployment {
        image: "scenario".to_owned(),
        ..Deployment::new(name, replicas, now_ms.saturating_sub(3_600_000))
    })
}
