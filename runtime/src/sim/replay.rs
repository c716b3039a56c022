//! Answering a run from a recording (`smectl test --replay FILE`): each
//! call gets the recorded answer as long as the module asks exactly what it
//! asked then; otherwise the replay stops answering and keeps the first
//! difference.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::backend::docker::{Call, DockerError, Relay, Reply, Result};
use crate::backend::recording::{Exchange, lock};

/// An engine that answers from a recording.
#[derive(Debug)]
pub struct Replay {
    state: Mutex<ReplayState>,
}

#[derive(Debug)]
struct ReplayState {
    exchanges: Vec<Exchange>,
    next: usize,
    difference: Option<String>,
}

impl Replay {
    /// Answers from `exchanges`, in order.
    pub fn new(exchanges: Vec<Exchange>) -> Replay {
        Replay {
            state: Mutex::new(ReplayState {
                exchanges,
                next: 0,
                difference: None,
            }),
        }
    }

    /// The first way the run differed from the recording, once it is over:
    /// a call it did not make, or recorded calls it never made.
    pub fn difference(&self) -> Option<String> {
        let state = lock(&self.state);
        if let Some(difference) = &state.difference {
            return Some(difference.clone());
        }
        let left = state.exchanges.len() - state.next;
        state.exchanges.get(state.next).map(|first| {
            format!(
                "the module made {} Docker calls; the recording has {left} more, the first: {}",
                state.next, first.call
            )
        })
    }

