//! Hostile files and directories around SME: trusted paths, audit before
//! acting, nothing that can stall a run, and logging that never reaches the
//! agent (docs/security.md, "Files SME trusts").

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_policy_directory_others_can_write_is_refused_naming_path_and_mode() {
    let container = Container::running("trust-dir");
    let sandbox = Sandbox::new();
    let dir = sandbox.policy_dir();
    chmod(&dir, 0o777);
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.fails_with(&format!(
        "policy {d}: refused: {d} is writable by group or others (mode 0777); run `chmod go-w {d}`",
        d = dir.display()
    ));
    assert!(container.is_running());
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(check.stdout.contains("(mode 0777)"), "{check:?}");

    // The check covers every directory above it too.
    chmod(&dir, 0o755);
    chmod(&sandbox.root, 0o775);
    sandbox.sme(&[&container.name, "stop"]).fails_mentioning(&[
        &sandbox.root.display().to_string(),
        "is writable by group or others (mode 0775)",
    ]);
    assert!(container.is_running());
    chmod(&sandbox.root, 0o755);
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
}

#[test]
fn a_configuration_others_can_write_is_refused() {
    let container = Container::running("trust-config");
    let sandbox = Sandbox::new();
    let file = sandbox.root.join("sme.toml");
    chmod(&file, 0o666);
    sandbox.sme(&[&container.name, "stop"]).fails_with(&format!(
        "configuration refused: {f} is writable by group or others (mode 0666); run `chmod go-w {f}`",
        f = file.display()
    ));
    assert!(container.is_running());
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(check.stdout.contains("(mode 0666)"), "{check:?}");
}

#[test]
fn strict_paths_off_accepts_unusual_set_ups() {
    let container = Container::running("trust-off");
    let mut sandbox = Sandbox::new();
    chmod(&sandbox.policy_dir(), 0o775);
    chmod(&sandbox.root.join("sme.toml"), 0o664);
    sandbox.env("SME_STRICT_PATHS", "off");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
}

#[test]
fn sticky_tmp_does_not_make_a_path_trusted() {
    let container = Container::running("trust-tmp");
    let mut sandbox = Sandbox::new();
    let config = std::env::temp_dir().join(format!("sme-test-{}.toml", std::process::id()));
    std::fs::write(&config, "").unwrap();
    sandbox.env("SME_CONFIG", &config.display().to_string());
    let run = sandbox.sme(&[&container.name, "stop"]);
    std::fs::remove_file(&config).unwrap();
    run.fails_with(
        "configuration refused: /tmp is writable by group or others (mode 1777); run `chmod go-w /tmp`",
    );
    assert!(container.is_running());
}

#[test]
fn links_to_modules_and_the_audit_log_are_never_followed() {
    let container = Container::running("trust-links");
    let sandbox = Sandbox::new();
    let real = sandbox.root.join("elsewhere.wasm");
    std::fs::copy(guests::STOP_OTHER, &real).unwrap();
    symlink(&real, sandbox.policy_dir().join("stop.wasm")).unwrap();
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["stop.wasm is a symbolic link, not a regular file"]);
    assert!(container.is_running());

    // An audit log replaced by a link to another file is not written through.
    std::fs::remove_file(sandbox.policy_dir().join("stop.wasm")).unwrap();
    let victim = sandbox.root.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::remove_file(sandbox.root.join("audit.jsonl")).unwrap();
    symlink(&victim, sandbox.root.join("audit.jsonl")).unwrap();
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["audit.jsonl is a symbolic link SME will not follow"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(container.is_running());

    // So is a configuration file that is a link.
    std::fs::remove_file(sandbox.root.join("audit.jsonl")).unwrap();
    let config = sandbox.root.join("sme.toml");
    std::fs::rename(&config, sandbox.root.join("real.toml")).unwrap();
    symlink("real.toml", &config).unwrap();
    sandbox.sme(&[&container.name, "stop"]).fails_with(&format!(
        "configuration refused: {} is a symbolic link, not a regular file",
        config.display()
    ));
    assert!(container.is_running());
}

