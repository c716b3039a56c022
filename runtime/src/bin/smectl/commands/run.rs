//! `smectl run <service> <operation> [--dry-run] [--stable]`: runs the policy as `sme`
//! would, against the real daemon, and shows its output, exit code and every
//! host call. With `--dry-run`, start/stop/restart/pause/unpause and a Swarm
//! service's scale/redeploy are recorded and printed instead of performed
//! (later inspections and listings see the state they would have left, calls
//! the daemon would refuse are refused). A preview, not a sandbox: see
//! `sme::backend::docker::DryRun`.
//!
//! The module's log messages (`sme_guest::log::*`) are shown with its `log`
//! host call, in order, whether or not logging is on. With `--stable`, the
//! JSON leaves out what differs from run to run of the same request (each
//! call's time, duration and invocation ID), so it can be kept as a golden
//! file; the module's output is printed as it answered.

use super::printable;
use sme::fs::new_file::NewFile;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use sme::backend::recording::{RECORD_VERSION, RecordFile, RecordedModule, Recording};
use sme::backend::{self, Kind};
use sme::config::{Config, Env};
use sme::sandbox::audit::Audit;
use sme::sandbox::grants::Verb;
use sme::sandbox::ledger::Counting;
use sme::sim::{DryRun, Recorded, Scaled};

