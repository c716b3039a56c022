//! A `stop` that refuses to stop protected services, and otherwise does
//! exactly what the reference executor does.
//!
//! A service is protected when it is in [`PROTECTED`] or its container
//! carries the label `org.sme.protected=true`. Install it as `stop.wasm`.

use sme_guest::edgex::{self, Lifecycle};
use sme_guest::{Request, containers, log};

/// Services the agent may never stop: the data store and the secret store.
const PROTECTED: &[&str] = &["edgex-redis", "edgex-core-consul", "edgex-vault"];

/// A container label that protects its container when set to `true`.
const PROTECTED_LABEL: &str = "org.sme.protected";

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
    match containers::inspect(service) {
        Ok(container) => Ok(container
            .labels
            .iter()
            .any(|(key, value)| key == PROTECTED_LABEL && value == "true")),
        Err(error) => Err(edgex::failure(Lifecycle::Stop, service, &error)),
    }
}

sme_guest::operation!(stop);
