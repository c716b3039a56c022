//! The counts budgets keep between runs, in `<state_dir>/budgets/`
//! (docs/budgets.md): one small JSON file per object counted, named by the
//! sha256 of the object's key, and `index`, the names of every file ever
//! written, so a removed file is told from a first use. Every read and
//! write happens under an exclusive lock on `lock`, and files are replaced
//! by a rename, so concurrent `sme` processes never spend past a budget and
//! a reader never sees half a file. A spend is written before the call is
//! sent: a crash in between spends a call that never happened, never the
//! reverse.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fs::private_dir::PrivateDir;
use crate::sandbox::budgets::{self, Budget, Effect, Spent};
use crate::sandbox::held::Held;
use crate::sandbox::windows::Windows;

/// The directory under the state directory.
pub const DIR: &str = "budgets";
/// The lock every reader and writer holds.
const LOCK: &str = "lock";
/// The names of every object file ever written, one per line.
const INDEX: &str = "index";
/// The largest object file read (a few times `MAX_PER_PERIOD` spends).
const MAX_FILE: u64 = 256 * 1024;
/// The largest index read: some fifteen thousand objects.
const MAX_INDEX: u64 = 1024 * 1024;
/// How long a spend waits for another process's lock at most (less when
/// the module's deadline is nearer).
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// What is kept of one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The object's key (`container:edgex-core-data`).
    pub object: String,
    /// Per effect, the times it was spent (milliseconds since the epoch).
    pub spent: BTreeMap<String, Vec<u64>>,
}

/// Why a budget could not be checked; every one refuses the call.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No state directory, or one that cannot be used.
    #[error("budgets cannot be kept: {0}")]
    Unusable(String),
    /// Another process held the lock for the whole wait.
    #[error("the budget counts in {} stayed locked by another process for {} ms", .path.display(), .waited.as_millis())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
    /// An object's file does not parse, or names another object.
    #[error("the budget file {} of {object} is corrupt ({why}); an operator can clear it with `smectl budgets --reset {object}`", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The object.
        object: String,
        /// What is wrong.
        why: String,
    },
    /// The index lists an object whose file is gone.
    #[error("the budget file {} of {object} was removed (budgets/index lists it); an operator can start its count again with `smectl budgets --reset {object}`", .path.display())]
    Removed {
        /// The file.
        path: PathBuf,
        /// The object.
        object: String,
    },
    /// A read or write failed.
    #[error("the budget counts in {} cannot be {doing}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// How a run's calls meet their budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Counting {
    /// Checked against the kept counts and counted (`sme`, `smectl run`).
    #[default]
    Spend,
    /// Checked against the kept counts, never counted (`smectl run
    /// --dry-run`, `smectl bench` without `--real`).
    Consult,
    /// Checked against nothing spent (`smectl test`: a scenario keeps no
    /// state).
    Fresh,
}

/// The budgets one module's calls spend, and where they are counted: what
/// the gate holds.
#[derive(Debug)]
pub struct Spending {
    /// `[budgets]` and the module's own.
    pub budgets: Vec<Budget>,
    /// `[windows]` and the module's own.
    pub windows: Vec<Windows>,
    /// How far back and how many spends any configured budget looks at.
    pub horizon: (Duration, usize),
    /// The kept counts, or why there are none.
    pub ledger: Result<Ledger, LedgerError>,
    /// Whether a call is counted.
    pub counting: Counting,
    /// The clock, and the counts a scenario holds in memory.
    pub held: Held,
}

impl Spending {
    /// Whether `effect` may happen now: `Ok` says which windows it is
    /// inside (none when it has none); `Err` is the refusal's text when
    /// it has windows and now is outside them.
    pub fn open(&self, effect: Effect) -> Result<Vec<String>, String> {
        let now = self.held.clock.now();
        self.windows
            .iter()
            .filter(|windows| windows.effect == effect)
            .map(|windows| windows.check(now))
            .collect()
    }

