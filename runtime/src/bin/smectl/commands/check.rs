//! `smectl check`: validates the configuration and every module in the
//! policy directory, the way `sme` would load them, without running any.
//! Exit code 0 means every module would load; for CI and deploy pipelines.
//!
//! It also verifies the compiled-policy cache: each policy file's cached
//! artifact is compared, before anything deserializes it, with what
//! compiling the file gives now. An artifact that differs was not compiled
//! from that module; it is reported as a problem and removed.

use std::path::{Path, PathBuf};

use sme::config::{Config, Env};
use sme::inspect;
use sme::loader::{CacheVerdict, Loader};
use sme::policy::{self, Policy, World};
use wasmtime::component::Linker;

use super::{grant_warnings, imported_verbs, wasmtime_error};

/// The verdict on one module.
struct Entry {
    name: String,
    location: String,
    world: Option<&'static str>,
    sha256: Option<String>,
    problem: Option<String>,
    warnings: Vec<String>,
}

/// Prints the report; `Ok(false)` when anything would fail at run time.
pub fn run(env: &Env, json: bool) -> anyhow::Result<bool> {
    let config = match Config::load(env) {
        Ok(config) => config,
        Err(error) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "error": error.to_string()})
                );
            } else {
                println!("error: {error}");
            }
            return Ok(false);
        }
    };
    let loader = Loader::new(config.cache_dir.as_deref()).map_err(wasmtime_error)?;
    let mut linker = Linker::new(loader.engine());
    sme::host::add_to_linker(&mut linker).map_err(wasmtime_error)?;
    let checker = Checker {
        config: &config,
        loader: &loader,
        linker: &linker,
    };

    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let files = match operation_files(&config.policy_dir) {
        Ok(files) => files,
        Err(error) => {
            warnings.push(format!(
                "policy directory {} is not readable ({error}): only built-in policies will run",
                config.policy_dir.display()
            ));
            Vec::new()
        }
    };
    for path in &files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if sme::names::is_operation(&stem) {
            entries.push(checker.file(&stem, path));
        } else {
            warnings.push(format!(
                "{} is not named like an operation (lowercase letters, digits, dashes) and will never run",
                path.display()
            ));
        }
    }
    match policy::addon_paths(&config) {
        Ok(addons) => entries.extend(addons.iter().map(|(name, path)| checker.file(name, path))),
        Err(error) => entries.push(Entry {
            name: policy::METRICS_ADDONS.to_owned(),
            location: config
                .policy_dir
                .join(policy::METRICS_ADDONS)
                .display()
                .to_string(),
            world: Some(World::Metrics.name()),
            sha256: None,
            problem: Some(error.to_string()),
            warnings: Vec::new(),
        }),
    }
    for builtin in sme::builtin::all() {
        if !entries.iter().any(|e| e.name == builtin.operation) {
            entries.push(checker.builtin(builtin));
        }
    }
    for name in config.configured_modules() {
        let known = entries.iter().any(|e| e.name == name);
        if !known {
            warnings.push(format!(
                "[modules.\"{name}\"] is configured but there is no such module"
            ));
        }
    }
    if config.audit_log.is_none() {
        warnings.push("no audit_log is configured: host calls are not audited".to_owned());
    }
    let over = entries
        .iter()
        .filter(|e| config.module(&e.name).limits.deadline.as_secs() >= 20)
        .map(|e| e.name.clone())
        .collect::<Vec<_>>();
    if !over.is_empty() {
        warnings.push(format!(
            "deadline of {} reaches the agent's 20 s request timeout",
            over.join(", ")
        ));
    }
    if config.request_deadline.as_secs() >= 20 {
        warnings.push(format!(
            "request_deadline_ms of {} reaches the agent's 20 s request timeout",
            config.request_deadline.as_millis()
        ));
    }

    let ok = entries.iter().all(|e| e.problem.is_none());
    if json {
        print_json(&config, &entries, &warnings, ok)?;
    } else {
        print_text(&config, &entries, &warnings);
    }
    Ok(ok)
}

struct Checker<'a> {
    config: &'a Config,
    loader: &'a Loader,
    linker: &'a Linker<sme::host::PolicyState>,
}

