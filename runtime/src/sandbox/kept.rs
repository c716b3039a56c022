//! The values modules keep between runs with the `state` interface
//! (docs/state.md), in `<state_dir>/state/`: one JSON file per module, named
//! by the sha256 of the module's name, so no module can name another's.
//! Writes happen under an exclusive lock on `lock` and replace the file by a
//! rename, so a compare-and-set is atomic across every `sme` process and a
//! reader (who takes no lock) never sees half a file. A file holds at most
//! what the module's limits allow: `state_keys` keys and `state_kib` KiB of
//! keys and values together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::contract::CallError;
use crate::fs::private_dir::PrivateDir;
use crate::sandbox::ledger::{Counting, file_name};
use crate::sandbox::limits::Limits;
use sme_model::state::{self, Bounds};

/// The directory under the state directory.
pub const DIR: &str = "state";
/// The lock every writer holds.
const LOCK: &str = "lock";
pub use sme_model::state::MAX_KEY;
/// The largest file read: the largest `state_kib` (1 MiB), every byte of it
/// escaped in JSON (`\u0001`, six bytes).
const MAX_FILE: u64 = 6 << 20;

/// Values held in memory instead of files, per module: a scenario's, or a
/// dry run's copy of what is kept.
pub type InMemory = Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>;

/// What one module's file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The module's name: a file renamed to another module's is refused.
    pub module: String,
    /// Its values.
    pub values: BTreeMap<String, String>,
}

/// Where one module's values are.
#[derive(Debug)]
enum Place {
    /// Its file in `<state_dir>/state`.
    Files(PrivateDir),
    /// Shared memory: nothing written to disk.
    Memory(InMemory),
    /// Nowhere, and why: every call fails.
    Unusable(String),
}

/// One module's kept values, bounded by its limits. Where they are is
/// found on the module's first state call: a run that makes none touches
/// nothing.
#[derive(Debug)]
pub struct Kept {
    module: String,
    state_dir: Option<PathBuf>,
    counting: Counting,
    memory: InMemory,
    place: OnceLock<Place>,
    max_keys: usize,
    max_bytes: usize,
}

/// What a write changed, for its audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Whether the value was replaced.
    pub replaced: bool,
    /// The length of the value written (0 for a removal).
    pub bytes: usize,
}

impl Kept {
    /// The values of `module`, counted as `counting` says: in files under
    /// `state_dir` for a real run; for a dry run, in `memory`, copied from
    /// the files on first use (the files never change); for a scenario, in
    /// `memory` only.
    pub fn open(
        state_dir: Option<&Path>,
        module: &str,
        limits: &Limits,
        counting: Counting,
        memory: &InMemory,
    ) -> Kept {
        Kept {
            module: module.to_owned(),
            state_dir: state_dir.map(Path::to_path_buf),
            counting,
            memory: memory.clone(),
            place: OnceLock::new(),
            max_keys: limits.state_keys,
            max_bytes: limits.state_bytes,
        }
    }

    /// Where the values are, found on first use.
    fn place(&self) -> &Place {
        self.place.get_or_init(|| {
            let state_dir = self.state_dir.as_deref();
            match self.counting {
                Counting::Fresh => Place::Memory(self.memory.clone()),
                Counting::Spend => match open_dir(state_dir) {
                    Ok(dir) => Place::Files(dir),
                    Err(why) => Place::Unusable(why),
                },
                Counting::Consult => {
                    let copied = lock(&self.memory).contains_key(&self.module);
                    let loaded = if copied {
                        Ok(())
                    } else {
                        open_dir(state_dir)
                            .and_then(|dir| read(&dir, &self.module))
                            .map(|values| {
                                lock(&self.memory).insert(self.module.clone(), values);
                            })
                    };
                    match loaded {
                        Ok(()) => Place::Memory(self.memory.clone()),
                        Err(why) => Place::Unusable(why),
                    }
                }
            }
        })
    }

    /// The value kept under `key`.
    pub fn get(&self, key: &str) -> Result<Option<String>, CallError> {
        check_key(key)?;
        Ok(self.values()?.remove(key))
    }

    /// Every key kept, sorted.
    pub fn keys(&self) -> Result<Vec<String>, CallError> {
        Ok(self.values()?.into_keys().collect())
    }

