//! The metrics object: the fields of the base metrics policy followed by
//! those of every add-on, printed as one compact JSON object the way the
//! reference executor (Go's encoding/json) printed it.

use std::fmt::Write as _;

use crate::bindings::{Metric, MetricValue};

/// Longest field name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// Fields that cannot be printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// Two modules (or one, twice) return the same field.
    #[error("metrics field {name:?} is returned by both {first} and {second}")]
    Duplicate {
        /// The field.
        name: String,
        /// The module that returned it first.
        first: String,
        /// The module that returned it again.
        second: String,
    },
    /// A field name is empty, too long or has control characters.
    #[error("{module}: bad metrics field name {name:?}")]
    BadName {
        /// The module.
        module: String,
        /// The name.
        name: String,
    },
    /// A number is NaN or infinite (JSON has no such numbers).
    #[error("{module}: metrics field {name:?} is not a finite number")]
    NotFinite {
        /// The module.
        module: String,
        /// The field.
        name: String,
    },
    /// A `json` value is not valid JSON.
    #[error("{module}: metrics field {name:?} is not valid JSON: {reason}")]
    BadJson {
        /// The module.
        module: String,
        /// The field.
        name: String,
        /// The parser's message.
        reason: String,
    },
}

/// Renders the fields of each module, in order, as one JSON object.
/// `modules` pairs a module's description (for messages) with its fields.
pub fn render(modules: &[(String, Vec<Metric>)]) -> Result<String, MetricsError> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = String::from("{");
    for (module, fields) in modules {
        for field in fields {
            let name = field.name.as_str();
            if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
                return Err(MetricsError::BadName {
                    module: module.clone(),
                    name: name.to_owned(),
                });
            }
            if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == name) {
                return Err(MetricsError::Duplicate {
                    name: name.to_owned(),
                    first: (*first).to_owned(),
                    second: module.clone(),
                });
            }
            seen.push((name, module));
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(name).expect("strings serialize"));
            out.push(':');
            write_value(&mut out, module, name, &field.value)?;
        }
    }
    out.push('}');
    Ok(out)
}

fn write_value(
    out: &mut String,
    module: &str,
    name: &str,
    value: &MetricValue,
) -> Result<(), MetricsError> {
    match value {
        MetricValue::Number(number) => {
            let text = go_float(*number).ok_or_else(|| MetricsError::NotFinite {
                module: module.to_owned(),
                name: name.to_owned(),
            })?;
            out.push_str(&text);
        }
        MetricValue::Integer(integer) => write!(out, "{integer}").expect("writing to a String"),
        MetricValue::Text(text) => {
            out.push_str(&serde_json::to_string(text).expect("strings serialize"))
        }
        MetricValue::Boolean(flag) => out.push_str(if *flag { "true" } else { "false" }),
        MetricValue::Json(json) => {
            serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(|error| {
                MetricsError::BadJson {
                    module: module.to_owned(),
                    name: name.to_owned(),
                    reason: error.to_string(),
                }
            })?;
            out.push_str(json.trim());
        }
    }
    Ok(())
}

/// A float64 as Go's encoding/json writes it: the shortest decimal that
/// reads back the same, in exponent form only below 1e-6 or from 1e21 up
/// (`5.08`, `100`, `-1`, `1e-7`, `1e+21`). `None` for NaN and infinities.
pub fn go_float(value: f64) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-6..1e21).contains(&magnitude) {
        // Rust's `Display` is the shortest round-trip form, never exponential.
        return Some(if value == 0.0 {
            "0".to_owned()
        } else {
            value.to_string()
        });
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    Some(if exponent < 0 {
        format!("{mantissa}e-{}", -exponent)
    } else {
        format!("{mantissa}e+{exponent:02}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, value: MetricValue) -> Metric {
        Metric {
            name: name.to_owned(),
            value,
        }
    }

    #[test]
    fn floats_print_like_go() {
        let cases = [
            (5.08, "5.08"),
            (0.0, "0"),
            (-0.0, "0"),
            (100.0, "100"),
            (-1.0, "-1"),
            (0.1, "0.1"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e21, "1e+21"),
            (123456789.0, "123456789"),
        ];
        for (value, expected) in cases {
            assert_eq!(go_float(value).as_deref(), Some(expected), "{value}");
        }
        assert_eq!(go_float(f64::NAN), None);
    }

    #[test]
    fn renders_the_reference_object() {
        let base = vec![
            field("cpuUsedPercent", MetricValue::Number(5.08)),
            field("memoryUsed", MetricValue::Integer(5_488_247)),
            field(
                "raw",
                MetricValue::Json(r#"{"cpu_perc":"5.08%"}"#.to_owned()),
            ),
        ];
        let addon = vec![field("restartCount", MetricValue::Integer(2))];
        let json = render(&[("base".into(), base), ("addon".into(), addon)]).unwrap();
        assert_eq!(
            json,
            r#"{"cpuUsedPercent":5.08,"memoryUsed":5488247,"raw":{"cpu_perc":"5.08%"},"restartCount":2}"#
        );
    }

    #[test]
    fn refuses_what_cannot_be_printed() {
        let twice = vec![field("a", MetricValue::Boolean(true))];
        assert!(matches!(
            render(&[("x".into(), twice.clone()), ("y".into(), twice)]),
            Err(MetricsError::Duplicate { .. })
        ));
        let bad_json = vec![field("raw", MetricValue::Json("{nope".into()))];
        assert!(matches!(
            render(&[("x".into(), bad_json)]),
            Err(MetricsError::BadJson { .. })
        ));
        let nan = vec![field("n", MetricValue::Number(f64::NAN))];
        assert!(matches!(
            render(&[("x".into(), nan)]),
            Err(MetricsError::NotFinite { .. })
        ));
        let control = vec![field("a\nb", MetricValue::Integer(1))];
        assert!(matches!(
            render(&[("x".into(), control)]),
            Err(MetricsError::BadName { .. })
        ));
    }
}