    /// Checks one more `effect` on `object` against `applying` now, and
    /// counts it unless only consulting. `Ok` says how the budgets stood
    /// before the call (for its audit line); `Err` is the refusal's text.
    pub fn spend(
        &self,
        object: &str,
        effect: Effect,
        applying: &[&Budget],
        wait: Duration,
    ) -> Result<String, String> {
        let now = self.held.clock.now_ms();
        let ask = Ask {
            object,
            effect,
            applying,
            now_ms: now,
        };
        let (verdict, standing) = match (self.counting, &self.ledger) {
            (Counting::Fresh, _) => {
                let mut spent = self
                    .held
                    .spent
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let record = spent.entry(object.to_owned()).or_insert_with(|| Record {
                    object: object.to_owned(),
                    spent: BTreeMap::new(),
                });
                settle(record, ask, self.horizon, true)
            }
            (_, Err(error)) => return Err(error.to_string()),
            (counting, Ok(ledger)) => ledger
                .spend(ask, self.horizon, wait, counting == Counting::Spend)
                .map_err(|error| error.to_string())?,
        };
        match verdict {
            Verdict::Allowed => Ok(standing),
            Verdict::Spent { budget, next_ms } => Err(format!(
                "budget {budget} is spent for {object}; the next {effect} is allowed at {}",
                When {
                    at_ms: next_ms,
                    now_ms: now,
                }
            )),
        }
    }
}

/// The kept counts.
#[derive(Debug)]
pub struct Ledger {
    dir: PrivateDir,
}

/// One more effect on one object, asked of the budgets that count it.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// The object's key ([`budgets::object_key`]).
    pub object: &'a str,
    /// The effect.
    pub effect: Effect,
    /// The budgets that count it.
    pub applying: &'a [&'a Budget],
    /// Now, in milliseconds since the epoch.
    pub now_ms: u64,
}

/// What a spend found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The call may go on (and, when spending, is counted).
    Allowed,
    /// A budget is spent: the budget's description and when the next call
    /// is allowed (milliseconds since the epoch).
    Spent {
        /// [`Budget::describe`].
        budget: String,
        /// When.
        next_ms: u64,
    },
}

impl Ledger {
    /// Opens (creating it) `<state_dir>/budgets`, checked as a private
    /// directory and writable now.
    pub fn open(state_dir: Option<&Path>) -> Result<Ledger, LedgerError> {
        let Some(state_dir) = state_dir else {
            return Err(LedgerError::Unusable(
                "no state directory is configured (state_dir, SME_STATE_DIR)".into(),
            ));
        };
        let path = state_dir.join(DIR);
        let dir = PrivateDir::open_or_why(&path).map_err(|why| {
            LedgerError::Unusable(format!("{} is unusable: {why}", path.display()))
        })?;
        dir.probe_write().map_err(|error| {
            LedgerError::Unusable(format!("{} is not writable: {error}", path.display()))
        })?;
        Ok(Ledger { dir })
    }

    /// Opens the counts for reading only (`smectl budgets`): `None` when
    /// nothing was ever counted.
    pub fn open_existing(state_dir: &Path) -> Option<Ledger> {
        PrivateDir::open_existing(&state_dir.join(DIR)).map(|dir| Ledger { dir })
    }

    /// The directory, for messages.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Checks one more of `ask.effect` on `ask.object` against
    /// `ask.applying` at `ask.now_ms` and, with `commit`, counts it when
    /// allowed. What is kept is pruned to `horizon` (see
    /// [`budgets::horizon`] over every configured budget). Waits for the
    /// lock at most `wait`.
    pub fn spend(
        &self,
        ask: Ask<'_>,
        horizon: (Duration, usize),
        wait: Duration,
        commit: bool,
    ) -> Result<(Verdict, String), LedgerError> {
        let _lock = self.lock(wait)?;
        let name = file_name(ask.object);
        let (mut record, first_use) = self.read(&name, ask.object)?;
        let (verdict, standing) = settle(&mut record, ask, horizon, commit);
        if verdict != Verdict::Allowed || !commit {
            return Ok((verdict, standing));
        }
        if first_use {
            self.append_index(&name)?;
        }
        self.write(&name, &record)?;
        Ok((Verdict::Allowed, standing))
    }

