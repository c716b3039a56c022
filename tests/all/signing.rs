//! Signed policies (docs/security.md, "Signed policies"): modules signed with
//! minisign keys, bound to their name, refused before any code runs when the
//! signature does not vouch for them; and interoperability with the real
//! `minisign` tool both ways.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox, sha256_of};

/// A minisign key pair made by the real tool (`minisign -G -W`).
pub struct Keys {
    pub public: PathBuf,
    pub secret: PathBuf,
    /// The base64 line of the public key, for `[signing] keys`.
    pub line: String,
    /// Its ID as minisign prints it.
    pub id: String,
}

fn minisign(args: &[&str]) -> std::process::Output {
    let output = Command::new("minisign")
        .args(args)
        .output()
        .expect("the minisign tool is needed: run scripts/setup");
    assert!(output.status.success(), "minisign {args:?}: {output:?}");
    output
}

/// Runs minisign with `input` on its standard input: when that is not a
/// terminal, minisign reads each password it would prompt for as one line
/// of it (twice for `-G`, once for `-S`).
fn minisign_fed(args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new("minisign")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the minisign tool is needed: run scripts/setup");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "minisign {args:?}: {output:?}");
    output
}

pub fn keys(sandbox: &Sandbox, label: &str) -> Keys {
    let (public, secret) = key_paths(sandbox, label);
    minisign(&[
        "-G",
        "-W",
        "-p",
        public.to_str().unwrap(),
        "-s",
        secret.to_str().unwrap(),
    ]);
    read_keys(public, secret)
}

/// A password-protected key pair made by the real tool (`minisign -G`), and
/// a file holding its password.
fn keys_with_password(sandbox: &Sandbox, label: &str, password: &str) -> (Keys, PathBuf) {
    let (public, secret) = key_paths(sandbox, label);
    minisign_fed(
        &[
            "-G",
            "-p",
            public.to_str().unwrap(),
            "-s",
            secret.to_str().unwrap(),
        ],
        &format!("{password}\n{password}\n"),
    );
    let file = sandbox.root.join(format!("{label}.password"));
    std::fs::write(&file, format!("{password}\n")).unwrap();
    (read_keys(public, secret), file)
}

fn key_paths(sandbox: &Sandbox, label: &str) -> (PathBuf, PathBuf) {
    (
        sandbox.root.join(format!("{label}.pub")),
        sandbox.root.join(format!("{label}.key")),
    )
}

fn read_keys(public: PathBuf, secret: PathBuf) -> Keys {
    let text = std::fs::read_to_string(&public).unwrap();
    let mut lines = text.lines();
    let id = lines.next().unwrap().rsplit(' ').next().unwrap().to_owned();
    Keys {
        public,
        secret,
        line: lines.next().unwrap().to_owned(),
        id,
    }
}

/// Copies the default `stop` policy (it stops the service's container) into
/// the sandbox, outside the policy directory, for signing there.
pub fn unsigned_stop(sandbox: &Sandbox) -> PathBuf {
    let file = sandbox.root.join("build").join("stop.wasm");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::copy(guests::DEFAULT_STOP, &file).unwrap();
    file
}

