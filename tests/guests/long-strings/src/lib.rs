//! Hostile: hands the host megabyte-long strings full of control characters
//! (a container name, a list filter, a log message, a stop target) and
//! refuses with a long text, to make the audit log and the log file grow.

use sme_guest::containers::{self, Filter};

fn run(_: sme_guest::Request) -> Result<String, String> {
    let huge = "\u{1}\"x".repeat(350_000);
    let _ = containers::inspect(&huge);
    let _ = containers::stop(&huge, Some(1));
    let _ = containers::list(&Filter {
        name: Some(huge.clone()),
        label: Some(huge.clone()),
        all: true,
    });
    sme_guest::log::warn(&huge);
    Err("\u{1}".repeat(60 << 10))
}

sme_guest::operation!(run);
