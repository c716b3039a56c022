//! The configuration file: paths, Docker endpoint, limits, and per module its
//! grants, pin and settings.
//!
//! The agent passes only two arguments, so everything else comes from here:
//! the file named by `SME_CONFIG` (default [`DEFAULT_CONFIG`]; a missing
//! default file means built-in defaults), then a few environment variables
//! that override single settings. The TOML is parsed into raw serde types
//! that reject unknown keys, then validated into typed settings; every error
//! names the file and line.

pub mod keys;
pub mod settings;
pub mod swarm;
pub mod systemd;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::backend::docker::cgroup::Roots;
use crate::config::keys::{KeyId, MAX_KEY_FILE_BYTES, Signing, TrustedKey};
use crate::config::settings::{Configured, Value};
use crate::config::swarm::Swarm;
use crate::config::systemd::Systemd;
use crate::fs::trusted::{self, Strictness, TrustError};
use crate::sandbox::budgets::{self, Budget, Effect};
use crate::sandbox::grants::{Grant, Target, Verb};
use crate::sandbox::ledger::Counting;
use crate::sandbox::limits::{DEFAULT_REQUEST_DEADLINE, LIMIT_KEYS, LimitKey, Limits, Reach};
use crate::sandbox::windows::{Window, Windows};

/// Where the configuration is read from when `SME_CONFIG` is not set.
pub const DEFAULT_CONFIG: &str = "/etc/sme/sme.toml";
/// The policy directory when neither the file nor `SME_POLICY_DIR` names one.
pub const DEFAULT_POLICY_DIR: &str = "/etc/sme/policies";
/// The Docker endpoint when neither the file nor `DOCKER_HOST` names one.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// Where containers' cgroups are read when `cgroup_root` is not set.
pub const DEFAULT_CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Where the host's processes are seen when `host_proc` is not set.
pub const DEFAULT_HOST_PROC: &str = "/proc";
/// Where compiled policies are cached by default.
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/sme";
/// Largest configuration file read: far above any real one.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Where state kept between runs (stats samples) lives by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/sme";

/// The environment variables SME reads, captured once.
#[derive(Debug, Clone)]
pub struct Env {
    /// `SME_CONFIG`: the configuration file.
    pub config: Option<PathBuf>,
    /// `SME_POLICY_DIR`: overrides `policy_dir`.
    pub policy_dir: Option<PathBuf>,
    /// `DOCKER_HOST`: overrides `docker_host`.
    pub docker_host: Option<String>,
    /// `SME_AUDIT_LOG`: overrides `audit_log`.
    pub audit_log: Option<PathBuf>,
    /// `SME_CACHE_DIR`: overrides `cache_dir`; empty disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// `SME_STATE_DIR`: overrides `state_dir`; empty disables kept state.
    pub state_dir: Option<PathBuf>,
    /// `SME_CGROUP_ROOT`: overrides `cgroup_root`.
    pub cgroup_root: Option<PathBuf>,
    /// `SME_HOST_PROC`: overrides `host_proc` (the agent's container sees
    /// the host's processes where the host's `/proc` is mounted, while
    /// `smectl` on the host, reading the same file, sees them at `/proc`).
    pub host_proc: Option<PathBuf>,
    /// `SME_LOG`: a log filter (`info`, `sme=debug`...); turns logging on.
    pub log: Option<String>,
    /// `SME_STRICT_PATHS`: `off` stops checking who owns and may write the
    /// trusted paths (see [`crate::fs::trusted`]).
    pub strictness: Strictness,
}

impl Default for Env {
    fn default() -> Env {
        Env {
            config: None,
            policy_dir: None,
            docker_host: None,
            audit_log: None,
            cache_dir: None,
            state_dir: None,
            cgroup_root: None,
            host_proc: None,
            log: None,
            strictness: Strictness::Strict,
        }
    }
}

impl Env {
    /// Reads the variables from the process environment.
    pub fn from_process() -> Env {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        Env {
            config: var("SME_CONFIG").map(PathBuf::from),
            policy_dir: var("SME_POLICY_DIR").map(PathBuf::from),
            docker_host: var("DOCKER_HOST").and_then(|v| v.into_string().ok()),
            audit_log: var("SME_AUDIT_LOG").map(PathBuf::from),
            cache_dir: std::env::var_os("SME_CACHE_DIR").map(PathBuf::from),
            state_dir: std::env::var_os("SME_STATE_DIR").map(PathBuf::from),
            cgroup_root: var("SME_CGROUP_ROOT").map(PathBuf::from),
            host_proc: var("SME_HOST_PROC").map(PathBuf::from),
            log: var("SME_LOG").and_then(|v| v.into_string().ok()),
            strictness: Strictness::from_setting(
                var("SME_STRICT_PATHS")
                    .and_then(|v| v.into_string().ok())
                    .as_deref(),
            ),
        }
    }
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read, or is not trusted.
    #[error("configuration refused: {source}")]
    Untrusted {
        /// Why.
        #[source]
        source: TrustError,
    },
    /// The file is larger than any configuration needs to be.
    #[error("configuration {}: larger than {} KiB", path.display(), MAX_CONFIG_BYTES >> 10)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("configuration {}: not UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// An environment variable's value is not valid.
    #[error("environment variable {name}: {message}")]
    Environment {
        /// The variable.
        name: &'static str,
        /// What is wrong, and what is expected.
        message: String,
    },
    /// The file is not valid, at a known line.
    #[error("configuration {}, line {line}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// What is wrong, and what is expected.
        message: String,
    },
}

