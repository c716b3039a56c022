//! Directories SME keeps files in between runs: compiled policies (native
//! code) and CPU readings. Their contents are trusted, so a directory is used
//! only when its whole path is trusted (see [`crate::fs::trusted`]) and the
//! directory itself belongs to this user; every file is then reached through
//! the directory's open handle. A directory that is missing and cannot be
//! created, or fails the check, only costs speed: callers then work without
//! it. These checks cannot be turned off.

use std::ffi::OsString;
use std::fs::TryLockError;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::fs::trusted::{Strictness, TrustError, TrustedDir};

/// Why a directory is not used.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// Missing and cannot be created, or its path fails the trust check.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
    /// It belongs to another user.
    #[error("{} belongs to uid {owner}, not to this user (uid {uid})", path.display())]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective user.
        uid: u32,
    },
}

/// A directory private to the current user.
#[derive(Debug)]
pub struct PrivateDir {
    dir: TrustedDir,
}

impl PrivateDir {
    /// Opens `path`, creating it (mode 0700) if needed. `None` when it
    /// cannot be created or someone else could change it or its path.
    pub fn open(path: &Path) -> Option<PrivateDir> {
        PrivateDir::open_or_why(path)
            .inspect_err(|error| tracing::debug!(%error, "directory not used"))
            .ok()
    }

    /// Like [`PrivateDir::open`], saying why the directory cannot be used.
    pub fn open_or_why(path: &Path) -> Result<PrivateDir, Unusable> {
        let dir = TrustedDir::create(path, 0o700, Strictness::Strict)?;
        let uid = rustix::process::geteuid().as_raw();
        let owner = dir
            .stat()
            .map_err(|source| TrustError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .st_uid;
        if owner != uid {
            return Err(Unusable::NotOwned {
                path: path.to_path_buf(),
                owner,
                uid,
            });
        }
        Ok(PrivateDir { dir })
    }

    /// Like [`PrivateDir::open`], but `None` when the directory does not
    /// exist yet: for readers that have nothing to do in a new directory.
    pub fn open_existing(path: &Path) -> Option<PrivateDir> {
        let dir = TrustedDir::open(path, Strictness::Strict).ok()?;
        let own = dir
            .stat()
            .is_ok_and(|stat| stat.st_uid == rustix::process::geteuid().as_raw());
        own.then_some(PrivateDir { dir })
    }

    /// Whether a file can be written here now (a read-only mount or a full
    /// disk cannot): writes and removes a probe file.
    pub fn probe_write(&self) -> io::Result<()> {
        let name = format!(".probe-{}", std::process::id());
        self.write(&name, b"")?;
        self.remove(&name)
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `name` inside the directory, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The regular file `name`, opened for reading (`None` if absent or
    /// not a regular file of this directory).
    pub fn open_file(&self, name: &str) -> Option<std::fs::File> {
        self.dir.open_file(name).ok().flatten()
    }

    /// The regular file `name`, created (mode 0600) when missing, opened
    /// for appending: a list written a line at a time, or a file to lock.
    pub fn open_append(&self, name: &str) -> Result<std::fs::File, TrustError> {
        self.dir.open_append(name, 0o600)
    }

    /// Holds an exclusive lock on the file `name` (created when missing)
    /// until the answer is dropped, waiting for another holder at most
    /// `wait`: `Ok(None)` when it held the lock all that time.
    pub fn lock(&self, name: &str, wait: Duration) -> io::Result<Option<std::fs::File>> {
        let file = self
            .open_append(name)
            .map_err(|error| io::Error::other(error.to_string()))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(file)),
                Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(error)) => return Err(error),
            }
        }
    }

    /// The contents of the regular file `name`, if it exists and holds at
    /// most `max` bytes.
    pub fn read(&self, name: &str, max: u64) -> Option<Vec<u8>> {
        let bytes = self.dir.read(name, max).ok().flatten()?;
        (bytes.len() as u64 <= max).then_some(bytes)
    }

    /// Whether an entry named `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        matches!(self.dir.kind_of(name), Ok(Some(_)))
    }

    /// When the entry `name` was last modified.
    pub fn modified(&self, name: &str) -> Option<SystemTime> {
        let file = self.open_file(name)?;
        file.metadata().ok()?.modified().ok()
    }

    /// Writes `name` atomically: readers see the old file or the new one,
    /// never a part, even with many writers at once.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.dir.write_atomic(name, bytes)
    }

    /// Removes the file `name`.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        self.dir.remove(name)
    }

    /// The names of the entries that are valid UTF-8, sorted.
    pub fn names(&self) -> Vec<String> {
        self.dir
            .names()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name: OsString| name.into_string().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("private-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_and_writes_atomically() {
        let path = scratch("write");
        let dir = PrivateDir::open(&path).unwrap();
        dir.write("a", b"one").unwrap();
        dir.write("a", b"two").unwrap();
        assert_eq!(dir.read("a", 10).unwrap(), b"two");
        assert_eq!(dir.read("a", 2), None, "longer than asked");
        assert_eq!(dir.names(), ["a"], "no temporary files left");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn refuses_directories_others_can_write() {
        let path = scratch("shared");
        fs::create_dir_all(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(PrivateDir::open(&path).is_none());
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn refuses_directories_under_tmp() {
        let path = std::env::temp_dir().join(format!("sme-private-{}", std::process::id()));
        assert!(
            PrivateDir::open(&path).is_none(),
            "sticky /tmp is not private"
        );
        let _ = fs::remove_dir_all(path);
    }
}
