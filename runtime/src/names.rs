//! Validation of the names that reach Docker and the file system.
//!
//! The agent passes its two arguments unchecked, and policies pass names to
//! host calls; both are checked here before anything else sees them, so no
//! shell, URL or path syntax ever reaches the Engine API or the policy
//! directory.

/// Longest container name accepted. Docker sets no limit of its own (it
/// created and served names of 300, 1004 and 70000 characters), but a name
/// travels in the request's URI, and the HTTP library limits a URI to 65534
/// bytes; 65000 leaves room for the longest path around the name
/// (`/v1.41/containers/<name>/stats?stream=false&one-shot=true`). Longer names
/// are refused, one of the deliberate differences listed in README.
pub const MAX_NAME_LEN: usize = 65_000;

/// Longest operation name accepted; operations name files in the policy
/// directory.
pub const MAX_OPERATION_LEN: usize = 64;

/// A name that Docker would not accept as a container name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{shown} is not a valid container name (expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most {MAX_NAME_LEN} characters)"
)]
pub struct InvalidName {
    shown: Shown,
}

/// A possibly hostile string, printed escaped, quoted and shortened so that
/// an error message stays one readable line.
pub use sme_model::names::Shown;

/// Checks `name` against Docker's container-name syntax
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), without Docker's optional leading `/`.
pub fn check_container(name: &str) -> Result<(), InvalidName> {
    let bytes = name.as_bytes();
    let valid = (2..=MAX_NAME_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(InvalidName {
            shown: Shown::new(name),
        })
    }
}

/// Whether `operation` may name a policy: lowercase letters, digits and
/// dashes, starting with a letter. Anything else is simply not an operation
/// the executor supports, so it never becomes a path.
pub fn is_operation(operation: &str) -> bool {
    let bytes = operation.as_bytes();
    (1..=MAX_OPERATION_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether Docker could read `name` as a container ID prefix. Docker resolves
/// a path parameter as a full ID, then an exact name, then an ID prefix, so a
/// hex-only name with no container of that name could address another
/// container; such names are resolved and checked before use.
pub fn could_be_id_prefix(name: &str) -> bool {
    name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_follow_docker() {
        for good in ["edgex-core-data", "ab", "A1", "svc_1.2-x", "0abc"] {
            assert!(check_container(good).is_ok(), "{good}");
        }
        for long in [300, 1004, MAX_NAME_LEN] {
            assert!(check_container(&"a".repeat(long)).is_ok(), "{long}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "a",
            "-x",
            ".x",
            "_x",
            "a b",
            "a;rm -rf /",
            "$(id)",
            "a/../b",
            "a\nb",
            "ä-x",
            "x?y",
            "/slash",
            &long,
        ] {
            assert!(check_container(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn invalid_names_print_on_one_line() {
        let message = check_container("evil\nname; $(reboot)")
            .unwrap_err()
            .to_string();
        assert!(!message.contains('\n'));
        assert!(message.starts_with(r#""evil\nname; $(reboot)" is not a valid container name"#));
        let long = check_container(&"x;".repeat(1000)).unwrap_err().to_string();
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn operations_cannot_be_paths() {
        for good in ["start", "metrics", "pause", "scale-up2"] {
            assert!(is_operation(good), "{good}");
        }
        for bad in [
            "",
            "Start",
            "../stop",
            "stop.wasm",
            "a/b",
            "-x",
            "1x",
            "metrics.d",
        ] {
            assert!(!is_operation(bad), "{bad}");
        }
    }

    #[test]
    fn only_hex_names_can_be_id_prefixes() {
        assert!(could_be_id_prefix("abc123"));
        assert!(!could_be_id_prefix("edgex-core-data"));
        assert!(!could_be_id_prefix("ABC"));
    }
}
