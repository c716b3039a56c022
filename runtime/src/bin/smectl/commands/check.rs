//! `smectl check`: validates the configuration and every module in the
//! policy directory, the way `sme` would load them, without running any.
//! Exit code 0 means every module would load and could do something under
//! its grant; for CI and deploy pipelines. A module whose grant denies every
//! gated call it imports is a problem (it could only ever be refused), one
//! denied only some of them a warning.
//!
//! It also verifies the compiled-policy cache: each policy file's cached
//! artifact is compared, before anything deserializes it, with what
//! compiling the file gives now. An artifact that differs was not compiled
//! from that module; it is reported as a problem and removed.

use std::path::Path;

use sme::config::{Config, Env};
use sme::fs::trusted;
use sme::policy::loader::{CacheVerdict, Loader};
use sme::policy::{Origin, Policy, PolicyDir, PolicyError, World};
use sme::run::deployment::{Finding, Verdict};
use wasmtime::component::Linker;

use super::{verify, wasmtime_error};

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
    let linker = super::linker(loader.engine())?;
    let checker = Checker {
        config: &config,
        loader: &loader,
        linker: &linker,
    };
    let mut problems = Vec::new();

    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    // The same code `sme` uses decides which files are modules and whether
    // the directory and each file may be trusted.
    let dir = match PolicyDir::open(&config) {
        Ok(dir) => dir,
        Err(error) => {
            problems.push(error.to_string());
            None
        }
    };
    if let Some(dir) = &dir {
        match dir.operations() {
            Ok((operations, others)) => {
                for operation in operations {
                    let path = dir.path().join(format!("{operation}.wasm"));
                    let read = dir.operation(&config, &operation).transpose();
                    if let Some(read) = read {
                        entries.push(checker.file(&operation, &path, read));
                    }
                }
                for other in others {
                    warnings.push(format!(
                        "{} is not named like an operation (lowercase letters, digits, dashes) and will never run",
                        dir.path().join(format!("{other}.wasm")).display()
                    ));
                }
            }
            Err(error) => problems.push(error.to_string()),
        }
        match dir.addon_results(&config) {
            Ok(addons) => entries.extend(
                addons
                    .into_iter()
                    .map(|(name, path, read)| checker.file(&name, &path, read)),
            ),
            Err(error) => problems.push(error.to_string()),
        }
    }
    for builtin in sme::policy::builtin::all() {
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
    match &config.audit_log {
        None => warnings.push("no audit_log is configured: host calls are not audited".to_owned()),
        Some(path) => {
            if let Err(error) = trusted::check_file(path, config.strictness) {
                problems.push(format!("audit log {}: refused: {error}", path.display()));
            }
        }
    }
    if let Some(path) = &config.log_file
        && let Err(error) = trusted::check_file(path, config.strictness)
    {
        warnings.push(format!(
            "log_file {} cannot be used, logs would be dropped: {error}",
            path.display()
        ));
    }
    let deployment = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(sme::run::deployment::survey(&config));
    for finding in &deployment {
        match &finding.verdict {
            Verdict::Usable(_) => {}
            Verdict::Costly(why) => warnings.push(why.clone()),
            Verdict::Failing(why) => problems.push(format!("{}: {why}", finding.setting)),
        }
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

    let ok = problems.is_empty() && entries.iter().all(|e| e.problem.is_none());
    if json {
        print_json(&config, &deployment, &entries, &problems, &warnings, ok)?;
    } else {
        print_text(&config, &deployment, &entries, &problems, &warnings);
    }
    Ok(ok)
}

struct Checker<'a> {
    config: &'a Config,
    loader: &'a Loader,
    linker: &'a Linker<sme::host::PolicyState>,
}

impl Checker<'_> {
    fn file(&self, name: &str, path: &Path, read: Result<Policy, PolicyError>) -> Entry {
        let mut entry = Entry {
            name: name.to_owned(),
            location: path.display().to_string(),
            world: Some(World::of_module(name).name()),
            sha256: None,
            problem: None,
            warnings: Vec::new(),
        };
        let policy = match read {
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

    fn builtin(&self, builtin: &'static sme::policy::builtin::Builtin) -> Entry {
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
        // Loading a policy file stored its artifact; a module too large for
        // `sme` to compile in a request cannot run without one.
        let limit = self.config.module(&policy.name).limits.compile_on_demand;
        if matches!(policy.origin, Origin::File(_))
            && policy.wasm.len() as u64 > limit
            && !self.loader.has_artifact(policy)
        {
            entry.problem = Some(format!(
                "{policy}: at {} KiB it is over the {} KiB `sme` compiles inside a request \
                 (limit `compile_on_demand_kib`), and the cache directory cannot hold its \
                 precompiled artifact: sme would refuse it; configure a usable cache_dir",
                policy.wasm.len() >> 10,
                limit >> 10
            ));
            return;
        }
        match verify(self.config, self.linker, policy, &component) {
            Ok(warnings) => entry.warnings = warnings,
            Err(problem) => entry.problem = Some(problem),
        }
    }
}

fn print_text(
    config: &Config,
    deployment: &[Finding],
    entries: &[Entry],
    problems: &[String],
    warnings: &[String],
) {
    let file = config.file.as_ref().map_or_else(
        || "none (built-in defaults)".to_owned(),
        |f| f.display().to_string(),
    );
    println!("configuration  {file}");
    println!("policy dir     {}", config.policy_dir.display());
    for finding in deployment {
        let verdict = match &finding.verdict {
            Verdict::Usable(what) => what.as_str(),
            Verdict::Costly(_) => "not usable (see the warning below)",
            Verdict::Failing(_) => "not usable (see the error below)",
        };
        println!("{:<14} {}: {verdict}", finding.setting, finding.value);
    }
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
    for problem in problems {
        println!("error: {problem}");
    }
    for warning in warnings {
        println!("warning: {warning}");
    }
    let failed = entries.iter().filter(|e| e.problem.is_some()).count();
    let others = match problems.len() {
        0 => String::new(),
        1 => ", and 1 other problem".to_owned(),
        n => format!(", and {n} other problems"),
    };
    println!(
        "{} modules checked, {failed} with problems{others}",
        entries.len()
    );
}

fn print_json(
    config: &Config,
    deployment: &[Finding],
    entries: &[Entry],
    problems: &[String],
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
    let deployment: Vec<serde_json::Value> = deployment
        .iter()
        .map(|finding| {
            let (usable, detail) = match &finding.verdict {
                Verdict::Usable(what) => (true, what),
                Verdict::Costly(why) | Verdict::Failing(why) => (false, why),
            };
            serde_json::json!({
                "setting": finding.setting,
                "value": finding.value,
                "usable": usable,
                "detail": detail,
            })
        })
        .collect();
    let report = serde_json::json!({
        "ok": ok,
        "configuration": config.file.as_ref().map(|f| f.display().to_string()),
        "policy_dir": config.policy_dir.display().to_string(),
        "deployment": deployment,
        "modules": modules,
        "problems": problems,
        "warnings": warnings,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
