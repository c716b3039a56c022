//! `sme <service> <operation>`: the executor the EdgeX agent runs.
//!
//! The arguments belong to the agent, so there are no flags; settings come
//! from the configuration file and environment (see `sme::config`).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = sme::config::Env::from_process();
    let outcome = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(sme::run::executor::execute(&args, &env)),
        Err(error) => sme::run::executor::Outcome {
            output: format!("cannot start the async runtime: {error}"),
            success: false,
        },
    };
    let mut stdout = std::io::stdout().lock();
    // Nothing useful can be done if stdout is gone; the exit code still tells.
    let _ = stdout.write_all(outcome.output.as_bytes());
    let _ = stdout.flush();
    ExitCode::from(u8::try_from(outcome.exit_code()).unwrap_or(1))
}
