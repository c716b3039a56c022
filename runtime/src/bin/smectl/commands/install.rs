//! `smectl install FILE [--as NAME] [--dry-run]`: checks a module as `sme`
//! would load it under the current configuration, then copies it into the
//! policy directory, pins its sha256 in the configuration file and
//! precompiles it into the cache, so the agent's next call runs it warm.
//!
//! A signature `FILE.minisig` beside the module is verified as `sme` will
//! verify it (and must be there when the module requires a signature), and
//! is installed with it; an old signature of the module is removed.
//!
//! Every check comes before the first change: a module that would be
//! refused, or could do nothing under its grant, changes nothing. Both files
//! are replaced atomically and durably, through the same trusted-directory
//! handles `sme` reads them with. The artifact is cached first and the
//! module written before its pin: when the module replaces one pinned to
//! another hash, runs between the two writes are refused (never run
//! unpinned code), for the moment the second write takes.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use sme::config::{self, Config, Env};
use sme::fs::trusted::{self, Strictness, TrustedDir};
use sme::policy::install::{self, PinChange};
use sme::policy::loader::{Loader, NotStored};
use sme::policy::signing::{MAX_SIGNATURE_BYTES, SIGNATURE_SUFFIX};
use sme::policy::{Policy, World};

use super::{linker, verify, wasmtime_error};

/// Mode of the files `install` writes: readable by all, writable by the owner.
const FILE_MODE: u32 = 0o644;

/// One change, done or (with `--dry-run`) to be done.
struct Change {
    /// `installed`, `pinned`, `precompiled`, `not precompiled`.
    what: &'static str,
    /// The same, to be done: `would install`...
    would: &'static str,
    /// The file changed.
    path: Option<PathBuf>,
    /// Anything more to say, in words.
    detail: String,
}

