//! `impl Host` for the `clock` capability.

use std::time::{Duration, SystemTime};

use super::ClockHost;
use crate::contract::{CallError, clock};
use crate::sandbox::gate::Scope;
use crate::sandbox::grants::Verb;

impl clock::Host for ClockHost {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        let answer = self
            .gate
            .call(Verb::Clock, Scope::Local("now-ms"), |_| async {
                let since_epoch = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
                Ok::<_, CallError>(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
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