#[test]
fn a_fifo_named_like_a_module_is_refused_at_once_by_sme_and_check() {
    let container = Container::running("trust-fifo");
    let sandbox = Sandbox::new();
    let fifo = sandbox.policy_dir().join("stop.wasm");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let run = sandbox.sme(&[&container.name, "stop"]);
    let expected = format!(
        "policy {f}: refused: {f} is a FIFO, not a regular file",
        f = fifo.display()
    );
    run.fails_with(&expected);
    assert!(run.elapsed < Duration::from_secs(5), "{run:?}");
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(check.stdout.contains(&expected), "{check:?}");
    assert!(container.is_running());
}

#[test]
fn caches_on_untrusted_paths_are_ignored_and_housekeeping_spares_foreign_files() {
    let container = Container::stopped("trust-cache");
    let mut sandbox = Sandbox::new();
    sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    let shared = std::env::temp_dir().join(format!("sme-test-cache-{}", std::process::id()));
    sandbox.env("SME_CACHE_DIR", &shared.display().to_string());
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!shared.exists(), "a cache under /tmp was used");

    let cache = sandbox.root.join("cache");
    sandbox.env("SME_CACHE_DIR", &cache.display().to_string());
    std::fs::create_dir_all(&cache).unwrap();
    chmod(&cache, 0o700);
    let stale = format!("{}-{}.cwasm", "ab".repeat(32), "0".repeat(16));
    for name in [stale.as_str(), "notes.cwasm", "keep-me"] {
        std::fs::write(cache.join(name), "x").unwrap();
    }
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    // (Without the digest records' directory, which a slow run may make.)
    let mut names: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "digests")
        .collect();
    names.sort();
    assert!(
        !names.contains(&stale),
        "a stale artifact was kept: {names:?}"
    );
    assert!(names.contains(&"notes.cwasm".to_owned()) && names.contains(&"keep-me".to_owned()));
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn a_change_is_audited_before_it_is_sent_to_docker() {
    let container = Container::running("audit-first");
    let sandbox = Sandbox::new();
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    let audit = sandbox.audit();
    let events: Vec<(&str, &str)> = audit
        .iter()
        .map(|l| {
            (
                l["event"].as_str().unwrap(),
                l["verb"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            // Reading the container's own stop timeout changes nothing.
            ("host-call", "inspect"),
            ("intent", "stop"),
            ("host-call", "stop"),
            ("host-call", "inspect"),
            ("invocation", "-")
        ]
    );
    assert_eq!(audit[1]["target"], container.name.as_str());
}

/// Holds an exclusive `flock` on `path` until killed, as any process that
/// can open the file could.
fn hold_lock(path: &Path) -> Child {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import fcntl, sys, time\n\
             f = open(sys.argv[1], 'a')\n\
             fcntl.flock(f, fcntl.LOCK_EX)\n\
             print('locked', flush=True)\n\
             time.sleep(120)",
        ])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n");
    child
}

