//! Finding the module for an operation and reading it: `<policy_dir>/<op>.wasm`
//! when present, else the built-in; the file's sha256 checked against its pin,
//! and its signature `<op>.wasm.minisig` against the trusted keys.

pub mod builtin;
pub mod cache;
pub mod digests;
pub mod engine_config;
pub mod inspect;
pub mod install;
pub mod loader;
pub mod signing;

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::fs::trusted::{self, Strictness, TrustError, TrustedDir};
use crate::names;
use crate::policy::builtin::Builtin;
use crate::policy::digests::{Digests, Identity, Record};
use crate::policy::signing::{KeyId, MAX_SIGNATURE_BYTES, Refusal, SIGNATURE_SUFFIX};

/// The directory under the policy directory holding metrics add-ons.
pub const METRICS_ADDONS: &str = "metrics.d";

/// The world a module must implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// Exports `run`: lifecycle and custom operations.
    Operation,
    /// Exports `collect`: the metrics policy and its add-ons.
    Metrics,
}

impl World {
    /// The world module `name` must implement: `metrics` and its add-ons
    /// (`metrics.d/...`) are metrics policies, everything else operations.
    pub fn of_module(name: &str) -> World {
        if name == "metrics" || name.starts_with("metrics.d/") {
            World::Metrics
        } else {
            World::Operation
        }
    }

    /// The world's name in `wit/worlds.wit`.
    pub fn name(self) -> &'static str {
        match self {
            World::Operation => "operation",
            World::Metrics => "metrics",
        }
    }

    /// The function the world exports.
    pub fn export(self) -> &'static str {
        match self {
            World::Operation => "run",
            World::Metrics => "collect",
        }
    }
}

/// Where a module came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A file in the policy directory (or given to `smectl`).
    File(PathBuf),
    /// Embedded in the binary.
    Builtin(&'static Builtin),
}

/// How a module came to be trusted, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Embedded in the binary.
    Builtin,
    /// Its sha256 matches the configured pin.
    Pinned,
    /// A trusted key signed it for its name.
    Signed(KeyId),
    /// Both.
    PinnedSigned(KeyId),
    /// Neither: a file nothing vouches for (allowed unless `require_pinning`
    /// or `require_signature` is set).
    Unverified,
}

/// `builtin`, `pinned`, `signed:<key id>`, `pinned+signed:<key id>` or
/// `unverified`.
impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trust::Builtin => f.write_str("builtin"),
            Trust::Pinned => f.write_str("pinned"),
            Trust::Signed(key) => write!(f, "signed:{key}"),
            Trust::PinnedSigned(key) => write!(f, "pinned+signed:{key}"),
            Trust::Unverified => f.write_str("unverified"),
        }
    }
}

/// A module's bytes: embedded in the binary, read into memory, or mapped
/// from its file.
#[derive(Debug, Clone)]
pub enum ModuleBytes {
    /// Part of the binary (built-ins).
    Static(&'static [u8]),
    /// Read into memory.
    Owned(Vec<u8>),
    /// Mapped read-only from a policy file: pages are read only when
    /// touched (a cached module touches a few), and are the page cache's,
    /// shared by every `sme` process instead of copied into each.
    Mapped(Arc<memmap2::Mmap>),
}

impl ModuleBytes {
    /// Maps the whole of `file`, which holds `size` bytes.
    fn map(file: &File, size: u64) -> std::io::Result<ModuleBytes> {
        if size == 0 {
            // An empty mapping is an error; an empty module is refused later
            // as not WebAssembly.
            return Ok(ModuleBytes::Owned(Vec::new()));
        }
        // SAFETY: the file is a regular file in the policy directory, whose
        // whole path only root or SME's user can change (checked when it was
        // opened); the mapping is private and read-only. Changing the file
        // in place while a run maps it is the one hazard (a truncation ends
        // that run with SIGBUS); `smectl install` replaces files by rename,
        // which leaves the mapped file as it was, and docs/security.md says
        // to do the same.
        let map = unsafe { memmap2::MmapOptions::new().len(size as usize).map(file)? };
        Ok(ModuleBytes::Mapped(Arc::new(map)))
    }
}

impl Deref for ModuleBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ModuleBytes::Static(bytes) => bytes,
            ModuleBytes::Owned(bytes) => bytes,
            ModuleBytes::Mapped(map) => map,
        }
    }
}

