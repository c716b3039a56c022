//! Logging, off unless asked for: the agent reads the executor's stdout and
//! stderr together, so nothing may be written there on success. `SME_LOG`
//! (a filter such as `info` or `sme=debug,policy=trace`) or `log_level` in
//! the configuration turns it on; lines go to `log_file` when configured,
//! else to stderr (for an operator running `sme` by hand).
//!
//! A configured `log_file` is a trusted path: a regular file, not a link,
//! on a path only root or this user can change. If it cannot be opened,
//! logs are dropped (never sent to stderr instead, where the agent would
//! read them) and the caller records that in the audit log. Lines are
//! written by a thread of their own ([`Sink`]) and dropped, never waited
//! for, when the disk stalls.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::Config;
use crate::fs::trusted;
use crate::sandbox::sink::Sink;

/// Longest wait for queued log lines at exit.
const FLUSH_WAIT: Duration = Duration::from_millis(200);

/// The log file's writer, to flush before the process exits.
#[derive(Debug, Clone)]
pub struct LogFile(Arc<Sink>);

impl LogFile {
    /// Waits (briefly) for the queued lines to be written.
    pub fn flush(&self) {
        let _ = self.0.flush(FLUSH_WAIT);
    }
}

/// Installs the log subscriber if the configuration asks for logging.
/// `Ok(Some)` holds the log file to flush at exit; `Err` says why the
/// configured `log_file` cannot be used (logs are then dropped).
pub fn init(config: &Config) -> Result<Option<LogFile>, String> {
    let filter = match (&config.log_level, &config.log_file) {
        (Some(filter), _) => filter.as_str(),
        (None, Some(_)) => "info",
        (None, None) => return Ok(None),
    };
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(true);
    let Some(path) = &config.log_file else {
        // A second initialisation (tests, smectl) keeps the first subscriber.
        let _ = builder.with_writer(io::stderr).try_init();
        return Ok(None);
    };
    let sink = trusted::open_append(path, 0o640, config.strictness)
        .map_err(|error| error.to_string())
        .and_then(|file| {
            Sink::spawn(file, crate::sandbox::sink::Lines::Plain, "sme-log")
                .map_err(|error| error.to_string())
        })
        .map_err(|error| {
            format!(
                "log_file {} cannot be used, logs are dropped: {error}",
                path.display()
            )
        })?;
    let log = LogFile(Arc::new(sink));
    let _ = builder.with_writer(log.clone()).try_init();
    Ok(Some(log))
}

/// One formatted event, handed to the sink whole when dropped.
#[derive(Debug)]
pub struct Line {
    sink: Arc<Sink>,
    bytes: Vec<u8>,
}

impl io::Write for Line {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.sink.send(std::mem::take(&mut self.bytes));
        }
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            sink: self.0.clone(),
            bytes: Vec::new(),
        }
    }
}
