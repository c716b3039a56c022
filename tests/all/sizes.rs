//! Module sizes are configuration (`module_mib`), and a large module is
//! never compiled inside an agent request (`compile_on_demand_kib`): it is
//! precompiled by `smectl install` or `smectl check`.

use std::time::Duration;

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox};

/// A valid component made `extra` bytes larger by a custom section at its
/// end, which wasmtime skips: a large module without a long compile.
fn padded(extra: usize) -> Vec<u8> {
    let mut wasm = std::fs::read(guests::PAUSE).unwrap();
    let name = b"sme-test-padding";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.resize(payload.len() + extra, 0);
    wasm.push(0); // a custom section
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            wasm.push(byte);
            break;
        }
        wasm.push(byte | 0x80);
    }
    wasm.extend_from_slice(&payload);
    wasm
}

const GRANT: &str = "[modules.pause.grants]\npause = [\"self\"]\ninspect = [\"self\"]\n";

fn artifacts(sandbox: &Sandbox) -> usize {
    std::fs::read_dir(sandbox.root.join("cache"))
        .map(|dir| {
            dir.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn the_module_size_cap_is_a_limit_named_in_its_error() {
    let container = Container::running("sizes");
    let sandbox = Sandbox::new();
    let path = sandbox.install_bytes(&padded(2 << 20), "pause.wasm");
    sandbox.config(&format!("[limits]\nmodule_mib = 1\n{GRANT}"));
    sandbox
        .sme(&[&container.name, "pause"])
        .fails_with(&format!(
            "policy {}: larger than the 1 MiB a policy may be (limit `module_mib`)",
            path.display()
        ));
    assert_eq!(container.status(), "running");

    // Per module too, and the default (64 MiB) lets it through.
    sandbox.config(&format!("{GRANT}[modules.pause.limits]\nmodule_mib = 1\n"));
    assert_eq!(sandbox.sme(&[&container.name, "pause"]).code, Some(1));
    sandbox.config(&format!("[limits]\ncompile_on_demand_kib = 4096\n{GRANT}"));
    sandbox
        .sme(&[&container.name, "pause"])
        .succeeds_with("\"\"");

    sandbox.config("[limits]\nmodule_mib = 0\n");
    let run = sandbox.sme(&[&container.name, "pause"]);
    assert!(
        run.stdout.contains("`module_mib` must be greater than 0"),
        "{run:?}"
    );
}

#[test]
fn a_large_module_is_never_compiled_in_a_request_but_precompiled_by_check() {
    let container = Container::running("large");
    let sandbox = Sandbox::new();
    sandbox.config(GRANT);
    let path = sandbox.install_bytes(&padded(2 << 20), "pause.wasm");

    let run = sandbox.sme(&[&container.name, "pause"]);
    run.fails_mentioning(&[
        &format!("policy pause ({})", path.display()),
        "not precompiled",
        "over the 1024 KiB `sme` compiles inside a request (limit `compile_on_demand_kib`)",
        &format!(
            "run `smectl install {} --as pause` or `smectl check`",
            path.display()
        ),
    ]);
    assert!(run.elapsed < Duration::from_secs(1), "{run:?}");
    assert_eq!(artifacts(&sandbox), 0, "the request compiled it");
    assert_eq!(container.status(), "running");

    // `smectl check` precompiles it; then the agent's request runs it.
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(0), "{check:?}");
    assert_eq!(artifacts(&sandbox), 1);
    sandbox
        .sme(&[&container.name, "pause"])
        .succeeds_with("\"\"");
    assert_eq!(container.status(), "paused");

    // Small modules still compile on first use.
    let small = Sandbox::new();
    small.config(GRANT);
    small.install(guests::PAUSE, "pause.wasm");
    let other = Container::running("small");
    small.sme(&[&other.name, "pause"]).succeeds_with("\"\"");
    assert_eq!(artifacts(&small), 1);
}

#[test]
fn install_precompiles_a_large_module_and_refuses_it_without_a_cache() {
    let container = Container::running("install-large");
    let sandbox = Sandbox::new();
    sandbox.config(GRANT);
    let file = sandbox.root.join("pause.wasm");
    std::fs::write(&file, padded(2 << 20)).unwrap();
    let file = file.display().to_string();

    let run = sandbox.smectl(&["install", &file]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(artifacts(&sandbox), 1);
    sandbox
        .sme(&[&container.name, "pause"])
        .succeeds_with("\"\"");

    // With the cache off it could never run, so it is not installed.
    let mut uncached = Sandbox::new();
    uncached.config(GRANT);
    uncached.env("SME_CACHE_DIR", "");
    let refused = uncached.smectl(&["install", &file]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused.stderr.contains("not installed: at 2")
            && refused
                .stderr
                .contains("(limit `compile_on_demand_kib`) and cannot be precompiled"),
        "{refused:?}"
    );
    assert!(!uncached.policy_dir().join("pause.wasm").exists());

    // smectl's own runs are not the agent's: they compile any size.
    let running = Container::running("run-large");
    uncached.install_bytes(&padded(2 << 20), "pause.wasm");
    assert_eq!(uncached.sme(&[&running.name, "pause"]).code, Some(1));
    let tried = uncached.smectl(&["run", &running.name, "pause", "--dry-run"]);
    assert_eq!(tried.code, Some(0), "{tried:?}");
}
