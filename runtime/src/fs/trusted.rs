//! Trusted paths: the files and directories SME believes (configuration,
//! policy directory, audit log, log file, cache and state directories).
//!
//! A path is trusted when every directory on it, from `/` down, is owned by
//! root or by the user running SME and is not writable by group or others
//! (OpenSSH's StrictModes rule; a sticky `/tmp` is *not* enough, since its
//! other users can still create names in it). The walk opens each component
//! relative to its parent's handle with `O_NOFOLLOW`, checks the handle it
//! got with `fstat`, and callers then work only through the final
//! directory's handle (`openat`, `renameat`, `unlinkat`): what was checked is
//! what is used. Symbolic links on the way are followed only when they sit
//! in a directory that already passed and are owned by root or this user,
//! since only they could have made them.
//!
//! Files are opened with `O_NOFOLLOW | O_NONBLOCK` after an `lstat`-style
//! look at what the name is, so a FIFO or a device named like a policy is
//! refused without being opened for reading and can never stall a run.
//!
//! `SME_STRICT_PATHS=off` turns the ownership and mode checks off for
//! unusual set-ups; symbolic links and non-regular files are still refused.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

/// Symbolic links followed in one path before giving up (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// Whether ownership and modes are checked (`SME_STRICT_PATHS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Every directory and file must be owned by root or this user and not
    /// writable by group or others.
    Strict,
    /// Ownership and modes are not checked (symbolic links on the final
    /// name and non-regular files still are).
    Lax,
}

impl Strictness {
    /// From the value of `SME_STRICT_PATHS`: `off`, `false`, `0` or `no`
    /// turn the checks off; anything else (or nothing) keeps them.
    pub fn from_setting(value: Option<&str>) -> Strictness {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("off" | "false" | "0" | "no") => Strictness::Lax,
            _ => Strictness::Strict,
        }
    }
}

/// Why a path is not trusted or could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Something on the path does not exist.
    #[error("{} does not exist", path.display())]
    Missing {
        /// The first missing component.
        path: PathBuf,
    },
    /// A directory or file is owned by another user.
    #[error("{} is owned by uid {uid}, not by root or the user running SME", path.display())]
    Owner {
        /// The object.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// A directory or file can be written by group or others.
    #[error("{} is writable by group or others (mode {mode:04o}); run `chmod go-w {}`", path.display(), path.display())]
    Writable {
        /// The object.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Something that must be a regular file is not one.
    #[error("{} is {kind}, not a regular file", path.display())]
    NotRegular {
        /// The object.
        path: PathBuf,
        /// What it is instead.
        kind: Kind,
    },
    /// Something on the path that must be a directory is not one.
    #[error("{} is {kind}, not a directory", path.display())]
    NotDirectory {
        /// The object.
        path: PathBuf,
        /// What it is instead.
        kind: Kind,
    },
    /// A symbolic link that nobody trusted could have made, or too many.
    #[error("{} is a symbolic link SME will not follow: {why}", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
        /// Why it is not followed.
        why: &'static str,
    },
    /// The object changed between the look and the open.
    #[error("{} changed while SME was opening it", path.display())]
    Changed {
        /// The object.
        path: PathBuf,
    },
    /// A system call failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The object.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

impl TrustError {
    /// Whether the object (or a directory on its path) simply does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, TrustError::Missing { .. })
    }

    fn io(path: &Path, errno: rustix::io::Errno) -> TrustError {
        if errno == rustix::io::Errno::NOENT {
            TrustError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            TrustError::Io {
                path: path.to_path_buf(),
                source: errno.into(),
            }
        }
    }
}

/// What a file-system object is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind(FileType);

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            FileType::RegularFile => "a regular file",
            FileType::Directory => "a directory",
            FileType::Symlink => "a symbolic link",
            FileType::Fifo => "a FIFO",
            FileType::Socket => "a socket",
            FileType::CharacterDevice => "a character device",
            FileType::BlockDevice => "a block device",
            FileType::Unknown => "of an unknown type",
        })
    }
}

/// Who may own trusted objects: root and the user running SME.
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

