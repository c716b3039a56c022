//! Imports every host function, as a componentize-py build does, but only
//! inspects its service: `smectl inspect` must not present the calls it
//! imports and is not granted as broken behaviour.

use sme_guest::containers::{self, Filter};
use sme_guest::edgex::SUCCESS;
use sme_guest::{Request, clock, container_config, cpu_window, log, stats};

fn run(request: Request) -> Result<String, String> {
    let service = request.service.as_str();
    // Never taken by the tests: there only to import everything.
    if request.operation == "every-call" {
        let all = Filter {
            name: None,
            label: None,
            all: true,
        };
        containers::list(&all)?;
        containers::start(service)?;
        containers::stop(service, None)?;
        containers::restart(service, None)?;
        containers::pause(service)?;
        containers::unpause(service)?;
        stats::one_shot(service)?;
        stats::measure(service)?;
        stats::recent(service)?;
        cpu_window::recent_within(service, 1000)?;
        container_config::stop_timeout(service)?;
        clock::sleep(1)?;
        log::info(&clock::now_ms().to_string());
        let _ = sme_guest::settings::get("x");
    }
    containers::inspect(service)?;
    Ok(SUCCESS.to_owned())
}

sme_guest::operation!(run);
