//! The built-in `restart` policy: `docker restart`, then check the container
//! runs. A grace period longer than `grace_cap_s` is shortened so the answer
//! reaches the agent within its 20 s.

use sme_guest::Request;
use sme_guest::edgex::{Lifecycle, lifecycle_within};

sme_guest::settings! {
    int GRACE_CAP_S = "grace_cap_s", 10, 0..=10,
        "Longest grace period asked of Docker, in seconds; a container's longer StopTimeout is shortened to it";
}

fn restart(request: Request) -> Result<String, String> {
    let cap = u32::try_from(GRACE_CAP_S.get()).unwrap_or(0);
    lifecycle_within(Lifecycle::Restart, &request.service, cap)
}

sme_guest::operation!(restart);

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::containers::Status;
    use sme_guest::edgex::SUCCESS;
    use sme_guest::testing::{self, Scene};

    #[test]
    fn restarts_a_running_container() {
        Scene::new()
            .container(testing::container("edgex-core-data").restart_count(2))
            .install();
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
        assert_eq!(container.status, Status::Running);
        assert_eq!(container.started_ms, Some(testing::NOW_MS));
        assert_eq!(container.finished_ms, Some(testing::NOW_MS));
        assert_eq!(container.restart_count, 2, "docker restart counts nothing");
    }

    #[test]
    fn restarts_a_stopped_container() {
        Scene::new()
            .container(testing::container("edgex-core-data").status(Status::Exited))
            .setting("grace_cap_s", "2")
            .install();
        assert_eq!(
            restart(testing::request("edgex-core-data", "restart")),
            Ok(SUCCESS.to_owned())
        );
        assert_eq!(
            testing::timeouts(),
            [("restart edgex-core-data".to_owned(), Some(2))]
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(container.status, Status::Running);
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

    #[test]
    fn a_daemon_failure_prints_the_daemons_words() {
        Scene::new()
            .container(testing::container("edgex-core-data").fail("restart", "driver failed"))
            .install();
        assert_eq!(
            restart(testing::request("edgex-core-data", "restart")),
            Err("exit status 1: Error response from daemon: driver failed\n".to_owned())
        );
        assert_eq!(
            testing::calls(),
            ["inspect edgex-core-data", "restart edgex-core-data"]
        );
    }
}
