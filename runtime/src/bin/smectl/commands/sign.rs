//! `smectl sign <module.wasm> --key <secret key> [--as <name>]`: writes
//! `<module.wasm>.minisig`, a minisign signature whose trusted comment binds
//! the module to the name it will be installed under (`sme-module: <name>`).
//! `minisign -V` verifies it. The key is a minisign secret key, protected by
//! a password (`minisign -G`: the password from `--password-file`, else typed
//! on the terminal) or not (`minisign -G -W`).

use std::io::{IsTerminal as _, Read as _};
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use sme::config;
use sme::fs::trusted::{self, Strictness};
use sme::policy::signing::{MAX_KEY_FILE_BYTES, SIGNATURE_SUFFIX, SecretKey, SecretKeyError};

/// Largest module signed: `module_mib`'s own ceiling.
const MAX_MODULE_BYTES: u64 = 1 << 30;

/// Longest password file read: minisign's own limit on a password (1024
/// bytes) and a line end.
const MAX_PASSWORD_BYTES: u64 = 1024 + 2;

/// Signs `file` as module `name` (default: its file stem).
pub fn run(
    file: &Path,
    key: &Path,
    password_file: Option<&Path>,
    name: Option<&str>,
    json: bool,
) -> anyhow::Result<bool> {
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
    let key_text = std::str::from_utf8(&key_text)
        .map_err(|_| anyhow!("secret key {}: not UTF-8 text", key.display()))?;
    let secret = load_key(key, key_text, password_file)?;
    let module = trusted::read_file(file, MAX_MODULE_BYTES, Strictness::Lax)
        .with_context(|| format!("module {}", file.display()))?
        .with_context(|| format!("module {}: no such file", file.display()))?;
    let signature = secret.sign(&module, &name);
    let mut target = file.as_os_str().to_owned();
    target.push(SIGNATURE_SUFFIX);
    let target = std::path::PathBuf::from(target);
    sme::fs::new_file::write(&target, signature.as_bytes())
        .with_context(|| format!("writing {}", target.display()))?;
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

/// The password in `path`: its first line without the line end (`\n` or
/// `\r\n`), as the `minisign` tool reads one from a pipe; spaces are kept.
/// Any readable file will do, pipes included (`/dev/stdin`): it is no trust
/// anchor, a wrong one only fails to decrypt.
fn read_password_file(path: &Path) -> anyhow::Result<String> {
    let context = || format!("password file {}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PASSWORD_BYTES + 1).read_to_end(&mut bytes))
        .with_context(context)?;
    if bytes.len() as u64 > MAX_PASSWORD_BYTES {
        bail!("{}: longer than 1024 bytes, not a password", context());
    }
    let text = String::from_utf8(bytes).map_err(|_| anyhow!("{}: not UTF-8 text", context()))?;
    let line = text.split('\n').next().unwrap_or_default();
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

/// The secret key file `key` (its text `text`), decrypted if need be with
/// the password in `password_file` or, on a terminal, typed there.
fn load_key(key: &Path, text: &str, password_file: Option<&Path>) -> anyhow::Result<SecretKey> {
    let failed = |why: SecretKeyError| anyhow!("secret key {}: {why}", key.display());
    let password = password_file.map(read_password_file).transpose()?;
    match SecretKey::from_file_text(text, password.as_deref()) {
        // The crate's own prompt is not used: it opens the terminal even
        // when stdin is not one, and writes its progress to stdout.
        Err(SecretKeyError::NeedsPassword) if std::io::stdin().is_terminal() => {
            let typed = rpassword::prompt_password(format!("Password for {}: ", key.display()))
                .with_context(|| format!("secret key {}: reading its password", key.display()))?;
            SecretKey::from_file_text(text, Some(&typed)).map_err(failed)
        }
        Err(SecretKeyError::NeedsPassword) => Err(anyhow!(
            "secret key {}: it is encrypted with a password; give the password with \
             --password-file FILE (it is asked for only on a terminal)",
            key.display()
        )),
        Err(SecretKeyError::WrongPassword) if let Some(file) = password_file => Err(anyhow!(
            "secret key {}: wrong password (from --password-file {})",
            key.display(),
            file.display()
        )),
        other => other.map_err(failed),
    }
}
