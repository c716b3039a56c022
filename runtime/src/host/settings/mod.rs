//! The `settings` capability: the module's own read-only settings from the
//! configuration (`[modules.<name>.settings]`), already validated against
//! what the module declares (see [`crate::config::settings`]).
//!
//! Reading them is not a host call through the gate: it touches no
//! container and nothing outside the store, so it is neither counted nor
//! audited (the values are in the configuration file, and `smectl inspect`
//! shows them).

use std::collections::BTreeMap;

use wasmtime::component::{HasSelf, Linker};

use crate::contract::settings;

/// The settings one module's run may read.
#[derive(Debug, Default)]
pub struct SettingsHost {
    values: BTreeMap<String, String>,
}

impl SettingsHost {
    /// The capability for one module's run, with its validated values.
    pub fn new(values: BTreeMap<String, String>) -> SettingsHost {
        SettingsHost { values }
    }
}

impl settings::Host for SettingsHost {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.values.get(&key).cloned())
    }
}

/// Adds the `sme:policy/settings` functions to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut SettingsHost,
) -> wasmtime::Result<()> {
    settings::add_to_linker::<T, HasSelf<SettingsHost>>(linker, get)
}
