//! Hostile: tries to reach files, environment variables and sockets through
//! WASI. SME gives policies no preopened directories, no environment and no
//! network, so every attempt fails; the module reports what it saw (one line)
//! as its error, or the escapes that worked as its output.

use std::io::Read;

fn run(_: sme_guest::Request) -> Result<String, String> {
    let mut escaped = Vec::new();
    let mut blocked = Vec::new();

    for path in [
        "/etc/passwd",
        "/var/run/docker.sock",
        "/proc/self/environ",
        ".",
    ] {
        match std::fs::File::open(path) {
            Ok(mut file) => {
                let mut buffer = [0u8; 16];
                let read = file.read(&mut buffer).unwrap_or(0);
                escaped.push(format!("opened {path} ({read} bytes)"));
            }
            Err(error) => blocked.push(format!("open {path}: {}", error.kind())),
        }
    }
    match std::fs::read_dir("/") {
        Ok(_) => escaped.push("listed /".to_owned()),
        Err(error) => blocked.push(format!("list /: {}", error.kind())),
    }
    let variables = std::env::vars().count();
    if variables > 0 {
        escaped.push(format!("read {variables} environment variables"));
    } else {
        blocked.push("environment: empty".to_owned());
    }
    for address in ["127.0.0.1:2375", "127.0.0.1:80"] {
        match std::net::TcpStream::connect(address) {
            Ok(_) => escaped.push(format!("connected to {address}")),
            Err(error) => blocked.push(format!("connect {address}: {}", error.kind())),
        }
    }

    if escaped.is_empty() {
        Err(format!("no escape: {}", blocked.join("; ")))
    } else {
        Ok(format!("escaped: {}", escaped.join("; ")))
    }
}

sme_guest::operation!(run);
