//! The built-in `stop` policy: `docker stop`, then check the container is not running.

use sme_guest::Request;
use sme_guest::edgex::{Lifecycle, lifecycle};

fn stop(request: Request) -> Result<String, String> {
    lifecycle(Lifecycle::Stop, &request.service)
}

sme_guest::operation!(stop);