    /// Every object counted, with what it spent; `Err` for a file that
    /// does not parse or was removed (its object's changes are refused),
    /// saying which and why.
    pub fn records(&self) -> Result<Vec<Result<Record, String>>, LedgerError> {
        let _lock = self.lock(LOCK_WAIT)?;
        let names: Vec<String> = self
            .dir
            .names()
            .into_iter()
            .filter(|name| is_file_name(name))
            .collect();
        let mut records: Vec<Result<Record, String>> = names
            .iter()
            .map(|name| {
                let path = self.dir.join(name);
                self.dir
                    .read(name, MAX_FILE)
                    .ok_or_else(|| format!("not a regular file of at most {MAX_FILE} bytes"))
                    .and_then(|bytes| parse(&bytes))
                    .map_err(|why| format!("{} is corrupt ({why})", path.display()))
            })
            .collect();
        if self.dir.contains(INDEX) {
            let index = self.dir.read(INDEX, MAX_INDEX).unwrap_or_default();
            for line in index.split(|&b| b == b'\n') {
                let Ok(name) = std::str::from_utf8(line) else {
                    continue;
                };
                if is_file_name(name) && !names.iter().any(|kept| kept == name) {
                    records.push(Err(format!(
                        "{} was removed (budgets/index lists it)",
                        self.dir.join(name).display()
                    )));
                }
            }
        }
        records.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => a.object.cmp(&b.object),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(a), Err(b)) => a.cmp(b),
        });
        records.dedup();
        Ok(records)
    }

    /// Clears what `object` spent (of `effect` only, when given), keeping
    /// its file and its line in the index: answers whether anything was
    /// spent. A corrupt or removed file is replaced by an empty one.
    pub fn reset(&self, object: &str, effect: Option<Effect>) -> Result<bool, LedgerError> {
        let _lock = self.lock(LOCK_WAIT)?;
        let name = file_name(object);
        let (mut record, first_use, broken) = match self.read(&name, object) {
            Ok((record, first_use)) => (record, first_use, false),
            Err(LedgerError::Corrupt { .. } | LedgerError::Removed { .. }) => {
                let empty = Record {
                    object: object.to_owned(),
                    spent: BTreeMap::new(),
                };
                (empty, !self.indexed(&name)?, true)
            }
            Err(error) => return Err(error),
        };
        let had = broken
            || match effect {
                Some(effect) => record.spent.remove(effect.name()).is_some(),
                None => !std::mem::take(&mut record.spent).is_empty(),
            };
        if first_use {
            self.append_index(&name)?;
        }
        self.write(&name, &record)?;
        Ok(had)
    }

    fn lock(&self, wait: Duration) -> Result<File, LedgerError> {
        let started = Instant::now();
        let path = self.dir.join(LOCK);
        match self.dir.lock(LOCK, wait) {
            Ok(Some(file)) => Ok(file),
            Ok(None) => Err(LedgerError::Locked {
                path,
                waited: started.elapsed(),
            }),
            Err(source) => Err(LedgerError::Io {
                path,
                doing: "locked",
                source,
            }),
        }
    }

    /// The record of `object` and whether this is its first use (no file,
    /// not in the index).
    fn read(&self, name: &str, object: &str) -> Result<(Record, bool), LedgerError> {
        let path = self.dir.join(name);
        if !self.dir.contains(name) {
            if self.indexed(name)? {
                return Err(LedgerError::Removed {
                    path,
                    object: object.to_owned(),
                });
            }
            let record = Record {
                object: object.to_owned(),
                spent: BTreeMap::new(),
            };
            return Ok((record, true));
        }
        let corrupt = |why: String| LedgerError::Corrupt {
            path: path.clone(),
            object: object.to_owned(),
            why,
        };
        let bytes = self
            .dir
            .read(name, MAX_FILE)
            .ok_or_else(|| corrupt(format!("not a regular file of at most {MAX_FILE} bytes")))?;
        let record = parse(&bytes).map_err(corrupt)?;
        if record.object != object {
            return Err(corrupt(format!(
                "it names {:?}",
                audit_clip(&record.object)
            )));
        }
        Ok((record, false))
    }

    fn indexed(&self, name: &str) -> Result<bool, LedgerError> {
        if !self.dir.contains(INDEX) {
            return Ok(false);
        }
        let bytes = self
            .dir
            .read(INDEX, MAX_INDEX)
            .ok_or_else(|| LedgerError::Io {
                path: self.dir.join(INDEX),
                doing: "read",
                source: std::io::Error::other(format!(
                    "not a regular file of at most {MAX_INDEX} bytes"
                )),
            })?;
        Ok(bytes
            .split(|&b| b == b'\n')
            .any(|line| line == name.as_bytes()))
    }

    fn append_index(&self, name: &str) -> Result<(), LedgerError> {
        let path = self.dir.join(INDEX);
        let mut index = self
            .dir
            .open_append(INDEX)
            .map_err(|error| LedgerError::Io {
                path: path.clone(),
                doing: "opened",
                source: std::io::Error::other(error.to_string()),
            })?;
        index
            .write_all(format!("{name}\n").as_bytes())
            .map_err(|source| LedgerError::Io {
                path,
                doing: "written",
                source,
            })
    }

    fn write(&self, name: &str, record: &Record) -> Result<(), LedgerError> {
        let bytes = serde_json::to_vec(record).expect("a record serializes");
        self.dir
            .write(name, &bytes)
            .map_err(|source| LedgerError::Io {
                path: self.dir.join(name),
                doing: "written",
                source,
            })
    }
}

