//! The built-in `metrics` policy: the reference executor's `cpuUsedPercent`,
//! `memoryUsed` and `raw`, from a fast one-shot sample and a CPU reading kept
//! from a run at most `cpu_window_ms` ago (else measured as docker does).

use sme_guest::{Metric, Request, edgex};

sme_guest::settings! {
    int CPU_WINDOW_MS = "cpu_window_ms", 5000, 1000..=120000,
        "Oldest kept CPU reading CPU % is measured against, in milliseconds; older means measuring as docker stats does (1 to 2 s)";
}

fn metrics(request: Request) -> Result<Vec<Metric>, String> {
    let window = u32::try_from(CPU_WINDOW_MS.get()).unwrap_or(5000);
    edgex::metrics_within(&request.service, window)
}

sme_guest::metrics!(metrics);
