//! The metrics object: the fields of the base metrics policy followed by
//! those of every add-on, printed as one compact JSON object the way the
//! reference executor (Go's encoding/json) printed it.
//!
//! The object is one answer, so the output limit applies to it as printed,
//! escaping included: after each field, the object so far must fit in the
//! output limit of the module that returned that field. What the agent's
//! decoder would reject is refused here, naming the module and field.

use std::fmt::Write as _;

use crate::contract::{Metric, MetricValue};

/// Longest field name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// Deepest nesting of arrays and objects accepted in a `json` value. The
/// agent's decoder (Go's encoding/json) gives up at 10000 and serde_json at
/// 128; Docker's own stats document nests 4 deep. 64 leaves any real metrics
/// document room while keeping every parser (ours, the agent's, and whatever
/// reads its REST answer) far from its stack limits.
pub const MAX_JSON_DEPTH: usize = 64;

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
    /// A `json` value nests arrays and objects deeper than [`MAX_JSON_DEPTH`].
    #[error(
        "{module}: metrics field {name:?} nests JSON more than {limit} levels deep (the limit for metrics values)"
    )]
    TooDeep {
        /// The module.
        module: String,
        /// The field.
        name: String,
        /// The depth limit.
        limit: usize,
    },
    /// The printed object passed the output limit of the module whose field
    /// was being added.
    #[error("{module}: its metrics fields, as printed, take the object past its output limit of {} KiB (limit `output_kib`)", .limit >> 10)]
    Output {
        /// The module.
        module: String,
        /// Its output limit, in bytes.
        limit: usize,
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

/// The fields one module returned, for [`render`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleFields {
    /// The module's description, for messages.
    pub module: String,
    /// Its output limit in bytes: the printed object, up to and including
    /// its fields, must fit in it.
    pub output_limit: usize,
    /// Its fields, in order.
    pub fields: Vec<Metric>,
}

