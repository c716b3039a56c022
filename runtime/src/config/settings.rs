//! Module settings: what a module declares it reads, what the operator
//! configured (`[modules.<name>.settings]`), and the check of one against
//! the other before the module runs.
//!
//! A module declares its settings in a custom section named
//! [`SECTION`], which the guest SDK's `settings!` macro emits; the runtime
//! reads it from the component's bytes without instantiating anything. The
//! format is one line per setting, six tab-separated fields:
//! `name kind default min max description`, where `kind` is `int`,
//! `string` or `bool` and `min`/`max` are set for `int` only. Nothing is read
//! unless the operator configured a setting or asks `smectl inspect`, so an
//! ordinary run pays nothing for it: the module applies its own defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The custom section holding a module's declared settings.
pub const SECTION: &str = "sme-settings";
/// Longest text value accepted: settings are names and short words.
pub const MAX_TEXT: usize = 1024;
/// Most declarations read from one module.
const MAX_DECLARED: usize = 64;

/// The type and bounds of a declared setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An integer from `min` to `max`, inclusive.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Text of 1 to [`MAX_TEXT`] bytes with no control characters.
    Text,
    /// `true` or `false`.
    Bool,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Int { min, max } => write!(f, "integer {min}..={max}"),
            Kind::Text => f.write_str("string"),
            Kind::Bool => f.write_str("boolean"),
        }
    }
}

/// One setting a module declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Its key under `[modules.<name>.settings]`.
    pub name: String,
    /// Its type and range.
    pub kind: Kind,
    /// The value the module uses when none is configured, as text.
    pub default: String,
    /// What it is for.
    pub description: String,
}

/// A configured value, as TOML gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A TOML integer.
    Int(i64),
    /// A TOML string.
    Text(String),
    /// A TOML boolean.
    Bool(bool),
}

impl Value {
    /// The text the module reads (`settings.get`).
    pub fn text(&self) -> String {
        match self {
            Value::Int(value) => value.to_string(),
            Value::Text(text) => text.clone(),
            Value::Bool(value) => value.to_string(),
        }
    }
}

/// One configured setting, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// 1-based line of the key in the configuration file.
    pub line: usize,
}

/// A configured setting the module does not accept, or a declaration that
/// cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {file}, line {line}: [modules.\"{module}\".settings] {message}")]
pub struct SettingsError {
    /// The configuration file.
    pub file: String,
    /// The line of the offending key.
    pub line: usize,
    /// The module.
    pub module: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// Reads the settings a component declares (none when it has no
/// [`SECTION`]). `Err` describes a malformed declaration.
pub fn declared(wasm: &[u8]) -> Result<Vec<Declared>, String> {
    let mut text = String::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|error| format!("not a readable component: {error}"))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == SECTION
        {
            let data = std::str::from_utf8(section.data())
                .map_err(|_| format!("its `{SECTION}` section is not UTF-8"))?;
            text.push_str(data);
        }
    }
    let mut declared: Vec<Declared> = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let setting = parse_declaration(line)
            .ok_or_else(|| format!("its `{SECTION}` section has a malformed line {line:?}"))?;
        // The same declaration may come from two objects linked together.
        match declared.iter().find(|d| d.name == setting.name) {
            Some(same) if *same == setting => {}
            Some(_) => return Err(format!("it declares setting `{}` twice", setting.name)),
            None => declared.push(setting),
        }
        if declared.len() > MAX_DECLARED {
            return Err(format!("it declares more than {MAX_DECLARED} settings"));
        }
    }
    Ok(declared)
}

fn parse_declaration(line: &str) -> Option<Declared> {
    // Tabs separate the fields; no other control character (an ESC, a CR,
    // a BEL) is shown to an operator from a module's declaration.
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return None;
    }
    let fields: Vec<&str> = line.split('\t').collect();
    let [name, kind, default, min, max, description] = fields.as_slice() else {
        return None;
    };
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return None;
    }
    let kind = match *kind {
        "int" => Kind::Int {
            min: min.parse().ok()?,
            max: max.parse().ok()?,
        },
        "string" => Kind::Text,
        "bool" => Kind::Bool,
        _ => return None,
    };
    let declared = Declared {
        name: (*name).to_owned(),
        kind,
        default: (*default).to_owned(),
        description: (*description).to_owned(),
    };
    // A default the module itself would refuse is a broken declaration.
    check(&declared, &typed_default(&declared)?).ok()?;
    Some(declared)
}

fn typed_default(declared: &Declared) -> Option<Value> {
    Some(match declared.kind {
        Kind::Int { .. } => Value::Int(declared.default.parse().ok()?),
        Kind::Text => Value::Text(declared.default.clone()),
        Kind::Bool => Value::Bool(declared.default.parse().ok()?),
    })
}

/// Whether `value` is acceptable for `declared`; `Err` says what is.
fn check(declared: &Declared, value: &Value) -> Result<(), String> {
    let name = &declared.name;
    match (&declared.kind, value) {
        (Kind::Int { min, max }, Value::Int(value)) if (min..=max).contains(&value) => Ok(()),
        (Kind::Int { min, max }, Value::Int(value)) => Err(format!(
            "`{name}` = {value} is out of range: expected an integer from {min} to {max}"
        )),
        (Kind::Text, Value::Text(text))
            if !text.is_empty()
                && text.len() <= MAX_TEXT
                && !text.chars().any(char::is_control) =>
        {
            Ok(())
        }
        (Kind::Text, Value::Text(_)) => Err(format!(
            "`{name}` must be a string of 1 to {MAX_TEXT} bytes with no control characters"
        )),
        (Kind::Bool, Value::Bool(_)) => Ok(()),
        (Kind::Int { min, max }, _) => {
            Err(format!("`{name}` must be an integer from {min} to {max}"))
        }
        (Kind::Text, _) => Err(format!("`{name}` must be a string")),
        (Kind::Bool, _) => Err(format!("`{name}` must be true or false")),
    }
}

