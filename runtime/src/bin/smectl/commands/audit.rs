//! `smectl audit`: the audit log's hash chain (docs/security.md, "A
//! tamper-evident audit log"). `head` prints the chain's last line as the
//! text an operator signs off the device; `verify` checks the chain through
//! the files given (oldest first) and, with `--seal`, that it still holds a
//! signed head. These commands only read the log.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sme::config::keys::TrustedKey;
use sme::config::{Config, Env};
use sme::sandbox::chain::{self, Head, Verified};

/// The files to read: those given, else the configured audit log.
fn files(config: &Config, given: &[PathBuf]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let paths: Vec<PathBuf> = if given.is_empty() {
        vec![config.audit_log.clone().context(
            "no audit log is configured (audit_log, SME_AUDIT_LOG): name the files to read",
        )?]
    } else {
        given.to_vec()
    };
    paths
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read audit log {}", path.display()))?;
            Ok((path.display().to_string(), bytes))
        })
        .collect()
}

/// Prints the head of the chain through `given` (or the configured log).
pub fn head(env: &Env, given: &[PathBuf], json: bool) -> anyhow::Result<bool> {
    let config = Config::load(env)?;
    let verified = chain::verify(&files(&config, given)?).map_err(|b| anyhow::anyhow!("{b}"))?;
    let Some(head) = verified.head else {
        bail!("the audit log holds no chained line yet");
    };
    if json {
        println!(
            "{}",
            serde_json::json!({ "seq": head.seq, "sha256": head.hash, "text": head.to_string() })
        );
    } else {
        println!("{head}");
    }
    Ok(true)
}

/// Verifies the chain through `given` (or the configured log) and, with
/// `seal`, that it holds the signed head; `Ok(false)` when it does not.
pub fn verify(
    env: &Env,
    given: &[PathBuf],
    seal: Option<&Path>,
    key: Option<&str>,
    json: bool,
) -> anyhow::Result<bool> {
    let config = Config::load(env)?;
    let files = files(&config, given)?;
    let result = chain::verify(&files)
        .map_err(|b| b.to_string())
        .and_then(|verified| match seal {
            Some(seal) => sealed(&config, &verified, seal, key).map(|()| verified),
            None => Ok(verified),
        });
    match (&result, json) {
        (Ok(verified), true) => println!(
            "{}",
            serde_json::json!({
                "ok": true,
                "lines": verified.lines,
                "unchained": verified.unchained,
                "head": verified.head.as_ref().map(ToString::to_string),
                "sealed": seal.is_some(),
            })
        ),
        (Ok(verified), false) => {
            let head = verified
                .head
                .as_ref()
                .map_or("no chained line".to_owned(), ToString::to_string);
            let unchained = match verified.unchained {
                0 => String::new(),
                n => format!(" ({n} lines before the chain began)"),
            };
            let sealed = if seal.is_some() {
                ", holds the sealed head"
            } else {
                ""
            };
            println!(
                "ok: {} chained lines{unchained}{sealed}; head {head}",
                verified.lines
            );
        }
        (Err(why), true) => println!("{}", serde_json::json!({ "ok": false, "error": why })),
        (Err(why), false) => println!("broken: {why}"),
    }
    Ok(result.is_ok())
}

/// Checks the seal: `seal` holds a head's text and `<seal>.minisig` its
/// signature by `key` (else by a key of `[signing]`), and the chain holds
/// that line.
fn sealed(
    config: &Config,
    verified: &Verified,
    seal: &Path,
    key: Option<&str>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(seal)
        .map_err(|e| format!("cannot read the seal {}: {e}", seal.display()))?;
    let signature_path = PathBuf::from(format!("{}.minisig", seal.display()));
    let signature = std::fs::read_to_string(&signature_path).map_err(|e| {
        format!(
            "cannot read the seal's signature {}: {e}",
            signature_path.display()
        )
    })?;
    let keys: Vec<TrustedKey> = match key {
        Some(key) => {
            let text = std::fs::read_to_string(key).unwrap_or_else(|_| key.to_owned());
            vec![
                TrustedKey::from_file_text(&text)
                    .or_else(|_| TrustedKey::from_base64(&text))
                    .map_err(|e| format!("--key: {e}"))?,
            ]
        }
        None => config.signing.keys.clone(),
    };
    if keys.is_empty() {
        return Err("no key to check the seal with: give --key or configure [signing] keys".into());
    }
    if !keys
        .iter()
        .any(|key| key.signed(text.as_bytes(), &signature))
    {
        return Err(format!(
            "the seal {} is not signed by {}",
            seal.display(),
            if key.is_some() {
                "the key given"
            } else {
                "a key of [signing]"
            }
        ));
    }
    let head = Head::parse(&text).ok_or_else(|| {
        format!(
            "the seal {} is not an audit head (sme-audit-head seq=N sha256=HEX)",
            seal.display()
        )
    })?;
    if !verified.heads.contains(&head) {
        return Err(format!(
            "the log no longer holds the sealed head ({head}): lines up to it were rewritten or removed"
        ));
    }
    Ok(())
}