/// Validated settings for one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file the settings came from, if any.
    pub file: Option<PathBuf>,
    /// Where `<operation>.wasm` and `metrics.d/` are looked up.
    pub policy_dir: PathBuf,
    /// The Docker Engine endpoint (`unix://...` or `tcp://...`).
    pub docker_host: String,
    /// Where containers' cgroups are mounted, for their counters (see
    /// docs/counters.md).
    pub cgroup_root: PathBuf,
    /// Where the host's `/proc` is mounted, for containers' network
    /// counters.
    pub host_proc: PathBuf,
    /// The JSON Lines audit log; no auditing when `None`.
    pub audit_log: Option<PathBuf>,
    /// Compiled-policy cache; no caching when `None`.
    pub cache_dir: Option<PathBuf>,
    /// State kept between runs; none kept when `None`.
    pub state_dir: Option<PathBuf>,
    /// Refuse any module file that has no `sha256` pin.
    pub require_pinning: bool,
    /// Log destination; stderr when logging is on and this is `None`.
    pub log_file: Option<PathBuf>,
    /// Log filter from the file (`SME_LOG` wins).
    pub log_level: Option<String>,
    /// Limits of modules that set none of their own.
    pub limits: Limits,
    /// Whether trusted paths are checked for owner and mode.
    pub strictness: Strictness,
    /// The time the whole request may take, every module included
    /// (`[limits] request_deadline_ms`).
    pub request_deadline: Duration,
    /// Trusted keys, revocations and whether signatures are required
    /// (`[signing]`); the keys of `key_files` are added when the file is
    /// loaded.
    pub signing: Signing,
    /// `[signing] key_files`, each with its line, read by [`Config::load`].
    key_files: Vec<(PathBuf, usize)>,
    /// Whether requests name Swarm services, and how (`[swarm]`, see
    /// docs/swarm.md).
    pub swarm: Swarm,
    /// Whether requests name systemd units, and which bus systemd is on
    /// (`[systemd]`, see docs/systemd.md).
    pub systemd: Systemd,
    /// `[budgets]`: what every module may spend (docs/budgets.md).
    pub budgets: Vec<Budget>,
    /// `[windows]`: when every module may change things (docs/budgets.md).
    pub windows: Vec<Windows>,
    /// Whether calls spend their budgets (`smectl`'s dry runs and tests
    /// only consult them).
    pub counting: Counting,
    /// What runs made with this configuration hold in memory, and their
    /// clock (see [`Held`](crate::sandbox::held::Held)).
    pub held: crate::sandbox::held::Held,
    modules: BTreeMap<String, ModuleConfig>,
}

/// The configuration file a [`Config`] was read from, as text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file (`SME_CONFIG`, else [`DEFAULT_CONFIG`]), whether it exists
    /// or not.
    pub path: PathBuf,
    /// Its text; `None` when there is no such file.
    pub text: Option<String>,
}

/// The configured settings of one module (`[modules.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleConfig {
    /// The pinned sha256 of the module file.
    pub pin: Option<[u8; 32]>,
    /// The grant; `None` keeps the built-in grant of that operation, if any.
    pub grant: Option<Grant>,
    /// The module's limits (the global ones where it sets none).
    pub limits: Limits,
    /// `[modules.<name>.settings]`, checked against the module when it
    /// loads (see [`crate::config::settings`]).
    pub settings: Vec<Configured>,
    /// `require_signature`, when the module sets it.
    pub require_signature: Option<bool>,
    /// `[modules.<name>.budgets]`, beside `[budgets]`.
    pub budgets: Vec<Budget>,
    /// `[modules.<name>.windows]`, beside `[windows]`.
    pub windows: Vec<Windows>,
}

/// What applies to one module when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSettings {
    /// Its grant: configured, else its built-in's, else nothing.
    pub grant: Grant,
    /// Where the grant came from, for `smectl`.
    pub grant_source: GrantSource,
    /// Its limits.
    pub limits: Limits,
    /// Its pin, if any.
    pub pin: Option<[u8; 32]>,
    /// Its configured settings, not yet checked against the module.
    pub settings: Vec<Configured>,
    /// Whether its file must carry a valid signature: its own
    /// `require_signature`, else `[signing]`'s.
    pub require_signature: bool,
    /// The budgets its calls spend: `[budgets]`, then its own.
    pub budgets: Vec<Budget>,
    /// The windows its changes must fall in: `[windows]`, then its own.
    pub windows: Vec<Windows>,
}

/// Where a module's grant came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSource {
    /// `[modules.<name>.grants]` in the configuration.
    Configured,
    /// The grant of the built-in policy of the same name.
    Builtin,
    /// Nothing configured and no built-in: every gated call is denied.
    Default,
}

impl Config {
    /// Loads the configuration for this process.
    pub fn load(env: &Env) -> Result<Config, ConfigError> {
        let (config, source) = Config::load_source(env)?;
        match source.text {
            None if env.config.is_some() => Err(ConfigError::Untrusted {
                source: TrustError::Missing { path: source.path },
            }),
            _ => Ok(config),
        }
    }