    /// Replaces the value under `key` by `value` (removes it when `None`)
    /// if what is kept now is `expected`. Waits for another writer at most
    /// `wait`.
    pub fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&str>,
        value: Option<&str>,
        wait: Duration,
    ) -> Result<Written, CallError> {
        check_key(key)?;
        let bytes = value.map_or(0, str::len);
        let unchanged = Written {
            replaced: false,
            bytes,
        };
        match self.place() {
            Place::Unusable(why) => Err(self.unusable(why)),
            Place::Memory(memory) => {
                let mut memory = lock(memory);
                let values = memory.entry(self.module.clone()).or_default();
                if values.get(key).map(String::as_str) != expected {
                    return Ok(unchanged);
                }
                self.apply(values, key, value)?;
                Ok(Written {
                    replaced: true,
                    bytes,
                })
            }
            Place::Files(dir) => {
                let _held = match dir.lock(LOCK, wait) {
                    Ok(Some(held)) => held,
                    Ok(None) => {
                        return Err(self.unusable(&format!(
                            "{} stayed locked by another process for {} ms",
                            dir.join(LOCK).display(),
                            wait.as_millis()
                        )));
                    }
                    Err(error) => {
                        return Err(self.unusable(&format!(
                            "{} cannot be locked: {error}",
                            dir.join(LOCK).display()
                        )));
                    }
                };
                let mut values = read(dir, &self.module).map_err(|why| self.unusable(&why))?;
                if values.get(key).map(String::as_str) != expected {
                    return Ok(unchanged);
                }
                self.apply(&mut values, key, value)?;
                let record = Record {
                    module: self.module.clone(),
                    values,
                };
                let name = file_name(&self.module);
                let bytes_out = serde_json::to_vec(&record).expect("a record serializes");
                dir.write(&name, &bytes_out).map_err(|error| {
                    self.unusable(&format!(
                        "{} cannot be written: {error}",
                        dir.join(&name).display()
                    ))
                })?;
                Ok(Written {
                    replaced: true,
                    bytes,
                })
            }
        }
    }

    /// Sets or removes `key` in `values`, refusing a write past the limits
    /// (a removal always passes).
    fn apply(
        &self,
        values: &mut BTreeMap<String, String>,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), CallError> {
        let bounds = Bounds {
            keys: self.max_keys,
            bytes: self.max_bytes,
        };
        state::write(values, key, value, bounds)
            .map_err(|refusal| CallError::LimitExceeded(refusal.message(&self.module, key)))
    }

    fn values(&self) -> Result<BTreeMap<String, String>, CallError> {
        match self.place() {
            Place::Unusable(why) => Err(self.unusable(why)),
            Place::Memory(memory) => {
                Ok(lock(memory).get(&self.module).cloned().unwrap_or_default())
            }
            Place::Files(dir) => read(dir, &self.module).map_err(|why| self.unusable(&why)),
        }
    }

    fn unusable(&self, why: &str) -> CallError {
        CallError::LimitExceeded(format!(
            "module {}'s state cannot be kept: {why}",
            self.module
        ))
    }
}

/// Every module's values kept under `state_dir`, for `smectl state`: each
/// file's record, or why it cannot be read. `None` when nothing was ever
/// kept.
pub fn records(state_dir: &Path) -> Option<Vec<Result<Record, String>>> {
    let dir = PrivateDir::open_existing(&state_dir.join(DIR))?;
    Some(
        dir.names()
            .into_iter()
            .filter(|name| name != LOCK && !name.starts_with('.'))
            .map(|name| {
                let path = dir.join(&name);
                dir.read(&name, MAX_FILE)
                    .ok_or_else(|| {
                        format!(
                            "{} is not a regular file of at most {MAX_FILE} bytes",
                            path.display()
                        )
                    })
                    .and_then(|bytes| {
                        serde_json::from_slice::<Record>(&bytes)
                            .map_err(|error| format!("{} is corrupt ({error})", path.display()))
                    })
            })
            .collect(),
    )
}

