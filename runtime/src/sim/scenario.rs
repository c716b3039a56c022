//! Scenarios: a policy run against a simulated Docker Engine, and what it
//! must do (see docs/policy-kit.md for the file format).
//!
//! A scenario runs through the same executor path as `sme`: the same
//! loader, grants, limits, gate and audit; only the engine behind the
//! backend's traits is [`Simulated`] (or a [`Replay`] of a recording). Its
//! daemon holds containers (`[[container]]`) and, as a swarm manager, Swarm
//! services (`[[service]]`); `[swarm]` says what the configuration's
//! `[swarm]` would, so that `services.target()` answers as it is set.
//! Beside it, systemd holds units (`[[unit]]`), and `[systemd]` sets the
//! configuration's mode and unit template.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use crate::backend::Backends;
use crate::backend::systemd::{Unit, unit_name};
use crate::config::swarm::{self, Template};
use crate::config::systemd;
use crate::config::{Config, Env};
use crate::contract::{Health, Request, Status};
use crate::policy::{self, Policy, PolicyDir, World};
use crate::run::executor::{self, Outcome};
use crate::sandbox::audit::Audit;
use crate::sandbox::budgets::{EFFECTS, Effect};
use crate::sandbox::grants::Verb;
use crate::sandbox::held::{Clock, Held};
use crate::sandbox::ledger::{Counting, Record};
use crate::sim::units::SimUnits;
use crate::sim::{Failure, SimContainer, SimService, Simulated};
use sme_model::units::{Behaviour, UnitModel};
use sme_model::{Mode, UpdateState};

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
    /// The Swarm services that exist.
    pub services: Vec<SimService>,
    /// Whether the daemon is a swarm manager (else it answers every service
    /// call as a daemon in no swarm does).
    pub swarm_manager: bool,
    /// The configuration to run under.
    pub config: ConfigSource,
    /// `[swarm]` settings that replace the configuration's.
    pub swarm: SwarmSettings,
    /// The systemd units that exist.
    pub units: Vec<UnitModel>,
    /// `[systemd]` settings that replace the configuration's.
    pub systemd: SystemdSettings,
    /// True when no daemon answers.
    pub unreachable: bool,
    /// What must come out.
    pub expect: Expect,
    /// The clock its runs read: set by `[clock] now` (else the machine's),
    /// moved on by each step's `after`.
    pub clock: Clock,
    /// Spends already counted (`[budgets.spent]`): object key, effect, and
    /// when (milliseconds since the epoch).
    pub spent: Vec<(String, Effect, Vec<u64>)>,
    /// Values modules already keep (`[state]`), by module.
    pub kept: BTreeMap<String, BTreeMap<String, String>>,
    /// Further requests, in order (`[[then]]`).
    pub steps: Vec<Step>,
}

/// A further request of a scenario, made after the ones before it, on the
/// same engine, budgets and kept values.
#[derive(Debug, Clone)]
pub struct Step {
    /// How long after the request before it (`after`), moved on the clock.
    pub after: Duration,
    /// The service the agent names (the first request's when not given).
    pub service: String,
    /// The operation (the first request's when not given).
    pub operation: Option<String>,
    /// What must come out.
    pub expect: Expect,
}

/// A scenario's `[systemd]`: each key given replaces the configuration's.
/// The bus is never asked: the scenario's units answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemdSettings {
    /// `mode`.
    pub mode: Option<systemd::Mode>,
    /// `unit`, the name template.
    pub unit: Option<systemd::Template>,
}

