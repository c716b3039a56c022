//! Numbers formatted exactly as the docker CLI formats them.
//!
//! The EdgeX agent shows the executor's `raw` strings to its users, and the
//! reference executor took them from `docker stats`, which formats with Go's
//! `fmt` and the `go-units` package. These functions reproduce that output
//! byte for byte, including Go's `%g` rules (so 999.6 kB prints as `1e+03kB`,
//! as docker itself prints it).

const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// Formats a byte count in binary units with four significant digits, like
/// docker's memory figures (`units.BytesSize`).
///
/// ```
/// assert_eq!(sme_guest::units::bytes_binary(5_488_247.0), "5.234MiB");
/// assert_eq!(sme_guest::units::bytes_binary(0.0), "0B");
/// ```
pub fn bytes_binary(bytes: f64) -> String {
    scaled(bytes, 1024.0, &BINARY, 4)
}

/// Formats a byte count in decimal units with three significant digits, like
/// docker's network and block I/O figures (`units.HumanSizeWithPrecision`).
///
/// ```
/// assert_eq!(sme_guest::units::bytes_decimal(277_000.0), "277kB");
/// assert_eq!(sme_guest::units::bytes_decimal(8_192.0), "8.19kB");
/// ```
pub fn bytes_decimal(bytes: f64) -> String {
    scaled(bytes, 1000.0, &DECIMAL, 3)
}

/// Formats a percentage with two decimals and a `%` sign (`%.2f%%`).
///
/// ```
/// assert_eq!(sme_guest::units::percent(5.0789), "5.08%");
/// ```
pub fn percent(value: f64) -> String {
    format!("{value:.2}%")
}

fn scaled(mut size: f64, base: f64, units: &[&str], precision: usize) -> String {
    let mut unit = 0;
    while size >= base && unit < units.len() - 1 {
        size /= base;
        unit += 1;
    }
    format!("{}{}", go_g(size, precision), units[unit])
}

/// Formats `value` as Go's `fmt.Sprintf("%.<precision>g", value)` does.
///
/// Go rounds to `precision` significant digits, drops trailing zeros, and
/// switches to exponent form when the exponent is below -4 or at least the
/// precision.
///
/// ```
/// use sme_guest::units::go_g;
/// assert_eq!(go_g(5.2343, 4), "5.234");
/// assert_eq!(go_g(999.6, 3), "1e+03");
/// assert_eq!(go_g(0.0, 3), "0");
/// ```
pub fn go_g(value: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if value == 0.0 {
        return "0".to_owned();
    }
    if !value.is_finite() {
        return go_special(value);
    }
    // Rust's `{:e}` with a precision rounds exactly (ties to even), as Go's
    // strconv does; it gives us the significant digits and the exponent.
    let scientific = format!("{:.*e}", precision - 1, value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` output always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    let all_digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = all_digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let count = digits.len() as i32;
    let point = exponent + 1;

    let mut shown = precision as i32;
    if shown > count && count >= point {
        shown = count;
    }
    let mut out = String::new();
    if value < 0.0 {
        out.push('-');
    }
    if exponent < -4 || exponent >= shown {
        let kept = (precision as i32).min(count) as usize;
        out.push_str(&digits[..1]);
        if kept > 1 {
            out.push('.');
            out.push_str(&digits[1..kept]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
    } else {
        let kept = if precision as i32 > point {
            count
        } else {
            precision as i32
        };
        let decimals = (kept - point).max(0);
        push_fixed(&mut out, digits, point, decimals);
    }
    out
}

/// Writes `digits` (with the decimal point after `point` of them) as a fixed
/// notation number with `decimals` digits after the point.
fn push_fixed(out: &mut String, digits: &str, point: i32, decimals: i32) {
    let digit_at = |i: i32| -> char {
        if i >= 0 && (i as usize) < digits.len() {
            digits.as_bytes()[i as usize] as char
        } else {
            '0'
        }
    };
    if point > 0 {
        (0..point).for_each(|i| out.push(digit_at(i)));
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        (0..decimals).for_each(|i| out.push(digit_at(point + i)));
    }
}

fn go_special(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value > 0.0 {
        "+Inf".to_owned()
    } else {
        "-Inf".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_matches_go_fmt() {
        // Expected strings are what Go 1.21's fmt.Sprintf prints.
        let cases: &[(f64, usize, &str)] = &[
            (5.2343, 4, "5.234"),
            (5.0, 4, "5"),
            (1023.99, 4, "1024"),
            (1.5, 4, "1.5"),
            (100.0, 4, "100"),
            (999.6, 3, "1e+03"),
            (999.4, 3, "999"),
            (8.192, 3, "8.19"),
            (0.0001234, 3, "0.000123"),
            (0.00001234, 3, "1.23e-05"),
            (123456.0, 3, "1.23e+05"),
            (1.125, 3, "1.12"),
            (0.5, 1, "0.5"),
            (-2.5, 2, "-2.5"),
            (12.0, 1, "1e+01"),
        ];
        for &(value, precision, expected) in cases {
            assert_eq!(
                go_g(value, precision),
                expected,
                "{value} with %.{precision}g"
            );
        }
    }

    #[test]
    fn binary_sizes_match_docker() {
        assert_eq!(bytes_binary(0.0), "0B");
        assert_eq!(bytes_binary(512.0), "512B");
        assert_eq!(bytes_binary(1024.0), "1KiB");
        assert_eq!(bytes_binary(5_488_247.0), "5.234MiB");
        assert_eq!(bytes_binary(2_095_919_104.0), "1.952GiB");
    }

    #[test]
    fn decimal_sizes_match_docker() {
        assert_eq!(bytes_decimal(0.0), "0B");
        assert_eq!(bytes_decimal(999.0), "999B");
        assert_eq!(bytes_decimal(1000.0), "1kB");
        assert_eq!(bytes_decimal(277_012.0), "277kB");
        assert_eq!(bytes_decimal(999_600.0), "1e+03kB");
        assert_eq!(bytes_decimal(1_500_000.0), "1.5MB");
    }

    #[test]
    fn percent_has_two_decimals() {
        assert_eq!(percent(0.0), "0.00%");
        assert_eq!(percent(100.0), "100.00%");
        assert_eq!(percent(0.2616), "0.26%");
    }
}
