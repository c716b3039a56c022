//! `smectl new <operation> [--metrics] [DIR]`: scaffolds a policy project,
//! a Rust crate of its own workspace that builds the module for
//! `wasm32-wasip2`, with a unit test on the SDK's off-wasm fake, a passing
//! scenario, a staging configuration granting what it needs, and a README
//! walking through build, test, stage, install and check.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// The guest SDK of the source tree this `smectl` was built from.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

/// What is being scaffolded.
struct Project {
    /// The module's name in configuration: `drain`, `metrics`,
    /// `metrics.d/uptime`.
    module: String,
    /// The crate's package name: the operation or add-on name.
    package: String,
    /// The library (and function) name: the package with `-` as `_`.
    lib: String,
    /// A metrics module rather than an operation.
    metrics: bool,
    /// The guest SDK, absolute.
    sdk: PathBuf,
}

/// Writes the project; errors are one line naming the directory or file.
pub fn run(
    operation: &str,
    metrics: bool,
    sdk: Option<PathBuf>,
    dir: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<bool> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(operation));
    if !sme::names::is_operation(operation) {
        bail!(
            "{}: {operation:?} is not an operation name (lowercase letters, digits and dashes, \
             starting with a letter)",
            dir.display()
        );
    }
    let module = match (metrics, operation) {
        (true, "metrics") | (false, _) => operation.to_owned(),
        (true, name) => format!("metrics.d/{name}"),
    };
    if !metrics && operation == "metrics" {
        bail!(
            "{}: `metrics` is the metrics module: scaffold it with --metrics",
            dir.display()
        );
    }
    let project = Project {
        module,
        package: operation.to_owned(),
        lib: operation.replace('-', "_"),
        metrics,
        sdk: find_sdk(sdk, &dir)?,
    };
    match std::fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{}: already exists and is not empty; choose another directory",
                    dir.display()
                );
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => bail!("{}: {error}", dir.display()),
    }

    let files = project.files();
    for (name, text) in &files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create it", parent.display()))?;
        }
        sme::fs::new_file::write(&path, text.as_bytes())
            .with_context(|| format!("{}: cannot write it", path.display()))?;
    }
    if json {
        let report = serde_json::json!({
            "directory": dir.display().to_string(),
            "module": project.module,
            "sdk": project.sdk.display().to_string(),
            "files": files.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "created {} ({}, module {}, SDK {})",
            dir.display(),
            if metrics { "metrics" } else { "operation" },
            project.module,
            project.sdk.display()
        );
        for (name, _) in &files {
            println!("  {name}");
        }
        println!("next: see {}", dir.join("README.md").display());
    }
    Ok(true)
}

/// `--sdk`, else `$SME_GUEST_SDK`, else the source tree's; absolute.
fn find_sdk(sdk: Option<PathBuf>, dir: &Path) -> anyhow::Result<PathBuf> {
    let from_env = std::env::var_os("SME_GUEST_SDK").filter(|v| !v.is_empty());
    let (sdk, given) = match (sdk, from_env) {
        (Some(sdk), _) => (sdk, "--sdk"),
        (None, Some(sdk)) => (PathBuf::from(sdk), "$SME_GUEST_SDK"),
        (None, None) => (PathBuf::from(BUILT_FROM_SDK), ""),
    };
    match std::fs::canonicalize(&sdk) {
        Ok(path) if path.join("Cargo.toml").is_file() => Ok(path),
        _ if given.is_empty() => bail!(
            "{}: the guest SDK this smectl was built from ({}) is not there; pass --sdk DIR \
             (the `guest-sdk` directory of an SME source tree)",
            dir.display(),
            sdk.display()
        ),
        _ => bail!(
            "{}: the guest SDK given by {given} ({}) is not a crate directory (no Cargo.toml)",
            dir.display(),
            sdk.display()
        ),
    }
}

impl Project {
    /// Every file, by path relative to the project.
    fn files(&self) -> Vec<(String, String)> {
        vec![
            ("Cargo.toml".to_owned(), self.cargo_toml()),
            ("src/lib.rs".to_owned(), self.lib_rs()),
            ("scenarios/running.toml".to_owned(), self.scenario()),
            ("staging.toml".to_owned(), self.staging()),
            ("README.md".to_owned(), self.readme()),
            (".gitignore".to_owned(), "target/\nstaging/\n".to_owned()),
        ]
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{module}", &self.module)
            .replace("{package}", &self.package)
            .replace("{lib}", &self.lib)
            .replace("{sdk}", &self.sdk.display().to_string())
    }

