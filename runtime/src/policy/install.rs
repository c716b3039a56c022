//! Installing a module (`smectl install`): where its file goes in the policy
//! directory, and its sha256 pin written into the configuration file without
//! disturbing the rest of that file (comments, order, layout), through
//! `toml_edit`. The caller validates the edited text with
//! [`crate::config::Config::parse`] and writes both files atomically.

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::policy::METRICS_ADDONS;

/// Where module `name` lives under the policy directory: the subdirectory
/// (`metrics.d` for an add-on) and the file name (`stop.wasm`).
pub fn location(name: &str) -> (Option<&'static str>, String) {
    match name.strip_prefix("metrics.d/") {
        Some(stem) => (Some(METRICS_ADDONS), format!("{stem}.wasm")),
        None => (None, format!("{name}.wasm")),
    }
}

/// What writing a pin changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinChange {
    /// The module had no pin.
    Added,
    /// The module was pinned to another sha256 (given).
    Updated(String),
    /// The module was already pinned to this sha256.
    Unchanged,
}

/// Configuration text that cannot take a pin.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// Not TOML at all.
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// `modules`, the module's entry or its `sha256` is not what the
    /// configuration format has there.
    #[error("`{key}` is not a table or a string where a table or a string is expected")]
    Shape {
        /// The dotted key.
        key: String,
    },
}

/// The text of a new configuration file holding only the pin of `name`.
pub fn new_file(name: &str, sha256: &str) -> String {
    let (pin, _) = set_pin("", name, sha256).expect("an empty file always takes a pin");
    format!(
        "# SME configuration (docs/security.md lists every key).\n\
         # Created by `smectl install`, which keeps the pins below up to date.\n{pin}"
    )
}

