//! The built-in `metrics` policy: the reference executor's `cpuUsedPercent`,
//! `memoryUsed` and `raw`, from a fast one-shot sample and the previous one.

use sme_guest::{Metric, Request, edgex};

fn metrics(request: Request) -> Result<Vec<Metric>, String> {
    edgex::metrics(&request.service)
}

sme_guest::metrics!(metrics);
