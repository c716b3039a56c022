//! The built-in `stop` policy: `docker stop`, then check the container is not
//! running. A grace period longer than `grace_cap_s` is shortened so the
//! answer reaches the agent within its 20 s.

use sme_guest::Request;
use sme_guest::edgex::{Lifecycle, lifecycle_within};

sme_guest::settings! {
    int GRACE_CAP_S = "grace_cap_s", 10, 0..=10,
        "Longest grace period asked of Docker, in seconds; a container's longer StopTimeout is shortened to it";
}

fn stop(request: Request) -> Result<String, String> {
    let cap = u32::try_from(GRACE_CAP_S.get()).unwrap_or(0);
    lifecycle_within(Lifecycle::Stop, &request.service, cap)
}

sme_guest::operation!(stop);
