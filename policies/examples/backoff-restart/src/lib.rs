//! A `restart` with exponential backoff, remembered between runs with the
//! `state` interface (docs/state.md).
//!
//! A service restarted again soon after its last restart is probably
//! failing, and restarting it in a loop hides that. This policy keeps, per
//! service, when it last restarted it and how long the next restart must
//! wait, under the key `backoff:<service>` (`<last ms> <wait ms>`). A
//! restart inside the wait is refused, saying when the next one is allowed;
//! one after it goes through, and the wait doubles (from `base_s`, at most
//! `max_s`), unless the service went `quiet_s` without a restart, which
//! starts it again from `base_s`. The wait is claimed with a compare-and-set
//! before the restart, so of two restarts asked at once only one goes
//! through. Otherwise it restarts as the reference executor does.
//!
//! Install it as `restart.wasm`; it keeps one key per service restarted, so
//! give it room for as many as the deployment has (`[modules.restart.limits]
//! state_keys = 64`).

use sme_guest::edgex::{self, Lifecycle};
use sme_guest::{Request, clock, state};

sme_guest::settings! {
    int BASE_S = "base_s", 30, 1..=3_600,
        "First wait between two restarts of one service, in seconds";
    int MAX_S = "max_s", 1_800, 1..=86_400,
        "Longest wait between two restarts of one service, in seconds";
    int QUIET_S = "quiet_s", 3_600, 1..=604_800,
        "A service not restarted for this long after its wait starts again from base_s, in seconds";
}

/// What is kept of one service: its last restart and the wait after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    last_ms: u64,
    wait_ms: u64,
}

impl Backoff {
    fn parse(text: &str) -> Option<Backoff> {
        let (last, wait) = text.split_once(' ')?;
        Some(Backoff {
            last_ms: last.parse().ok()?,
            wait_ms: wait.parse().ok()?,
        })
    }

    fn text(self) -> String {
        format!("{} {}", self.last_ms, self.wait_ms)
    }
}

/// The waits, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Waits {
    base_ms: u64,
    max_ms: u64,
    quiet_ms: u64,
}

/// What a restart at `now_ms` may do given what is kept: `Ok` with what to
/// keep if it may go through, `Err` with when the next is allowed if not.
fn decide(now_ms: u64, kept: Option<Backoff>, waits: Waits) -> Result<Backoff, u64> {
    let wait_ms = match kept {
        None => waits.base_ms,
        Some(before) => {
            let allowed_ms = before.last_ms + before.wait_ms;
            if now_ms < allowed_ms {
                return Err(allowed_ms);
            }
            if now_ms >= allowed_ms + waits.quiet_ms {
                waits.base_ms
            } else {
                (before.wait_ms * 2).clamp(waits.base_ms, waits.max_ms)
            }
        }
    };
    Ok(Backoff {
        last_ms: now_ms,
        wait_ms,
    })
}

/// Whole seconds for messages: how long ago, rounded down; how long to
/// wait, rounded up.
fn seconds_ago(ms: u64) -> u64 {
    ms / 1000
}

fn seconds_left(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

fn restart(request: Request) -> Result<String, String> {
    let service = &request.service;
    let prefix = Lifecycle::Restart.prefix();
    let key = format!("backoff:{service}");
    let waits = Waits {
        base_ms: BASE_S.get() as u64 * 1000,
        max_ms: MAX_S.get() as u64 * 1000,
        quiet_ms: QUIET_S.get() as u64 * 1000,
    };
    // Claims the restart: another run may change the value between the
    // read and the write, and then this one reads again.
    let mut claimed = false;
    for _ in 0..state::UPDATE_ATTEMPTS {
        let now_ms = clock::now_ms();
        let kept = state::get(&key).map_err(|e| format!("{prefix}: {}", e.message()))?;
        let before = kept.as_deref().and_then(Backoff::parse);
        match decide(now_ms, before, waits) {
            Err(allowed_ms) => {
                let last = before.map_or(0, |b| b.last_ms);
                return Err(format!(
                    "{prefix}: backing off: {service} was restarted {} s ago, the next restart is allowed in {} s",
                    seconds_ago(now_ms.saturating_sub(last)),
                    seconds_left(allowed_ms - now_ms)
                ));
            }
            Ok(next) => {
                let written = state::compare_and_set(&key, kept.as_deref(), Some(&next.text()))
                    .map_err(|e| format!("{prefix}: {}", e.message()))?;
                if written {
                    claimed = true;
                    break;
                }
            }
        }
    }
    if !claimed {
        return Err(format!(
            "{prefix}: {service}'s backoff kept changing under other restarts; not restarted"
        ));
    }
    edgex::lifecycle(Lifecycle::Restart, service)
}

sme_guest::operation!(restart);

#[cfg(test)]
mod tests {
    use super::*;
    use sme_guest::testing::{self, Scene};

    const WAITS: Waits = Waits {
        base_ms: 30_000,
        max_ms: 120_000,
        quiet_ms: 3_600_000,
    };

    fn kept(last_ms: u64, wait_ms: u64) -> Option<Backoff> {
        Some(Backoff { last_ms, wait_ms })
    }

    #[test]
    fn the_wait_doubles_up_to_the_most_and_a_quiet_service_starts_again() {
        assert_eq!(decide(1_000, None, WAITS), Ok(kept(1_000, 30_000).unwrap()));
        assert_eq!(decide(20_000, kept(1_000, 30_000), WAITS), Err(31_000));
        assert_eq!(
            decide(31_000, kept(1_000, 30_000), WAITS),
            Ok(kept(31_000, 60_000).unwrap())
        );
        assert_eq!(
            decide(200_000, kept(0, 90_000), WAITS),
            Ok(kept(200_000, 120_000).unwrap())
        );
        let quiet = 30_000 + 3_600_000;
        assert_eq!(
            decide(quiet, kept(0, 30_000), WAITS),
            Ok(kept(quiet, 30_000).unwrap())
        );
    }

    #[test]
    fn a_restart_inside_the_wait_is_refused_and_one_after_it_doubles_the_wait() {
        Scene::new()
            .container(testing::container("edgex-core-data"))
            .install();
        let request = || testing::request("edgex-core-data", "restart");
        assert_eq!(restart(request()), Ok("\"\"".to_owned()));
        let now = testing::NOW_MS;
        assert_eq!(
            testing::kept()["backoff:edgex-core-data"],
            format!("{now} 30000")
        );
        testing::advance(10_000);
        let refused = restart(request()).unwrap_err();
        assert!(
            refused.ends_with("restarted 10 s ago, the next restart is allowed in 20 s"),
            "{refused}"
        );
        testing::advance(20_000);
        assert_eq!(restart(request()), Ok("\"\"".to_owned()));
        assert_eq!(
            testing::kept()["backoff:edgex-core-data"],
            format!("{} 60000", now + 30_000)
        );
    }

    #[test]
    fn a_kept_value_seeded_in_the_scene_is_honoured() {
        let last = testing::NOW_MS - 5_000;
        Scene::new()
            .container(testing::container("edgex-core-data"))
            .state("backoff:edgex-core-data", &format!("{last} 60000"))
            .install();
        let refused = restart(testing::request("edgex-core-data", "restart")).unwrap_err();
        assert!(refused.ends_with("allowed in 55 s"), "{refused}");
        assert_eq!(testing::calls(), Vec::<String>::new(), "nothing restarted");
    }
}
