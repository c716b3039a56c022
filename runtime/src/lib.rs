//! SME, the WebAssembly-sandboxed System Management Executor.
//!
//! The EdgeX System Management Agent runs `sme <service> <operation>`; SME
//! runs the policy component for that operation under wasmtime, gives it a
//! few Docker capabilities (each call checked against the module's grant,
//! limited and audited), and prints its answer exactly as the reference
//! Docker executor would. `smectl` shows and checks what modules may do.
//!
//! The executables are thin: [`run::executor::execute`] is all of `sme`, and
//! `smectl`'s commands use [`run::invoke::Runtime`], [`policy`] and [`policy::inspect`].
//! See `docs/architecture.md` for how the pieces fit.

pub mod backend;
pub mod config;
pub mod contract;
pub mod fs;
pub mod host;
pub mod names;
pub mod policy;
pub mod run;
pub mod sandbox;
pub mod sim;

/// musl's allocator makes Cranelift and instantiation several times slower;
/// the static build (`scripts/build-static`) allocates with mimalloc instead,
/// measured in `docs/performance.md`. The glibc build keeps glibc's.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
