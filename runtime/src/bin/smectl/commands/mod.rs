//! One file per `smectl` subcommand. Each `run` prints its report and
//! returns whether the subject passed (exit 0) or not (exit 1).

pub mod audit;
pub mod bench;
pub mod budgets;
pub mod check;
pub mod inspect;
pub mod install;
pub mod new;
pub mod run;
pub mod sign;
pub mod state;
pub mod test;

use std::fmt::Write as _;
use std::time::Duration;

use sme::config::{Config, GrantSource};
use sme::host::PolicyState;
use sme::policy::Policy;
use sme::sandbox::grants::{Grant, Verb};
use sme::sandbox::limits::{LIMIT_KEYS, LimitKey, Limits, Reach};
use wasmtime::component::{Component, Linker};

/// Converts wasmtime's error (which is not a `std::error::Error`).
pub fn wasmtime_error(error: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!(sme::policy::loader::one_line(&error))
}

/// The grant as JSON: `{"stop": ["self"], ...}`.
pub fn grant_json(grant: &Grant) -> serde_json::Value {
    grant
        .verbs()
        .map(|verb| {
            let targets: Vec<String> = grant
                .targets(verb)
                .iter()
                .map(ToString::to_string)
                .collect();
            (verb.name().to_owned(), serde_json::Value::from(targets))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The grant as indented lines.
pub fn grant_text(grant: &Grant, source: GrantSource) -> String {
    let mut text = format!("grants      ({})\n", grant_source(source));
    if grant.verbs().next().is_none() {
        text.push_str("  nothing: every container and service call is denied\n");
    }
    for verb in grant.verbs() {
        let mutating = if verb.is_service_only() {
            "  (changes services)"
        } else if verb.is_mutating() {
            "  (changes containers)"
        } else {
            ""
        };
        writeln!(
            text,
            "  {:<9} {}{mutating}",
            verb.name(),
            grant.describe(verb)
        )
        .unwrap();
    }
    text
}

/// Where a grant came from, in words.
pub fn grant_source(source: GrantSource) -> &'static str {
    match source {
        GrantSource::Configured => "configured",
        GrantSource::Builtin => "the built-in policy's default",
        GrantSource::Default => "nothing configured: deny everything",
    }
}

/// Every limit key with the value that applies: a module's own, and the
/// request's (`request_deadline`), which every module of a request shares.
fn limit_values(limits: &Limits, request_deadline: Duration) -> Vec<(&'static LimitKey, u64)> {
    LIMIT_KEYS
        .iter()
        .map(|limit| match limit.reach {
            Reach::Module { get, .. } => (limit, get(limits)),
            Reach::Request => (limit, request_deadline.as_millis() as u64),
        })
        .collect()
}

/// The limits as JSON: every key of `[limits]` with its value.
pub fn limits_json(limits: &Limits, request_deadline: Duration) -> serde_json::Value {
    let values = limit_values(limits, request_deadline)
        .into_iter()
        .map(|(limit, value)| (limit.key.to_owned(), serde_json::Value::from(value)))
        .collect();
    serde_json::Value::Object(values)
}

/// The limit keys that set one budget for the whole request, not a
/// module's own.
pub fn per_request_limits() -> Vec<&'static str> {
    LIMIT_KEYS
        .iter()
        .filter(|limit| matches!(limit.reach, Reach::Request))
        .map(|limit| limit.key)
        .collect()
}

/// The limits on one line: the module's own, then the request's.
pub fn limits_text(limits: &Limits, request_deadline: Duration) -> String {
    let (mut own, mut shared) = (Vec::new(), Vec::new());
    for (limit, value) in limit_values(limits, request_deadline) {
        match limit.reach {
            Reach::Module { .. } => own.push(limit.show(value)),
            Reach::Request => shared.push(limit.show(value)),
        }
    }
    format!(
        "limits      {}; shared by the whole request: {}\n",
        own.join(", "),
        shared.join(", ")
    )
}

/// The module name a file has: its path under the policy directory without
/// `.wasm` (`stop`, `metrics.d/uptime`), else its file stem.
pub fn module_name(config: &Config, path: &std::path::Path) -> String {
    let absolute =
        |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let relative = absolute(path)
        .strip_prefix(absolute(&config.policy_dir))
        .ok()
        .map(|p| p.with_extension("").display().to_string());
    relative.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// Verbs a module imports, from its imports.
pub fn imported_verbs(description: &sme::policy::inspect::Description) -> Vec<Verb> {
    let mut verbs: Vec<Verb> = description
        .imports
        .iter()
        .flat_map(|import| {
            import
                .functions
                .iter()
                .filter_map(|function| sme::policy::inspect::verb_of(&import.name, function))
        })
        .collect();
    verbs.sort();
    verbs.dedup();
    verbs
}

/// Whether a module imports every container call there is, as a
/// componentize-py build does (it imports the whole world, whatever the
/// policy calls): its imports then say nothing about what it needs.
pub fn imports_whole_world(imported: &[Verb]) -> bool {
    // The container verbs: a build against the world before `services`
    // imports all of them and none of the service verbs.
    Verb::GRANTABLE
        .iter()
        .filter(|verb| !verb.is_service_only())
        .all(|verb| imported.contains(verb))
}

/// Mismatches between what a module imports and what it is granted. A
/// module that imports the whole world gets no warning for the calls it is
/// not granted: see [`grant_notes`].
pub fn grant_warnings(grant: &Grant, source: GrantSource, imported: &[Verb]) -> Vec<String> {
    let mut warnings = Vec::new();
    let whole_world = imports_whole_world(imported);
    for &verb in imported.iter().filter(|verb| verb.is_gated()) {
        if !grant.has(verb) && !whole_world {
            warnings.push(format!(
                "imports {verb} but is granted {verb} on {}: every {verb} call will be denied",
                grant.describe(verb)
            ));
        }
    }
    for verb in grant.verbs() {
        // The built-in grants carry the default policies' Swarm verbs; a
        // module of the operator's own under them chose nothing to remove.
        let builtin_swarm = source == GrantSource::Builtin && verb.is_service_only();
        if !imported.contains(&verb) && !builtin_swarm {
            warnings.push(format!(
                "is granted {verb} but never imports it: the grant can be removed"
            ));
        }
    }
    warnings
}

/// What `inspect` says, without alarm, about a module that imports the
/// whole world: which of its imports its grant does not cover.
pub fn grant_notes(grant: &Grant, imported: &[Verb]) -> Vec<String> {
    if !imports_whole_world(imported) {
        return Vec::new();
    }
    let outside: Vec<&str> = Verb::GRANTABLE
        .iter()
        .filter(|verb| imported.contains(verb) && !grant.has(**verb))
        .map(|verb| verb.name())
        .collect();
    let mut notes = vec![
        "imports every host function (as componentize-py builds do), so its imports do not \
         tell which calls it makes"
            .to_owned(),
    ];
    if !outside.is_empty() {
        notes.push(format!(
            "not granted, and answered `denied` if it ever calls them: {}",
            outside.join(", ")
        ));
    }
    notes
}

/// A linker with every host function `sme` provides, to check that a
/// module's imports can be satisfied.
pub fn linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<PolicyState>> {
    let mut linker = Linker::new(engine);
    sme::host::add_to_linker(&mut linker).map_err(wasmtime_error)?;
    Ok(linker)
}

/// Checks a compiled module as `sme` would before running it, and what it
/// could do: everything it imports is provided, its settings resolve, and
/// its grant lets it do something. `Ok` carries the warnings (calls it
/// imports but may make on no container, grants it never uses); `Err` the
/// problem, on one line naming the module.
pub fn verify(
    config: &Config,
    linker: &Linker<PolicyState>,
    policy: &Policy,
    component: &Component,
) -> Result<Vec<String>, String> {
    if let Err(error) = linker.instantiate_pre(component) {
        return Err(format!(
            "{policy}: imports something SME does not provide: {}",
            sme::policy::loader::one_line(&error)
        ));
    }
    let module = config.module(&policy.name);
    sme::config::settings::resolve(
        &policy.name,
        &policy.wasm,
        &module.settings,
        config.file.as_deref(),
    )
    .map_err(|error| error.to_string())?;
    let description = sme::policy::inspect::describe(linker.engine(), component);
    let imported = imported_verbs(&description);
    if module.grant.denies_everything(&imported) {
        let gated: Vec<&str> = imported
            .iter()
            .filter(|verb| verb.is_gated())
            .map(|verb| verb.name())
            .collect();
        return Err(format!(
            "{policy}: can do nothing: it imports {} and is granted none of them ({}), so every \
             container call it makes would be denied; grant what it needs under [modules.\"{}\".grants]",
            gated.join(", "),
            grant_source(module.grant_source),
            policy.name
        ));
    }
    let mut warnings = grant_warnings(&module.grant, module.grant_source, &imported);
    // A componentize-py build imports `state` whether it uses it or not.
    if imported.contains(&Verb::State)
        && !imports_whole_world(&imported)
        && let Err(why) = sme::sandbox::kept::usable(config.state_dir.as_deref())
    {
        warnings.push(format!(
            "imports state, but its values cannot be kept: {why}; every state call will answer \
             limit-exceeded (docs/state.md)"
        ));
    }
    Ok(warnings)
}

/// A module's message on one terminal line: control characters escaped.
pub fn printable(message: &str) -> String {
    message
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}
