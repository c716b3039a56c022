//! Record every Docker call of a run, and answer a later run from that record.
//!
//! `smectl run --record FILE` wraps its Docker (the real one, or a dry run
//! of it) in [`Recording`]; `smectl test --replay FILE` runs the module
//! against `crate::sim::Replay`, which answers each call with the recorded answer as
//! long as the module asks exactly what it asked then, and otherwise stops
//! answering and keeps the first difference. Calls the gate denies never
//! reach Docker, so they are not in a recording; under the same
//! configuration a replay denies them again.

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Backends;
pub use super::docker::call::Call;
use super::docker::call::{Relay, Reply, send};
use super::docker::{DockerError, Result};
use super::systemd::call::{self as unit_call, UnitCall, UnitRelay, UnitReply};
use super::systemd::{self, SystemdError};

/// A call and what the engine answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The request.
    #[serde(flatten)]
    pub call: Call,
    /// The answer: the value as JSON, or the engine's error.
    pub answer: std::result::Result<serde_json::Value, DockerError>,
}

/// The version of the recording format [`RecordFile`] writes: 2 added the
/// Swarm service calls, 3 the reads of containers' cgroup counters, 4 the
/// systemd unit calls (`units`).
pub const RECORD_VERSION: u32 = 4;

/// The oldest recording format still read: each version only added calls,
/// so an older recording reads as it was written.
pub const OLDEST_RECORD_VERSION: u32 = 1;

/// A recorded run, as `smectl run --record` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFile {
    /// [`RECORD_VERSION`].
    pub sme_recording: u32,
    /// The service the request named.
    pub service: String,
    /// The operation it named.
    pub operation: String,
    /// The modules that ran, `name` and `sha256`, in order.
    pub modules: Vec<RecordedModule>,
    /// Whether the run was a dry run (mutating calls simulated).
    pub dry_run: bool,
    /// Every Docker call and its answer, in order.
    pub calls: Vec<Exchange>,
    /// Every systemd unit call and its answer, in order (none before
    /// format 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<UnitExchange>,
    /// What the executor printed.
    pub output: String,
    /// Its exit code.
    pub exit_code: i32,
}

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// Not the JSON `smectl run --record` writes.
    #[error("not a recording of `smectl run --record`: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A format this build does not read.
    #[error(
        "recording format {0} is not one this smectl reads ({OLDEST_RECORD_VERSION} to \
         {RECORD_VERSION}); replay it with the smectl that recorded it"
    )]
    Version(u32),
}

impl RecordFile {
    /// Reads a recording: the text of a file `smectl run --record` wrote,
    /// in any format from [`OLDEST_RECORD_VERSION`] to [`RECORD_VERSION`].
    pub fn parse(text: &str) -> std::result::Result<RecordFile, RecordingError> {
        let record: RecordFile = serde_json::from_str(text)?;
        if !(OLDEST_RECORD_VERSION..=RECORD_VERSION).contains(&record.sme_recording) {
            return Err(RecordingError::Version(record.sme_recording));
        }
        Ok(record)
    }
}

/// A unit call and what systemd answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitExchange {
    /// The request.
    #[serde(flatten)]
    pub call: UnitCall,
    /// The answer: the value as JSON, or systemd's error.
    pub answer: std::result::Result<serde_json::Value, SystemdError>,
}

/// A module named in a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedModule {
    /// Its name (`stop`, `metrics.d/uptime`).
    pub name: String,
    /// The sha256 of its file.
    pub sha256: String,
}

/// Engines that pass every call on and keep it with its answer.
#[derive(Debug)]
pub struct Recording {
    inner: Backends,
    exchanges: Mutex<Vec<Exchange>>,
    unit_exchanges: Mutex<Vec<UnitExchange>>,
}

impl Recording {
    /// Records the calls made to `inner`.
    pub fn new(inner: Backends) -> Recording {
        Recording {
            inner,
            exchanges: Mutex::new(Vec::new()),
            unit_exchanges: Mutex::new(Vec::new()),
        }
    }

    /// Every Docker call so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.exchanges).clone()
    }

    /// Every unit call so far, in order.
    pub fn unit_exchanges(&self) -> Vec<UnitExchange> {
        lock(&self.unit_exchanges).clone()
    }

    /// These engines, with this recording in front of each.
    pub fn backends(self: &std::sync::Arc<Self>) -> Backends {
        Backends::of(self.clone()).with_units(self.clone())
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl Relay for Recording {
    async fn relay(&self, call: Call) -> Result<Reply> {
        let answer = send(&self.inner, call.clone()).await;
        let kept = match &answer {
            Ok(reply) => reply
                .to_json()
                .map_err(|e| DockerError::Protocol(format!("cannot record the answer: {e}"))),
            Err(error) => Err(error.clone()),
        };
        lock(&self.exchanges).push(Exchange { call, answer: kept });
        answer
    }
}

#[async_trait]
impl UnitRelay for Recording {
    async fn relay_unit(&self, call: UnitCall) -> systemd::Result<UnitReply> {
        let answer = unit_call::send(&*self.inner.units, call.clone()).await;
        let kept = match &answer {
            Ok(reply) => reply
                .to_json()
                .map_err(|e| SystemdError::Protocol(format!("cannot record the answer: {e}"))),
            Err(error) => Err(error.clone()),
        };
        lock(&self.unit_exchanges).push(UnitExchange { call, answer: kept });
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `recording` fuzz target: a large number read as a float
    /// came back one unit off after writing it again, so a recording did not
    /// replay the answer it held.
    #[test]
    fn a_recording_reads_back_exactly_as_written() {
        let text = r#"{"sme_recording":4,"service":"web","operation":"metrics","modules":[],
            "dry_run":false,"calls":[{"call":"counters","name":"web","answer":{"Ok":
            {"system_ns":35929440960255565752,"ratio":0.1234567890123456789}}}],
            "output":"","exit_code":0}"#;
        let record = RecordFile::parse(text).unwrap();
        let again = RecordFile::parse(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(again, record);
    }

    #[test]
    fn only_known_formats_are_read() {
        let text = |version: u32| {
            format!(
                r#"{{"sme_recording":{version},"service":"web","operation":"stop","modules":[],
                "dry_run":false,"calls":[],"output":"","exit_code":0}}"#
            )
        };
        assert!(RecordFile::parse(&text(RECORD_VERSION)).is_ok());
        assert!(matches!(
            RecordFile::parse(&text(RECORD_VERSION + 1)),
            Err(RecordingError::Version(_))
        ));
        assert!(matches!(
            RecordFile::parse("{}"),
            Err(RecordingError::Malformed(_))
        ));
    }
}
