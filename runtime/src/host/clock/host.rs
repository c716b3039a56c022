//! `impl Host` for the `clock` capability.

use std::time::Duration;

use super::ClockHost;
use crate::contract::{CallError, clock};
use crate::sandbox::gate::Scope;
use crate::sandbox::grants::Verb;

impl clock::Host for ClockHost {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        let clock = &self.clock;
        let answer = self
            .gate
            .call(Verb::Clock, Scope::Local("now-ms"), |_| async {
                Ok::<_, CallError>(clock.now_ms())
            })
            .await?;
        Ok(answer.unwrap_or_default())
    }

    async fn sleep(&mut self, millis: u32) -> wasmtime::Result<Result<(), CallError>> {
        let wait = Duration::from_millis(millis.into());
        self.gate
            .call(Verb::Clock, Scope::Local("sleep"), |left| async move {
                if wait >= left {
                    return Err(CallError::LimitExceeded(format!(
                        "a sleep of {millis} ms would pass the module's deadline ({} ms left)",
                        left.as_millis()
                    )));
                }
                tokio::time::sleep(wait).await;
                Ok(())
            })
            .await
    }
}
