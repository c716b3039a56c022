//! The configuration file (`sme.toml`): grants, limits, settings, signing,
//! `[swarm]`, `[systemd]`. Any text is an answer, never a panic; what it
//! accepts reads the same again.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sme::config::Config;

fuzz_target!(|text: &str| {
    let path = Path::new("/etc/sme/sme.toml");
    if let (Ok(config), Ok(again)) = (Config::parse(text, path), Config::parse(text, path)) {
        assert_eq!(format!("{config:?}"), format!("{again:?}"));
    }
});
