//! The grant language: which host verbs a module may use, on which
//! containers. Parsed and validated once, at load, into typed sets; the gate
//! asks [`Grant::permits`] on every call. Nothing is allowed by default.

use std::fmt;

/// A host function a policy can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// Read a container's state (`containers.inspect`).
    Inspect,
    /// List containers (`containers.list`).
    List,
    /// Read resource usage (`stats.*`).
    Stats,
    /// Start a container.
    Start,
    /// Stop a container.
    Stop,
    /// Restart a container.
    Restart,
    /// Pause a container.
    Pause,
    /// Unpause a container.
    Unpause,
    /// Set a Swarm service's replica count and notes (`services.scale`).
    Scale,
    /// Force a rolling update of a Swarm service (`services.redeploy`).
    Redeploy,
    /// Write to the operator's log; needs no grant.
    Log,
    /// Read or wait on the clock; needs no grant.
    Clock,
    /// Read or write the module's own kept values (`state.*`); needs no
    /// grant: bounded by the limits `state_keys` and `state_kib`.
    State,
}

/// What SME knows of one verb: the one table grant parsing, the gate, the
/// configuration's grant keys, `smectl inspect`'s import-to-verb mapping and
/// the documentation's list are all read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerbInfo {
    /// The verb.
    pub verb: Verb,
    /// Its name in configuration, audit lines and messages.
    pub name: &'static str,
    /// Whether a grant can name it (`log`, `clock` and `state` need none:
    /// they are only counted, bounded and audited).
    pub grantable: bool,
    /// Whether it changes the object it acts on.
    pub mutating: bool,
    /// Whether it applies to Swarm services only.
    pub service_only: bool,
    /// Whether the `read` shorthand stands for it.
    pub read: bool,
    /// The functions of SME's WIT interfaces that call it, as
    /// `(interface, function)`; `*` is every function of the interface.
    pub imports: &'static [(&'static str, &'static str)],
}

const fn verb(verb: Verb, name: &'static str) -> VerbInfo {
    VerbInfo {
        verb,
        name,
        grantable: true,
        mutating: false,
        service_only: false,
        read: false,
        imports: &[],
    }
}

/// Every verb, in the order of [`Verb`] (and so in the order they are shown).
pub const VERBS: [VerbInfo; 13] = [
    VerbInfo {
        read: true,
        imports: &[
            ("containers", "inspect"),
            ("container-config", "*"),
            // `target` inspects the mapped service in `[swarm] mode = "auto"`.
            ("services", "inspect"),
            ("services", "target"),
            // And the mapped unit in `[systemd] mode = "auto"`.
            ("systemd", "inspect"),
            ("systemd", "target"),
        ],
        ..verb(Verb::Inspect, "inspect")
    },
    VerbInfo {
        read: true,
        imports: &[
            ("containers", "list"),
            ("services", "list"),
            ("systemd", "list"),
        ],
        ..verb(Verb::List, "list")
    },
    VerbInfo {
        read: true,
        imports: &[
            ("stats", "*"),
            ("cpu-window", "*"),
            ("counters", "*"),
            ("services", "task-stats"),
            ("systemd", "stats"),
        ],
        ..verb(Verb::Stats, "stats")
    },
    VerbInfo {
        mutating: true,
        imports: &[("containers", "start"), ("systemd", "start")],
        ..verb(Verb::Start, "start")
    },
    VerbInfo {
        mutating: true,
        imports: &[
            ("containers", "stop"),
            ("systemd", "stop"),
            // Ends a unit's stop before systemd's own TimeoutStopSec.
            ("systemd", "kill"),
        ],
        ..verb(Verb::Stop, "stop")
    },
    VerbInfo {
        mutating: true,
        imports: &[("containers", "restart"), ("systemd", "restart")],
        ..verb(Verb::Restart, "restart")
    },
    VerbInfo {
        mutating: true,
        imports: &[("containers", "pause")],
        ..verb(Verb::Pause, "pause")
    },
    VerbInfo {
        mutating: true,
        imports: &[("containers", "unpause")],
        ..verb(Verb::Unpause, "unpause")
    },
    VerbInfo {
        mutating: true,
        service_only: true,
        imports: &[("services", "scale")],
        ..verb(Verb::Scale, "scale")
    },
    VerbInfo {
        mutating: true,
        service_only: true,
        imports: &[("services", "redeploy")],
        ..verb(Verb::Redeploy, "redeploy")
    },
    VerbInfo {
        grantable: false,
        imports: &[("log", "*")],
        ..verb(Verb::Log, "log")
    },
    VerbInfo {
        grantable: false,
        imports: &[("clock", "*")],
        ..verb(Verb::Clock, "clock")
    },
    VerbInfo {
        grantable: false,
        imports: &[("state", "*")],
        ..verb(Verb::State, "state")
    },
];

