//! Scenarios: a policy run against a simulated Docker Engine, and what it
//! must do (see docs/policy-kit.md for the file format).
//!
//! A scenario runs through the same executor path as `sme`: the same
//! loader, grants, limits, gate and audit; only the Docker behind the
//! [`Docker`] trait is [`Simulated`] (or a [`Replay`] of a recording).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::audit::Audit;
use crate::bindings::{Health, Request, Status};
use crate::config::{Config, Env};
use crate::docker::{Docker, SimContainer, Simulated};
use crate::executor::{self, Outcome};
use crate::grants::Verb;
use crate::policy::{self, Policy, PolicyDir, World};

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line of the problem (1 when it is the whole file).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Where a scenario's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The deployment's, as `sme` would load it.
    Deployment,
    /// A configuration file.
    File(PathBuf),
    /// Configuration text written in the scenario.
    Inline(String),
}

/// One parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file stem.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// What it checks.
    pub description: Option<String>,
    /// The service the agent names.
    pub service: String,
    /// The operation, when the scenario names one.
    pub operation: Option<String>,
    /// The containers that exist.
    pub containers: Vec<SimContainer>,
    /// The configuration to run under.
    pub config: ConfigSource,
    /// True when no daemon answers.
    pub unreachable: bool,
    /// What must come out.
    pub expect: Expect,
}

/// What a scenario expects; absent parts are not checked.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The executor's output, exactly.
    pub output: Option<String>,
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// Every host call, in order: `verb target`, then ` timeout=<s>` for a
    /// stop or restart that asked a grace period, and ` denied` when denied.
    pub calls: Option<Vec<String>>,
    /// Containers' state afterwards: the keys given, by container name.
    pub containers: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    description: Option<String>,
    request: RawRequest,
    #[serde(default)]
    container: Vec<toml::Spanned<toml::Table>>,
    config: Option<toml::Spanned<RawConfig>>,
    #[serde(default)]
    unreachable: bool,
    expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    service: String,
    operation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawConfig {
    File(String),
    Inline(toml::Table),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    output: Option<String>,
    exit_code: Option<i32>,
    calls: Option<Vec<String>>,
    #[serde(default)]
    container: BTreeMap<String, toml::Spanned<toml::Table>>,
}

/// The largest scenario file read.
const MAX_SCENARIO_BYTES: u64 = 1 << 20;

