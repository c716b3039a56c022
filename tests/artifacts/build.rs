//! Builds the example policies and the hostile test guests (assembling those
//! written as WebAssembly text), and exposes the path of each `.wasm` as a
//! constant.

use std::fmt::Write as _;

include!("../../runtime/build/guests.rs");

/// (constant, guest package, file stem).
const GUESTS: &[(&str, &str, &str)] = &[
    (
        "PROTECTED_STOP",
        "sme-example-protected-stop",
        "protected_stop",
    ),
    (
        "HEALTHY_RESTART",
        "sme-example-healthy-restart",
        "healthy_restart",
    ),
    ("PAUSE", "sme-example-pause", "pause"),
    (
        "BACKOFF_RESTART",
        "sme-example-backoff-restart",
        "backoff_restart",
    ),
    ("UPTIME", "sme-example-uptime", "uptime"),
    ("LOOP_FOREVER", "sme-test-loop-forever", "loop_forever"),
    ("MEMORY_BOMB", "sme-test-memory-bomb", "memory_bomb"),
    (
        "DEEP_RECURSION",
        "sme-test-deep-recursion",
        "deep_recursion",
    ),
    ("TRAP", "sme-test-trap", "trap"),
    ("HUGE_OUTPUT", "sme-test-huge-output", "huge_output"),
    ("STDOUT_FLOOD", "sme-test-stdout-flood", "stdout_flood"),
    (
        "HOST_CALL_STORM",
        "sme-test-host-call-storm",
        "host_call_storm",
    ),
    ("STOP_OTHER", "sme-test-stop-other", "stop_other"),
    ("WASI_ESCAPE", "sme-test-wasi-escape", "wasi_escape"),
    ("LONG_STRINGS", "sme-test-long-strings", "long_strings"),
    (
        "HOSTILE_METRICS",
        "sme-test-hostile-metrics",
        "hostile_metrics",
    ),
    ("LIST_NAMES", "sme-test-list-names", "list_names"),
    ("LIST_SERVICES", "sme-test-list-services", "list_services"),
    ("SCALE_SELF", "sme-test-scale-self", "scale_self"),
    ("STATE_PROBE", "sme-test-state-probe", "state_probe"),
    ("HUGE_TRANSFER", "sme-test-huge-transfer", "huge_transfer"),
    (
        "LIFECYCLE_PROBE",
        "sme-test-lifecycle-probe",
        "lifecycle_probe",
    ),
    ("DEFAULT_STOP", "sme-policy-stop", "stop"),
    ("DEFAULT_METRICS", "sme-policy-metrics", "metrics"),
    ("OLD_WIT", "sme-test-old-wit", "old_wit"),
    ("WHOLE_WORLD", "sme-test-whole-world", "whole_world"),
];

/// (constant, WebAssembly text under `tests/guests-text/`): guests Rust
/// cannot express, assembled here into binary components.
const TEXT_GUESTS: &[(&str, &str)] = &[
    ("MANY_MEMORIES", "many_memories.wat"),
    ("BAD_REALLOC", "bad_realloc.wat"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let packages: Vec<&str> = GUESTS.iter().map(|(_, package, _)| *package).collect();
    let dir = build_guests(&packages);
    let mut constants = String::new();
    for (constant, package, stem) in GUESTS {
        let path = dir.join(format!("{stem}.wasm"));
        assert!(path.is_file(), "{} was not built", path.display());
        writeln!(constants, "/// `{package}`, built for wasm32-wasip2.").unwrap();
        writeln!(
            constants,
            "pub const {constant}: &str = {:?};",
            path.display().to_string()
        )
        .unwrap();
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let text_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests-text");
    for (constant, file) in TEXT_GUESTS {
        let source = text_dir.join(file);
        println!("cargo:rerun-if-changed={}", source.display());
        let binary = wat::parse_file(&source)
            .unwrap_or_else(|error| panic!("{}: {error}", source.display()));
        let path = out.join(
            std::path::Path::new(file)
                .with_extension("wasm")
                .file_name()
                .unwrap(),
        );
        std::fs::write(&path, binary).unwrap();
        writeln!(constants, "/// `tests/guests-text/{file}`, assembled.").unwrap();
        writeln!(
            constants,
            "pub const {constant}: &str = {:?};",
            path.display().to_string()
        )
        .unwrap();
    }
    std::fs::write(out.join("artifacts.rs"), constants).unwrap();
}
