//! The rules of a module's kept values (the `state` interface): which keys
//! are valid, and what a write may keep within the limits `state_keys` and
//! `state_kib`.

use std::collections::BTreeMap;

/// The longest key, in bytes.
pub const MAX_KEY: usize = 128;

/// Why a key is refused: the text of an `invalid-argument` answer.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(format!(
            "invalid state key {:?}: a key has 1 to {MAX_KEY} bytes and no control characters",
            key.chars().take(MAX_KEY).collect::<String>()
        ));
    }
    Ok(())
}

/// What a module may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Keys (`state_keys`).
    pub keys: usize,
    /// Bytes of keys and values together (`state_kib` times 1024).
    pub bytes: usize,
}

/// A write that would keep more than the bounds allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// One key too many.
    Keys(usize),
    /// Too many bytes: the bound, and what would be kept.
    Bytes(usize, usize),
}

impl Refusal {
    /// The text of the `limit-exceeded` answer to `module` writing `key`.
    pub fn message(&self, module: &str, key: &str) -> String {
        match self {
            Refusal::Keys(max) => format!(
                "module {module} may keep at most {max} keys (limit `state_keys`); {key:?} would be one more"
            ),
            Refusal::Bytes(max, used) => format!(
                "module {module} may keep at most {} KiB of keys and values (limit `state_kib`); writing {key:?} would keep {used} bytes",
                max >> 10
            ),
        }
    }
}

/// Sets `key` to `value` in `values` (removes it when `None`), unless that
/// would keep more than `bounds`: then `values` is left as it was. A
/// removal always passes.
pub fn write(
    values: &mut BTreeMap<String, String>,
    key: &str,
    value: Option<&str>,
    bounds: Bounds,
) -> Result<(), Refusal> {
    let Some(value) = value else {
        values.remove(key);
        return Ok(());
    };
    let keys = values.len() + usize::from(!values.contains_key(key));
    if keys > bounds.keys {
        return Err(Refusal::Keys(bounds.keys));
    }
    let used: usize = values
        .iter()
        .filter(|(k, _)| k.as_str() != key)
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>()
        + key.len()
        + value.len();
    if used > bounds.bytes {
        return Err(Refusal::Bytes(bounds.bytes, used));
    }
    values.insert(key.to_owned(), value.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        keys: 2,
        bytes: 1024,
    };

    #[test]
    fn writes_within_the_bounds_pass_and_others_change_nothing() {
        let mut values = BTreeMap::new();
        write(&mut values, "a", Some("1"), BOUNDS).unwrap();
        write(&mut values, "b", Some("2"), BOUNDS).unwrap();
        write(&mut values, "a", Some("3"), BOUNDS).unwrap();
        assert_eq!(
            write(&mut values, "c", Some("3"), BOUNDS),
            Err(Refusal::Keys(2))
        );
        let big = "x".repeat(1023);
        assert_eq!(
            write(&mut values, "a", Some(&big), BOUNDS),
            Err(Refusal::Bytes(1024, 1 + 1023 + 2))
        );
        assert_eq!(values.get("a").map(String::as_str), Some("3"));
        write(&mut values, "b", None, BOUNDS).unwrap();
        write(&mut values, "a", Some(&big), BOUNDS).unwrap();
        let none = Bounds { keys: 0, bytes: 0 };
        assert_eq!(
            write(&mut values, "a", None, none),
            Ok(()),
            "removal passes"
        );
    }

    #[test]
    fn keys_have_one_to_128_bytes_and_no_control_characters() {
        assert!(check_key("restarts:edgex-core-data").is_ok());
        assert!(check_key(&"k".repeat(MAX_KEY)).is_ok());
        for bad in ["", "a\nb", "\u{7f}", &"k".repeat(MAX_KEY + 1)] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