/// Prints the report; `Ok(false)` when `sme` would have exited 1.
pub fn run(
    env: &Env,
    service: &str,
    operation: &str,
    dry_run: bool,
    record: Option<&Path>,
    stable: bool,
    json: bool,
) -> anyhow::Result<bool> {
    let mut config = Config::load(env)?;
    if dry_run {
        // A dry run says what budgets would answer, and spends none.
        config.counting = Counting::Consult;
    }
    // The recording's file is started before anything runs, so a path that
    // cannot be written fails with nothing done; it replaces the target only
    // once whole, and never through a link planted there.
    let mut record_file = record
        .map(|file| {
            NewFile::create(file)
                .with_context(|| format!("{}: cannot write the recording", file.display()))
        })
        .transpose()?;
    let audit = Audit::open(config.audit_log.as_deref(), config.strictness)?.capturing();
    let log = match sme::run::logging::init(&config) {
        Ok(log) => log,
        Err(dropped) => {
            audit.notice(&dropped)?;
            None
        }
    };
    let audit = Arc::new(if dry_run { audit.dry_run() } else { audit });
    let engine = backend::connect(
        &config.docker_host,
        config.counter_roots(),
        config.systemd.bus(),
    )?;
    let dry = dry_run.then(|| Arc::new(DryRun::new(engine.clone())));
    let engines = dry.as_ref().map_or(engine, DryRun::backends);
    let recording = record.map(|_| Arc::new(Recording::new(engines.clone())));
    let engines = recording.as_ref().map_or(engines, Recording::backends);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(sme::run::executor::serve(
        config,
        engines,
        audit.clone(),
        service,
        operation,
    ));
    if let Some(log) = log {
        log.flush();
    }
    let calls = host_calls(&audit.captured(), stable);
    let recorded = dry.map(|d| d.recorded()).unwrap_or_default();
    if let (Some(file), Some(recording)) = (record, recording) {
        let modules = audit
            .captured()
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["event"] == "invocation" && line["module"].is_string())
            .map(|line| RecordedModule {
                name: line["module"].as_str().unwrap_or_default().to_owned(),
                sha256: line["sha256"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        let record = RecordFile {
            sme_recording: RECORD_VERSION,
            service: service.to_owned(),
            operation: operation.to_owned(),
            modules,
            dry_run,
            calls: recording.exchanges(),
            units: recording.unit_exchanges(),
            output: outcome.output.clone(),
            exit_code: outcome.exit_code(),
        };
        let text = serde_json::to_string_pretty(&record)?;
        if let Some(out) = record_file.take() {
            out.commit((text + "\n").as_bytes())
                .with_context(|| format!("{}: cannot write the recording", file.display()))?;
        }
    }

    if json {
        let report = serde_json::json!({
            "service": service,
            "operation": operation,
            "dry_run": dry_run,
            "output": outcome.output,
            "exit_code": outcome.exit_code(),
            "host_calls": calls,
            "recorded": recorded.iter().map(recorded_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("host calls ({}):", calls.len());
        for call in &calls {
            if let Some(message) = call["message"].as_str() {
                println!(
                    "  {:<8} {} {}: {}",
                    "log",
                    call["module"].as_str().unwrap_or_default(),
                    call["level"].as_str().unwrap_or_default(),
                    printable(message),
                );
                continue;
            }
            let detail = call["detail"]
                .as_str()
                .map(|d| format!(": {}", printable(d)))
                .unwrap_or_default();
            println!(
                "  {:<8} {:<24} {:<6} {}{detail}",
                call["verb"].as_str().unwrap_or_default(),
                printable(call["target"].as_str().unwrap_or_default()),
                call["decision"].as_str().unwrap_or_default(),
                call["result"].as_str().unwrap_or_default(),
            );
            // What budgets and windows found for a change they let through.
            if let Some(limits) = call["limits"].as_str() {
                println!("           {}", printable(limits));
            }
        }
        if dry_run {
            println!("dry run: recorded, not performed ({}):", recorded.len());
            for call in &recorded {
                println!("  would {}", would(call));
            }
        }
        // The module's own text: escaped, so it cannot drive the terminal.
        println!("output: {}", printable(&outcome.output));
        println!("exit code: {}", outcome.exit_code());
    }
    Ok(outcome.success)
}

/// A recorded call in the JSON report: a container's lifecycle call names
/// its `container`, a service call its `service` (and a scale what it sets).
fn recorded_json(call: &Recorded) -> serde_json::Value {
    match (call.verb, &call.scale) {
        (Verb::Scale | Verb::Redeploy, scale) => {
            let mut json = serde_json::json!({
                "verb": call.verb.name(),
                "service": call.target,
            });
            if let Some(Scaled { replicas, labels }) = scale {
                json["replicas"] = serde_json::json!(replicas);
                json["labels"] = labels
                    .iter()
                    .map(|(key, value)| (key.clone(), serde_json::json!(value)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            json
        }
        _ => {
            // A container's call names it as before; a unit's says so.
            let object = match call.kind {
                Kind::Unit => "unit",
                Kind::Container | Kind::Service => "container",
            };
            serde_json::json!({
                "verb": call.verb.name(),
                object: call.target,
                "timeout_seconds": call.timeout_seconds,
            })
        }
    }
}

/// What a recorded call would have done, for people: `stop edgex-ui`,
/// `scale edgex_ui to 0 replicas, setting sme.note.replicas=2`.
fn would(call: &Recorded) -> String {
    let Some(Scaled { replicas, labels }) = &call.scale else {
        return format!("{} {}", call.verb, call.target);
    };
    let mut text = format!("scale {} to {replicas} replicas", call.target);
    let (set, removed): (Vec<_>, Vec<_>) = labels.iter().partition(|(_, value)| value.is_some());
    if !set.is_empty() {
        let set: Vec<String> = set
            .iter()
            .map(|(key, value)| {
                format!("{key}={}", printable(value.as_deref().unwrap_or_default()))
            })
            .collect();
        text += &format!(", setting {}", set.join(" "));
    }
    if !removed.is_empty() {
        let removed: Vec<&str> = removed.iter().map(|(key, _)| key.as_str()).collect();
        text += &format!(", removing {}", removed.join(" "));
    }
    text
}

/// Per-call values that differ between two runs of the same request.
const PER_RUN: [&str; 3] = ["invocation", "time", "duration_us"];

/// The host-call lines of the captured audit trail, in order; a `log` call
/// carries the module's `level` and `message` (captured just before its
/// line). With `stable`, without [`PER_RUN`] values.
fn host_calls(captured: &[String], stable: bool) -> Vec<serde_json::Value> {
    let mut calls = Vec::new();
    let mut said: Option<serde_json::Value> = None;
    for line in captured {
        let Ok(mut line) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match line["event"].as_str() {
            Some("log") => said = Some(line),
            Some("host-call") => {
                if line["verb"] == "log"
                    && let Some(said) = said.take()
                {
                    line["level"] = said["level"].clone();
                    line["message"] = said["message"].clone();
                }
                if stable && let Some(fields) = line.as_object_mut() {
                    for key in PER_RUN {
                        fields.remove(key);
                    }
                }
                calls.push(line);
            }
            _ => {}
        }
    }
    calls
}
