//! Unit names SME sends to systemd, checked before any request: systemd's
//! unit-name syntax (`systemd.unit(5)`), narrowed to what an executor
//! needs. A name is a prefix and one suffix naming the unit type; the prefix
//! has ASCII letters, digits and `:-_.` only, the whole at most 255 bytes.
//! Refused although systemd has them: instances (`@`), since a template's
//! instance can name anything, and escapes (`\x2d`), which change the name
//! systemd resolves.
//!
//! The agent's service name becomes a unit through the configured
//! [`Template`]: `{name}` is the name with the `edgex-` prefix stripped, as
//! EdgeX's snap executor strips it (`snap.edgexfoundry.{name}.service`),
//! `{service}` the name as the agent passed it (`{service}.service` for a
//! native install's `edgex-core-data.service`). The part put in adds no
//! dot, so it can never add a suffix or step into another unit's name
//! space.

use sme_model::names;

/// The unit types systemd knows, as name suffixes.
pub const UNIT_TYPES: [&str; 11] = [
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

/// Longest unit name systemd accepts.
pub const MAX_LEN: usize = 255;

/// Whether `name` is a unit name SME may send: see the module's text.
pub fn is_unit_name(name: &str) -> bool {
    let Some((prefix, suffix)) = name.rsplit_once('.') else {
        return false;
    };
    name.len() <= MAX_LEN
        && !prefix.is_empty()
        && UNIT_TYPES.contains(&suffix)
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.'))
}

/// The configured mapping from the agent's service names to unit names:
/// one placeholder between a fixed prefix and suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(names::Template);

impl Template {
    /// Parses `text` (`snap.edgexfoundry.{name}.service`); the message says
    /// what is wrong.
    pub fn parse(text: &str) -> Result<Template, String> {
        let template = names::Template::parse(text)
            .ok_or_else(|| format!("{text:?} must hold one of {{name}} or {{service}} once"))?;
        // Any name put in must make a unit name: try the plainest one.
        if !is_unit_name(&template.fill("x")) {
            return Err(format!(
                "{text:?} does not make a unit name: expected letters, digits and \":-_.\" \
                 around the placeholder, ending in a unit type such as \".service\", with no \
                 \"@\" or escapes"
            ));
        }
        Ok(Template(template))
    }

    /// The unit that agent service `service` maps to, if it makes one:
    /// letters, digits, `-`, `_` and `:` only (for `{name}`, once its
    /// `edgex-` prefix is stripped).
    pub fn unit_for(&self, service: &str) -> Option<String> {
        let name = self.0.part(service);
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'));
        let unit = self.0.fill(name);
        (plain && is_unit_name(&unit)).then_some(unit)
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_are_systemds_syntax_without_instances_or_escapes() {
        for name in [
            "snap.edgexfoundry.core-data.service",
            "edgex-core-data.service",
            "a:b_c.timer",
        ] {
            assert!(is_unit_name(name), "{name}");
        }
        for name in [
            "core-data",
            ".service",
            "x.unknown",
            "getty@tty1.service",
            "a\\x2db.service",
            "a b.service",
            "a/../b.service",
            "é.service",
            &format!("{}.service", "a".repeat(250)),
        ] {
            assert!(!is_unit_name(name), "{name}");
        }
    }

    #[test]
    fn a_template_maps_the_agents_names_and_nothing_else() {
        let snap = Template::parse("snap.edgexfoundry.{name}.service").unwrap();
        assert_eq!(
            snap.unit_for("edgex-core-data").as_deref(),
            Some("snap.edgexfoundry.core-data.service")
        );
        assert_eq!(
            snap.unit_for("device-virtual").as_deref(),
            Some("snap.edgexfoundry.device-virtual.service")
        );
        let native = Template::parse("edgex-{name}.service").unwrap();
        assert_eq!(
            native.unit_for("edgex-core-data").as_deref(),
            Some("edgex-core-data.service")
        );
        assert_eq!(native.to_string(), "edgex-{name}.service");
        let whole = Template::parse("{service}.service").unwrap();
        assert_eq!(
            whole.unit_for("edgex-core-data").as_deref(),
            Some("edgex-core-data.service")
        );
        assert_eq!(whole.unit_for("edgex-"), Some("edgex-.service".into()));
        assert_eq!(whole.to_string(), "{service}.service");
        // No second suffix, no instance, no escape, no path, nothing empty.
        for service in [
            "edgex-",
            "x.socket",
            "a.service.b",
            "getty@tty1",
            "a\\x2db",
            "../x",
            "a b",
            "",
        ] {
            assert_eq!(snap.unit_for(service), None, "{service:?}");
        }
        // Nor one too long for systemd.
        let long = Template::parse(&format!("{}{{name}}.service", "a".repeat(240))).unwrap();
        assert!(long.unit_for("x").is_some());
        assert_eq!(long.unit_for(&"x".repeat(10)), None);
    }

    #[test]
    fn a_template_that_cannot_make_a_unit_name_is_refused() {
        for text in [
            "snap.edgexfoundry.service",
            "{name}.{name}.service",
            "{name}.{service}.service",
            "{service}-{service}.service",
            "{name}",
            "{name}.unknown",
            "getty@{name}.service",
            "edgex\\x2d{name}.service",
            "edgex {name}.service",
        ] {
            assert!(Template::parse(text).is_err(), "{text}");
        }
    }
}