/// `text` with `[modules.<name>] sha256` set to `sha256`, everything else
/// as it was. A module that has no entry gets a `[modules.<name>]` table at
/// the end; an existing pin keeps its place and its comments.
pub fn set_pin(text: &str, name: &str, sha256: &str) -> Result<(String, PinChange), PinError> {
    let mut document: DocumentMut = text
        .parse()
        .map_err(|error: toml_edit::TomlError| PinError::Syntax(one_line(&error.to_string())))?;
    let shape = |key: String| PinError::Shape { key };
    let modules = document.entry("modules").or_insert_with(|| {
        // `[modules.stop]` headers only: no empty `[modules]` above them.
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let modules = modules
        .as_table_like_mut()
        .ok_or_else(|| shape("modules".to_owned()))?;
    if modules.get(name).is_none() {
        modules.insert(name, Item::Table(Table::new()));
    }
    let module = modules
        .get_mut(name)
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| shape(format!("modules.{name}")))?;
    let change = match module.get_mut("sha256") {
        None => {
            module.insert("sha256", toml_edit::value(sha256));
            PinChange::Added
        }
        Some(item) => {
            let value = item
                .as_value_mut()
                .ok_or_else(|| shape(format!("modules.{name}.sha256")))?;
            let old = value
                .as_str()
                .ok_or_else(|| shape(format!("modules.{name}.sha256")))?
                .to_owned();
            if old.eq_ignore_ascii_case(sha256) {
                PinChange::Unchanged
            } else {
                // Keeps the comment after the value and the spacing around it.
                let decor = value.decor().clone();
                *value = Value::from(sha256);
                *value.decor_mut() = decor;
                PinChange::Updated(old)
            }
        }
    };
    // A table that only held subtables (`[modules.stop.grants]`) now has a
    // key of its own, so it needs its own header.
    // Its header goes right above the first subtable's, and takes over the
    // comments and blank lines that were above that one.
    if let Some(table) = modules.get_mut(name).and_then(Item::as_table_mut)
        && table.is_implicit()
    {
        table.set_implicit(false);
        let above = table
            .iter_mut()
            .find_map(|(_, item)| item.as_table_mut())
            .and_then(|first| {
                let prefix = first.decor().prefix().cloned();
                first.decor_mut().set_prefix("");
                prefix
            });
        if let Some(prefix) = above {
            table.decor_mut().set_prefix(prefix);
        }
    }
    Ok((document.to_string(), change))
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn pin_of(text: &str, name: &str) -> Option<[u8; 32]> {
        Config::parse(text, Path::new("sme.toml"))
            .unwrap_or_else(|e| panic!("{e}:\n{text}"))
            .module(name)
            .pin
    }

    #[test]
    fn add_ons_live_in_metrics_d() {
        assert_eq!(location("stop"), (None, "stop.wasm".to_owned()));
        assert_eq!(
            location("metrics.d/uptime"),
            (Some("metrics.d"), "uptime.wasm".to_owned())
        );
    }

    #[test]
    fn a_pin_is_added_keeping_comments_and_layout() {
        let text = "# the deployment's settings\npolicy_dir = \"/srv/p\"  # staged here\n\n\
                    [modules.pause.grants]\n# only its own container\npause = [\"self\"]\n";
        let (edited, change) = set_pin(text, "pause", SHA).unwrap();
        assert_eq!(change, PinChange::Added);
        // The module's own header goes right above its subtable's.
        let added = format!("[modules.pause]\nsha256 = \"{SHA}\"\n");
        assert_eq!(edited.replace(&added, ""), text, "{edited}");
        let (edited, _) =
            set_pin("# top\n[modules.pause.grants]\npause = []\n", "pause", SHA).unwrap();
        assert_eq!(
            edited,
            format!(
                "# top\n[modules.pause]\nsha256 = \"{SHA}\"\n[modules.pause.grants]\npause = []\n"
            )
        );
        assert_eq!(pin_of(&edited, "pause").unwrap()[0], 0x01);
        let (edited, change) = set_pin(&edited, "metrics.d/uptime", SHA).unwrap();
        assert_eq!(change, PinChange::Added);
        assert!(
            edited.contains("[modules.\"metrics.d/uptime\"]\nsha256"),
            "{edited}"
        );
        assert!(pin_of(&edited, "metrics.d/uptime").is_some());
    }

    #[test]
    fn an_existing_pin_is_updated_in_place() {
        let old = "a".repeat(64);
        let text =
            format!("[modules.stop]\nsha256 = \"{old}\" # v1\n[modules.stop.limits]\nfuel = 10\n");
        let (edited, change) = set_pin(&text, "stop", SHA).unwrap();
        assert_eq!(change, PinChange::Updated(old.clone()));
        assert_eq!(edited, text.replace(&old, SHA));
        let (again, change) = set_pin(&edited, "stop", SHA).unwrap();
        assert_eq!((again, change), (edited, PinChange::Unchanged));
    }

    #[test]
    fn inline_and_dotted_entries_are_edited_where_they_are() {
        let text = "modules = { stop = { grants = { stop = [\"self\"] } } }\n";
        let (edited, _) = set_pin(text, "stop", SHA).unwrap();
        assert!(pin_of(&edited, "stop").is_some(), "{edited}");
        assert_eq!(edited.lines().count(), 1, "{edited}");
        let text = "modules.start.sha256 = \"{}\"\n".replace("{}", &"b".repeat(64));
        let (edited, change) = set_pin(&text, "start", SHA).unwrap();
        assert!(matches!(change, PinChange::Updated(_)));
        assert_eq!(edited, format!("modules.start.sha256 = \"{SHA}\"\n"));
    }

    #[test]
    fn a_new_file_holds_the_pin() {
        let text = new_file("metrics.d/uptime", SHA);
        assert!(text.starts_with("# SME configuration"), "{text}");
        assert!(pin_of(&text, "metrics.d/uptime").is_some());
    }

    #[test]
    fn text_of_another_shape_is_refused() {
        assert!(matches!(
            set_pin("modules = 3\n", "stop", SHA),
            Err(PinError::Shape { .. })
        ));
        assert!(matches!(
            set_pin("[modules.stop]\nsha256 = 5\n", "stop", SHA),
            Err(PinError::Shape { .. })
        ));
        assert!(matches!(
            set_pin("x = [", "stop", SHA),
            Err(PinError::Syntax(_))
        ));
    }
}
