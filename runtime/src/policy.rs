//! Finding the module for an operation and reading it: `<policy_dir>/<op>.wasm`
//! when present, else the built-in; the file's sha256 checked against its pin.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::builtin::{self, Builtin};
use crate::config::Config;
use crate::names;

/// Largest module file accepted. Real policies are 50 to 500 KiB; a huge
/// file would only cost memory and compile time inside the agent's timeout.
pub const MAX_MODULE_BYTES: u64 = 16 << 20;

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
    pub wasm: Cow<'static, [u8]>,
    /// sha256 of `wasm`.
    pub sha256: [u8; 32],
}

impl Policy {
    /// The built-in module for `operation`.
    pub fn builtin(builtin: &'static Builtin) -> Policy {
        Policy {
            name: builtin.operation.to_owned(),
            world: builtin.world,
            origin: Origin::Builtin(builtin),
            wasm: Cow::Borrowed(builtin.wasm),
            sha256: builtin.sha256,
        }
    }

    /// Reads the module file at `path` as module `name`, checking it against
    /// the configured pin and the `require_pinning` setting.
    pub fn from_file(
        config: &Config,
        name: &str,
        world: World,
        path: &Path,
    ) -> Result<Policy, PolicyError> {
        let policy = Policy::read_unchecked(name, world, path)?;
        let sha256 = policy.sha256;
        match config.module(name).pin {
            Some(pin) if pin != sha256 => {
                return Err(PolicyError::PinMismatch {
                    path: path.to_path_buf(),
                    expected: hex(&pin),
                    actual: hex(&sha256),
                });
            }
            None if config.require_pinning => {
                return Err(PolicyError::Unpinned {
                    path: path.to_path_buf(),
                    name: name.to_owned(),
                    actual: hex(&sha256),
                });
            }
            _ => {}
        }
        Ok(policy)
    }

    /// Reads the module file at `path` without checking its pin: for
    /// `smectl inspect`, which reports the pin instead of enforcing it.
    pub fn read_unchecked(name: &str, world: World, path: &Path) -> Result<Policy, PolicyError> {
        let wasm = read_module(path)?;
        Ok(Policy {
            name: name.to_owned(),
            world,
            origin: Origin::File(path.to_path_buf()),
            sha256: Sha256::digest(&wasm).into(),
            wasm: Cow::Owned(wasm),
        })
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
        hex(&self.sha256)
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
    /// The file could not be read.
    #[error("policy {}: cannot read it: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_MODULE_BYTES`].
    #[error("policy {}: larger than the {} MiB a policy may be", path.display(), MAX_MODULE_BYTES >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
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
    /// A metrics add-on file name is not a valid module name.
    #[error("policy {}: add-on names must be lowercase letters, digits and dashes, ending in .wasm", path.display())]
    BadAddonName {
        /// The file.
        path: PathBuf,
    },
}

/// Finds the module for `operation`: its file in the policy directory, else
/// its built-in. `None` when it has neither, or is not an operation name.
pub fn find(config: &Config, operation: &str) -> Result<Option<Policy>, PolicyError> {
    if !names::is_operation(operation) {
        return Ok(None);
    }
    let world = World::of_module(operation);
    let path = config.policy_dir.join(format!("{operation}.wasm"));
    if path.exists() {
        return Policy::from_file(config, operation, world, &path).map(Some);
    }
    Ok(builtin::find(operation).map(Policy::builtin))
}

/// The paths of the metrics add-ons (`<policy_dir>/metrics.d/*.wasm`), in
/// name order, with their module names.
pub fn addon_paths(config: &Config) -> Result<Vec<(String, PathBuf)>, PolicyError> {
    let dir = config.policy_dir.join(METRICS_ADDONS);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(PolicyError::Read { path: dir, source }),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if !names::is_operation(stem) {
                return Err(PolicyError::BadAddonName { path: path.clone() });
            }
            Ok((format!("{METRICS_ADDONS}/{stem}"), path))
        })
        .collect()
}

/// The metrics add-ons, read and pin-checked, in name order.
pub fn metrics_addons(config: &Config) -> Result<Vec<Policy>, PolicyError> {
    addon_paths(config)?
        .into_iter()
        .map(|(name, path)| Policy::from_file(config, &name, World::Metrics, &path))
        .collect()
}

fn read_module(path: &Path) -> Result<Vec<u8>, PolicyError> {
    let read_error = |source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut wasm = Vec::new();
    file.take(MAX_MODULE_BYTES + 1)
        .read_to_end(&mut wasm)
        .map_err(read_error)?;
    if wasm.len() as u64 > MAX_MODULE_BYTES {
        return Err(PolicyError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(wasm)
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
