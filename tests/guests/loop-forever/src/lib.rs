//! Hostile: never returns. Stopped by the fuel limit (or the deadline).

fn run(_: sme_guest::Request) -> Result<String, String> {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

sme_guest::operation!(run);
