//! SME, the WebAssembly-sandboxed System Management Executor.
//!
//! The EdgeX System Management Agent runs `sme <service> <operation>`; SME
//! runs the policy component for that operation under wasmtime, gives it a
//! few Docker capabilities (each call checked against the module's grant,
//! limited and audited), and prints its answer exactly as the reference
//! Docker executor would. `smectl` shows and checks what modules may do.
//!
//! The executables are thin: [`executor::execute`] is all of `sme`, and
//! `smectl`'s commands use [`invoke::Runtime`], [`policy`] and [`inspect`].
//! See `docs/architecture.md` for how the pieces fit.

pub mod audit;
pub mod bindings;
pub mod builtin;
pub mod cache;
pub mod config;
pub mod deployment;
pub mod digests;
pub mod docker;
pub mod engine_config;
pub mod executor;
pub mod gate;
pub mod grants;
pub mod host;
pub mod inspect;
pub mod install;
pub mod invoke;
pub mod limits;
pub mod loader;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod policy;
pub mod private_dir;
pub mod scenario;
pub mod settings;
pub mod signing;
pub mod sink;
pub mod swarm;
pub mod trusted;

/// musl's allocator makes Cranelift and instantiation several times slower;
/// the static build (`scripts/build-static`) allocates with mimalloc instead,
/// measured in `docs/performance.md`. The glibc build keeps glibc's.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
