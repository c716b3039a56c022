//! Hostile: a metrics module whose misbehaviour is chosen by the service
//! name, so one component serves several tests (install it as an add-on, or
//! as `metrics.wasm` in place of the base module):
//!
//! - `-nest-`: a `json` field nested 20000 levels deep, past what the agent's
//!   decoder accepts (10000). Refused by the nesting-depth limit.
//! - `-ctrl-`: a 20 KiB `text` field of control characters, which grows to
//!   120 KiB when printed JSON-escaped. Refused by the output limit.
//! - `-sleep-`: sleeps 1200 ms; if the clock refuses (the wait would pass the
//!   deadline), computes forever instead. Stopped by the request's deadline.

use sme_guest::{Metric, MetricValue, Request, clock};

fn collect(request: Request) -> Result<Vec<Metric>, String> {
    let service = request.service;
    let value = if service.contains("-nest-") {
        MetricValue::Json("[".repeat(20_000) + &"]".repeat(20_000))
    } else if service.contains("-ctrl-") {
        MetricValue::Text("\u{1}".repeat(20 << 10))
    } else if service.contains("-sleep-") {
        if clock::sleep(1200).is_err() {
            let mut counter = 0u64;
            loop {
                counter = std::hint::black_box(counter.wrapping_add(1));
            }
        }
        MetricValue::Boolean(true)
    } else {
        MetricValue::Boolean(false)
    };
    // Named after the time, so the component can be installed more than once
    // in one request without its fields colliding.
    Ok(vec![Metric {
        name: format!("hostile{}", clock::now_ms()),
        value,
    }])
}

sme_guest::metrics!(collect);
