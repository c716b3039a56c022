// The engine settings every policy is compiled and run with.
//
// `build.rs` includes this file to precompile the built-in policies, so the
// artifacts embedded in the binary match the runtime's engine exactly
// (wasmtime refuses an artifact compiled with other settings, and the runtime
// then falls back to compiling the embedded `.wasm`).

/// Wasm stack a policy may use before it traps: generous for real policies,
/// small enough that runaway recursion stops quickly.
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// Builds the wasmtime configuration for policy components.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .wasm_component_model(true)
        // Fuel bounds the CPU a policy may burn; epochs bound its wall time.
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        // No .eh_frame for compiled policies: wasmtime walks Wasm frames
        // itself (traps, backtraces, host panics), and only native debuggers
        // and profilers would read it. With musl's libunwind each function's
        // unwind entry is registered and removed one by one, and removing
        // them scans the whole table: dropping a CPython component (tens of
        // thousands of functions) cost the static build 300 ms per run.
        .native_unwind_info(false)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}

/// The engine settings for precompiling the built-in policies at build time,
/// for `target` (the triple the binary is built for): code for the
/// architecture's baseline, which every CPU of it runs, rather than for the
/// build machine's CPU. A runtime engine accepts an artifact that uses fewer
/// CPU features than its host has, so a binary built on a machine with AVX2
/// still loads its built-ins on a gateway without, instead of compiling them
/// on every call; and an aarch64 binary built on x86_64 embeds aarch64 code.
pub fn precompile_config(target: &str) -> wasmtime::Config {
    let mut config = engine_config();
    if let Err(error) = config.target(target) {
        panic!("cannot precompile for {target}: {error:?}");
    }
    config
}