/// A scenario's `[swarm]`: each key given replaces the configuration's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmSettings {
    /// `mode`.
    pub mode: Option<swarm::Mode>,
    /// `service`, the name template.
    pub service: Option<Template>,
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
    /// Services' state afterwards: the keys given, by service name.
    pub services: BTreeMap<String, toml::Table>,
    /// Units' state afterwards: the keys given, by unit name.
    pub units: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    description: Option<String>,
    request: RawRequest,
    #[serde(default)]
    container: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    service: Vec<toml::Spanned<toml::Table>>,
    swarm_manager: Option<bool>,
    config: Option<toml::Spanned<RawConfig>>,
    swarm: Option<RawSwarm>,
    #[serde(default)]
    unit: Vec<toml::Spanned<toml::Table>>,
    systemd: Option<RawSystemd>,
    #[serde(default)]
    unreachable: bool,
    expect: RawExpect,
    clock: Option<RawClock>,
    budgets: Option<RawBudgets>,
    #[serde(default)]
    state: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    then: Vec<toml::Spanned<RawThen>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClock {
    now: toml::Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgets {
    #[serde(default)]
    spent: BTreeMap<String, toml::Spanned<BTreeMap<String, Vec<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThen {
    after: Option<String>,
    request: Option<RawRequest>,
    expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSwarm {
    mode: Option<toml::Spanned<String>>,
    service: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystemd {
    mode: Option<toml::Spanned<String>>,
    unit: Option<toml::Spanned<String>>,
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
    #[serde(default)]
    service: BTreeMap<String, toml::Spanned<toml::Table>>,
    #[serde(default)]
    unit: BTreeMap<String, toml::Spanned<toml::Table>>,
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
        let clock = Clock::default();
        if let Some(raw_clock) = &raw.clock {
            let at: jiff::Timestamp = raw_clock.now.get_ref().parse().map_err(|e| {
                error(
                    raw_clock.now.span().start,
                    format!(
                        "[clock] now {:?} is not a time like \"2026-12-05T12:00:00Z\" ({e})",
                        raw_clock.now.get_ref()
                    ),
                )
            })?;
            let ms = u64::try_from(at.as_millisecond()).map_err(|_| {
                error(
                    raw_clock.now.span().start,
                    "[clock] now is before 1970".into(),
                )
            })?;
            clock.set(ms);
        }
        let now = clock.now_ms();
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
        let mut services = Vec::new();
        for table in &raw.service {
            let start = table.span().start;
            let service = service(table.get_ref(), now).map_err(|m| error(start, m))?;
            if services
                .iter()
                .any(|s: &SimService| s.name() == service.name())
            {
                let name = service.name();
                return Err(error(start, format!("service {name:?} is given twice")));
            }
            services.push(service);
        }
        let swarm_manager = raw.swarm_manager.unwrap_or(true);
        if !swarm_manager && let Some(first) = raw.service.first() {
            return Err(error(
                first.span().start,
                "`swarm_manager = false` and a [[service]]: a daemon in no swarm has none".into(),
            ));
        }
        let mut swarm = SwarmSettings::default();
        if let Some(raw_swarm) = raw.swarm {
            if let Some(mode) = raw_swarm.mode {
                swarm.mode = Some(swarm::Mode::parse(mode.get_ref()).ok_or_else(|| {
                    error(
                        mode.span().start,
                        format!(
                            "[swarm] mode {:?} is not one of \"off\", \"on\", \"auto\"",
                            mode.get_ref()
                        ),
                    )
                })?);
            }
            if let Some(template) = raw_swarm.service {
                swarm.service = Some(
                    Template::parse(template.get_ref())
                        .map_err(|e| error(template.span().start, format!("[swarm] {e}")))?,
                );
            }
        }
        let mut units = Vec::new();
        for table in &raw.unit {
            let start = table.span().start;
            let unit = unit(table.get_ref()).map_err(|m| error(start, m))?;
            if units.iter().any(|u: &UnitModel| u.name == unit.name) {
                let name = &unit.name;
                return Err(error(start, format!("unit {name:?} is given twice")));
            }
            units.push(unit);
        }
        let mut systemd_settings = SystemdSettings::default();
        if let Some(raw_systemd) = raw.systemd {
            if let Some(mode) = raw_systemd.mode {
                systemd_settings.mode =
                    Some(systemd::Mode::parse(mode.get_ref()).ok_or_else(|| {
                        error(
                            mode.span().start,
                            format!(
                                "[systemd] mode {:?} is not one of \"off\", \"on\", \"auto\"",
                                mode.get_ref()
                            ),
                        )
                    })?);
            }
            if let Some(template) = raw_systemd.unit {
                systemd_settings.unit =
                    Some(systemd::Template::parse(template.get_ref()).map_err(|e| {
                        error(template.span().start, format!("[systemd] unit {e}"))
                    })?);
            }
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
        let expect = expectations(raw.expect, now, "").map_err(|(at, m)| error(at, m))?;
        let mut spent = Vec::new();
        if let Some(budgets) = raw.budgets {
            for (object, effects) in budgets.spent {
                let start = effects.span().start;
                for (effect, times) in effects.into_inner() {
                    let effect = Effect::named(&effect).ok_or_else(|| {
                        let known: Vec<&str> = EFFECTS.iter().map(|info| info.name).collect();
                        error(
                            start,
                            format!(
                                "[budgets.spent] {object:?}: unknown effect {effect:?}: expected one of {}",
                                known.join(", ")
                            ),
                        )
                    })?;
                    let times = times
                        .iter()
                        .map(|time| moment(time, now))
                        .collect::<Result<Vec<u64>, String>>()
                        .map_err(|m| error(start, format!("[budgets.spent] {object:?}: {m}")))?;
                    spent.push((object.clone(), effect, times));
                }
            }
        }
        for (module, values) in &raw.state {
            if !crate::config::is_module_name(module) {
                return Err(error(
                    0,
                    format!(
                        "[state] {module:?} is not a module name like \"restart\" or \"metrics.d/uptime\""
                    ),
                ));
            }
            for key in values.keys() {
                sme_model::state::check_key(key)
                    .map_err(|m| error(0, format!("[state.{module:?}]: {m}")))?;
            }
        }
        let mut steps = Vec::new();
        for (index, then) in raw.then.into_iter().enumerate() {
            let start = then.span().start;
            let then = then.into_inner();
            let label = format!("then[{}] ", index + 1);
            let after = match &then.after {
                None => Duration::ZERO,
                Some(text) => humantime::parse_duration(text.trim()).map_err(|e| {
                    error(
                        start,
                        format!(
                            "{label}after {text:?} is not a duration like \"90s\" or \"10m\" ({e})"
                        ),
                    )
                })?,
            };
            let (service, operation) = match then.request {
                Some(request) => (request.service, request.operation),
                None => (raw.request.service.clone(), raw.request.operation.clone()),
            };
            let expect =
                expectations(then.expect, now, &label).map_err(|(_, m)| error(start, m))?;
            steps.push(Step {
                after,
                service,
                operation,
                expect,
            });
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
            services,
            swarm_manager,
            config,
            swarm,
            units,
            systemd: systemd_settings,
            unreachable: raw.unreachable,
            expect,
            clock,
            spent,
            kept: raw.state,
            steps,
        })
    }

    /// The simulated engine holding this scenario's containers and services.
    pub fn engine(&self) -> Simulated {
        if self.unreachable {
            return Simulated::unreachable().with_clock(self.clock.clone());
        }
        let engine = Simulated::new(self.containers.clone()).with_clock(self.clock.clone());
        if self.swarm_manager {
            engine.with_services(self.services.clone())
        } else {
            engine
        }
    }

    /// The configuration this scenario runs under, with the changes every
    /// test run makes: no audit file, no log file, nothing kept on disk
    /// (budget counts and kept values are held in memory, seeded from
    /// `[budgets.spent]` and `[state]`, and shared by every run made with
    /// this configuration), the scenario's clock, and compiled modules
    /// cached in `cache_dir`.
    pub fn config(&self, env: &Env, cache_dir: Option<&Path>) -> Result<Config, String> {
        let mut config = match &self.config {
            ConfigSource::Deployment => Config::load(env),
            ConfigSource::File(file) => Config::load(&Env {
                config: Some(file.clone()),
                ..env.clone()
            }),
            ConfigSource::Inline(text) => {
                Config::parse(text, &self.path).and_then(|config| config.with_env(env))
            }
        }
        .map_err(|e| e.to_string())?;
        if let Some(mode) = self.swarm.mode {
            config.swarm.mode = mode;
        }
        if let Some(template) = &self.swarm.service {
            config.swarm.service = template.clone();
        }
        if let Some(mode) = self.systemd.mode {
            config.systemd.mode = mode;
        }
        if let Some(template) = &self.systemd.unit {
            config.systemd.unit = template.clone();
        }
        config.audit_log = None;
        config.log_file = None;
        config.state_dir = None;
        config.counting = Counting::Fresh;
        let spent: BTreeMap<String, Record> =
            self.spent
                .iter()
                .fold(BTreeMap::new(), |mut records, (object, effect, times)| {
                    let record: &mut Record =
                        records.entry(object.clone()).or_insert_with(|| Record {
                            object: object.clone(),
                            spent: BTreeMap::new(),
                        });
                    record
                        .spent
                        .entry(effect.name().to_owned())
                        .or_default()
                        .extend(times);
                    records
                });
        config.held = Held {
            clock: self.clock.clone(),
            spent: Arc::new(Mutex::new(spent)),
            kept: Arc::new(Mutex::new(self.kept.clone())),
        };
        config.cache_dir = cache_dir.map(Path::to_path_buf);
        Ok(config)
    }
}

/// What a request of a scenario expects (`label` names a step in messages);
/// `Err` carries the offset of the problem and its message.
fn expectations(raw: RawExpect, now: u64, label: &str) -> Result<Expect, (usize, String)> {
    let mut expected = BTreeMap::new();
    for (name, table) in raw.container {
        let start = table.span().start;
        let table = table.into_inner();
        if table.contains_key("name") {
            return Err((
                start,
                format!("{label}expect.container.<name> takes no `name`"),
            ));
        }
        // Checked like a container of the scenario, so a typo is an
        // error here rather than a check that can never fail.
        let mut named = table.clone();
        named.insert("name".into(), toml::Value::String(name.clone()));
        container(&named, now).map_err(|m| (start, format!("{label}expect: {m}")))?;
        expected.insert(name, table);
    }
    let mut expected_services = BTreeMap::new();
    for (name, table) in raw.service {
        let start = table.span().start;
        let table = table.into_inner();
        check_expected_service(&table).map_err(|m| (start, format!("{label}expect: {m}")))?;
        expected_services.insert(name, table);
    }
    let mut expected_units = BTreeMap::new();
    for (name, table) in raw.unit {
        let start = table.span().start;
        let table = table.into_inner();
        check_expected_unit(&table).map_err(|m| (start, format!("{label}expect: {m}")))?;
        expected_units.insert(name, table);
    }
    if let Some(code) = raw.exit_code
        && !(0..=1).contains(&code)
    {
        return Err((
            0,
            format!("{label}expect.exit_code is {code}: sme exits 0 or 1"),
        ));
    }
    Ok(Expect {
        output: raw.output,
        exit_code: raw.exit_code,
        calls: raw.calls,
        containers: expected,
        services: expected_services,
        units: expected_units,
    })
}

/// A time written in a scenario: RFC 3339 (`2026-12-05T11:51:00Z`), or
/// before `now` (`-9m`), in milliseconds since the epoch.
fn moment(text: &str, now: u64) -> Result<u64, String> {
    if let Some(ago) = text.trim().strip_prefix('-') {
        let ago = humantime::parse_duration(ago.trim())
            .map_err(|e| format!("{text:?} is not a time before now like \"-9m\" ({e})"))?;
        return Ok(now.saturating_sub(ago.as_millis() as u64));
    }
    let at: jiff::Timestamp = text.parse().map_err(|e| {
        format!("{text:?} is neither a time like \"2026-12-05T11:51:00Z\" nor one before now like \"-9m\" ({e})")
    })?;
    u64::try_from(at.as_millisecond()).map_err(|_| format!("{text:?} is before 1970"))
}

/// The systemd units this scenario's host holds.
impl Scenario {
    /// Simulated systemd holding this scenario's units.
    pub fn units(&self) -> SimUnits {
        SimUnits::with(self.units.clone()).with_clock(self.clock.clone())
    }
}

/// Builds a unit from its scenario table.
fn unit(table: &toml::Table) -> Result<UnitModel, String> {
    let name = match table.get("name") {
        Some(toml::Value::String(name)) => name.clone(),
        _ => return Err("every [[unit]] needs a `name`".to_owned()),
    };
    if !unit_name::is_unit_name(&name) {
        return Err(format!(
            "{name:?} is not a unit name SME sends (`<name>.service`: letters, digits and \
             \":-_.\", no instance `@`, no escapes)"
        ));
    }
    let flag = |key: &str| match table.get(key) {
        None => Ok(false),
        Some(value) => value
            .as_bool()
            .ok_or_else(|| format!("`{key}` must be true or false")),
    };
    let (fails, masked) = (flag("fails")?, flag("masked")?);
    let behaviour = if fails {
        Behaviour::Fails
    } else {
        Behaviour::Runs
    };
    let mut model = UnitModel::new(&name, behaviour, masked);
    let state = match table.get("state") {
        None if fails || masked => "inactive".to_owned(),
        None => "active".to_owned(),
        Some(value) => text(value, "state")?,
    };
    match (state.as_str(), fails, masked) {
        ("inactive", _, _) => {}
        ("active", false, false) | ("failed", true, false) => {
            // As a start leaves it.
            let _ = model.start();
        }
        ("active" | "failed", _, true) => {
            return Err(format!("unit {name:?} is masked: it is inactive"));
        }
        ("active", true, _) => {
            return Err(format!(
                "unit {name:?} fails as it starts: its state is \"inactive\" or \"failed\""
            ));
        }
        ("failed", false, _) => {
            return Err(format!(
                "unit {name:?} is failed only with `fails = true`, which makes a start fail"
            ));
        }
        (other, _, _) => {
            return Err(format!(
                "unit state {other:?} is not one of \"active\", \"inactive\", \"failed\""
            ));
        }
    }
    for key in table.keys() {
        if !matches!(key.as_str(), "name" | "state" | "fails" | "masked") {
            return Err(format!(
                "unknown unit key `{key}` (expected name, state, fails, masked)"
            ));
        }
    }
    Ok(model)
}

/// The keys `[expect.unit.<name>]` can check.
const UNIT_EXPECTATIONS: &str = "load_state, active_state, sub_state, result";

/// Checks the keys and values of an `[expect.unit.<name>]` table.
fn check_expected_unit(table: &toml::Table) -> Result<(), String> {
    for (key, value) in table {
        match key.as_str() {
            "load_state" | "active_state" | "sub_state" | "result" => {
                text(value, key)?;
            }
            other => {
                return Err(format!(
                    "unknown unit key `{other}` (expected {UNIT_EXPECTATIONS})"
                ));
            }
        }
    }
    Ok(())
}

fn shown_unit(unit: &Unit, key: &str) -> toml::Value {
    toml::Value::String(match key {
        "load_state" => unit.load_state.clone(),
        "active_state" => unit.active_state.clone(),
        "sub_state" => unit.sub_state.clone(),
        "result" => unit.result.clone(),
        _ => "(not kept)".to_owned(),
    })
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
            "labels" => c.labels = labels(value)?,
            "stop_timeout" => sim.stop_timeout = Some(number(value, key)?),
            "cpu_percent" => sim.cpu_percent = percent(value)?,
            "memory_bytes" => sim.memory_usage = number(value, key)?,
            "memory_limit" => sim.memory_limit = number(value, key)?,
            "online_cpus" => sim.online_cpus = number(value, key)?,
            "pids" => sim.pids = number(value, key)?,
            "fail" => sim.fail.extend(fail(value)?),
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

/// Builds a Swarm service from its scenario table.
fn service(table: &toml::Table, now: u64) -> Result<SimService, String> {
    let name = match table.get("name") {
        Some(toml::Value::String(name)) => name.clone(),
        _ => return Err("every [[service]] needs a `name`".to_owned()),
    };
    crate::names::check_container(&name).map_err(|e| e.to_string())?;
    let global = match table.get("mode") {
        None => false,
        Some(value) => mode(&text(value, "mode")?)? == Mode::Global,
    };
    let replicas = match (global, table.get("replicas")) {
        (true, Some(_)) => {
            return Err(format!(
                "service {name:?} is global: it has no `replicas` (one task per node)"
            ));
        }
        (true, None) => None,
        (false, None) => Some(1),
        (false, Some(value)) => Some(number(value, "replicas")?),
    };
    let mut sim = SimService::new(&name, replicas, now);
    let mut failing = None;
    let mut exit_code = None;
    for (key, value) in table {
        let s = &mut sim.model.service;
        let task = &mut sim.task_container;
        match key.as_str() {
            "name" | "mode" | "replicas" => {}
            "image" => s.image = text(value, key)?,
            "id" => s.id = text(value, key)?,
            "labels" => s.labels = labels(value)?,
            "version" => s.version = number(value, key)?,
            "update_state" => s.update_state = update_state(&text(value, key)?)?,
            "update_message" => s.update_message = text(value, key)?,
            "failing" => {
                failing = match value {
                    toml::Value::Boolean(false) => None,
                    toml::Value::Boolean(true) => Some(None),
                    toml::Value::String(err) => Some(Some(err.clone())),
                    _ => {
                        return Err(
                            "`failing` must be true, false or the tasks' error message".to_owned()
                        );
                    }
                }
            }
            "exit_code" => exit_code = Some(integer(value, key)?),
            "cpu_percent" => task.cpu_percent = percent(value)?,
            "memory_bytes" => task.memory_usage = number(value, key)?,
            "memory_limit" => task.memory_limit = number(value, key)?,
            "online_cpus" => task.online_cpus = number(value, key)?,
            "pids" => task.pids = number(value, key)?,
            "fail" => {
                for (verb, message) in fail(value)? {
                    // Stats are the task containers' to refuse.
                    if verb == Verb::Stats {
                        task.fail.push((verb, message));
                    } else {
                        sim.fail.push((verb, message));
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown service key `{other}` (expected name, mode, replicas, image, id, \
                     labels, version, update_state, update_message, failing, exit_code, \
                     cpu_percent, memory_bytes, memory_limit, online_cpus, pids, fail)"
                ));
            }
        }
    }
    match (failing, exit_code) {
        (None, Some(_)) => {
            return Err("`exit_code` is the exit code of failing tasks: give `failing` too".into());
        }
        (None, None) => {}
        (Some(err), code) => {
            let mut failure = Failure::exit(code.unwrap_or(1));
            if let Some(err) = err {
                failure.err = err;
            }
            sim.model.fail_tasks(failure);
        }
    }
    Ok(sim)
}

/// The keys `[expect.service.<name>]` can check, with what each holds.
const SERVICE_EXPECTATIONS: &str = "mode, replicas, desired_tasks, running_tasks, tasks, labels, \
                                    version, update_state, update_message, image";

/// Checks the keys and values of an `[expect.service.<name>]` table, so a
/// typo is an error rather than a check that can never pass.
fn check_expected_service(table: &toml::Table) -> Result<(), String> {
    for (key, value) in table {
        match key.as_str() {
            "mode" => {
                mode(&text(value, key)?)?;
            }
            "replicas" if value.as_str() == Some("none") => {}
            "replicas" | "desired_tasks" | "running_tasks" | "tasks" | "version" => {
                number::<u64>(value, key)?;
            }
            "labels" => {
                labels(value)?;
            }
            "update_state" => {
                update_state(&text(value, key)?)?;
            }
            "update_message" | "image" => {
                text(value, key)?;
            }
            other => {
                return Err(format!(
                    "unknown service key `{other}` (expected {SERVICE_EXPECTATIONS})"
                ));
            }
        }
    }
    Ok(())
}

fn labels(value: &toml::Value) -> Result<Vec<(String, String)>, String> {
    let labels = value.as_table().ok_or("`labels` must be a table")?;
    labels
        .iter()
        .map(|(k, v)| Ok((k.clone(), text(v, "labels")?)))
        .collect()
}

fn percent(value: &toml::Value) -> Result<f64, String> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
        .filter(|p| p.is_finite() && *p >= 0.0)
        .ok_or_else(|| "`cpu_percent` must be a number of at least 0".to_owned())
}

fn fail(value: &toml::Value) -> Result<Vec<(Verb, String)>, String> {
    let fail = value.as_table().ok_or("`fail` must be a table")?;
    fail.iter()
        .map(|(verb, message)| {
            let verb = Verb::from_name(verb)
                .ok_or_else(|| format!("`fail` names {verb:?}, which is not a verb"))?;
            Ok((verb, text(message, "fail")?))
        })
        .collect()
}

fn mode(word: &str) -> Result<Mode, String> {
    match word {
        "replicated" => Ok(Mode::Replicated),
        "global" => Ok(Mode::Global),
        _ => Err(format!("mode {word:?} is not one of replicated, global")),
    }
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Replicated => "replicated",
        Mode::Global => "global",
    }
}

/// Docker's `UpdateStatus.State` words, `none` when there is none.
const UPDATE_STATES: [(&str, UpdateState); 7] = [
    ("none", UpdateState::None),
    ("updating", UpdateState::Updating),
    ("paused", UpdateState::Paused),
    ("completed", UpdateState::Completed),
    ("rollback-started", UpdateState::RollbackStarted),
    ("rollback-paused", UpdateState::RollbackPaused),
    ("rollback-completed", UpdateState::RollbackCompleted),
];

fn update_state(word: &str) -> Result<UpdateState, String> {
    UPDATE_STATES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, state)| *state)
        .ok_or_else(|| {
            format!(
                "update_state {word:?} is not one of none, updating, paused, completed, \
                 rollback-started, rollback-paused, rollback-completed"
            )
        })
}

