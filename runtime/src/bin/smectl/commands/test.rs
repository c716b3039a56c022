//! `smectl test [SCENARIO...] [--module FILE] [--as NAME] [--replay FILE]`:
//! runs scenarios against the simulated Docker Engine, or a module against
//! a recording, with no daemon (see docs/policy-kit.md).
//!
//! With no arguments, the current directory must be a policy project: its
//! `Cargo.toml` names the module (`[package.metadata.sme] module`), the
//! built file is `<target>/wasm32-wasip2/release/<lib>.wasm`, and the
//! scenarios are `scenarios/*.toml`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use sme::backend::Backends;
use sme::backend::recording::RecordFile;
use sme::config::{Config, Env};
use sme::policy::loader::Loader;
use sme::policy::{Policy, World};
use sme::run::executor::Outcome;
use sme::sandbox::limits::Limits;
use sme::sim::Replay;
use sme::sim::scenario::{self, Difference, Report, Scenario, Subject};

/// What `smectl test` was asked.
#[derive(Debug)]
pub struct Args {
    /// Scenario files.
    pub scenarios: Vec<PathBuf>,
    /// A built module to test instead of the deployment's.
    pub module: Option<PathBuf>,
    /// The module's name (`stop`, `metrics.d/uptime`).
    pub name: Option<String>,
    /// A recording to replay.
    pub replay: Option<PathBuf>,
    /// Print JSON.
    pub json: bool,
}

/// The verdict on one scenario or recording.
struct Verdict {
    name: String,
    file: PathBuf,
    description: Option<String>,
    ran: Option<(Outcome, Vec<String>)>,
    /// Why it could not run at all.
    error: Option<String>,
    differences: Vec<Difference>,
    micros: u128,
}

impl Verdict {
    fn passed(&self) -> bool {
        self.error.is_none() && self.differences.is_empty()
    }
}