/// Prints what it did; errors are one line naming the file and the cause.
pub fn run(
    env: &Env,
    file: &Path,
    name: Option<&str>,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<bool> {
    let (config, source) = Config::load_source(env)?;
    let name = match name {
        Some(name) => name.to_owned(),
        None => file
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !config::is_module_name(&name) {
        bail!(
            "{}: cannot be installed as {name:?}: a module is named like an operation (`stop`) \
             or a metrics add-on (`metrics.d/uptime`); name it with --as",
            file.display()
        );
    }

    // The module, checked exactly as `check` checks the policy directory's.
    let max_size = config.module(&name).limits.module_size;
    let policy = Policy::read_unchecked(&name, World::of_module(&name), file, max_size)?;
    let loader = Loader::new(config.cache_dir.as_deref()).map_err(wasmtime_error)?;
    let component = loader.load_fresh(&policy)?.component;
    let warnings =
        verify(&config, &linker(loader.engine())?, &policy, &component).map_err(|e| anyhow!(e))?;

    // Its signature, checked now as `sme` will check it where it goes.
    let (_, file_name) = install::location(&name);
    let mut signature_path = file.as_os_str().to_owned();
    signature_path.push(SIGNATURE_SUFFIX);
    let signature_path = PathBuf::from(signature_path);
    let signature = trusted::read_file(&signature_path, MAX_SIGNATURE_BYTES, Strictness::Lax)
        .with_context(|| format!("signature {}", signature_path.display()))?;
    let signed = config
        .signing
        .verify(
            &name,
            &file_name,
            &policy.wasm,
            &policy.sha256,
            signature.as_deref(),
            config.module(&name).require_signature,
        )
        .map_err(|refusal| anyhow!("{}: not installed as {name}: {refusal}", file.display()))?;

    // Where it goes: the policy directory (and `metrics.d/`) as `sme` trusts
    // them; a missing one is created on the way, after the same checks.
    let (subdir, file_name) = install::location(&name);
    let dir_path = subdir.map_or_else(
        || config.policy_dir.clone(),
        |sub| config.policy_dir.join(sub),
    );
    let target = dir_path.join(&file_name);
    match TrustedDir::open(&dir_path, config.strictness) {
        Ok(_) => {}
        Err(error) if error.is_missing() => {}
        Err(error) => bail!("policy directory {}: refused: {error}", dir_path.display()),
    }

    // The pin, edited and validated before anything is written.
    let sha256 = policy.sha256_hex();
    let (text, change) = match &source.text {
        Some(text) => install::set_pin(text, &name, &sha256)
            .with_context(|| format!("configuration {}", source.path.display()))?,
        None => (install::new_file(&name, &sha256), PinChange::Added),
    };
    let edited = Config::parse(&text, &source.path).with_context(|| {
        format!(
            "pinning {name} in {} would make it invalid",
            source.path.display()
        )
    })?;
    if edited.module(&name).pin != Some(policy.sha256) {
        bail!(
            "configuration {}: the pin of {name} could not be written where SME reads it",
            source.path.display()
        );
    }
    let (config_dir, config_name) = trusted::split_file(&source.path)
        .with_context(|| format!("configuration {}", source.path.display()))?;
    let config_dir = TrustedDir::open(config_dir, config.strictness)
        .with_context(|| format!("configuration {}: refused", source.path.display()))?;
    let config_mode = std::fs::metadata(&source.path)
        .map(|meta| meta.permissions().mode() & 0o7777)
        .unwrap_or(FILE_MODE);

    let mut changes = Vec::new();
    // First the artifact, so the module is warm from its first run.
    let cached = if dry_run {
        match loader.cache_dir() {
            Some(dir) => Ok(dir.to_path_buf()),
            None => Err(NotStored::Off),
        }
    } else {
        loader.store(&policy, &component)
    };
    // `sme` never compiles a module this large inside a request: without
    // an artifact it could not run, so installing it would break the agent.
    let limit = config.module(&name).limits.compile_on_demand;
    if let Err(why) = &cached
        && policy.wasm.len() as u64 > limit
    {
        bail!(
            "{}: not installed: at {} KiB it is over the {} KiB `sme` compiles inside a request \
             (limit `compile_on_demand_kib`) and cannot be precompiled ({why}); configure a \
             usable cache_dir",
            file.display(),
            policy.wasm.len() >> 10,
            limit >> 10
        );
    }
    changes.push(match cached {
        Ok(path) => Change {
            what: "precompiled",
            would: "would precompile",
            path: Some(path),
            detail: "the first run maps it instead of compiling".to_owned(),
        },
        Err(why) => Change {
            what: "not precompiled",
            would: "would not precompile",
            path: None,
            detail: format!("{why}: the first run compiles it"),
        },
    });
    if !dry_run {
        let dir = TrustedDir::create(&dir_path, 0o755, config.strictness)
            .with_context(|| format!("policy directory {}: refused", dir_path.display()))?;
        // The signature first: between the two writes the old module meets
        // the new signature and is refused, never run unverified.
        let signature_name = format!("{file_name}{SIGNATURE_SUFFIX}");
        match &signature {
            Some(bytes) => dir
                .write_durable(&signature_name, bytes, FILE_MODE)
                .with_context(|| format!("writing {}", dir.join(&signature_name).display()))?,
            None => match dir.remove(&signature_name) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(error).with_context(|| {
                        format!("removing {}", dir.join(&signature_name).display())
                    });
                }
                _ => {}
            },
        }
        dir.write_durable(&file_name, &policy.wasm, FILE_MODE)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    if let Some(key) = signed {
        changes.push(Change {
            what: "signature installed",
            would: "would install signature",
            path: Some(dir_path.join(format!("{file_name}{SIGNATURE_SUFFIX}"))),
            detail: format!("verified, signed by trusted key {key}"),
        });
    }
    changes.push(Change {
        what: "installed",
        would: "would install",
        path: Some(target),
        detail: format!("sha256 {sha256}"),
    });
    if !dry_run && change != PinChange::Unchanged {
        config_dir
            .write_durable(config_name, text.as_bytes(), config_mode)
            .with_context(|| format!("writing {}", source.path.display()))?;
    }
    changes.push(Change {
        what: "pinned",
        would: "would pin",
        path: Some(source.path.clone()),
        detail: match (&change, &source.text) {
            (PinChange::Added, None) => "a new configuration file holding the pin".to_owned(),
            (PinChange::Added, Some(_)) => format!("[modules.\"{name}\"] sha256 added"),
            (PinChange::Updated(old), _) => {
                format!("[modules.\"{name}\"] sha256 updated from {old}")
            }
            (PinChange::Unchanged, _) => "already pinned to this sha256, left as it was".to_owned(),
        },
    });

    if json {
        let report = serde_json::json!({
            "module": name,
            "file": file.display().to_string(),
            "sha256": sha256,
            "dry_run": dry_run,
            "changes": changes.iter().map(|c| serde_json::json!({
                "change": c.what,
                "path": c.path.as_ref().map(|p| p.display().to_string()),
                "detail": c.detail,
            })).collect::<Vec<_>>(),
            "warnings": warnings,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for change in &changes {
            let path = change
                .path
                .as_ref()
                .map(|p| format!(" {}", p.display()))
                .unwrap_or_default();
            let what = if dry_run { change.would } else { change.what };
            println!("{what} {name}:{path} ({})", change.detail);
        }
        for warning in &warnings {
            println!("warning: {name} {warning}");
        }
        if dry_run {
            println!("dry run: nothing was changed");
        }
    }
    Ok(true)
}
