//! A file written by a thread of its own, so that a stalled disk, a full
//! disk or another process holding the file's lock never blocks the
//! runtime's only thread beyond a bound: the runtime hands lines over and
//! waits for the answer at most as long as it chooses.
//!
//! If a wait runs out, the sink is *broken*: every later line fails at once,
//! because nothing can be promised about lines queued behind a stuck one.
//! The stuck thread is abandoned; the process exits without waiting for it.

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

/// Lines that may wait in the queue; a writer this far behind is stalled.
const QUEUE: usize = 256;

/// Why a line was not written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The write failed (a full disk, an I/O error).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The write did not finish in time.
    #[error("not written within {} ms (another process holding its lock, or a stalled disk)", .0.as_millis())]
    Stalled(Duration),
    /// An earlier line did not finish in time.
    #[error("an earlier line was not written in time")]
    Broken,
}

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// As they come.
    Plain,
    /// Each under an exclusive `flock`, so that concurrent processes
    /// appending to the same file never interleave.
    Locked,
    /// Locked, and chained to the line before (see [`crate::sandbox::chain`]).
    Chained,
}

struct Job {
    bytes: Vec<u8>,
    answer: Option<SyncSender<io::Result<()>>>,
}

/// The writing end of a file served by its own thread.
#[derive(Debug)]
pub struct Sink {
    jobs: SyncSender<Job>,
    broken: AtomicBool,
}

impl Sink {
    /// Starts the thread that writes to `file`, its lines as `lines` says.
    pub fn spawn(file: File, lines: Lines, name: &str) -> io::Result<Sink> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for job in queue {
                    let written = if job.bytes.is_empty() {
                        Ok(())
                    } else {
                        write_line(&file, &job.bytes, lines)
                    };
                    if let Some(answer) = job.answer {
                        let _ = answer.send(written);
                    }
                }
            })?;
        Ok(Sink {
            jobs,
            broken: AtomicBool::new(false),
        })
    }

    /// Writes `bytes` and waits at most `wait` for it to be done.
    pub fn write(&self, bytes: Vec<u8>, wait: Duration) -> Result<(), SinkError> {
        if self.broken.load(Ordering::Relaxed) {
            return Err(SinkError::Broken);
        }
        let (answer, answered) = mpsc::sync_channel(1);
        let job = Job {
            bytes,
            answer: Some(answer),
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.jobs.try_send(job)
        {
            self.broken.store(true, Ordering::Relaxed);
            return Err(SinkError::Stalled(Duration::ZERO));
        }
        match answered.recv_timeout(wait) {
            Ok(written) => Ok(written?),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                self.broken.store(true, Ordering::Relaxed);
                Err(SinkError::Stalled(wait))
            }
        }
    }

    /// Queues `bytes` without waiting; `false` when the line was dropped
    /// because the writer is stalled.
    pub fn send(&self, bytes: Vec<u8>) -> bool {
        !self.broken.load(Ordering::Relaxed)
            && self
                .jobs
                .try_send(Job {
                    bytes,
                    answer: None,
                })
                .is_ok()
    }

    /// Waits at most `wait` until every queued line is written.
    pub fn flush(&self, wait: Duration) -> Result<(), SinkError> {
        self.write(Vec::new(), wait)
    }
}

fn write_line(mut file: &File, bytes: &[u8], lines: Lines) -> io::Result<()> {
    if lines == Lines::Plain {
        return file.write_all(bytes);
    }
    file.lock()?;
    // Under the lock nobody else appends: a line written in part (a full
    // disk) is cut off again, so the file ends where it did and the next
    // line starts a line of its own.
    let written = file.metadata().and_then(|before| {
        let chained;
        let bytes = if lines == Lines::Chained {
            chained = crate::sandbox::chain::link(file, before.len(), bytes)?;
            &chained
        } else {
            bytes
        };
        let start = file.metadata()?.len();
        file.write_all(bytes).inspect_err(|_| {
            let _ = file.set_len(start);
        })
    });
    file.unlock()?;
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/trusted-tests");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!("sink-{name}-{}", std::process::id()))
    }

    #[test]
    fn lines_are_written_in_order() {
        let path = scratch("order");
        let sink = Sink::spawn(File::create(&path).unwrap(), Lines::Locked, "test").unwrap();
        sink.write(b"a\n".to_vec(), Duration::from_secs(5)).unwrap();
        assert!(sink.send(b"b\n".to_vec()));
        sink.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_held_lock_breaks_the_sink_within_the_wait() {
        let path = scratch("locked");
        let file = File::create(&path).unwrap();
        let holder = File::open(&path).unwrap();
        holder.lock().unwrap();
        let sink = Sink::spawn(file, Lines::Locked, "test").unwrap();
        let started = std::time::Instant::now();
        let error = sink
            .write(b"x\n".to_vec(), Duration::from_millis(100))
            .unwrap_err();
        assert!(matches!(error, SinkError::Stalled(_)), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(
            sink.write(b"y\n".to_vec(), Duration::from_secs(5)),
            Err(SinkError::Broken)
        ));
        holder.unlock().unwrap();
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_full_disk_is_an_error() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let sink = Sink::spawn(file, Lines::Plain, "test").unwrap();
        let error = sink
            .write(b"x\n".to_vec(), Duration::from_secs(5))
            .unwrap_err();
        assert!(matches!(error, SinkError::Io(_)), "{error}");
    }
}
