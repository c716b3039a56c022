//! A module's notes on a Swarm service (`services.scale`): small key-value
//! pairs kept in the service's labels, under [`NOTE_PREFIX`], so that a
//! later run (a start after a stop) can read them back.

use crate::names::Shown;

/// The label keys notes are kept under. A grant can never select on them:
/// a module could otherwise widen its own grant by labelling a service.
pub const NOTE_PREFIX: &str = "sme.note.";
/// Most notes one `scale` may set: a policy remembers a count or two, not
/// a database.
pub const MAX_NOTES: usize = 8;
/// Longest note key, before the prefix.
pub const MAX_NOTE_KEY: usize = 64;
/// Longest note value, in bytes: labels travel in every service inspection.
pub const MAX_NOTE_VALUE: usize = 256;

/// Whether the notes a service would hold once `changes` are applied to its
/// labels `current` stay within [`MAX_NOTES`] in all: notes are kept across
/// calls and runs, so the cap is the service's, not one call's.
pub fn check_total<'a>(
    service: &str,
    current: impl IntoIterator<Item = &'a str>,
    changes: &[(String, Option<String>)],
) -> Result<(), String> {
    let mut notes: std::collections::BTreeSet<&str> = current
        .into_iter()
        .filter(|key| key.starts_with(NOTE_PREFIX))
        .collect();
    for (key, value) in changes {
        if value.is_some() {
            notes.insert(key);
        } else {
            notes.remove(key.as_str());
        }
    }
    if notes.len() > MAX_NOTES {
        return Err(format!(
            "service {service} would hold {} notes: at most {MAX_NOTES} per service (remove \
             one with a none value first)",
            notes.len()
        ));
    }
    Ok(())
}

/// A module's notes as the labels they are kept in (a `None` value removes
/// the note), or why they are refused: too many, a key that is not 1 to
/// [`MAX_NOTE_KEY`] characters of `[a-z0-9.-]`, a value longer than
/// [`MAX_NOTE_VALUE`] bytes.
pub fn note_labels(
    notes: &[(String, Option<String>)],
) -> Result<Vec<(String, Option<String>)>, String> {
    if notes.len() > MAX_NOTES {
        return Err(format!(
            "{} notes in one scale: at most {MAX_NOTES}",
            notes.len()
        ));
    }
    notes
        .iter()
        .map(|(key, value)| {
            let valid = !key.is_empty()
                && key.len() <= MAX_NOTE_KEY
                && key.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-')
                });
            if !valid {
                return Err(format!(
                    "note key {} is not 1 to {MAX_NOTE_KEY} characters of [a-z0-9.-]",
                    Shown::new(key)
                ));
            }
            if key.contains("..") || key.starts_with('.') || key.ends_with('.') {
                return Err(format!(
                    "note key {} has an empty part between its dots",
                    Shown::new(key)
                ));
            }
            if value.as_ref().is_some_and(|v| v.len() > MAX_NOTE_VALUE) {
                return Err(format!("note {key} is longer than {MAX_NOTE_VALUE} bytes"));
            }
            if value
                .as_ref()
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                return Err(format!("note {key} holds a control character"));
            }
            Ok((format!("{NOTE_PREFIX}{key}"), value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_holds_at_most_max_notes_over_every_call() {
        let held: Vec<String> = (0..MAX_NOTES)
            .map(|n| format!("{NOTE_PREFIX}n{n}"))
            .collect();
        let keys = || held.iter().map(String::as_str).chain(["other.label"]);
        let set = |key: &str| (format!("{NOTE_PREFIX}{key}"), Some("1".to_owned()));
        let ninth = check_total("api", keys(), &[set("n8")]).unwrap_err();
        assert!(
            ninth.contains("would hold 9 notes: at most 8 per service"),
            "{ninth}"
        );
        // Changing a held note, or making room first, is fine.
        assert!(check_total("api", keys(), &[set("n0")]).is_ok());
        let swap = [(format!("{NOTE_PREFIX}n0"), None), set("n8")];
        assert!(check_total("api", keys(), &swap).is_ok());
    }
}