/// Checks the owner and mode of `stat` (for the object at `path`).
fn check_owner_and_mode(
    path: &Path,
    stat: &Stat,
    strictness: Strictness,
) -> Result<(), TrustError> {
    if strictness == Strictness::Lax {
        return Ok(());
    }
    if !trusted_owner(stat.st_uid) {
        return Err(TrustError::Owner {
            path: path.to_path_buf(),
            uid: stat.st_uid,
        });
    }
    let mode = stat.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(TrustError::Writable {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// A directory that passed the check, held open.
#[derive(Debug)]
pub struct TrustedDir {
    fd: OwnedFd,
    path: PathBuf,
    strictness: Strictness,
}

impl TrustedDir {
    /// Opens the directory at `path` after checking every directory from `/`
    /// down to it.
    pub fn open(path: &Path, strictness: Strictness) -> Result<TrustedDir, TrustError> {
        walk(path, None, strictness)
    }

    /// Like [`TrustedDir::open`], creating missing directories (mode `mode`)
    /// on the way.
    pub fn create(
        path: &Path,
        mode: u32,
        strictness: Strictness,
    ) -> Result<TrustedDir, TrustError> {
        walk(path, Some(Mode::from_raw_mode(mode)), strictness)
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside the directory, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The directory's own metadata.
    pub fn stat(&self) -> io::Result<Stat> {
        Ok(rustix::fs::fstat(&self.fd)?)
    }

    /// What `name` is, without following a symbolic link; `None` when there
    /// is no such entry.
    pub fn kind_of(&self, name: &str) -> Result<Option<Kind>, TrustError> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(Kind(FileType::from_raw_mode(stat.st_mode)))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(errno) => Err(TrustError::io(&self.join(name), errno)),
        }
    }

    /// Opens the subdirectory `name` (not through a symbolic link), checked
    /// like its parents. `Ok(None)` when it does not exist.
    pub fn subdir(&self, name: &str) -> Result<Option<TrustedDir>, TrustError> {
        let path = self.join(name);
        let fd = match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => {
                let kind = self.kind_of(name)?.unwrap_or(Kind(FileType::Unknown));
                return Err(TrustError::NotDirectory { path, kind });
            }
            Err(errno) => return Err(TrustError::io(&path, errno)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|errno| TrustError::io(&path, errno))?;
        check_owner_and_mode(&path, &stat, self.strictness)?;
        Ok(Some(TrustedDir {
            fd,
            path,
            strictness: self.strictness,
        }))
    }

    /// The names of the entries, sorted (without `.` and `..`).
    pub fn names(&self) -> Result<Vec<OsString>, TrustError> {
        let io_error = |errno| TrustError::io(&self.path, errno);
        let fd = rustix::fs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_error)?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::new(fd).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(name).to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Opens the regular file `name` for reading: refused without being
    /// opened when it is anything but a regular file (a FIFO, a device, a
    /// symbolic link), and checked for owner and mode. `Ok(None)` when it
    /// does not exist.
    pub fn open_file(&self, name: &str) -> Result<Option<File>, TrustError> {
        let path = self.join(name);
        let before = match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(errno) => return Err(TrustError::io(&path, errno)),
        };
        let kind = FileType::from_raw_mode(before.st_mode);
        if kind != FileType::RegularFile {
            return Err(TrustError::NotRegular {
                path,
                kind: Kind(kind),
            });
        }
        check_owner_and_mode(&path, &before, self.strictness)?;
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| TrustError::io(&path, errno))?;
        let after = rustix::fs::fstat(&fd).map_err(|errno| TrustError::io(&path, errno))?;
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino)
            || FileType::from_raw_mode(after.st_mode) != FileType::RegularFile
        {
            return Err(TrustError::Changed { path });
        }
        check_owner_and_mode(&path, &after, self.strictness)?;
        Ok(Some(File::from(fd)))
    }

    /// Reads the regular file `name`, at most `max` bytes: `Ok(None)` when
    /// it does not exist, `Err(TooLarge)`-style callers check the length
    /// (`max + 1` bytes are read to tell).
    pub fn read(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, TrustError> {
        let Some(file) = self.open_file(name)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| TrustError::Io {
                path: self.join(name),
                source,
            })?;
        Ok(Some(bytes))
    }

    /// Opens (creating it with `mode`) the regular file `name` for
    /// appending (and reading: the audit chain reads the file's last
    /// line), checked for type, owner and mode.
    pub fn open_append(&self, name: &str, mode: u32) -> Result<File, TrustError> {
        let path = self.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDWR
                | OFlags::APPEND
                | OFlags::CREATE
                | OFlags::NOFOLLOW
                | OFlags::NONBLOCK
                | OFlags::NOCTTY
                | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        );
        let fd = match fd {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => {
                return Err(TrustError::Symlink {
                    path,
                    why: "the file itself must not be a link",
                });
            }
            Err(errno) => return Err(TrustError::io(&path, errno)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|errno| TrustError::io(&path, errno))?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind != FileType::RegularFile {
            return Err(TrustError::NotRegular {
                path,
                kind: Kind(kind),
            });
        }
        check_owner_and_mode(&path, &stat, self.strictness)?;
        Ok(File::from(fd))
    }

    /// Writes `name` atomically through a temporary file in the directory:
    /// readers see the old file or the new one, never a part.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.write_through_temporary(name, bytes, 0o600, false)
    }

    /// Like [`TrustedDir::write_atomic`], and durable: the new file gets
    /// `mode`, its contents reach the disk before it replaces `name`, and
    /// the directory's new entry after. For the files an operator installs
    /// (modules, the configuration), which a crash must leave old or whole;
    /// cache entries can be lost and do without the cost.
    pub fn write_durable(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.write_through_temporary(name, bytes, mode, true)
    }

    fn write_through_temporary(
        &self,
        name: &str,
        bytes: &[u8],
        mode: u32,
        sync: bool,
    ) -> io::Result<()> {
        let temporary = format!(
            ".{name}.{}.{:x}.tmp",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let fd = rustix::fs::openat(
            &self.fd,
            temporary.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        let mut file = File::from(fd);
        let written = file
            .write_all(bytes)
            .and_then(|()| {
                // Explicitly, so the umask does not decide who may read it.
                rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
                if sync {
                    file.sync_all()?;
                }
                Ok(rustix::fs::renameat(
                    &self.fd,
                    temporary.as_str(),
                    &self.fd,
                    name,
                )?)
            })
            .and_then(|()| if sync { self.sync() } else { Ok(()) });
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, temporary.as_str(), AtFlags::empty());
        }
        written
    }

    /// Flushes the directory's entries to disk (through a readable handle:
    /// the one kept is a path-only handle, which cannot be synced).
    fn sync(&self) -> io::Result<()> {
        let fd = rustix::fs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(rustix::fs::fsync(&fd)?)
    }

    /// Removes the file `name` (never a directory).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// A path through which wasmtime can map the open file `file`: the
    /// process's own `/proc/self/fd` entry for it, which names exactly the
    /// object that was checked.
    pub fn proc_path(file: &File) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", file.as_fd().as_raw_fd()))
    }
}