/// Checks `configured` against what module `module` declares in `wasm`, and
/// returns the values it may read. `file` names the configuration for
/// messages.
pub fn resolve(
    module: &str,
    wasm: &[u8],
    configured: &[Configured],
    file: Option<&Path>,
) -> Result<BTreeMap<String, String>, SettingsError> {
    if configured.is_empty() {
        return Ok(BTreeMap::new());
    }
    let file = file.map_or_else(|| "(none)".to_owned(), |f| f.display().to_string());
    let error = |line: usize, message: String| SettingsError {
        file: file.clone(),
        line,
        module: module.to_owned(),
        message,
    };
    let declared = declared(wasm).map_err(|why| {
        error(
            configured[0].line,
            format!("cannot read the module's declared settings: {why}"),
        )
    })?;
    let mut values = BTreeMap::new();
    for setting in configured {
        let Some(declaration) = declared.iter().find(|d| d.name == setting.key) else {
            let known = if declared.is_empty() {
                "it declares none".to_owned()
            } else {
                let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
                format!("it declares {}", names.join(", "))
            };
            return Err(error(
                setting.line,
                format!(
                    "`{}` is not a setting of module {module} ({known})",
                    setting.key
                ),
            ));
        };
        check(declaration, &setting.value).map_err(|message| error(setting.line, message))?;
        values.insert(setting.key.clone(), setting.value.text());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module holding `text` in the settings section (a component
    /// nests its core modules; both are read the same way).
    fn module_with(text: &str) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        let mut payload = Vec::new();
        payload.push(SECTION.len() as u8);
        payload.extend_from_slice(SECTION.as_bytes());
        payload.extend_from_slice(text.as_bytes());
        wasm.push(0);
        let mut size = payload.len();
        loop {
            let byte = (size & 0x7f) as u8;
            size >>= 7;
            if size == 0 {
                wasm.push(byte);
                break;
            }
            wasm.push(byte | 0x80);
        }
        wasm.extend_from_slice(&payload);
        wasm
    }

    const DECLARED: &str = "grace_cap_s\tint\t10\t0\t10\tlongest grace period\n\
                            label\tstring\torg.sme.protected\t\t\tthe label\n";

    fn configured(key: &str, value: Value) -> Vec<Configured> {
        vec![Configured {
            key: key.to_owned(),
            value,
            line: 7,
        }]
    }

    #[test]
    fn reads_declarations_from_the_section() {
        let declared = declared(&module_with(DECLARED)).unwrap();
        assert_eq!(declared.len(), 2);
        assert_eq!(declared[0].kind, Kind::Int { min: 0, max: 10 });
        assert_eq!(declared[1].default, "org.sme.protected");
        assert!(super::declared(&module_with("")).unwrap().is_empty());
        assert!(super::declared(&module_with("x\tint\t99\t0\t10\t\n")).is_err());
    }

    #[test]
    fn control_characters_in_a_declaration_refuse_the_module() {
        for hostile in ["\u{1b}[8m", "\r", "\u{7}", "\u{0}"] {
            let line = format!("grace_cap_s\tint\t10\t0\t10\tgrace{hostile} period\n");
            let refused = declared(&module_with(&line)).unwrap_err();
            assert!(refused.contains("malformed line"), "{refused}");
            assert!(!refused.chars().any(char::is_control), "{refused:?}");
        }
    }

    #[test]
    fn accepts_declared_values_in_range() {
        let wasm = module_with(DECLARED);
        let values = resolve(
            "stop",
            &wasm,
            &configured("grace_cap_s", Value::Int(4)),
            None,
        )
        .unwrap();
        assert_eq!(values["grace_cap_s"], "4");
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values_naming_module_key_and_line() {
        let wasm = module_with(DECLARED);
        let path = Path::new("/etc/sme/sme.toml");
        let cases = [
            (
                "grace_cap",
                Value::Int(4),
                "`grace_cap` is not a setting of module stop (it declares grace_cap_s, label)",
            ),
            (
                "grace_cap_s",
                Value::Int(30),
                "`grace_cap_s` = 30 is out of range: expected an integer from 0 to 10",
            ),
            (
                "grace_cap_s",
                Value::Text("5".into()),
                "`grace_cap_s` must be an integer from 0 to 10",
            ),
            (
                "label",
                Value::Text(String::new()),
                "`label` must be a string of 1 to 1024 bytes",
            ),
        ];
        for (key, value, expected) in cases {
            let message = resolve("stop", &wasm, &configured(key, value), Some(path))
                .unwrap_err()
                .to_string();
            assert!(
                message.starts_with(
                    "configuration /etc/sme/sme.toml, line 7: [modules.\"stop\".settings] "
                ),
                "{message}"
            );
            assert!(message.contains(expected), "{message}");
            assert!(!message.contains('\n'));
        }
        let none = module_with("");
        let message = resolve("stop", &none, &configured("x", Value::Bool(true)), None)
            .unwrap_err()
            .to_string();
        assert!(message.contains("(it declares none)"), "{message}");
    }
}