    /// Loads the configuration for this process and keeps the file's text,
    /// for commands that edit it (`smectl install`). A missing file, even
    /// one named by `SME_CONFIG`, gives the built-in defaults and no text.
    pub fn load_source(env: &Env) -> Result<(Config, Source), ConfigError> {
        let path = env
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        let read = trusted::read_file(&path, MAX_CONFIG_BYTES, env.strictness)
            .map_err(|source| ConfigError::Untrusted { source })?;
        let (mut config, text) = match read {
            Some(bytes) if bytes.len() as u64 > MAX_CONFIG_BYTES => {
                return Err(ConfigError::TooLarge { path });
            }
            Some(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| ConfigError::NotText { path: path.clone() })?;
                (Config::parse(&text, &path)?, Some(text))
            }
            None => (Config::parse("", Path::new(""))?, None),
        };
        config.apply_env(env)?;
        config.read_key_files()?;
        Ok((config, Source { path, text }))
    }

    /// Parses and validates configuration text read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |span: Option<Range<usize>>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: span.map_or(1, |span| line_of(text, span.start)),
            message,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message().to_owned()))?;
        let request_deadline = raw
            .limits
            .as_ref()
            .map_or(Ok(DEFAULT_REQUEST_DEADLINE), |l| {
                l.get_ref().request_deadline()
            })
            .map_err(|(span, message)| invalid(Some(span), message))?;
        let limits = raw
            .limits
            .map_or(Ok(Limits::default()), |l| {
                l.get_ref().apply(Limits::default(), false)
            })
            .map_err(|(span, message)| invalid(Some(span), message))?;
        let (signing, key_files) = match raw.signing {
            Some(signing) => signing.validate(&|offset| line_of(text, offset)),
            None => Ok((Signing::default(), Vec::new())),
        }
        .map_err(|(span, message)| invalid(Some(span), format!("[signing] {message}")))?;
        let swarm = match raw.swarm {
            Some(swarm) => swarm.validate(),
            None => Ok(Swarm::default()),
        }
        .map_err(|(span, message)| invalid(Some(span), format!("[swarm] {message}")))?;
        let systemd = match raw.systemd {
            Some(systemd) => systemd.validate(),
            None => Ok(Systemd::default()),
        }
        .map_err(|(span, message)| invalid(Some(span), format!("[systemd] {message}")))?;
        if swarm.mode == swarm::Mode::On && systemd.mode == swarm::Mode::On {
            return Err(invalid(
                None,
                "[swarm] and [systemd] are both mode = \"on\": at most one may be; with both \
                 \"auto\", a name is a unit, else a service, else a container"
                    .to_owned(),
            ));
        }
        let absolute = |key: &str, value: Option<Spanned<PathBuf>>, default: &str| {
            let Some(value) = value else {
                return Ok(PathBuf::from(default));
            };
            let span = value.span();
            let path = value.into_inner();
            if path.is_absolute() {
                Ok(path)
            } else {
                let shown = path.display();
                Err(invalid(
                    Some(span),
                    format!("{key} must be an absolute path, not {shown:?}"),
                ))
            }
        };
        let budgets = match raw.budgets {
            Some(budgets) => budgets.validate("[budgets]"),
            None => Ok(Vec::new()),
        }
        .map_err(|(span, message)| invalid(Some(span), format!("[budgets] {message}")))?;
        let windows = match raw.windows {
            Some(windows) => windows.validate("[windows]"),
            None => Ok(Vec::new()),
        }
        .map_err(|(span, message)| invalid(Some(span), format!("[windows] {message}")))?;
        let cgroup_root = absolute("cgroup_root", raw.cgroup_root, DEFAULT_CGROUP_ROOT)?;
        let host_proc = absolute("host_proc", raw.host_proc, DEFAULT_HOST_PROC)?;
        let mut modules = BTreeMap::new();
        for (name, module) in raw.modules {
            let span = name.span();
            let name = name.into_inner();
            if !is_module_name(&name) {
                return Err(invalid(
                    Some(span),
                    format!(
                        "bad module name {name:?}: expected an operation like \"stop\" or a \
                         metrics add-on like \"metrics.d/uptime\""
                    ),
                ));
            }
            let module = module
                .validate(&name, limits, &|offset| line_of(text, offset))
                .map_err(|(span, message)| {
                    invalid(Some(span), format!("[modules.{name}] {message}"))
                })?;
            modules.insert(name, module);
        }
        Ok(Config {
            file: (!path.as_os_str().is_empty()).then(|| path.to_path_buf()),
            policy_dir: raw.policy_dir.unwrap_or_else(|| DEFAULT_POLICY_DIR.into()),
            docker_host: raw
                .docker_host
                .unwrap_or_else(|| DEFAULT_DOCKER_HOST.into()),
            cgroup_root,
            host_proc,
            audit_log: raw.audit_log,
            cache_dir: Some(raw.cache_dir.unwrap_or_else(|| DEFAULT_CACHE_DIR.into())),
            state_dir: Some(raw.state_dir.unwrap_or_else(|| DEFAULT_STATE_DIR.into())),
            require_pinning: raw.require_pinning.unwrap_or(false),
            log_file: raw.log_file,
            log_level: raw.log_level,
            limits,
            strictness: Strictness::Strict,
            request_deadline,
            signing,
            key_files,
            swarm,
            systemd,
            budgets,
            windows,
            counting: Counting::Spend,
            held: Default::default(),
            modules,
        })
    }

    /// Where the Docker Engine's containers' counters are read
    /// (`cgroup_root`, `host_proc`).
    pub fn counter_roots(&self) -> Roots {
        Roots {
            cgroup: self.cgroup_root.clone(),
            proc: self.host_proc.clone(),
        }
    }

    /// Adds the keys of `[signing] key_files`, each read as a trusted file
    /// (like this configuration) of at most [`MAX_KEY_FILE_BYTES`].
    fn read_key_files(&mut self) -> Result<(), ConfigError> {
        let file = self.file.clone().unwrap_or_default();
        for (path, line) in &self.key_files {
            let invalid = |message: String| ConfigError::Invalid {
                path: file.clone(),
                line: *line,
                message: format!("[signing] key file {}: {message}", path.display()),
            };
            let bytes = trusted::read_file(path, MAX_KEY_FILE_BYTES, self.strictness)
                .map_err(|error| invalid(format!("refused: {error}")))?
                .ok_or_else(|| invalid("no such file".to_owned()))?;
            if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
                return Err(invalid("too large to be a minisign public key".to_owned()));
            }
            let key = std::str::from_utf8(&bytes)
                .map_err(|_| "not UTF-8 text".to_owned())
                .and_then(TrustedKey::from_file_text)
                .map_err(invalid)?;
            self.signing.keys.push(key);
        }
        Ok(())
    }

    /// This configuration with the process's overrides applied, as
    /// [`Config::load`] applies them to the file it reads.
    pub fn with_env(mut self, env: &Env) -> Result<Config, ConfigError> {
        self.apply_env(env)?;
        Ok(self)
    }

    fn apply_env(&mut self, env: &Env) -> Result<(), ConfigError> {
        let root = |name: &'static str, value: &Option<PathBuf>, current: &mut PathBuf| match value
        {
            Some(path) if !path.is_absolute() => Err(ConfigError::Environment {
                name,
                message: format!("must be an absolute path, not {:?}", path.display()),
            }),
            Some(path) => {
                *current = path.clone();
                Ok(())
            }
            None => Ok(()),
        };
        root("SME_CGROUP_ROOT", &env.cgroup_root, &mut self.cgroup_root)?;
        root("SME_HOST_PROC", &env.host_proc, &mut self.host_proc)?;
        if let Some(dir) = &env.policy_dir {
            self.policy_dir = dir.clone();
        }
        if let Some(host) = &env.docker_host {
            self.docker_host = host.clone();
        }
        if let Some(log) = &env.audit_log {
            self.audit_log = Some(log.clone());
        }
        let optional_dir = |dir: &PathBuf| (!dir.as_os_str().is_empty()).then(|| dir.clone());
        if let Some(dir) = &env.cache_dir {
            self.cache_dir = optional_dir(dir);
        }
        if let Some(dir) = &env.state_dir {
            self.state_dir = optional_dir(dir);
        }
        if let Some(filter) = &env.log {
            self.log_level = Some(filter.clone());
        }
        self.strictness = env.strictness;
        Ok(())
    }

    /// The grant, limits and pin that apply to module `name` (an operation,
    /// or `metrics.d/<stem>` for a metrics add-on).
    pub fn module(&self, name: &str) -> ModuleSettings {
        let configured = self.modules.get(name);
        let (grant, grant_source) = match (
            configured.and_then(|m| m.grant.clone()),
            Grant::builtin(name),
        ) {
            (Some(grant), _) => (grant, GrantSource::Configured),
            (None, Some(grant)) => (grant, GrantSource::Builtin),
            (None, None) => (Grant::none(), GrantSource::Default),
        };
        ModuleSettings {
            grant,
            grant_source,
            limits: configured.map_or(self.limits, |m| m.limits),
            pin: configured.and_then(|m| m.pin),
            settings: configured.map(|m| m.settings.clone()).unwrap_or_default(),
            require_signature: configured
                .and_then(|m| m.require_signature)
                .unwrap_or(self.signing.require_signature),
            budgets: self
                .budgets
                .iter()
                .chain(configured.into_iter().flat_map(|m| &m.budgets))
                .cloned()
                .collect(),
            windows: self
                .windows
                .iter()
                .chain(configured.into_iter().flat_map(|m| &m.windows))
                .cloned()
                .collect(),
        }
    }

    /// How far back and how many spends any configured budget looks at:
    /// what the kept counts are pruned to ([`crate::sandbox::budgets::horizon`]).
    pub fn budget_horizon(&self) -> (Duration, usize) {
        budgets::horizon(self.all_budgets())
    }

    /// Every configured budget: `[budgets]`, then each module's own.
    pub fn all_budgets(&self) -> impl Iterator<Item = &Budget> {
        self.budgets
            .iter()
            .chain(self.modules.values().flat_map(|m| &m.budgets))
    }

    /// The names of the modules configured under `[modules]`.
    pub fn configured_modules(&self) -> impl Iterator<Item = &str> {
        self.modules.keys().map(String::as_str)
    }
}

