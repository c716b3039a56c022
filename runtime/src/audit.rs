//! The audit log: JSON Lines, one line per invocation of a module and one
//! per host call, appended to a file (never stdout).
//!
//! Many executor processes run at once, so each line is written whole with a
//! single `write` to a file opened for appending, under an exclusive `flock`:
//! lines never interleave or tear. If the log was configured but cannot be
//! written, SME fails closed: nothing runs without its audit trail.

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// The audit log could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write audit log {}: {source}", path.display())]
pub struct AuditError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// One invocation's audit trail.
#[derive(Debug)]
pub struct Audit {
    invocation: String,
    dry_run: bool,
    file: Option<(PathBuf, File)>,
    captured: Option<Mutex<Vec<String>>>,
}

impl Audit {
    /// Opens (creating it, mode 0640) the log at `path`, or audits nothing
    /// when `path` is `None`.
    pub fn open(path: Option<&Path>) -> Result<Audit, AuditError> {
        let file = path
            .map(|path| {
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o640)
                    .open(path)
                    .map(|file| (path.to_path_buf(), file))
                    .map_err(|source| AuditError {
                        path: path.to_path_buf(),
                        source,
                    })
            })
            .transpose()?;
        Ok(Audit {
            invocation: new_invocation_id(),
            dry_run: false,
            file,
            captured: None,
        })
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
        let Some((path, file)) = &self.file else {
            return Ok(());
        };
        bytes.push(b'\n');
        let failed = |source| AuditError {
            path: path.clone(),
            source,
        };
        file.lock().map_err(failed)?;
        let written = (&*file).write_all(&bytes).map_err(failed);
        let unlocked = file.unlock().map_err(failed);
        written.and(unlocked)
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

/// The audit record of one host call.
#[derive(Debug, Serialize)]
pub struct HostCall<'a> {
    /// The module that called.
    pub module: &'a str,
    /// The service the executor was invoked for.
    pub service: &'a str,
    /// The host function's verb.
    pub verb: &'a str,
    /// The container (or list filter) the call named.
    pub target: &'a str,
    /// `allow`, `deny`, or `limit` (the call exceeded a limit).
    pub decision: &'a str,
    /// `ok` or the kind of error answered (`not-found`, `timeout`...).
    pub result: &'a str,
    /// The error message, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    /// Time spent, in microseconds.
    pub duration_us: u64,
}

/// The audit record of one invocation.
#[derive(Debug, Serialize)]
pub struct Invocation<'a> {
    /// The service argument.
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
    /// `ok`, `failed` (the policy answered with an error) or `error` (SME
    /// could not run the module or stopped it).
    pub outcome: &'a str,
    /// The message printed on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    /// Time spent, in microseconds.
    pub duration_us: u64,
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
            module: "stop",
            service: "svc",
            verb: "stop",
            target: "svc",
            decision: "allow",
            result: "ok",
            detail,
            duration_us: 12,
        }
    }

    #[test]
    fn lines_are_json_with_the_invocation_id() {
        let audit = Audit::open(None).unwrap().capturing();
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
        let error = Audit::open(Some(Path::new("/nonexistent-dir/audit.jsonl"))).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot write audit log /nonexistent-dir/audit.jsonl")
        );
    }

    #[test]
    fn invocation_ids_differ() {
        assert_ne!(new_invocation_id(), new_invocation_id());
    }
}