#[test]
fn a_held_audit_lock_fails_closed_in_bounded_time_and_sends_nothing() {
    let container = Container::running("audit-locked");
    let sandbox = Sandbox::new();
    let log = sandbox.root.join("audit.jsonl");
    let mut holder = hold_lock(&log);
    let run = sandbox.sme(&[&container.name, "stop"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    run.fails_with(&format!(
        "built-in policy stop: stopped: cannot write audit log {}: not written within 1000 ms \
         (another process holding its lock, or a stalled disk)",
        log.display()
    ));
    assert!(run.elapsed < Duration::from_secs(5), "{run:?}");
    assert!(
        container.is_running(),
        "the stop was sent without its audit line"
    );
}

#[test]
fn module_strings_are_clipped_in_the_audit_log() {
    let container = Container::running("audit-long");
    let sandbox = Sandbox::new();
    sandbox.install(guests::LONG_STRINGS, "shout.wasm");
    sandbox.config("[modules.shout.grants]\nread = [\"name:*\"]\nstop = [\"self\"]\n");
    let run = sandbox.sme(&[&container.name, "shout"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stderr, "");
    let text = std::fs::read_to_string(sandbox.root.join("audit.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "{text}");
    for line in &lines {
        assert!(line.len() < 4096, "an audit line of {} bytes", line.len());
    }
    assert!(text.contains("... [1050000 bytes]"), "{text}");
    assert!(container.is_running());

    // A hostile service name is clipped the same way (and never reaches a module).
    let long = "x".repeat(100_000);
    sandbox
        .sme(&[&long, "stop"])
        .fails_mentioning(&["is not a valid container name"]);
    let last = std::fs::read_to_string(sandbox.root.join("audit.jsonl")).unwrap();
    assert!(last.lines().last().unwrap().len() < 4096);
}

#[test]
fn an_unusable_log_file_drops_logs_and_says_so_in_the_audit_log() {
    let container = Container::running("log-file");
    let mut sandbox = Sandbox::new();
    let shared = std::env::temp_dir().join(format!("sme-test-{}.log", std::process::id()));
    sandbox.config(&format!("log_file = \"{}\"\n", shared.display()));
    sandbox.env("SME_LOG", "debug");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!shared.exists());
    let check = sandbox.smectl(&["check"]);
    assert!(
        check.stdout.contains(&format!(
            "warning: log_file {} cannot be used, logs would be dropped",
            shared.display()
        )),
        "{check:?}"
    );
    let notice = sandbox
        .audit()
        .into_iter()
        .find(|l| l["event"] == "notice")
        .expect("a notice line");
    let detail = notice["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "log_file {} cannot be used, logs are dropped: /tmp is writable",
            shared.display()
        )),
        "{detail}"
    );

    // A log file that is a link is not written through either.
    let victim = sandbox.root.join("victim.log");
    std::fs::write(&victim, "").unwrap();
    let link = sandbox.root.join("link.log");
    symlink(&victim, &link).unwrap();
    sandbox.config(&format!("log_file = \"{}\"\n", link.display()));
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "");
    assert!(
        sandbox.audit().iter().any(|l| l["event"] == "notice"
            && l["detail"].as_str().unwrap().contains("is a symbolic link")),
        "no notice for the linked log file"
    );

    // A usable log file gets the lines, and stderr still nothing.
    let log = sandbox.root.join("sme.log");
    sandbox.config(&format!("log_file = \"{}\"\n", log.display()));
    sandbox
        .sme(&[&container.name, "start"])
        .succeeds_with("\"\"");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("answered"), "{logged}");
}

#[test]
fn module_files_and_the_add_on_directory_are_checked_too() {
    let container = Container::running("trust-files");
    let sandbox = Sandbox::new();
    let module = sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    chmod(&module, 0o666);
    sandbox.sme(&[&container.name, "stop"]).fails_with(&format!(
        "policy {m}: refused: {m} is writable by group or others (mode 0666); run `chmod go-w {m}`",
        m = module.display()
    ));
    assert!(container.is_running());
    std::fs::remove_file(&module).unwrap();

    let addon = sandbox.install(guests::UPTIME, "metrics.d/uptime.wasm");
    sandbox.config("[modules.\"metrics.d/uptime\".grants]\ninspect = [\"self\"]\n");
    let addons = addon.parent().unwrap();
    chmod(addons, 0o777);
    sandbox
        .sme(&[&container.name, "metrics"])
        .fails_mentioning(&[&format!(
            "{} is writable by group or others (mode 0777)",
            addons.display()
        )]);
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(1), "{check:?}");
    chmod(addons, 0o755);
    let run = sandbox.sme(&[&container.name, "metrics"]);
    assert_eq!(run.code, Some(0), "{run:?}");
}
