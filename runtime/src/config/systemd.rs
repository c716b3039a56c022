//! Which requests are about systemd units, which unit a request names, and
//! where systemd's bus is (`[systemd]` in the configuration, see
//! docs/systemd.md).
//!
//! With `mode = "off"` (the default) no request is about a unit and no
//! D-Bus connection is ever made. With `"on"` the agent's service name
//! names the unit the `unit` template makes of it; with `"auto"` that unit
//! when systemd has it loaded (or can load it), else a Swarm service or a
//! container. Policies ask `systemd.target` which it is.

use sme_model::names::EDGEX_PREFIX;

pub use super::swarm::Mode;
pub use crate::backend::systemd::unit_name::Template;

/// The `unit` template when none is configured: a native install's
/// `edgex-core-data.service` for the agent's `edgex-core-data`.
pub const DEFAULT_TEMPLATE: &str = "{service}.service";

/// The system bus, where systemd's manager is.
pub const DEFAULT_BUS: &str = "unix:path=/run/dbus/system_bus_socket";

/// `[systemd]`: the mode, the unit name template and the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Systemd {
    /// Whether requests name units.
    pub mode: Mode,
    /// How the agent's service names map to unit names.
    pub unit: Template,
    /// The D-Bus address of systemd's bus.
    pub bus: String,
}

impl Default for Systemd {
    fn default() -> Systemd {
        Systemd {
            mode: Mode::Off,
            unit: Template::parse(DEFAULT_TEMPLATE).expect("the default template parses"),
            bus: DEFAULT_BUS.to_owned(),
        }
    }
}

/// What a request's service name means for units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// `[systemd]` is off: the request is not about a unit.
    Off,
    /// The unit the name maps to.
    Unit(String),
    /// The name makes no unit name under the template; the text says so.
    Unmappable(String),
}

impl Systemd {
    /// The bus to connect to when asked, none when the mode is off.
    pub fn bus(&self) -> Option<&str> {
        (self.mode != Mode::Off).then_some(self.bus.as_str())
    }

    /// The unit a request for `service` may be about.
    pub fn map(&self, service: &str) -> Mapped {
        if self.mode == Mode::Off {
            return Mapped::Off;
        }
        match self.unit.unit_for(service) {
            Some(unit) => Mapped::Unit(unit),
            None => Mapped::Unmappable(format!(
                "service {service:?} makes no unit name under the template {} ([systemd] unit): \
                 {} letters, digits, \"-\", \"_\" and \":\" only",
                self.unit,
                if self.unit.to_string().contains("{name}") {
                    format!("after its {EDGEX_PREFIX:?} prefix,")
                } else {
                    "expected".to_owned()
                }
            )),
        }
    }
}

/// Checks a `bus` address: a D-Bus address zbus can connect to.
pub fn check_bus(bus: &str) -> Result<(), String> {
    bus.parse::<zbus::Address>()
        .map(drop)
        .map_err(|error| format!("bus {bus:?} is not a D-Bus address: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_maps_nothing_and_connects_nowhere() {
        let off = Systemd::default();
        assert_eq!(off.map("edgex-core-data"), Mapped::Off);
        assert_eq!(off.bus(), None);
    }

    #[test]
    fn on_maps_by_the_template() {
        let on = Systemd {
            mode: Mode::On,
            unit: Template::parse("snap.edgexfoundry.{name}.service").unwrap(),
            ..Systemd::default()
        };
        assert_eq!(
            on.map("edgex-core-data"),
            Mapped::Unit("snap.edgexfoundry.core-data.service".to_owned())
        );
        assert_eq!(on.bus(), Some(DEFAULT_BUS));
        let Mapped::Unmappable(message) = on.map("edgex-a.b") else {
            panic!("mapped");
        };
        assert!(message.contains("\"edgex-a.b\""), "{message}");
        assert!(message.contains("[systemd] unit"), "{message}");
    }

    #[test]
    fn bus_addresses_are_checked() {
        assert!(check_bus(DEFAULT_BUS).is_ok());
        assert!(check_bus("unix:path=/tmp/x").is_ok());
        assert!(check_bus("/run/dbus/system_bus_socket").is_err());
        assert!(check_bus("").is_err());
    }
}
