//! The built-in `metrics` policy: the reference executor's `cpuUsedPercent`,
//! `memoryUsed` and `raw`, from the container's cgroup counters and a CPU
//! reading kept from a run at most `cpu_window_ms` ago, else a second read
//! `cpu_sample_ms` later (where the runtime cannot read the cgroup files:
//! the Engine's one-shot sample and kept reading, else as docker measures).
//!
//! On a Docker Swarm service (`[swarm]`), the figures are those of its
//! running tasks on this node, summed, followed by `desiredTasks`,
//! `runningTasks` and `measuredTasks`.

use sme_guest::{Metric, Request, edgex};

sme_guest::settings! {
    int CPU_WINDOW_MS = "cpu_window_ms", 5000, 1000..=120000,
        "Oldest kept CPU reading CPU % is measured against, in milliseconds; older means measuring again";
    int CPU_SAMPLE_MS = "cpu_sample_ms", 250, 100..=1000,
        "With no kept reading, how far apart the two reads of the cgroup's CPU counter are, in milliseconds";
}

fn metrics(request: Request) -> Result<Vec<Metric>, String> {
    let window = u32::try_from(CPU_WINDOW_MS.get()).unwrap_or(5000);
    let sample = u32::try_from(CPU_SAMPLE_MS.get()).unwrap_or(250);
    edgex::metrics_counted(&request.service, window, sample)
}

