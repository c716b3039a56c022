//! The compiled-component cache: a policy file is compiled by Cranelift
//! once, and later runs map the compiled artifact straight from disk.
//!
//! Files are named `<sha256 of the .wasm>-<engine key>.cwasm`, where the
//! engine key hashes wasmtime's own compatibility fingerprint (its version
//! and every setting that changes compiled code), so a changed module, a new
//! wasmtime or other engine settings never load a stale artifact. Artifacts
//! are written atomically (many first runs at once neither corrupt nor fail),
//! and the directory must be private to this user because an artifact is
//! native code: see [`PrivateDir`]. Without a usable directory everything
//! still works, only slower.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::policy::hex;
use crate::private_dir::PrivateDir;

/// A cache directory bound to one engine configuration.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PrivateDir,
    engine_key: String,
}

impl Cache {
    /// Opens the cache in `dir` for `engine`, if the directory is usable.
    pub fn open(dir: &Path, engine: &Engine) -> Option<Cache> {
        let dir = PrivateDir::open(dir)?;
        // `DefaultHasher::new()` has fixed keys: the same engine gives the
        // same key in every process.
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(Cache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn file_name(&self, sha256: &[u8; 32]) -> String {
        format!("{}-{}.cwasm", hex(sha256), self.engine_key)
    }

    /// The cached compilation of the module with this hash, if any.
    pub fn get(&self, engine: &Engine, sha256: &[u8; 32]) -> Option<Component> {
        let path = self.dir.join(&self.file_name(sha256));
        if !path.exists() {
            return None;
        }
        // SAFETY: the file is in a directory only this user can write, it was
        // written whole (atomically) by `put` from wasmtime's own
        // serialization, and wasmtime checks its header against this engine's
        // version and settings before using it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "dropping unusable cache entry");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores the compiled artifact of the module with this hash, and drops
    /// artifacts left by other engine versions or settings.
    pub fn put(&self, sha256: &[u8; 32], artifact: &[u8]) {
        if let Err(error) = self.dir.write(&self.file_name(sha256), artifact) {
            tracing::debug!(%error, "could not cache the compiled policy");
            return;
        }
        let suffix = format!("-{}.cwasm", self.engine_key);
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".cwasm") && !name.ends_with(&suffix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// The path and bytes of the cached artifact of the module with this
    /// hash, read without deserializing it (for verification).
    pub fn artifact(&self, sha256: &[u8; 32]) -> Option<(PathBuf, Vec<u8>)> {
        let path = self.dir.join(&self.file_name(sha256));
        let bytes = std::fs::read(&path).ok()?;
        Some((path, bytes))
    }

    /// Removes the cached artifact of the module with this hash.
    pub fn remove(&self, sha256: &[u8; 32]) -> std::io::Result<()> {
        std::fs::remove_file(self.dir.join(&self.file_name(sha256)))
    }
}
