//! The shared table of cases (`cases.json`), run against this crate. The
//! Python SDK's tests run the same table against its fake.

use serde_json::Value;
use sme_model::lifecycle::{Lifecycle, Op};
use sme_model::swarm::{Deployment, Failure, ServiceModel};
use sme_model::{Health, Status, TaskState, UpdateState, names, notes};

const ID: &str = "0123abcd";
const CREATED_MS: u64 = 1_000;

fn table(name: &str) -> Vec<Value> {
    let cases: Value = serde_json::from_str(include_str!("../cases.json")).unwrap();
    cases[name].as_array().unwrap().clone()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

fn pairs(value: &Value) -> Vec<(String, Option<String>)> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                text(&pair[0]).to_owned(),
                pair[1].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn patterns() {
    for case in table("patterns") {
        let pattern = text(&case["pattern"]);
        match case.get("valid") {
            Some(valid) => assert_eq!(
                names::valid_pattern(pattern),
                valid.as_bool().unwrap(),
                "{case}"
            ),
            None => {
                assert!(names::valid_pattern(pattern), "{case}");
                let matches = names::matches(pattern, text(&case["name"]));
                assert_eq!(matches, case["matches"].as_bool().unwrap(), "{case}");
            }
        }
    }
}

#[test]
fn labels() {
    for case in table("labels") {
        let labels: Vec<(String, String)> = pairs(&case["labels"])
            .into_iter()
            .map(|(key, value)| (key, value.unwrap()))
            .collect();
        let matches = names::label_matches(&labels, text(&case["selector"]));
        assert_eq!(matches, case["matches"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn notes() {
    for case in table("notes") {
        let answer = notes::note_labels(&pairs(&case["notes"]));
        match case.get("refused") {
            Some(refused) => assert_eq!(answer, Err(text(refused).to_owned()), "{case}"),
            None => assert_eq!(answer, Ok(pairs(&case["labels"])), "{case}"),
        }
    }
}

fn status(value: &Value) -> Status {
    use Status::*;
    let all = [Created, Running, Paused, Restarting, Removing, Exited, Dead];
    let names = [
        "created",
        "running",
        "paused",
        "restarting",
        "removing",
        "exited",
        "dead",
    ];
    all[names.iter().position(|n| *n == text(value)).unwrap()]
}

fn health(value: &Value) -> Health {
    use Health::*;
    let all = [None, Starting, Healthy, Unhealthy];
    let names = ["none", "starting", "healthy", "unhealthy"];
    all[names.iter().position(|n| *n == text(value)).unwrap()]
}

fn lifecycle(value: &Value) -> Lifecycle {
    let status = status(&value["status"]);
    Lifecycle {
        status,
        running: sme_model::lifecycle::is_up(status),
        exit_code: value["exit_code"].as_i64().unwrap(),
        started_ms: value["started_ms"].as_u64(),
        finished_ms: value["finished_ms"].as_u64(),
        health: health(&value["health"]),
    }
}

#[test]
fn container_lifecycle() {
    for case in table("lifecycle") {
        let op = Op::named(text(&case["op"])).unwrap();
        let now_ms = case["now_ms"].as_u64().unwrap();
        let answer = lifecycle(&case["before"]).after(op, ID, now_ms);
        match case.get("refused") {
            Some(refused) => {
                let message = text(refused).replace("{id}", ID);
                assert_eq!(answer, Err(message), "{case}");
            }
            None => assert_eq!(answer, Ok(lifecycle(&case["after"])), "{case}"),
        }
    }
}

fn task_state(state: TaskState) -> String {
    format!("{state:?}").to_lowercase()
}

fn update_state(state: UpdateState) -> String {
    let words = format!("{state:?}");
    let mut out = String::new();
    for (i, c) in words.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[test]
fn swarm_services() {
    for case in table("swarm") {
        let about = text(&case["description"]);
        let deploy = &case["deploy"];
        let labels = deploy.get("labels").map_or_else(Vec::new, |labels| {
            pairs(labels)
                .into_iter()
                .map(|(key, value)| (key, value.unwrap()))
                .collect()
        });
        let mut model = ServiceModel::deploy(Deployment {
            nodes: deploy
                .get("nodes")
                .map_or(1, |n| n.as_u64().unwrap() as u32),
            labels,
            failing: deploy
                .get("failing")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .then(|| Failure::exit(1)),
            starts_after_ms: deploy
                .get("starts_after_ms")
                .map_or(0, |n| n.as_u64().unwrap()),
            stops_after_ms: deploy
                .get("stops_after_ms")
                .map_or(0, |n| n.as_u64().unwrap()),
            ..Deployment::new("web", deploy["replicas"].as_u64(), CREATED_MS)
        });
        let first = model.service.version;
        let mut now_ms = CREATED_MS;
        for step in case["steps"].as_array().unwrap() {
            now_ms = CREATED_MS + step["at_ms"].as_u64().unwrap();
            let answer = if let Some(replicas) = step.get("scale") {
                let notes = step.get("notes").map_or_else(Vec::new, pairs);
                notes::note_labels(&notes)
                    .and_then(|labels| model.scale(replicas.as_u64().unwrap(), &labels, now_ms))
                    .map(drop)
            } else if step.get("redeploy").is_some() {
                model.redeploy(now_ms);
                Ok(())
            } else {
                Ok(())
            };
            match step.get("refused") {
                Some(refused) => assert_eq!(answer, Err(text(refused).to_owned()), "{about}"),
                None => assert_eq!(answer, Ok(()), "{about}"),
            }
        }
        let service = model.at(now_ms).clone();
        let expect = &case["expect"];
        assert_eq!(service.replicas, expect["replicas"].as_u64(), "{about}");
        assert_eq!(
            (
                u64::from(service.desired_tasks),
                u64::from(service.running_tasks)
            ),
            (
                expect["desired_tasks"].as_u64().unwrap(),
                expect["running_tasks"].as_u64().unwrap()
            ),
            "{about}"
        );
        assert_eq!(
            service.version - first,
            expect["versions_added"].as_u64().unwrap(),
            "{about}"
        );
        assert_eq!(
            update_state(service.update_state),
            text(&expect["update_state"]),
            "{about}"
        );
        let message = text(&expect["update_message"]);
        match message.strip_suffix("{task}") {
            Some(prefix) => {
                let id = service.update_message.strip_prefix(prefix);
                assert!(
                    id.is_some_and(|id| service.tasks.iter().any(|t| t.id == id)),
                    "{about}: {}",
                    service.update_message
                );
            }
            None => assert_eq!(service.update_message, message, "{about}"),
        }
        if let Some(labels) = expect.get("labels") {
            let want: Vec<(String, String)> = pairs(labels)
                .into_iter()
                .map(|(key, value)| (key, value.unwrap()))
                .collect();
            assert_eq!(service.labels, want, "{about}");
        }
        let mut tasks: Vec<String> = service
            .tasks
            .iter()
            .map(|t| {
                let slot = t.slot.map_or("null".to_owned(), |slot| slot.to_string());
                format!(
                    "{slot} {} {}",
                    task_state(t.desired_state),
                    task_state(t.state)
                )
            })
            .collect();
        tasks.sort();
        let mut want: Vec<String> = expect["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let slot = t[0]
                    .as_u64()
                    .map_or("null".to_owned(), |slot| slot.to_string());
                format!("{slot} {} {}", text(&t[1]), text(&t[2]))
            })
            .collect();
        want.sort();
        assert_eq!(tasks, want, "{about}");
    }
}

#[test]
fn state_keys() {
    for case in table("state_keys") {
        let valid = sme_model::state::check_key(text(&case["key"])).is_ok();
        assert_eq!(valid, case["valid"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn state_writes() {
    use sme_model::state::{self, Bounds, Refusal};
    use std::collections::BTreeMap;
    let map = |value: &Value| -> BTreeMap<String, String> {
        value
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), text(v).to_owned()))
            .collect()
    };
    for case in table("state_writes") {
        let mut values = map(&case["values"]);
        let bounds = Bounds {
            keys: case["bounds"][0].as_u64().unwrap() as usize,
            bytes: case["bounds"][1].as_u64().unwrap() as usize,
        };
        let before = values.clone();
        let written = state::write(
            &mut values,
            text(&case["key"]),
            case["value"].as_str(),
            bounds,
        );
        match case.get("refused").map(text) {
            None => {
                assert_eq!(written, Ok(()), "{case}");
                assert_eq!(values, map(&case["kept"]), "{case}");
            }
            Some(refused) => {
                let expected = match refused {
                    "keys" => Refusal::Keys(bounds.keys),
                    _ => Refusal::Bytes(bounds.bytes, case["used"].as_u64().unwrap() as usize),
                };
                assert_eq!(written, Err(expected), "{case}");
                assert_eq!(values, before, "a refused write changes nothing: {case}");
            }
        }
    }
}

#[test]
fn budgets() {
    for case in table("budgets") {
        let spent: Vec<u64> = case["spent_ms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .collect();
        let next = sme_model::budget::next_allowed(
            case["max"].as_u64().unwrap() as u32,
            case["per_ms"].as_u64().unwrap(),
            &spent,
            case["now_ms"].as_u64().unwrap(),
        );
        assert_eq!(next, case["next_ms"].as_u64(), "{case}");
    }
}
