//! Exercises the `state` interface, by the request's operation:
//! `count` adds one to the value under `n` (with `state::update`) and
//! answers it; `read` answers the value under `n` (`none` without one);
//! `fill` writes keys `k0`, `k1`... until the host refuses one and answers
//! how many it wrote and the refusal; `keys` answers every key, joined by
//! commas; `bad-key` asks for an empty key and answers the error's kind.

use sme_guest::{Error, state};

fn kind(error: &Error) -> &'static str {
    match error {
        Error::Denied(_) => "denied",
        Error::NotFound(_) => "not-found",
        Error::Timeout(_) => "timeout",
        Error::LimitExceeded(_) => "limit-exceeded",
        Error::InvalidArgument(_) => "invalid-argument",
        Error::Docker(_) => "docker",
    }
}

fn run(request: sme_guest::Request) -> Result<String, String> {
    match request.operation.as_str() {
        "count" => {
            let n = state::update("n", |n| {
                let n: u64 = n.and_then(|n| n.parse().ok()).unwrap_or(0);
                Some((n + 1).to_string())
            })?;
            Ok(n.unwrap_or_default())
        }
        "read" => Ok(state::get("n")?.unwrap_or_else(|| "none".to_owned())),
        "fill" => {
            let mut written = 0;
            loop {
                let key = format!("k{written}");
                match state::compare_and_set(&key, None, Some("0123456789")) {
                    Ok(_) => written += 1,
                    Err(error) => {
                        return Ok(format!(
                            "{written} then {}: {}",
                            kind(&error),
                            error.message()
                        ));
                    }
                }
            }
        }
        "keys" => Ok(state::keys()?.join(",")),
        "bad-key" => match state::get("") {
            Ok(_) => Ok("accepted".to_owned()),
            Err(error) => Ok(kind(&error).to_owned()),
        },
        other => Err(format!("state-probe: unknown operation {other}")),
    }
}

sme_guest::operation!(run);
