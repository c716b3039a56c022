//! The built-in `metrics` policy: the reference executor's `cpuUsedPercent`,
//! `memoryUsed` and `raw`, from a fast one-shot sample and a CPU reading kept
//! from a run at most `cpu_window_ms` ago (else measured as docker does).

use sme_guest::{Metric, Request, edgex};

sme_guest::settings! {
    int CPU_WINDOW_MS = "cpu_window_ms", 5000, 1000..=120000,
        "Oldest kept CPU reading CPU % is measured against, in milliseconds; older means measuring as docker stats does (1 to 2 s)";
}

fn metrics(request: Request) -> Result<Vec<Metric>, String> {
    let window = u32::try_from(CPU_WINDOW_MS.get()).unwrap_or(5000);
    edgex::metrics_within(&request.service, window)
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
}
