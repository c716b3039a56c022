//! A new operation, `pause`, added by dropping `pause.wasm` into the policy
//! directory: freezes the service's container and checks it is paused.
//! Grant it `pause` (and `inspect`) on `self` in the configuration.

use sme_guest::containers::{self, Status};
use sme_guest::edgex::{self, SUCCESS};
use sme_guest::{Error, Request};

const PREFIX: &str = "Error pausing service";

fn pause(request: Request) -> Result<String, String> {
    let service = &request.service;
    let failed = |error: Error| match error {
        Error::NotFound(_) => edgex::not_found(service),
        other => format!("{PREFIX}: {}", other.message()),
    };
    containers::pause(service).map_err(failed)?;
    let container = containers::inspect(service).map_err(failed)?;
    if container.status != Status::Paused {
        return Err(format!("{PREFIX}: service is not paused but should be"));
    }
    Ok(SUCCESS.to_owned())
}

sme_guest::operation!(pause);

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::testing::{self, Scene};

    #[test]
    fn pauses_a_running_container() {
        Scene::new()
            .container(testing::container("edgex-core-data"))
            .install();
        assert_eq!(
            pause(testing::request("edgex-core-data", "pause")),
            Ok(SUCCESS.to_owned())
        );
        assert_eq!(
            testing::calls(),
            ["pause edgex-core-data", "inspect edgex-core-data"]
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(
            (container.status, container.running),
            (Status::Paused, true)
        );
    }

    #[test]
    fn a_paused_container_is_refused_with_the_daemons_words() {
        Scene::new()
            .container(testing::container("edgex-core-data").status(Status::Paused))
            .install();
        let id = testing::state("edgex-core-data").unwrap().id;
        assert_eq!(
            pause(testing::request("edgex-core-data", "pause")),
            Err(format!(
                "Error pausing service: Container {id} is already paused"
            ))
        );
    }

    #[test]
    fn a_stopped_container_is_refused_with_the_daemons_words() {
        Scene::new()
            .container(testing::container("edgex-core-data").status(Status::Exited))
            .install();
        let id = testing::state("edgex-core-data").unwrap().id;
        assert_eq!(
            pause(testing::request("edgex-core-data", "pause")),
            Err(format!(
                "Error pausing service: Container {id} is not running"
            ))
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(container.status, Status::Exited);
    }

    #[test]
    fn a_missing_container_is_not_found() {
        Scene::new().install();
        assert_eq!(
            pause(testing::request("edgex-x", "pause")),
            Err("container edgex-x not found".to_owned())
        );
        assert_eq!(testing::calls(), ["pause edgex-x"]);
    }
}