/// Whether `name` can name a module: an operation (`stop`) or a metrics
/// add-on (`metrics.d/uptime`).
pub fn is_module_name(name: &str) -> bool {
    match name.strip_prefix("metrics.d/") {
        Some(stem) => crate::names::is_operation(stem),
        None => crate::names::is_operation(name),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A validation error at a span of the file.
type AtSpan<T> = Result<T, (Range<usize>, String)>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    policy_dir: Option<PathBuf>,
    docker_host: Option<String>,
    cgroup_root: Option<Spanned<PathBuf>>,
    host_proc: Option<Spanned<PathBuf>>,
    audit_log: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    require_pinning: Option<bool>,
    log_file: Option<PathBuf>,
    log_level: Option<String>,
    limits: Option<Spanned<RawLimits>>,
    signing: Option<RawSigning>,
    swarm: Option<RawSwarm>,
    systemd: Option<RawSystemd>,
    budgets: Option<RawBudgets>,
    windows: Option<RawWindows>,
    #[serde(default)]
    modules: BTreeMap<Spanned<String>, RawModule>,
}

/// `[windows]` or `[modules.<name>.windows]`: per effect, one window or a
/// list of them.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct RawWindows(BTreeMap<Spanned<String>, Spanned<toml::Value>>);

impl RawWindows {
    /// The windows, named in messages as configured under `source`.
    fn validate(self, source: &str) -> AtSpan<Vec<Windows>> {
        let mut valid = Vec::new();
        for (key, value) in self.0 {
            let effect = effect_named(&key)?;
            let span = value.span();
            let texts: Vec<toml::Value> = match value.into_inner() {
                toml::Value::Array(items) if !items.is_empty() => items,
                toml::Value::Array(_) => {
                    return Err((
                        span,
                        format!("{effect}: an empty list of windows never opens"),
                    ));
                }
                one => vec![one],
            };
            let mut any_of = Vec::new();
            for text in texts {
                let toml::Value::String(text) = text else {
                    return Err((
                        span.clone(),
                        format!(
                            "{effect}: a window is a string like \"Sat,Sun 02:00-04:00 Europe/Berlin\""
                        ),
                    ));
                };
                any_of.push(
                    Window::parse(&text)
                        .map_err(|why| (span.clone(), format!("{effect}: {why}")))?,
                );
            }
            valid.push(Windows {
                effect,
                any_of,
                source: source.to_owned(),
            });
        }
        Ok(valid)
    }
}

/// The effect a `[budgets]` or `[windows]` key names.
fn effect_named(key: &Spanned<String>) -> AtSpan<Effect> {
    Effect::named(key.get_ref()).ok_or_else(|| {
        let known: Vec<String> = budgets::EFFECTS
            .iter()
            .map(|info| format!("`{}`", info.name))
            .collect();
        (
            key.span(),
            format!(
                "unknown effect `{}`, expected one of {}",
                key.get_ref(),
                known.join(", ")
            ),
        )
    })
}

/// `[budgets]` or `[modules.<name>.budgets]`: per effect, one budget.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct RawBudgets(BTreeMap<Spanned<String>, RawBudget>);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    max: Spanned<u64>,
    per: Spanned<String>,
    target: Option<Spanned<String>>,
}

