//! A metrics add-on: adds `uptimeSeconds` and `restartCount` to the object
//! `metrics` prints, without touching the default metrics policy. Install it
//! as `metrics.d/uptime.wasm` and grant it `inspect` on `self`.

use sme_guest::{Metric, MetricValue, Request, clock, containers};

fn uptime(request: Request) -> Result<Vec<Metric>, String> {
    let container = containers::inspect(&request.service)?;
    let uptime_ms = match (container.running, container.started_ms) {
        (true, Some(started)) => clock::now_ms().saturating_sub(started),
        _ => 0,
    };
    Ok(vec![
        Metric {
            name: "uptimeSeconds".to_owned(),
            value: MetricValue::Integer((uptime_ms / 1000) as i64),
        },
        Metric {
            name: "restartCount".to_owned(),
            value: MetricValue::Integer(container.restart_count.into()),
        },
    ])
}

sme_guest::metrics!(uptime);