/// A module ready to be compiled and run.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Its name in configuration: the operation, or `metrics.d/<stem>`.
    pub name: String,
    /// The world it must implement.
    pub world: World,
    /// Where it came from.
    pub origin: Origin,
    /// The component bytes.
    pub wasm: ModuleBytes,
    /// sha256 of `wasm`.
    pub sha256: [u8; 32],
    /// How it was trusted.
    pub trust: Trust,
}

impl Policy {
    /// The built-in module for `operation`.
    pub fn builtin(builtin: &'static Builtin) -> Policy {
        Policy {
            name: builtin.operation.to_owned(),
            world: builtin.world,
            origin: Origin::Builtin(builtin),
            wasm: ModuleBytes::Static(builtin.wasm),
            sha256: builtin.sha256,
            trust: Trust::Builtin,
        }
    }

    /// Module `name` from `file`, the file at `path` in the policy
    /// directory: hashed (or its remembered digest used), checked against the
    /// configured pin and the `require_pinning` setting, then against its
    /// signature file's bytes (`signature`) and `[signing]`.
    fn pinned(
        config: &Config,
        name: &str,
        path: PathBuf,
        file: ModuleFile,
        signature: Option<Vec<u8>>,
    ) -> Result<Policy, PolicyError> {
        let module = config.module(name);
        let mut policy = Policy {
            name: name.to_owned(),
            world: World::of_module(name),
            origin: Origin::File(path.clone()),
            sha256: file.record.sha256,
            wasm: file.wasm,
            trust: Trust::Unverified,
        };
        let sha256 = policy.sha256;
        match module.pin {
            Some(pin) if pin != sha256 => {
                return Err(PolicyError::PinMismatch {
                    path,
                    expected: hex::encode(pin),
                    actual: hex::encode(sha256),
                });
            }
            None if config.require_pinning => {
                return Err(PolicyError::Unpinned {
                    path,
                    name: name.to_owned(),
                    actual: hex::encode(sha256),
                });
            }
            _ => {}
        }
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut record = file.record;
        let signed = config
            .signing
            .verify_with(
                name,
                &file_name,
                &policy.wasm,
                &sha256,
                signature.as_deref(),
                module.require_signature,
                &|proof| record.proofs.contains(proof),
            )
            .map_err(|refusal| PolicyError::Signature {
                policy: policy.to_string(),
                refusal,
            })?;
        let proven = signed.is_some_and(|verified| record.add_proof(verified.proof));
        if let Some(remember) = file.remember
            && (remember.hashed || proven)
        {
            remember.digests.put(&remember.identity, &record);
        }
        let signed = signed.map(|verified| verified.key);
        policy.trust = match (module.pin.is_some(), signed) {
            (true, Some(key)) => Trust::PinnedSigned(key),
            (false, Some(key)) => Trust::Signed(key),
            (true, None) => Trust::Pinned,
            (false, None) => Trust::Unverified,
        };
        Ok(policy)
    }

    fn unpinned(
        name: &str,
        world: World,
        path: PathBuf,
        wasm: Vec<u8>,
        max_size: u64,
    ) -> Result<Policy, PolicyError> {
        if wasm.len() as u64 > max_size {
            return Err(PolicyError::TooLarge {
                path,
                limit: max_size,
            });
        }
        Ok(Policy {
            name: name.to_owned(),
            world,
            origin: Origin::File(path),
            sha256: Sha256::digest(&wasm).into(),
            wasm: ModuleBytes::Owned(wasm),
            trust: Trust::Unverified,
        })
    }

