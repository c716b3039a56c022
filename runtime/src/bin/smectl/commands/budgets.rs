//! `smectl budgets`: what each object spent of its budgets and when each
//! spend frees, and the break-glass `--reset <object> [<effect>]`, which
//! clears counts and leaves a `notice` line in the audit log naming the
//! operator's uid (docs/budgets.md).

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use sme::config::{Config, Env};
use sme::sandbox::audit::Audit;
use sme::sandbox::budgets::{self, Budget, Effect};
use sme::sandbox::ledger::{self, Ledger, When};

/// What to do.
#[derive(Debug)]
pub enum Action<'a> {
    /// List what is spent.
    Show,
    /// Clear an object's counts, of one effect or all.
    Reset {
        /// `container:<name>`, `service:<name>` or `unit:<name>`.
        object: &'a str,
        /// The effect; every one when `None`.
        effect: Option<&'a str>,
    },
}

/// Prints the report; `Ok(false)` when a kept count is corrupt or was
/// removed (its object's budgeted changes are refused).
pub fn run(env: &Env, action: Action<'_>, json: bool) -> anyhow::Result<bool> {
    let config = Config::load(env)?;
    match action {
        Action::Show => show(&config, json),
        Action::Reset { object, effect } => reset(&config, object, effect, json),
    }
}

fn show(config: &Config, json: bool) -> anyhow::Result<bool> {
    let now = ledger::now_ms();
    let Some(state_dir) = config.state_dir.as_deref() else {
        bail!(
            "no state directory is configured (state_dir, SME_STATE_DIR): budgets cannot be kept"
        );
    };
    let records = match Ledger::open_existing(state_dir) {
        Some(ledger) => ledger.records()?,
        None => Vec::new(),
    };
    let configured: Vec<&Budget> = config.all_budgets().collect();
    let mut rows = Vec::new();
    let broken: Vec<&String> = records.iter().filter_map(|r| r.as_ref().err()).collect();
    for record in records.iter().filter_map(|r| r.as_ref().ok()) {
        for (effect, times) in &record.spent {
            let frees = configured
                .iter()
                .filter(|budget| budget.effect.name() == effect)
                .map(|budget| budget.per)
                .max()
                .and_then(|per| times.iter().max().map(|last| last + per.as_millis() as u64));
            rows.push((record.object.as_str(), effect.as_str(), times, frees));
        }
    }
    if json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(object, effect, times, frees)| {
                serde_json::json!({
                    "object": object,
                    "effect": effect,
                    "spent_ms": times,
                    "all_free_at_ms": frees,
                })
            })
            .collect();
        let budgets: Vec<String> = configured.iter().map(|b| b.describe()).collect();
        println!(
            "{}",
            serde_json::json!({ "budgets": budgets, "spent": rows, "refused": broken })
        );
        return Ok(broken.is_empty());
    }
    let mut out = String::new();
    if configured.is_empty() {
        writeln!(out, "no budgets are configured")?;
    }
    for budget in &configured {
        writeln!(out, "budget {}", budget.describe())?;
    }
    if rows.is_empty() {
        writeln!(out, "nothing spent")?;
    }
    for (object, effect, times, frees) in rows {
        let last = times.iter().max().copied().unwrap_or_default();
        write!(
            out,
            "{object}  {effect}  {} spent, the last at {}",
            times.len(),
            ledger::utc(last)
        )?;
        match frees {
            Some(at) if at > now => writeln!(
                out,
                "; all free at {}",
                When {
                    at_ms: at,
                    now_ms: now
                }
            )?,
            Some(_) => writeln!(out, "; all free now")?,
            None => writeln!(out, "; no budget counts it now")?,
        }
    }
    for why in &broken {
        writeln!(
            out,
            "refused: {why}: sme refuses every change of its object a budget counts; clear it \
             with `smectl budgets --reset <object>` (the object sme's refusal names)"
        )?;
    }
    print!("{out}");
    Ok(broken.is_empty())
}

fn reset(config: &Config, object: &str, effect: Option<&str>, json: bool) -> anyhow::Result<bool> {
    let Some((kind, name)) = object.split_once(':') else {
        bail!(
            "{object:?} is not an object: expected container:<name>, service:<name> or unit:<name>"
        );
    };
    if !["container", "service", "unit"].contains(&kind) || name.is_empty() {
        bail!(
            "{object:?} is not an object: expected container:<name>, service:<name> or unit:<name>"
        );
    }
    let effect = effect
        .map(|name| {
            Effect::named(name).with_context(|| {
                let known: Vec<&str> = budgets::EFFECTS.iter().map(|info| info.name).collect();
                format!(
                    "unknown effect {name:?}: expected one of {}",
                    known.join(", ")
                )
            })
        })
        .transpose()?;
    // The audit line first: a reset nobody can see never happens.
    let audit = Audit::open(config.audit_log.as_deref(), config.strictness)?;
    let uid = rustix::process::getuid().as_raw();
    let what = effect.map_or("every effect".to_owned(), |e| e.name().to_owned());
    audit.notice(&format!(
        "budget reset: {what} of {object} cleared by uid {uid} (smectl budgets --reset)"
    ))?;
    let ledger = Ledger::open(config.state_dir.as_deref())?;
    let cleared = ledger.reset(object, effect)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "object": object, "effect": effect.map(Effect::name), "cleared": cleared })
        );
    } else if cleared {
        println!("cleared {what} of {object}");
    } else {
        println!("{object} had nothing spent of {what}");
    }
    Ok(true)
}
