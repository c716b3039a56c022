//! Remembered digests of policy files, so a large module is not hashed on
//! every request (a Python policy is 18 MiB: hashing it took most of a
//! cached Python stop's time).
//!
//! A record maps a file's identity (device, inode, size, modification and
//! change times, to the nanosecond) to the sha256 of its contents and to the
//! signatures already verified for it. It is written only after the file was
//! hashed whole, and only when the file was unchanged while it was hashed and
//! its change time was already [`SETTLE`] old before (so a write in the same
//! clock tick as the last one cannot leave a stale record). Why this keeps
//! every pin and signature promise:
//!
//! - Any change to a file's contents sets its change time to the current
//!   time, and no system call sets a change time to another value; only
//!   stepping the system clock back, which needs root, could repeat one. A
//!   changed file therefore has another identity, is hashed again, and its
//!   new hash meets the pin and the signature check as before.
//! - Records live in the cache directory (`<cache_dir>/digests`), which must be private to SME's
//!   user (see [`PrivateDir`]) and already holds compiled native code that
//!   `sme` runs: whoever could forge a record could forge an artifact, or
//!   edit the pins in the configuration, which the same users own.
//! - A signature is remembered as a proof: the sha256 of the public key, the
//!   module's sha256 and the signature file's bytes (trusted comment
//!   included). A proof only matches the same key, module and signature file,
//!   so a changed key list, revocation, name check or signature file is
//!   decided again; only the Ed25519 arithmetic over the file is skipped.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::Stat;

use crate::fs::private_dir::PrivateDir;

/// How old a file's change time must be before its digest is remembered:
/// far above any filesystem's timestamp granularity (a clock tick, or a
/// second on old filesystems).
pub const SETTLE: Duration = Duration::from_secs(2);

/// The cache directory's subdirectory holding the records.
pub const SUBDIR: &str = "digests";

/// Largest record read back: a hash and a few proofs are a few hundred bytes.
const MAX_RECORD_BYTES: u64 = 16 << 10;

/// At most this many signature proofs are kept per file (a key rotation
/// signs a module twice); older ones are dropped first.
const MAX_PROOFS: usize = 8;

/// What identifies one version of a file's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    /// The identity of the file `stat` describes.
    pub fn of(stat: &Stat) -> Identity {
        Identity {
            dev: stat.st_dev,
            ino: stat.st_ino,
            size: stat.st_size as u64,
            mtime: (stat.st_mtime, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime, stat.st_ctime_nsec as i64),
        }
    }

    /// Whether the file's last change is at least [`SETTLE`] before `now`.
    pub fn settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let (secs, nanos) = self.ctime;
        let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
            return false;
        };
        now.checked_sub(Duration::new(secs, nanos))
            .is_some_and(|age| age >= SETTLE)
    }

    /// The record's file name: one per inode of a device.
    fn file_name(&self) -> String {
        format!("{:x}-{:x}.digest", self.dev, self.ino)
    }

    /// The record's first line, which must match for the record to count.
    fn header(&self) -> String {
        format!(
            "sme-digest 1 {} {}.{:09} {}.{:09}",
            self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        )
    }
}

/// What is known of one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The sha256 of its contents.
    pub sha256: [u8; 32],
    /// Signature proofs verified for it (see [`crate::policy::signing::Verified`]).
    pub proofs: Vec<[u8; 32]>,
}

impl Record {
    /// Adds `proof`, keeping at most [`MAX_PROOFS`]; whether it was new.
    pub fn add_proof(&mut self, proof: [u8; 32]) -> bool {
        if self.proofs.contains(&proof) {
            return false;
        }
        if self.proofs.len() == MAX_PROOFS {
            self.proofs.remove(0);
        }
        self.proofs.push(proof);
        true
    }

    fn render(&self, identity: &Identity) -> String {
        let mut text = format!(
            "{}\nsha256 {}\n",
            identity.header(),
            hex::encode(self.sha256)
        );
        for proof in &self.proofs {
            text.push_str(&format!("proof {}\n", hex::encode(proof)));
        }
        text
    }