/// Removes every value `module` keeps (`smectl state --reset`), under the
/// lock: answers whether it kept any.
pub fn clear(state_dir: Option<&Path>, module: &str) -> Result<bool, String> {
    let dir = open_dir(state_dir)?;
    let _held = dir
        .lock(LOCK, crate::sandbox::ledger::LOCK_WAIT)
        .map_err(|error| format!("{} cannot be locked: {error}", dir.join(LOCK).display()))?
        .ok_or_else(|| {
            format!(
                "{} stayed locked by another process",
                dir.join(LOCK).display()
            )
        })?;
    let name = file_name(module);
    if !dir.contains(&name) {
        return Ok(false);
    }
    dir.remove(&name)
        .map_err(|error| format!("{} cannot be removed: {error}", dir.join(&name).display()))?;
    Ok(true)
}

/// Whether values can be kept under `state_dir` now: `Err` says why not
/// (for `smectl check`).
pub fn usable(state_dir: Option<&Path>) -> Result<(), String> {
    let dir = open_dir(state_dir)?;
    dir.probe_write()
        .map_err(|error| format!("{} is not writable: {error}", dir.path().display()))
}

fn open_dir(state_dir: Option<&Path>) -> Result<PrivateDir, String> {
    let Some(state_dir) = state_dir else {
        return Err("no state directory is configured (state_dir, SME_STATE_DIR)".into());
    };
    let path = state_dir.join(DIR);
    PrivateDir::open_or_why(&path).map_err(|why| format!("{} is unusable: {why}", path.display()))
}

/// The values kept for `module`: none when its file does not exist.
fn read(dir: &PrivateDir, module: &str) -> Result<BTreeMap<String, String>, String> {
    let name = file_name(module);
    if !dir.contains(&name) {
        return Ok(BTreeMap::new());
    }
    let path = dir.join(&name);
    let bytes = dir.read(&name, MAX_FILE).ok_or_else(|| {
        format!(
            "{} is not a regular file of at most {MAX_FILE} bytes",
            path.display()
        )
    })?;
    let record: Record = serde_json::from_slice(&bytes)
        .map_err(|error| format!("{} is corrupt ({error})", path.display()))?;
    if record.module != module {
        return Err(format!(
            "{} is corrupt (it is another module's)",
            path.display()
        ));
    }
    Ok(record.values)
}

/// Checks a key: 1 to [`MAX_KEY`] bytes, no control characters.
pub fn check_key(key: &str) -> Result<(), CallError> {
    state::check_key(key).map_err(CallError::InvalidArgument)
}