sme_guest::metrics!(metrics);

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::MetricValue;
    use sme_guest::containers::Status;
    use sme_guest::testing::{self, Scene};

    /// The printed fields as (name, value as text).
    fn fields(metrics: Vec<Metric>) -> Vec<(String, String)> {
        metrics
            .into_iter()
            .map(|metric| {
                let value = match metric.value {
                    MetricValue::Number(n) => n.to_string(),
                    MetricValue::Integer(i) => i.to_string(),
                    MetricValue::Text(t) | MetricValue::Json(t) => t,
                    MetricValue::Boolean(b) => b.to_string(),
                };
                (metric.name, value)
            })
            .collect()
    }

    #[test]
    fn prints_the_reference_fields() {
        Scene::new()
            .container(
                testing::container("edgex-core-data")
                    .cpu_percent(5.08)
                    .memory(5_488_247, 2_095_919_104),
            )
            .install();
        let printed = fields(metrics(testing::request("edgex-core-data", "metrics")).unwrap());
        assert_eq!(
            printed,
            [
                ("cpuUsedPercent".to_owned(), "5.08".to_owned()),
                ("memoryUsed".to_owned(), "5488247".to_owned()),
                (
                    "raw".to_owned(),
                    r#"{"cpu_perc":"5.08%","mem_usage":"5.234MiB / 1.952GiB","mem_perc":"0.26%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"1"}"#
                        .to_owned()
                ),
            ]
        );
        assert_eq!(testing::calls(), ["stats edgex-core-data"]);
    }

    #[test]
    fn a_stopped_container_prints_docker_zeroes() {
        Scene::new()
            .container(
                testing::container("edgex-core-data")
                    .status(Status::Exited)
                    .cpu_percent(5.0)
                    .memory(1024, 4096),
            )
            .install();
        let printed = fields(metrics(testing::request("edgex-core-data", "metrics")).unwrap());
        assert_eq!(printed[0].1, "0");
        assert_eq!(printed[1].1, "0");
        assert_eq!(
            printed[2].1,
            r#"{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"}"#
        );
    }

    #[test]
    fn a_missing_container_prints_the_cli_error() {
        Scene::new().install();
        assert_eq!(
            metrics(testing::request("edgex-x", "metrics")).map(fields),
            Err(
                "exit status 1: Error response from daemon: No such container: edgex-x\n"
                    .to_owned()
            )
        );
    }

    mod swarm {
        use super::*;
        use sme_guest::testing::TaskStats;

        const SVC: &str = "edgex-core-data";

        fn on(service: testing::ServiceBuilder) -> Scene {
            Scene::new().service(service).swarm_target(Some(SVC))
        }

        fn run() -> Result<Vec<(String, String)>, String> {
            metrics(testing::request(SVC, "metrics")).map(fields)
        }

        fn field(name: &str, value: &str) -> (String, String) {
            (name.to_owned(), value.to_owned())
        }

        #[test]
        fn sums_the_tasks_as_docker_stats_computes_them() {
            let task = |cpu, usage| TaskStats {
                network_rx: 277_000,
                network_tx: 194_000,
                block_read: 8_192,
                pids: 7,
                ..TaskStats::cpu_memory(cpu, usage, 1_047_959_552)
            };
            on(testing::service(SVC)
                .replicas(2)
                .task_stats(vec![task(2.5, 2_744_123), task(2.58, 2_744_124)]))
            .install();
            assert_eq!(
                run().unwrap(),
                [
                    field("cpuUsedPercent", "5.08"),
                    field("memoryUsed", "5488247"),
                    field(
                        "raw",
                        r#"{"cpu_perc":"5.08%","mem_usage":"5.234MiB / 1.952GiB","mem_perc":"0.26%","net_io":"554kB / 388kB","block_io":"16.4kB / 0B","pids":"14"}"#
                    ),
                    field("desiredTasks", "2"),
                    field("runningTasks", "2"),
                    field("measuredTasks", "2"),
                ]
            );
            assert_eq!(
                testing::calls(),
                ["inspect edgex-core-data", "stats edgex-core-data"]
            );
        }

        #[test]
        fn only_this_nodes_tasks_are_measured() {
            on(testing::service(SVC).replicas(3).nodes(3).task_stats(vec![
                TaskStats::cpu_memory(1.0, 1024, 4096),
                TaskStats::cpu_memory(50.0, 1024, 4096),
                TaskStats::cpu_memory(50.0, 1024, 4096),
            ]))
            .install();
            let printed = run().unwrap();
            assert_eq!(printed[0], field("cpuUsedPercent", "1"));
            assert_eq!(
                printed[3..],
                [
                    field("desiredTasks", "3"),
                    field("runningTasks", "3"),
                    field("measuredTasks", "1"),
                ]
            );
        }

        #[test]
        fn a_global_service_sums_its_tasks() {
            on(testing::service(SVC)
                .global()
                .task_stats(vec![TaskStats::cpu_memory(12.5, 1 << 20, 1 << 30)]))
            .install();
            let printed = run().unwrap();
            assert_eq!(printed[0], field("cpuUsedPercent", "12.5"));
            assert_eq!(printed[1], field("memoryUsed", "1048576"));
            assert_eq!(
                printed[3..],
                [
                    field("desiredTasks", "1"),
                    field("runningTasks", "1"),
                    field("measuredTasks", "1"),
                ]
            );
        }

        #[test]
        fn no_task_here_prints_the_zeros_of_a_stopped_container() {
            for service in [
                testing::service(SVC).replicas(0),
                testing::service(SVC).replicas(2).failing(),
            ] {
                on(service.task_stats(vec![TaskStats::cpu_memory(5.0, 1024, 4096)])).install();
                let printed = run().unwrap();
                assert_eq!(
                    printed[..3],
                    [
                        field("cpuUsedPercent", "0"),
                        field("memoryUsed", "0"),
                        field(
                            "raw",
                            r#"{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"}"#
                        ),
                    ]
                );
                assert_eq!(
                    printed[4..],
                    [field("runningTasks", "0"), field("measuredTasks", "0")]
                );
            }
        }

        #[test]
        fn a_missing_service_prints_the_cli_error() {
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
        fn denied_stats_print_the_denial() {
            on(testing::service(SVC)).deny("stats", SVC).install();
            let printed = run().unwrap_err();
            assert!(
                printed.starts_with("module under test may not stats edgex-core-data"),
                "{printed}"
            );
            assert_eq!(
                testing::calls(),
                ["inspect edgex-core-data", "stats edgex-core-data denied"]
            );
        }

        #[test]
        fn auto_mode_without_the_service_is_the_container_path() {
            Scene::new()
                .container(
                    testing::container(SVC)
                        .cpu_percent(5.08)
                        .memory(5_488_247, 2_095_919_104),
                )
                .swarm_auto(SVC)
                .install();
            let printed = run().unwrap();
            assert_eq!(printed.len(), 3);
            assert_eq!(printed[0], field("cpuUsedPercent", "5.08"));
            assert_eq!(
                testing::calls(),
                ["inspect edgex-core-data", "stats edgex-core-data"]
            );
        }
    }

    mod systemd {
        use super::*;

        const UNIT: &str = "snap.edgexfoundry.core-data.service";

        #[test]
        fn a_units_figures_in_the_reference_fields() {
            Scene::new()
                .unit(
                    testing::unit(UNIT)
                        .cpu_percent(12.5)
                        .memory(5_488_247)
                        .tasks(4),
                )
                .systemd_target(Some(UNIT))
                .install();
            let printed = fields(metrics(testing::request("edgex-core-data", "metrics")).unwrap());
            assert_eq!(
                printed,
                [
                    ("cpuUsedPercent".to_owned(), "12.5".to_owned()),
                    ("memoryUsed".to_owned(), "5488247".to_owned()),
                    (
                        "raw".to_owned(),
                        r#"{"cpu_perc":"12.50%","mem_usage":"5.234MiB / 0B","mem_perc":"0.00%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"4"}"#
                            .to_owned()
                    ),
                ]
            );
            assert_eq!(testing::calls(), [format!("stats {UNIT}")]);
        }

        #[test]
        fn an_inactive_unit_prints_zeroes() {
            Scene::new()
                .unit(testing::unit(UNIT).inactive())
                .systemd_target(Some(UNIT))
                .install();
            let printed = fields(metrics(testing::request("edgex-core-data", "metrics")).unwrap());
            assert_eq!(printed[0], ("cpuUsedPercent".to_owned(), "0".to_owned()));
            assert_eq!(printed[1], ("memoryUsed".to_owned(), "0".to_owned()));
        }
    }
}
