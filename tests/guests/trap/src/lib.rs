//! Hostile: panics (a trap). The runtime reports the panic message.

fn run(request: sme_guest::Request) -> Result<String, String> {
    panic!("policy bug while handling {}", request.service);
}

sme_guest::operation!(run);
