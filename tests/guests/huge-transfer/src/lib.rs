//! Hostile: hands the host one 48 MiB string, to make it copy that much out
//! of the guest's memory. Where it goes is chosen by the service name:
//!
//! - `-answer-`: as the `ok` answer. Refused by the output limit.
//! - `-name-`: as the container name of `containers.inspect`.
//! - `-log-`: as a log message.
//!
//! If the host takes the string, the policy refuses with a short text
//! saying so.

use sme_guest::{Request, containers, log};

/// Large beside the runtime's fixed overhead, small enough to fit in the
/// default 64 MiB memory limit with the rest of the guest.
const HUGE: usize = 48 << 20;

fn run(request: Request) -> Result<String, String> {
    let service = request.service;
    let huge = "x".repeat(HUGE);
    if service.contains("-answer-") {
        return Ok(huge);
    }
    if service.contains("-name-") {
        let answer = containers::inspect(&huge).map(|_| ());
        return Err(format!("the host took the name: {answer:?}"));
    }
    if service.contains("-log-") {
        log::warn(&huge);
        return Err("the host took the log message".to_owned());
    }
    Err(format!("no behaviour for {service}"))
}

sme_guest::operation!(run);
