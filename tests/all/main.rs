//! SME's integration tests: the real `sme` and `smectl` binaries, real guest
//! components built from `policies/` and `tests/guests/`, and the real Docker
//! Engine. One binary, a module per topic.

mod audit_chain;
mod budgets;
mod contract;
mod counters;
mod deb;
mod deploy;
mod differences;
mod digests;
mod faults;
mod grace;
mod kit;
mod load;
mod performance;
mod policies;
mod python;
mod security;
mod settings;
mod shape;
mod signing;
mod sizes;
mod smectl;
mod state;
mod support;
mod swarm;
mod swarm_sim;
mod systemd;
mod trust;
mod unit_executor;
