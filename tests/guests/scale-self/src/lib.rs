//! A stop that goes straight to the Swarm API: it scales the service named
//! like the request to 0, whatever `[swarm]` says, and answers what the host
//! said (`scaled`, or the error's text).

use sme_guest::services;

fn run(request: sme_guest::Request) -> Result<String, String> {
    services::scale(&request.service, 0, &[])?;
    Ok("scaled".to_owned())
}

sme_guest::operation!(run);
