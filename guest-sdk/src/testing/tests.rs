use super::*;
use crate::containers::{self, Filter, Summary};
use crate::{Error, Figures, clock, container_config, cpu_window, settings, stats};

#[test]
fn kept_values_follow_the_runtimes_rules() {
    use crate::state;
    Scene::new().state("a", "1").state_limits(2, 1).install();
    assert_eq!(state::get("a").unwrap().as_deref(), Some("1"));
    assert!(
        !state::compare_and_set("a", None, Some("2")).unwrap(),
        "stale"
    );
    assert!(state::compare_and_set("b", None, Some("2")).unwrap());
    assert!(matches!(
        state::compare_and_set("c", None, Some("3")),
        Err(Error::LimitExceeded(m)) if m.contains("state_keys")
    ));
    assert!(matches!(
        state::compare_and_set("a", Some("1"), Some(&"x".repeat(1024))),
        Err(Error::LimitExceeded(m)) if m.contains("state_kib")
    ));
    assert!(matches!(state::get(""), Err(Error::InvalidArgument(_))));
    assert_eq!(state::keys().unwrap(), ["a", "b"]);
    assert_eq!(state::update("b", |_| None).unwrap(), None);
    assert_eq!(
        kept().into_iter().collect::<Vec<_>>(),
        [("a".into(), "1".into())]
    );
    assert!(calls().is_empty(), "state calls name no container");
}

fn one(status: Status) {
    Scene::new()
        .container(container("web").status(status))
        .install();
}

fn status_of(name: &str) -> Status {
    state(name).expect("the container exists").status
}

#[test]
#[should_panic(expected = "Scene::new()")]
fn a_host_call_with_no_scene_is_a_panic_naming_the_fix() {
    let _ = containers::inspect("web");
}

#[test]
#[should_panic(expected = "no test fake installed")]
fn reading_the_fake_with_no_scene_is_a_panic() {
    let _ = calls();
}

#[test]
#[should_panic(expected = "unknown verb \"halt\"")]
fn a_scene_with_an_unknown_verb_is_a_panic() {
    let _ = Scene::new().deny("halt", "web");
}

#[test]
fn each_call_changes_what_the_daemon_changes() {
    use Status::*;
    let now = Some(NOW_MS);
    let (started, finished) = (Some(STARTED_MS), Some(FINISHED_MS));
    // verb, status before, (status, started, finished) after
    let cases = [
        ("start", Created, (Running, now, None)),
        ("start", Exited, (Running, now, finished)),
        ("start", Running, (Running, started, None)),
        ("stop", Running, (Exited, started, now)),
        ("stop", Paused, (Exited, started, now)),
        ("stop", Exited, (Exited, started, finished)),
        ("stop", Created, (Created, None, None)),
        ("restart", Running, (Running, now, now)),
        ("restart", Paused, (Running, now, now)),
        ("restart", Exited, (Running, now, finished)),
        ("restart", Created, (Running, now, None)),
        ("pause", Running, (Paused, started, None)),
        ("unpause", Paused, (Running, started, None)),
    ];
    for (verb, before, (status, started_ms, finished_ms)) in cases {
        one(before);
        let answer = match verb {
            "start" => containers::start("web"),
            "stop" => containers::stop("web", None),
            "restart" => containers::restart("web", None),
            "pause" => containers::pause("web"),
            _ => containers::unpause("web"),
        };
        assert!(answer.is_ok(), "{verb} from {before:?}: {answer:?}");
        let after = state("web").unwrap();
        assert_eq!(
            (after.status, after.started_ms, after.finished_ms),
            (status, started_ms, finished_ms),
            "{verb} from {before:?}"
        );
        assert_eq!(after.running, sme_model::lifecycle::is_up(status.into()));
        assert_eq!(calls(), [format!("{verb} web")]);
    }
}

