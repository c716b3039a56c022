//! Remembered digests of policy files (runtime/src/policy/digests.rs): a settled
//! file is hashed once, and every pin and signature promise still holds when
//! the file, its signature or the configuration changes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox, sha256_of};

/// Longer than the 2 s a file's last change must be in the past before its
/// digest is remembered.
const SETTLE: Duration = Duration::from_millis(2200);

fn records(sandbox: &Sandbox) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sandbox.root.join("cache/digests"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn pinned_stop(sandbox: &Sandbox) -> PathBuf {
    let path = sandbox.install(guests::DEFAULT_STOP, "stop.wasm");
    sandbox.config(&format!(
        "[modules.stop]\nsha256 = \"{}\"\n",
        sha256_of(&path)
    ));
    path
}

/// Rewrites `path` in place (same inode, same size), as `cp` over it does.
fn rewrite_in_place(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn a_fresh_file_is_hashed_every_time_and_a_settled_one_is_remembered() {
    let container = Container::running("digest-settle");
    let sandbox = Sandbox::new();
    let path = pinned_stop(&sandbox);
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(records(&sandbox).is_empty(), "a file changed just now");

    std::thread::sleep(SETTLE);
    sandbox
        .sme(&[&container.name, "start"])
        .succeeds_with("\"\"");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    let records = records(&sandbox);
    assert_eq!(records.len(), 1, "{records:?}");
    let text = std::fs::read_to_string(&records[0]).unwrap();
    assert!(
        text.contains(&format!("sha256 {}\n", sha256_of(&path))),
        "{text}"
    );
    // Private to SME's user, like the artifacts beside it.
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&sandbox.root.join("cache/digests")), 0o700);
}

#[test]
fn the_remembered_digest_is_what_the_pin_is_checked_against() {
    // The record, not a new hash, is what a settled file's run trusts: a
    // record changed by whoever can write the private cache directory
    // changes the verdict (as a changed artifact would change the code).
    let container = Container::running("digest-used");
    let sandbox = Sandbox::new();
    pinned_stop(&sandbox);
    std::thread::sleep(SETTLE);
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    let record = records(&sandbox).pop().expect("a record");
    let text = std::fs::read_to_string(&record).unwrap();
    let sha = text
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("sha256 ")
        .unwrap();
    std::fs::write(&record, text.replace(sha, &"0".repeat(64))).unwrap();
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&[&format!(
            "its sha256 is {} but the configuration pins",
            "0".repeat(64)
        )]);
}

#[test]
fn a_file_changed_in_place_is_hashed_again_and_meets_its_pin() {
    let container = Container::running("digest-change");
    let sandbox = Sandbox::new();
    let path = pinned_stop(&sandbox);
    let original = std::fs::read(&path).unwrap();
    std::thread::sleep(SETTLE);
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(records(&sandbox).len(), 1);

    // Same size, same inode, one byte different.
    let mut changed = original.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    rewrite_in_place(&path, &changed);
    let changed_sha = sha256_of(&path);
    crate::support::docker(&["start", &container.name]);
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&[&format!(
            "its sha256 is {changed_sha} but the configuration pins"
        )]);
    assert!(container.is_running(), "refused before anything ran");

    // Put back byte for byte: a new change time, hashed again, and it runs.
    rewrite_in_place(&path, &original);
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
}

#[test]
fn a_remembered_signature_is_decided_again_when_its_file_or_keys_change() {
    let container = Container::running("digest-signed");
    let sandbox = Sandbox::new();
    let keys = crate::signing::keys(&sandbox, "team");
    let other = crate::signing::keys(&sandbox, "other");
    let file = crate::signing::unsigned_stop(&sandbox);
    crate::signing::smectl_sign(&sandbox, &file, &keys, "stop");
    crate::signing::install_signed(&sandbox, &file, "stop");
    let trusted = crate::signing::trusting(&[&keys], "");
    sandbox.config(&trusted);
    std::thread::sleep(SETTLE);
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    let text = std::fs::read_to_string(records(&sandbox).pop().expect("a record")).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("proof ")).count(), 1);
    sandbox
        .sme(&[&container.name, "start"])
        .succeeds_with("\"\"");

    // The key revoked: refused although its signature was proven before.
    sandbox.config(&format!("{trusted}revoked_keys = [\"{}\"]\n", keys.id));
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&[&format!("signed by key {}, which is revoked", keys.id)]);

    // Signed again by a key that is not trusted: decided again, refused.
    sandbox.config(&trusted);
    crate::signing::smectl_sign(&sandbox, &file, &other, "stop");
    crate::signing::install_signed(&sandbox, &file, "stop");
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&[&format!(
            "signed by key {}, which is not a trusted key",
            other.id
        )]);
    assert!(container.is_running());
}