/// Signs `file` with `smectl sign` as `name`.
pub fn smectl_sign(sandbox: &Sandbox, file: &Path, keys: &Keys, name: &str) {
    let run = sandbox.smectl(&[
        "sign",
        file.to_str().unwrap(),
        "--key",
        keys.secret.to_str().unwrap(),
        "--as",
        name,
    ]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
}

/// Asserts `smectl inspect` finds the installed `stop.wasm` validly signed
/// by `keys`.
#[track_caller]
fn inspect_says_stop_is_signed_by(sandbox: &Sandbox, keys: &Keys) {
    let inspect = sandbox.smectl(&[
        "inspect",
        sandbox.policy_dir().join("stop.wasm").to_str().unwrap(),
    ]);
    assert!(
        inspect.stdout.contains(&format!(
            "signature   key {}, trusted comment \"sme-module: stop\": valid",
            keys.id
        )),
        "{inspect:?}"
    );
}

/// Installs `file` and its signature as `<name>.wasm` in the policy
/// directory.
pub fn install_signed(sandbox: &Sandbox, file: &Path, name: &str) {
    sandbox.install(file.to_str().unwrap(), &format!("{name}.wasm"));
    sandbox.install(
        &format!("{}.minisig", file.display()),
        &format!("{name}.wasm.minisig"),
    );
}

pub fn trusting(keys: &[&Keys], extra: &str) -> String {
    let lines: Vec<String> = keys.iter().map(|k| format!("{:?}", k.line)).collect();
    format!(
        "[signing]\nkeys = [{}]\nrequire_signature = true\n{extra}",
        lines.join(", ")
    )
}

/// The `trust` of the last invocation line of the audit log.
fn last_trust(sandbox: &Sandbox) -> serde_json::Value {
    let audit = sandbox.audit();
    let line = audit
        .iter()
        .rev()
        .find(|l| l["event"] == "invocation")
        .expect("an invocation line");
    line["trust"].clone()
}

#[test]
fn a_module_signed_for_its_name_runs_and_the_audit_names_the_key() {
    let container = Container::running("sign-ok");
    let sandbox = Sandbox::new();
    let keys = keys(&sandbox, "team");
    let file = unsigned_stop(&sandbox);
    smectl_sign(&sandbox, &file, &keys, "stop");
    install_signed(&sandbox, &file, "stop");
    sandbox.config(&trusting(&[&keys], ""));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
    assert_eq!(last_trust(&sandbox), format!("signed:{}", keys.id));

    // Pinned as well: both are checked, and both recorded.
    container.start_again();
    let sha = sha256_of(&file);
    sandbox.config(&trusting(
        &[&keys],
        &format!("[modules.stop]\nsha256 = \"{sha}\"\n"),
    ));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(last_trust(&sandbox), format!("pinned+signed:{}", keys.id));

    // Without a signature or pin the module is unverified; built-ins say so.
    container.start_again();
    std::fs::remove_file(sandbox.policy_dir().join("stop.wasm.minisig")).unwrap();
    sandbox.config("");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(last_trust(&sandbox), "unverified");
    container.start_again();
    sandbox.config(&format!("[modules.stop]\nsha256 = \"{sha}\"\n"));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(last_trust(&sandbox), "pinned");
    container.start_again();
    std::fs::remove_file(sandbox.policy_dir().join("stop.wasm")).unwrap();
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(last_trust(&sandbox), "builtin");
}

/// One way of getting a module refused: what is done to a correctly signed
/// `stop` and its configuration, and what the refusal must say.
struct Case {
    what: &'static str,
    operation: &'static str,
    reason: &'static str,
}

#[test]
fn modules_their_signatures_do_not_vouch_for_are_refused_before_running() {
    let cases = [
        Case {
            what: "tampered module",
            operation: "stop",
            reason: "bad signature by key",
        },
        Case {
            what: "tampered signature",
            operation: "stop",
            reason: "bad signature by key",
        },
        Case {
            what: "wrong key",
            operation: "stop",
            reason: "which is not a trusted key",
        },
        Case {
            what: "revoked key",
            operation: "stop",
            reason: "which is revoked ([signing] revoked_keys)",
        },
        Case {
            what: "revoked sha256",
            operation: "stop",
            reason: "is revoked ([signing] revoked_sha256)",
        },
        Case {
            what: "renamed module",
            operation: "restart",
            reason: "for \"sme-module: stop\", not for restart",
        },
        Case {
            what: "missing signature",
            operation: "stop",
            reason: "require_signature is set and there is no stop.wasm.minisig",
        },
    ];
    for case in cases {
        let container = Container::running("sign-refused");
        let sandbox = Sandbox::new();
        let trusted = keys(&sandbox, "team");
        let other = keys(&sandbox, "other");
        let file = unsigned_stop(&sandbox);
        let signer = if case.what == "wrong key" {
            &other
        } else {
            &trusted
        };
        smectl_sign(&sandbox, &file, signer, "stop");
        install_signed(&sandbox, &file, case.operation);
        let module = sandbox
            .policy_dir()
            .join(format!("{}.wasm", case.operation));
        let signature = sandbox
            .policy_dir()
            .join(format!("{}.wasm.minisig", case.operation));
        let mut extra = String::new();
        match case.what {
            "tampered module" => {
                let mut bytes = std::fs::read(&module).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(&module, bytes).unwrap();
            }
            "tampered signature" => {
                let text = std::fs::read_to_string(&signature).unwrap();
                let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
                // A character well past the key ID, still valid base64.
                let mut chars: Vec<char> = lines[1].chars().collect();
                chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
                lines[1] = chars.into_iter().collect();
                std::fs::write(&signature, lines.join("\n") + "\n").unwrap();
            }
            "revoked key" => extra = format!("revoked_keys = [\"{}\"]\n", trusted.id),
            "revoked sha256" => {
                extra = format!("revoked_sha256 = [\"{}\"]\n", sha256_of(&file));
            }
            "missing signature" => std::fs::remove_file(&signature).unwrap(),
            _ => {}
        }
        sandbox.config(&trusting(&[&trusted], &extra));
        let run = sandbox.sme(&[&container.name, case.operation]);
        let mut fragments = vec![
            format!("policy {} ({})", case.operation, module.display()),
            case.reason.to_owned(),
        ];
        if !matches!(case.what, "revoked sha256" | "missing signature") {
            fragments.push(format!("key {}", signer.id));
        }
        let fragments: Vec<&str> = fragments.iter().map(String::as_str).collect();
        run.fails_mentioning(&fragments);
        assert!(
            container.is_running(),
            "{}: the container was touched",
            case.what
        );
        let audit = sandbox.audit();
        assert!(
            audit.iter().all(|l| l["event"] != "host-call"),
            "{}: code ran: {audit:?}",
            case.what
        );
        let last = audit.last().unwrap();
        assert_eq!(
            (&last["event"], &last["outcome"], &last["module"]),
            (
                &serde_json::json!("invocation"),
                &serde_json::json!("error"),
                &serde_json::json!(case.operation)
            ),
            "{}",
            case.what
        );
        assert_eq!(last["detail"], run.stdout.as_str(), "{}", case.what);
        let check = sandbox.smectl(&["check"]);
        assert_eq!(check.code, Some(1), "{}: {check:?}", case.what);
        assert!(
            check.stdout.contains(case.reason),
            "{}: {check:?}",
            case.what
        );
    }
}

#[test]
fn minisign_verifies_smectl_signatures_and_smectl_verifies_minisign_ones() {
    let container = Container::running("sign-interop");
    let sandbox = Sandbox::new();
    let keys = keys(&sandbox, "team");
    let file = unsigned_stop(&sandbox);

    // smectl signs, minisign verifies, and shows the binding.
    smectl_sign(&sandbox, &file, &keys, "stop");
    let output = minisign(&[
        "-V",
        "-p",
        keys.public.to_str().unwrap(),
        "-m",
        file.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("Trusted comment: sme-module: stop"), "{said}");

    // minisign signs, SME runs it: trusted through a key file this time.
    std::fs::remove_file(format!("{}.minisig", file.display())).unwrap();
    minisign(&[
        "-S",
        "-s",
        keys.secret.to_str().unwrap(),
        "-m",
        file.to_str().unwrap(),
        "-t",
        "sme-module: stop",
    ]);
    install_signed(&sandbox, &file, "stop");
    sandbox.config(&format!(
        "[signing]\nkey_files = [\"{}\"]\nrequire_signature = true\n",
        keys.public.display()
    ));
    inspect_says_stop_is_signed_by(&sandbox, &keys);
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
    assert_eq!(last_trust(&sandbox), format!("signed:{}", keys.id));

    // The legacy format (`minisign -l`) is accepted too.
    container.start_again();
    minisign(&[
        "-S",
        "-l",
        "-s",
        keys.secret.to_str().unwrap(),
        "-m",
        file.to_str().unwrap(),
        "-t",
        "sme-module: stop",
    ]);
    install_signed(&sandbox, &file, "stop");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(last_trust(&sandbox), format!("signed:{}", keys.id));

    // minisign's default trusted comment binds to no name: refused.
    container.start_again();
    minisign(&[
        "-S",
        "-s",
        keys.secret.to_str().unwrap(),
        "-m",
        file.to_str().unwrap(),
    ]);
    install_signed(&sandbox, &file, "stop");
    sandbox.sme(&[&container.name, "stop"]).fails_mentioning(&[
        "not for stop",
        "sme-module: stop",
        &keys.id,
    ]);
    assert!(container.is_running());
}

#[test]
fn install_verifies_the_signature_and_installs_it_with_the_module() {
    let sandbox = Sandbox::new();
    let keys = keys(&sandbox, "team");
    let file = unsigned_stop(&sandbox);
    sandbox.config(&trusting(&[&keys], ""));
    let run = sandbox.smectl(&["install", file.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("not installed as stop: require_signature is set"),
        "{run:?}"
    );
    assert!(!sandbox.policy_dir().join("stop.wasm").exists());

    smectl_sign(&sandbox, &file, &keys, "stop");
    let run = sandbox.smectl(&["install", file.to_str().unwrap()]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("verified, signed by trusted key {}", keys.id)),
        "{run:?}"
    );
    assert_eq!(
        std::fs::read(sandbox.policy_dir().join("stop.wasm.minisig")).unwrap(),
        std::fs::read(format!("{}.minisig", file.display())).unwrap()
    );
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(0), "{check:?}");

    // Signed for another name, it is not installed under this one.
    let run = sandbox.smectl(&["install", file.to_str().unwrap(), "--as", "restart"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("not for restart"), "{run:?}");
    assert!(!sandbox.policy_dir().join("restart.wasm").exists());
}

#[test]
fn rotating_keys_old_and_new_both_verify_until_the_old_is_removed() {
    let container = Container::running("sign-rotate");
    let sandbox = Sandbox::new();
    let old = keys(&sandbox, "old");
    let new = keys(&sandbox, "new");
    let file = unsigned_stop(&sandbox);
    smectl_sign(&sandbox, &file, &old, "stop");
    install_signed(&sandbox, &file, "stop");
    // Step 1: trust both keys; what the old key signed still runs.
    sandbox.config(&trusting(&[&old, &new], ""));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    // Step 2: re-sign with the new key.
    container.start_again();
    smectl_sign(&sandbox, &file, &new, "stop");
    install_signed(&sandbox, &file, "stop");
    // Step 3: remove the old key (and revoke it); the new signature runs.
    sandbox.config(&trusting(
        &[&new],
        &format!("revoked_keys = [\"{}\"]\n", old.id),
    ));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(last_trust(&sandbox), format!("signed:{}", new.id));
    // A module still signed by the old key is refused from now on.
    container.start_again();
    smectl_sign(&sandbox, &file, &old, "stop");
    install_signed(&sandbox, &file, "stop");
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&[&old.id, "revoked"]);
    assert!(container.is_running());
}

#[test]
fn key_and_signature_files_are_trusted_paths_and_a_present_signature_is_always_checked() {
    use std::os::unix::fs::{PermissionsExt, symlink};

    let container = Container::running("sign-paths");
    let sandbox = Sandbox::new();
    let keys = keys(&sandbox, "team");
    let file = unsigned_stop(&sandbox);
    smectl_sign(&sandbox, &file, &keys, "stop");
    install_signed(&sandbox, &file, "stop");

    // A key file others can write is refused, naming the line.
    std::fs::set_permissions(&keys.public, std::fs::Permissions::from_mode(0o666)).unwrap();
    sandbox.config(&format!(
        "\n[signing]\nkey_files = [\"{}\"]\n",
        keys.public.display()
    ));
    sandbox.sme(&[&container.name, "stop"]).fails_mentioning(&[
        "line 3",
        "[signing] key file",
        "is writable by group or others (mode 0666)",
    ]);
    assert!(container.is_running());
    std::fs::set_permissions(&keys.public, std::fs::Permissions::from_mode(0o644)).unwrap();

    // A signature file that is a link is refused like a module file.
    let signature = sandbox.policy_dir().join("stop.wasm.minisig");
    let elsewhere = sandbox.root.join("elsewhere.minisig");
    std::fs::rename(&signature, &elsewhere).unwrap();
    symlink(&elsewhere, &signature).unwrap();
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["stop.wasm.minisig is a symbolic link, not a regular file"]);
    assert!(container.is_running());
    std::fs::remove_file(&signature).unwrap();
    std::fs::rename(&elsewhere, &signature).unwrap();

    // Not required, but present and by an unknown key: refused all the same.
    sandbox.config("");
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["which is not a trusted key", &keys.id]);
    assert!(container.is_running());

    // A signature does not satisfy require_pinning.
    sandbox.config(&format!(
        "require_pinning = true\n[signing]\nkeys = [{:?}]\n",
        keys.line
    ));
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["require_pinning is set and it has no pin"]);
    assert!(container.is_running());
}

