//! `smectl run <service> <operation> [--dry-run]`: runs the policy as `sme`
//! would, against the real daemon, and shows its output, exit code and every
//! host call. With `--dry-run`, start/stop/restart/pause/unpause are
//! recorded and printed instead of performed (later inspections and listings
//! see the state they would have left, calls the daemon would refuse are
//! refused). A preview, not a sandbox: see `sme::docker::DryRun`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use sme::audit::Audit;
use sme::config::{Config, Env};
use sme::docker::{Docker, DryRun, Engine, RECORD_VERSION, RecordFile, RecordedModule, Recording};

/// Prints the report; `Ok(false)` when `sme` would have exited 1.
pub fn run(
    env: &Env,
    service: &str,
    operation: &str,
    dry_run: bool,
    record: Option<&Path>,
    json: bool,
) -> anyhow::Result<bool> {
    let config = Config::load(env)?;
    let audit = Audit::open(config.audit_log.as_deref(), config.strictness)?.capturing();
    let log = match sme::logging::init(&config) {
        Ok(log) => log,
        Err(dropped) => {
            audit.notice(&dropped)?;
            None
        }
    };
    let audit = Arc::new(if dry_run { audit.dry_run() } else { audit });
    let engine: Arc<dyn Docker> = Arc::new(Engine::connect(&config.docker_host)?);
    let dry = dry_run.then(|| Arc::new(DryRun::new(engine.clone())));
    let docker = dry.clone().map_or(engine, |d| d as Arc<dyn Docker>);
    let recording = record.map(|_| Arc::new(Recording::new(docker.clone())));
    let docker = recording.clone().map_or(docker, |r| r as Arc<dyn Docker>);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(sme::executor::serve(
        config,
        docker,
        audit.clone(),
        service,
        operation,
    ));
    if let Some(log) = log {
        log.flush();
    }
    let calls: Vec<serde_json::Value> = audit
        .captured()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["event"] == "host-call")
        .collect();
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
            output: outcome.output.clone(),
            exit_code: outcome.exit_code(),
        };
        let text = serde_json::to_string_pretty(&record)?;
        std::fs::write(file, text + "\n")
            .with_context(|| format!("{}: cannot write the recording", file.display()))?;
    }

    if json {
        let report = serde_json::json!({
            "service": service,
            "operation": operation,
            "dry_run": dry_run,
            "output": outcome.output,
            "exit_code": outcome.exit_code(),
            "host_calls": calls,
            "recorded": recorded.iter().map(|r| serde_json::json!({
                "verb": r.verb.name(),
                "container": r.container,
                "timeout_seconds": r.timeout_seconds,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("host calls ({}):", calls.len());
        for call in &calls {
            let detail = call["detail"]
                .as_str()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            println!(
                "  {:<8} {:<24} {:<6} {}{detail}",
                call["verb"].as_str().unwrap_or_default(),
                call["target"].as_str().unwrap_or_default(),
                call["decision"].as_str().unwrap_or_default(),
                call["result"].as_str().unwrap_or_default(),
            );
        }
        if dry_run {
            println!("dry run: recorded, not performed ({}):", recorded.len());
            for call in &recorded {
                println!("  would {} {}", call.verb, call.container);
            }
        }
        println!("output: {}", outcome.output);
        println!("exit code: {}", outcome.exit_code());
    }
    Ok(outcome.success)
}
