//! The audit log: JSON Lines, one line per invocation of a module, one per
//! host call, and one *before* each call that changes a container, appended
//! to a file (never stdout).
//!
//! Many executor processes run at once, so each line is written whole with a
//! single `write` to a file opened for appending, under an exclusive `flock`:
//! lines never interleave or tear. The writing happens on a thread of its
//! own ([`Sink`]) and the runtime waits for it at most [`MAX_WAIT`], so a
//! process holding the lock or a stalled disk cannot hold a run past its
//! deadline. If the log was configured but cannot be written, SME fails
//! closed: a change is never sent to Docker without its line, and the module
//! is stopped.
//!
//! Strings a module controls (container names, list filters, error texts
//! that echo them, its refusal text) are recorded as a prefix of at most
//! [`MAX_FIELD`] bytes as written (JSON-escaped), followed by their length,
//! so no module can make a line longer than 4 KiB.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use crate::fs::trusted::{self, Strictness, TrustError};
use crate::sandbox::sink::{Lines, Sink, SinkError};

/// Longest wait for one line to be written before the log counts as stalled.
pub const MAX_WAIT: Duration = Duration::from_secs(1);
/// Longest prefix kept of a string a module controls, counted as written
/// (JSON-escaped): long enough for any message SME itself prints, short
/// enough that a line with three such fields stays under 4 KiB.
pub const MAX_FIELD: usize = 1024;

/// The audit log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, or is not trusted.
    #[error("cannot use audit log {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: TrustError,
    },
    /// The writing thread could not be started.
    #[error("cannot write audit log {}: {source}", path.display())]
    Thread {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line could not be written.
    #[error("cannot write audit log {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: SinkError,
    },
}

/// One invocation's audit trail.
#[derive(Debug)]
pub struct Audit {
    invocation: String,
    dry_run: bool,
    file: Option<(PathBuf, Sink)>,
    captured: Option<Mutex<Vec<String>>>,
}

impl Audit {
    /// Opens (creating it, mode 0640) the log at `path`, or audits nothing
    /// when `path` is `None`. The file must be a regular file (not a link)
    /// on a trusted path.
    pub fn open(path: Option<&Path>, strictness: Strictness) -> Result<Audit, AuditError> {
        let file = path
            .map(|path| {
                let file = trusted::open_append(path, 0o640, strictness).map_err(|source| {
                    AuditError::Open {
                        path: path.to_path_buf(),
                        source,
                    }
                })?;
                let sink = Sink::spawn(file, Lines::Chained, "sme-audit").map_err(|source| {
                    AuditError::Thread {
                        path: path.to_path_buf(),
                        source,
                    }
                })?;
                Ok((path.to_path_buf(), sink))
            })
            .transpose()?;
        Ok(Audit {
            invocation: new_invocation_id(),
            dry_run: false,
            file,
            captured: None,
        })
    }

    /// Audits nothing (for tests and tools that only capture).
    pub fn none() -> Audit {
        Audit {
            invocation: new_invocation_id(),
            dry_run: false,
            file: None,
            captured: None,
        }
    }

    /// Also keeps every line in memory, for [`Audit::captured`] (`smectl`).
    pub fn capturing(mut self) -> Audit {
        self.captured = Some(Mutex::new(Vec::new()));
        self
    }

    /// Marks every line of this invocation as a dry run.
    pub fn dry_run(mut self) -> Audit {
        self.dry_run = true;
        self
    }

    /// This invocation's random identifier.
    pub fn invocation(&self) -> &str {
        &self.invocation
    }