impl Checker<'_> {
    fn file(&self, name: &str, path: &Path) -> Entry {
        let mut entry = Entry {
            name: name.to_owned(),
            location: path.display().to_string(),
            world: Some(World::of_module(name).name()),
            sha256: None,
            problem: None,
            warnings: Vec::new(),
        };
        let policy = match Policy::from_file(self.config, name, World::of_module(name), path) {
            Ok(policy) => policy,
            Err(error) => {
                entry.problem = Some(error.to_string());
                return entry;
            }
        };
        entry.sha256 = Some(policy.sha256_hex());
        // Before `verify` loads the module, which would use the artifact.
        if let Err(problem) = self.verify_cache(&policy) {
            entry.problem = Some(problem);
            return entry;
        }
        self.verify(&policy, &mut entry);
        entry
    }

    fn builtin(&self, builtin: &'static sme::builtin::Builtin) -> Entry {
        let policy = Policy::builtin(builtin);
        let mut entry = Entry {
            name: policy.name.clone(),
            location: "builtin".to_owned(),
            world: Some(builtin.world.name()),
            sha256: Some(policy.sha256_hex()),
            problem: None,
            warnings: Vec::new(),
        };
        self.verify(&policy, &mut entry);
        entry
    }

    /// Compares the cached artifact of a policy file with a fresh
    /// compilation; `Err` describes a mismatch (or a module that does not
    /// compile, which `verify` would report the same way).
    fn verify_cache(&self, policy: &Policy) -> Result<(), String> {
        match self.loader.verify_cached(policy) {
            Ok(CacheVerdict::NotCached | CacheVerdict::Matches) => Ok(()),
            Ok(CacheVerdict::Mismatch { artifact, removal }) => {
                let fate = match removal {
                    None => "removed it; the next run compiles the module again".to_owned(),
                    Some(error) => format!("could not remove it ({error}); remove it by hand"),
                };
                Err(format!(
                    "{policy}: cached artifact {} was not compiled from this module \
                     (sha256 {}): {fate}; whoever can write the cache directory can run code as sme",
                    artifact.display(),
                    policy.sha256_hex()
                ))
            }
            Err(error) => Err(error.to_string()),
        }
    }

    /// Loads, checks the world, checks every import can be satisfied, and
    /// compares imports with the grant.
    fn verify(&self, policy: &Policy, entry: &mut Entry) {
        let component = match self.loader.load(policy) {
            Ok(loaded) => loaded.component,
            Err(error) => {
                entry.problem = Some(error.to_string());
                return;
            }
        };
        if let Err(error) = self.linker.instantiate_pre(&component) {
            entry.problem = Some(format!(
                "{policy}: imports something SME does not provide: {}",
                sme::loader::one_line(&error)
            ));
            return;
        }
        let description = inspect::describe(self.loader.engine(), &component);
        let grant = self.config.module(&policy.name).grant;
        entry.warnings = grant_warnings(&grant, &imported_verbs(&description));
    }
}

/// The `*.wasm` files directly in the policy directory, sorted.
fn operation_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

fn print_text(config: &Config, entries: &[Entry], warnings: &[String]) {
    let file = config.file.as_ref().map_or_else(
        || "none (built-in defaults)".to_owned(),
        |f| f.display().to_string(),
    );
    println!("configuration  {file}");
    println!("policy dir     {}", config.policy_dir.display());
    for entry in entries {
        let verdict = if entry.problem.is_some() {
            "error"
        } else {
            "ok"
        };
        let sha = entry.sha256.as_deref().map(|s| &s[..12]).unwrap_or("-");
        println!(
            "{verdict:<8} {:<20} {:<10} {sha:<12} {}",
            entry.name,
            entry.world.unwrap_or("-"),
            entry.location
        );
        if let Some(problem) = &entry.problem {
            println!("         {problem}");
        }
        for warning in &entry.warnings {
            println!("         warning: {} {warning}", entry.name);
        }
    }
    for warning in warnings {
        println!("warning: {warning}");
    }
    let failed = entries.iter().filter(|e| e.problem.is_some()).count();
    println!("{} modules checked, {failed} with problems", entries.len());
}

fn print_json(
    config: &Config,
    entries: &[Entry],
    warnings: &[String],
    ok: bool,
) -> anyhow::Result<()> {
    let modules: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "module": e.name,
                "location": e.location,
                "world": e.world,
                "sha256": e.sha256,
                "ok": e.problem.is_none(),
                "problem": e.problem,
                "warnings": e.warnings,
            })
        })
        .collect();
    let report = serde_json::json!({
        "ok": ok,
        "configuration": config.file.as_ref().map(|f| f.display().to_string()),
        "policy_dir": config.policy_dir.display().to_string(),
        "modules": modules,
        "warnings": warnings,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
