// Builds guest crates of the `policies/` workspace for `wasm32-wasip2`.
//
// Shared by `runtime/build.rs` (the built-in policies) and
// `tests/artifacts/build.rs` (examples and the hostile test corpus) through
// `include!`, so both build scripts drive cargo the same way.

/// Builds `packages` of the guest workspace in release mode and returns the
/// directory holding their `.wasm` files.
fn build_guests(packages: &[&str]) -> std::path::PathBuf {
    use std::path::PathBuf;
    use std::process::Command;

    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .ancestors()
        .find(|dir| dir.join("policies/Cargo.toml").is_file())
        .expect("the repository root (holding policies/Cargo.toml) is above this crate")
        .to_path_buf();
    for watched in ["wit", "guest-sdk", "policies", "tests/guests", "tests/wit-0.1.0"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    // A separate target directory: the outer cargo holds the lock on its own,
    // and guest builds must not share host flags or features.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(root.join("policies/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    // The outer build's settings are for the host, not for wasm guests.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let for_outer_build = (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_MAKEFLAGS")
            || key == "RUSTFLAGS"
            || key == "RUSTC_WORKSPACE_WRAPPER";
        if for_outer_build {
            command.env_remove(key.as_ref());
        }
    }
    let status = command.status().expect("could not run cargo to build the guest policies");
    assert!(
        status.success(),
        "building the guest policies failed ({status}); is the target installed? \
         run `rustup target add wasm32-wasip2`"
    );
    target_dir.join("wasm32-wasip2/release")
}
