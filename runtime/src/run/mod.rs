//! One run of SME as the agent starts it: the executor contract
//! ([`executor`]), running one module under its limits ([`invoke`]), the
//! metrics object ([`metrics`]), logging, and what a deployment gives it
//! ([`deployment`], for `smectl check`).

pub mod deployment;
pub mod executor;
pub mod invoke;
pub mod logging;
pub mod metrics;
