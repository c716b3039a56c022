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
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}