impl RawBudgets {
    /// The budgets, named in messages as configured under `source`.
    fn validate(self, source: &str) -> AtSpan<Vec<Budget>> {
        let mut valid = Vec::new();
        for (key, raw) in self.0 {
            let effect = effect_named(&key)?;
            let max = *raw.max.get_ref();
            if !(1..=budgets::MAX_PER_PERIOD).contains(&max) {
                return Err((
                    raw.max.span(),
                    format!(
                        "{effect}: max = {max} is out of range (1 to {})",
                        budgets::MAX_PER_PERIOD
                    ),
                ));
            }
            let per = Budget::parse_period(raw.per.get_ref())
                .map_err(|why| (raw.per.span(), format!("{effect}: {why}")))?;
            let target = raw
                .target
                .map(|target| {
                    Target::parse(target.get_ref())
                        .map_err(|error| (target.span(), format!("{effect}: {error}")))
                })
                .transpose()?;
            valid.push(Budget {
                effect,
                max: max as u32,
                per,
                target,
                source: source.to_owned(),
            });
        }
        Ok(valid)
    }
}

/// `[swarm]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSwarm {
    mode: Option<Spanned<String>>,
    service: Option<Spanned<String>>,
}

impl RawSwarm {
    fn validate(self) -> AtSpan<Swarm> {
        let mut swarm = Swarm::default();
        if let Some(mode) = self.mode {
            swarm.mode = swarm::Mode::parse(mode.get_ref()).ok_or_else(|| {
                (
                    mode.span(),
                    format!(
                        "mode {:?} is not one of \"off\", \"on\", \"auto\"",
                        mode.get_ref()
                    ),
                )
            })?;
        }
        if let Some(service) = self.service {
            swarm.service = swarm::Template::parse(service.get_ref())
                .map_err(|error| (service.span(), error.to_string()))?;
        }
        Ok(swarm)
    }
}

/// `[systemd]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystemd {
    mode: Option<Spanned<String>>,
    unit: Option<Spanned<String>>,
    bus: Option<Spanned<String>>,
}

impl RawSystemd {
    fn validate(self) -> AtSpan<Systemd> {
        let mut systemd = Systemd::default();
        if let Some(mode) = self.mode {
            systemd.mode = swarm::Mode::parse(mode.get_ref()).ok_or_else(|| {
                (
                    mode.span(),
                    format!(
                        "mode {:?} is not one of \"off\", \"on\", \"auto\"",
                        mode.get_ref()
                    ),
                )
            })?;
        }
        if let Some(unit) = self.unit {
            systemd.unit = systemd::Template::parse(unit.get_ref())
                .map_err(|message| (unit.span(), format!("unit {message}")))?;
        }
        if let Some(bus) = self.bus {
            systemd::check_bus(bus.get_ref()).map_err(|message| (bus.span(), message))?;
            systemd.bus = bus.into_inner();
        }
        Ok(systemd)
    }
}

/// `[signing]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    #[serde(default)]
    keys: Vec<Spanned<String>>,
    #[serde(default)]
    key_files: Vec<Spanned<PathBuf>>,
    require_signature: Option<bool>,
    #[serde(default)]
    revoked_keys: Vec<Spanned<String>>,
    #[serde(default)]
    revoked_sha256: Vec<Spanned<String>>,
}

impl RawSigning {
    fn validate(
        self,
        line_of: &dyn Fn(usize) -> usize,
    ) -> AtSpan<(Signing, Vec<(PathBuf, usize)>)> {
        let mut signing = Signing {
            require_signature: self.require_signature.unwrap_or(false),
            ..Signing::default()
        };
        for key in self.keys {
            let parsed = TrustedKey::from_base64(key.get_ref()).map_err(|e| (key.span(), e))?;
            signing.keys.push(parsed);
        }
        for id in self.revoked_keys {
            let parsed = KeyId::parse(id.get_ref()).ok_or_else(|| {
                (
                    id.span(),
                    format!(
                        "revoked key {:?} is not a key ID (up to 16 hexadecimal digits, as in \
                         \"minisign public key E7620F1842B4E81F\")",
                        id.get_ref()
                    ),
                )
            })?;
            signing.revoked_keys.insert(parsed);
        }
        for sha in self.revoked_sha256 {
            let parsed = parse_sha256(sha.get_ref()).ok_or_else(|| {
                (
                    sha.span(),
                    format!(
                        "revoked sha256 {:?} is not 64 hexadecimal digits",
                        sha.get_ref()
                    ),
                )
            })?;
            signing.revoked_sha256.insert(parsed);
        }
        let key_files = self
            .key_files
            .into_iter()
            .map(|path| {
                let line = line_of(path.span().start);
                (path.into_inner(), line)
            })
            .collect();
        Ok((signing, key_files))
    }
}

/// `[limits]` or `[modules.<name>.limits]`: values for the keys of
/// [`LIMIT_KEYS`], checked against that table.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct RawLimits(BTreeMap<Spanned<String>, Spanned<u64>>);

impl RawLimits {
    /// Each value with its key, refusing a key the table does not have.
    fn entries(&self) -> impl Iterator<Item = AtSpan<(&'static LimitKey, &Spanned<u64>)>> {
        self.0.iter().map(|(key, value)| {
            LimitKey::named(key.get_ref())
                .map(|limit| (limit, value))
                .ok_or_else(|| {
                    let known: Vec<String> = LIMIT_KEYS
                        .iter()
                        .map(|limit| format!("`{}`", limit.key))
                        .collect();
                    (
                        key.span(),
                        format!(
                            "unknown field `{}`, expected one of {}",
                            key.get_ref(),
                            known.join(", ")
                        ),
                    )
                })
        })
    }

