//! What a deployment gives SME, as `smectl check` reports it: whether the
//! Docker Engine answers at `docker_host`, and whether the state and cache
//! directories can be used, with what it costs when they cannot (inside the
//! agent's read-only container, a missing volume is the usual cause).

use std::path::Path;
use std::time::Duration;

use crate::backend::docker::cgroup::Roots;
use crate::backend::docker::{self, Engine};
use crate::config::Config;
use crate::fs::private_dir::PrivateDir;
use crate::sandbox::ledger::Ledger;

/// How long the Engine may take to answer a version request: longer than
/// the time a refused connection is tried again, so an absent daemon is
/// reported as such.
const DOCKER_WAIT: Duration = Duration::from_secs(3 + docker::RECONNECT.as_secs());

/// What one setting of the deployment gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The setting: `docker_host`, `state_dir`, `cache_dir`, `cgroup` or
    /// `budgets`.
    pub setting: &'static str,
    /// Its value (`off` when turned off).
    pub value: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// Whether a setting works, and what it costs when it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Usable; what was found (the daemon's version).
    Usable(String),
    /// Not usable, and runs are slower or weaker for it: why and the cost.
    Costly(String),
    /// Not usable, and requests will fail: why.
    Failing(String),
}

/// The findings for `config`: the Engine asked once (with a deadline), the
/// directories opened (created if missing, as `sme` would) and written to.
pub async fn survey(config: &Config) -> Vec<Finding> {
    vec![
        Finding {
            setting: "docker_host",
            value: config.docker_host.clone(),
            verdict: docker(&config.docker_host).await,
        },
        directory(
            "state_dir",
            config.state_dir.as_deref(),
            "cpu",
            "no CPU reading is kept between runs, so every metrics call waits for Docker's own \
             measurement, about 1 s",
        ),
        directory(
            "cache_dir",
            config.cache_dir.as_deref(),
            "",
            "policy files are compiled on every call (built-ins are not), and those over \
             `compile_on_demand_kib` cannot run at all",
        ),
        counters(&config.counter_roots()),
    ]
    .into_iter()
    .chain(budgets(config))
    .collect()
}

/// Where budgets are configured, whether their counts can be kept: without
/// that, every change a budget counts is refused (docs/budgets.md).
fn budgets(config: &Config) -> Option<Finding> {
    let configured = config.all_budgets().count();
    if configured == 0 {
        return None;
    }
    let verdict = match Ledger::open(config.state_dir.as_deref()) {
        Ok(ledger) => Verdict::Usable(format!(
            "{configured} configured, counted in {}",
            ledger.path().display()
        )),
        Err(error) => Verdict::Failing(format!(
            "every change a budget counts will be refused: {error}"
        )),
    };
    Some(Finding {
        setting: "budgets",
        value: format!("{configured} configured"),
        verdict,
    })
}

/// Whether metrics can read containers' counters from their cgroups, or
/// must wait for the Engine's stats collector.
fn counters(roots: &Roots) -> Finding {
    let value = roots.cgroup.display().to_string();
    let Some(version) = roots.visible() else {
        return Finding {
            setting: "cgroup",
            value,
            verdict: Verdict::Costly(
                "containers' cgroups are not visible here: metrics wait for the Docker Engine's \
                 stats collector, about 1 s for a fresh reading (more when many are asked at \
                 once); mount the host's /sys/fs/cgroup read-only"
                    .to_owned(),
            ),
        };
    };
    let verdict = if hosts_processes_visible(&roots.proc) {
        Verdict::Usable(format!(
            "{version}: metrics read containers' counters directly, about a quarter second \
             with no kept reading and a few milliseconds with one"
        ))
    } else {
        Verdict::Costly(format!(
            "{version}: metrics read containers' counters directly, but the host's processes \
             are not visible under {}, so network I/O is the last figure kept (0 until one is \
             read); mount the host's /proc read-only and name it with host_proc or \
             SME_HOST_PROC",
            roots.proc.display()
        ))
    };
    Finding {
        setting: "cgroup",
        value,
        verdict,
    }
}

/// Whether the host's processes, and so containers' network namespaces,
/// can be seen under `proc`: its process 1 sits at the root of its cgroups,
/// as the host's init does (a container's process 1 sits in the
/// container's cgroup).
fn hosts_processes_visible(proc: &Path) -> bool {
    std::fs::read_to_string(proc.join("1/cgroup")).is_ok_and(|text| {
        text.lines()
            .filter_map(|line| line.rsplit(':').next())
            .all(|path| path == "/" || path == "/init.scope")
    })
}

async fn docker(endpoint: &str) -> Verdict {
    let engine = match Engine::connect(endpoint) {
        Ok(engine) => engine,
        Err(error) => return failing_docker(&error.to_string()),
    };
    match tokio::time::timeout(DOCKER_WAIT, engine.version()).await {
        Ok(Ok((version, api))) => Verdict::Usable(format!("Docker {version} (API {api})")),
        Ok(Err(error)) => failing_docker(&error.to_string()),
        Err(_) => failing_docker(&format!(
            "{endpoint} did not answer within {} s",
            DOCKER_WAIT.as_secs()
        )),
    }
}

fn failing_docker(why: &str) -> Verdict {
    Verdict::Failing(format!(
        "{why}: every operation the agent asks for will fail (mount the Docker socket, or set \
         docker_host / DOCKER_HOST)"
    ))
}

/// `dir` (its subdirectory `sub`, where `sme` keeps its files) checked as
/// `sme` uses it: private to this user, and writable now.
fn directory(setting: &'static str, dir: Option<&Path>, sub: &str, cost: &str) -> Finding {
    let Some(dir) = dir else {
        return Finding {
            setting,
            value: "off".to_owned(),
            verdict: Verdict::Costly(format!("{setting} is turned off: {cost}")),
        };
    };
    let path = if sub.is_empty() {
        dir.to_path_buf()
    } else {
        dir.join(sub)
    };
    let opened = PrivateDir::open_or_why(&path).map_err(|error| error.to_string());
    let verdict = match opened.and_then(|dir| dir.probe_write().map_err(|e| e.to_string())) {
        Ok(()) => Verdict::Usable("usable".to_owned()),
        Err(why) => Verdict::Costly(format!(
            "{setting} {} is not usable ({why}): {cost}; mount a volume there, or a tmpfs with \
             mode=0700 (Docker's default tmpfs mode, 1777, is refused)",
            dir.display()
        )),
    };
    Finding {
        setting,
        value: dir.display().to_string(),
        verdict,
    }
}
