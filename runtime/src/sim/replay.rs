//! Answering a run from a recording (`smectl test --replay FILE`): each
//! call gets the recorded answer as long as the module asks exactly what it
//! asked then; otherwise the replay stops answering and keeps the first
//! difference.

use std::fmt::Display;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::backend::Backends;
use crate::backend::docker::{Call, DockerError, Relay, Reply, Result};
use crate::backend::recording::{Exchange, UnitExchange, lock};
use crate::backend::systemd::call::{UnitCall, UnitRelay, UnitReply};
use crate::backend::systemd::{self, SystemdError};

/// An engine that answers from a recording.
#[derive(Debug)]
pub struct Replay {
    state: Mutex<ReplayState>,
}

#[derive(Debug)]
struct ReplayState {
    docker: Tape<Exchange>,
    units: Tape<UnitExchange>,
    /// The first difference: the kind of calls (`Docker calls`, `unit
    /// calls`) and how the run differed.
    difference: Option<(&'static str, String)>,
}

/// The recorded calls of one kind and how far the run got through them.
#[derive(Debug)]
struct Tape<X> {
    exchanges: Vec<X>,
    next: usize,
}

/// A recorded call and its answer, whatever the engine.
trait Recorded: Clone {
    type Call: PartialEq + Display;
    type Error;
    /// What calls of this kind are called in messages.
    const KIND: &'static str;
    /// What the calls of one kind are called where a difference is shown.
    const WHAT: &'static str;
    fn call(&self) -> &Self::Call;
    fn answer(self) -> std::result::Result<serde_json::Value, Self::Error>;
}

impl Recorded for Exchange {
    type Call = Call;
    type Error = DockerError;
    const KIND: &'static str = "Docker";
    const WHAT: &'static str = "Docker calls";
    fn call(&self) -> &Call {
        &self.call
    }
    fn answer(self) -> std::result::Result<serde_json::Value, DockerError> {
        self.answer
    }
}

impl Recorded for UnitExchange {
    type Call = UnitCall;
    type Error = SystemdError;
    const KIND: &'static str = "unit";
    const WHAT: &'static str = "unit calls";
    fn call(&self) -> &UnitCall {
        &self.call
    }
    fn answer(self) -> std::result::Result<serde_json::Value, SystemdError> {
        self.answer
    }
}

/// Why a replayed call got no recorded answer.
enum Missed<E> {
    /// The recording answered with an error.
    Answered(E),
    /// The run differs from the recording here; the text says how.
    Differs(String),
}

impl<X: Recorded> Tape<X> {
    fn new(exchanges: Vec<X>) -> Tape<X> {
        Tape { exchanges, next: 0 }
    }

    /// Recorded calls the run never made, if any.
    fn left_over(&self) -> Option<(&'static str, String)> {
        let left = self.exchanges.len() - self.next;
        self.exchanges.get(self.next).map(|first| {
            let text = format!(
                "the module made {} {} calls; the recording has {left} more, the first: {}",
                self.next,
                X::KIND,
                first.call()
            );
            (X::WHAT, text)
        })
    }

    /// The recorded answer to `call`, if it is the next call recorded.
    fn answer(
        &mut self,
        call: &X::Call,
        differed: bool,
    ) -> std::result::Result<serde_json::Value, Missed<X::Error>> {
        let number = self.next + 1;
        if differed {
            return Err(Missed::Differs(format!(
                "call {number} ({call}) after a difference"
            )));
        }
        let Some(recorded) = self.exchanges.get(self.next).cloned() else {
            return Err(Missed::Differs(format!(
                "call {number}: the module asked {call}; the recording ends after {} calls",
                self.next
            )));
        };
        if recorded.call() != call {
            return Err(Missed::Differs(format!(
                "call {number}: the module asked {call}; the recording has {}",
                recorded.call()
            )));
        }
        self.next += 1;
        recorded.answer().map_err(Missed::Answered)
    }
}

impl Replay {
    /// Answers Docker calls from `exchanges` and unit calls from `units`,
    /// each in order.
    pub fn new(exchanges: Vec<Exchange>, units: Vec<UnitExchange>) -> Replay {
        Replay {
            state: Mutex::new(ReplayState {
                docker: Tape::new(exchanges),
                units: Tape::new(units),
                difference: None,
            }),
        }
    }

    /// These engines: this replay answers every kind.
    pub fn backends(self: &std::sync::Arc<Self>) -> Backends {
        Backends::of(self.clone()).with_units(self.clone())
    }

    /// The first way the run differed from the recording, once it is over:
    /// a call it did not make, or recorded calls it never made; with the
    /// kind of calls it was in (`Docker calls`, `unit calls`).
    pub fn difference(&self) -> Option<(&'static str, String)> {
        let state = lock(&self.state);
        state
            .difference
            .clone()
            .or_else(|| state.docker.left_over())
            .or_else(|| state.units.left_over())
    }

    fn answer(&self, call: Call) -> Result<Reply> {
        self.replayed(
            |state| &mut state.docker,
            call,
            Reply::from_json,
            DockerError::Protocol,
        )
    }

    fn answer_unit(&self, call: UnitCall) -> systemd::Result<UnitReply> {
        self.replayed(
            |state| &mut state.units,
            call,
            UnitReply::from_json,
            SystemdError::Protocol,
        )
    }

