//! Installed as `probe-<verb>.wasm`: makes that lifecycle call on its own
//! service and answers, as JSON, the host's answer and what inspecting the
//! service and listing the running containers show before and after, so a
//! test can compare a dry run with the real thing.

use sme_guest::Request;
use sme_guest::containers::{self, Filter, Health, Status};

fn status(status: Status) -> &'static str {
    match status {
        Status::Created => "created",
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Restarting => "restarting",
        Status::Removing => "removing",
        Status::Exited => "exited",
        Status::Dead => "dead",
    }
}

fn health(health: Health) -> &'static str {
    match health {
        Health::None => "none",
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    }
}

fn number(value: Option<u64>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The service's state as inspection and a listing without `all` show it.
fn describe(service: &str) -> Result<String, String> {
    let container = containers::inspect(service)?;
    let filter = Filter {
        name: Some(service.to_owned()),
        label: None,
        all: false,
    };
    let listed = containers::list(&filter)?
        .first()
        .map_or_else(|| "null".to_owned(), |row| quoted(status(row.status)));
    Ok(format!(
        "{{\"status\":\"{}\",\"running\":{},\"exit_code\":{},\"restart_count\":{},\
         \"started_ms\":{},\"finished_ms\":{},\"health\":\"{}\",\"listed\":{listed}}}",
        status(container.status),
        container.running,
        container.exit_code,
        container.restart_count,
        number(container.started_ms),
        number(container.finished_ms),
        health(container.health),
    ))
}

fn run(request: Request) -> Result<String, String> {
    let service = request.service.as_str();
    let before = describe(service)?;
    let answer = match request.operation.strip_prefix("probe-") {
        Some("start") => containers::start(service),
        Some("stop") => containers::stop(service, Some(5)),
        Some("restart") => containers::restart(service, Some(5)),
        Some("pause") => containers::pause(service),
        Some("unpause") => containers::unpause(service),
        _ => return Err(format!("no lifecycle call named by {}", request.operation)),
    };
    let answer = match answer {
        Ok(()) => quoted("ok"),
        Err(error) => quoted(error.message()),
    };
    let after = describe(service)?;
    Ok(format!(
        "{{\"answer\":{answer},\"before\":{before},\"after\":{after}}}"
    ))
}

sme_guest::operation!(run);
