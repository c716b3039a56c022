//! Which requests are about Docker Swarm services, and which service a
//! request names (`[swarm]` in the configuration, see docs/swarm.md).
//!
//! The agent passes a service name such as `edgex-core-data`. With
//! `mode = "off"` (the default) that names a container, exactly as before.
//! With `"on"` it names a Swarm service, found by the `service` template;
//! with `"auto"` it names that service when the swarm has one by that name,
//! and the container otherwise. Policies ask `services.target` which it is.

use std::fmt;

use sme_model::names;

/// The `service` template when none is configured: the agent's name as is.
pub const DEFAULT_TEMPLATE: &str = "{service}";

/// Whether requests name containers, services, or either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Containers only; `services.target` answers none.
    #[default]
    Off,
    /// Swarm services only.
    On,
    /// The service when the swarm has one by the mapped name, else the
    /// container (a node that is no swarm manager has none).
    Auto,
}

impl Mode {
    /// Parses `off`, `on` or `auto`.
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "off" => Some(Mode::Off),
            "on" => Some(Mode::On),
            "auto" => Some(Mode::Auto),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Off => "off",
            Mode::On => "on",
            Mode::Auto => "auto",
        })
    }
}

/// A `service` template that does not map names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "service template {0:?} must contain {{service}} or {{name}} once, with only [a-zA-Z0-9_.-] around it"
)]
pub struct BadTemplate(String);

/// How the agent's service name becomes a Swarm service name: `{service}`
/// is the agent's name, `{name}` the same without the `edgex-` prefix.
/// `edgex_{name}` maps `edgex-core-data` to `edgex_core-data`, the name
/// `docker stack deploy -c docker-compose.yml edgex` gives the compose
/// service `core-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(names::Template);

impl Template {
    /// Parses a template with exactly one placeholder.
    pub fn parse(text: &str) -> Result<Template, BadTemplate> {
        let plain = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        };
        names::Template::parse(text)
            .filter(|template| {
                let (before, after) = template.around();
                plain(before) && plain(after)
            })
            .map(Template)
            .ok_or_else(|| BadTemplate(text.to_owned()))
    }

    /// The service name for the agent's `service`. The result is checked
    /// like any name a policy passes, when it is used.
    pub fn apply(&self, service: &str) -> String {
        self.0.apply(service)
    }
}

impl Default for Template {
    fn default() -> Template {
        Template::parse(DEFAULT_TEMPLATE).expect("the default template parses")
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `[swarm]`: the mode and the name template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swarm {
    /// Whether requests name services.
    pub mode: Mode,
    /// How their names map to service names.
    pub service: Template,
}

impl Swarm {
    /// The service name a request for `service` may be about: none when
    /// swarm mode is off.
    pub fn candidate(&self, service: &str) -> Option<String> {
        (self.mode != Mode::Off).then(|| self.service.apply(service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_map_edgex_names() {
        let stack = Template::parse("edgex_{name}").unwrap();
        assert_eq!(stack.apply("edgex-core-data"), "edgex_core-data");
        assert_eq!(stack.apply("device-virtual"), "edgex_device-virtual");
        let same = Template::default();
        assert_eq!(same.apply("edgex-core-data"), "edgex-core-data");
        assert_eq!(
            Template::parse("{service}-svc").unwrap().apply("edgex-ui"),
            "edgex-ui-svc"
        );
        assert_eq!(stack.to_string(), "edgex_{name}");
    }

    #[test]
    fn templates_without_one_placeholder_or_with_odd_characters_are_refused() {
        for text in [
            "edgex",
            "{service}{name}",
            "a/{service}",
            "{name} x",
            "{service}{service}",
        ] {
            assert!(Template::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn off_maps_nothing() {
        let off = Swarm::default();
        assert_eq!(off.candidate("edgex-ui"), None);
        let on = Swarm {
            mode: Mode::On,
            service: Template::parse("edgex_{name}").unwrap(),
        };
        assert_eq!(on.candidate("edgex-ui").as_deref(), Some("edgex_ui"));
    }
}
