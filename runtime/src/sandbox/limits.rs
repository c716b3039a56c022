//! What one policy module may consume, and the errors that stop it.
//!
//! Every default fits inside the EdgeX agent's 20 s request timeout with room
//! for process start-up: a stop with Docker's default 10 s grace period
//! finishes well inside the deadline, and everything else is orders of
//! magnitude above what a real policy uses.

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// Wall-clock time a module may run, host calls included.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15);
/// Wall-clock time the whole request may take: the operation's module, or
/// the base metrics module and every add-on together. The agent gives up
/// after 20 s; this leaves 4 s for process start-up, loading, and printing.
pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(16);
/// Fuel (about one unit per wasm instruction) a module may burn: a few
/// seconds of CPU at most; the default policies use well under a million.
pub const DEFAULT_FUEL: u64 = 2_000_000_000;
/// Memory a module may have, all its linear memories and tables counted
/// together; the default policies need about 1 MiB.
pub const DEFAULT_MEMORY: usize = 64 << 20;
/// Host calls a module may make; a polling restart needs a few dozen.
pub const DEFAULT_HOST_CALLS: u32 = 100;
/// Bytes a module may answer with (and write to its stdout or stderr); the
/// metrics object is a few hundred bytes.
pub const DEFAULT_OUTPUT: usize = 64 << 10;
/// Time one Docker request may take: a stop waits for the container's grace
/// period (10 s by default) before Docker kills it.
pub const DEFAULT_DOCKER_TIMEOUT: Duration = Duration::from_secs(12);
/// Default ceiling on the replica count a module may ask of a service.
pub const DEFAULT_MAX_REPLICAS: u64 = 100;
/// Default time one systemd unit call may take, its job included.
pub const DEFAULT_UNIT_TIMEOUT: Duration = Duration::from_secs(12);
/// Keys a module may keep with the `state` interface; a backoff needs two
/// or three per service it looks after.
pub const DEFAULT_STATE_KEYS: usize = 16;
/// Bytes of keys and values together a module may keep with `state`.
pub const DEFAULT_STATE_BYTES: usize = 4 << 10;
/// Size a module file may have. Rust policies are 40 to 120 KiB; a Python
/// policy built with componentize-py is about 18 MiB (it carries CPython).
pub const DEFAULT_MODULE_SIZE: u64 = 64 << 20;
/// Size above which `sme` never compiles a module inside an agent request:
/// such a module must be precompiled by `smectl install` or `smectl check`.
/// Cranelift needs about 1 s and 20 MiB of memory per MiB of component
/// here (docs/performance.md), so 1 MiB keeps a first run's compile near a
/// second; Rust policies stay far below it and keep compiling on first use.
pub const DEFAULT_COMPILE_ON_DEMAND: u64 = 1 << 20;

/// Bytes of guest data wasmtime may copy out of a module's memory for the
/// arguments of one host call (SME's capabilities and WASI alike), unless
/// the output limit is larger. Every argument is copied before any host code
/// sees it, so this is checked by wasmtime, before copying, as its "hostcall
/// fuel". Far above what a policy passes (container names of at most 255
/// bytes, log messages kept to 4 KiB, stdout writes), and small beside the
/// runtime's own overhead: without it the host copied as much as the guest
/// had, up to `memory_mib` more.
pub const MAX_HOST_CALL_DATA: usize = 4 << 20;

/// Fewest bytes one metrics field takes once printed: a one-character name
/// in quotes, the colon, a one-character value and the comma (`"a":1,`).
const MIN_PRINTED_FIELD: usize = 5;

/// Which copy out of guest memory comes next: what the hostcall fuel is set
/// for, and what running out of it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Copying {
    /// The arguments of a host call (or nothing yet).
    #[default]
    Arguments,
    /// The module's answer, once its export has returned.
    Answer,
}

