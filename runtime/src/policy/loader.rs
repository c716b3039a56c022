//! Turning a policy into a compiled component: a built-in from the artifact
//! precompiled into the binary, a file from the cache or from Cranelift.
//! Whatever is not a component of the expected world is refused here, before
//! anything runs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::policy::cache::Cache;
use crate::policy::engine_config::engine_config;
use crate::policy::inspect;
use crate::policy::{Origin, Policy, World};

/// How a component was obtained, for diagnostics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The artifact precompiled into the binary (built-ins).
    Precompiled,
    /// The compiled-component cache.
    Cached,
    /// Compiled now by Cranelift.
    Compiled,
}

/// A component ready to instantiate.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The compiled component.
    pub component: Component,
    /// How it was obtained.
    pub source: Source,
}

/// What the cache holds for one policy file, compared with what compiling it
/// now gives (see [`Loader::verify_cached`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheVerdict {
    /// No cache, no entry for this module, or not a policy file.
    NotCached,
    /// The cached artifact is byte for byte what compiling the module gives.
    Matches,
    /// The cached artifact was not compiled from this module (swapped,
    /// forged or damaged); it was removed unless `removal` says why not.
    Mismatch {
        /// The artifact file.
        artifact: PathBuf,
        /// Why it could not be removed, if it could not.
        removal: Option<String>,
    },
}

/// Why a compiled component was not stored in the cache.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotStored {
    /// Caching is off (`SME_CACHE_DIR` empty).
    #[error("the cache is off")]
    Off,
    /// The directory cannot be created, or someone else could change it.
    #[error("the cache directory {} is not usable (missing and cannot be created, or not private to this user)", .0.display())]
    Unusable(PathBuf),
    /// Writing the artifact failed.
    #[error("writing the artifact failed: {0}")]
    Failed(String),
}

/// A module that is not a usable component.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not WebAssembly at all.
    #[error("{policy}: not a WebAssembly component (the file does not start with the wasm header)")]
    NotWasm {
        /// Names the module.
        policy: String,
    },
    /// A core module instead of a component.
    #[error(
        "{policy}: a core WebAssembly module, not a component; build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// Names the module.
        policy: String,
    },
    /// Wasmtime refused to compile it (truncated, malformed, unsupported).
    #[error("{policy}: not a valid component: {reason}")]
    Invalid {
        /// Names the module.
        policy: String,
        /// Wasmtime's reason, on one line.
        reason: String,
    },
    /// A module too large to compile inside an agent request, with no
    /// compiled artifact in the cache.
    #[error(
        "{policy}: not precompiled, and at {} KiB it is over the {} KiB `sme` compiles inside a \
         request (limit `compile_on_demand_kib`): {remedy}",
        size >> 10,
        limit >> 10
    )]
    NotPrecompiled {
        /// Names the module.
        policy: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
        /// What to do: precompile it, or first give SME a usable cache.
        remedy: String,
    },
    /// A component of another world.
    #[error("{policy}: implements {found}, not the {expected} world (it must export `{export}`)")]
    WrongWorld {
        /// Names the module.
        policy: String,
        /// The world required.
        expected: &'static str,
        /// The function required.
        export: &'static str,
        /// What it exports instead.
        found: String,
    },
}

/// Compiles and caches components for one engine.
#[derive(Debug)]
pub struct Loader {
    engine: Engine,
    cache_dir: Option<PathBuf>,
    /// Opened on the first policy file: built-ins never need it. Why it
    /// cannot be used, when it cannot.
    cache: OnceLock<Result<Cache, String>>,
}

impl Loader {
    /// A loader with the runtime's engine, caching in `cache_dir` if usable.
    pub fn new(cache_dir: Option<&Path>) -> wasmtime::Result<Loader> {
        Ok(Loader {
            engine: Engine::new(&engine_config())?,
            cache_dir: cache_dir.map(Path::to_path_buf),
            cache: OnceLock::new(),
        })
    }

    fn cache(&self) -> Option<&Cache> {
        self.opened_cache().ok()
    }

