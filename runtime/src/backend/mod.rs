//! The engines SME drives for a policy: the Docker Engine (containers and
//! Swarm services) today, and the record of a run's calls, which any
//! engine can be wrapped in.

pub mod docker;
pub mod recording;
