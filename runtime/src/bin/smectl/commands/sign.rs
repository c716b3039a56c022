//! `smectl sign <module.wasm> --key <secret key> [--as <name>]`: writes
//! `<module.wasm>.minisig`, a minisign signature whose trusted comment binds
//! the module to the name it will be installed under (`sme-module: <name>`).
//! `minisign -V` verifies it; the key is an unencrypted minisign secret key
//! (`minisign -G -W`).

use std::path::Path;

use anyhow::{Context as _, bail};
use sme::config;
use sme::fs::trusted::{self, Strictness};
use sme::policy::signing::{MAX_KEY_FILE_BYTES, SIGNATURE_SUFFIX, SecretKey};

/// Largest module signed: `module_mib`'s own ceiling.
const MAX_MODULE_BYTES: u64 = 1 << 30;

/// Signs `file` as module `name` (default: its file stem).
pub fn run(file: &Path, key: &Path, name: Option<&str>, json: bool) -> anyhow::Result<bool> {
    let name = match name {
        Some(name) => name.to_owned(),
        None => file
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !config::is_module_name(&name) {
        bail!(
            "{}: cannot be signed as {name:?}: a module is named like an operation (`stop`) or \
             a metrics add-on (`metrics.d/uptime`); name it with --as",
            file.display()
        );
    }
    // The secret key is the operator's own file: read it as any file, but
    // only a regular one, and bounded.
    let key_text = trusted::read_file(key, MAX_KEY_FILE_BYTES, Strictness::Lax)
        .with_context(|| format!("secret key {}", key.display()))?
        .with_context(|| format!("secret key {}: no such file", key.display()))?;
    let secret = std::str::from_utf8(&key_text)
        .map_err(|_| "not UTF-8 text".to_owned())
        .and_then(SecretKey::from_file_text)
        .map_err(|why| anyhow::anyhow!("secret key {}: {why}", key.display()))?;
    let module = trusted::read_file(file, MAX_MODULE_BYTES, Strictness::Lax)
        .with_context(|| format!("module {}", file.display()))?
        .with_context(|| format!("module {}: no such file", file.display()))?;
    let signature = secret.sign(&module, &name);
    let mut target = file.as_os_str().to_owned();
    target.push(SIGNATURE_SUFFIX);
    let target = std::path::PathBuf::from(target);
    std::fs::write(&target, signature).with_context(|| format!("writing {}", target.display()))?;
    if json {
        let report = serde_json::json!({
            "module": name,
            "file": file.display().to_string(),
            "signature": target.display().to_string(),
            "key_id": secret.id.to_string(),
            "trusted_comment": format!("{}{name}", sme::policy::signing::COMMENT_PREFIX),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "signed {name}: {} (key {}, trusted comment \"{}{name}\")",
            target.display(),
            secret.id,
            sme::policy::signing::COMMENT_PREFIX
        );
    }
    Ok(true)
}
