//! `impl Host` for the `log` capability.

use super::{LogHost, MAX_MESSAGE};
use crate::contract::CallError;
use crate::contract::log::{self, Level};
use crate::sandbox::audit::GuestLog;
use crate::sandbox::gate::Scope;
use crate::sandbox::grants::Verb;

impl log::Host for LogHost {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let module = self.module.as_str();
        let message = truncate(&message, MAX_MESSAGE);
        let gate = &self.gate;
        let answer = gate
            .call(Verb::Log, Scope::Local("log"), |_| async move {
                // Before the call's own audit line, so `smectl run` shows
                // the message in its place among the host calls.
                gate.audit().guest_log(&GuestLog {
                    module,
                    level: level_name(level),
                    message,
                });
                match level {
                    Level::Trace => tracing::trace!(target: "policy", module, "{message}"),
                    Level::Debug => tracing::debug!(target: "policy", module, "{message}"),
                    Level::Info => tracing::info!(target: "policy", module, "{message}"),
                    Level::Warn => tracing::warn!(target: "policy", module, "{message}"),
                    Level::Error => tracing::error!(target: "policy", module, "{message}"),
                }
                Ok::<(), CallError>(())
            })
            .await?;
        // Logging cannot be refused; a limit has already stopped the guest.
        debug_assert!(answer.is_ok());
        Ok(())
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(super::truncate("héllo", 2), "h");
        assert_eq!(super::truncate("short", 10), "short");
    }
}