    fn opened_cache(&self) -> Result<&Cache, &str> {
        self.cache
            .get_or_init(|| match self.cache_dir.as_deref() {
                None => Err("caching is off (SME_CACHE_DIR is empty)".to_owned()),
                Some(dir) => Cache::open(dir, &self.engine).map_err(|error| {
                    tracing::debug!(%error, "cache not used");
                    format!("the cache directory cannot be used: {error}")
                }),
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The engine components are compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles (or finds) `policy` and checks it is a component of its world.
    pub fn load(&self, policy: &Policy) -> Result<Loaded, LoadError> {
        let loaded = self.compile(policy)?;
        self.check_world(policy, loaded)
    }

    /// Like [`Loader::load`], but a policy file larger than `compile_limit`
    /// bytes is only loaded from the cache, never compiled: what `sme` does
    /// inside an agent request (limit `compile_on_demand_kib`).
    pub fn load_within(&self, policy: &Policy, compile_limit: u64) -> Result<Loaded, LoadError> {
        let size = policy.wasm.len() as u64;
        if matches!(policy.origin, Origin::File(_)) && size > compile_limit {
            check_header(policy)?;
            let cache = self.opened_cache();
            let Some(component) = cache.ok().and_then(|c| c.get(&self.engine, &policy.sha256))
            else {
                // Only on this failure path is the cache probed for writing:
                // advice to precompile into a read-only cache is a dead end.
                let remedy = match cache.map(|c| (c, c.writable())) {
                    Ok((_, Ok(()))) => format!(
                        "run `smectl install {} --as {}` or `smectl check` to precompile it",
                        policy.location(),
                        policy.name
                    ),
                    Ok((cache, Err(error))) => format!(
                        "the cache directory {} cannot be written ({error}), so it cannot be \
                         precompiled there: mount a writable volume on it (docs/deploy.md)",
                        cache.path().display()
                    ),
                    Err(why) => format!("{why}, so it cannot be precompiled"),
                };
                return Err(LoadError::NotPrecompiled {
                    policy: policy.to_string(),
                    size,
                    limit: compile_limit,
                    remedy,
                });
            };
            let loaded = Loaded {
                component,
                source: Source::Cached,
            };
            return self.check_world(policy, loaded);
        }
        self.load(policy)
    }

    /// Like [`Loader::load`], but always compiles and leaves the cache
    /// alone: for `smectl install`, which changes nothing until the module
    /// has passed every check (then [`Loader::store`] caches it).
    pub fn load_fresh(&self, policy: &Policy) -> Result<Loaded, LoadError> {
        check_header(policy)?;
        let component = self.compile_now(policy)?;
        self.check_world(
            policy,
            Loaded {
                component,
                source: Source::Compiled,
            },
        )
    }

    fn check_world(&self, policy: &Policy, loaded: Loaded) -> Result<Loaded, LoadError> {
        let exports = inspect::export_names(&self.engine, &loaded.component);
        if !exports.iter().any(|name| name == policy.world.export()) {
            return Err(LoadError::WrongWorld {
                policy: policy.to_string(),
                expected: policy.world.name(),
                export: policy.world.export(),
                found: describe_exports(&exports),
            });
        }
        Ok(loaded)
    }

    /// Compiles (or finds) `policy` without checking its world.
    pub fn compile(&self, policy: &Policy) -> Result<Loaded, LoadError> {
        if let Origin::Builtin(builtin) = &policy.origin {
            // SAFETY: the artifact was produced at build time by
            // `Engine::precompile_component` with the same engine settings
            // and is part of this binary; wasmtime still checks its header
            // and we fall back to compiling when it does not match.
            match unsafe { Component::deserialize(&self.engine, builtin.precompiled) } {
                Ok(component) => {
                    return Ok(Loaded {
                        component,
                        source: Source::Precompiled,
                    });
                }
                Err(error) => tracing::debug!(%error, "precompiled built-in unusable; compiling"),
            }
        }
        check_header(policy)?;
        if let Some(component) = self
            .cache()
            .and_then(|c| c.get(&self.engine, &policy.sha256))
        {
            return Ok(Loaded {
                component,
                source: Source::Cached,
            });
        }
        let component = self.compile_now(policy)?;
        if let (Some(cache), Origin::File(_)) = (self.cache(), &policy.origin)
            && let Ok(artifact) = component.serialize()
        {
            // A run that cannot cache still runs; `put` logs why.
            let _ = cache.put(&policy.sha256, &artifact);
        }
        Ok(Loaded {
            component,
            source: Source::Compiled,
        })
    }

    /// Stores `component`, compiled from `policy`, in the cache, so the
    /// module's first run maps it instead of compiling it; gives the
    /// artifact's path, or why there is none.
    pub fn store(&self, policy: &Policy, component: &Component) -> Result<PathBuf, NotStored> {
        let dir = self.cache_dir.as_deref().ok_or(NotStored::Off)?;
        let cache = self
            .cache()
            .ok_or_else(|| NotStored::Unusable(dir.to_path_buf()))?;
        let artifact = component
            .serialize()
            .map_err(|error| NotStored::Failed(one_line(&error)))?;
        cache
            .put(&policy.sha256, &artifact)
            .map_err(|error| NotStored::Failed(error.to_string()))
    }

    /// Whether the cache holds an artifact for `policy` (not checked
    /// further: `sme` deserializes it, or compiles when it cannot).
    pub fn has_artifact(&self, policy: &Policy) -> bool {
        self.cache()
            .is_some_and(|cache| cache.artifact(&policy.sha256).is_some())
    }

    /// The cache directory, if caching is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// Compiles `policy` with Cranelift now, whatever its origin, without
    /// looking at or filling the cache (`smectl bench` times this).
    pub fn compile_uncached(&self, policy: &Policy) -> Result<Component, LoadError> {
        check_header(policy)?;
        self.compile_now(policy)
    }

    fn compile_now(&self, policy: &Policy) -> Result<Component, LoadError> {
        Component::new(&self.engine, &*policy.wasm).map_err(|error| LoadError::Invalid {
            policy: policy.to_string(),
            reason: one_line(&error),
        })
    }

    /// Checks that the cached artifact of a policy file, if there is one, is
    /// what compiling that file gives now, without deserializing the cached
    /// artifact. Compilation is deterministic (same module, wasmtime and
    /// settings give the same bytes), so any difference means the artifact
    /// came from elsewhere; it is removed, so the next run compiles the
    /// module again. This is the check for `smectl check`: `sme` itself
    /// trusts the cache, which only its own user can write.
    pub fn verify_cached(&self, policy: &Policy) -> Result<CacheVerdict, LoadError> {
        let Origin::File(_) = &policy.origin else {
            return Ok(CacheVerdict::NotCached);
        };
        let Some(cache) = self.cache() else {
            return Ok(CacheVerdict::NotCached);
        };
        let Some((artifact, cached)) = cache.artifact(&policy.sha256) else {
            return Ok(CacheVerdict::NotCached);
        };
        check_header(policy)?;
        let fresh = self
            .compile_now(policy)?
            .serialize()
            .map_err(|error| LoadError::Invalid {
                policy: policy.to_string(),
                reason: one_line(&error),
            })?;
        if fresh == cached {
            return Ok(CacheVerdict::Matches);
        }
        let removal = cache.remove(&policy.sha256).err().map(|e| e.to_string());
        Ok(CacheVerdict::Mismatch { artifact, removal })
    }
}

/// Refuses what is not a component before wasmtime tries to parse it, with
/// the reason an operator can act on.
fn check_header(policy: &Policy) -> Result<(), LoadError> {
    let wasm = &policy.wasm;
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(LoadError::NotWasm {
            policy: policy.to_string(),
        });
    }
    // Bytes 6..8 are the layer: 0 for a core module, 1 for a component.
    if wasm[6..8] == [0, 0] {
        return Err(LoadError::CoreModule {
            policy: policy.to_string(),
        });
    }
    Ok(())
}

/// Which world a component's exports look like, for the wrong-world error:
/// `the metrics world (exports `collect`)`.
fn describe_exports(exports: &[String]) -> String {
    let world = [World::Operation, World::Metrics]
        .into_iter()
        .find(|world| exports.iter().any(|name| name == world.export()))
        .map_or_else(
            || "no policy world".to_owned(),
            |w| format!("the {} world", w.name()),
        );
    let listed = if exports.is_empty() {
        "nothing".to_owned()
    } else {
        let quoted: Vec<String> = exports.iter().map(|name| format!("`{name}`")).collect();
        quoted.join(", ")
    };
    format!("{world} (exports {listed})")
}

/// An error and its causes on one line.
pub fn one_line(error: &wasmtime::Error) -> String {
    format!("{error:#}")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `smectl check` relies on this: compiling the same module twice gives
    /// the same artifact, byte for byte, and the same as the build-time
    /// precompilation with the same settings.
    #[test]
    fn compilation_is_deterministic() {
        let loader = Loader::new(None).unwrap();
        let builtin = crate::policy::builtin::find("stop").unwrap();
        let compile = |engine: &Engine| {
            Component::new(engine, builtin.wasm)
                .unwrap()
                .serialize()
                .unwrap()
        };
        assert_eq!(compile(loader.engine()), compile(loader.engine()));
        let precompile = Engine::new(&crate::policy::engine_config::precompile_config(env!(
            "SME_TARGET"
        )))
        .unwrap();
        let first = compile(&precompile);
        assert_eq!(first, builtin.precompiled);
    }
}
