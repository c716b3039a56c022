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

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::containers::Status;
    use sme_guest::edgex::SUCCESS;
    use sme_guest::log::Level;
    use sme_guest::testing::{self, Scene};

    fn refusal(service: &str) -> Result<String, String> {
        Err(format!(
            "Error stopping service: {service} is protected and may not be stopped"
        ))
    }

    #[test]
    fn a_service_protected_by_name_is_refused_without_a_call() {
        Scene::new()
            .container(testing::container("edgex-redis"))
            .install();
        assert_eq!(
            stop(testing::request("edgex-redis", "stop")),
            refusal("edgex-redis")
        );
        assert!(testing::calls().is_empty());
        let container = testing::state("edgex-redis").unwrap();
        assert_eq!(container.status, Status::Running);
        assert_eq!(
            testing::logs(),
            [(
                Level::Warn,
                "refused to stop protected service edgex-redis".to_owned()
            )]
        );
    }

    #[test]
    fn a_service_protected_by_label_is_refused() {
        Scene::new()
            .container(testing::container("edgex-app").label("org.sme.protected", "true"))
            .install();
        assert_eq!(
            stop(testing::request("edgex-app", "stop")),
            refusal("edgex-app")
        );
        assert_eq!(testing::calls(), ["inspect edgex-app"]);
        let container = testing::state("edgex-app").unwrap();
        assert_eq!(container.status, Status::Running);
    }

    #[test]
    fn the_label_is_the_setting() {
        Scene::new()
            .container(testing::container("edgex-app").label("com.example.keep", "true"))
            .setting("protected_label", "com.example.keep")
            .install();
        assert_eq!(
            stop(testing::request("edgex-app", "stop")),
            refusal("edgex-app")
        );
    }

    #[test]
    fn other_services_are_stopped_like_the_reference() {
        Scene::new()
            .container(
                testing::container("edgex-app")
                    .label("org.sme.protected", "false")
                    .label("com.example.keep", "true"),
            )
            .install();
        assert_eq!(
            stop(testing::request("edgex-app", "stop")),
            Ok(SUCCESS.to_owned())
        );
        assert_eq!(
            testing::calls(),
            [
                "inspect edgex-app",
                "inspect edgex-app",
                "stop edgex-app",
                "inspect edgex-app"
            ]
        );
        let container = testing::state("edgex-app").unwrap();
        assert_eq!(container.status, Status::Exited);
    }

    #[test]
    fn a_missing_container_prints_the_cli_error() {
        Scene::new().install();
        assert_eq!(
            stop(testing::request("edgex-x", "stop")),
            Err(
                "exit status 1: Error response from daemon: No such container: edgex-x\n"
                    .to_owned()
            )
        );
    }
}