/// Renders the fields of each module, in order, as one JSON object.
pub fn render(modules: &[ModuleFields]) -> Result<String, MetricsError> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = String::from("{");
    for ModuleFields {
        module,
        output_limit,
        fields,
    } in modules
    {
        let over = || MetricsError::Output {
            module: module.clone(),
            limit: *output_limit,
        };
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
            // Escaping never shrinks a text: one that cannot fit raw is
            // refused before it is escaped (up to six times its size) or
            // parsed.
            let raw_size = match &field.value {
                MetricValue::Text(text) => text.len(),
                MetricValue::Json(json) => json.trim().len(),
                _ => 0,
            };
            if out.len() + raw_size >= *output_limit {
                return Err(over());
            }
            out.push_str(&serde_json::to_string(name).expect("strings serialize"));
            out.push(':');
            write_value(&mut out, module, name, &field.value)?;
            // The closing brace is printed too.
            if out.len() + 1 > *output_limit {
                return Err(over());
            }
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
            if json_depth(json) > MAX_JSON_DEPTH {
                return Err(MetricsError::TooDeep {
                    module: module.to_owned(),
                    name: name.to_owned(),
                    limit: MAX_JSON_DEPTH,
                });
            }
            // Parsed whole, not skipped: skipping does not check that
            // numbers fit a float64, which the agent's decoder requires.
            serde_json::from_str::<serde_json::Value>(json).map_err(|error| {
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

/// The deepest nesting of arrays and objects in `json`, counted in one pass
/// without recursion (so no input can exhaust the stack here), before any
/// parser sees it. Brackets inside strings do not count; the text need not
/// be valid JSON (the parser checks that afterwards).
fn json_depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
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

    fn module(name: &str, fields: Vec<Metric>) -> ModuleFields {
        ModuleFields {
            module: name.to_owned(),
            output_limit: crate::sandbox::limits::DEFAULT_OUTPUT,
            fields,
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
        let json = render(&[module("base", base), module("addon", addon)]).unwrap();
        assert_eq!(
            json,
            r#"{"cpuUsedPercent":5.08,"memoryUsed":5488247,"raw":{"cpu_perc":"5.08%"},"restartCount":2}"#
        );
    }

    #[test]
    fn refuses_what_cannot_be_printed() {
        let twice = vec![field("a", MetricValue::Boolean(true))];
        assert!(matches!(
            render(&[module("x", twice.clone()), module("y", twice)]),
            Err(MetricsError::Duplicate { .. })
        ));
        let bad_json = vec![field("raw", MetricValue::Json("{nope".into()))];
        assert!(matches!(
            render(&[module("x", bad_json)]),
            Err(MetricsError::BadJson { .. })
        ));
        let nan = vec![field("n", MetricValue::Number(f64::NAN))];
        assert!(matches!(
            render(&[module("x", nan)]),
            Err(MetricsError::NotFinite { .. })
        ));
        let control = vec![field("a\nb", MetricValue::Integer(1))];
        assert!(matches!(
            render(&[module("x", control)]),
            Err(MetricsError::BadName { .. })
        ));
    }

    #[test]
    fn the_output_limit_counts_bytes_as_printed() {
        // 1000 control characters are 1000 bytes answered, 6000 printed.
        let control = vec![field("t", MetricValue::Text("\u{1}".repeat(1000)))];
        let mut small = module("metrics.d/ctrl", control.clone());
        small.output_limit = 4096;
        let error = render(&[small]).unwrap_err();
        assert_eq!(
            error,
            MetricsError::Output {
                module: "metrics.d/ctrl".into(),
                limit: 4096
            }
        );
        let message = error.to_string();
        assert!(message.starts_with("metrics.d/ctrl: "), "{message}");
        assert!(message.contains("4 KiB (limit `output_kib`)"), "{message}");
        assert!(!message.contains('\n'));

        let mut roomy = module("metrics.d/ctrl", control);
        roomy.output_limit = 8192;
        let json = render(&[roomy]).unwrap();
        assert_eq!(json.len(), "{\"t\":\"\"}".len() + 6000);
    }

    #[test]
    fn the_module_whose_fields_push_the_object_over_is_named() {
        let base = module("base", vec![field("a", MetricValue::Text("x".repeat(900)))]);
        let mut addon = module(
            "addon",
            vec![field("b", MetricValue::Text("y".repeat(200)))],
        );
        addon.output_limit = 1024;
        let error = render(&[base.clone(), addon.clone()]).unwrap_err();
        assert!(matches!(&error, MetricsError::Output { module, .. } if module == "addon"));
        // The object exactly at the limit, closing brace included, is fine.
        addon.fields = vec![field("b", MetricValue::Integer(1))];
        let json = render(&[base.clone(), addon.clone()]).unwrap();
        addon.output_limit = json.len();
        assert_eq!(render(&[base.clone(), addon.clone()]).unwrap(), json);
        addon.output_limit = json.len() - 1;
        assert!(render(&[base, addon]).is_err());
    }

    #[test]
    fn json_nesting_is_capped_without_recursion() {
        let nested = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
        assert_eq!(json_depth(&nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH);
        assert_eq!(json_depth(r#"{"a":"[[[{{{","b":[1,{"c":"\"]"}]}"#), 3);
        let ok = vec![field("raw", MetricValue::Json(nested(MAX_JSON_DEPTH)))];
        render(&[module("x", ok)]).unwrap();
        // Deep enough that a recursive parser would need a deep stack, and
        // past what Go's decoder accepts (10000).
        for depth in [MAX_JSON_DEPTH + 1, 20_000, 1_000_000] {
            let deep = vec![field("raw", MetricValue::Json(nested(depth)))];
            let mut addon = module("metrics.d/deep", deep);
            addon.output_limit = usize::MAX;
            let error = render(&[addon]).unwrap_err();
            assert_eq!(
                error.to_string(),
                "metrics.d/deep: metrics field \"raw\" nests JSON more than 64 levels deep \
                 (the limit for metrics values)"
            );
        }
        // Unbalanced or unterminated input is left to the parser.
        for bad in ["]]]][", "\"[[[", "{\"a\":1"] {
            let value = vec![field("raw", MetricValue::Json(bad.into()))];
            assert!(matches!(
                render(&[module("x", value)]),
                Err(MetricsError::BadJson { .. })
            ));
        }
    }

    #[test]
    fn numbers_go_cannot_hold_are_refused() {
        let huge = vec![field("raw", MetricValue::Json("[1e400]".into()))];
        assert!(matches!(
            render(&[module("x", huge)]),
            Err(MetricsError::BadJson { .. })
        ));
    }
}