impl Scenario {
    /// Reads and checks the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let error = |line: usize, message: String| ScenarioError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let metadata = std::fs::metadata(path).map_err(|e| error(1, e.to_string()))?;
        if !metadata.is_file() || metadata.len() > MAX_SCENARIO_BYTES {
            return Err(error(1, "not a regular file of at most 1 MiB".to_owned()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| error(1, e.to_string()))?;
        Scenario::parse(&text, path)
    }

    /// Parses scenario text read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let at = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let error = |offset: usize, message: String| ScenarioError {
            path: path.to_path_buf(),
            line: at(offset),
            message,
        };
        let raw: RawScenario = toml::from_str(text)
            .map_err(|e| error(e.span().map_or(0, |s| s.start), e.message().to_owned()))?;
        let now = crate::docker::now_ms();
        let mut containers = Vec::new();
        for table in &raw.container {
            let start = table.span().start;
            let container = container(table.get_ref(), now).map_err(|m| error(start, m))?;
            if containers
                .iter()
                .any(|c: &SimContainer| c.container.name == container.container.name)
            {
                let name = &container.container.name;
                return Err(error(start, format!("container {name:?} is given twice")));
            }
            containers.push(container);
        }
        let config = match raw.config {
            None => ConfigSource::Deployment,
            Some(config) => match config.into_inner() {
                RawConfig::File(file) => {
                    ConfigSource::File(path.parent().unwrap_or(Path::new(".")).join(file))
                }
                RawConfig::Inline(table) => ConfigSource::Inline(table.to_string()),
            },
        };
        let mut expected = BTreeMap::new();
        for (name, table) in raw.expect.container {
            let start = table.span().start;
            let table = table.into_inner();
            if table.contains_key("name") {
                return Err(error(
                    start,
                    "expect.container.<name> takes no `name`".into(),
                ));
            }
            // Checked like a container of the scenario, so a typo is an
            // error here rather than a check that can never fail.
            let mut named = table.clone();
            named.insert("name".into(), toml::Value::String(name.clone()));
            container(&named, now).map_err(|m| error(start, format!("expect: {m}")))?;
            expected.insert(name, table);
        }
        if let Some(code) = raw.expect.exit_code
            && !(0..=1).contains(&code)
        {
            return Err(error(
                0,
                format!("expect.exit_code is {code}: sme exits 0 or 1"),
            ));
        }
        Ok(Scenario {
            name: path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            path: path.to_path_buf(),
            description: raw.description,
            service: raw.request.service,
            operation: raw.request.operation,
            containers,
            config,
            unreachable: raw.unreachable,
            expect: Expect {
                output: raw.expect.output,
                exit_code: raw.expect.exit_code,
                calls: raw.expect.calls,
                containers: expected,
            },
        })
    }

    /// The simulated engine holding this scenario's containers.
    pub fn engine(&self) -> Simulated {
        if self.unreachable {
            Simulated::unreachable()
        } else {
            Simulated::new(self.containers.clone())
        }
    }

    /// The configuration this scenario runs under, with the changes every
    /// test run makes: no audit file, no log file, no state kept between
    /// runs, and compiled modules cached in `cache_dir`.
    pub fn config(&self, env: &Env, cache_dir: Option<&Path>) -> Result<Config, String> {
        let mut config = match &self.config {
            ConfigSource::Deployment => Config::load(env),
            ConfigSource::File(file) => Config::load(&Env {
                config: Some(file.clone()),
                ..env.clone()
            }),
            ConfigSource::Inline(text) => {
                Config::parse(text, &self.path).map(|config| config.with_env(env))
            }
        }
        .map_err(|e| e.to_string())?;
        config.audit_log = None;
        config.log_file = None;
        config.state_dir = None;
        config.cache_dir = cache_dir.map(Path::to_path_buf);
        Ok(config)
    }
}

/// Builds a container from its scenario table.
fn container(table: &toml::Table, now: u64) -> Result<SimContainer, String> {
    let name = match table.get("name") {
        Some(toml::Value::String(name)) => name.clone(),
        _ => return Err("every [[container]] needs a `name`".to_owned()),
    };
    crate::names::check_container(&name).map_err(|e| e.to_string())?;
    let status = match table.get("status") {
        None => Status::Running,
        Some(value) => status(&text(value, "status")?)?,
    };
    let mut sim = SimContainer::new(&name, status, now);
    for (key, value) in table {
        let c = &mut sim.container;
        match key.as_str() {
            "name" | "status" => {}
            "health" => c.health = health(&text(value, key)?)?,
            "health_after_start" => {
                sim.health_after_start = Some(health(&text(value, key)?)?);
            }
            "exit_code" => c.exit_code = integer(value, key)?,
            "restart_count" => c.restart_count = number(value, key)?,
            "image" => c.image = text(value, key)?,
            "id" => c.id = text(value, key)?,
            "running" => {
                c.running = value.as_bool().ok_or("`running` must be true or false")?;
            }
            "labels" => {
                let labels = value.as_table().ok_or("`labels` must be a table")?;
                c.labels = labels
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), text(v, "labels")?)))
                    .collect::<Result<_, String>>()?;
            }
            "stop_timeout" => sim.stop_timeout = Some(number(value, key)?),
            "cpu_percent" => {
                sim.cpu_percent = value
                    .as_float()
                    .or_else(|| value.as_integer().map(|i| i as f64))
                    .filter(|p| p.is_finite() && *p >= 0.0)
                    .ok_or("`cpu_percent` must be a number of at least 0")?;
            }
            "memory_bytes" => sim.memory_usage = number(value, key)?,
            "memory_limit" => sim.memory_limit = number(value, key)?,
            "online_cpus" => sim.online_cpus = number(value, key)?,
            "pids" => sim.pids = number(value, key)?,
            "fail" => {
                let fail = value.as_table().ok_or("`fail` must be a table")?;
                for (verb, message) in fail {
                    let verb = Verb::from_name(verb)
                        .ok_or_else(|| format!("`fail` names {verb:?}, which is not a verb"))?;
                    sim.fail.push((verb, text(message, "fail")?));
                }
            }
            other => {
                return Err(format!(
                    "unknown container key `{other}` (expected name, status, health, \
                     exit_code, restart_count, image, id, running, labels, stop_timeout, \
                     health_after_start, cpu_percent, memory_bytes, memory_limit, \
                     online_cpus, pids, fail)"
                ));
            }
        }
    }
    Ok(sim)
}

