//! Where a policy's stdout and stderr go: a capped in-memory buffer, never
//! the executor's own streams (the agent reads those). Writing past the cap
//! stops the guest with [`LimitExceeded::Output`]; what was kept is used to
//! explain a trap (a panic message) and is logged at debug level.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::async_trait;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use crate::sandbox::limits::LimitExceeded;

/// Bytes a guest may hand over in one write.
const WRITE_PERMIT: usize = 4096;

/// A capped, shared capture buffer.
#[derive(Debug, Clone)]
pub struct Captured {
    buffer: Arc<Mutex<Vec<u8>>>,
    capacity: usize,
}

impl Captured {
    /// A buffer holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Captured {
        Captured {
            buffer: Arc::new(Mutex::new(Vec::new())),
            capacity,
        }
    }

    /// Everything captured so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// The guest's panic message, if it printed one: Rust's panic hook
    /// writes `thread '...' panicked at <file:line:col>:` and then the message.
    pub fn panic_message(&self) -> Option<String> {
        let text = self.text();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let at = lines
            .iter()
            .rposition(|line| line.contains("panicked at "))?;
        let (_, location) = lines[at].split_once("panicked at ")?;
        let location = location.trim_end_matches(':');
        match lines.get(at + 1) {
            Some(message) if !message.is_empty() && !message.starts_with("note:") => {
                Some(format!("panicked at {location}: {message}"))
            }
            _ => Some(format!("panicked at {location}")),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, bytes: &[u8]) -> Result<(), LimitExceeded> {
        let mut buffer = self.lock();
        if buffer.len() + bytes.len() > self.capacity {
            return Err(LimitExceeded::Output(self.capacity));
        }
        buffer.extend_from_slice(bytes);
        Ok(())
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes)
            .map_err(|limit| StreamError::Trap(limit.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.append(bytes)
                .map(|()| bytes.len())
                .map_err(io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_past_the_cap_trap_with_the_output_limit() {
        let mut captured = Captured::new(8);
        captured.write(Bytes::from_static(b"bytes\n")).unwrap();
        let Err(StreamError::Trap(error)) = captured.write(Bytes::from_static(b"more")) else {
            panic!("expected a trap");
        };
        assert_eq!(
            error.downcast_ref::<LimitExceeded>(),
            Some(&LimitExceeded::Output(8))
        );
        assert_eq!(captured.text(), "bytes\n");
    }

    #[test]
    fn finds_the_panic_message() {
        let mut captured = Captured::new(1024);
        let hook_output = "\nthread '<unnamed>' panicked at src/lib.rs:4:5:\nboom\nnote: run with `RUST_BACKTRACE=1`\n";
        captured.write(Bytes::from(hook_output)).unwrap();
        assert_eq!(
            captured.panic_message().as_deref(),
            Some("panicked at src/lib.rs:4:5: boom")
        );
        assert_eq!(Captured::new(8).panic_message(), None);
    }
}