    fn parse(text: &str, identity: &Identity) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != identity.header() {
            return None;
        }
        let sha256 = unhex(lines.next()?.strip_prefix("sha256 ")?)?;
        let proofs = lines
            .map(|line| unhex(line.strip_prefix("proof ")?))
            .collect::<Option<Vec<_>>>()?;
        Some(Record { sha256, proofs })
    }
}

/// The records, kept in the cache directory.
#[derive(Debug)]
pub struct Digests {
    path: PathBuf,
}

impl Digests {
    /// The records in the cache directory `cache_dir` (its subdirectory
    /// `digests`, made when the first record is written).
    pub fn new(cache_dir: &Path) -> Digests {
        Digests {
            path: cache_dir.join(SUBDIR),
        }
    }

    /// The record of this version of a file, if one was kept.
    pub fn get(&self, identity: &Identity) -> Option<Record> {
        let dir = PrivateDir::open_existing(&self.path)?;
        let bytes = dir.read(&identity.file_name(), MAX_RECORD_BYTES)?;
        Record::parse(std::str::from_utf8(&bytes).ok()?, identity)
    }

    /// Keeps `record` for this version of a file. The caller has hashed the
    /// file whole, seen the same identity before and after, and checked that
    /// the identity was [settled](Identity::settled) before it started.
    /// A record that cannot be written only costs the next run a hash.
    pub fn put(&self, identity: &Identity, record: &Record) {
        let Some(dir) = PrivateDir::open(&self.path) else {
            return;
        };
        let text = record.render(identity);
        if let Err(error) = dir.write(&identity.file_name(), text.as_bytes()) {
            tracing::debug!(%error, "digest not remembered");
        }
    }
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            dev: 0x803,
            ino: 42,
            size: 18 << 20,
            mtime: (1_700_000_000, 5),
            ctime: (1_700_000_001, 123_456_789),
        }
    }

    #[test]
    fn a_record_reads_back_only_for_the_same_identity() {
        let mut record = Record {
            sha256: [7; 32],
            proofs: Vec::new(),
        };
        assert!(record.add_proof([1; 32]));
        assert!(!record.add_proof([1; 32]), "a proof is kept once");
        let text = record.render(&identity());
        assert_eq!(Record::parse(&text, &identity()), Some(record));
        let changes = [
            Identity {
                size: 1,
                ..identity()
            },
            Identity {
                mtime: (1_700_000_000, 6),
                ..identity()
            },
            Identity {
                ctime: (1_700_000_001, 123_456_790),
                ..identity()
            },
        ];
        for changed in changes {
            assert_eq!(Record::parse(&text, &changed), None, "{changed:?}");
        }
    }

    #[test]
    fn damaged_records_are_not_read() {
        let id = identity();
        let good = format!("{}\nsha256 {}\n", id.header(), "ab".repeat(32));
        assert!(Record::parse(&good, &id).is_some());
        for bad in [
            format!("{}\nsha256 {}\n", id.header(), "ab".repeat(31)),
            format!("{}\nsha256 {}\n", id.header(), "zz".repeat(32)),
            format!("{}\n", id.header()),
            format!("{good}proof 12\n"),
            format!("{good}other {}\n", "ab".repeat(32)),
        ] {
            assert_eq!(Record::parse(&bad, &id), None, "{bad:?}");
        }
    }

    #[test]
    fn only_settled_changes_are_remembered() {
        let id = identity();
        let changed = UNIX_EPOCH + Duration::new(1_700_000_001, 123_456_789);
        assert!(!id.settled(changed));
        assert!(!id.settled(changed + SETTLE - Duration::from_nanos(1)));
        assert!(id.settled(changed + SETTLE));
        assert!(
            !id.settled(changed - Duration::from_secs(60)),
            "clock behind"
        );
    }

    #[test]
    fn proofs_are_bounded() {
        let mut record = Record {
            sha256: [0; 32],
            proofs: Vec::new(),
        };
        for n in 0..20u8 {
            record.add_proof([n; 32]);
        }
        assert_eq!(record.proofs.len(), MAX_PROOFS);
        assert_eq!(record.proofs.last(), Some(&[19; 32]));
    }
}
