//! `smectl state`: the values each module keeps with the `state` interface
//! (docs/state.md), with what its limits allow; a file that cannot be read
//! is listed as refused (every state call of its module then fails). With
//! `--reset <module>`, removes what that module keeps, after a `notice` line
//! in the audit log naming the operator's uid.

use std::fmt::Write as _;

use anyhow::bail;
use sme::config::{Config, Env};
use sme::sandbox::audit::Audit;
use sme::sandbox::kept;

/// Prints the report, or resets `reset`'s values; `Ok(false)` when a
/// module's file cannot be read.
pub fn run(env: &Env, reset: Option<&str>, json: bool) -> anyhow::Result<bool> {
    let config = Config::load(env)?;
    if let Some(module) = reset {
        let audit = Audit::open(config.audit_log.as_deref(), config.strictness)?;
        let uid = rustix::process::getuid().as_raw();
        audit.notice(&format!(
            "state reset: every value of module {module} removed by uid {uid} (smectl state --reset)"
        ))?;
        let cleared =
            kept::clear(config.state_dir.as_deref(), module).map_err(anyhow::Error::msg)?;
        if json {
            println!(
                "{}",
                serde_json::json!({ "module": module, "cleared": cleared })
            );
        } else if cleared {
            println!("removed every value of module {module}");
        } else {
            println!("module {module} kept no value");
        }
        return Ok(true);
    }
    let Some(state_dir) = config.state_dir.as_deref() else {
        bail!("no state directory is configured (state_dir, SME_STATE_DIR): no values are kept");
    };
    let records = kept::records(state_dir).unwrap_or_default();
    let broken: Vec<&String> = records.iter().filter_map(|r| r.as_ref().err()).collect();
    let mut kept: Vec<&kept::Record> = records.iter().filter_map(|r| r.as_ref().ok()).collect();
    kept.sort_by(|a, b| a.module.cmp(&b.module));
    if json {
        let modules: Vec<serde_json::Value> = kept
            .iter()
            .map(|record| {
                let limits = config.module(&record.module).limits;
                serde_json::json!({
                    "module": record.module,
                    "values": record.values,
                    "state_keys": limits.state_keys,
                    "state_kib": limits.state_bytes >> 10,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "modules": modules, "refused": broken })
        );
        return Ok(broken.is_empty());
    }
    let mut out = String::new();
    if kept.is_empty() && broken.is_empty() {
        writeln!(out, "no module keeps any value")?;
    }
    for record in kept {
        let limits = config.module(&record.module).limits;
        let bytes: usize = record.values.iter().map(|(k, v)| k.len() + v.len()).sum();
        writeln!(
            out,
            "module {}: {} of {} keys, {bytes} of {} bytes",
            super::printable(&record.module),
            record.values.len(),
            limits.state_keys,
            limits.state_bytes
        )?;
        for (key, value) in &record.values {
            writeln!(out, "  {key:?} = {value:?}")?;
        }
    }
    for why in &broken {
        writeln!(
            out,
            "refused: {}: every state call of its module fails until it is removed",
            super::printable(why)
        )?;
    }
    print!("{out}");
    Ok(broken.is_empty())
}