/// Bytes of guest data wasmtime may copy for the arguments of one host call
/// of a module whose output limit is `output`: a write to stdout up to the
/// output limit must still reach the capped capture, which then stops it.
pub fn host_call_data(output: usize) -> usize {
    MAX_HOST_CALL_DATA.max(output)
}

/// Bytes of guest data wasmtime may copy for the answer of a module whose
/// output limit is `output`, counted as wasmtime counts it: the bytes of
/// every string, and for a list of metrics fields each field's host size
/// too. An answer that fits the output limit once printed fits this;
/// a larger one is refused before it is copied. What passes is checked
/// exactly, as printed, afterwards.
pub fn answer_data(output: usize) -> usize {
    let fields = output / MIN_PRINTED_FIELD;
    output.saturating_add(fields.saturating_mul(size_of::<crate::contract::Metric>()))
}

/// The limits that apply to one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline for the whole run of the module.
    pub deadline: Duration,
    /// CPU fuel.
    pub fuel: u64,
    /// Linear memories and tables, all counted together, in bytes.
    pub memory: usize,
    /// Number of host calls.
    pub host_calls: u32,
    /// Size of the answer, and of each of stdout and stderr, in bytes.
    pub output: usize,
    /// Timeout of each Docker request.
    pub docker_timeout: Duration,
    /// Timeout of each systemd unit call, the wait for its job included.
    pub unit_timeout: Duration,
    /// Largest replica count a `services.scale` may ask for.
    pub max_replicas: u64,
    /// Keys the module may keep (`state`).
    pub state_keys: usize,
    /// Bytes of keys and values the module may keep (`state`).
    pub state_bytes: usize,
    /// Size of the module file, in bytes.
    pub module_size: u64,
    /// Largest module `sme` compiles inside a request, in bytes.
    pub compile_on_demand: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            deadline: DEFAULT_DEADLINE,
            fuel: DEFAULT_FUEL,
            memory: DEFAULT_MEMORY,
            host_calls: DEFAULT_HOST_CALLS,
            output: DEFAULT_OUTPUT,
            docker_timeout: DEFAULT_DOCKER_TIMEOUT,
            unit_timeout: DEFAULT_UNIT_TIMEOUT,
            max_replicas: DEFAULT_MAX_REPLICAS,
            state_keys: DEFAULT_STATE_KEYS,
            state_bytes: DEFAULT_STATE_BYTES,
            module_size: DEFAULT_MODULE_SIZE,
            compile_on_demand: DEFAULT_COMPILE_ON_DEMAND,
        }
    }
}

/// Whose budget a limit key sets.
#[derive(Debug, Clone, Copy)]
pub enum Reach {
    /// One module's: set under `[limits]` for every module, or under
    /// `[modules.<name>.limits]` for one.
    Module {
        /// The value in [`Limits`], in the key's unit.
        get: fn(&Limits) -> u64,
        /// Sets the value in [`Limits`] from the key's unit.
        set: fn(&mut Limits, u64),
    },
    /// The whole request's, shared by every module it runs: only under
    /// `[limits]`.
    Request,
}