/// Runs the tests; `Ok(false)` when any failed.
pub fn run(env: &Env, mut args: Args) -> anyhow::Result<bool> {
    if args.scenarios.is_empty() && args.module.is_none() && args.replay.is_none() {
        let project = Project::here()?;
        args.module = Some(project.module_file()?);
        args.scenarios = project.scenarios()?;
        args.name = args.name.or(Some(project.module));
    }
    let subject = match &args.module {
        Some(file) => Subject::Module(module(env, file, args.name.as_deref())?),
        None => Subject::Deployment,
    };
    let cache_dir = test_cache_dir();
    if let Subject::Module(policy) = &subject {
        // Compiled (and cached) before any scenario runs, so that a large
        // module's compile is not paid from a scenario's time budget.
        let loader = Loader::new(cache_dir.as_deref()).map_err(super::wasmtime_error)?;
        loader.load(policy)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut verdicts = Vec::new();
    for file in &args.scenarios {
        verdicts.push(runtime.block_on(scenario_verdict(
            env,
            &subject,
            file,
            cache_dir.as_deref(),
        )));
    }
    if let Some(recording) = &args.replay {
        verdicts.push(runtime.block_on(replay_verdict(
            env,
            &subject,
            recording,
            cache_dir.as_deref(),
        )));
    }
    if verdicts.is_empty() {
        bail!("nothing to test: give scenario files or --replay FILE");
    }
    let passed = verdicts.iter().filter(|v| v.passed()).count();
    let failed = verdicts.len() - passed;
    if args.json {
        let report = serde_json::json!({
            "passed": passed,
            "failed": failed,
            "tests": verdicts.iter().map(verdict_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for verdict in &verdicts {
            print!("{}", verdict_text(verdict));
        }
        println!("{passed} passed, {failed} failed");
    }
    Ok(failed == 0)
}

/// The module file `file`, named `name` or by its file stem.
fn module(env: &Env, file: &Path, name: Option<&str>) -> anyhow::Result<Policy> {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = match name {
        Some(name) => name.to_owned(),
        None => stem
            .filter(|stem| sme::config::is_module_name(stem))
            .with_context(|| {
                format!(
                    "{}: cannot tell which module this is from its name; pass --as <operation>",
                    file.display()
                )
            })?,
    };
    if !sme::config::is_module_name(&name) {
        bail!(
            "--as {name:?}: expected an operation like \"stop\" or an add-on like \"metrics.d/uptime\""
        );
    }
    // The deployment's size limit for it, when there is a deployment.
    let max_size = Config::load(env).map_or(Limits::default().module_size, |config| {
        config.module(&name).limits.module_size
    });
    Ok(Policy::read_unchecked(
        &name,
        World::of_module(&name),
        file,
        max_size,
    )?)
}

async fn scenario_verdict(
    env: &Env,
    subject: &Subject,
    file: &Path,
    cache_dir: Option<&Path>,
) -> Verdict {
    let started = Instant::now();
    let mut verdict = Verdict {
        name: file
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
        file: file.to_path_buf(),
        description: None,
        ran: None,
        error: None,
        differences: Vec::new(),
        micros: 0,
    };
    let scenario = match Scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            verdict.error = Some(error.to_string());
            return verdict;
        }
    };
    verdict.description = scenario.description.clone();
    let config = match scenario.config(env, cache_dir) {
        Ok(config) => config,
        Err(error) => {
            verdict.error = Some(format!("{}: {error}", file.display()));
            return verdict;
        }
    };
    let engine = Arc::new(scenario.engine());
    let units = Arc::new(scenario.units());
    let backends = Backends::of(engine.clone()).with_units(units.clone());
    // The first request, then each step's on the same engine, counts and
    // kept values, the clock moved on by its `after` first.
    let mut requests = vec![(String::new(), scenario.clone())];
    for (index, step) in scenario.steps.iter().enumerate() {
        requests.push((
            format!("then[{}] ", index + 1),
            Scenario {
                service: step.service.clone(),
                operation: step.operation.clone(),
                expect: step.expect.clone(),
                ..scenario.clone()
            },
        ));
    }
    for (index, (label, request)) in requests.iter().enumerate() {
        if index > 0 {
            scenario
                .clock
                .advance(scenario.steps[index - 1].after.as_millis() as u64);
        }
        let ran = match scenario::run(request, subject, config.clone(), backends.clone()).await {
            Ok(ran) => ran,
            Err(error) => {
                verdict.error = Some(format!("{}: {label}{error}", file.display()));
                break;
            }
        };
        let report = Report {
            outcome: ran.outcome,
            calls: ran.calls,
            after: engine.containers(),
            services_after: engine.service_states(),
            units_after: units.states(),
        };
        verdict
            .differences
            .extend(
                report
                    .differences(&request.expect)
                    .into_iter()
                    .map(|d| Difference {
                        what: format!("{label}{}", d.what),
                        ..d
                    }),
            );
        if index == 0 {
            verdict.ran = Some((report.outcome, report.calls));
        }
    }
    verdict.micros = started.elapsed().as_micros();
    verdict
}

async fn replay_verdict(
    env: &Env,
    subject: &Subject,
    file: &Path,
    cache_dir: Option<&Path>,
) -> Verdict {
    let started = Instant::now();
    let mut verdict = Verdict {
        name: format!("replay of {}", file.display()),
        file: file.to_path_buf(),
        description: None,
        ran: None,
        error: None,
        differences: Vec::new(),
        micros: 0,
    };
    let record = match read_recording(file) {
        Ok(record) => record,
        Err(error) => {
            verdict.error = Some(format!("{error:#}"));
            return verdict;
        }
    };
    let scenario = Scenario {
        name: verdict.name.clone(),
        path: file.to_path_buf(),
        description: None,
        service: record.service.clone(),
        operation: Some(record.operation.clone()),
        containers: Vec::new(),
        services: Vec::new(),
        swarm_manager: true,
        config: scenario::ConfigSource::Deployment,
        swarm: scenario::SwarmSettings::default(),
        units: Vec::new(),
        systemd: scenario::SystemdSettings::default(),
        unreachable: false,
        expect: scenario::Expect::default(),
        clock: Default::default(),
        spent: Vec::new(),
        kept: Default::default(),
        steps: Vec::new(),
    };
    let config: Result<Config, String> = scenario.config(env, cache_dir);
    let replay = Arc::new(Replay::new(record.calls.clone(), record.units.clone()));
    let ran = match config {
        Ok(config) => scenario::run(&scenario, subject, config, replay.backends()).await,
        Err(error) => Err(error),
    };
    match ran {
        Ok(ran) => {
            if let Some((what, difference)) = replay.difference() {
                verdict.differences.push(Difference {
                    what: what.into(),
                    expected: String::new(),
                    actual: difference,
                });
            }
            let mut differ = |what: &str, expected: String, actual: String| {
                if expected != actual {
                    verdict.differences.push(Difference {
                        what: what.into(),
                        expected,
                        actual,
                    });
                }
            };
            differ("output", record.output.clone(), ran.outcome.output.clone());
            differ(
                "exit code",
                record.exit_code.to_string(),
                ran.outcome.exit_code().to_string(),
            );
            verdict.ran = Some((ran.outcome, ran.calls));
        }
        Err(error) => verdict.error = Some(format!("{}: {error}", file.display())),
    }
    verdict.micros = started.elapsed().as_micros();
    verdict
}

/// The largest recording read.
const MAX_RECORDING_BYTES: u64 = 64 << 20;

fn read_recording(file: &Path) -> anyhow::Result<RecordFile> {
    let metadata = std::fs::metadata(file).with_context(|| file.display().to_string())?;
    if !metadata.is_file() || metadata.len() > MAX_RECORDING_BYTES {
        bail!("{}: not a regular file of at most 64 MiB", file.display());
    }
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    RecordFile::parse(&text).with_context(|| file.display().to_string())
}

fn verdict_json(verdict: &Verdict) -> serde_json::Value {
    let (output, exit_code, calls) = match &verdict.ran {
        Some((outcome, calls)) => (
            Some(outcome.output.clone()),
            Some(outcome.exit_code()),
            Some(calls.clone()),
        ),
        None => (None, None, None),
    };
    serde_json::json!({
        "name": verdict.name,
        "file": verdict.file,
        "passed": verdict.passed(),
        "error": verdict.error,
        "differences": verdict.differences,
        "output": output,
        "exit_code": exit_code,
        "calls": calls,
    })
}

fn verdict_text(verdict: &Verdict) -> String {
    use std::fmt::Write as _;
    let status = if verdict.passed() { "ok  " } else { "FAIL" };
    let millis = verdict.micros as f64 / 1000.0;
    let mut text = format!("{status}  {}  ({millis:.1} ms)\n", verdict.name);
    if verdict.passed() {
        return text;
    }
    if let Some(description) = &verdict.description {
        writeln!(text, "      {description}").unwrap();
    }
    if let Some(error) = &verdict.error {
        writeln!(text, "      error: {error}").unwrap();
    }
    for difference in &verdict.differences {
        if difference.expected.is_empty() && difference.what.ends_with(" calls") {
            writeln!(text, "      {}: {}", difference.what, difference.actual).unwrap();
            continue;
        }
        writeln!(text, "      {} (- expected, + actual):", difference.what).unwrap();
        let (expected, actual) = if difference.what == "output" {
            (
                format!("{:?}", difference.expected),
                format!("{:?}", difference.actual),
            )
        } else {
            (difference.expected.clone(), difference.actual.clone())
        };
        for line in diff_lines(&expected, &actual) {
            writeln!(text, "        {line}").unwrap();
        }
    }
    text
}

/// A line diff (longest common subsequence): `  ` kept, `- ` only
/// expected, `+ ` only actual.
fn diff_lines(expected: &str, actual: &str) -> Vec<String> {
    let a: Vec<&str> = expected.split('\n').collect();
    let b: Vec<&str> = actual.split('\n').collect();
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut lines) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push(format!("  {}", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(format!("- {}", a[i]));
            i += 1;
        } else {
            lines.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    lines
}

/// Where `smectl test` keeps compiled modules: `$XDG_CACHE_HOME/sme`, else
/// `~/.cache/sme`, private to the user (an unusable one is not used).
fn test_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    let dir = base.join("sme");
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .ok()?;
    }
    Some(dir)
}

/// A policy project: a crate whose `Cargo.toml` names the module it builds.
#[derive(Debug)]
struct Project {
    dir: PathBuf,
    module: String,
    lib: String,
}

impl Project {
    fn here() -> anyhow::Result<Project> {
        let dir = std::env::current_dir().context("the current directory")?;
        let manifest = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).map_err(|_| {
            anyhow::anyhow!(
                "no scenarios given and no policy project here ({} is missing); \
                 pass scenario files, or run in a project made by `smectl new`",
                manifest.display()
            )
        })?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{}: not a Cargo manifest", manifest.display()))?;
        let package = table.get("package").and_then(toml::Value::as_table);
        let module = package
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("sme"))
            .and_then(|s| s.get("module"))
            .and_then(toml::Value::as_str)
            .with_context(|| {
                format!(
                    "{}: no [package.metadata.sme] module = \"<operation>\", so this is not a \
                     policy project; pass scenario files and --module",
                    manifest.display()
                )
            })?
            .to_owned();
        let lib = table
            .get("lib")
            .and_then(|l| l.get("name"))
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                package
                    .and_then(|p| p.get("name"))
                    .and_then(toml::Value::as_str)
                    .map(|name| name.replace('-', "_"))
            })
            .with_context(|| format!("{}: no package name", manifest.display()))?;
        Ok(Project { dir, module, lib })
    }

    /// The built module: under `$CARGO_TARGET_DIR`, else the nearest
    /// `target/` from the project up.
    fn module_file(&self) -> anyhow::Result<PathBuf> {
        let relative = Path::new("wasm32-wasip2/release").join(format!("{}.wasm", self.lib));
        let mut candidates: Vec<PathBuf> = std::env::var_os("CARGO_TARGET_DIR")
            .map(|dir| self.dir.join(dir).join(&relative))
            .into_iter()
            .collect();
        candidates.extend(
            self.dir
                .ancestors()
                .map(|dir| dir.join("target").join(&relative)),
        );
        candidates
            .iter()
            .find(|file| file.is_file())
            .cloned()
            .with_context(|| {
                format!(
                    "{} is not built ({} is missing): run `cargo build --release --target \
                     wasm32-wasip2` first",
                    self.module,
                    candidates[0].display()
                )
            })
    }

    fn scenarios(&self) -> anyhow::Result<Vec<PathBuf>> {
        let dir = self.dir.join("scenarios");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("{}: no scenarios directory", dir.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{}: no scenario files (*.toml)", dir.display());
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::diff_lines;

    #[test]
    fn a_diff_keeps_common_lines_and_marks_the_rest() {
        assert_eq!(
            diff_lines("inspect a\nstop a", "inspect a\nrestart a"),
            ["  inspect a", "- stop a", "+ restart a"]
        );
        assert_eq!(diff_lines("x", "x"), ["  x"]);
    }
}
