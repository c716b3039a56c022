//! A `restart` that waits until the container reports healthy.
//!
//! The reference executor calls a restart done as soon as the container is
//! running, even if the service inside is still starting or failing. This
//! policy restarts, then polls the container's health check until it is
//! `healthy` (or the container has no health check and is running), and
//! fails if it turns `unhealthy` or stays `starting` past [`WAIT_MS`].
//! Install it as `restart.wasm`.

use sme_guest::containers::{self, Health};
use sme_guest::edgex::{self, Lifecycle, SUCCESS};
use sme_guest::{Request, clock};

/// How long to wait for the health check after the restart.
const WAIT_MS: u64 = 8_000;
/// How often to look at the health check.
const POLL_MS: u32 = 500;

fn restart(request: Request) -> Result<String, String> {
    let service = &request.service;
    let prefix = Lifecycle::Restart.prefix();
    Lifecycle::Restart
        .perform(service)
        .map_err(|error| edgex::failure(Lifecycle::Restart, service, &error))?;
    let started = clock::now_ms();
    loop {
        let container = containers::inspect(service)
            .map_err(|error| edgex::failure(Lifecycle::Restart, service, &error))?;
        match (container.running, container.health) {
            (false, _) => return Err(format!("{prefix}: service is not running but should be")),
            (true, Health::Healthy | Health::None) => return Ok(SUCCESS.to_owned()),
            (true, Health::Unhealthy) => {
                return Err(format!(
                    "{prefix}: {service} is unhealthy after the restart"
                ));
            }
            (true, Health::Starting) => {}
        }
        if clock::now_ms().saturating_sub(started) >= WAIT_MS {
            return Err(format!(
                "{prefix}: {service} did not become healthy within {} s",
                WAIT_MS / 1000
            ));
        }
        clock::sleep(POLL_MS)?;
    }
}

sme_guest::operation!(restart);