/// A set of verbs the table marks.
#[derive(Clone, Copy)]
enum Marked {
    Grantable,
    Read,
}

/// The verbs of [`VERBS`] marked so, `N` of them (checked when compiled).
const fn verbs_where<const N: usize>(marked: Marked) -> [Verb; N] {
    let mut out = [Verb::Inspect; N];
    let (mut i, mut n) = (0, 0);
    while i < VERBS.len() {
        let keep = match marked {
            Marked::Grantable => VERBS[i].grantable,
            Marked::Read => VERBS[i].read,
        };
        if keep {
            out[n] = VERBS[i].verb;
            n += 1;
        }
        i += 1;
    }
    assert!(n == N, "the verb table and the count disagree");
    out
}

impl Verb {
    /// The container call this verb makes, when it changes a container.
    pub fn op(self) -> Option<sme_model::Op> {
        sme_model::Op::named(self.name())
    }

    /// Every verb a grant can name, in the order they are shown.
    pub const GRANTABLE: [Verb; 10] = verbs_where(Marked::Grantable);

    /// The verbs the `read` shorthand stands for.
    pub const READ: [Verb; 3] = verbs_where(Marked::Read);

    /// What the table says of the verb.
    pub fn info(self) -> &'static VerbInfo {
        &VERBS[self as usize]
    }

    /// The verb's name in configuration, audit lines and messages.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The grantable verb called `name`.
    pub fn from_name(name: &str) -> Option<Verb> {
        Verb::GRANTABLE.into_iter().find(|verb| verb.name() == name)
    }

    /// The verb a function of one of SME's WIT interfaces calls
    /// (`containers`, `stop`), if it has one.
    pub fn of_import(interface: &str, function: &str) -> Option<Verb> {
        VERBS.iter().map(|info| info.verb).find(|verb| {
            verb.info()
                .imports
                .iter()
                .any(|&(i, f)| i == interface && (f == "*" || f == function))
        })
    }

    /// Whether the verb changes what it acts on.
    pub fn is_mutating(self) -> bool {
        self.info().mutating
    }

    /// Whether the verb applies to Swarm services only (`scale`, `redeploy`).
    pub fn is_service_only(self) -> bool {
        self.info().service_only
    }

    /// Whether calls with this verb are checked against the grant; `log` and
    /// `clock` touch no container and are only counted and audited.
    pub fn is_gated(self) -> bool {
        self.info().grantable
    }

    fn index(self) -> usize {
        Verb::GRANTABLE
            .iter()
            .position(|&verb| verb == self)
            .expect("only grantable verbs index a grant")
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A malformed target in a grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not one of the target forms.
    #[error(
        "unknown target {0:?}: expected \"self\", \"name:<pattern>\" or \"label:<key>[=<value>]\""
    )]
    Unknown(String),
    /// The pattern has characters no container name can have.
    #[error("{}", sme_model::names::bad_pattern(.0))]
    Pattern(String),
    /// The label key is empty or has spaces or control characters.
    #[error("bad label selector {0:?}: expected label:<key> or label:<key>=<value>")]
    Label(String),
    /// The label key is one a module can write itself.
    #[error(
        "label selector {0:?} names a module's own note ({NOTE_PREFIX}...): modules write those labels, so they cannot grant anything"
    )]
    Reserved(String),
}

/// The label keys modules write on Swarm services (`services.scale` notes).
/// A grant can never select on them: a module could otherwise widen its own
/// grant by labelling a service.
pub use sme_model::notes::NOTE_PREFIX;

/// Which containers a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The container of the service the executor was invoked for.
    Service,
    /// Containers whose name matches a pattern.
    Name(Pattern),
    /// Containers carrying a label (with this value, when given).
    Label {
        /// The label key.
        key: String,
        /// The required value; any value when `None`.
        value: Option<String>,
    },
}