    /// `request_deadline_ms`, which only `[limits]` may set.
    fn request_deadline(&self) -> AtSpan<Duration> {
        for entry in self.entries() {
            let (limit, value) = entry?;
            if matches!(limit.reach, Reach::Request) {
                let ms = limit
                    .check(*value.get_ref())
                    .map_err(|why| (value.span(), why))?;
                return Ok(Duration::from_millis(ms));
            }
        }
        Ok(DEFAULT_REQUEST_DEADLINE)
    }

    /// `base` with the module limits set here. With `per_module`, a key of
    /// the whole request is refused.
    fn apply(&self, base: Limits, per_module: bool) -> AtSpan<Limits> {
        let mut limits = base;
        for entry in self.entries() {
            let (limit, value) = entry?;
            match limit.reach {
                Reach::Module { set, .. } => {
                    let checked = limit
                        .check(*value.get_ref())
                        .map_err(|why| (value.span(), why))?;
                    set(&mut limits, checked);
                }
                Reach::Request if per_module => {
                    return Err((
                        value.span(),
                        format!(
                            "`{}` is one budget for the whole request: set it under [limits], \
                             not per module (use `deadline_ms` to cap one module)",
                            limit.key
                        ),
                    ));
                }
                Reach::Request => {}
            }
        }
        Ok(limits)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    sha256: Option<Spanned<String>>,
    grants: Option<RawGrants>,
    limits: Option<Spanned<RawLimits>>,
    settings: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    require_signature: Option<bool>,
    budgets: Option<RawBudgets>,
    windows: Option<RawWindows>,
}

impl RawModule {
    fn validate(
        self,
        name: &str,
        global: Limits,
        line_of: &dyn Fn(usize) -> usize,
    ) -> AtSpan<ModuleConfig> {
        let pin = self
            .sha256
            .map(|pin| {
                parse_sha256(pin.get_ref()).ok_or_else(|| {
                    (
                        pin.span(),
                        format!("sha256 {:?} is not 64 hexadecimal digits", pin.get_ref()),
                    )
                })
            })
            .transpose()?;
        let limits = match &self.limits {
            Some(limits) => limits.get_ref().apply(global, true)?,
            None => global,
        };
        let mut settings = Vec::new();
        for (key, value) in self.settings.into_iter().flatten() {
            let span = key.span();
            let value = match value.into_inner() {
                toml::Value::Integer(n) => Value::Int(n),
                toml::Value::String(text) => Value::Text(text),
                toml::Value::Boolean(b) => Value::Bool(b),
                _ => {
                    return Err((
                        span,
                        format!(
                            "setting `{}` must be a string, an integer or a boolean",
                            key.get_ref()
                        ),
                    ));
                }
            };
            settings.push(Configured {
                line: line_of(span.start),
                key: key.into_inner(),
                value,
            });
        }
        Ok(ModuleConfig {
            pin,
            grant: self.grants.map(RawGrants::validate).transpose()?,
            limits,
            settings,
            require_signature: self.require_signature,
            budgets: match self.budgets {
                Some(budgets) => budgets
                    .validate(&format!("[modules.{name}.budgets]"))
                    .map_err(|(span, message)| (span, format!("budgets: {message}")))?,
                None => Vec::new(),
            },
            windows: match self.windows {
                Some(windows) => windows
                    .validate(&format!("[modules.{name}.windows]"))
                    .map_err(|(span, message)| (span, format!("windows: {message}")))?,
                None => Vec::new(),
            },
        })
    }
}

/// The targets listed for one verb, with their places in the file.
type Targets = Vec<Spanned<String>>;

/// `[modules.<name>.grants]`: per verb, the targets it covers. `read` is
/// shorthand for `inspect`, `list` and `stats`; the other keys are the
/// grantable verbs of the verb table.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct RawGrants(BTreeMap<Spanned<String>, Targets>);

/// The key of the `read` shorthand.
const READ_KEY: &str = "read";

impl RawGrants {
    fn validate(self) -> AtSpan<Grant> {
        // Each key's verb (none for `read`), sorted as the keys are
        // documented (`read` first, then the verb table's order), so targets
        // keep that order.
        let mut rules = Vec::new();
        for (key, targets) in self.0 {
            let verb = match key.get_ref().as_str() {
                READ_KEY => None,
                name => Some(Verb::from_name(name).ok_or_else(|| {
                    let known: Vec<String> = std::iter::once(READ_KEY)
                        .chain(Verb::GRANTABLE.iter().map(|verb| verb.name()))
                        .map(|name| format!("`{name}`"))
                        .collect();
                    let message = format!(
                        "unknown field `{name}`, expected one of {}",
                        known.join(", ")
                    );
                    (key.span(), message)
                })?),
            };
            rules.push((verb, targets));
        }
        rules.sort_by_key(|(verb, _)| *verb);
        let mut grant = Grant::none();
        for (verb, targets) in rules {
            let verbs = verb.map_or(Verb::READ.to_vec(), |verb| vec![verb]);
            for target in targets {
                let parsed = Target::parse(target.get_ref())
                    .map_err(|error| (target.span(), error.to_string()))?;
                for &verb in &verbs {
                    grant.allow(verb, parsed.clone());
                }
            }
        }
        Ok(grant)
    }
}

/// Parses 64 hexadecimal digits (either case).
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut digest).ok()?;
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::grants::Decision;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("sme.toml"))
    }

    #[test]
    fn counters_are_read_under_absolute_roots() {
        let config = parse("").unwrap();
        assert_eq!(config.counter_roots(), Roots::default());
        let config = parse("cgroup_root = \"/host/cgroup\"\nhost_proc = \"/host/proc\"\n").unwrap();
        let roots = config.counter_roots();
        assert_eq!(
            (roots.cgroup.as_path(), roots.proc.as_path()),
            (Path::new("/host/cgroup"), Path::new("/host/proc"))
        );
        let refused = parse("\nhost_proc = \"proc\"\n").unwrap_err().to_string();
        assert!(
            refused.contains("line 2") && refused.contains("host_proc must be an absolute path"),
            "{refused}"
        );
    }

    #[test]
    fn the_environment_moves_the_counters_roots_only_to_absolute_paths() {
        let env = Env {
            host_proc: Some(PathBuf::from("/host/proc")),
            ..Env::default()
        };
        let config = parse("cgroup_root = \"/c\"\nhost_proc = \"/p\"\n").unwrap();
        let moved = config.with_env(&env).unwrap();
        assert_eq!(moved.host_proc, Path::new("/host/proc"));
        assert_eq!(
            moved.cgroup_root,
            Path::new("/c"),
            "the file's, not overridden"
        );
        let env = Env {
            cgroup_root: Some(PathBuf::from("sys/fs/cgroup")),
            ..Env::default()
        };
        let refused = parse("").unwrap().with_env(&env).unwrap_err().to_string();
        assert_eq!(
            refused,
            "environment variable SME_CGROUP_ROOT: must be an absolute path, not \"sys/fs/cgroup\""
        );
    }

    fn line_of_error(text: &str) -> usize {
        match parse(text).unwrap_err() {
            ConfigError::Invalid { line, .. } => line,
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn systemd_settings_are_read_and_checked() {
        assert_eq!(parse("").unwrap().systemd, Systemd::default());
        let config = parse(
            "[systemd]\nmode = \"on\"\nunit = \"snap.edgexfoundry.{name}.service\"\nbus = \"unix:path=/tmp/bus\"\n",
        )
        .unwrap();
        assert_eq!(config.systemd.mode, swarm::Mode::On);
        assert_eq!(config.systemd.bus(), Some("unix:path=/tmp/bus"));
        assert_eq!(
            config.systemd.map("edgex-core-data"),
            systemd::Mapped::Unit("snap.edgexfoundry.core-data.service".to_owned())
        );
        assert_eq!(line_of_error("\n[systemd]\nmode = \"yes\"\n"), 3);
        assert_eq!(
            line_of_error("[systemd]\nunit = \"getty@{name}.service\"\n"),
            2
        );
        assert_eq!(line_of_error("[systemd]\nbus = \"/run/dbus\"\n"), 2);
        assert_eq!(line_of_error("[systemd]\ntimeout = 2\n"), 2);
        let message = parse("[systemd]\nunit = \"{name}\"\n")
            .unwrap_err()
            .to_string();
        assert!(message.contains("[systemd] unit \"{name}\""), "{message}");
    }

    #[test]
    fn swarm_and_systemd_are_not_both_on() {
        let both = "[swarm]\nmode = \"on\"\n[systemd]\nmode = \"on\"\n";
        let message = parse(both).unwrap_err().to_string();
        assert!(message.contains("at most one may be"), "{message}");
        for (swarm, systemd) in [("on", "auto"), ("auto", "on"), ("auto", "auto")] {
            let text = format!("[swarm]\nmode = \"{swarm}\"\n[systemd]\nmode = \"{systemd}\"\n");
            assert!(parse(&text).is_ok(), "{text}");
        }
    }

    #[test]
    fn swarm_settings_are_read_and_checked() {
        assert_eq!(parse("").unwrap().swarm, Swarm::default());
        let config = parse("[swarm]\nmode = \"on\"\nservice = \"edgex_{name}\"\n").unwrap();
        assert_eq!(config.swarm.mode, swarm::Mode::On);
        assert_eq!(
            config.swarm.candidate("edgex-core-data").as_deref(),
            Some("edgex_core-data")
        );
        assert_eq!(line_of_error("\n[swarm]\nmode = \"yes\"\n"), 3);
        assert_eq!(line_of_error("[swarm]\nservice = \"edgex\"\n"), 2);
        assert_eq!(line_of_error("[swarm]\nreplicas = 2\n"), 2);
        let message = parse("[swarm]\nmode = \"yes\"\n").unwrap_err().to_string();
        assert!(message.contains("[swarm] mode \"yes\""), "{message}");
    }

    #[test]
    fn service_verbs_can_be_granted() {
        let config =
            parse("[modules.stop.grants]\nscale = [\"self\"]\nredeploy = [\"label:tier=edge\"]\n")
                .unwrap();
        let grant = config.module("stop").grant;
        assert_eq!(
            grant.verbs().collect::<Vec<_>>(),
            [Verb::Scale, Verb::Redeploy]
        );
        assert!(parse("[modules.stop.grants]\nscale = [\"label:sme.note.replicas\"]\n").is_err());
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.policy_dir, Path::new(DEFAULT_POLICY_DIR));
        assert_eq!(config.docker_host, DEFAULT_DOCKER_HOST);
        assert_eq!(config.limits, Limits::default());
        assert!(!config.require_pinning);
        assert_eq!(config.module("stop").grant_source, GrantSource::Builtin);
        assert_eq!(config.module("pause").grant, Grant::none());
    }

    #[test]
    fn a_full_file_is_understood() {
        let config = parse(
            r#"
policy_dir = "/srv/policies"
audit_log = "/var/log/sme.jsonl"
require_pinning = true

[limits]
deadline_ms = 5000
host_calls = 10

[modules.pause]
sha256 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
[modules.pause.grants]
read = ["self"]
pause = ["self", "name:edgex-*", "label:tier=edge"]
[modules.pause.limits]
fuel = 1000

[modules."metrics.d/uptime".grants]
inspect = ["self"]
"#,
        )
        .unwrap();
        assert_eq!(config.policy_dir, Path::new("/srv/policies"));
        assert!(config.require_pinning);
        assert_eq!(config.limits.deadline, Duration::from_secs(5));
        let pause = config.module("pause");
        assert_eq!(pause.grant_source, GrantSource::Configured);
        assert_eq!(pause.limits.fuel, 1000);
        assert_eq!(
            pause.limits.host_calls, 10,
            "module limits start from the global ones"
        );
        assert_eq!(pause.pin.unwrap()[1], 0x11);
        assert_eq!(
            pause.grant.permits(Verb::Pause, "edgex-ui", "svc", None),
            Decision::Allow
        );
        assert_eq!(
            pause.grant.permits(Verb::Stats, "svc", "svc", None),
            Decision::Allow
        );
        assert_eq!(
            pause.grant.permits(Verb::Stop, "svc", "svc", None),
            Decision::Deny
        );
        let uptime = config.module("metrics.d/uptime");
        assert_eq!(uptime.grant.verbs().collect::<Vec<_>>(), [Verb::Inspect]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(line_of_error("policy_dir = \"/x\"\nunknown_key = 1\n"), 2);
        assert_eq!(line_of_error("[limits]\n\ndeadline_ms = 0\n"), 3);
        assert_eq!(
            line_of_error("[modules.stop.grants]\nstop = [\"self\"]\nstopp = [\"self\"]\n"),
            3
        );
        assert_eq!(
            line_of_error(
                "[modules.stop.grants]\ninspect = [\"self\"]\nstop = [\"self\", \"name:a/b\"]\n"
            ),
            3
        );
        assert_eq!(line_of_error("\n[modules.stop]\nsha256 = \"abc\"\n"), 3);
        assert_eq!(line_of_error("[modules.\"../evil\"]\n"), 1);
    }

    #[test]
    fn error_messages_are_one_line() {
        for text in [
            "x = [",
            "[limits]\nfuel = \"lots\"\n",
            "[modules.stop.grants]\nstop = [\"nobody\"]\n",
        ] {
            let message = parse(text).unwrap_err().to_string();
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.starts_with("configuration sme.toml, line "),
                "{message}"
            );
        }
    }

    #[test]
    fn the_request_deadline_is_global_only() {
        assert_eq!(
            parse("").unwrap().request_deadline,
            DEFAULT_REQUEST_DEADLINE
        );
        let config = parse("[limits]\nrequest_deadline_ms = 3000\n").unwrap();
        assert_eq!(config.request_deadline, Duration::from_secs(3));
        assert_eq!(config.limits, Limits::default(), "not a per-module limit");
        assert_eq!(line_of_error("[limits]\nrequest_deadline_ms = 0\n"), 2);
        let text = "[modules.stop.limits]\nfuel = 10\nrequest_deadline_ms = 3000\n";
        assert_eq!(line_of_error(text), 3);
        let message = parse(text).unwrap_err().to_string();
        assert!(
            message.contains(
                "[modules.stop] `request_deadline_ms` is one budget for the whole request"
            ),
            "{message}"
        );
    }

    #[test]
    fn module_settings_keep_their_lines() {
        let config = parse(
            "[modules.stop.settings]\ngrace_cap_s = 5\n\n[modules.\"metrics.d/x\".settings]\nlabel = \"a\"\non = true\n",
        )
        .unwrap();
        let stop = config.module("stop").settings;
        assert_eq!(
            stop,
            [Configured {
                key: "grace_cap_s".into(),
                value: Value::Int(5),
                line: 2
            }]
        );
        let addon = config.module("metrics.d/x").settings;
        assert_eq!(addon[0].line, 5);
        assert_eq!(addon[1].value, Value::Bool(true));
        assert!(config.module("start").settings.is_empty());
        assert_eq!(
            line_of_error("[modules.stop.settings]\n\nratio = 0.5\n"),
            3,
            "floats are not settings"
        );
    }

    #[test]
    fn signing_settings_are_understood() {
        let config = parse(
            r#"
[signing]
keys = ["RWThwDAna6R4ZdO0dJPvYulnJbipM2W/3P5hUPGqg4zRY/aGSrGp7+ys"]
revoked_keys = ["e7620f1842b4e81f"]
revoked_sha256 = ["00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"]

[modules.stop]
require_signature = true
"#,
        )
        .unwrap();
        assert_eq!(config.signing.keys[0].id.to_string(), "6578A46B2730C0E1");
        assert!(!config.signing.require_signature);
        assert!(config.module("stop").require_signature);
        assert!(!config.module("restart").require_signature);
        assert_eq!(
            config
                .signing
                .revoked_keys
                .iter()
                .next()
                .unwrap()
                .to_string(),
            "E7620F1842B4E81F"
        );
        assert_eq!(config.signing.revoked_sha256.len(), 1);
        let global = parse(
            "[signing]\nrequire_signature = true\n[modules.stop]\nrequire_signature = false\n",
        )
        .unwrap();
        assert!(global.module("restart").require_signature);
        assert!(
            !global.module("stop").require_signature,
            "a module may opt out"
        );
    }

    #[test]
    fn signing_errors_name_the_line() {
        assert_eq!(line_of_error("[signing]\n\nkeys = [\"RWQ\"]\n"), 3);
        assert_eq!(line_of_error("[signing]\nrevoked_keys = [\"xyz\"]\n"), 2);
        assert_eq!(line_of_error("[signing]\nrevoked_sha256 = [\"ab\"]\n"), 2);
        assert_eq!(line_of_error("[signing]\nrequire = true\n"), 2);
        let message = parse("[signing]\nkeys = [\"RWQ\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("[signing] public key \"RWQ\""),
            "{message}"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config = parse("policy_dir = \"/a\"\ncache_dir = \"/c\"\n").unwrap();
        config
            .apply_env(&Env {
                policy_dir: Some("/b".into()),
                cache_dir: Some("".into()),
                ..Env::default()
            })
            .unwrap();
        assert_eq!(config.policy_dir, Path::new("/b"));
        assert_eq!(config.cache_dir, None);
    }
}
