//! Names as policies write them: patterns that select containers and
//! services by name, label selectors, and hostile strings in messages.

use std::fmt;

/// Whether `pattern` is a name pattern SME accepts: container-name
/// characters (`[a-zA-Z0-9_.-]`) and the wildcards `*` and `?`.
pub fn valid_pattern(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'*' | b'?'))
}

/// The refusal of a name pattern that is not [`valid_pattern`].
pub fn bad_pattern(pattern: &str) -> String {
    format!(
        "bad name pattern {pattern:?}: use container-name characters [a-zA-Z0-9_.-] and the \
         wildcards * and ?"
    )
}

/// The prefix the agent puts before every EdgeX service name
/// (`edgex-core-data`), which `{name}` in a [`Template`] leaves out.
pub const EDGEX_PREFIX: &str = "edgex-";

/// How the agent's service name becomes the name of another object (a
/// Swarm service, a systemd unit): fixed text around one placeholder,
/// `{service}` (the name as the agent passed it) or `{name}` (the same
/// without [`EDGEX_PREFIX`]). What the text around it may hold is the
/// caller's to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    before: String,
    short: bool,
    after: String,
}

const SERVICE: &str = "{service}";
const NAME: &str = "{name}";

impl Template {
    /// `text` as a template, if it holds exactly one placeholder once.
    pub fn parse(text: &str) -> Option<Template> {
        let (before, short, after) = match (text.split_once(SERVICE), text.split_once(NAME)) {
            (Some((before, after)), None) => (before, false, after),
            (None, Some((before, after))) => (before, true, after),
            _ => return None,
        };
        if after.contains(SERVICE) || after.contains(NAME) {
            return None;
        }
        Some(Template {
            before: before.to_owned(),
            short,
            after: after.to_owned(),
        })
    }

    /// The fixed text before and after the placeholder.
    pub fn around(&self) -> (&str, &str) {
        (&self.before, &self.after)
    }

    /// What the placeholder stands for in a request for agent `service`.
    pub fn part<'a>(&self, service: &'a str) -> &'a str {
        if self.short {
            service.strip_prefix(EDGEX_PREFIX).unwrap_or(service)
        } else {
            service
        }
    }

    /// The template with `part` in place of its placeholder.
    pub fn fill(&self, part: &str) -> String {
        format!("{}{part}{}", self.before, self.after)
    }

    /// The name a request for agent `service` maps to.
    pub fn apply(&self, service: &str) -> String {
        self.fill(self.part(service))
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let placeholder = if self.short { NAME } else { SERVICE };
        write!(f, "{}{placeholder}{}", self.before, self.after)
    }
}

/// Whether `name` matches the whole `pattern`, where `*` matches any run of
/// characters and `?` one. A name with a `/` never does, whatever the
/// wildcards: it is a legacy link alias (`a/b`), not an object's own name,
/// and matching it would reach another container.
pub fn matches(pattern: &str, name: &str) -> bool {
    !name.contains('/') && glob(pattern.as_bytes(), name.as_bytes())
}

/// Matches `*` and `?` wildcards, iteratively with one backtrack point, so a
/// hostile pattern cannot make matching exponential.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether `labels` match a `key` or `key=value` selector, as the daemon's
/// `label` filter matches them.
pub fn label_matches(labels: &[(String, String)], selector: &str) -> bool {
    match selector.split_once('=') {
        Some((key, value)) => labels.iter().any(|(k, v)| k == key && v == value),
        None => labels.iter().any(|(k, _)| k == selector),
    }
}

/// A possibly hostile string, printed escaped, quoted and shortened so that
/// an error message stays one readable line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown(String);

impl Shown {
    /// Longest part of the original string that is shown.
    const MAX_SHOWN: usize = 64;

    /// Wraps `text` for display.
    pub fn new(text: &str) -> Shown {
        Shown(text.to_owned())
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        let head: String = chars.by_ref().take(Self::MAX_SHOWN).collect();
        if chars.next().is_some() {
            write!(f, "{head:?}...")
        } else {
            write!(f, "{head:?}")
        }
    }
}
