//! Hostile: writes to stdout without end. Its stdout goes to a capped buffer,
//! never to the agent; the cap stops it.

fn run(_: sme_guest::Request) -> Result<String, String> {
    let line = "flood ".repeat(100);
    loop {
        println!("{line}");
    }
}

sme_guest::operation!(run);