#[test]
fn a_start_clears_the_exit_code_and_a_stop_assumes_a_clean_exit() {
    Scene::new()
        .container(container("web").status(Status::Exited).exit_code(3))
        .install();
    containers::stop("web", None).unwrap();
    assert_eq!(state("web").unwrap().exit_code, 3, "not modified");
    containers::start("web").unwrap();
    assert_eq!(state("web").unwrap().exit_code, 0);
}

#[test]
fn calls_the_daemon_refuses_are_refused_with_its_message() {
    use Status::*;
    let cases = [
        ("pause", Exited, "Container {id} is not running"),
        ("pause", Created, "Container {id} is not running"),
        ("pause", Paused, "Container {id} is already paused"),
        (
            "pause",
            Restarting,
            "Container {id} is restarting, wait until the container is running",
        ),
        ("unpause", Running, "Container {id} is not paused"),
        ("unpause", Exited, "Container {id} is not paused"),
        (
            "start",
            Paused,
            "cannot start a paused container, try unpause instead",
        ),
        (
            "start",
            Dead,
            "container is marked for removal and cannot be started",
        ),
        (
            "restart",
            Removing,
            "container is marked for removal and cannot be started",
        ),
    ];
    for (verb, before, message) in cases {
        one(before);
        let id = state("web").unwrap().id;
        assert_eq!(id.len(), 64);
        let answer = match verb {
            "start" => containers::start("web"),
            "restart" => containers::restart("web", None),
            "pause" => containers::pause("web"),
            _ => containers::unpause("web"),
        };
        match answer {
            Err(Error::Docker(text)) => {
                assert_eq!(text, message.replace("{id}", &id), "{verb} from {before:?}")
            }
            other => panic!("{verb} from {before:?}: {other:?}"),
        }
        assert_eq!(status_of("web"), before, "a refusal changes nothing");
    }
}

