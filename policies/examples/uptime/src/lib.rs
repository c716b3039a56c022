//! A metrics add-on: adds `uptimeSeconds` and `restartCount` to the object
//! `metrics` prints, without touching the default metrics policy. Install it
//! as `metrics.d/uptime.wasm` and grant it `inspect` on `self`.

use sme_guest::{Metric, MetricValue, Request, clock, containers};

fn uptime(request: Request) -> Result<Vec<Metric>, String> {
    let container = containers::inspect(&request.service)?;
    let uptime_ms = match (container.running, container.started_ms) {
        (true, Some(started)) => clock::now_ms().saturating_sub(started),
        _ => 0,
    };
    Ok(vec![
        Metric {
            name: "uptimeSeconds".to_owned(),
            value: MetricValue::Integer((uptime_ms / 1000) as i64),
        },
        Metric {
            name: "restartCount".to_owned(),
            value: MetricValue::Integer(container.restart_count.into()),
        },
    ])
}

sme_guest::metrics!(uptime);

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::containers::Status;
    use sme_guest::testing::{self, Scene};

    fn fields(metrics: Vec<Metric>) -> Vec<(String, i64)> {
        metrics
            .into_iter()
            .map(|metric| match metric.value {
                MetricValue::Integer(value) => (metric.name, value),
                _ => panic!("{} is not an integer", metric.name),
            })
            .collect()
    }

    #[test]
    fn a_running_container_reports_its_uptime_and_restarts() {
        Scene::new()
            .container(testing::container("edgex-core-data").restart_count(3))
            .install();
        sme_guest::clock::sleep(2_500).unwrap();
        assert_eq!(
            uptime(testing::request("edgex-core-data", "metrics")).map(fields),
            Ok(vec![
                ("uptimeSeconds".to_owned(), 3_602),
                ("restartCount".to_owned(), 3)
            ])
        );
        assert_eq!(testing::calls(), ["inspect edgex-core-data"]);
    }

    #[test]
    fn a_stopped_container_has_no_uptime() {
        Scene::new()
            .container(testing::container("edgex-core-data").status(Status::Exited))
            .install();
        assert_eq!(
            uptime(testing::request("edgex-core-data", "metrics")).map(fields),
            Ok(vec![
                ("uptimeSeconds".to_owned(), 0),
                ("restartCount".to_owned(), 0)
            ])
        );
    }

    #[test]
    fn a_missing_container_is_the_daemons_message() {
        Scene::new().install();
        assert_eq!(
            uptime(testing::request("edgex-x", "metrics")).map(fields),
            Err("No such container: edgex-x".to_owned())
        );
    }
}