    /// The lines written so far, when capturing.
    pub fn captured(&self) -> Vec<String> {
        self.captured.as_ref().map_or_else(Vec::new, |lines| {
            lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
    }

    /// Writes the line announcing a call that changes a container, before
    /// it is sent to Docker.
    pub fn intent(&self, intent: &Call<'_>) -> Result<(), AuditError> {
        self.write(&Line {
            event: "intent",
            invocation: &self.invocation,
            time: now(),
            dry_run: self.dry_run,
            body: intent,
        })
    }

    /// Writes a line about the run itself (for example, that logs are being
    /// dropped).
    pub fn notice(&self, detail: &str) -> Result<(), AuditError> {
        self.write(&Line {
            event: "notice",
            invocation: &self.invocation,
            time: now(),
            dry_run: self.dry_run,
            body: &Notice { detail },
        })
    }

    /// Writes the line for one host call.
    pub fn host_call(&self, call: &HostCall<'_>) -> Result<(), AuditError> {
        self.write(&Line {
            event: "host-call",
            invocation: &self.invocation,
            time: now(),
            dry_run: self.dry_run,
            body: call,
        })
    }

    /// Keeps a module's log message in the captured lines, in order with
    /// its host calls, for `smectl run` to show. Never written to the file:
    /// the audit log records what a module did, not what it said (its
    /// `log` host call is audited as usual), and the operator's log has the
    /// text when logging is on. Nothing is kept when not capturing.
    pub fn guest_log(&self, log: &GuestLog<'_>) {
        if let Some(captured) = &self.captured {
            let line = Line {
                event: "log",
                invocation: &self.invocation,
                time: now(),
                dry_run: self.dry_run,
                body: log,
            };
            let text = serde_json::to_string(&line).expect("log lines are plain data");
            captured
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(text);
        }
    }

    /// Writes the line for one invocation of a module (or of the executor,
    /// when it stopped before choosing one).
    pub fn invocation_done(&self, done: &Invocation<'_>) -> Result<(), AuditError> {
        self.write(&Line {
            event: "invocation",
            invocation: &self.invocation,
            time: now(),
            dry_run: self.dry_run,
            body: done,
        })
    }

    fn write<T: Serialize>(&self, line: &Line<'_, T>) -> Result<(), AuditError> {
        if self.file.is_none() && self.captured.is_none() {
            return Ok(());
        }
        let mut bytes = serde_json::to_vec(line).expect("audit lines are plain data");
        if let Some(captured) = &self.captured {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            captured
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(text);
        }
        let Some((path, sink)) = &self.file else {
            return Ok(());
        };
        bytes.push(b'\n');
        sink.write(bytes, MAX_WAIT)
            .map_err(|source| AuditError::Write {
                path: path.clone(),
                source,
            })
    }
}

#[derive(Serialize)]
struct Line<'a, T> {
    event: &'static str,
    invocation: &'a str,
    time: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
    #[serde(flatten)]
    body: &'a T,
}

/// What a host call is about: the `intent` line of a call that changes a
/// container, and the first fields of every `host-call` line.
#[derive(Debug, Serialize)]
pub struct Call<'a> {
    /// The module that called.
    pub module: &'a str,
    /// The service the executor was invoked for.
    #[serde(serialize_with = "clipped")]
    pub service: &'a str,
    /// The host function's verb.
    pub verb: &'a str,
    /// The container (or list filter) the call named.
    #[serde(serialize_with = "clipped")]
    pub target: &'a str,
    /// `service` when the target is a Swarm service; absent for containers
    /// (and so in every line written before services existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<&'static str>,
}

/// A module's log message, as captured for `smectl run` (see
/// [`Audit::guest_log`]).
#[derive(Debug, Serialize)]
pub struct GuestLog<'a> {
    /// The module that logged.
    pub module: &'a str,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: &'a str,
    /// The message, as bounded by the log capability
    /// ([`crate::host::log::MAX_MESSAGE`]).
    pub message: &'a str,
}

#[derive(Serialize)]
struct Notice<'a> {
    #[serde(serialize_with = "clipped")]
    detail: &'a str,
}

/// The audit record of one host call.
#[derive(Debug, Serialize)]
pub struct HostCall<'a> {
    /// Who called, for whom, with what.
    #[serde(flatten)]
    pub call: Call<'a>,
    /// `allow`, `deny`, or `limit` (the call exceeded a limit).
    pub decision: &'a str,
    /// `ok` or the kind of error answered (`not-found`, `timeout`...).
    pub result: &'a str,
    /// The error message, when there is one.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "clipped_option"
    )]
    pub detail: Option<&'a str>,
    /// For `stop` and `restart`, the grace period asked of Docker in seconds
    /// (absent: the container's own); for the `container-config` read of a
    /// stop timeout, the container's own grace period found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
    /// For a measurement, where its counters came from (`cgroup`, or
    /// `engine` for the Docker Engine's stats API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    /// For a measurement from the cgroup, where its network counters came
    /// from: `read` from the container's namespace now, `kept` from the last
    /// reading that had them (the host's processes are not visible here),
    /// `none` (no reading had them: they are 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<&'a str>,
    /// For a change whose answer was lost (the connection cut, no answer in
    /// time), what a fresh inspection then found, which decided the result.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "clipped_option"
    )]
    pub settled: Option<&'a str>,
    /// For a `state` compare-and-set, whether the value was replaced
    /// (false: another run changed it first, nothing was written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<bool>,
    /// For a `state` compare-and-set, the length in bytes of the value
    /// written (0 for a removal); the value itself is never logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// For a change that budgets or windows apply to, what they found
    /// before it was let through: `restart (3 per 10m, [budgets]): 1 of 3
    /// spent`, `inside the stop windows of [windows] ("Mon-Sun 01:00-05:00
    /// Europe/Berlin")`, joined by `; `.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "clipped_option"
    )]
    pub limits: Option<&'a str>,
    /// Time spent, in microseconds.
    pub duration_us: u64,
}

