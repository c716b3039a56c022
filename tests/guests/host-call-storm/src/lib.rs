//! Hostile: calls the host in a loop. Stopped by the host-call limit.

fn run(request: sme_guest::Request) -> Result<String, String> {
    loop {
        let _ = std::hint::black_box(sme_guest::containers::inspect(&request.service));
    }
}

sme_guest::operation!(run);
