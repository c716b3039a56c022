//! The audit log's hash chain (docs/security.md, "A tamper-evident audit
//! log"): one linear chain under concurrent executors, every kind of
//! tampering found by `smectl audit verify`, a recomputed chain caught by a
//! head signed off the device with the real minisign, a torn tail repaired.

use std::process::Stdio;

use sme::sandbox::chain;
use sme_test_artifacts as guests;

use crate::signing::keys;
use crate::support::Sandbox;

/// A sandbox whose module `count` (the state probe) writes audit lines
/// without Docker, run `runs` times.
fn logged(runs: usize) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.install(guests::STATE_PROBE, "count.wasm");
    for _ in 0..runs {
        sandbox.sme(&["svc", "count"]);
    }
    sandbox
}

fn log_text(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.root.join("audit.jsonl")).unwrap()
}

/// `smectl audit verify` of `text` written to a file of its own.
fn verify_text(sandbox: &Sandbox, name: &str, text: &str) -> crate::support::Run {
    let file = sandbox.root.join(name);
    std::fs::write(&file, text).unwrap();
    sandbox.smectl(&["audit", "verify", &file.display().to_string()])
}

#[test]
fn fifty_concurrent_executors_keep_one_linear_chain() {
    let sandbox = logged(0);
    let children: Vec<_> = (0..50)
        .map(|_| {
            sandbox
                .command(env!("CARGO_BIN_EXE_sme"), &["svc", "count"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let text = log_text(&sandbox);
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert!(text.starts_with(&format!("{{\"seq\":1,\"prev\":\"{}\",", chain::GENESIS)));
    let run = sandbox.smectl(&["audit", "verify"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.starts_with(&format!(
            "ok: {} chained lines; head sme-audit-head seq={}",
            seqs.len(),
            seqs.len()
        )),
        "{run:?}"
    );
}

#[test]
fn every_kind_of_tampering_is_found_at_its_line() {
    let sandbox = logged(2);
    let text = log_text(&sandbox);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 6, "{text}");
    let joined = |lines: Vec<&str>| format!("{}\n", lines.join("\n"));
    let edited_line = lines[2].replacen("\"svc\"", "\"other\"", 1);
    let mut edited = lines.clone();
    edited[2] = &edited_line;
    let mut removed = lines.clone();
    removed.remove(2);
    let mut reordered = lines.clone();
    reordered.swap(2, 3);
    let mut inserted = lines.clone();
    inserted.insert(2, lines[1]);
    let cases = [
        (
            "edited",
            joined(edited),
            4,
            "does not follow the line before",
        ),
        (
            "removed",
            joined(removed),
            3,
            "does not follow the line before",
        ),
        (
            "reordered",
            joined(reordered),
            3,
            "does not follow the line before",
        ),
        (
            "inserted",
            joined(inserted),
            3,
            "does not follow the line before",
        ),
        (
            "truncated",
            text[..text.len() - 10].to_owned(),
            lines.len(),
            "ends mid-line",
        ),
    ];
    for (name, tampered, line, why) in cases {
        let run = verify_text(&sandbox, name, &tampered);
        assert_eq!(run.code, Some(1), "{name}: {run:?}");
        let at = format!("broken: {}:{line}: ", sandbox.root.join(name).display());
        assert!(
            run.stdout.starts_with(&at) && run.stdout.contains(why),
            "{name}: {run:?}"
        );
    }
    assert_eq!(verify_text(&sandbox, "intact", &text).code, Some(0));
}

/// The log rewritten as whoever can write it could: line `at` edited and
/// every later line's `prev` recomputed.
fn recomputed(text: &str, at: usize) -> String {
    let mut out = Vec::new();
    let mut prev: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
        if index == at {
            value["service"] = "forged".into();
        }
        if let Some(prev) = &prev {
            value["prev"] = prev.clone().into();
        }
        let written = serde_json::to_string(&value).unwrap();
        prev = Some(chain::hash(written.as_bytes()));
        out.push(written);
    }
    format!("{}\n", out.join("\n"))
}

#[test]
fn a_recomputed_chain_verifies_alone_and_is_caught_by_a_signed_head() {
    let sandbox = logged(2);
    let head = sandbox.smectl(&["audit", "head"]);
    assert_eq!(head.code, Some(0), "{head:?}");
    assert!(head.stdout.starts_with("sme-audit-head seq="), "{head:?}");
    let seal = sandbox.root.join("head.txt");
    std::fs::write(&seal, &head.stdout).unwrap();
    let auditor = keys(&sandbox, "auditor");
    let signed = std::process::Command::new("minisign")
        .args([
            "-S",
            "-s",
            auditor.secret.to_str().unwrap(),
            "-m",
            seal.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(signed.status.success(), "{signed:?}");
    let seal_arg = seal.display().to_string();
    let public = auditor.public.display().to_string();
    let log = sandbox.root.join("audit.jsonl").display().to_string();
    let sealed = sandbox.smectl(&[
        "audit", "verify", &log, "--seal", &seal_arg, "--key", &public,
    ]);
    assert_eq!(sealed.code, Some(0), "{sealed:?}");
    assert!(
        sealed.stdout.contains("holds the sealed head"),
        "{sealed:?}"
    );

    let forged = sandbox.root.join("forged.jsonl");
    std::fs::write(&forged, recomputed(&log_text(&sandbox), 1)).unwrap();
    let forged = forged.display().to_string();
    let alone = sandbox.smectl(&["audit", "verify", &forged]);
    assert_eq!(
        alone.code,
        Some(0),
        "a recomputed chain holds by itself: {alone:?}"
    );
    let caught = sandbox.smectl(&[
        "audit", "verify", &forged, "--seal", &seal_arg, "--key", &public,
    ]);
    assert_eq!(caught.code, Some(1), "{caught:?}");
    assert!(
        caught
            .stdout
            .contains("the log no longer holds the sealed head"),
        "{caught:?}"
    );

    let other = keys(&sandbox, "stranger");
    let wrong_key = other.public.display().to_string();
    let refused = sandbox.smectl(&[
        "audit", "verify", &log, "--seal", &seal_arg, "--key", &wrong_key,
    ]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused.stdout.contains("is not signed by the key given"),
        "{refused:?}"
    );
}

#[test]
fn a_torn_tail_is_cut_back_and_the_next_line_says_so() {
    let sandbox = logged(1);
    let path = sandbox.root.join("audit.jsonl");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"seq\":99,\"ev");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(sandbox.smectl(&["audit", "verify"]).code, Some(1), "torn");
    sandbox.sme(&["svc", "count"]);
    let run = sandbox.smectl(&["audit", "verify"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(log_text(&sandbox).contains("\"repaired\":13,"));
}