fn update_state_word(state: UpdateState) -> &'static str {
    UPDATE_STATES
        .iter()
        .find(|(_, s)| *s == state)
        .map_or("none", |(name, _)| name)
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

/// A service's state in the scenario's own words, for the keys an
/// expectation can name.
fn shown_service(sim: &SimService, key: &str) -> toml::Value {
    let s = &sim.model.service;
    let wide = |n: u64| toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    match key {
        "mode" => toml::Value::String(mode_word(s.mode).into()),
        "replicas" => s.replicas.map_or(toml::Value::String("none".into()), wide),
        "desired_tasks" => wide(s.desired_tasks.into()),
        "running_tasks" => wide(s.running_tasks.into()),
        "tasks" => wide(u64::try_from(s.tasks.len()).unwrap_or(u64::MAX)),
        "labels" => toml::Value::Table(
            s.labels
                .iter()
                .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
                .collect(),
        ),
        "version" => wide(s.version),
        "update_state" => toml::Value::String(update_state_word(s.update_state).into()),
        "update_message" => toml::Value::String(s.update_message.clone()),
        "image" => toml::Value::String(s.image.clone()),
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
    /// The services afterwards.
    pub services_after: BTreeMap<String, SimService>,
    /// The units afterwards.
    pub units_after: BTreeMap<String, Unit>,
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
        for (name, keys) in &expect.services {
            let Some(after) = self.services_after.get(name) else {
                differ(format!("service {name}"), "present".into(), "absent".into());
                continue;
            };
            for (key, expected) in keys {
                let actual = shown_service(after, key);
                differ(
                    format!("service {name} {key}"),
                    expected.to_string(),
                    actual.to_string(),
                );
            }
        }
        for (name, keys) in &expect.units {
            let Some(after) = self.units_after.get(name) else {
                differ(format!("unit {name}"), "present".into(), "absent".into());
                continue;
            };
            for (key, expected) in keys {
                let actual = shown_unit(after, key);
                differ(
                    format!("unit {name} {key}"),
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

/// Runs `scenario` on `backends` (its simulation, or a replay) as `sme` would
/// run its request.
pub async fn run(
    scenario: &Scenario,
    subject: &Subject,
    config: Config,
    backends: Backends,
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
        executor::serve_modules(config, backends, audit.clone(), &policy, &addons, &request).await;
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
    use crate::backend::Services;

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
    fn a_scenario_reads_its_services_and_swarm_settings() {
        let scenario = parse(
            r#"
[request]
service = "edgex-core-data"
operation = "stop"

[swarm]
mode = "on"
service = "edgex_{name}"

[[service]]
name = "edgex_core-data"
replicas = 2
labels = { "tier" = "core" }
cpu_percent = 1.5
fail = { redeploy = "rpc error: busy", stats = "no stats" }

[[service]]
name = "edgex_agent"
mode = "global"
failing = "starting container failed: no such file"
exit_code = 127

[expect]
output = '""'
calls = ["inspect edgex_core-data", "scale edgex_core-data", "inspect edgex_core-data"]
[expect.service.edgex_core-data]
replicas = 0
running_tasks = 0
labels = { "tier" = "core", "sme.note.replicas" = "2" }
[expect.service.edgex_agent]
replicas = "none"
update_state = "none"
"#,
        )
        .unwrap();
        assert!(scenario.swarm_manager);
        assert_eq!(scenario.swarm.mode, Some(swarm::Mode::On));
        assert_eq!(
            scenario
                .swarm
                .service
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("edgex_{name}")
        );
        let [core, agent] = &scenario.services[..] else {
            panic!("{:?}", scenario.services);
        };
        assert_eq!(core.model.service.replicas, Some(2));
        assert_eq!(core.model.service.running_tasks, 2);
        assert_eq!(core.fail, [(Verb::Redeploy, "rpc error: busy".to_owned())]);
        assert_eq!(
            core.task_container.fail,
            [(Verb::Stats, "no stats".to_owned())]
        );
        assert_eq!(core.task_container.cpu_percent, 1.5);
        assert_eq!(agent.model.service.mode, Mode::Global);
        assert_eq!(agent.model.service.running_tasks, 0);
        let failure = agent.model.failing.as_ref().unwrap();
        assert_eq!(
            (failure.err.as_str(), failure.exit_code),
            ("starting container failed: no such file", 127)
        );
        assert_eq!(scenario.expect.services.len(), 2);

        let config = Scenario {
            config: ConfigSource::Inline("[swarm]\nmode = \"auto\"\n".into()),
            ..scenario.clone()
        }
        .config(&Env::default(), None)
        .unwrap();
        assert_eq!(
            config.swarm.mode,
            swarm::Mode::On,
            "the scenario's [swarm] wins"
        );
        assert_eq!(
            config.swarm.candidate("edgex-core-data").as_deref(),
            Some("edgex_core-data")
        );
        let engine = scenario.engine();
        assert_eq!(engine.service_states().len(), 2);
        assert_eq!(engine.containers().len(), 3, "two tasks and a failed one");
    }

    #[test]
    fn service_mistakes_name_the_line_and_the_cause() {
        let cases = [
            (
                "[[service]]\nname = \"s1\"\nreplica = 2\n",
                "s.toml:3: unknown service key `replica`",
            ),
            (
                "[[service]]\nname = \"s1\"\nmode = \"global\"\nreplicas = 2\n",
                "s.toml:3: service \"s1\" is global: it has no `replicas`",
            ),
            (
                "[[service]]\nname = \"s1\"\nexit_code = 2\n",
                "`exit_code` is the exit code of failing tasks",
            ),
            (
                "[[service]]\nname = \"s1\"\n[[service]]\nname = \"s1\"\n",
                "s.toml:5: service \"s1\" is given twice",
            ),
            (
                "[swarm]\nmode = \"yes\"\n",
                "s.toml:4: [swarm] mode \"yes\"",
            ),
            (
                "[swarm]\nservice = \"x\"\n",
                "s.toml:4: [swarm] service template",
            ),
            (
                "[[service]]\nname = \"s1\"\nupdate_state = \"done\"\n",
                "update_state \"done\"",
            ),
        ];
        for (body, expected) in cases {
            let text = format!("[request]\nservice = \"a1\"\n{body}[expect]\n");
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{body}: {error}");
        }
        let typo =
            parse("[request]\nservice = \"a1\"\n[expect]\n[expect.service.s1]\nrunning = 1\n");
        let error = typo.unwrap_err().to_string();
        assert!(
            error.starts_with("s.toml:4: expect: unknown service key `running`"),
            "{error}"
        );
    }

    #[test]
    fn without_a_swarm_the_daemon_is_no_manager() {
        let scenario =
            parse("swarm_manager = false\n[request]\nservice = \"a1\"\n[expect]\n").unwrap();
        let engine = scenario.engine();
        let answer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(engine.service("a1"));
        assert_eq!(
            answer.map(|_| ()),
            Err(crate::backend::docker::DockerError::Engine(
                crate::sim::NOT_A_MANAGER.to_owned()
            ))
        );
    }

    #[test]
    fn service_differences_name_the_service_and_key() {
        let mut after = SimService::new("s1", Some(1), 5);
        after.model.service.labels = vec![("k".into(), "v".into())];
        let report = Report {
            outcome: Outcome::failed("no"),
            calls: Vec::new(),
            after: BTreeMap::new(),
            services_after: BTreeMap::from([("s1".to_owned(), after)]),
            units_after: BTreeMap::new(),
        };
        let expect = Expect {
            services: BTreeMap::from([
                (
                    "s1".to_owned(),
                    toml::Table::from_iter([
                        ("replicas".to_owned(), toml::Value::from(0)),
                        ("running_tasks".to_owned(), toml::Value::from(1)),
                        (
                            "labels".to_owned(),
                            toml::Value::Table(toml::Table::from_iter([(
                                "k".to_owned(),
                                toml::Value::from("v"),
                            )])),
                        ),
                    ]),
                ),
                ("s2".to_owned(), toml::Table::new()),
            ]),
            ..Expect::default()
        };
        let differences = report.differences(&expect);
        let whats: Vec<&str> = differences.iter().map(|d| d.what.as_str()).collect();
        assert_eq!(whats, ["service s1 replicas", "service s2"]);
        assert_eq!(
            (
                differences[0].expected.as_str(),
                differences[0].actual.as_str()
            ),
            ("0", "1")
        );
    }

    #[test]
    fn differences_name_what_differs() {
        let report = Report {
            outcome: Outcome::failed("no"),
            calls: vec!["inspect a1".into()],
            after: BTreeMap::from([("a1".to_owned(), SimContainer::new("a1", Status::Exited, 5))]),
            services_after: BTreeMap::new(),
            units_after: BTreeMap::new(),
        };
        let expect = Expect {
            output: Some(String::new()),
            exit_code: Some(0),
            calls: Some(vec!["inspect a1".into()]),
            containers: BTreeMap::from([(
                "a1".to_owned(),
                toml::Table::from_iter([("status".to_owned(), toml::Value::from("running"))]),
            )]),
            services: BTreeMap::new(),
            units: BTreeMap::new(),
        };
        let whats: Vec<String> = report
            .differences(&expect)
            .into_iter()
            .map(|d| d.what)
            .collect();
        assert_eq!(whats, ["output", "exit code", "container a1 status"]);
    }

    #[test]
    fn units_are_read_checked_and_compared() {
        let scenario = parse(
            r#"
[request]
service = "edgex-core-data"
operation = "stop"

[systemd]
mode = "on"
unit = "snap.edgexfoundry.{name}.service"

[[unit]]
name = "snap.edgexfoundry.core-data.service"

[[unit]]
name = "edgex-bad.service"
fails = true
state = "failed"

[expect.unit."snap.edgexfoundry.core-data.service"]
active_state = "inactive"
"#,
        )
        .unwrap();
        assert_eq!(scenario.units.len(), 2);
        assert_eq!(scenario.units[0].state().active_state, "active");
        assert_eq!(scenario.units[1].state().result, "exit-code");
        assert_eq!(scenario.systemd.mode, Some(systemd::Mode::On));
        let states = scenario.units().states();
        let report = Report {
            outcome: Outcome::failed("no"),
            calls: Vec::new(),
            after: BTreeMap::new(),
            services_after: BTreeMap::new(),
            units_after: states,
        };
        let differences = report.differences(&scenario.expect);
        assert_eq!(
            differences,
            [Difference {
                what: "unit snap.edgexfoundry.core-data.service active_state".into(),
                expected: "\"inactive\"".into(),
                actual: "\"active\"".into(),
            }]
        );
        for (text, message) in [
            ("[[unit]]\nname = \"x@y.service\"\n", "not a unit name"),
            (
                "[[unit]]\nname = \"x.service\"\nmasked = true\nstate = \"active\"\n",
                "is masked",
            ),
            (
                "[[unit]]\nname = \"x.service\"\ncolour = 1\n",
                "unknown unit key `colour`",
            ),
            ("[systemd]\nmode = \"yes\"\n", "[systemd] mode \"yes\""),
            (
                "[expect.unit.\"x.service\"]\npid = 1\n",
                "unknown unit key `pid`",
            ),
        ] {
            let text = format!("[request]\nservice = \"x\"\n{text}[expect]\n");
            let text = text.replacen("[expect]\n", "", usize::from(text.contains("[expect.unit")));
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains(message), "{text}: {error}");
        }
    }
}