impl Target {
    /// Parses `self`, `name:<pattern>` or `label:<key>[=<value>]`.
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        if text == "self" {
            return Ok(Target::Service);
        }
        if let Some(pattern) = text.strip_prefix("name:") {
            return Pattern::parse(pattern).map(Target::Name);
        }
        if let Some(selector) = text.strip_prefix("label:") {
            let (key, value) = match selector.split_once('=') {
                Some((key, value)) => (key, Some(value)),
                None => (selector, None),
            };
            let printable = |s: &str| s.chars().all(|c| !c.is_control() && !c.is_whitespace());
            if key.is_empty() || !printable(key) || !value.is_none_or(printable) {
                return Err(TargetError::Label(text.to_owned()));
            }
            if key.starts_with(NOTE_PREFIX) {
                return Err(TargetError::Reserved(text.to_owned()));
            }
            return Ok(Target::Label {
                key: key.to_owned(),
                value: value.map(str::to_owned),
            });
        }
        Err(TargetError::Unknown(text.to_owned()))
    }

    /// Whether the target covers `container` without looking at labels.
    pub fn matches_name(&self, container: &str, service: &str) -> bool {
        match self {
            Target::Service => container == service,
            Target::Name(pattern) => pattern.matches(container),
            Target::Label { .. } => false,
        }
    }

    /// Whether the target covers a container with these labels.
    pub fn matches_labels(&self, labels: &[(String, String)]) -> bool {
        match self {
            Target::Label { key, value } => labels
                .iter()
                .any(|(k, v)| k == key && value.as_ref().is_none_or(|value| value == v)),
            _ => false,
        }
    }

    /// Whether deciding this target needs the container's labels.
    pub fn needs_labels(&self) -> bool {
        matches!(self, Target::Label { .. })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Service => f.write_str("self"),
            Target::Name(pattern) => write!(f, "name:{}", pattern.0),
            Target::Label { key, value: None } => write!(f, "label:{key}"),
            Target::Label {
                key,
                value: Some(value),
            } => write!(f, "label:{key}={value}"),
        }
    }
}

/// A container-name pattern: `*` matches any run of characters, `?` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// Parses a pattern made of container-name characters and wildcards.
    pub fn parse(text: &str) -> Result<Pattern, TargetError> {
        if sme_model::names::valid_pattern(text) {
            Ok(Pattern(text.to_owned()))
        } else {
            Err(TargetError::Pattern(text.to_owned()))
        }
    }

    /// Whether `name` matches the whole pattern. A name with a `/` never
    /// does, whatever the wildcards: it is a legacy link alias (`a/b`), not a
    /// container's own name, and granting it would reach another container.
    pub fn matches(&self, name: &str) -> bool {
        sme_model::names::matches(&self.0, name)
    }
}

/// What one module may do: for each grantable verb, the targets it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    targets: [Vec<Target>; Verb::GRANTABLE.len()],
}

impl Grant {
    /// A grant that allows nothing.
    pub fn none() -> Grant {
        Grant::default()
    }

    /// Adds `target` for `verb`.
    pub fn allow(&mut self, verb: Verb, target: Target) {
        let targets = &mut self.targets[verb.index()];
        if !targets.contains(&target) {
            targets.push(target);
        }
    }

    /// The grant of a built-in policy: exactly what it needs, on its own
    /// service only. `None` for operations that have no built-in.
    pub fn builtin(operation: &str) -> Option<Grant> {
        let verbs: &[Verb] = match operation {
            // Each covers its operation on a container and on a Swarm service.
            "start" => &[Verb::Inspect, Verb::Start, Verb::Scale],
            "stop" => &[Verb::Inspect, Verb::Stop, Verb::Scale],
            // A restart of a service scaled to 0 starts it, as `docker
            // restart` starts a stopped container.
            "restart" => &[Verb::Inspect, Verb::Restart, Verb::Redeploy, Verb::Scale],
            "metrics" => &[Verb::Inspect, Verb::Stats],
            _ => return None,
        };
        let mut grant = Grant::none();
        for &verb in verbs {
            grant.allow(verb, Target::Service);
        }
        Some(grant)
    }

    /// The targets granted for `verb` (empty for ungated verbs).
    pub fn targets(&self, verb: Verb) -> &[Target] {
        if verb.is_gated() {
            &self.targets[verb.index()]
        } else {
            &[]
        }
    }

    /// Whether the grant names `verb` on any target.
    pub fn has(&self, verb: Verb) -> bool {
        !self.targets(verb).is_empty()
    }

    /// Whether a module importing `imported` could do nothing under this
    /// grant: it imports at least one gated call and is granted none of
    /// them. (A module that imports no gated call needs no grant.)
    pub fn denies_everything(&self, imported: &[Verb]) -> bool {
        let mut gated = imported.iter().filter(|verb| verb.is_gated()).peekable();
        gated.peek().is_some() && gated.all(|&verb| !self.has(verb))
    }

