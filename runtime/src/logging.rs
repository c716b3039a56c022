//! Logging, off unless asked for: the agent reads the executor's stdout and
//! stderr together, so nothing may be written there on success. `SME_LOG`
//! (a filter such as `info` or `sme=debug,policy=trace`) or `log_level` in
//! the configuration turns it on; lines go to `log_file` when configured,
//! else to stderr.

use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// Installs the log subscriber if the configuration asks for logging.
pub fn init(config: &Config) {
    let filter = match (&config.log_level, &config.log_file) {
        (Some(filter), _) => filter.as_str(),
        (None, Some(_)) => "info",
        (None, None) => return,
    };
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(true);
    let file = config.log_file.as_ref().and_then(|path| {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .ok()
    });
    // A second initialisation (tests, smectl) keeps the first subscriber.
    let _ = match file {
        Some(file) => builder.with_writer(Mutex::new(file)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}