/// The components of an absolute or relative path still to walk.
fn components(path: &Path) -> impl DoubleEndedIterator<Item = OsString> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_owned()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Walks `path` from `/`, checking each directory, following only symbolic
/// links a trusted user made, optionally creating what is missing.
fn walk(
    path: &Path,
    create: Option<Mode>,
    strictness: Strictness,
) -> Result<TrustedDir, TrustError> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|source| TrustError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .join(path)
    };
    let root = open_dir_at(None, OsStr::new("/"), Path::new("/"), strictness)?;
    // The directories walked so far (for `..`), with their paths.
    let mut stack: Vec<(OwnedFd, PathBuf)> = vec![(root, PathBuf::from("/"))];
    let mut pending: Vec<OsString> = components(&absolute).rev().collect();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let (parent, parent_path) = stack.last().expect("the root stays");
        let here = parent_path.join(&name);
        let stat = match rustix::fs::statat(parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(rustix::io::Errno::NOENT) if create.is_some() => {
                let mode = create.expect("checked");
                match rustix::fs::mkdirat(parent, name.as_os_str(), mode) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(errno) => return Err(TrustError::io(&here, errno)),
                }
                rustix::fs::statat(parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|errno| TrustError::io(&here, errno))?
            }
            Err(errno) => return Err(TrustError::io(&here, errno)),
        };
        if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(TrustError::Symlink {
                    path: here,
                    why: "too many levels of links",
                });
            }
            if strictness == Strictness::Strict && !trusted_owner(stat.st_uid) {
                return Err(TrustError::Symlink {
                    path: here,
                    why: "it is owned by another user",
                });
            }
            let target = rustix::fs::readlinkat(parent, name.as_os_str(), Vec::new())
                .map_err(|errno| TrustError::io(&here, errno))?;
            let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
            if target.is_absolute() {
                stack.truncate(1);
            }
            pending.extend(components(&target).collect::<Vec<_>>().into_iter().rev());
            continue;
        }
        let fd = open_dir_at(Some(parent), &name, &here, strictness)?;
        stack.push((fd, here));
    }
    let (fd, _) = stack.pop().expect("the root stays");
    Ok(TrustedDir {
        fd,
        path: absolute,
        strictness,
    })
}

/// Opens directory `name` in `parent` (or `/`) without following a link,
/// and checks what was opened.
fn open_dir_at(
    parent: Option<&OwnedFd>,
    name: &OsStr,
    path: &Path,
    strictness: Strictness,
) -> Result<OwnedFd, TrustError> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let opened = match parent {
        Some(parent) => rustix::fs::openat(parent, name, flags, Mode::empty()),
        None => rustix::fs::open(name, flags, Mode::empty()),
    };
    let fd = opened.map_err(|errno| match errno {
        rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP => TrustError::NotDirectory {
            path: path.to_path_buf(),
            kind: Kind(FileType::Unknown),
        },
        errno => TrustError::io(path, errno),
    })?;
    let stat = rustix::fs::fstat(&fd).map_err(|errno| TrustError::io(path, errno))?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::Directory {
        return Err(TrustError::NotDirectory {
            path: path.to_path_buf(),
            kind: Kind(kind),
        });
    }
    check_owner_and_mode(path, &stat, strictness)?;
    Ok(fd)
}

