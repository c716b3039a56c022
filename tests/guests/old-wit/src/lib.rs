//! A stop policy as a module built before the WIT grew (`tests/wit-0.1.0`,
//! a copy of `wit/` at its first release) would be: wit-bindgen directly,
//! no SDK. It stops the service with the container's own timeout, inspects
//! it, and answers `""`; the runtime must keep running it unchanged.

wit_bindgen::generate!({
    world: "operation",
    path: "../../wit-0.1.0",
});

use sme::policy::containers;

struct OldStop;

impl Guest for OldStop {
    fn run(request: Request) -> Result<String, String> {
        containers::stop(&request.service, None).map_err(|e| format!("stop: {e:?}"))?;
        let container =
            containers::inspect(&request.service).map_err(|e| format!("inspect: {e:?}"))?;
        if container.running {
            return Err("still running".to_owned());
        }
        Ok("\"\"".to_owned())
    }
}

export!(OldStop);