    fn cargo_toml(&self) -> String {
        self.fill(CARGO_TOML)
    }

    fn lib_rs(&self) -> String {
        self.fill(if self.metrics {
            METRICS_RS
        } else {
            OPERATION_RS
        })
    }

    fn scenario(&self) -> String {
        if !self.metrics {
            return self.fill(OPERATION_SCENARIO);
        }
        // An add-on's field follows the base metrics policy's, which reads
        // the scenario's figures through `docker stats`' arithmetic; the
        // base metrics module's fields are the whole object.
        let (output, calls) = if self.module == "metrics" {
            (
                r#"{"restartCount":3}"#.to_owned(),
                r#"["inspect edgex-demo"]"#,
            )
        } else {
            (
                format!("{BASE_METRICS_OUTPUT},\"restartCount\":3}}"),
                r#"["stats edgex-demo", "inspect edgex-demo"]"#,
            )
        };
        self.fill(METRICS_SCENARIO)
            .replace("{output}", &output)
            .replace("{calls}", calls)
    }

    /// The grant the module needs: a new operation or add-on is granted
    /// nothing by default.
    fn grant(&self) -> String {
        self.fill("[modules.\"{module}\".grants]\ninspect = [\"self\"]\n")
    }

    fn staging(&self) -> String {
        self.fill(STAGING) + &self.grant()
    }

    fn readme(&self) -> String {
        let request = if self.metrics {
            "metrics"
        } else {
            &self.module
        };
        self.fill(README)
            .replace("{request}", request)
            .replace("{grant}", self.grant().trim_end())
    }
}

const CARGO_TOML: &str = r#"[package]
name = "{package}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
name = "{lib}"
crate-type = ["cdylib"]

[dependencies]
sme-guest = { path = "{sdk}" }

# `smectl test` finds the module this crate builds, and what it is called.
[package.metadata.sme]
module = "{module}"

# A workspace of its own, so a workspace above this directory does not claim it.
[workspace]

# Policies are small and run once per process: optimise for size and keep
# panics from pulling in unwinding machinery.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true
"#;

const OPERATION_RS: &str = r#"//! `{module}`: an operation for SME. It inspects the service's container and
//! answers the way the EdgeX reference executor answers: `""` when all is
//! well, an error text otherwise. It needs `inspect` on `self` in its grant
//! (see README.md); every further call (`containers::stop`, `restart`...)
//! needs its own verb there too.

use sme_guest::containers::{self, Status};
use sme_guest::edgex::{self, SUCCESS};
use sme_guest::{Error, Request};

/// The start of every error text, like the reference's `Error stopping service`.
const PREFIX: &str = "Error running {module} on service";

fn {lib}(request: Request) -> Result<String, String> {
    let service = &request.service;
    let failed = |error: Error| match error {
        Error::NotFound(_) => edgex::not_found(service),
        other => format!("{PREFIX}: {}", other.message()),
    };
    let container = containers::inspect(service).map_err(failed)?;
    // Decide here, from what the container is: its status, health, labels,
    // image... Refusing is an answer (an `Err` text), not a panic.
    if container.status != Status::Running {
        return Err(format!("{PREFIX}: {service} is not running"));
    }
    // Act here (each call needs its verb granted), then inspect again and
    // check the state you expect, as the default policies do.
    Ok(SUCCESS.to_owned())
}

sme_guest::operation!({lib});

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::testing::{self, Scene};

    #[test]
    fn a_running_service_is_answered_with_success() {
        Scene::new()
            .container(testing::container("edgex-demo").status(Status::Running))
            .install();
        let answer = {lib}(testing::request("edgex-demo", "{module}"));
        assert_eq!(answer, Ok(SUCCESS.to_owned()));
        assert_eq!(testing::calls(), ["inspect edgex-demo"]);
    }

    #[test]
    fn a_stopped_service_is_refused() {
        Scene::new()
            .container(testing::container("edgex-demo").status(Status::Exited))
            .install();
        let answer = {lib}(testing::request("edgex-demo", "{module}"));
        assert_eq!(answer, Err(format!("{PREFIX}: edgex-demo is not running")));
    }
}
"#;

