//! The built-in `start` policy: `docker start`, then check the container runs.

use sme_guest::Request;
use sme_guest::edgex::{Lifecycle, lifecycle};

fn start(request: Request) -> Result<String, String> {
    lifecycle(Lifecycle::Start, &request.service)
}

sme_guest::operation!(start);
