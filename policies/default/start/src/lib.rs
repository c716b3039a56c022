//! The built-in `start` policy: `docker start`, then check the container runs.
//!
//! On a Docker Swarm service (`[swarm]`), a service scaled to zero is scaled
//! back to the count `stop` noted, and its tasks are waited for (at most
//! `swarm_wait_ms`).

use sme_guest::Request;
use sme_guest::edgex::{Budget, Lifecycle, lifecycle_with};

sme_guest::settings! {
    int SWARM_WAIT_MS = "swarm_wait_ms", 12000, 0..=14000,
        "How long to wait for a Swarm service's tasks, in milliseconds";
}

fn start(request: Request) -> Result<String, String> {
    let budget = Budget {
        swarm_wait_ms: u32::try_from(SWARM_WAIT_MS.get()).unwrap_or(0),
        ..Budget::default()
    };
    lifecycle_with(Lifecycle::Start, &request.service, budget)
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

    mod swarm {
        use super::*;
        use sme_guest::services::{Mode, TaskState};

        const SVC: &str = "edgex-core-data";

        fn on(service: testing::ServiceBuilder) -> Scene {
            Scene::new().service(service).swarm_target(Some(SVC))
        }

        fn run() -> Result<String, String> {
            start(testing::request(SVC, "start"))
        }

        const NOT_RUNNING: &str = "Error starting service: service is not running but should be";

        #[test]
        fn scales_a_stopped_service_back_to_its_noted_count() {
            on(testing::service(SVC).replicas(0).note("replicas", "3")).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "inspect edgex-core-data",
                    "scale edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            let service = testing::service_state(SVC).unwrap();
            assert_eq!((service.replicas, service.running_tasks), (Some(3), 3));
            assert_eq!(service.note("replicas"), None, "the note is used up");
        }

        #[test]
        fn a_stop_then_a_start_gives_back_the_same_count() {
            on(testing::service(SVC).replicas(4)).install();
            let stopped = sme_guest::edgex::lifecycle(sme_guest::edgex::Lifecycle::Stop, SVC);
            assert_eq!(stopped, Ok(SUCCESS.to_owned()));
            assert_eq!(testing::service_state(SVC).unwrap().replicas, Some(0));
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            let service = testing::service_state(SVC).unwrap();
            assert_eq!((service.replicas, service.running_tasks), (Some(4), 4));
        }

        #[test]
        fn without_a_good_note_one_replica_is_started() {
            for note in [None, Some("many"), Some("0"), Some("-2")] {
                let mut service = testing::service(SVC).replicas(0);
                if let Some(note) = note {
                    service = service.note("replicas", note);
                }
                on(service).install();
                assert_eq!(run(), Ok(SUCCESS.to_owned()), "{note:?}");
                let service = testing::service_state(SVC).unwrap();
                assert_eq!(
                    (service.replicas, service.running_tasks),
                    (Some(1), 1),
                    "{note:?}"
                );
            }
        }

        #[test]
        fn a_running_service_gets_no_update() {
            on(testing::service(SVC).replicas(2)).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(testing::calls(), ["inspect edgex-core-data"]);
            assert_eq!(testing::service_state(SVC).unwrap().version, 10);
        }

        #[test]
        fn waits_for_the_tasks_to_start() {
            on(testing::service(SVC).replicas(0).starts_after_ms(1_250)).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            // Looks at 0, 100, 300, 700 and 1500 ms.
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 1_500);
            assert_eq!(testing::calls().len(), 2 + 5);
        }

        #[test]
        fn tasks_that_start_too_late_are_reported() {
            on(testing::service(SVC).replicas(0).starts_after_ms(5_000))
                .setting("swarm_wait_ms", "2000")
                .install();
            assert_eq!(run(), Err(NOT_RUNNING.to_owned()));
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 2_000);
        }

        #[test]
        fn failing_tasks_are_reported_as_not_running() {
            on(testing::service(SVC)
                .replicas(0)
                .note("replicas", "2")
                .failing())
            .install();
            assert_eq!(run(), Err(NOT_RUNNING.to_owned()));
            let service = testing::service_state(SVC).unwrap();
            assert_eq!(service.replicas, Some(2), "the scale stands");
            // As Docker keeps them: each slot's failed task, and its retry.
            let failed: Vec<_> = (service.tasks.iter())
                .filter(|task| task.state == TaskState::Failed)
                .collect();
            assert_eq!(failed.len(), 2);
            for task in failed {
                assert_eq!(task.err.as_deref(), Some("task: non-zero exit (1)"));
            }
            let retries = (service.tasks.iter()).filter(|task| task.state == TaskState::Ready);
            assert_eq!(retries.count(), 2);
            assert_eq!(
                sme_guest::clock::now_ms(),
                testing::NOW_MS + 12_000,
                "the default wait"
            );
        }

        #[test]
        fn a_running_global_service_succeeds_without_a_write() {
            on(testing::service(SVC).global().nodes(3)).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(testing::calls(), ["inspect edgex-core-data"]);
            let service = testing::service_state(SVC).unwrap();
            assert_eq!((service.mode, service.desired_tasks), (Mode::Global, 3));
        }

        #[test]
        fn a_failing_global_service_is_reported_without_a_write() {
            on(testing::service(SVC).global().nodes(2).failing())
                .setting("swarm_wait_ms", "500")
                .install();
            assert_eq!(run(), Err(NOT_RUNNING.to_owned()));
            assert!(
                testing::calls()
                    .iter()
                    .all(|call| call == "inspect edgex-core-data")
            );
        }

        #[test]
        fn a_missing_service_prints_the_daemons_words_only() {
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
        fn a_denied_scale_names_the_denial() {
            on(testing::service(SVC).replicas(0))
                .deny("scale", SVC)
                .install();
            let printed = run().unwrap_err();
            assert!(
                printed.starts_with("Error starting service: module under test may not scale"),
                "{printed}"
            );
            assert_eq!(testing::service_state(SVC).unwrap().replicas, Some(0));
        }

        #[test]
        fn a_denied_inspect_names_the_denial() {
            on(testing::service(SVC)).deny("inspect", SVC).install();
            let printed = run().unwrap_err();
            assert!(
                printed.starts_with("Error starting service: module under test may not inspect"),
                "{printed}"
            );
            assert_eq!(testing::calls(), ["inspect edgex-core-data denied"]);
        }

        #[test]
        fn auto_mode_without_the_service_is_the_container_path() {
            Scene::new()
                .container(testing::container(SVC).status(Status::Exited))
                .swarm_auto(SVC)
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "inspect edgex-core-data",
                    "start edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            assert_eq!(testing::state(SVC).unwrap().status, Status::Running);
        }

        #[test]
        fn a_container_is_untouched_on_a_swarm() {
            Scene::new()
                .container(testing::container(SVC).status(Status::Exited))
                .service(testing::service(SVC).replicas(0))
                .swarm_auto(SVC)
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(testing::state(SVC).unwrap().status, Status::Exited);
            assert_eq!(testing::service_state(SVC).unwrap().running_tasks, 1);
        }
    }

    mod systemd {
        use super::*;
        use sme_guest::edgex::SUCCESS;

        const UNIT: &str = "edgex-core-data.service";

        fn on(unit: testing::UnitBuilder) -> Scene {
            Scene::new().unit(unit).systemd_target(Some(UNIT))
        }

        fn run() -> Result<String, String> {
            start(testing::request("edgex-core-data", "start"))
        }

        #[test]
        fn starts_an_inactive_unit() {
            on(testing::unit(UNIT).inactive()).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(testing::calls(), [format!("start {UNIT}")]);
            assert_eq!(testing::unit_state(UNIT).unwrap().active_state, "active");
        }

        #[test]
        fn a_unit_that_fails_as_it_starts_is_a_failure_with_its_result() {
            on(testing::unit(UNIT).fails()).install();
            assert_eq!(
                run(),
                Err(format!(
                    "Error starting service: service is not running but should be (unit {UNIT} \
                     is failed/failed, result exit-code, job failed)"
                ))
            );
        }

        #[test]
        fn a_masked_unit_is_refused_in_systemds_words() {
            on(testing::unit(UNIT).masked()).install();
            assert_eq!(
                run(),
                Err(format!(
                    "Error starting service: org.freedesktop.systemd1.UnitMasked: Unit {UNIT} is masked."
                ))
            );
            assert_eq!(testing::unit_state(UNIT).unwrap().active_state, "inactive");
        }
    }
}