/// One key of `[limits]`: the one table configuration parsing, `smectl
/// inspect` and the documentation's list are held to.
#[derive(Debug, Clone, Copy)]
pub struct LimitKey {
    /// The key, as written in the configuration (`deadline_ms`).
    pub key: &'static str,
    /// Whose budget it sets.
    pub reach: Reach,
    /// The default, in the key's unit.
    pub default: u64,
    /// The smallest value accepted: 1, or 0 where 0 means something.
    pub min: u64,
    /// The largest value accepted, with how it reads in a message.
    pub max: Option<(u64, &'static str)>,
    /// How `smectl inspect` shows a value, `{}` standing for it.
    pub shown: &'static str,
}

/// Every limit key, in the order `smectl inspect` shows them.
pub const LIMIT_KEYS: [LimitKey; 13] = [
    LimitKey {
        key: "deadline_ms",
        reach: Reach::Module {
            get: |l| l.deadline.as_millis() as u64,
            set: |l, v| l.deadline = Duration::from_millis(v),
        },
        default: DEFAULT_DEADLINE.as_millis() as u64,
        min: 1,
        max: None,
        shown: "deadline {} ms",
    },
    LimitKey {
        key: "fuel",
        reach: Reach::Module {
            get: |l| l.fuel,
            set: |l, v| l.fuel = v,
        },
        default: DEFAULT_FUEL,
        min: 1,
        max: None,
        shown: "fuel {}",
    },
    LimitKey {
        key: "memory_mib",
        reach: Reach::Module {
            get: |l| (l.memory >> 20) as u64,
            set: |l, v| l.memory = (v as usize) << 20,
        },
        default: (DEFAULT_MEMORY >> 20) as u64,
        min: 1,
        max: Some((4096, "4 GiB")),
        shown: "memory {} MiB",
    },
    LimitKey {
        key: "host_calls",
        reach: Reach::Module {
            get: |l| u64::from(l.host_calls),
            set: |l, v| l.host_calls = u32::try_from(v).unwrap_or(u32::MAX),
        },
        default: DEFAULT_HOST_CALLS as u64,
        min: 0,
        max: Some((u32::MAX as u64, "")),
        shown: "{} host calls",
    },
    LimitKey {
        key: "output_kib",
        reach: Reach::Module {
            get: |l| (l.output >> 10) as u64,
            set: |l, v| l.output = (v as usize) << 10,
        },
        default: (DEFAULT_OUTPUT >> 10) as u64,
        min: 1,
        max: Some((64 << 10, "64 MiB")),
        shown: "output {} KiB",
    },
    LimitKey {
        key: "docker_timeout_ms",
        reach: Reach::Module {
            get: |l| l.docker_timeout.as_millis() as u64,
            set: |l, v| l.docker_timeout = Duration::from_millis(v),
        },
        default: DEFAULT_DOCKER_TIMEOUT.as_millis() as u64,
        min: 1,
        max: None,
        shown: "Docker timeout {} ms",
    },
    LimitKey {
        key: "unit_timeout_ms",
        reach: Reach::Module {
            get: |l| l.unit_timeout.as_millis() as u64,
            set: |l, v| l.unit_timeout = Duration::from_millis(v),
        },
        default: DEFAULT_UNIT_TIMEOUT.as_millis() as u64,
        min: 1,
        max: None,
        shown: "unit timeout {} ms",
    },
    LimitKey {
        key: "max_replicas",
        reach: Reach::Module {
            get: |l| l.max_replicas,
            set: |l, v| l.max_replicas = v,
        },
        default: DEFAULT_MAX_REPLICAS,
        min: 0,
        max: None,
        shown: "at most {} replicas",
    },
    LimitKey {
        key: "state_keys",
        reach: Reach::Module {
            get: |l| l.state_keys as u64,
            set: |l, v| l.state_keys = v as usize,
        },
        default: DEFAULT_STATE_KEYS as u64,
        // 0: the module keeps nothing.
        min: 0,
        max: Some((1024, "")),
        shown: "keeps at most {} keys",
    },
    LimitKey {
        key: "state_kib",
        reach: Reach::Module {
            get: |l| (l.state_bytes >> 10) as u64,
            set: |l, v| l.state_bytes = (v as usize) << 10,
        },
        default: (DEFAULT_STATE_BYTES >> 10) as u64,
        min: 0,
        max: Some((1024, "1 MiB")),
        shown: "keeps at most {} KiB",
    },
    LimitKey {
        key: "module_mib",
        reach: Reach::Module {
            get: |l| l.module_size >> 20,
            set: |l, v| l.module_size = v << 20,
        },
        default: DEFAULT_MODULE_SIZE >> 20,
        min: 1,
        max: Some((1024, "1 GiB")),
        shown: "module file {} MiB",
    },
    LimitKey {
        key: "compile_on_demand_kib",
        reach: Reach::Module {
            get: |l| l.compile_on_demand >> 10,
            set: |l, v| l.compile_on_demand = v.saturating_mul(1 << 10),
        },
        default: DEFAULT_COMPILE_ON_DEMAND >> 10,
        // 0: every policy file must come precompiled.
        min: 0,
        max: None,
        shown: "compiled on demand up to {} KiB",
    },
    LimitKey {
        key: "request_deadline_ms",
        reach: Reach::Request,
        default: DEFAULT_REQUEST_DEADLINE.as_millis() as u64,
        min: 1,
        max: None,
        shown: "request deadline {} ms",
    },
];

impl LimitKey {
    /// The limit key called `key`.
    pub fn named(key: &str) -> Option<&'static LimitKey> {
        LIMIT_KEYS.iter().find(|limit| limit.key == key)
    }