    /// The recorded answer to `call` from the tape `tape` picks, read back
    /// by `read`; at the first difference, an error made by `protocol`.
    fn replayed<X: Recorded, R>(
        &self,
        tape: fn(&mut ReplayState) -> &mut Tape<X>,
        call: X::Call,
        read: fn(&X::Call, serde_json::Value) -> serde_json::Result<R>,
        protocol: fn(String) -> X::Error,
    ) -> std::result::Result<R, X::Error> {
        let mut state = lock(&self.state);
        let differed = state.difference.is_some();
        let missed = match tape(&mut state).answer(&call, differed) {
            Ok(value) => match read(&call, value) {
                Ok(reply) => return Ok(reply),
                Err(e) => format!("call ({call}): the recorded answer is unreadable: {e}"),
            },
            Err(Missed::Answered(error)) => return Err(error),
            Err(Missed::Differs(difference)) => difference,
        };
        let message = format!("replay: {missed}");
        state.difference.get_or_insert((X::WHAT, missed));
        Err(protocol(message))
    }
}

#[async_trait]
impl Relay for Replay {
    async fn relay(&self, call: Call) -> Result<Reply> {
        self.answer(call)
    }
}

#[async_trait]
impl UnitRelay for Replay {
    async fn relay_unit(&self, call: UnitCall) -> systemd::Result<UnitReply> {
        self.answer_unit(call)
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
        let replay = Replay::new(exchanges, Vec::new());
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
        let replay = Replay::new(recorded(), Vec::new());
        block_on(async {
            replay.inspect("web").await.unwrap();
            assert!(replay.restart("web", Some(3)).await.is_err());
            assert!(replay.inspect("gone").await.is_err());
        });
        assert_eq!(
            replay.difference().unwrap().1,
            "call 2: the module asked restart web (timeout 3 s); the recording has stop web (timeout 3 s)"
        );
        let short = Replay::new(recorded(), Vec::new());
        block_on(short.inspect("web")).unwrap();
        assert_eq!(
            short.difference().unwrap().1,
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
        let replay = Replay::new(exchanges, Vec::new());
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
        let replay = Replay::new(recording.exchanges(), Vec::new());
        block_on(async {
            replay.service("api").await.unwrap();
            assert!(replay.scale("api", 2, &notes).await.is_err());
        });
        assert_eq!(
            replay.difference().unwrap().1,
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
        let replay = Replay::new(serde_json::from_str(&text).unwrap(), Vec::new());
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

    #[test]
    fn unit_calls_are_recorded_and_replayed() {
        use crate::sim::units::SimUnits;
        use sme_model::units::{Behaviour, UnitModel};
        use std::time::Duration;

        let units = SimUnits::with([
            UnitModel::new("edgex-a.service", Behaviour::Runs, false),
            UnitModel::new("edgex-m.service", Behaviour::Runs, true),
        ]);
        let recording = Arc::new(Recording::new(engine().with_units(Arc::new(units))));
        let recorded = recording.backends().units;
        let bound = Some(Duration::from_secs(2));
        block_on(async {
            recorded.start("edgex-a.service").await.unwrap();
            recorded.stop("edgex-a.service", bound).await.unwrap();
            recorded.start("edgex-m.service").await.unwrap_err();
            recorded.unit("edgex-gone.service").await.unwrap_err();
        });
        let record = RecordFile {
            sme_recording: RECORD_VERSION,
            service: "edgex-a".into(),
            operation: "stop".into(),
            modules: Vec::new(),
            dry_run: false,
            calls: recording.exchanges(),
            units: recording.unit_exchanges(),
            output: String::new(),
            exit_code: 0,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            text.contains(r#""call":"unit-stop","name":"edgex-a.service","kill_after_ms":2000"#),
            "{text}"
        );
        let read: RecordFile = serde_json::from_str(&text).unwrap();
        assert_eq!(read, record);
        let replay = Arc::new(Replay::new(read.calls, read.units));
        let units = replay.backends().units;
        block_on(async {
            let started = units.start("edgex-a.service").await.unwrap();
            assert_eq!(started.unit.active_state, "active");
            let stopped = units.stop("edgex-a.service", bound).await.unwrap();
            assert_eq!(stopped.unit.active_state, "inactive");
            let masked = units.start("edgex-m.service").await.unwrap_err();
            assert!(matches!(masked, SystemdError::Refused { .. }), "{masked:?}");
            assert_eq!(
                units.unit("edgex-gone.service").await,
                Err(SystemdError::NotFound("edgex-gone.service".into()))
            );
        });
        assert_eq!(replay.difference(), None);

        // Another bound is another call; a recording without unit calls
        // answers none.
        let replay = Arc::new(Replay::new(Vec::new(), recording.unit_exchanges()));
        let units = replay.backends().units;
        block_on(async {
            units.start("edgex-a.service").await.unwrap();
            assert!(units.stop("edgex-a.service", None).await.is_err());
        });
        assert_eq!(
            replay.difference().unwrap(),
            (
                "unit calls",
                "call 2: the module asked unit-stop edgex-a.service; the recording has \
                 unit-stop edgex-a.service (kill after 2000 ms)"
                    .to_owned()
            )
        );
    }
}
