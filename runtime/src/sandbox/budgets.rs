//! Effect budgets: at most `max` effects of one kind on one object per
//! period, counted across runs (docs/budgets.md). This file holds the rules
//! and their arithmetic; the counts are kept by [`crate::sandbox::ledger`]
//! and checked in the gate, after the grant allows a call and before its
//! `intent` line.

use std::fmt;
use std::time::Duration;

use crate::backend::Kind;
use crate::sandbox::grants::{Target, Verb};
use sme_model::budget;

/// What a change does to an object, as budgets count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    /// The object starts.
    Start,
    /// The object stops.
    Stop,
    /// The object restarts.
    Restart,
    /// A container is paused.
    Pause,
    /// A container is unpaused.
    Unpause,
    /// A service's replica count changes to some replicas.
    Scale,
}

/// What SME knows of one effect: the one table configuration keys, the gate
/// and the documentation's mapping are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectInfo {
    /// The effect.
    pub effect: Effect,
    /// Its name in configuration, messages and kept files.
    pub name: &'static str,
    /// The host calls that spend it, as `docs/budgets.md` lists them.
    pub spent_by: &'static [&'static str],
}

/// Every effect, in the order they are documented.
pub const EFFECTS: [EffectInfo; 6] = [
    EffectInfo {
        effect: Effect::Start,
        name: "start",
        spent_by: &["containers.start", "systemd.start"],
    },
    EffectInfo {
        effect: Effect::Stop,
        name: "stop",
        spent_by: &[
            "containers.stop",
            "systemd.stop",
            "systemd.kill",
            "services.scale to 0 replicas",
        ],
    },
    EffectInfo {
        effect: Effect::Restart,
        name: "restart",
        spent_by: &["containers.restart", "systemd.restart", "services.redeploy"],
    },
    EffectInfo {
        effect: Effect::Pause,
        name: "pause",
        spent_by: &["containers.pause"],
    },
    EffectInfo {
        effect: Effect::Unpause,
        name: "unpause",
        spent_by: &["containers.unpause"],
    },
    EffectInfo {
        effect: Effect::Scale,
        name: "scale",
        spent_by: &["services.scale to 1 or more replicas"],
    },
];

impl Effect {
    /// Its row of [`EFFECTS`].
    pub fn info(self) -> &'static EffectInfo {
        EFFECTS
            .iter()
            .find(|info| info.effect == self)
            .expect("every effect has its row")
    }

    /// Its name (`restart`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The effect named `name`.
    pub fn named(name: &str) -> Option<Effect> {
        EFFECTS
            .iter()
            .find(|info| info.name == name)
            .map(|info| info.effect)
    }

    /// The effect a call of `verb` spends; `None` for calls that change
    /// nothing. `services.scale` spends by its replica count, see
    /// [`Effect::of_scale`].
    pub fn of(verb: Verb) -> Option<Effect> {
        match verb {
            Verb::Start => Some(Effect::Start),
            Verb::Stop => Some(Effect::Stop),
            Verb::Restart | Verb::Redeploy => Some(Effect::Restart),
            Verb::Pause => Some(Effect::Pause),
            Verb::Unpause => Some(Effect::Unpause),
            Verb::Scale => Some(Effect::Scale),
            Verb::Inspect | Verb::List | Verb::Stats | Verb::Log | Verb::Clock | Verb::State => {
                None
            }
        }
    }

    /// The effect of scaling a service to `replicas`: to none it stops.
    pub fn of_scale(replicas: u64) -> Effect {
        if replicas == 0 {
            Effect::Stop
        } else {
            Effect::Scale
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The most a budget may allow per period: what is kept per object stays
/// small.
pub const MAX_PER_PERIOD: u64 = 1000;
/// The shortest period.
pub const MIN_PERIOD: Duration = Duration::from_secs(1);
/// The longest period: 31 days.
pub const MAX_PERIOD: Duration = Duration::from_secs(31 * 24 * 3600);

/// One budget: at most `max` of `effect` per `per` on each object `target`
/// covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// What it counts.
    pub effect: Effect,
    /// How many per period.
    pub max: u32,
    /// The period.
    pub per: Duration,
    /// Which objects it counts (each on its own); every object when `None`.
    pub target: Option<Target>,
    /// Where it is configured: `[budgets]` or `[modules.<name>.budgets]`.
    pub source: String,
}

impl Budget {
    /// Parses a period as operators write it (`90s`, `10m`, `1h`, `7d`),
    /// in whole seconds from [`MIN_PERIOD`] to [`MAX_PERIOD`].
    pub fn parse_period(text: &str) -> Result<Duration, String> {
        let period = humantime::parse_duration(text.trim()).map_err(|error| {
            format!("period {text:?} is not a duration like \"90s\", \"10m\", \"1h\" or \"7d\" ({error})")
        })?;
        if period.subsec_nanos() != 0 || !(MIN_PERIOD..=MAX_PERIOD).contains(&period) {
            return Err(format!(
                "period {text:?} must be whole seconds from 1s to 31d"
            ));
        }
        Ok(period)
    }

    /// How the budget is named in messages: `restart (3 per 10m, [budgets])`.
    pub fn describe(&self) -> String {
        let target = match &self.target {
            Some(target) => format!(" on {target}"),
            None => String::new(),
        };
        format!(
            "{} ({} per {}{target}, {})",
            self.effect,
            self.max,
            humantime::format_duration(self.per),
            self.source
        )
    }
}

/// An object as budgets name it: `container:edgex-core-data`,
/// `service:edgex_core-data`, `unit:snap.edgexfoundry.core-data.service`.
pub fn object_key(kind: Kind, name: &str) -> String {
    let kind = match kind {
        Kind::Container => "container",
        Kind::Service => "service",
        Kind::Unit => "unit",
    };
    format!("{kind}:{name}")
}

/// A budget that is spent: which, and from when another call is allowed
/// (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent<'a> {
    /// The budget.
    pub budget: &'a Budget,
    /// When the oldest spend that counts leaves its period.
    pub next_ms: u64,
}

