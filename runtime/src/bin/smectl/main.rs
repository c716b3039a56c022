//! `smectl`: the operator's and auditor's command. Shows what a module
//! imports and is granted, checks a deployment, runs a policy with its
//! mutating calls only recorded, signs and installs a module, shows and resets
//! budgets, and scaffolds a new one. (`sme`'s own arguments belong to the agent,
//! so everything human-facing lives here.)

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect, check and try SME policy modules.
#[derive(Debug, Parser)]
#[command(name = "smectl", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The configuration file (default: $SME_CONFIG, else /etc/sme/sme.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The policy directory (overrides the configuration and $SME_POLICY_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    policy_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a module's world, exports, imports and sha256, and the grants
    /// and limits it would get under the current configuration.
    Inspect {
        /// The component file.
        module: PathBuf,
        /// Treat it as this module (`stop`, `metrics.d/uptime`); by default
        /// its name in the policy directory, or its file name.
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
    },
    /// Validate the configuration and every module in the policy directory;
    /// exits 1 if anything would fail at run time.
    Check,
    /// Run the policy for `<service> <operation>` against the real daemon,
    /// as `sme` would, and show every host call it made.
    Run {
        /// The service (container) name.
        service: String,
        /// The operation.
        operation: String,
        /// Perform reads, but only record start/stop/restart/pause/unpause.
        #[arg(long)]
        dry_run: bool,
        /// Write every Docker call and its answer to FILE, for
        /// `smectl test --replay FILE`.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Leave out per-run values (times, durations, invocation IDs), so
        /// two runs of the same request print the same JSON.
        #[arg(long)]
        stable: bool,
    },
    /// Run scenarios against a simulated Docker Engine (no daemon), or a
    /// module against a recording; with no arguments, the policy project in
    /// the current directory.
    Test {
        /// Scenario files (TOML, see docs/policy-kit.md).
        scenarios: Vec<PathBuf>,
        /// Test this built module instead of what the deployment runs.
        #[arg(long, value_name = "FILE")]
        module: Option<PathBuf>,
        /// The module's name (`stop`, `metrics.d/uptime`); default: its
        /// file stem.
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Replay a recording of `smectl run --record`.
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
    },
    /// Check a module under the current configuration, copy it into the
    /// policy directory atomically, pin its sha256 in the configuration and
    /// precompile it into the cache.
    Install {
        /// The component file (`target/wasm32-wasip2/release/pause.wasm`).
        module: PathBuf,
        /// Install it as this module (`stop`, `metrics.d/uptime`); by
        /// default its file stem.
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Check and print what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Sign a module for the name it will run under: writes
    /// `<module>.wasm.minisig` (minisign format, trusted comment
    /// `sme-module: <name>`).
    Sign {
        /// The component file.
        module: PathBuf,
        /// A minisign secret key (`minisign -G`, or `minisign -G -W` for one
        /// with no password).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The key's password: the first line of FILE (`/dev/stdin` works).
        /// Without it, an encrypted key's password is asked for on the
        /// terminal, if there is one.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Sign it as this module (`stop`, `metrics.d/uptime`); by default
        /// its file stem.
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
    },
    /// Scaffold a policy project: a Rust crate that builds `<operation>`'s
    /// module, with a unit test, a scenario and a README.
    New {
        /// The operation (`drain`), or with --metrics the add-on's name
        /// (`metrics` itself for the base metrics module).
        operation: String,
        /// A metrics module instead of an operation.
        #[arg(long)]
        metrics: bool,
        /// The guest SDK to depend on (default: $SME_GUEST_SDK, else the
        /// source tree smectl was built from).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
        /// Where to create it (default: ./<operation>); must not exist or
        /// be empty.
        dir: Option<PathBuf>,
    },
    /// Time the policy for `<service> <operation>` as `sme` runs it: cold
    /// compile, then warm runs split into guest and host-call time.
    Bench {
        /// The service (container) name.
        service: String,
        /// The operation.
        operation: String,
        /// Timed warm runs.
        #[arg(short = 'n', long = "runs", value_name = "N",
              default_value_t = commands::bench::DEFAULT_RUNS,
              value_parser = clap::value_parser!(u32).range(1..=10_000))]
        runs: u32,
        /// Perform start/stop/restart/pause/unpause (default: dry run, the
        /// service is not disturbed and those calls are not the daemon's time).
        #[arg(long)]
        real: bool,
        /// Wait this long before each timed run, in milliseconds (for
        /// metrics: the agent polls seconds apart, and back-to-back stats
        /// requests wait for Docker's stats collector).
        #[arg(long, value_name = "MS", default_value_t = 0)]
        interval: u64,
        /// Run against this scenario's simulated engine and configuration
        /// (see docs/policy-kit.md) instead of the daemon.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
    },
    /// Show what each object spent of its budgets (docs/budgets.md); with
    /// --reset, clear an object's counts (audited with your uid).
    Budgets {
        /// Clear the counts of this object (`container:<name>`,
        /// `service:<name>`, `unit:<name>`).
        #[arg(long, value_name = "OBJECT")]
        reset: Option<String>,
        /// With --reset: only this effect (`restart`); default every one.
        #[arg(requires = "reset")]
        effect: Option<String>,
    },
    /// The audit log's hash chain: its head, or whether it holds.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Show the values each module keeps with the `state` interface
    /// (docs/state.md); with --reset, remove one module's (audited with
    /// your uid).
    State {
        /// Remove every value this module keeps (`restart`,
        /// `metrics.d/uptime`).
        #[arg(long, value_name = "MODULE")]
        reset: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Print the chain's last line as `sme-audit-head seq=N sha256=HEX`,
    /// the text to sign off the device (minisign -Sm head.txt).
    Head {
        /// The log's files, oldest first (default: the configured audit_log).
        files: Vec<PathBuf>,
    },
    /// Check the chain through the files (oldest first); exit 1 naming the
    /// first line where it breaks.
    Verify {
        /// The log's files, oldest first (default: the configured audit_log).
        files: Vec<PathBuf>,
        /// A signed head (its text, with `<FILE>.minisig` beside it) the log
        /// must still hold.
        #[arg(long, value_name = "FILE")]
        seal: Option<PathBuf>,
        /// The public key that signed the seal (a minisign .pub file or its
        /// key line); default: the keys of [signing].
        #[arg(long, value_name = "KEY", requires = "seal")]
        key: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut env = sme::config::Env::from_process();
    if let Some(config) = cli.config {
        env.config = Some(config);
    }
    if let Some(dir) = cli.policy_dir {
        env.policy_dir = Some(dir);
    }
    let result = match cli.command {
        Command::Inspect { module, name } => {
            commands::inspect::run(&env, &module, name.as_deref(), cli.json)
        }
        Command::Check => commands::check::run(&env, cli.json),
        Command::Run {
            service,
            operation,
            dry_run,
            record,
            stable,
        } => commands::run::run(
            &env,
            &service,
            &operation,
            dry_run,
            record.as_deref(),
            stable,
            cli.json,
        ),
        Command::Test {
            scenarios,
            module,
            name,
            replay,
        } => commands::test::run(
            &env,
            commands::test::Args {
                scenarios,
                module,
                name,
                replay,
                json: cli.json,
            },
        ),
        Command::Install {
            module,
            name,
            dry_run,
        } => commands::install::run(&env, &module, name.as_deref(), dry_run, cli.json),
        Command::Sign {
            module,
            key,
            password_file,
            name,
        } => commands::sign::run(
            &module,
            &key,
            password_file.as_deref(),
            name.as_deref(),
            cli.json,
        ),
        Command::New {
            operation,
            metrics,
            sdk,
            dir,
        } => commands::new::run(&operation, metrics, sdk, dir, cli.json),
        Command::Bench {
            service,
            operation,
            runs,
            real,
            interval,
            scenario,
        } => commands::bench::run(
            &env,
            commands::bench::Bench {
                service: &service,
                operation: &operation,
                runs,
                real,
                interval: std::time::Duration::from_millis(interval),
                scenario: scenario.as_deref(),
            },
            cli.json,
        ),
        Command::Budgets { reset, effect } => {
            let action = match &reset {
                Some(object) => commands::budgets::Action::Reset {
                    object,
                    effect: effect.as_deref(),
                },
                None => commands::budgets::Action::Show,
            };
            commands::budgets::run(&env, action, cli.json)
        }
        Command::Audit { command } => match command {
            AuditCommand::Head { files } => commands::audit::head(&env, &files, cli.json),
            AuditCommand::Verify { files, seal, key } => {
                commands::audit::verify(&env, &files, seal.as_deref(), key.as_deref(), cli.json)
            }
        },
        Command::State { reset } => commands::state::run(&env, reset.as_deref(), cli.json),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            report_error(&one_line(&error), cli.json);
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text
/// the message already carries (many of SME's errors include their source).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// `smectl` is a human's tool (unlike `sme`, whose streams the agent reads):
/// errors go to stderr, or stay on stdout as JSON for `--json` callers.
#[allow(clippy::print_stderr)]
fn report_error(message: &str, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "error": message }));
    } else {
        eprintln!("smectl: {message}");
    }
}
