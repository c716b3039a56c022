//! `impl Host` for the `state` capability.

use super::StateHost;
use crate::contract::{CallError, state};
use crate::sandbox::gate::{Noted, Scope};
use crate::sandbox::grants::Verb;
use crate::sandbox::kept::{MAX_KEY, Written};
use crate::sandbox::ledger::LOCK_WAIT;

/// How a call names its key in the audit line: `get <key>`, clipped.
fn described(function: &str, key: &str) -> String {
    let key: String = key.chars().take(MAX_KEY).collect();
    format!("{function} {key}")
}

impl state::Host for StateHost {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, CallError>> {
        let kept = &self.kept;
        self.gate
            .call(
                Verb::State,
                Scope::Local(&described("get", &key)),
                |_| async { kept.get(&key) },
            )
            .await
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<String>,
        value: Option<String>,
    ) -> wasmtime::Result<Result<bool, CallError>> {
        let kept = &self.kept;
        let answer = self
            .gate
            .call_noting(
                Verb::State,
                Scope::Local(&described("compare-and-set", &key)),
                |written: &Written| Noted::bytes(written.replaced, written.bytes),
                |left| async move {
                    kept.compare_and_set(
                        &key,
                        expected.as_deref(),
                        value.as_deref(),
                        LOCK_WAIT.min(left),
                    )
                },
            )
            .await?;
        Ok(answer.map(|written| written.replaced))
    }

    async fn keys(&mut self) -> wasmtime::Result<Result<Vec<String>, CallError>> {
        let kept = &self.kept;
        self.gate
            .call(Verb::State, Scope::Local("keys"), |_| async { kept.keys() })
            .await
    }
}