/// Whether one more `budget.effect` is allowed at `now_ms`, given the times
/// it was spent on the object (any order). A time after `now_ms` (a clock
/// that went back) counts as spent now: it never frees a spend early.
pub fn check<'a>(budgets: &[&'a Budget], spent_ms: &[u64], now_ms: u64) -> Result<(), Spent<'a>> {
    let mut refusal: Option<Spent<'a>> = None;
    for budget in budgets {
        let period = budget.per.as_millis() as u64;
        if let Some(next_ms) = budget::next_allowed(budget.max, period, spent_ms, now_ms)
            && refusal.as_ref().is_none_or(|r| next_ms > r.next_ms)
        {
            refusal = Some(Spent { budget, next_ms });
        }
    }
    refusal.map_or(Ok(()), Err)
}

/// How `budgets` stand on an object that spent at `spent_ms`, before one
/// more call at `now_ms`: `restart (3 per 10m, [budgets]): 1 of 3 spent`,
/// each budget's on one line joined by `; `.
pub fn standing(budgets: &[&Budget], spent_ms: &[u64], now_ms: u64) -> String {
    budgets
        .iter()
        .map(|budget| {
            let within = budget::within(budget.per.as_millis() as u64, spent_ms, now_ms);
            format!("{}: {within} of {} spent", budget.describe(), budget.max)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The spends worth keeping: those within `keep` of `now_ms`, at most the
/// `most` newest (no budget can look further back or count more).
pub fn pruned(mut spent_ms: Vec<u64>, now_ms: u64, keep: Duration, most: usize) -> Vec<u64> {
    let keep = keep.as_millis() as u64;
    spent_ms.retain(|&t| t.min(now_ms) + keep > now_ms);
    spent_ms.sort_unstable();
    let excess = spent_ms.len().saturating_sub(most);
    spent_ms.drain(..excess);
    spent_ms
}

/// How far back and how many spends any of `budgets` looks at.
pub fn horizon<'a>(budgets: impl IntoIterator<Item = &'a Budget>) -> (Duration, usize) {
    budgets
        .into_iter()
        .fold((Duration::ZERO, 0), |(keep, most), budget| {
            (keep.max(budget.per), most.max(budget.max as usize))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::grants::VERBS;

    fn budget(max: u32, per_s: u64) -> Budget {
        Budget {
            effect: Effect::Restart,
            max,
            per: Duration::from_secs(per_s),
            target: None,
            source: "[budgets]".into(),
        }
    }

    #[test]
    fn every_mutating_verb_spends_an_effect_and_no_read_does() {
        for info in VERBS {
            assert_eq!(
                Effect::of(info.verb).is_some(),
                info.mutating,
                "{}",
                info.name
            );
        }
        for info in EFFECTS {
            assert_eq!(Effect::named(info.name), Some(info.effect));
            assert!(!info.spent_by.is_empty());
        }
        assert_eq!(Effect::of(Verb::Redeploy), Some(Effect::Restart));
        assert_eq!(Effect::of_scale(0), Effect::Stop);
        assert_eq!(Effect::of_scale(3), Effect::Scale);
    }

    #[test]
    fn the_call_after_max_within_the_period_is_refused_until_the_oldest_leaves() {
        let three = budget(3, 600);
        let at = |s: u64| s * 1000;
        let spent = [at(1000), at(1240), at(1540)];
        assert!(check(&[&three], &spent[..2], at(1600)).is_ok());
        let refused = check(&[&three], &spent, at(1600) - 1).unwrap_err();
        assert_eq!(refused.next_ms, at(1600), "the first leaves at 1000 + 600");
        assert!(check(&[&three], &spent, at(1600)).is_ok());
        // Older spends do not count.
        assert!(check(&[&three], &[at(1), at(2), at(3)], at(1600)).is_ok());
    }

    #[test]
    fn a_spend_from_the_future_counts_as_now() {
        let one = budget(1, 60);
        let refused = check(&[&one], &[u64::MAX], 5_000).unwrap_err();
        assert_eq!(refused.next_ms, 65_000);
    }

    #[test]
    fn the_latest_opening_of_several_budgets_is_the_one_reported() {
        let short = budget(1, 60);
        let long = Budget {
            source: "[modules.stop.budgets]".into(),
            ..budget(2, 3600)
        };
        let refused = check(&[&short, &long], &[10_000, 20_000], 30_000).unwrap_err();
        assert_eq!(refused.budget, &long);
        assert_eq!(refused.next_ms, 10_000 + 3_600_000);
        assert_eq!(
            long.describe(),
            "restart (2 per 1h, [modules.stop.budgets])"
        );
    }

    #[test]
    fn what_is_kept_is_bounded_by_the_longest_period_and_the_largest_max() {
        let kept = pruned(
            vec![5, 100, 4, 3, 90, 80],
            100,
            Duration::from_millis(50),
            2,
        );
        assert_eq!(kept, [90, 100]);
        assert_eq!(
            horizon([&budget(3, 60), &budget(1, 600)]),
            (Duration::from_secs(600), 3)
        );
    }

    #[test]
    fn periods_are_whole_seconds_within_a_month() {
        assert_eq!(Budget::parse_period("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(
            Budget::parse_period("1h 30m"),
            Ok(Duration::from_secs(5400))
        );
        for bad in ["", "10", "500ms", "1.5s", "32d", "soon"] {
            assert!(Budget::parse_period(bad).is_err(), "{bad}");
        }
    }
}