#[test]
fn smectl_signs_with_a_password_protected_key_and_minisign_verifies_it() {
    let sandbox = Sandbox::new();
    let (keys, password) = keys_with_password(&sandbox, "team", "correct horse battery");
    let file = unsigned_stop(&sandbox);
    let signature = PathBuf::from(format!("{}.minisig", file.display()));
    let sign = |extra: &[&str]| {
        let mut args = vec![
            "sign",
            file.to_str().unwrap(),
            "--key",
            keys.secret.to_str().unwrap(),
            "--as",
            "stop",
        ];
        args.extend_from_slice(extra);
        sandbox.smectl(&args)
    };
    let refused = |run: &crate::support::Run, says: &str| {
        assert_eq!(run.code, Some(1), "{run:?}");
        assert_eq!(run.stdout, "", "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "not one line: {run:?}");
        assert!(run.stderr.contains(says), "{run:?}");
        assert!(!signature.exists(), "{run:?}");
    };

    // No password and no terminal: refused, saying how to give it.
    refused(
        &sign(&[]),
        "is encrypted with a password; give the password with --password-file",
    );
    // A wrong one says so.
    let wrong = sandbox.root.join("wrong.password");
    std::fs::write(&wrong, "correct horse\n").unwrap();
    refused(
        &sign(&["--password-file", wrong.to_str().unwrap()]),
        "wrong password (from --password-file",
    );

    // Its password: signed, and minisign verifies it as prehashed.
    let run = sign(&["--password-file", password.to_str().unwrap()]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(
        run.stdout.contains(&format!("(key {}, ", keys.id)),
        "{run:?}"
    );
    let output = minisign(&[
        "-V",
        "-H",
        "-p",
        keys.public.to_str().unwrap(),
        "-m",
        file.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("Trusted comment: sme-module: stop"), "{said}");

    // And SME trusts it as any other signature.
    install_signed(&sandbox, &file, "stop");
    sandbox.config(&trusting(&[&keys], ""));
    inspect_says_stop_is_signed_by(&sandbox, &keys);
}

/// In a shared sticky directory (`/tmp`'s kind), a link another user planted
/// where smectl writes a recording or a signature is replaced, never
/// followed: the file it points at keeps its bytes.
#[test]
fn smectl_never_writes_through_a_link_planted_in_a_shared_directory() {
    use std::os::unix::fs::{PermissionsExt as _, symlink};
    let sandbox = Sandbox::new();
    let shared = sandbox.root.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = sandbox.root.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let other_user = 61_235;
    let plant = |name: &str| {
        let link = shared.join(name);
        symlink(&victim, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(other_user), Some(other_user)).unwrap();
        link
    };

    let recording = plant("run.json");
    let container = Container::running("planted");
    let run = sandbox.smectl(&[
        "run",
        &container.name,
        "stop",
        "--dry-run",
        "--record",
        recording.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let kept = std::fs::symlink_metadata(&recording).unwrap();
    assert!(kept.is_file(), "the link was replaced by the recording");
    let text = std::fs::read_to_string(&recording).unwrap();
    assert!(text.contains("\"sme_recording\""), "{text}");

    let keys = keys(&sandbox, "planted");
    let module = shared.join("stop.wasm");
    std::fs::copy(guests::DEFAULT_STOP, &module).unwrap();
    plant("stop.wasm.minisig");
    smectl_sign(&sandbox, &module, &keys, "stop");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let signature = std::fs::read_to_string(shared.join("stop.wasm.minisig")).unwrap();
    assert!(signature.contains("sme-module: stop"), "{signature}");
}