#[test]
fn a_missing_container_is_answered_like_the_runtime() {
    Scene::new().install();
    let answers = [
        containers::inspect("gone").map(drop),
        containers::stop("gone", Some(1)),
        container_config::stop_timeout("gone").map(drop),
        stats::one_shot("gone").map(drop),
    ];
    for answer in answers {
        match answer {
            Err(Error::NotFound(text)) => assert_eq!(text, "No such container: gone"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        calls(),
        ["inspect gone", "stop gone", "inspect gone", "stats gone"]
    );
}

#[test]
fn denials_and_failures_change_nothing() {
    Scene::new()
        .container(container("web").fail("stop", "driver failed"))
        .container(container("db"))
        .deny("restart", "db")
        .install();
    assert!(matches!(
        containers::stop("web", None),
        Err(Error::Docker(text)) if text == "driver failed"
    ));
    assert!(matches!(
        containers::restart("db", None),
        Err(Error::Denied(_))
    ));
    assert!(containers::restart("web", None).is_ok());
    assert_eq!(status_of("web"), Status::Running);
    assert_eq!(state("db").unwrap().started_ms, Some(STARTED_MS));
    assert_eq!(calls(), ["stop web", "restart db denied", "restart web"]);
    assert_eq!(
        timeouts(),
        [
            ("stop web".to_owned(), None),
            ("restart db".to_owned(), None),
            ("restart web".to_owned(), None)
        ]
    );
}

fn names(rows: Vec<Summary>) -> Vec<String> {
    rows.into_iter().map(|row| row.name).collect()
}

#[test]
fn listings_filter_like_the_runtime() {
    Scene::new()
        .container(container("edgex-core-data").label("tier", "core"))
        .container(
            container("edgex-redis")
                .status(Status::Exited)
                .label("tier", "db"),
        )
        .container(container("edgex-ui").status(Status::Paused))
        .container(container("other"))
        .deny("list", "other")
        .install();
    let list = |name: Option<&str>, label: Option<&str>, all: bool| {
        containers::list(&Filter {
            name: name.map(str::to_owned),
            label: label.map(str::to_owned),
            all,
        })
    };
    assert_eq!(
        names(list(None, None, false).unwrap()),
        ["edgex-core-data", "edgex-ui"]
    );
    assert_eq!(
        names(list(Some("edgex-*"), None, true).unwrap()),
        ["edgex-core-data", "edgex-redis", "edgex-ui"]
    );
    assert_eq!(
        names(list(Some("edgex-?i"), None, true).unwrap()),
        ["edgex-ui"]
    );
    assert_eq!(
        names(list(None, Some("tier"), true).unwrap()),
        ["edgex-core-data", "edgex-redis"]
    );
    assert_eq!(
        names(list(None, Some("tier=db"), true).unwrap()),
        ["edgex-redis"]
    );
    assert_eq!(names(list(None, Some("tier=db"), false).unwrap()), [""; 0]);
    assert!(matches!(
        list(Some("a b"), None, true),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(calls(), ["list"; 7]);
}

#[test]
fn stats_give_back_the_scene_figures() {
    for percent in [0.0, 0.01, 2.5, 37.125, 100.0, 180.0] {
        Scene::new()
            .container(
                container("web")
                    .cpu_percent(percent)
                    .memory(5_488_247, 2_095_919_104),
            )
            .install();
        for measurement in [
            stats::measure("web").unwrap(),
            stats::recent("web").unwrap(),
            cpu_window::recent_within("web", 3000).unwrap(),
        ] {
            let figures = Figures::of(&measurement);
            assert!(
                (figures.cpu_percent - percent).abs() < 1e-9,
                "{percent}: {}",
                figures.cpu_percent
            );
            assert_eq!(figures.raw().mem_usage, "5.234MiB / 1.952GiB");
        }
        let sample = stats::one_shot("web").unwrap();
        assert_eq!(sample.memory_usage, 5_488_247);
        assert_eq!(calls(), ["stats web"; 4]);
    }
}

#[test]
fn stats_follow_the_state() {
    Scene::new()
        .container(container("web").cpu_percent(50.0).memory(1024, 4096))
        .install();
    containers::pause("web").unwrap();
    let paused = Figures::of(&stats::measure("web").unwrap());
    assert_eq!((paused.cpu_percent, paused.memory_used), (0.0, 1024.0));
    containers::stop("web", None).unwrap();
    let stopped = Figures::of(&stats::measure("web").unwrap());
    assert_eq!(
        stopped.raw().to_json(),
        r#"{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"}"#
    );
}

#[test]
fn the_clock_moves_only_when_slept() {
    Scene::new().install();
    assert_eq!(clock::now_ms(), NOW_MS);
    clock::sleep(1500).unwrap();
    assert_eq!(clock::now_ms(), NOW_MS + 1500);
    Scene::new().install();
    assert_eq!(
        clock::now_ms(),
        NOW_MS,
        "a new scene starts the clock again"
    );
}

#[test]
fn settings_answer_what_the_scene_sets() {
    crate::settings! {
        int CAP = "cap_s", 10, 0..=10, "A cap";
        bool VERBOSE = "verbose", false, "Log more";
    }
    Scene::new()
        .setting("cap_s", "4")
        .setting("verbose", "true")
        .install();
    assert_eq!((CAP.get(), VERBOSE.get()), (4, true));
    assert_eq!(settings::get("other"), None);
    Scene::new().setting("cap_s", "40").install();
    assert_eq!(CAP.get(), 10, "out of range: the default");
    assert!(calls().is_empty());
}

#[test]
fn a_stop_timeout_is_the_scene_one() {
    Scene::new()
        .container(container("web").stop_timeout(Some(30)))
        .container(container("db"))
        .install();
    assert_eq!(container_config::stop_timeout("web").unwrap(), Some(30));
    assert_eq!(container_config::stop_timeout("db").unwrap(), None);
}

#[test]
fn ids_are_stable_and_distinct() {
    assert_eq!(fake_id("web"), fake_id("web"));
    assert_ne!(fake_id("web"), fake_id("db"));
    assert!(fake_id("web").bytes().all(|b| b.is_ascii_hexdigit()));
}

mod swarm {
    use super::*;
    use crate::services::{self, Mode, TaskState, UpdateState};

    fn notes(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn refusals_are_the_engines() {
        Scene::new()
            .service(service("web").global())
            .service(service("db").fail("redeploy", "update out of sequence"))
            .deny("scale", "db")
            .install();
        let refused = [
            services::scale("web", 2, &[]),
            services::scale("db", 0, &[]),
            services::redeploy("db"),
            services::inspect("gone").map(drop),
        ];
        assert!(
            matches!(&refused[0], Err(Error::InvalidArgument(text)) if text ==
            "service web is global: it runs one task per node and has no replica count to scale")
        );
        assert!(matches!(&refused[1], Err(Error::Denied(_))));
        assert!(
            matches!(&refused[2], Err(Error::Docker(text)) if text == "update out of sequence")
        );
        assert!(
            matches!(&refused[3], Err(Error::NotFound(text)) if text == "service gone not found")
        );
        assert_eq!(
            calls(),
            [
                "scale web",
                "scale db denied",
                "redeploy db",
                "inspect gone"
            ]
        );
        assert_eq!(service_state("db").unwrap().version, 10, "nothing changed");
    }

    #[test]
    fn notes_are_checked_as_the_runtime_checks_them() {
        Scene::new().service(service("web")).install();
        for bad in [
            notes(&[("", None)]),
            notes(&[("Upper", None)]),
            notes(&[("a=b", None)]),
            vec![("k".to_owned(), Some("v".repeat(257)))],
            (0..9).map(|i| (format!("k{i}"), None)).collect(),
        ] {
            assert!(
                matches!(
                    services::scale("web", 3, &bad),
                    Err(Error::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(service_state("web").unwrap().replicas, Some(1));
    }

    #[test]
    fn a_scale_to_the_same_count_and_notes_sends_nothing() {
        Scene::new()
            .service(service("web").replicas(2).note("replicas", "5"))
            .install();
        services::scale("web", 2, &notes(&[("replicas", Some("5"))])).unwrap();
        services::scale("web", 2, &notes(&[("other", None)])).unwrap();
        assert_eq!(service_state("web").unwrap().version, 10);
        services::scale("web", 2, &notes(&[("replicas", None)])).unwrap();
        let web = service_state("web").unwrap();
        assert_eq!((web.version, web.note("replicas")), (11, None));
        assert_eq!(web.running_tasks, 2, "the same tasks");
    }

    #[test]
    fn scaling_adds_and_removes_slots() {
        Scene::new().service(service("web").replicas(2)).install();
        let before = service_state("web").unwrap();
        services::scale("web", 4, &[]).unwrap();
        let up = service_state("web").unwrap();
        assert_eq!(
            (up.desired_tasks, up.running_tasks, up.tasks.len()),
            (4, 4, 4)
        );
        let slots: Vec<Option<u32>> = up.tasks.iter().map(|task| task.slot).collect();
        assert_eq!(slots, [Some(4), Some(3), Some(2), Some(1)], "newest first");
        let ids = |tasks: &[crate::services::Task]| -> Vec<String> {
            tasks.iter().map(|task| task.id.clone()).collect()
        };
        assert_eq!(
            ids(&up.tasks[2..]),
            ids(&before.tasks),
            "the old tasks stay"
        );
        services::scale("web", 1, &[]).unwrap();
        let down = service_state("web").unwrap();
        assert_eq!(down.tasks.len(), 1);
        assert_eq!(down.tasks[0].slot, Some(1));
    }

    #[test]
    fn a_redeploy_replaces_tasks_and_completes_its_update() {
        Scene::new()
            .service(service("web").global().nodes(2))
            .install();
        let before = services::inspect("web").unwrap();
        assert_eq!((before.mode, before.replicas), (Mode::Global, None));
        assert_eq!(before.update_state, UpdateState::None);
        clock::sleep(5).unwrap();
        services::redeploy("web").unwrap();
        let after = services::inspect("web").unwrap();
        assert_eq!(after.version, before.version + 1);
        assert_eq!(after.updated_ms, NOW_MS + 5);
        assert_eq!(
            (after.update_state, after.update_message.as_str()),
            (UpdateState::Completed, "update completed")
        );
        assert_eq!((after.desired_tasks, after.running_tasks), (2, 2));
        // Place by place, newest first: each new task, then the one it
        // replaced (as the runtime's simulation, measured on Docker).
        let (new, old): (Vec<_>, Vec<_>) = after
            .tasks
            .iter()
            .partition(|task| task.state == TaskState::Running);
        assert_eq!((new.len(), old.len()), (2, 2));
        assert!(old.iter().all(|task| {
            task.state == TaskState::Shutdown && task.desired_state == TaskState::Shutdown
        }));
        let mut old_ids: Vec<&str> = old.iter().map(|task| task.id.as_str()).collect();
        let mut before_ids: Vec<&str> = before.tasks.iter().map(|task| task.id.as_str()).collect();
        old_ids.sort();
        before_ids.sort();
        assert_eq!(old_ids, before_ids, "kept as history");
        assert!(old.iter().all(|task| task.updated_ms == NOW_MS + 5));
        let nodes: Vec<&str> = new.iter().map(|task| task.node_id.as_str()).collect();
        assert_ne!(nodes[0], nodes[1], "one task per node");
    }

    #[test]
    fn listings_filter_like_the_runtime() {
        Scene::new()
            .service(service("edgex-core-data").label("tier", "core"))
            .service(service("edgex-ui").global())
            .service(service("other").label("tier", "db"))
            .deny("list", "other")
            .install();
        let list = |name: Option<&str>, label: Option<&str>| {
            services::list(&services::Filter {
                name: name.map(str::to_owned),
                label: label.map(str::to_owned),
            })
            .map(|rows| rows.into_iter().map(|row| row.name).collect::<Vec<_>>())
        };
        assert_eq!(list(None, None).unwrap(), ["edgex-core-data", "edgex-ui"]);
        assert_eq!(list(Some("edgex-?i"), None).unwrap(), ["edgex-ui"]);
        assert_eq!(list(None, Some("tier")).unwrap(), ["edgex-core-data"]);
        assert!(matches!(
            list(Some("a b"), None),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(calls(), ["list"; 4]);
    }

    #[test]
    fn task_stats_measure_this_nodes_running_tasks() {
        Scene::new()
            .service(
                service("web")
                    .replicas(3)
                    .nodes(2)
                    .task_stats(vec![TaskStats::cpu_memory(10.0, 1024, 4096)]),
            )
            .install();
        let measured = services::task_stats("web", 5000).unwrap();
        let web = service_state("web").unwrap();
        let local: Vec<&str> = web
            .tasks
            .iter()
            .filter(|task| task.slot != Some(2))
            .map(|task| task.id.as_str())
            .collect();
        let ids: Vec<&str> = measured.iter().map(|m| m.task_id.as_str()).collect();
        assert_eq!(ids, local);
        let first = measured
            .iter()
            .find(|m| m.container.starts_with("web.1."))
            .unwrap();
        let figures = Figures::of(&first.measurement);
        assert!((figures.cpu_percent - 10.0).abs() < 1e-9);
        assert_eq!(figures.memory_used, 1024.0);
        let third = measured
            .iter()
            .find(|m| m.container.starts_with("web.3."))
            .unwrap();
        assert_eq!(Figures::of(&third.measurement).cpu_percent, 0.0, "idle");
        assert_eq!(calls(), ["stats web"]);
    }

    #[test]
    fn the_swarm_target_follows_the_mode() {
        Scene::new().service(service("web")).install();
        assert_eq!(services::target().unwrap(), None);
        Scene::new()
            .swarm_auto("web")
            .service(service("web").fail("inspect", "node is not a swarm manager"))
            .install();
        assert!(matches!(services::target(), Err(Error::Docker(_))));
        Scene::new().swarm_target(Some("web")).install();
        assert_eq!(services::target().unwrap().as_deref(), Some("web"));
        assert!(calls().is_empty());
    }
}