    /// The verbs granted on at least one target.
    pub fn verbs(&self) -> impl Iterator<Item = Verb> + '_ {
        Verb::GRANTABLE.into_iter().filter(|&verb| self.has(verb))
    }

    /// Decides `verb` on `container`. `labels` is asked for the container's
    /// labels only when a label target could decide.
    pub fn permits(
        &self,
        verb: Verb,
        container: &str,
        service: &str,
        labels: Option<&[(String, String)]>,
    ) -> Decision {
        if !verb.is_gated() {
            return Decision::Allow;
        }
        // No container's own name has a `/` (see `Pattern::matches`).
        if container.contains('/') {
            return Decision::Deny;
        }
        let targets = self.targets(verb);
        if targets.iter().any(|t| t.matches_name(container, service)) {
            return Decision::Allow;
        }
        if targets.iter().any(Target::needs_labels) {
            match labels {
                None => return Decision::NeedLabels,
                Some(labels) if targets.iter().any(|t| t.matches_labels(labels)) => {
                    return Decision::Allow;
                }
                Some(_) => {}
            }
        }
        Decision::Deny
    }

    /// The targets of `verb` as a list for messages, e.g. `self, name:edgex-*`.
    pub fn describe(&self, verb: Verb) -> String {
        let targets: Vec<String> = self.targets(verb).iter().map(Target::to_string).collect();
        if targets.is_empty() && verb.is_service_only() {
            "no service".to_owned()
        } else if targets.is_empty() {
            "no container".to_owned()
        } else {
            targets.join(", ")
        }
    }
}