    /// Reads the module file at `path` without checking its pin or who may
    /// write it: for `smectl inspect`, which reports on any file. It must
    /// still be a regular file, not a link, FIFO or device.
    /// At most `max_size` bytes are read (the module's `module_mib`).
    pub fn read_unchecked(
        name: &str,
        world: World,
        path: &Path,
        max_size: u64,
    ) -> Result<Policy, PolicyError> {
        let refused = |source| PolicyError::Untrusted {
            path: path.to_path_buf(),
            source,
        };
        let wasm = trusted::read_file(path, max_size, Strictness::Lax)
            .map_err(refused)?
            .ok_or_else(|| {
                refused(TrustError::Missing {
                    path: path.to_path_buf(),
                })
            })?;
        Policy::unpinned(name, world, path.to_path_buf(), wasm, max_size)
    }

    /// The file path, or `builtin`.
    pub fn location(&self) -> String {
        match &self.origin {
            Origin::File(path) => path.display().to_string(),
            Origin::Builtin(_) => "builtin".to_owned(),
        }
    }

    /// The sha256 as hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// Names a module in messages: `policy stop (/etc/sme/policies/stop.wasm)`.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File(path) => write!(f, "policy {} ({})", self.name, path.display()),
            Origin::Builtin(_) => write!(f, "built-in policy {}", self.name),
        }
    }
}

/// A module that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file or directory could not be read, or is not trusted.
    #[error("policy {}: refused: {source}", path.display())]
    Untrusted {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: TrustError,
    },
    /// The file is larger than its limit `module_mib`.
    #[error(
        "policy {}: larger than the {} MiB a policy may be (limit `module_mib`)",
        path.display(),
        limit >> 20
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file's hash is not the pinned one.
    #[error("policy {}: refused, its sha256 is {actual} but the configuration pins {expected}", path.display())]
    PinMismatch {
        /// The file.
        path: PathBuf,
        /// The pinned hash.
        expected: String,
        /// The file's hash.
        actual: String,
    },
    /// The file has no pin while every module must be pinned.
    #[error("policy {}: refused, require_pinning is set and it has no pin; add sha256 = \"{actual}\" under [modules.\"{name}\"] if you trust it", path.display())]
    Unpinned {
        /// The file.
        path: PathBuf,
        /// The module name.
        name: String,
        /// The file's hash.
        actual: String,
    },
    /// The module's signature does not vouch for it (or it is revoked).
    #[error("{policy}: refused: {refusal}")]
    Signature {
        /// The module, as [`Policy`] displays it.
        policy: String,
        /// Why.
        #[source]
        refusal: Refusal,
    },
    /// A metrics add-on file name is not a valid module name.
    #[error("policy {}: add-on names must be lowercase letters, digits and dashes, ending in .wasm", path.display())]
    BadAddonName {
        /// The file.
        path: PathBuf,
    },
}

/// The policy directory, opened once after checking its whole path; every
/// module file is then read through it.
#[derive(Debug)]
pub struct PolicyDir {
    dir: TrustedDir,
}

