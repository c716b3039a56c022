//! Hostile: answers with 8 MiB of text. Stopped by the output limit.

fn run(_: sme_guest::Request) -> Result<String, String> {
    Ok("x".repeat(8 << 20))
}

sme_guest::operation!(run);
