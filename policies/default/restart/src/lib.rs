//! The built-in `restart` policy: `docker restart`, then check the container
//! runs. A grace period longer than `grace_cap_s` is shortened so the answer
//! reaches the agent within its 20 s.
//!
//! On a Docker Swarm service (`[swarm]`), the service is redeployed (`docker
//! service update --force`) and the update waited for (at most
//! `swarm_wait_ms`); a service scaled to zero is started as `start` does.

use sme_guest::Request;
use sme_guest::edgex::{Budget, Lifecycle, lifecycle_with};

sme_guest::settings! {
    int GRACE_CAP_S = "grace_cap_s", 10, 0..=10,
        "Longest grace period asked of Docker, in seconds; a container's longer StopTimeout is shortened to it";
    int SWARM_WAIT_MS = "swarm_wait_ms", 12000, 0..=14000,
        "How long to wait for a Swarm service's tasks, in milliseconds";
}

fn restart(request: Request) -> Result<String, String> {
    let budget = Budget {
        grace_cap_s: u32::try_from(GRACE_CAP_S.get()).unwrap_or(0),
        swarm_wait_ms: u32::try_from(SWARM_WAIT_MS.get()).unwrap_or(0),
    };
    lifecycle_with(Lifecycle::Restart, &request.service, budget)
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

    mod swarm {
        use super::*;
        use sme_guest::services::{TaskState, UpdateState};

        const SVC: &str = "edgex-core-data";

        fn on(service: testing::ServiceBuilder) -> Scene {
            Scene::new().service(service).swarm_target(Some(SVC))
        }

        fn run() -> Result<String, String> {
            restart(testing::request(SVC, "restart"))
        }

        const NOT_RUNNING: &str = "Error restarting service: service is not running but should be";

        #[test]
        fn redeploys_every_task() {
            on(testing::service(SVC).replicas(2)).install();
            let before = testing::service_state(SVC).unwrap();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "inspect edgex-core-data",
                    "redeploy edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            let after = testing::service_state(SVC).unwrap();
            assert!(after.version > before.version);
            assert_eq!(after.update_state, UpdateState::Completed);
            assert_eq!((after.replicas, after.running_tasks), (Some(2), 2));
            let running: Vec<&str> = after
                .tasks
                .iter()
                .filter(|task| task.state == TaskState::Running)
                .map(|task| task.id.as_str())
                .collect();
            assert_eq!(running.len(), 2);
            for task in &before.tasks {
                assert!(
                    !running.contains(&task.id.as_str()),
                    "{} was replaced",
                    task.id
                );
            }
            assert_eq!(after.tasks.len(), 4, "the old tasks are kept, shut down");
        }

        #[test]
        fn waits_for_the_update_to_complete() {
            on(testing::service(SVC)
                .replicas(2)
                .starts_after_ms(400)
                .stops_after_ms(200))
            .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            // Looks at once, then after 100, 300 and 700 ms (pauses
            // doubling from 100 ms): done at the fourth look.
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 700);
            assert_eq!(testing::calls().len(), 2 + 4);
        }

        #[test]
        fn a_global_service_is_redeployed_too() {
            on(testing::service(SVC).global().nodes(2)).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            let after = testing::service_state(SVC).unwrap();
            assert_eq!((after.desired_tasks, after.running_tasks), (2, 2));
            assert_eq!(after.version, 11);
        }

        #[test]
        fn a_service_at_zero_is_started() {
            on(testing::service(SVC).replicas(0).note("replicas", "2")).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "inspect edgex-core-data",
                    "scale edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            let after = testing::service_state(SVC).unwrap();
            assert_eq!((after.replicas, after.running_tasks), (Some(2), 2));
        }

        #[test]
        fn a_paused_update_prints_dockers_message() {
            on(testing::service(SVC).replicas(1).failing()).install();
            let printed = run().unwrap_err();
            let after = testing::service_state(SVC).unwrap();
            assert_eq!(after.update_state, UpdateState::Paused);
            assert_eq!(
                printed,
                format!(
                    "Error restarting service: update paused: update paused due to failure or \
                     early termination of task {}",
                    // Docker's newest failed task (a retry waits before it).
                    after
                        .tasks
                        .iter()
                        .find(|task| task.state == sme_guest::services::TaskState::Failed)
                        .unwrap()
                        .id
                )
            );
        }

        #[test]
        fn a_rolled_back_update_is_reported() {
            on(testing::service(SVC)
                .update_ends(UpdateState::RollbackCompleted, "rollback completed"))
            .install();
            assert_eq!(
                run(),
                Err(
                    "Error restarting service: update rollback-completed: rollback completed"
                        .to_owned()
                )
            );
        }

        #[test]
        fn tasks_that_start_too_late_are_reported() {
            on(testing::service(SVC).starts_after_ms(20_000))
                .setting("swarm_wait_ms", "14000")
                .install();
            assert_eq!(run(), Err(NOT_RUNNING.to_owned()));
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 14_000);
        }

        #[test]
        fn an_out_of_range_wait_is_the_default() {
            on(testing::service(SVC).starts_after_ms(20_000))
                .setting("swarm_wait_ms", "20000")
                .install();
            assert_eq!(run(), Err(NOT_RUNNING.to_owned()));
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 12_000);
        }

        #[test]
        fn a_missing_service_prints_the_daemons_words() {
            Scene::new().swarm_target(Some(SVC)).install();
            assert_eq!(
                run(),
                Err(
                    "exit status 1: Error response from daemon: service edgex-core-data not found\n"
                        .to_owned()
                )
            );
        }

        #[test]
        fn a_denied_redeploy_names_the_denial_and_changes_nothing() {
            on(testing::service(SVC)).deny("redeploy", SVC).install();
            let printed = run().unwrap_err();
            assert!(
                printed.starts_with("Error restarting service: module under test may not redeploy"),
                "{printed}"
            );
            assert_eq!(
                testing::calls(),
                ["inspect edgex-core-data", "redeploy edgex-core-data denied"]
            );
            assert_eq!(testing::service_state(SVC).unwrap().version, 10);
        }

        #[test]
        fn auto_mode_without_the_service_is_the_container_path() {
            Scene::new()
                .container(testing::container(SVC))
                .swarm_auto(SVC)
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "inspect edgex-core-data",
                    "inspect edgex-core-data",
                    "restart edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            assert_eq!(
                testing::timeouts(),
                [("restart edgex-core-data".to_owned(), Some(10))]
            );
        }
    }
}