/// Checks one more of `ask.effect` on `record`'s object against
/// `ask.applying` and, with `commit`, counts it when allowed, pruning what
/// is kept to `horizon`. Answers too how the budgets stood before the call
/// ([`budgets::standing`]).
fn settle(
    record: &mut Record,
    ask: Ask<'_>,
    horizon: (Duration, usize),
    commit: bool,
) -> (Verdict, String) {
    let spent = record
        .spent
        .get(ask.effect.name())
        .map_or(&[][..], Vec::as_slice);
    let standing = budgets::standing(ask.applying, spent, ask.now_ms);
    if let Err(Spent { budget, next_ms }) = budgets::check(ask.applying, spent, ask.now_ms) {
        let verdict = Verdict::Spent {
            budget: budget.describe(),
            next_ms,
        };
        return (verdict, standing);
    }
    if commit {
        let (keep, most) = horizon;
        record
            .spent
            .entry(ask.effect.name().to_owned())
            .or_default()
            .push(ask.now_ms);
        for times in record.spent.values_mut() {
            *times = budgets::pruned(std::mem::take(times), ask.now_ms, keep, most);
        }
        record.spent.retain(|_, times| !times.is_empty());
    }
    (Verdict::Allowed, standing)
}

/// The file an object's counts are kept in: the sha256 of its key.
pub fn file_name(object: &str) -> String {
    hex::encode(Sha256::digest(object.as_bytes()))
}

fn is_file_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn parse(bytes: &[u8]) -> Result<Record, String> {
    let record: Record = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    if let Some(unknown) = record.spent.keys().find(|key| Effect::named(key).is_none()) {
        return Err(format!("unknown effect {:?}", audit_clip(unknown)));
    }
    Ok(record)
}

