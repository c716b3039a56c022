//! Hostile: recurses without end. Stopped by the wasm stack limit.

#[allow(unconditional_recursion)] // the point of this guest
fn descend(depth: u64) -> u64 {
    std::hint::black_box(descend(std::hint::black_box(depth + 1))) + 1
}

fn run(_: sme_guest::Request) -> Result<String, String> {
    Ok(descend(0).to_string())
}

sme_guest::operation!(run);