    fn answer(&self, call: Call) -> Result<Reply> {
        let mut state = lock(&self.state);
        let number = state.next + 1;
        let stop = |state: &mut ReplayState, difference: String| {
            let message = format!("replay: {difference}");
            state.difference.get_or_insert(difference);
            Err(DockerError::Protocol(message))
        };
        if state.difference.is_some() {
            return stop(
                &mut state,
                format!("call {number} ({call}) after a difference"),
            );
        }
        let Some(recorded) = state.exchanges.get(state.next).cloned() else {
            let difference = format!(
                "call {number}: the module asked {call}; the recording ends after {} calls",
                state.next
            );
            return stop(&mut state, difference);
        };
        if recorded.call != call {
            let difference = format!(
                "call {number}: the module asked {call}; the recording has {}",
                recorded.call
            );
            return stop(&mut state, difference);
        }
        state.next += 1;
        match recorded.answer {
            Ok(value) => Reply::from_json(&call, value).or_else(|e| {
                stop(
                    &mut state,
                    format!("call {number} ({call}): the recorded answer is unreadable: {e}"),
                )
            }),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl Relay for Replay {
    async fn relay(&self, call: Call) -> Result<Reply> {
        self.answer(call)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::recording::{OLDEST_RECORD_VERSION, RECORD_VERSION, RecordFile, Recording};
    use crate::backend::{Backends, Containers, Counters, Services};
    use crate::contract::Status;
    use crate::sim::{SimContainer, SimService, Simulated};

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn engine() -> Backends {
        Backends::of(Arc::new(Simulated::new([SimContainer::new(
            "web",
            Status::Running,
            1_000,
        )])))
    }

    fn recorded() -> Vec<Exchange> {
        let recording = Recording::new(engine());
        block_on(async {
            recording.inspect("web").await.unwrap();
            recording.stop("web", Some(3)).await.unwrap();
            recording.inspect("gone").await.unwrap_err();
        });
        recording.exchanges()
    }

    #[test]
    fn a_recording_survives_json_and_answers_the_same_run() {
        let exchanges = recorded();
        let text = serde_json::to_string(&exchanges).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<Exchange>>(&text).unwrap(),
            exchanges
        );
        let replay = Replay::new(exchanges);
        block_on(async {
            let web = replay.inspect("web").await.unwrap();
            assert_eq!(web.name, "web");
            replay.stop("web", Some(3)).await.unwrap();
            assert_eq!(
                replay.inspect("gone").await,
                Err(DockerError::NotFound("gone".into()))
            );
        });
        assert_eq!(replay.difference(), None);
    }

    #[test]
    fn the_first_difference_is_named() {
        let replay = Replay::new(recorded());
        block_on(async {
            replay.inspect("web").await.unwrap();
            assert!(replay.restart("web", Some(3)).await.is_err());
            assert!(replay.inspect("gone").await.is_err());
        });
        assert_eq!(
            replay.difference().unwrap(),
            "call 2: the module asked restart web (timeout 3 s); the recording has stop web (timeout 3 s)"
        );
        let short = Replay::new(recorded());
        block_on(short.inspect("web")).unwrap();
        assert_eq!(
            short.difference().unwrap(),
            "the module made 1 Docker calls; the recording has 2 more, the first: stop web (timeout 3 s)"
        );
    }

    #[test]
    fn service_calls_are_recorded_and_replayed() {
        let engine = Backends::of(Arc::new(
            Simulated::new([]).with_services([SimService::new("api", Some(1), 1_000_000)]),
        ));
        let recording = Recording::new(engine);
        let notes = vec![("sme.note.replicas".to_owned(), Some("1".to_owned()))];
        block_on(async {
            recording.service("api").await.unwrap();
            recording.scale("api", 0, &notes).await.unwrap();
            recording.redeploy("api").await.unwrap();
            recording.services(Some("tier")).await.unwrap();
            recording.scale("gone", 1, &[]).await.unwrap_err();
        });
        let text = serde_json::to_string(&recording.exchanges()).unwrap();
        let exchanges: Vec<Exchange> = serde_json::from_str(&text).unwrap();
        assert_eq!(exchanges, recording.exchanges());
        let replay = Replay::new(exchanges);
        block_on(async {
            assert_eq!(replay.service("api").await.unwrap().replicas, Some(1));
            replay.scale("api", 0, &notes).await.unwrap();
            replay.redeploy("api").await.unwrap();
            assert!(replay.services(Some("tier")).await.unwrap().is_empty());
            assert_eq!(
                replay.scale("gone", 1, &[]).await,
                Err(DockerError::NoService("gone".into()))
            );
        });
        assert_eq!(replay.difference(), None);

        // Another replica count is another call.
        let replay = Replay::new(recording.exchanges());
        block_on(async {
            replay.service("api").await.unwrap();
            assert!(replay.scale("api", 2, &notes).await.is_err());
        });
        assert_eq!(
            replay.difference().unwrap(),
            "call 2: the module asked scale service api to 2 (labels sme.note.replicas=\"1\"); \
             the recording has scale service api to 0 (labels sme.note.replicas=\"1\")"
        );
    }

    #[test]
    fn cgroup_reads_are_recorded_and_replayed() {
        let counters = Counters {
            id: "ab".repeat(32),
            sample: crate::contract::Sample {
                cpu: crate::contract::CpuReading {
                    read_ns: 5,
                    total_ns: 6,
                    system_ns: 10,
                    online_cpus: 2,
                },
                memory_usage: 1,
                memory_limit: 2,
                total_inactive_file: Some(0),
                inactive_file: None,
                network_rx: 3,
                network_tx: 4,
                block_read: 0,
                block_write: 0,
                pids: 1,
            },
            network: true,
            paused: false,
            started_ms: Some(1),
        };
        let exchanges = vec![
            Exchange {
                call: Call::Counters { name: "web".into() },
                answer: Reply::Counters(Some(counters.clone()))
                    .to_json()
                    .map_err(|e| DockerError::Protocol(e.to_string())),
            },
            Exchange {
                call: Call::Counters { name: "far".into() },
                answer: Ok(serde_json::Value::Null),
            },
        ];
        let text = serde_json::to_string(&exchanges).unwrap();
        let replay = Replay::new(serde_json::from_str(&text).unwrap());
        block_on(async {
            assert_eq!(replay.counters("web").await, Ok(Some(counters)));
            assert_eq!(replay.counters("far").await, Ok(None));
        });
        assert_eq!(replay.difference(), None);
    }

    #[test]
    fn a_recording_of_the_first_format_still_reads() {
        // As `smectl run --record` wrote it before services were recorded.
        let first = r#"{
          "sme_recording": 1,
          "service": "edgex-a",
          "operation": "stop",
          "modules": [{"name": "stop", "sha256": "00"}],
          "dry_run": false,
          "calls": [
            {"call": "stop-timeout", "name": "edgex-a", "answer": {"Ok": null}},
            {"call": "stop", "name": "edgex-a", "timeout_seconds": 10, "answer": {"Ok": null}},
            {"call": "inspect", "name": "gone", "answer": {"Err": {"not-found": "gone"}}}
          ],
          "output": "\"\"",
          "exit_code": 0
        }"#;
        let record: RecordFile = serde_json::from_str(first).unwrap();
        assert!((OLDEST_RECORD_VERSION..=RECORD_VERSION).contains(&record.sme_recording));
        assert_eq!(
            record.calls[1].call,
            Call::Stop {
                name: "edgex-a".into(),
                timeout_seconds: Some(10)
            }
        );
        assert_eq!(
            record.calls[2].answer,
            Err(DockerError::NotFound("gone".into()))
        );
    }
}
