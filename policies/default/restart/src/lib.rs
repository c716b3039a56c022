//! The built-in `restart` policy: `docker restart`, then check the container runs.

use sme_guest::Request;
use sme_guest::edgex::{Lifecycle, lifecycle};

fn restart(request: Request) -> Result<String, String> {
    lifecycle(Lifecycle::Restart, &request.service)
}

sme_guest::operation!(restart);
