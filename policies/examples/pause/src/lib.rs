//! A new operation, `pause`, added by dropping `pause.wasm` into the policy
//! directory: freezes the service's container and checks it is paused.
//! Grant it `pause` (and `inspect`) on `self` in the configuration.

use sme_guest::containers::{self, Status};
use sme_guest::edgex::{self, SUCCESS};
use sme_guest::{Error, Request};

const PREFIX: &str = "Error pausing service";

fn pause(request: Request) -> Result<String, String> {
    let service = &request.service;
    let failed = |error: Error| match error {
        Error::NotFound(_) => edgex::not_found(service),
        other => format!("{PREFIX}: {}", other.message()),
    };
    containers::pause(service).map_err(failed)?;
    let container = containers::inspect(service).map_err(failed)?;
    if container.status != Status::Paused {
        return Err(format!("{PREFIX}: service is not paused but should be"));
    }
    Ok(SUCCESS.to_owned())
}

sme_guest::operation!(pause);