/// The audit record of one invocation.
#[derive(Debug, Serialize)]
pub struct Invocation<'a> {
    /// The service argument.
    #[serde(serialize_with = "clipped")]
    pub service: &'a str,
    /// The operation argument.
    pub operation: &'a str,
    /// The module name (`stop`, `metrics.d/uptime`), if one was chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<&'a str>,
    /// The module file, or `builtin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a str>,
    /// The module's sha256, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<&'a str>,
    /// How the module was trusted (see [`crate::policy::Trust`]): `builtin`,
    /// `pinned`, `signed:<key id>`, `pinned+signed:<key id>` or `unverified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<&'a str>,
    /// `ok`, `failed` (the policy answered with an error) or `error` (SME
    /// could not run the module or stopped it).
    pub outcome: &'a str,
    /// The message printed on failure.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "clipped_option"
    )]
    pub detail: Option<&'a str>,
    /// Time spent, in microseconds.
    pub duration_us: u64,
}

/// `text` cut so that its JSON-escaped form stays within [`MAX_FIELD`]
/// bytes, on a character boundary; a cut text ends with
/// `... [<length> bytes]`.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    let mut escaped = 0;
    for (at, c) in text.char_indices() {
        escaped += match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if c < ' ' => 6,
            c => c.len_utf8(),
        };
        if escaped > MAX_FIELD {
            return format!("{}... [{} bytes]", &text[..at], text.len()).into();
        }
    }
    text.into()
}

fn clipped<S: Serializer>(text: &&str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&clip(text))
}

fn clipped_option<S: Serializer>(text: &Option<&str>, serializer: S) -> Result<S::Ok, S::Error> {
    match text {
        Some(text) => clipped(text, serializer),
        None => serializer.serialize_none(),
    }
}

/// Microseconds in `duration`, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

fn new_invocation_id() -> String {
    // The standard library seeds `RandomState` from the OS; mixing in the PID
    // and the time keeps IDs distinct across processes started together.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(detail: Option<&str>) -> HostCall<'_> {
        HostCall {
            call: Call {
                module: "stop",
                service: "svc",
                verb: "stop",
                target: "svc",
                object: None,
            },
            decision: "allow",
            result: "ok",
            detail,
            timeout_s: None,
            source: None,
            network: None,
            settled: None,
            replaced: None,
            bytes: None,
            limits: None,
            duration_us: 12,
        }
    }

    #[test]
    fn lines_are_json_with_the_invocation_id() {
        let audit = Audit::none().capturing();
        audit.host_call(&call(Some("line\nbreak"))).unwrap();
        let lines = audit.captured();
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(value["event"], "host-call");
        assert_eq!(value["invocation"], audit.invocation());
        assert_eq!(value["detail"], "line\nbreak");
        assert!(value.get("dry_run").is_none());
    }

    #[test]
    fn an_unwritable_log_is_an_error() {
        let path = Path::new("/nonexistent-dir/audit.jsonl");
        let error = Audit::open(Some(path), Strictness::Strict).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot use audit log /nonexistent-dir/audit.jsonl: /nonexistent-dir does not exist"
        );
    }

    #[test]
    fn module_strings_are_clipped_with_their_length() {
        let audit = Audit::none().capturing();
        let long = "\u{1}".repeat(100_000);
        let mut call = call(Some(&long));
        call.call.target = &long;
        audit.host_call(&call).unwrap();
        let line = &audit.captured()[0];
        assert!(line.len() < 4096, "{} bytes", line.len());
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let target = value["target"].as_str().unwrap();
        assert!(target.ends_with("... [100000 bytes]"), "{target}");
        assert!(line.contains("\\u0001"));
    }

    #[test]
    fn guest_logs_are_captured_in_order_and_never_written() {
        let audit = Audit::none().capturing();
        audit.host_call(&call(None)).unwrap();
        audit.guest_log(&GuestLog {
            module: "stop",
            level: "warn",
            message: "careful",
        });
        let lines = audit.captured();
        assert_eq!(lines.len(), 2);
        let value: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(
            (&value["event"], &value["level"], &value["message"]),
            (&"log".into(), &"warn".into(), &"careful".into())
        );
        // Not capturing: nothing kept, nothing to write.
        Audit::none().guest_log(&GuestLog {
            module: "stop",
            level: "warn",
            message: "dropped",
        });
    }

    #[test]
    fn invocation_ids_differ() {
        assert_ne!(new_invocation_id(), new_invocation_id());
    }
}
