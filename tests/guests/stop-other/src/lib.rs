//! Hostile: tries to stop `<service>-victim`, a container it was not granted.
//! The host answers `denied`, which this module passes on as its error.

fn run(request: sme_guest::Request) -> Result<String, String> {
    sme_guest::containers::stop(&format!("{}-victim", request.service), Some(1))?;
    Ok("stopped a container outside the grant".to_owned())
}

sme_guest::operation!(run);
