//! The verbs a scene can deny or make fail, by the names grants and
//! [`super::calls`] give them.

use sme_model::Op;

/// A verb of the module's grant that addresses containers or services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Verb(&'static str);

impl Verb {
    /// Every verb a scene can name.
    const NAMES: [&'static str; 10] = [
        "inspect", "list", "stats", "start", "stop", "restart", "pause", "unpause", "scale",
        "redeploy",
    ];

    pub(crate) const INSPECT: Verb = Verb("inspect");
    pub(crate) const STATS: Verb = Verb("stats");
    pub(crate) const SCALE: Verb = Verb("scale");
    pub(crate) const REDEPLOY: Verb = Verb("redeploy");
    pub(crate) const LIST: Verb = Verb("list");
    pub(crate) const STOP: Verb = Verb("stop");

    /// The verb named `text`. A scene naming an unknown verb is a mistake in
    /// the test, so this panics with the accepted names.
    pub(crate) fn named(text: &str) -> Verb {
        match Verb::NAMES.iter().find(|name| **name == text) {
            Some(name) => Verb(name),
            None => panic!(
                "sme_guest::testing: unknown verb {text:?}; use one of {}",
                Verb::NAMES.join(", ")
            ),
        }
    }

    /// The verb's name.
    pub(crate) fn name(self) -> &'static str {
        self.0
    }

    /// The container call it makes, when it changes a container.
    pub(crate) fn op(self) -> Option<Op> {
        Op::named(self.0)
    }
}