    /// Checks a configured value against the key's range.
    pub fn check(&self, value: u64) -> Result<u64, String> {
        if value < self.min {
            return Err(format!("`{}` must be greater than 0", self.key));
        }
        match self.max {
            Some((max, "")) if value > max => Err(format!("`{}` must be at most {max}", self.key)),
            Some((max, reads)) if value > max => {
                Err(format!("`{}` must be at most {max} ({reads})", self.key))
            }
            _ => Ok(value),
        }
    }

    /// How `smectl inspect` shows `value`.
    pub fn show(&self, value: u64) -> String {
        self.shown.replace("{}", &value.to_string())
    }
}

/// A limit a module ran into. Raised as a trap from inside the guest's
/// execution and recognised again when the call returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// The wall-clock deadline passed.
    #[error("exceeded its deadline of {} ms (limit `deadline_ms`)", .0.as_millis())]
    Deadline(Duration),
    /// The time budget of the whole request ran out while this module ran
    /// (or before it could start).
    #[error(
        "ran out of the request's time budget of {} ms, shared by every module of the request (limit `request_deadline_ms`)",
        .0.as_millis()
    )]
    RequestDeadline(Duration),
    /// The module burned all its fuel.
    #[error("exceeded its CPU fuel of {0} units (limit `fuel`)")]
    Fuel(u64),
    /// The module tried to grow its memory past the cap.
    #[error("exceeded its memory limit of {} MiB (limit `memory_mib`)", .0 >> 20)]
    Memory(usize),
    /// The module recursed past the wasm stack limit.
    #[error("exceeded the wasm stack limit of {} KiB (unbounded recursion?)", .0 >> 10)]
    Stack(usize),
    /// The module made more host calls than allowed.
    #[error("exceeded its limit of {0} host calls (limit `host_calls`)")]
    HostCalls(u32),
    /// The module's answer, stdout or stderr passed the output cap.
    #[error("exceeded its output limit of {} KiB (limit `output_kib`)", .0 >> 10)]
    Output(usize),
    /// The module tried to create more instances, tables or memories than a
    /// policy needs.
    #[error("tried to create more {0} than a policy may")]
    Resources(&'static str),
}

/// When a module must be done, and which limit set that time: its own
/// `deadline_ms` from when it started, or the end of the request's budget,
/// whichever comes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The instant the module is stopped at.
    pub at: Instant,
    /// The limit reported when it is.
    pub exceeded: LimitExceeded,
}

impl Deadline {
    /// The deadline of a module starting at `now` with its own limit `own`,
    /// within a request whose budget `request` ends at `request_ends`.
    pub fn for_module(
        now: Instant,
        own: Duration,
        request_ends: Instant,
        request: Duration,
    ) -> Deadline {
        let own_end = now + own;
        if request_ends < own_end {
            Deadline {
                at: request_ends,
                exceeded: LimitExceeded::RequestDeadline(request),
            }
        } else {
            Deadline {
                at: own_end,
                exceeded: LimitExceeded::Deadline(own),
            }
        }
    }

