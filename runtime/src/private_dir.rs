//! Directories SME keeps files in between runs: compiled policies (native
//! code) and CPU readings. Their contents are trusted, so a directory is used
//! only when this user owns it and nobody else can write to it. A directory
//! that is missing and cannot be created, or is not private, only costs
//! speed: callers then work without it.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A directory private to the current user.
#[derive(Debug, Clone)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Opens `path`, creating it (mode 0700) if needed. `None` when it
    /// cannot be created or someone else could write to it.
    pub fn open(path: &Path) -> Option<PrivateDir> {
        if let Err(error) = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
        {
            tracing::debug!(path = %path.display(), %error, "directory unavailable");
            return None;
        }
        let metadata = fs::metadata(path).ok()?;
        let writable_by_others = metadata.permissions().mode() & 0o022 != 0;
        if metadata.uid() != rustix::process::geteuid().as_raw() || writable_by_others {
            tracing::warn!(path = %path.display(), "not used: not private to this user");
            return None;
        }
        Some(PrivateDir {
            path: path.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `name` atomically: readers see the old file or the new one,
    /// never a part, even with many writers at once.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let unique = format!(
            ".{name}.{}.{:x}.tmp",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let temporary = self.path.join(unique);
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .and_then(|mut file| file.write_all(bytes))
            .and_then(|()| fs::rename(&temporary, self.path.join(name)));
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sme-private-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_and_writes_atomically() {
        let path = scratch("write");
        let dir = PrivateDir::open(&path).unwrap();
        dir.write("a", b"one").unwrap();
        dir.write("a", b"two").unwrap();
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"two");
        assert_eq!(
            fs::read_dir(&path).unwrap().count(),
            1,
            "no temporary files left"
        );
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
}
