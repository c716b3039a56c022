//! Files the operator's tools write (recordings, signatures, scaffolds):
//! each is written whole under a name of its own in the target's directory,
//! created new, and renamed over the target. A link planted at the target
//! is replaced, never followed, and no file another user owns is truncated
//! through it; a reader sees the old file or the new one, never a part.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A file being written, put in place by [`NewFile::commit`]; dropped
/// uncommitted, it leaves nothing behind.
#[derive(Debug)]
pub struct NewFile {
    target: PathBuf,
    staged: PathBuf,
    file: Option<File>,
}

impl NewFile {
    /// Starts writing `target` (mode 0644 before the umask): fails at once
    /// when its directory cannot take a new file.
    pub fn create(target: &Path) -> io::Result<NewFile> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let staged = target.with_file_name(format!(
            ".{}.{}-{}.new",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&staged)?;
        Ok(NewFile {
            target: target.to_path_buf(),
            staged,
            file: Some(file),
        })
    }

    /// Writes all of `bytes`, flushes them to disk and renames the file
    /// over the target.
    pub fn commit(mut self, bytes: &[u8]) -> io::Result<()> {
        let mut file = self.file.take().expect("committed once");
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.staged, &self.target)
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if self.file.is_some() || self.staged.exists() {
            let _ = std::fs::remove_file(&self.staged);
        }
    }
}

/// Writes `bytes` to `target` as [`NewFile`] does.
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    NewFile::create(target)?.commit(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sme-new-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_planted_link_is_replaced_not_followed() {
        let dir = dir().join("link");
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.join("out.json");
        let _ = std::fs::remove_file(&target);
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write(&target, b"recorded").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&target).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "recorded");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 2, "no staged file left: {left:?}");
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing() {
        let dir = dir().join("drop");
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("x");
        drop(NewFile::create(&target).unwrap());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        assert!(NewFile::create(&dir.join("missing/x")).is_err());
    }
}