fn lock(
    memory: &InMemory,
) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<String, String>>> {
    memory.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("kept-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn kept(dir: &Path, module: &str, limits: &Limits) -> Kept {
        Kept::open(
            Some(dir),
            module,
            limits,
            Counting::Spend,
            &InMemory::default(),
        )
    }

    const WAIT: Duration = Duration::from_secs(1);

    #[test]
    fn values_are_kept_between_openings_and_private_to_their_module() {
        let dir = scratch("private");
        let limits = Limits::default();
        let restart = kept(&dir, "restart", &limits);
        assert_eq!(restart.get("count"), Ok(None));
        let written = restart
            .compare_and_set("count", None, Some("1"), WAIT)
            .unwrap();
        assert_eq!(
            written,
            Written {
                replaced: true,
                bytes: 1
            }
        );
        let again = kept(&dir, "restart", &limits);
        assert_eq!(again.get("count"), Ok(Some("1".into())));
        assert_eq!(again.keys(), Ok(vec!["count".into()]));
        let stop = kept(&dir, "stop", &limits);
        assert_eq!(stop.get("count"), Ok(None), "another module's value");
        assert_eq!(stop.keys(), Ok(vec![]));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_stale_expectation_writes_nothing() {
        let dir = scratch("stale");
        let limits = Limits::default();
        let first = kept(&dir, "restart", &limits);
        let second = kept(&dir, "restart", &limits);
        assert!(
            first
                .compare_and_set("n", None, Some("1"), WAIT)
                .unwrap()
                .replaced
        );
        // The second run read nothing before the first wrote.
        assert!(
            !second
                .compare_and_set("n", None, Some("1"), WAIT)
                .unwrap()
                .replaced
        );
        assert!(
            second
                .compare_and_set("n", Some("1"), Some("2"), WAIT)
                .unwrap()
                .replaced
        );
        assert!(
            second
                .compare_and_set("n", Some("2"), None, WAIT)
                .unwrap()
                .replaced
        );
        assert_eq!(first.get("n"), Ok(None), "removed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn writes_past_the_limits_are_refused_and_removals_pass() {
        let dir = scratch("limits");
        let limits = Limits {
            state_keys: 2,
            state_bytes: 1 << 10,
            ..Limits::default()
        };
        let module = kept(&dir, "m", &limits);
        module.compare_and_set("a", None, Some("1"), WAIT).unwrap();
        module.compare_and_set("b", None, Some("2"), WAIT).unwrap();
        let refused = module
            .compare_and_set("c", None, Some("3"), WAIT)
            .unwrap_err();
        assert!(
            matches!(&refused, CallError::LimitExceeded(m) if m.contains("limit `state_keys`")),
            "{refused:?}"
        );
        let big = "x".repeat(1024);
        let refused = module
            .compare_and_set("a", Some("1"), Some(&big), WAIT)
            .unwrap_err();
        assert!(
            matches!(&refused, CallError::LimitExceeded(m) if m.contains("limit `state_kib`")),
            "{refused:?}"
        );
        assert_eq!(module.get("a"), Ok(Some("1".into())), "nothing written");
        assert!(
            module
                .compare_and_set("b", Some("2"), None, WAIT)
                .unwrap()
                .replaced
        );
        assert_eq!(module.keys(), Ok(vec!["a".into()]));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_run_that_makes_no_state_call_touches_nothing() {
        let dir = scratch("untouched");
        drop(kept(&dir, "m", &Limits::default()));
        assert!(!dir.join(DIR).exists());
    }

    #[test]
    fn bad_keys_are_invalid_arguments() {
        let dir = scratch("keys");
        let module = kept(&dir, "m", &Limits::default());
        for key in ["", "a\nb", &"k".repeat(MAX_KEY + 1)] {
            assert!(
                matches!(module.get(key), Err(CallError::InvalidArgument(_))),
                "{key:?}"
            );
        }
        assert!(module.get(&"k".repeat(MAX_KEY)).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_or_foreign_file_fails_every_call() {
        let dir = scratch("corrupt");
        let limits = Limits::default();
        kept(&dir, "a", &limits)
            .compare_and_set("k", None, Some("v"), WAIT)
            .unwrap();
        let state = dir.join(DIR);
        // Module b's file replaced by a's: it names another module.
        std::fs::copy(state.join(file_name("a")), state.join(file_name("b"))).unwrap();
        let b = kept(&dir, "b", &limits);
        assert!(
            matches!(b.get("k"), Err(CallError::LimitExceeded(m)) if m.contains("another module's"))
        );
        std::fs::write(state.join(file_name("a")), b"{").unwrap();
        let a = kept(&dir, "a", &limits);
        assert!(matches!(a.keys(), Err(CallError::LimitExceeded(m)) if m.contains("corrupt")));
        assert!(a.compare_and_set("k", None, Some("v"), WAIT).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn no_state_directory_fails_every_call() {
        let limits = Limits::default();
        let module = Kept::open(None, "m", &limits, Counting::Spend, &InMemory::default());
        assert!(
            matches!(module.get("k"), Err(CallError::LimitExceeded(m)) if m.contains("no state directory"))
        );
    }

    #[test]
    fn a_dry_run_reads_the_files_and_writes_only_memory() {
        let dir = scratch("dry");
        let limits = Limits::default();
        kept(&dir, "m", &limits)
            .compare_and_set("k", None, Some("1"), WAIT)
            .unwrap();
        let memory = InMemory::default();
        let dry = Kept::open(Some(&dir), "m", &limits, Counting::Consult, &memory);
        assert_eq!(dry.get("k"), Ok(Some("1".into())));
        assert!(
            dry.compare_and_set("k", Some("1"), Some("2"), WAIT)
                .unwrap()
                .replaced
        );
        let later = Kept::open(Some(&dir), "m", &limits, Counting::Consult, &memory);
        assert_eq!(later.get("k"), Ok(Some("2".into())), "the run's copy");
        assert_eq!(
            kept(&dir, "m", &limits).get("k"),
            Ok(Some("1".into())),
            "file unchanged"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
