//! The default policies embedded in the binary, with their artifacts
//! precompiled at build time (see `build.rs`), so `sme` works with no files
//! and never compiles a built-in at run time.

use crate::policy::World;

/// One embedded policy.
#[derive(Debug)]
pub struct Builtin {
    /// The operation it implements.
    pub operation: &'static str,
    /// Its world.
    pub world: World,
    /// The component, as built from `policies/default/<operation>`.
    pub wasm: &'static [u8],
    /// The component compiled for this runtime's engine settings.
    pub precompiled: &'static [u8],
    /// sha256 of `wasm`, computed at build time.
    pub sha256: [u8; 32],
}

static BUILTINS: &[Builtin] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The built-in policy for `operation`, if there is one.
pub fn find(operation: &str) -> Option<&'static Builtin> {
    BUILTINS
        .iter()
        .find(|builtin| builtin.operation == operation)
}

/// Every built-in policy.
pub fn all() -> &'static [Builtin] {
    BUILTINS
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn build_time_hashes_match_the_embedded_components() {
        assert_eq!(super::all().len(), 4);
        for builtin in super::all() {
            let digest: [u8; 32] = Sha256::digest(builtin.wasm).into();
            assert_eq!(digest, builtin.sha256, "{}", builtin.operation);
        }
    }
}