/// Splits a file path into its directory (trusted-walked) and its name.
pub fn split_file(path: &Path) -> Result<(&Path, &str), TrustError> {
    let name = path
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| TrustError::NotRegular {
            path: path.to_path_buf(),
            kind: Kind(FileType::Unknown),
        })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// Opens the trusted regular file at `path` for reading (`Ok(None)` when it
/// or its directory does not exist) and reads at most `max + 1` bytes.
pub fn read_file(
    path: &Path,
    max: u64,
    strictness: Strictness,
) -> Result<Option<Vec<u8>>, TrustError> {
    let (dir, name) = split_file(path)?;
    match TrustedDir::open(dir, strictness) {
        Ok(dir) => dir.read(name, max),
        Err(error) if error.is_missing() => Ok(None),
        Err(error) => Err(error),
    }
}

/// Checks, without creating or changing anything, that the file at `path`
/// could be opened as a trusted file: its directory passes, and the file, if
/// it exists, is a regular file with a trusted owner and mode.
pub fn check_file(path: &Path, strictness: Strictness) -> Result<(), TrustError> {
    let (dir, name) = split_file(path)?;
    TrustedDir::open(dir, strictness)?.open_file(name).map(drop)
}

/// Opens the trusted file at `path` for appending, creating it with `mode`
/// in a directory that must already exist.
pub fn open_append(path: &Path, mode: u32, strictness: Strictness) -> Result<File, TrustError> {
    let (dir, name) = split_file(path)?;
    TrustedDir::open(dir, strictness)?.open_append(name, mode)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    /// A scratch directory under the target directory, whose parents are
    /// trusted on a normal checkout (unlike `/tmp`).
    fn scratch(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn a_private_tree_is_trusted() {
        let dir = scratch("private");
        std::fs::write(dir.join("file"), "x").unwrap();
        let trusted = TrustedDir::open(&dir, Strictness::Strict).unwrap();
        assert_eq!(trusted.read("file", 10).unwrap().unwrap(), b"x");
        assert!(trusted.read("absent", 10).unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn writable_directories_anywhere_on_the_path_are_refused() {
        let dir = scratch("writable");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::set_permissions(dir.join("a"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = TrustedDir::open(&dir.join("a/b"), Strictness::Strict).unwrap_err();
        assert!(
            matches!(&error, TrustError::Writable { path, mode: 0o777 } if path.ends_with("a")),
            "{error}"
        );
        assert!(TrustedDir::open(&dir.join("a/b"), Strictness::Lax).is_ok());
        // Sticky is not enough.
        std::fs::set_permissions(dir.join("a"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(TrustedDir::open(&dir.join("a/b"), Strictness::Strict).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn links_are_followed_only_through_trusted_directories() {
        let dir = scratch("links");
        std::fs::create_dir_all(dir.join("real")).unwrap();
        std::fs::write(dir.join("real/file"), "y").unwrap();
        symlink("real", dir.join("link")).unwrap();
        symlink(dir.join("real"), dir.join("absolute")).unwrap();
        for via in ["link", "absolute", "real/../link"] {
            let trusted = TrustedDir::open(&dir.join(via), Strictness::Strict).unwrap();
            assert_eq!(trusted.read("file", 10).unwrap().unwrap(), b"y", "{via}");
        }
        // A link on the final name of a file is never followed.
        symlink("real/file", dir.join("file-link")).unwrap();
        let trusted = TrustedDir::open(&dir, Strictness::Strict).unwrap();
        assert!(matches!(
            trusted.read("file-link", 10),
            Err(TrustError::NotRegular { .. })
        ));
        assert!(matches!(
            trusted.open_append("file-link", 0o600),
            Err(TrustError::Symlink { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = scratch("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(dir.join("stop.wasm"))
            .status()
            .unwrap();
        assert!(status.success());
        let trusted = TrustedDir::open(&dir, Strictness::Strict).unwrap();
        let error = trusted.read("stop.wasm", 10).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("stop.wasm is a FIFO, not a regular file"),
            "{error}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn directories_are_created_private_and_written_atomically() {
        let dir = scratch("create");
        let trusted = TrustedDir::create(&dir.join("x/y"), 0o700, Strictness::Strict).unwrap();
        trusted.write_atomic("a", b"one").unwrap();
        trusted.write_atomic("a", b"two").unwrap();
        assert_eq!(trusted.names().unwrap(), [OsString::from("a")]);
        assert_eq!(trusted.read("a", 10).unwrap().unwrap(), b"two");
        trusted.remove("a").unwrap();
        assert!(trusted.names().unwrap().is_empty());
        let mode = std::fs::metadata(dir.join("x/y"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
