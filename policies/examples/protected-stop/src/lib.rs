//! A `stop` that refuses to stop protected services, and otherwise does
//! exactly what the reference executor does.
//!
//! A service is protected when it is in [`PROTECTED`] or its container
//! carries the label named by the `protected_label` setting (default
//! `org.sme.protected`) set to `true`. Install it as `stop.wasm`; rename the
//! label without rebuilding:
//!
//! ```toml
//! [modules.stop.settings]
//! protected_label = "com.example.keep"
//! ```

use sme_guest::edgex::{self, Lifecycle};
use sme_guest::{Request, containers, log};

/// Services the agent may never stop: the data store and the secret store.
const PROTECTED: &[&str] = &["edgex-redis", "edgex-core-consul", "edgex-vault"];

sme_guest::settings! {
    string PROTECTED_LABEL = "protected_label", "org.sme.protected",
        "Container label that protects its container when set to true";
}

fn stop(request: Request) -> Result<String, String> {
    let service = &request.service;
    if PROTECTED.contains(&service.as_str()) || labelled_protected(service)? {
        log::warn(&format!("refused to stop protected service {service}"));
        return Err(format!(
            "{}: {service} is protected and may not be stopped",
            Lifecycle::Stop.prefix()
        ));
    }
    edgex::lifecycle(Lifecycle::Stop, service)
}

fn labelled_protected(service: &str) -> Result<bool, String> {
    let label = PROTECTED_LABEL.get();
    match containers::inspect(service) {
        Ok(container) => Ok(container
            .labels
            .iter()
            .any(|(key, value)| *key == label && value == "true")),
        Err(error) => Err(edgex::failure(Lifecycle::Stop, service, &error)),
    }
}

sme_guest::operation!(stop);
