//! What runs hold in memory rather than in the state directory, and the
//! clock they read: for `sme`, the machine's clock and nothing held; for a
//! dry run, a copy of the kept values its writes go to; for a scenario
//! (`smectl test`), its own clock (`[clock]`, moved on by each step's
//! `after`), budget counts and kept values, shared by its steps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sandbox::kept;
use crate::sandbox::ledger::{self, Record};

/// The time budgets, windows, a module's `clock` and the simulated engines
/// read: the machine's, shifted by an offset a scenario sets. A shifted
/// clock still runs.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        ledger::now_ms().saturating_add_signed(offset)
    }

    /// Now, as a timestamp (for windows' civil time).
    pub fn now(&self) -> jiff::Timestamp {
        let ms = i64::try_from(self.now_ms()).unwrap_or(i64::MAX);
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::MAX)
    }

    /// Makes it `now_ms` now.
    pub fn set(&self, now_ms: u64) {
        let offset = i128::from(now_ms) - i128::from(ledger::now_ms());
        let offset = i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX });
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// Moves it on by `ms`.
    pub fn advance(&self, ms: u64) {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Budget counts held in memory: a scenario's, by object key.
pub type SpentInMemory = Arc<Mutex<BTreeMap<String, Record>>>;

/// What every run made with one configuration shares in memory.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The clock.
    pub clock: Clock,
    /// Budget counts (a scenario's: `ledger::Counting::Fresh`).
    pub spent: SpentInMemory,
    /// Kept values (a scenario's, or a dry run's copy).
    pub kept: kept::InMemory,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_runs_on_and_moves_by_steps() {
        let clock = Clock::default();
        let machine = ledger::now_ms();
        assert!(clock.now_ms().abs_diff(machine) < 1_000);
        clock.set(1_700_000_000_000);
        let set = clock.now_ms();
        assert!((1_700_000_000_000..1_700_000_001_000).contains(&set));
        clock.advance(600_000);
        assert!(clock.now_ms() >= set + 600_000);
        assert_eq!(
            clock.now().as_millisecond() as u64 / 1000,
            clock.now_ms() / 1000
        );
    }
}
