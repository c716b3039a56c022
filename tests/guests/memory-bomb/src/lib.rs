//! Hostile: allocates without end. Stopped by the linear-memory limit.

fn run(_: sme_guest::Request) -> Result<String, String> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xAA; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

sme_guest::operation!(run);