const METRICS_RS: &str = r#"//! `{module}`: metrics for SME. It adds `restartCount` to the object the
//! agent gets for `metrics`. It needs `inspect` on `self` in its grant (see
//! README.md).

use sme_guest::{Metric, MetricValue, Request, containers};

fn {lib}(request: Request) -> Result<Vec<Metric>, String> {
    let container = containers::inspect(&request.service)?;
    // Add fields here: one `Metric` each, named as the agent expects them.
    Ok(vec![Metric {
        name: "restartCount".to_owned(),
        value: MetricValue::Integer(container.restart_count.into()),
    }])
}

sme_guest::metrics!({lib});

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::containers::Status;
    use sme_guest::testing::{self, Scene};

    #[test]
    fn the_restart_count_is_reported() {
        Scene::new()
            .container(testing::container("edgex-demo").status(Status::Running))
            .install();
        let metrics = {lib}(testing::request("edgex-demo", "metrics")).unwrap();
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0].name, "restartCount");
        assert_eq!(testing::calls(), ["inspect edgex-demo"]);
    }
}
"#;

const OPERATION_SCENARIO: &str = r#"description = "a running service is answered with success"

[request]
service = "edgex-demo"
operation = "{module}"

[[container]]
name = "edgex-demo"
status = "running"

# A new operation is granted nothing by default: this is what it needs.
[config.modules."{module}".grants]
inspect = ["self"]

[expect]
output = '""'
exit_code = 0
calls = ["inspect edgex-demo"]
"#;

const METRICS_SCENARIO: &str = r#"description = "metrics of a running service are reported"

[request]
service = "edgex-demo"
operation = "metrics"

[[container]]
name = "edgex-demo"
status = "running"
cpu_percent = 2.5
memory_bytes = 688128
memory_limit = 1073741824
restart_count = 3

# Granted nothing by default: this is what it needs.
[config.modules."{module}".grants]
inspect = ["self"]

[expect]
output = '{output}'
exit_code = 0
calls = {calls}
"#;

/// What the built-in metrics policy prints for the scaffold scenario's
/// figures, without its closing brace.
const BASE_METRICS_OUTPUT: &str = r#"{"cpuUsedPercent":2.5,"memoryUsed":688128,"raw":{"cpu_perc":"2.50%","mem_usage":"672KiB / 1GiB","mem_perc":"0.06%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"1"}"#;

const STAGING: &str = r#"# Staging: try the module before it is installed for real. Run smectl from
# this directory (the paths below are relative to it):
#   smectl --config staging.toml install target/wasm32-wasip2/release/{lib}.wasm --as {module}
# copies the module into staging/ and pins it here.
policy_dir = "staging"
cache_dir = "target/sme-cache"
state_dir = "target/sme-state"

# Granted nothing by default: this is what it needs.
"#;

const README: &str = r#"# {module}

An SME policy module, `{module}`, written in Rust against the `sme-guest` SDK.
`src/lib.rs` is the policy; `scenarios/` describes runs it must pass;
`staging.toml` is a configuration to try it under.

## Build

    cargo build --release --target wasm32-wasip2

The module is `target/wasm32-wasip2/release/{lib}.wasm`.

## Test

    cargo test        # unit tests: the host is the SDK's fake, no daemon
    smectl test       # scenarios/*.toml against the simulated engine, no daemon

## Grant

A module is granted nothing unless the configuration says so, and one that
can do nothing is refused by `smectl install` and failed by `smectl check`.
This one needs:

```toml
{grant}
```

## Stage

`staging.toml` grants it that and keeps everything under this directory:

    smectl --config staging.toml install target/wasm32-wasip2/release/{lib}.wasm --as {module}
    smectl --config staging.toml run edgex-demo {request} --dry-run   # real reads, changes only recorded

## Install

Add the grant above to the deployment's configuration (`/etc/sme/sme.toml`),
then:

    smectl install target/wasm32-wasip2/release/{lib}.wasm --as {module}
    smectl check

`install` checks the module, copies it into the policy directory atomically,
pins its sha256 in the configuration (keeping the file's comments) and
precompiles it; `check` then checks the whole deployment as `sme` would load it.
"#;
