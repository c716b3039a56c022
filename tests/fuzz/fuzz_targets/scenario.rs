//! Scenario files (`smectl test`): containers, services, units, the
//! expected outcome, and an inline configuration, which is parsed as the
//! configuration file is.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sme::config::Config;
use sme::sim::scenario::{ConfigSource, Scenario};

fuzz_target!(|text: &str| {
    let path = Path::new("/home/operator/policy/scenarios/case.toml");
    if let Ok(scenario) = Scenario::parse(text, path)
        && let ConfigSource::Inline(inline) = &scenario.config
    {
        let _ = Config::parse(inline, path);
    }
});