/// At most 100 characters of a name read from a file, for a message.
fn audit_clip(text: &str) -> String {
    text.chars().take(100).collect()
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// A time in milliseconds since the epoch, in UTC to the second.
pub fn utc(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// A time as operators read it: `2026-12-05T12:14:05Z (in 3m 12s)`.
#[derive(Debug, Clone, Copy)]
pub struct When {
    /// The time, in milliseconds since the epoch.
    pub at_ms: u64,
    /// Now, likewise.
    pub now_ms: u64,
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rounded up to the second: "allowed at" is never early.
        let at_s = self.at_ms.div_ceil(1000);
        let at = UNIX_EPOCH + Duration::from_secs(at_s);
        let wait = Duration::from_secs(at_s.saturating_sub(self.now_ms / 1000));
        write!(
            f,
            "{} (in {})",
            humantime::format_rfc3339_seconds(at),
            humantime::format_duration(wait)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("ledger-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn three() -> Budget {
        Budget {
            effect: Effect::Restart,
            max: 3,
            per: Duration::from_secs(600),
            target: None,
            source: "[budgets]".into(),
        }
    }

    const HORIZON: (Duration, usize) = (Duration::from_secs(600), 3);

    fn ask<'a>(
        object: &'a str,
        effect: Effect,
        applying: &'a [&'a Budget],
        now_ms: u64,
    ) -> Ask<'a> {
        Ask {
            object,
            effect,
            applying,
            now_ms,
        }
    }
    const WAIT: Duration = Duration::from_millis(100);

    #[test]
    fn spends_are_kept_between_openings_and_refused_past_the_budget() {
        let state = scratch("spend");
        let budget = three();
        let object = "container:edgex-core-data";
        for at in [1_000, 2_000, 3_000] {
            let ledger = Ledger::open(Some(&state)).unwrap();
            let verdict = ledger
                .spend(
                    ask(object, Effect::Restart, &[&budget], at),
                    HORIZON,
                    WAIT,
                    true,
                )
                .unwrap()
                .0;
            assert_eq!(verdict, Verdict::Allowed);
        }
        let ledger = Ledger::open(Some(&state)).unwrap();
        let refused = ledger
            .spend(
                ask(object, Effect::Restart, &[&budget], 4_000),
                HORIZON,
                WAIT,
                true,
            )
            .unwrap();
        assert_eq!(
            refused,
            (
                Verdict::Spent {
                    budget: "restart (3 per 10m, [budgets])".into(),
                    next_ms: 601_000
                },
                "restart (3 per 10m, [budgets]): 3 of 3 spent".to_owned()
            )
        );
        // A consultation never counts.
        let other = "container:other";
        for _ in 0..5 {
            let verdict = ledger
                .spend(
                    ask(other, Effect::Restart, &[&budget], 4_000),
                    HORIZON,
                    WAIT,
                    false,
                )
                .unwrap()
                .0;
            assert_eq!(verdict, Verdict::Allowed);
        }
        let records = ledger.records().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].as_ref().unwrap().spent["restart"],
            [1_000, 2_000, 3_000]
        );
        std::fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn a_removed_file_is_told_from_a_first_use_and_a_reset_starts_again() {
        let state = scratch("removed");
        let budget = three();
        let object = "unit:snap.edgexfoundry.demo.service";
        let ledger = Ledger::open(Some(&state)).unwrap();
        ledger
            .spend(
                ask(object, Effect::Restart, &[&budget], 1_000),
                HORIZON,
                WAIT,
                true,
            )
            .unwrap();
        std::fs::remove_file(state.join(DIR).join(file_name(object))).unwrap();
        let refused = ledger
            .spend(
                ask(object, Effect::Restart, &[&budget], 2_000),
                HORIZON,
                WAIT,
                true,
            )
            .unwrap_err();
        assert!(matches!(refused, LedgerError::Removed { .. }), "{refused}");
        assert!(
            refused
                .to_string()
                .contains("smectl budgets --reset unit:snap")
        );
        assert!(
            ledger.reset(object, None).unwrap(),
            "a removed file is cleared"
        );
        let verdict = ledger
            .spend(
                ask(object, Effect::Restart, &[&budget], 3_000),
                HORIZON,
                WAIT,
                true,
            )
            .unwrap()
            .0;
        assert_eq!(verdict, Verdict::Allowed);
        std::fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn a_corrupt_file_refuses_until_reset() {
        let state = scratch("corrupt");
        let budget = three();
        let object = "container:x";
        let ledger = Ledger::open(Some(&state)).unwrap();
        let path = state.join(DIR).join(file_name(object));
        for bad in [
            "not json".to_owned(),
            r#"{"object":"container:y","spent":{}}"#.to_owned(),
            r#"{"object":"container:x","spent":{"explode":[1]}}"#.to_owned(),
        ] {
            std::fs::write(&path, bad).unwrap();
            let refused = ledger
                .spend(
                    ask(object, Effect::Restart, &[&budget], 1_000),
                    HORIZON,
                    WAIT,
                    true,
                )
                .unwrap_err();
            assert!(matches!(refused, LedgerError::Corrupt { .. }), "{refused}");
        }
        assert!(ledger.reset(object, Some(Effect::Restart)).is_ok());
        assert_eq!(
            ledger
                .spend(
                    ask(object, Effect::Restart, &[&budget], 1_000),
                    HORIZON,
                    WAIT,
                    true
                )
                .unwrap()
                .0,
            Verdict::Allowed
        );
        std::fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn a_lock_held_elsewhere_refuses_after_the_wait() {
        let state = scratch("locked");
        let budget = three();
        let ledger = Ledger::open(Some(&state)).unwrap();
        let held = ledger.dir.open_append(LOCK).unwrap();
        held.lock().unwrap();
        let refused = ledger
            .spend(
                ask("container:x", Effect::Restart, &[&budget], 1),
                HORIZON,
                WAIT,
                true,
            )
            .unwrap_err();
        assert!(matches!(refused, LedgerError::Locked { .. }), "{refused}");
        drop(held);
        std::fs::remove_dir_all(state).unwrap();
    }

    #[test]
    fn no_state_directory_is_unusable() {
        let refused = Ledger::open(None).unwrap_err();
        assert!(
            refused.to_string().contains("no state directory"),
            "{refused}"
        );
        let shared = std::env::temp_dir().join(format!("sme-ledger-{}", std::process::id()));
        assert!(matches!(
            Ledger::open(Some(&shared)),
            Err(LedgerError::Unusable(_))
        ));
    }

    #[test]
    fn times_read_in_utc_rounded_up() {
        let when = When {
            at_ms: 1_764_936_845_001,
            now_ms: 1_764_936_653_000,
        };
        assert_eq!(when.to_string(), "2025-12-05T12:14:06Z (in 3m 13s)");
    }
}