    /// Time left from now.
    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// Caps the memory of a whole store: the sum of every linear memory and
/// every table of every instance a module creates, failing with
/// [`LimitExceeded`] (a trap) instead of letting `memory.grow` quietly return
/// -1. A component that declares many memories, or instantiates a core
/// module many times, shares one budget and cannot multiply it.
#[derive(Debug)]
pub struct MemoryLimiter {
    /// The cap, in bytes.
    memory: usize,
    /// Bytes of linear memory and tables the store has been allowed so far.
    used: usize,
}

impl MemoryLimiter {
    /// Table elements a policy may have: far above what compiled Rust needs.
    const MAX_TABLE_ELEMENTS: usize = 100_000;

    /// Bytes one table element is counted as. Wasmtime keeps a table as an
    /// array of slots; a `funcref` slot is one pointer (8 bytes), an
    /// `externref` slot is smaller, and continuation tables (16-byte slots)
    /// need the stack-switching proposal, which the engine does not enable.
    /// So a table never takes more host memory than it is counted for.
    const TABLE_ELEMENT_BYTES: usize = 8;

    /// A limiter allowing `memory` bytes of linear memory and tables in total.
    pub fn new(memory: usize) -> MemoryLimiter {
        MemoryLimiter { memory, used: 0 }
    }

