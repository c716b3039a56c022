//! The built-in `stop` policy: `docker stop`, then check the container is not
//! running. A grace period longer than `grace_cap_s` is shortened so the
//! answer reaches the agent within its 20 s.
//!
//! On a Docker Swarm service (`[swarm]`), the service is scaled to zero with
//! its replica count kept in a note for `start`, and its tasks are waited
//! for (at most `swarm_wait_ms`).

use sme_guest::Request;
use sme_guest::edgex::{Budget, Lifecycle, lifecycle_with};

sme_guest::settings! {
    int GRACE_CAP_S = "grace_cap_s", 10, 0..=10,
        "Longest grace period asked of Docker, in seconds; a container's longer StopTimeout is shortened to it";
    int SWARM_WAIT_MS = "swarm_wait_ms", 12000, 0..=14000,
        "How long to wait for a Swarm service's tasks, in milliseconds";
}

fn stop(request: Request) -> Result<String, String> {
    let budget = Budget {
        grace_cap_s: u32::try_from(GRACE_CAP_S.get()).unwrap_or(0),
        swarm_wait_ms: u32::try_from(SWARM_WAIT_MS.get()).unwrap_or(0),
    };
    lifecycle_with(Lifecycle::Stop, &request.service, budget)
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

    mod swarm {
        use super::*;
        use sme_guest::services::TaskState;

        const SVC: &str = "edgex-core-data";

        fn on(service: testing::ServiceBuilder) -> Scene {
            Scene::new().service(service).swarm_target(Some(SVC))
        }

        fn run() -> Result<String, String> {
            stop(testing::request(SVC, "stop"))
        }

        #[test]
        fn scales_a_replicated_service_to_zero_and_notes_its_count() {
            on(testing::service(SVC).replicas(3)).install();
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
            assert_eq!((service.replicas, service.running_tasks), (Some(0), 0));
            assert_eq!(service.note("replicas"), Some("3"));
            assert!(service.tasks.is_empty(), "{:?}", service.tasks);
        }

        #[test]
        fn waits_for_the_tasks_to_stop() {
            on(testing::service(SVC).replicas(2).stops_after_ms(250)).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            // Scaled, then looked at (at once, after 100 and 300 ms) until
            // the tasks are gone.
            let calls = testing::calls();
            assert_eq!(
                calls[..2],
                ["inspect edgex-core-data", "scale edgex-core-data"]
            );
            assert_eq!(calls[2..], ["inspect edgex-core-data"; 3]);
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 300);
        }

        #[test]
        fn a_service_at_zero_is_left_alone() {
            on(testing::service(SVC).replicas(0).note("replicas", "4")).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(testing::calls(), ["inspect edgex-core-data"]);
            let service = testing::service_state(SVC).unwrap();
            assert_eq!(service.version, 10, "no update");
            assert_eq!(service.note("replicas"), Some("4"), "the count is kept");
        }

        #[test]
        fn a_global_service_is_refused_without_a_write() {
            on(testing::service(SVC).global().nodes(3)).install();
            assert_eq!(
                run(),
                Err(
                    "Error stopping service: service edgex-core-data is global (one task per \
                     node): SME stops only replicated services"
                        .to_owned()
                )
            );
            assert_eq!(testing::calls(), ["inspect edgex-core-data"]);
            assert_eq!(testing::service_state(SVC).unwrap().running_tasks, 3);
        }

        #[test]
        fn a_missing_service_prints_the_daemons_words() {
            Scene::new()
                .container(testing::container(SVC))
                .swarm_target(Some(SVC))
                .install();
            assert_eq!(
                run(),
                Err(
                    "exit status 1: Error response from daemon: service edgex-core-data not found\n"
                        .to_owned()
                )
            );
            assert_eq!(testing::calls(), ["inspect edgex-core-data"]);
            assert_eq!(testing::state(SVC).unwrap().status, Status::Running);
        }

        #[test]
        fn a_denied_scale_names_the_denial_and_changes_nothing() {
            on(testing::service(SVC).replicas(2))
                .deny("scale", SVC)
                .install();
            let printed = run().unwrap_err();
            assert!(
                printed.starts_with("Error stopping service: module under test may not scale"),
                "{printed}"
            );
            assert_eq!(
                testing::calls(),
                ["inspect edgex-core-data", "scale edgex-core-data denied"]
            );
            let service = testing::service_state(SVC).unwrap();
            assert_eq!((service.replicas, service.running_tasks), (Some(2), 2));
        }

        #[test]
        fn a_daemon_refusal_prints_its_words() {
            on(testing::service(SVC).fail("scale", "rpc error: update out of sequence")).install();
            assert_eq!(
                run(),
                Err(
                    "exit status 1: Error response from daemon: rpc error: update out of sequence\n"
                        .to_owned()
                )
            );
        }

        #[test]
        fn failing_tasks_are_not_running_so_a_stop_succeeds() {
            on(testing::service(SVC).replicas(2).failing()).install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            let service = testing::service_state(SVC).unwrap();
            assert_eq!(service.note("replicas"), Some("2"));
        }

        #[test]
        fn tasks_that_do_not_stop_in_time_are_reported() {
            on(testing::service(SVC).replicas(1).stops_after_ms(60_000))
                .setting("swarm_wait_ms", "1000")
                .install();
            assert_eq!(
                run(),
                Err("Error stopping service: service is running but shouldn't be".to_owned())
            );
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 1000);
            assert_eq!(
                testing::calls().len(),
                2 + 5,
                "looks at 0, 100, 300, 700 and 1000 ms"
            );
        }

        #[test]
        fn a_service_at_zero_still_stopping_is_waited_for_without_a_write() {
            on(testing::service(SVC).replicas(1).stops_after_ms(150)).install();
            // Someone else scaled it down a moment ago.
            sme_guest::services::scale(SVC, 0, &[]).unwrap();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "scale edgex-core-data",
                    "inspect edgex-core-data",
                    "inspect edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            assert_eq!(testing::service_state(SVC).unwrap().note("replicas"), None);
        }

        #[test]
        fn the_wait_is_the_setting() {
            Scene::new()
                .service(testing::service(SVC).replicas(1))
                .swarm_target(Some(SVC))
                .setting("swarm_wait_ms", "0")
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()), "scaled down at once");
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS, "no sleep");
        }

        #[test]
        fn auto_mode_without_the_service_is_the_container_path() {
            Scene::new()
                .container(testing::container(SVC).stop_timeout(Some(3)))
                .swarm_auto(SVC)
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "inspect edgex-core-data",
                    "inspect edgex-core-data",
                    "stop edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            assert_eq!(testing::state(SVC).unwrap().status, Status::Exited);
        }

        #[test]
        fn auto_mode_with_the_service_stops_the_service() {
            Scene::new()
                .container(testing::container(SVC))
                .service(testing::service(SVC).replicas(2))
                .swarm_auto(SVC)
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [
                    "inspect edgex-core-data",
                    "inspect edgex-core-data",
                    "scale edgex-core-data",
                    "inspect edgex-core-data"
                ]
            );
            assert_eq!(testing::state(SVC).unwrap().status, Status::Running);
            let service = testing::service_state(SVC).unwrap();
            assert!(service.tasks.iter().all(|t| t.state != TaskState::Running));
        }

        #[test]
        fn a_denied_look_up_in_auto_mode_is_refused() {
            Scene::new()
                .service(testing::service(SVC))
                .swarm_auto(SVC)
                .deny("inspect", SVC)
                .install();
            let printed = run().unwrap_err();
            assert!(
                printed.starts_with("Error stopping service: module under test may not inspect"),
                "{printed}"
            );
            assert_eq!(testing::calls(), ["inspect edgex-core-data denied"]);
        }
    }

    mod systemd {
        use super::*;

        const SNAP: &str = "snap.edgexfoundry.core-data.service";

        fn run() -> Result<String, String> {
            stop(testing::request("edgex-core-data", "stop"))
        }

        #[test]
        fn stops_the_mapped_unit_bounded_by_the_grace_cap() {
            Scene::new()
                .unit(testing::unit(SNAP))
                .systemd_target(Some(SNAP))
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(testing::calls(), [format!("stop {SNAP}")]);
            assert_eq!(testing::timeouts(), [(format!("stop {SNAP}"), Some(10))]);
            assert_eq!(testing::unit_state(SNAP).unwrap().active_state, "inactive");
        }

        #[test]
        fn a_unit_ignoring_sigterm_is_killed_at_the_cap_and_the_stop_succeeds() {
            Scene::new()
                .unit(testing::unit(SNAP).ignores_sigterm())
                .systemd_target(Some(SNAP))
                .setting("grace_cap_s", "3")
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS + 3_000);
            let unit = testing::unit_state(SNAP).unwrap();
            assert_eq!(
                (unit.active_state.as_str(), unit.result.as_str()),
                ("failed", "signal")
            );
        }

        #[test]
        fn an_inactive_unit_stops_at_once() {
            Scene::new()
                .unit(testing::unit(SNAP).inactive())
                .systemd_target(Some(SNAP))
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(sme_guest::clock::now_ms(), testing::NOW_MS);
        }

        #[test]
        fn a_missing_unit_prints_systemds_words() {
            Scene::new().systemd_target(Some(SNAP)).install();
            assert_eq!(
                run(),
                Err(format!("Error stopping service: Unit {SNAP} not found."))
            );
        }

        #[test]
        fn a_denied_stop_changes_nothing() {
            Scene::new()
                .unit(testing::unit(SNAP))
                .systemd_target(Some(SNAP))
                .deny("stop", SNAP)
                .install();
            let printed = run().unwrap_err();
            assert!(
                printed.starts_with("Error stopping service: module under test may not stop"),
                "{printed}"
            );
            assert_eq!(testing::unit_state(SNAP).unwrap().active_state, "active");
        }

        #[test]
        fn the_unit_comes_before_the_swarm_service_and_the_container() {
            Scene::new()
                .unit(testing::unit(SNAP))
                .systemd_auto(SNAP)
                .service(testing::service("edgex-core-data").replicas(1))
                .swarm_auto("edgex-core-data")
                .container(testing::container("edgex-core-data"))
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(
                testing::calls(),
                [format!("inspect {SNAP}"), format!("stop {SNAP}")]
            );
            assert_eq!(
                testing::state("edgex-core-data").unwrap().status,
                Status::Running
            );
        }

        #[test]
        fn auto_mode_without_the_unit_goes_on_to_the_container() {
            Scene::new()
                .systemd_auto(SNAP)
                .container(testing::container("edgex-core-data"))
                .install();
            assert_eq!(run(), Ok(SUCCESS.to_owned()));
            assert_eq!(testing::calls()[0], format!("inspect {SNAP}"));
            assert_eq!(
                testing::state("edgex-core-data").unwrap().status,
                Status::Exited
            );
        }
    }
}
