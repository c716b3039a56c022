//! The built-in `start` policy: `docker start`, then check the container runs.

use sme_guest::Request;
use sme_guest::edgex::{Lifecycle, lifecycle};

fn start(request: Request) -> Result<String, String> {
    lifecycle(Lifecycle::Start, &request.service)
}

sme_guest::operation!(start);

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::containers::Status;
    use sme_guest::edgex::SUCCESS;
    use sme_guest::testing::{self, Scene};

    #[test]
    fn starts_a_stopped_container() {
        Scene::new()
            .container(testing::container("edgex-core-data").status(Status::Exited))
            .install();
        assert_eq!(
            start(testing::request("edgex-core-data", "start")),
            Ok(SUCCESS.to_owned())
        );
        assert_eq!(
            testing::calls(),
            ["start edgex-core-data", "inspect edgex-core-data"]
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(container.status, Status::Running);
        assert_eq!(container.started_ms, Some(testing::NOW_MS));
    }

    #[test]
    fn starting_a_running_container_succeeds() {
        Scene::new()
            .container(testing::container("edgex-core-data"))
            .install();
        assert_eq!(
            start(testing::request("edgex-core-data", "start")),
            Ok(SUCCESS.to_owned())
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(container.started_ms, Some(testing::STARTED_MS));
    }

    #[test]
    fn a_missing_container_prints_the_cli_error() {
        Scene::new().install();
        assert_eq!(
            start(testing::request("edgex-x", "start")),
            Err(
                "exit status 1: Error response from daemon: No such container: edgex-x\n\
                 Error: failed to start containers: edgex-x\n"
                    .to_owned()
            )
        );
        assert_eq!(testing::calls(), ["start edgex-x"]);
    }

    #[test]
    fn a_paused_container_is_refused_like_the_daemon() {
        Scene::new()
            .container(testing::container("edgex-core-data").status(Status::Paused))
            .install();
        assert_eq!(
            start(testing::request("edgex-core-data", "start")),
            Err("exit status 1: Error response from daemon: \
                 cannot start a paused container, try unpause instead\n\
                 Error: failed to start containers: edgex-core-data\n"
                .to_owned())
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(container.status, Status::Paused);
    }
}