impl PolicyDir {
    /// Opens `config.policy_dir`; `None` when it does not exist (only
    /// built-in policies then run).
    pub fn open(config: &Config) -> Result<Option<PolicyDir>, PolicyError> {
        match TrustedDir::open(&config.policy_dir, config.strictness) {
            Ok(dir) => Ok(Some(PolicyDir { dir })),
            Err(error) if error.is_missing() => Ok(None),
            Err(source) => Err(PolicyError::Untrusted {
                path: config.policy_dir.clone(),
                source,
            }),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The module file `<operation>.wasm`, read and pin-checked; `None`
    /// when there is no such file.
    pub fn operation(
        &self,
        config: &Config,
        operation: &str,
    ) -> Result<Option<Policy>, PolicyError> {
        read_in(&self.dir, config, operation, &format!("{operation}.wasm"))
    }

    /// The operations that have a file here (`<operation>.wasm`), sorted,
    /// and the names of other `.wasm` entries that can never run.
    pub fn operations(&self) -> Result<(Vec<String>, Vec<String>), PolicyError> {
        Ok(wasm_stems(&self.dir)?
            .into_iter()
            .partition(|stem| names::is_operation(stem)))
    }

    /// The metrics add-ons (`metrics.d/*.wasm`), read and pin-checked, in
    /// name order.
    pub fn addons(&self, config: &Config) -> Result<Vec<Policy>, PolicyError> {
        self.addon_results(config)?
            .into_iter()
            .map(|(_, _, result)| result)
            // A stray file with a name no module has (`Up.wasm`,
            // `x.wasm.wasm`) is passed over, so the agent keeps its metrics;
            // `smectl check` reports it. Anything else wrong is refused.
            .filter(|result| !matches!(result, Err(PolicyError::BadAddonName { .. })))
            .collect()
    }

    /// Each metrics add-on's module name and file, and the add-on read and
    /// pin-checked or why it cannot be: for `smectl check`, which reports
    /// every one.
    pub fn addon_results(&self, config: &Config) -> Result<Vec<AddonResult>, PolicyError> {
        let untrusted = |source| PolicyError::Untrusted {
            path: self.dir.join(METRICS_ADDONS),
            source,
        };
        let Some(addons) = self.dir.subdir(METRICS_ADDONS).map_err(untrusted)? else {
            return Ok(Vec::new());
        };
        Ok(wasm_stems(&addons)?
            .into_iter()
            .map(|stem| {
                let file = format!("{stem}.wasm");
                let path = addons.join(&file);
                let name = format!("{METRICS_ADDONS}/{stem}");
                let result = if names::is_operation(&stem) {
                    read_in(&addons, config, &name, &file).and_then(|policy| {
                        policy.ok_or_else(|| PolicyError::Untrusted {
                            path: path.clone(),
                            source: TrustError::Missing { path: path.clone() },
                        })
                    })
                } else {
                    Err(PolicyError::BadAddonName { path: path.clone() })
                };
                (name, path, result)
            })
            .collect())
    }
}

/// A metrics add-on's module name, file, and the add-on or why it cannot run.
pub type AddonResult = (String, PathBuf, Result<Policy, PolicyError>);

/// The stems of the `*.wasm` entries of `dir`, sorted; names that are not
/// UTF-8 are shown lossily (and are never operation names). Hidden files
/// (`.name.wasm`, an editor's `.#name.wasm`) are not entries anyone put
/// there to run: they are left out.
fn wasm_stems(dir: &TrustedDir) -> Result<Vec<String>, PolicyError> {
    let names = dir.names().map_err(|source| PolicyError::Untrusted {
        path: dir.path().to_path_buf(),
        source,
    })?;
    Ok(names
        .iter()
        .filter_map(|name| {
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                return None;
            }
            name.strip_suffix(".wasm").map(str::to_owned)
        })
        .collect())
}

/// Reads module `name` from file `file` of `dir`: refused, without being
/// opened, when it is not a regular file; then checked for owner and mode,
/// size, pin and signature. Its signature file `<file>.minisig`, when there
/// is one, is read through the same directory handle with the same checks.
fn read_in(
    dir: &TrustedDir,
    config: &Config,
    name: &str,
    file: &str,
) -> Result<Option<Policy>, PolicyError> {
    let path = dir.join(file);
    let untrusted = |source| PolicyError::Untrusted {
        path: path.clone(),
        source,
    };
    let Some(opened) = dir.open_file(file).map_err(untrusted)? else {
        return Ok(None);
    };
    let max_size = config.module(name).limits.module_size;
    let module =
        ModuleFile::read(&opened, config.cache_dir.as_deref(), max_size).map_err(|error| {
            match error {
                ReadError::TooLarge => PolicyError::TooLarge {
                    path: path.clone(),
                    limit: max_size,
                },
                ReadError::Io(source) => untrusted(TrustError::Io {
                    path: path.clone(),
                    source,
                }),
            }
        })?;
    let signature = read_signature(dir, file)?;
    Policy::pinned(config, name, path, module, signature).map(Some)
}

/// A policy file's bytes and what is known of them.
struct ModuleFile {
    wasm: ModuleBytes,
    /// Its sha256, and signature proofs remembered from earlier runs.
    record: Record,
    /// Where to remember what this run learns, when it may.
    remember: Option<Remember>,
}

/// A digest record this run may write (see [`crate::policy::digests`]).
struct Remember {
    digests: Digests,
    identity: Identity,
    /// Whether this run hashed the file (else only a new proof is worth it).
    hashed: bool,
}

enum ReadError {
    TooLarge,
    Io(std::io::Error),
}

impl ModuleFile {
    /// Maps `file` and takes its sha256 from the digest record in the cache
    /// directory `cache_dir` when one matches its identity, else hashes it
    /// (and remembers the hash when the file is settled and unchanged by the
    /// hashing).
    fn read(file: &File, cache_dir: Option<&Path>, max_size: u64) -> Result<ModuleFile, ReadError> {
        let stat = rustix::fs::fstat(file).map_err(|errno| ReadError::Io(errno.into()))?;
        let size = stat.st_size as u64;
        if size > max_size {
            return Err(ReadError::TooLarge);
        }
        let now = SystemTime::now();
        let identity = Identity::of(&stat);
        let wasm = ModuleBytes::map(file, size).map_err(ReadError::Io)?;
        let digests = cache_dir.map(Digests::new);
        if let Some(record) = digests.as_ref().and_then(|d| d.get(&identity)) {
            let remember = digests.map(|digests| Remember {
                digests,
                identity,
                hashed: false,
            });
            return Ok(ModuleFile {
                wasm,
                record,
                remember,
            });
        }
        let sha256 = Sha256::digest(&*wasm).into();
        // Remembered only when the hash is certainly of this identity's
        // contents: unchanged while hashed, and last changed long enough ago
        // that a write in the same clock tick could not hide.
        let unchanged = rustix::fs::fstat(file).is_ok_and(|after| Identity::of(&after) == identity);
        let remember = digests
            .filter(|_| unchanged && identity.settled(now))
            .map(|digests| Remember {
                digests,
                identity,
                hashed: true,
            });
        Ok(ModuleFile {
            wasm,
            record: Record {
                sha256,
                proofs: Vec::new(),
            },
            remember,
        })
    }
}

/// The signature file of module file `file` in `dir`, if there is one; at
/// most [`MAX_SIGNATURE_BYTES`] (a longer one is not a signature, and is
/// kept whole enough to fail as one).
pub fn read_signature(dir: &TrustedDir, file: &str) -> Result<Option<Vec<u8>>, PolicyError> {
    let name = format!("{file}{SIGNATURE_SUFFIX}");
    dir.read(&name, MAX_SIGNATURE_BYTES)
        .map_err(|source| PolicyError::Untrusted {
            path: dir.join(&name),
            source,
        })
}

/// Finds the module for `operation`: its file in the policy directory, else
/// its built-in. `None` when it has neither, or is not an operation name.
pub fn find(
    config: &Config,
    dir: Option<&PolicyDir>,
    operation: &str,
) -> Result<Option<Policy>, PolicyError> {
    if !names::is_operation(operation) {
        return Ok(None);
    }
    if let Some(dir) = dir
        && let Some(policy) = dir.operation(config, operation)?
    {
        return Ok(Some(policy));
    }
    Ok(builtin::find(operation).map(Policy::builtin))
}