/// The answer of [`Grant::permits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The call is covered by the grant.
    Allow,
    /// The call is not covered.
    Deny,
    /// Only label targets could still allow it: ask again with the labels.
    NeedLabels,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_security_lists_every_grantable_verb() {
        let doc = include_str!("../../../docs/security.md");
        for verb in Verb::GRANTABLE {
            let named = format!("`{}`", verb.name());
            assert!(
                doc.lines().any(|line| line
                    .strip_prefix("| ")
                    .and_then(|row| row.split(" | ").next())
                    .is_some_and(|first| first.split(", ").any(|cell| cell == named))),
                "docs/security.md's grant table lacks {named}"
            );
        }
    }

    #[test]
    fn the_verb_table_is_in_the_order_of_the_enum() {
        for (index, info) in VERBS.iter().enumerate() {
            assert_eq!(info.verb as usize, index, "{}", info.name);
        }
        assert_eq!(Verb::of_import("containers", "stop"), Some(Verb::Stop));
        assert_eq!(Verb::of_import("stats", "one-shot"), Some(Verb::Stats));
        assert_eq!(Verb::of_import("services", "target"), Some(Verb::Inspect));
        assert_eq!(Verb::of_import("containers", "kill"), None);
    }

    #[test]
    fn a_grant_denies_everything_only_when_no_gated_import_is_granted() {
        let stop_self = grant(&[(Verb::Stop, "self")]);
        assert!(Grant::none().denies_everything(&[Verb::Inspect, Verb::Log]));
        assert!(stop_self.denies_everything(&[Verb::Inspect, Verb::Pause]));
        assert!(!stop_self.denies_everything(&[Verb::Inspect, Verb::Stop]));
        assert!(!Grant::none().denies_everything(&[Verb::Log, Verb::Clock]));
        assert!(!Grant::none().denies_everything(&[]));
    }

    fn grant(rules: &[(Verb, &str)]) -> Grant {
        let mut grant = Grant::none();
        for &(verb, target) in rules {
            grant.allow(verb, Target::parse(target).unwrap());
        }
        grant
    }

    #[test]
    fn a_label_modules_write_cannot_be_granted_on() {
        assert!(matches!(
            Target::parse("label:sme.note.replicas"),
            Err(TargetError::Reserved(_))
        ));
        assert!(Target::parse("label:sme.notes").is_ok());
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let none = Grant::none();
        for verb in Verb::GRANTABLE {
            assert_eq!(none.permits(verb, "svc", "svc", None), Decision::Deny);
        }
    }

    #[test]
    fn self_covers_only_the_invoked_service() {
        let grant = grant(&[(Verb::Stop, "self")]);
        assert_eq!(
            grant.permits(Verb::Stop, "svc", "svc", None),
            Decision::Allow
        );
        assert_eq!(
            grant.permits(Verb::Stop, "other", "svc", None),
            Decision::Deny
        );
        assert_eq!(
            grant.permits(Verb::Start, "svc", "svc", None),
            Decision::Deny
        );
    }

    #[test]
    fn name_patterns_match_whole_names() {
        let grant = grant(&[(Verb::Inspect, "name:edgex-*"), (Verb::Inspect, "name:db?")]);
        let allows = |name| grant.permits(Verb::Inspect, name, "svc", None) == Decision::Allow;
        assert!(allows("edgex-core-data"));
        assert!(allows("db1"));
        assert!(!allows("xedgex-core"));
        assert!(!allows("db12"));
    }

    /// Every string over `alphabet` of length 1 to `max`.
    fn strings(alphabet: &[u8], max: usize) -> Vec<String> {
        let mut all: Vec<Vec<u8>> = vec![Vec::new()];
        let mut out = Vec::new();
        for _ in 0..max {
            all = all
                .iter()
                .flat_map(|prefix| {
                    alphabet.iter().map(move |&c| {
                        let mut next = prefix.clone();
                        next.push(c);
                        next
                    })
                })
                .collect();
            out.extend(all.iter().map(|s| String::from_utf8(s.clone()).unwrap()));
        }
        out
    }

    #[test]
    fn no_name_pattern_ever_matches_a_slash() {
        let slashed: Vec<String> = strings(b"a/-", 4)
            .into_iter()
            .filter(|name| name.contains('/'))
            .collect();
        let mut patterns = strings(b"a*?", 4);
        patterns.extend(["*", "**", "?", "*?*", "a*a"].map(str::to_owned));
        for pattern in patterns.iter().filter_map(|p| Pattern::parse(p).ok()) {
            for name in &slashed {
                assert!(!pattern.matches(name), "{pattern:?} matched {name:?}");
            }
        }
        // The same patterns still match names without one.
        assert!(Pattern::parse("*").unwrap().matches("a-a"));
        assert!(Pattern::parse("a*?").unwrap().matches("a-a"));
    }

    #[test]
    fn no_grant_covers_a_link_alias() {
        let grant = grant(&[
            (Verb::List, "name:*"),
            (Verb::List, "label:tier"),
            (Verb::List, "self"),
        ]);
        let labels = [("tier".to_owned(), "core".to_owned())];
        for alias in ["svc/db", "a/b", "/svc"] {
            assert_eq!(
                grant.permits(Verb::List, alias, "svc", Some(&labels)),
                Decision::Deny,
                "{alias}"
            );
        }
        assert_eq!(
            grant.permits(Verb::List, "db", "svc", None),
            Decision::Allow
        );
    }

    #[test]
    fn label_targets_ask_for_labels() {
        let grant = grant(&[
            (Verb::Restart, "label:tier=core"),
            (Verb::Inspect, "label:managed"),
        ]);
        assert_eq!(
            grant.permits(Verb::Restart, "x", "svc", None),
            Decision::NeedLabels
        );
        let core = [("tier".to_owned(), "core".to_owned())];
        let edge = [("tier".to_owned(), "edge".to_owned())];
        assert_eq!(
            grant.permits(Verb::Restart, "x", "svc", Some(&core)),
            Decision::Allow
        );
        assert_eq!(
            grant.permits(Verb::Restart, "x", "svc", Some(&edge)),
            Decision::Deny
        );
        let managed = [("managed".to_owned(), String::new())];
        assert_eq!(
            grant.permits(Verb::Inspect, "x", "svc", Some(&managed)),
            Decision::Allow
        );
    }

    #[test]
    fn malformed_targets_are_rejected() {
        for bad in [
            "",
            "selff",
            "name:",
            "name:a/b",
            "name:$(x)",
            "label:",
            "label:a b",
            "label:=v",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Target::parse("label:a=b").unwrap().to_string(), "label:a=b");
    }

    #[test]
    fn globs_do_not_backtrack_exponentially() {
        let pattern = Pattern::parse(&"*a".repeat(30)).unwrap();
        assert!(!pattern.matches(&"a".repeat(29)));
        assert!(Pattern::parse("*").unwrap().matches("anything"));
        assert!(Pattern::parse("a*b*c").unwrap().matches("axxbyyc"));
        assert!(!Pattern::parse("a*b*c").unwrap().matches("axxbyy"));
    }

    #[test]
    fn builtins_get_exactly_what_they_need() {
        let stop = Grant::builtin("stop").unwrap();
        assert_eq!(
            stop.verbs().collect::<Vec<_>>(),
            [Verb::Inspect, Verb::Stop, Verb::Scale]
        );
        assert_eq!(stop.describe(Verb::Stop), "self");
        let restart = Grant::builtin("restart").unwrap();
        assert_eq!(
            restart.verbs().collect::<Vec<_>>(),
            [Verb::Inspect, Verb::Restart, Verb::Scale, Verb::Redeploy]
        );
        let metrics = Grant::builtin("metrics").unwrap();
        assert_eq!(
            metrics.verbs().collect::<Vec<_>>(),
            [Verb::Inspect, Verb::Stats]
        );
        assert!(Grant::builtin("pause").is_none());
    }
}
