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

use crate::fs::private_dir::{PrivateDir, Unusable};
use crate::fs::trusted::TrustedDir;

/// Largest artifact read back for verification: far above the native code
/// of any policy module SME accepts.
const MAX_ARTIFACT_BYTES: u64 = 4 << 30;

/// A cache directory bound to one engine configuration.
#[derive(Debug)]
pub struct Cache {
    dir: PrivateDir,
    engine_key: String,
}

impl Cache {
    /// Opens the cache in `dir` for `engine`, if the directory is usable.
    pub fn open(dir: &Path, engine: &Engine) -> Result<Cache, Unusable> {
        let dir = PrivateDir::open_or_why(dir)?;
        // `DefaultHasher::new()` has fixed keys: the same engine gives the
        // same key in every process.
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Cache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn file_name(&self, sha256: &[u8; 32]) -> String {
        format!("{}-{}.cwasm", hex::encode(sha256), self.engine_key)
    }

    /// The cached compilation of the module with this hash, if any.
    pub fn get(&self, engine: &Engine, sha256: &[u8; 32]) -> Option<Component> {
        let name = self.file_name(sha256);
        let file = self.dir.open_file(&name)?;
        // SAFETY: the file is a regular file in a directory only this user
        // can change (its whole path checked), opened without following
        // links; it is mapped through this process's own handle to it, so it
        // is the object that was checked. It was written whole (atomically)
        // by `put` from wasmtime's own serialization, and wasmtime checks its
        // header against this engine's version and settings before using it.
        match unsafe { Component::deserialize_file(engine, TrustedDir::proc_path(&file)) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::debug!(name, %error, "dropping unusable cache entry");
                let _ = self.dir.remove(&name);
                None
            }
        }
    }

    /// Stores the compiled artifact of the module with this hash, and drops
    /// artifacts left by other engine versions or settings; gives the
    /// artifact's path.
    pub fn put(&self, sha256: &[u8; 32], artifact: &[u8]) -> std::io::Result<PathBuf> {
        let name = self.file_name(sha256);
        if let Err(error) = self.dir.write(&name, artifact) {
            tracing::debug!(%error, "could not cache the compiled policy");
            return Err(error);
        }
        // Only artifacts SME named are ever removed: `<sha256>-<key>.cwasm`
        // with another engine key.
        for name in self.dir.names() {
            if let Some(key) = artifact_key(&name)
                && key != self.engine_key
            {
                let _ = self.dir.remove(&name);
            }
        }
        Ok(self.dir.join(&name))
    }

    /// The path and bytes of the cached artifact of the module with this
    /// hash, read without deserializing it (for verification).
    pub fn artifact(&self, sha256: &[u8; 32]) -> Option<(PathBuf, Vec<u8>)> {
        let name = self.file_name(sha256);
        let bytes = self.dir.read(&name, MAX_ARTIFACT_BYTES)?;
        Some((self.dir.join(&name), bytes))
    }

    /// The directory, for messages.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Whether an artifact could be written now (a read-only mount or a full
    /// disk cannot), and why not.
    pub fn writable(&self) -> std::io::Result<()> {
        self.dir.probe_write()
    }

    /// Removes the cached artifact of the module with this hash.
    pub fn remove(&self, sha256: &[u8; 32]) -> std::io::Result<()> {
        self.dir.remove(&self.file_name(sha256))
    }
}

/// The engine key of an artifact file name `<64 hex>-<16 hex>.cwasm`, or
/// `None` for any other name.
fn artifact_key(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".cwasm")?;
    let (sha256, key) = stem.split_once('-')?;
    let hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    (hex(sha256, 64) && hex(key, 16)).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::artifact_key;

    #[test]
    fn only_artifact_names_have_a_key() {
        let sha = "ab".repeat(32);
        assert_eq!(
            artifact_key(&format!("{sha}-0123456789abcdef.cwasm")),
            Some("0123456789abcdef")
        );
        for other in [
            "notes.cwasm".to_owned(),
            format!("{sha}-0123456789abcdef.cwasm.bak"),
            format!("{sha}-0123456789ABCDEF.cwasm"),
            format!("{sha}-short.cwasm"),
            format!(".{sha}-0123456789abcdef.cwasm.1.2.tmp"),
        ] {
            assert_eq!(artifact_key(&other), None, "{other}");
        }
    }
}
