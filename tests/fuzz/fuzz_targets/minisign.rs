//! minisign public keys (a `.pub` file, or the key line alone, as the
//! configuration gives it) and module signatures (`<module>.wasm.minisig`),
//! and the verification of one with the other. The input is a key, a line
//! `----`, and a signature; the signed module is fixed.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use sme::config::keys::{Signing, TrustedKey};
use sme::policy::signing::ModuleSignature;

/// The module the seed signatures sign (an empty core module).
const MODULE: &[u8] = b"\0asm\x01\0\0\0";

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let (key_text, signature) = match text.split_once("----\n") {
        Some((key, signature)) => (key.to_owned(), signature.as_bytes().to_vec()),
        None => (text.clone().into_owned(), bytes.to_vec()),
    };
    let _ = TrustedKey::from_base64(key_text.trim());
    let _ = ModuleSignature::parse(&signature);
    let Ok(key) = TrustedKey::from_file_text(&key_text) else {
        return;
    };
    let signing = Signing {
        keys: vec![key],
        require_signature: true,
        revoked_keys: BTreeSet::new(),
        revoked_sha256: BTreeSet::new(),
    };
    let sha256: [u8; 32] = Sha256::digest(MODULE).into();
    let _ = signing.verify("stop", "stop.wasm", MODULE, &sha256, Some(&signature), true);
});
