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

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::containers::Status;
    use sme_guest::edgex::SUCCESS;
    use sme_guest::log::Level;
    use sme_guest::testing::{self, Scene};

    #[test]
    fn stops_a_running_container_with_its_own_grace_period() {
        Scene::new()
            .container(testing::container("edgex-core-data").stop_timeout(Some(3)))
            .install();
        assert_eq!(
            stop(testing::request("edgex-core-data", "stop")),
            Ok(SUCCESS.to_owned())
        );
        assert_eq!(
            testing::calls(),
            [
                "inspect edgex-core-data",
                "stop edgex-core-data",
                "inspect edgex-core-data"
            ]
        );
        assert_eq!(
            testing::timeouts(),
            [("stop edgex-core-data".to_owned(), Some(3))]
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(
            (container.status, container.running),
            (Status::Exited, false)
        );
        assert_eq!(container.finished_ms, Some(testing::NOW_MS));
        assert!(testing::logs().is_empty());
    }

    #[test]
    fn a_long_grace_period_is_shortened_to_the_setting() {
        Scene::new()
            .container(testing::container("edgex-core-data").stop_timeout(Some(30)))
            .setting("grace_cap_s", "5")
            .install();
        assert_eq!(
            stop(testing::request("edgex-core-data", "stop")),
            Ok(SUCCESS.to_owned())
        );
        assert_eq!(
            testing::timeouts(),
            [("stop edgex-core-data".to_owned(), Some(5))]
        );
        let logs = testing::logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].0, Level::Warn);
        assert!(logs[0].1.contains("shortened from 30 s to 5 s"), "{logs:?}");
    }

    #[test]
    fn the_default_cap_is_dockers_default() {
        Scene::new()
            .container(testing::container("edgex-core-data"))
            .install();
        stop(testing::request("edgex-core-data", "stop")).unwrap();
        assert_eq!(
            testing::timeouts(),
            [("stop edgex-core-data".to_owned(), Some(10))]
        );
    }

    #[test]
    fn a_missing_container_prints_the_cli_error() {
        Scene::new().install();
        assert_eq!(
            stop(testing::request("edgex-x", "stop")),
            Err(
                "exit status 1: Error response from daemon: No such container: edgex-x\n"
                    .to_owned()
            )
        );
        assert_eq!(testing::calls(), ["inspect edgex-x"]);
    }

    #[test]
    fn a_denied_stop_names_the_denial_and_changes_nothing() {
        Scene::new()
            .container(testing::container("edgex-core-data"))
            .deny("stop", "edgex-core-data")
            .install();
        let printed = stop(testing::request("edgex-core-data", "stop")).unwrap_err();
        assert!(
            printed.starts_with("Error stopping service: module under test may not stop"),
            "{printed}"
        );
        assert_eq!(
            testing::calls(),
            ["inspect edgex-core-data", "stop edgex-core-data denied"]
        );
        let container = testing::state("edgex-core-data").unwrap();
        assert_eq!(container.status, Status::Running);
    }
}
