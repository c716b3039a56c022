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

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::testing::{self, Scene};

    /// A container with a health check that reports `after` once the
    /// restart has started it (no check has run: `starting` until then).
    fn scene(after: Health) {
        let container = testing::container("edgex-core-data").health(Health::Healthy);
        let container = match after {
            Health::Starting => container,
            Health::None => testing::container("edgex-core-data"),
            other => container.health_after_start(other),
        };
        Scene::new().container(container).install();
    }

    #[test]
    fn a_healthy_container_is_restarted() {
        scene(Health::Healthy);
        assert_eq!(
            restart(testing::request("edgex-core-data", "restart")),
            Ok(SUCCESS.to_owned())
        );
        assert_eq!(
            testing::calls(),
            [
                "inspect edgex-core-data",
                "restart edgex-core-data",
                "inspect edgex-core-data"
            ]
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(container.started_ms, Some(testing::NOW_MS));
    }

    #[test]
    fn a_container_without_health_check_is_done_once_running() {
        scene(Health::None);
        assert_eq!(
            restart(testing::request("edgex-core-data", "restart")),
            Ok(SUCCESS.to_owned())
        );
    }

    #[test]
    fn an_unhealthy_container_fails_the_restart() {
        scene(Health::Unhealthy);
        assert_eq!(
            restart(testing::request("edgex-core-data", "restart")),
            Err(
                "Error restarting service: edgex-core-data is unhealthy after the restart"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_container_still_starting_fails_after_the_wait() {
        scene(Health::Starting);
        assert_eq!(
            restart(testing::request("edgex-core-data", "restart")),
            Err(
                "Error restarting service: edgex-core-data did not become healthy within 8 s"
                    .to_owned()
            )
        );
        // One look every 500 ms from 0 to 8 s, without really waiting.
        let inspections = testing::calls()
            .iter()
            .filter(|call| *call == "inspect edgex-core-data")
            .count();
        assert_eq!(inspections, 1 + 17);
        assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + WAIT_MS);
    }

    #[test]
    fn a_missing_container_prints_the_cli_error() {
        Scene::new().install();
        assert_eq!(
            restart(testing::request("edgex-x", "restart")),
            Err(
                "exit status 1: Error response from daemon: No such container: edgex-x\n"
                    .to_owned()
            )
        );
    }
}
