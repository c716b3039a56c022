//! A module's `sme-settings` declaration: the custom section any `.wasm`
//! dropped into the policy directory may carry. The fuzzed bytes are the
//! section's content, in a module and in a component.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sme::config::settings::{SECTION, declared};

/// `bytes` as the content of a custom section named [`SECTION`], after
/// `header` (a core module's or a component's preamble).
fn with_section(header: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut payload = leb128(SECTION.len());
    payload.extend_from_slice(SECTION.as_bytes());
    payload.extend_from_slice(bytes);
    let mut wasm = header.to_vec();
    wasm.push(0);
    wasm.extend(leb128(payload.len()));
    wasm.extend(payload);
    wasm
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fuzz_target!(|bytes: &[u8]| {
    for header in [&b"\0asm\x01\0\0\0"[..], &b"\0asm\x0d\0\x01\0"[..]] {
        if let Ok(settings) = declared(&with_section(header, bytes)) {
            for setting in &settings {
                // Accepted text never carries a control character but tab.
                let text = format!("{setting:?}");
                assert!(!text.contains('\u{1b}'), "{text}");
            }
        }
    }
    // And as a whole file.
    let _ = declared(bytes);
});