    /// Counts a memory or table going from `current` to `desired` bytes
    /// (wasmtime also asks with `current` = 0 when it creates one), or
    /// refuses if the store's total would pass the cap.
    ///
    /// A growth allowed here that then fails in wasmtime (past the declared
    /// maximum, or the system is out of memory) stays counted: the failure
    /// callback does not say which growth failed, and is also called for
    /// growth wasmtime refused without asking, so un-counting could
    /// under-count. Over-counting only costs the module that asked for more
    /// than it may have.
    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let more = desired.saturating_sub(current);
        match self.used.checked_add(more) {
            Some(total) if total <= self.memory => {
                self.used = total;
                Ok(true)
            }
            _ => Err(LimitExceeded::Memory(self.memory).into()),
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > Self::MAX_TABLE_ELEMENTS {
            return Err(LimitExceeded::Resources("table elements").into());
        }
        self.grow(
            current.saturating_mul(Self::TABLE_ELEMENT_BYTES),
            desired.saturating_mul(Self::TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        // A component of a Rust policy instantiates a handful of core modules
        // (its own, the WASI adapter, shims); this leaves ample room.
        100
    }

    fn tables(&self) -> usize {
        100
    }

    fn memories(&self) -> usize {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_security_lists_every_limit_key_with_its_default() {
        let doc = include_str!("../../../docs/security.md");
        let rows = doc.lines().filter(|line| {
            LIMIT_KEYS
                .iter()
                .any(|limit| line.starts_with(&format!("| `{}` |", limit.key)))
        });
        assert_eq!(rows.count(), LIMIT_KEYS.len());
        for limit in LIMIT_KEYS {
            let row = format!("| `{}` | {} |", limit.key, limit.default);
            assert!(doc.contains(&row), "docs/security.md lacks {row:?}");
        }
    }

    #[test]
    fn the_limit_table_gives_the_defaults_and_sets_what_it_reads() {
        let defaults = Limits::default();
        for limit in LIMIT_KEYS {
            match limit.reach {
                Reach::Module { get, set } => {
                    assert_eq!(get(&defaults), limit.default, "{}", limit.key);
                    let mut changed = defaults;
                    set(&mut changed, limit.default + 1);
                    assert_eq!(get(&changed), limit.default + 1, "{}", limit.key);
                }
                Reach::Request => assert_eq!(
                    Duration::from_millis(limit.default),
                    DEFAULT_REQUEST_DEADLINE
                ),
            }
        }
        assert_eq!(
            LimitKey::named("memory_mib")
                .map(|l| l.check(4097))
                .unwrap(),
            Err("`memory_mib` must be at most 4096 (4 GiB)".to_owned())
        );
        assert_eq!(
            LimitKey::named("fuel").unwrap().check(0),
            Err("`fuel` must be greater than 0".to_owned())
        );
        assert_eq!(
            LimitKey::named("compile_on_demand_kib").unwrap().check(0),
            Ok(0)
        );
        assert_eq!(
            LimitKey::named("host_calls").unwrap().check(1 << 32),
            Err("`host_calls` must be at most 4294967295".to_owned())
        );
    }

    #[test]
    fn default_deadline_fits_the_agent_timeout() {
        let limits = Limits::default();
        assert!(limits.deadline < Duration::from_secs(20));
        assert!(limits.docker_timeout < limits.deadline);
        assert!(limits.unit_timeout < limits.deadline);
        assert!(DEFAULT_REQUEST_DEADLINE < Duration::from_secs(20));
        assert!(limits.deadline <= DEFAULT_REQUEST_DEADLINE);
    }

    #[test]
    fn a_module_gets_its_own_deadline_or_the_time_left_whichever_ends_first() {
        let start = Instant::now();
        let request = Duration::from_secs(16);
        let ends = start + request;
        let own = Duration::from_secs(15);

        let first = Deadline::for_module(start, own, ends, request);
        assert_eq!(first.at, start + own);
        assert_eq!(first.exceeded, LimitExceeded::Deadline(own));

        // An add-on starting 5 s into the request has 11 s left, not 15.
        let later = start + Duration::from_secs(5);
        let addon = Deadline::for_module(later, own, ends, request);
        assert_eq!(addon.at, ends);
        assert_eq!(addon.exceeded, LimitExceeded::RequestDeadline(request));

        // A short module deadline still applies inside the budget.
        let short = Duration::from_millis(300);
        let quick = Deadline::for_module(later, short, ends, request);
        assert_eq!(quick.at, later + short);
        assert_eq!(quick.exceeded, LimitExceeded::Deadline(short));

        // Once the budget is spent, nothing is left for anyone.
        let now = Instant::now();
        let spent = Deadline::for_module(now, own, now, request);
        assert!(spent.left().is_zero());
        assert!(spent.exceeded.to_string().contains("`request_deadline_ms`"));
    }

    fn is_memory_limit(error: &wasmtime::Error, cap: usize) -> bool {
        error.downcast_ref::<LimitExceeded>() == Some(&LimitExceeded::Memory(cap))
    }

    #[test]
    fn the_cap_bounds_all_memories_together() {
        let mut limiter = MemoryLimiter::new(3 << 20);
        // Creating a memory is growing it from zero.
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        // A second memory, itself under the cap, would take the total past it.
        let error = limiter.memory_growing(0, 2 << 20, None).unwrap_err();
        assert!(is_memory_limit(&error, 3 << 20), "{error:?}");
        // What is left is still there for it.
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        let error = limiter
            .memory_growing(1 << 20, (1 << 20) + 1, None)
            .unwrap_err();
        assert!(is_memory_limit(&error, 3 << 20), "{error:?}");
    }

    #[test]
    fn tables_count_against_the_same_cap() {
        let elements = MemoryLimiter::MAX_TABLE_ELEMENTS;
        let table_bytes = elements * MemoryLimiter::TABLE_ELEMENT_BYTES;
        let mut limiter = MemoryLimiter::new(table_bytes + (1 << 20));
        assert!(limiter.table_growing(0, elements, None).unwrap());
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        let error = limiter.table_growing(0, 1, None).unwrap_err();
        assert!(
            is_memory_limit(&error, table_bytes + (1 << 20)),
            "{error:?}"
        );
        let error = limiter.memory_growing(1 << 20, 2 << 20, None).unwrap_err();
        assert!(
            is_memory_limit(&error, table_bytes + (1 << 20)),
            "{error:?}"
        );
    }

    #[test]
    fn memory_growth_past_the_cap_is_a_typed_error() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        let error = limiter.memory_growing(1 << 20, 2 << 20, None).unwrap_err();
        assert_eq!(
            error.downcast_ref::<LimitExceeded>(),
            Some(&LimitExceeded::Memory(1 << 20))
        );
    }
}
