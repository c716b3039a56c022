//! `smectl inspect <module.wasm>`: what a module is, what it imports, and
//! what it would be allowed to do under the current configuration.

use std::fmt::Write as _;
use std::path::Path;

use sme::config::{Config, Env};
use sme::fs::trusted::{self, Strictness};
use sme::policy::inspect::{self, Description};
use sme::policy::loader::Loader;
use sme::policy::signing::{MAX_SIGNATURE_BYTES, ModuleSignature, SIGNATURE_SUFFIX};
use sme::policy::{Policy, World};

use super::{
    grant_json, grant_notes, grant_text, grant_warnings, imported_verbs, limits_json, limits_text,
    module_name, per_request_limits,
};

/// Prints the report; `Ok(false)` when the module would not run as named.
pub fn run(env: &Env, path: &Path, name: Option<&str>, json: bool) -> anyhow::Result<bool> {
    let config = Config::load(env)?;
    let name = name.map_or_else(|| module_name(&config, path), str::to_owned);
    let expected = World::of_module(&name);
    let max_size = config.module(&name).limits.module_size;
    let policy = Policy::read_unchecked(&name, expected, path, max_size)?;
    let loader = Loader::new(config.cache_dir.as_deref()).map_err(super::wasmtime_error)?;
    let component = loader.compile(&policy)?.component;
    let description = inspect::describe(loader.engine(), &component);
    let settings = config.module(&name);

    let mut problems = Vec::new();
    let pin = match settings.pin {
        Some(pin) if pin == policy.sha256 => "pinned, matches".to_owned(),
        Some(pin) => {
            problems.push(format!(
                "sha256 does not match the pin {}: it would be refused",
                hex::encode(pin)
            ));
            "MISMATCH".to_owned()
        }
        None if config.require_pinning => {
            problems
                .push("not pinned while require_pinning is set: it would be refused".to_owned());
            "not pinned".to_owned()
        }
        None => "not pinned".to_owned(),
    };
    let signature = signature(&config, &name, path, &policy, &mut problems)?;
    if description.world != Some(expected) {
        problems.push(format!(
            "as `{name}` it must implement the {} world (export `{}`)",
            expected.name(),
            expected.export()
        ));
    }
    let declared = match sme::config::settings::declared(&policy.wasm) {
        Ok(declared) => declared,
        Err(why) => {
            problems.push(format!("its settings cannot be read: {why}"));
            Vec::new()
        }
    };
    if let Err(error) = sme::config::settings::resolve(
        &name,
        &policy.wasm,
        &settings.settings,
        config.file.as_deref(),
    ) {
        problems.push(error.to_string());
    }
    let configured = |key: &str| {
        settings
            .settings
            .iter()
            .find(|s| s.key == key)
            .map(|s| (s.value.text(), s.line))
    };
    let imported = imported_verbs(&description);
    let warnings = grant_warnings(&settings.grant, settings.grant_source, &imported);
    let notes = grant_notes(&settings.grant, &imported);
    let wasi: Vec<&str> = description
        .imports
        .iter()
        .map(|import| import.name.as_str())
        .filter(|name| name.starts_with("wasi:"))
        .collect();

    if json {
        let items = |items: &[inspect::Item]| -> serde_json::Value {
            items
                .iter()
                .map(|i| serde_json::json!({"name": i.name, "functions": i.functions}))
                .collect()
        };
        let report = serde_json::json!({
            "path": path.display().to_string(),
            "module": name,
            "sha256": policy.sha256_hex(),
            "pin": pin,
            "signature": {
                "file": signature.file,
                "key_id": signature.key_id,
                "trusted_comment": signature.comment,
                "verdict": signature.verdict,
            },
            "world": description.world.map(World::name),
            "expected_world": expected.name(),
            "exports": items(&description.exports),
            "imports": items(&description.imports),
            "grants": grant_json(&settings.grant),
            "grant_source": super::grant_source(settings.grant_source),
            "limits": limits_json(&settings.limits, config.request_deadline),
            "per_request_limits": per_request_limits(),
            "settings": declared.iter().map(|d| {
                let set = configured(&d.name);
                serde_json::json!({
                    "name": d.name,
                    "type": d.kind.to_string(),
                    "default": d.default,
                    "configured": set.as_ref().map(|(value, _)| value),
                    "line": set.as_ref().map(|(_, line)| line),
                    "description": d.description,
                })
            }).collect::<Vec<_>>(),
            "problems": problems,
            "warnings": warnings,
            "notes": notes,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(path, &name, &policy, &pin, &description, &wasi));
        match (&signature.key_id, &signature.comment) {
            (Some(key), Some(comment)) => println!(
                "signature   key {key}, trusted comment {comment:?}: {}",
                signature.verdict
            ),
            _ => println!("signature   {}", signature.verdict),
        }
        print!("{}", grant_text(&settings.grant, settings.grant_source));
        print!("{}", limits_text(&settings.limits, config.request_deadline));
        if declared.is_empty() {
            println!("settings    none declared");
        } else {
            println!("settings");
            for d in &declared {
                let value = match configured(&d.name) {
                    Some((value, line)) => format!("{value} (configured, line {line})"),
                    None => format!("{} (default)", d.default),
                };
                println!(
                    "  {:<20} = {}  [{}] {}",
                    d.name,
                    super::printable(&value.to_string()),
                    d.kind,
                    super::printable(&d.description)
                );
            }
        }
        for problem in &problems {
            println!("problem: {problem}");
        }
        for warning in &warnings {
            println!("warning: {warning}");
        }
        for note in &notes {
            println!("note: {note}");
        }
    }
    Ok(problems.is_empty())
}

fn text(
    path: &Path,
    name: &str,
    policy: &Policy,
    pin: &str,
    description: &Description,
    wasi: &[&str],
) -> String {
    let mut text = String::new();
    writeln!(text, "module      {name} ({})", path.display()).unwrap();
    writeln!(text, "sha256      {} ({pin})", policy.sha256_hex()).unwrap();
    let world = description
        .world
        .map_or("none (no `run` or `collect` export)", World::name);
    writeln!(text, "world       {world}").unwrap();
    writeln!(text, "exports").unwrap();
    for export in &description.exports {
        writeln!(text, "  {}: {}", export.name, export.functions.join(", ")).unwrap();
    }
    writeln!(text, "imports").unwrap();
    for import in description
        .imports
        .iter()
        .filter(|i| !i.name.starts_with("wasi:"))
    {
        writeln!(
            text,
            "  {:<32} {}",
            import.name,
            import.functions.join(", ")
        )
        .unwrap();
    }
    if !wasi.is_empty() {
        writeln!(
            text,
            "  {} WASI interfaces ({}): given nothing, no files, environment, network or stdio",
            wasi.len(),
            wasi.join(", ")
        )
        .unwrap();
    }
    text
}

/// What `inspect` says of a module's signature file.
struct SignatureReport {
    file: Option<String>,
    key_id: Option<String>,
    comment: Option<String>,
    verdict: String,
}

/// Reads `<path>.minisig` and verifies it as `sme` would for `name`; a
/// refusal is also a problem.
fn signature(
    config: &Config,
    name: &str,
    path: &Path,
    policy: &Policy,
    problems: &mut Vec<String>,
) -> anyhow::Result<SignatureReport> {
    let mut file = path.as_os_str().to_owned();
    file.push(SIGNATURE_SUFFIX);
    let file = std::path::PathBuf::from(file);
    let bytes = trusted::read_file(&file, MAX_SIGNATURE_BYTES, Strictness::Lax)?;
    let parsed = bytes.as_deref().map(ModuleSignature::parse);
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let verdict = match config.signing.verify(
        name,
        &file_name,
        &policy.wasm,
        &policy.sha256,
        bytes.as_deref(),
        config.module(name).require_signature,
    ) {
        Ok(Some(key)) => format!("valid, signed by trusted key {key} for {name}"),
        Ok(None) => "none (not required)".to_owned(),
        Err(refusal) => {
            problems.push(format!("{refusal}: it would be refused"));
            format!("REFUSED: {refusal}")
        }
    };
    let parsed = parsed.and_then(Result::ok);
    Ok(SignatureReport {
        file: bytes.is_some().then(|| file.display().to_string()),
        key_id: parsed.as_ref().map(|s| s.key_id.to_string()),
        comment: parsed.as_ref().map(|s| s.trusted_comment().to_owned()),
        verdict,
    })
}
