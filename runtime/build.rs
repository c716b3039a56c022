//! Builds the default policies (`policies/default/*`) for `wasm32-wasip2`,
//! precompiles them with the runtime's engine settings, and generates the
//! table of built-in policies the binary embeds.

use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

include!("build/guests.rs");
include!("src/policy/engine_config.rs");

/// The built-in policies: (operation, guest package, world).
const BUILTINS: &[(&str, &str, &str)] = &[
    ("start", "sme-policy-start", "Operation"),
    ("stop", "sme-policy-stop", "Operation"),
    ("restart", "sme-policy-restart", "Operation"),
    ("metrics", "sme-policy-metrics", "Metrics"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/guests.rs");
    println!("cargo:rerun-if-changed=src/policy/engine_config.rs");

    let packages: Vec<&str> = BUILTINS.iter().map(|(_, package, _)| *package).collect();
    let wasm_dir = build_guests(&packages);
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    // The unit test that holds the precompiled artifacts to a fresh
    // compilation needs the same settings.
    println!("cargo:rustc-env=SME_TARGET={target}");
    let engine =
        wasmtime::Engine::new(&precompile_config(&target)).expect("engine settings are valid");

    let mut table = String::from("&[\n");
    for (operation, _, world) in BUILTINS {
        let wasm_path = wasm_dir.join(format!("{operation}.wasm"));
        let wasm = std::fs::read(&wasm_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", wasm_path.display()));
        let precompiled = engine
            .precompile_component(&wasm)
            .unwrap_or_else(|e| panic!("precompiling {operation}.wasm: {e:?}"));
        let wasm_out = out_dir.join(format!("{operation}.wasm"));
        let cwasm_out = out_dir.join(format!("{operation}.cwasm"));
        std::fs::write(&wasm_out, &wasm).unwrap();
        std::fs::write(&cwasm_out, &precompiled).unwrap();
        let sha256: [u8; 32] = Sha256::digest(&wasm).into();
        writeln!(
            table,
            "    Builtin {{ operation: {operation:?}, world: World::{world}, \
             wasm: include_bytes!({wasm:?}), precompiled: include_bytes!({cwasm:?}), \
             sha256: {sha256:?} }},",
            wasm = wasm_out.display().to_string(),
            cwasm = cwasm_out.display().to_string(),
        )
        .unwrap();
    }
    table.push(']');
    std::fs::write(out_dir.join("builtins.rs"), table).unwrap();
}