fn text(value: &toml::Value, key: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{key}` must be a string"))
}

fn integer(value: &toml::Value, key: &str) -> Result<i64, String> {
    value
        .as_integer()
        .ok_or_else(|| format!("`{key}` must be an integer"))
}

fn number<T: TryFrom<i64>>(value: &toml::Value, key: &str) -> Result<T, String> {
    T::try_from(integer(value, key)?).map_err(|_| format!("`{key}` is out of range"))
}

/// Docker's `State.Status` words.
pub fn status(word: &str) -> Result<Status, String> {
    Ok(match word {
        "created" => Status::Created,
        "running" => Status::Running,
        "paused" => Status::Paused,
        "restarting" => Status::Restarting,
        "removing" => Status::Removing,
        "exited" => Status::Exited,
        "dead" => Status::Dead,
        _ => {
            return Err(format!(
                "status {word:?} is not one of created, running, paused, restarting, \
                 removing, exited, dead"
            ));
        }
    })
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Created => "created",
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Restarting => "restarting",
        Status::Removing => "removing",
        Status::Exited => "exited",
        Status::Dead => "dead",
    }
}

fn health(word: &str) -> Result<Health, String> {
    Ok(match word {
        "none" => Health::None,
        "starting" => Health::Starting,
        "healthy" => Health::Healthy,
        "unhealthy" => Health::Unhealthy,
        _ => {
            return Err(format!(
                "health {word:?} is not one of none, starting, healthy, unhealthy"
            ));
        }
    })
}

fn health_word(health: Health) -> &'static str {
    match health {
        Health::None => "none",
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    }
}

/// A container's state in the scenario's own words, for the keys an
/// expectation can name.
fn shown(sim: &SimContainer, key: &str) -> toml::Value {
    let c = &sim.container;
    let int = |n: i64| toml::Value::Integer(n);
    let wide = |n: u64| int(i64::try_from(n).unwrap_or(i64::MAX));
    match key {
        "status" => toml::Value::String(status_word(c.status).into()),
        "health" => toml::Value::String(health_word(c.health).into()),
        "exit_code" => int(c.exit_code),
        "restart_count" => int(c.restart_count.into()),
        "image" => toml::Value::String(c.image.clone()),
        "id" => toml::Value::String(c.id.clone()),
        "running" => toml::Value::Boolean(c.running),
        "labels" => toml::Value::Table(
            c.labels
                .iter()
                .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
                .collect(),
        ),
        "stop_timeout" => sim
            .stop_timeout
            .map_or(toml::Value::String("none".into()), |t| int(t.into())),
        "cpu_percent" => toml::Value::Float(sim.cpu_percent),
        "memory_bytes" => wide(sim.memory_usage),
        "memory_limit" => wide(sim.memory_limit),
        "online_cpus" => int(sim.online_cpus.into()),
        "pids" => wide(sim.pids),
        "health_after_start" => {
            toml::Value::String(sim.health_after_start.map_or("unset", health_word).into())
        }
        _ => toml::Value::String("(not kept)".into()),
    }
}

/// One way a run differed from what its scenario expects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// What differs: `output`, `exit code`, `calls`, `container X status`...
    pub what: String,
    /// What the scenario expects.
    pub expected: String,
    /// What happened.
    pub actual: String,
}

/// What one run of a scenario did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The executor's answer.
    pub outcome: Outcome,
    /// Every host call, `verb target` (` denied` when denied), in order.
    pub calls: Vec<String>,
    /// The containers afterwards.
    pub after: BTreeMap<String, SimContainer>,
}

impl Report {
    /// How this run differs from `expect`.
    pub fn differences(&self, expect: &Expect) -> Vec<Difference> {
        let mut differences = Vec::new();
        let mut differ = |what: String, expected: String, actual: String| {
            if expected != actual {
                differences.push(Difference {
                    what,
                    expected,
                    actual,
                });
            }
        };
        if let Some(output) = &expect.output {
            differ("output".into(), output.clone(), self.outcome.output.clone());
        }
        if let Some(code) = expect.exit_code {
            let actual = self.outcome.exit_code();
            differ("exit code".into(), code.to_string(), actual.to_string());
        }
        if let Some(calls) = &expect.calls {
            differ("calls".into(), calls.join("\n"), self.calls.join("\n"));
        }
        for (name, keys) in &expect.containers {
            let Some(after) = self.after.get(name) else {
                differ(
                    format!("container {name}"),
                    "present".into(),
                    "absent".into(),
                );
                continue;
            };
            for (key, expected) in keys {
                let actual = shown(after, key);
                differ(
                    format!("container {name} {key}"),
                    expected.to_string(),
                    actual.to_string(),
                );
            }
        }
        differences
    }
}

/// The module a scenario tests.
#[derive(Debug, Clone)]
pub enum Subject {
    /// What the deployment runs for the scenario's operation: its file in
    /// the policy directory, else the built-in.
    Deployment,
    /// This module (a built file), alone: for a metrics add-on, after the
    /// deployment's base metrics module.
    Module(Policy),
}

impl Subject {
    /// The operation this subject answers, if it decides one.
    pub fn operation(&self) -> Option<&str> {
        match self {
            Subject::Deployment => None,
            Subject::Module(policy) => match policy.world {
                World::Metrics => Some("metrics"),
                World::Operation => Some(&policy.name),
            },
        }
    }
}

/// What a run answered, and the host calls it made.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The executor's answer.
    pub outcome: Outcome,
    /// Every host call, `verb target` (` denied` when denied), in order.
    pub calls: Vec<String>,
}

/// Runs `scenario` on `docker` (its simulation, or a replay) as `sme` would
/// run its request.
pub async fn run(
    scenario: &Scenario,
    subject: &Subject,
    config: Config,
    docker: Arc<dyn Docker>,
) -> Result<Ran, String> {
    let operation = scenario
        .operation
        .as_deref()
        .or(subject.operation())
        .ok_or("the scenario names no operation (`request.operation`) and no module decides one")?;
    if let (Some(asked), Some(module)) = (scenario.operation.as_deref(), subject.operation())
        && asked != module
    {
        return Err(format!(
            "the scenario's request is for `{asked}`, but the module under test answers `{module}`"
        ));
    }
    let request = Request {
        service: scenario.service.clone(),
        operation: operation.to_owned(),
    };
    let dir = PolicyDir::open(&config).map_err(|e| e.to_string())?;
    let audit = Arc::new(Audit::none().capturing());
    let (policy, addons) = match subject {
        Subject::Module(module) if module.name.starts_with("metrics.d/") => {
            let base = policy::find(&config, dir.as_ref(), "metrics").map_err(|e| e.to_string())?;
            (base.ok_or(executor::UNSUPPORTED)?, vec![module.clone()])
        }
        Subject::Module(module) => (module.clone(), Vec::new()),
        Subject::Deployment => {
            let Some(policy) =
                policy::find(&config, dir.as_ref(), operation).map_err(|e| e.to_string())?
            else {
                return Ok(Ran {
                    outcome: Outcome::failed(executor::UNSUPPORTED),
                    calls: Vec::new(),
                });
            };
            let addons = match (policy.world, &dir) {
                (World::Metrics, Some(dir)) => dir.addons(&config).map_err(|e| e.to_string())?,
                _ => Vec::new(),
            };
            (policy, addons)
        }
    };
    let outcome =
        executor::serve_modules(config, docker, audit.clone(), &policy, &addons, &request).await;
    Ok(Ran {
        outcome,
        calls: host_calls(&audit),
    })
}

/// The host calls in a capturing audit trail, as scenarios write them.
pub fn host_calls(audit: &Audit) -> Vec<String> {
    audit
        .captured()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["event"] == "host-call")
        // Docker calls only: log lines and clock reads change nothing.
        .filter(|line| !matches!(line["verb"].as_str(), Some("log" | "clock")))
        .map(|line| {
            let text = |key: &str| line[key].as_str().unwrap_or_default().to_owned();
            let lifecycle = matches!(text("verb").as_str(), "stop" | "restart");
            let timeout = line["timeout_s"]
                .as_u64()
                .filter(|_| lifecycle)
                .map(|t| format!(" timeout={t}"))
                .unwrap_or_default();
            let decision = match text("decision").as_str() {
                "allow" => String::new(),
                "deny" => " denied".to_owned(),
                other => format!(" {other}"),
            };
            format!("{} {}{timeout}{decision}", text("verb"), text("target"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, Path::new("s.toml"))
    }

    #[test]
    fn a_scenario_reads_its_containers_and_expectations() {
        let scenario = parse(
            r#"
[request]
service = "edgex-a"
operation = "stop"

[[container]]
name = "edgex-a"
status = "exited"
labels = { "tier" = "db" }
fail = { start = "no" }

[expect]
output = ""
calls = ["inspect edgex-a"]
[expect.container.edgex-a]
status = "exited"
"#,
        )
        .unwrap();
        let a = &scenario.containers[0];
        assert_eq!(a.container.status, Status::Exited);
        assert!(!a.container.running);
        assert_eq!(a.container.labels, [("tier".into(), "db".into())]);
        assert_eq!(a.fail, [(Verb::Start, "no".into())]);
        assert_eq!(
            scenario.expect.containers["edgex-a"]["status"].as_str(),
            Some("exited")
        );
    }

    #[test]
    fn mistakes_name_the_line_and_the_cause() {
        let typo = parse(
            "[request]\nservice = \"a1\"\n[[container]]\nname = \"a1\"\nstatsu = \"x\"\n[expect]\n",
        );
        let error = typo.unwrap_err().to_string();
        assert!(
            error.starts_with("s.toml:3: unknown container key `statsu`"),
            "{error}"
        );
        let bad = parse(
            "[request]\nservice = \"a1\"\n[expect]\n[expect.container.a1]\nstatus = \"up\"\n",
        );
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("status \"up\" is not one of")
        );
        let unknown = parse("[request]\nservice = \"a1\"\n[expect]\noutptu = \"\"\n");
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `outptu`")
        );
    }

    #[test]
    fn differences_name_what_differs() {
        let report = Report {
            outcome: Outcome::failed("no"),
            calls: vec!["inspect a1".into()],
            after: BTreeMap::from([("a1".to_owned(), SimContainer::new("a1", Status::Exited, 5))]),
        };
        let expect = Expect {
            output: Some(String::new()),
            exit_code: Some(0),
            calls: Some(vec!["inspect a1".into()]),
            containers: BTreeMap::from([(
                "a1".to_owned(),
                toml::Table::from_iter([("status".to_owned(), toml::Value::from("running"))]),
            )]),
        };
        let whats: Vec<String> = report
            .differences(&expect)
            .into_iter()
            .map(|d| d.what)
            .collect();
        assert_eq!(whats, ["output", "exit code", "container a1 status"]);
    }
}
