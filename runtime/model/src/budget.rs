//! The arithmetic of one effect budget: at most `max` spends of an object
//! in any `per` milliseconds. The runtime's budgets (docs/budgets.md) and
//! the SDK fakes' count alike.

/// When one more spend is allowed, if not now: `spent_ms` are the object's
/// earlier spends (a time after `now_ms` counts as `now_ms`, so a clock
/// set back cannot free a budget); `None` when one more is allowed now.
pub fn next_allowed(max: u32, per_ms: u64, spent_ms: &[u64], now_ms: u64) -> Option<u64> {
    let mut within: Vec<u64> = spent_ms
        .iter()
        .map(|&t| t.min(now_ms))
        .filter(|&t| t + per_ms > now_ms)
        .collect();
    within.sort_unstable();
    let max = max as usize;
    // Allowed again once only max - 1 of these remain in a period.
    (within.len() >= max).then(|| within[within.len() - max] + per_ms)
}

/// How many of `spent_ms` fall within the `per_ms` before `now_ms`.
pub fn within(per_ms: u64, spent_ms: &[u64], now_ms: u64) -> usize {
    spent_ms
        .iter()
        .filter(|&&t| t.min(now_ms) + per_ms > now_ms)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_spend_waits_for_the_oldest_that_keeps_it_full() {
        assert_eq!(next_allowed(3, 600, &[], 1_000), None);
        assert_eq!(next_allowed(3, 600, &[500, 700], 1_000), None);
        assert_eq!(next_allowed(3, 600, &[500, 700, 900], 1_000), Some(1_100));
        assert_eq!(
            next_allowed(3, 600, &[100, 500, 700, 900], 1_000),
            Some(1_100)
        );
        assert_eq!(
            next_allowed(1, 600, &[5_000], 1_000),
            Some(1_600),
            "a future spend is now"
        );
        assert_eq!(within(600, &[100, 500, 900], 1_000), 2);
    }
}
