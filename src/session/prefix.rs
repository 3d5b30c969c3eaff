//! IDs as a person types them on the command line: the whole ID, or any
//! prefix of it that names one ID only. Never for IDs that come from the
//! environment, payloads or trailers: those are exact.

use std::fmt::Display;

use super::{SessionId, Store};
use crate::error::{Error, Result};

/// What a typed prefix names among the IDs there are.
#[derive(Debug, PartialEq, Eq)]
pub enum Prefix<T> {
    One(T),
    None,
    /// Every ID it begins, sorted.
    Many(Vec<T>),
}

/// The ID `typed` names: an exact match, else the only ID it begins.
pub fn by_prefix<T: AsRef<str> + Ord>(typed: &str, ids: impl IntoIterator<Item = T>) -> Prefix<T> {
    let mut matches: Vec<T> = ids.into_iter().filter(|id| id.as_ref().starts_with(typed)).collect();
    matches.sort();
    matches.dedup_by(|a, b| a.as_ref() == b.as_ref());
    if let Some(exact) = matches.iter().position(|id| id.as_ref() == typed) {
        return Prefix::One(matches.swap_remove(exact));
    }
    match matches.len() {
        0 => Prefix::None,
        1 => Prefix::One(matches.remove(0)),
        _ => Prefix::Many(matches),
    }
}

/// The error for a prefix that begins several IDs: it lists them.
pub fn ambiguous<T: Display>(typed: &str, what: &str, matches: &[T]) -> Error {
    const SHOWN: usize = 10;
    let mut list: Vec<String> = matches.iter().take(SHOWN).map(|id| format!("  {id}")).collect();
    if matches.len() > SHOWN {
        list.push(format!("  … and {} more", matches.len() - SHOWN));
    }
    Error::user(format!("{typed:?} begins {} {what} IDs:\n{}", matches.len(), list.join("\n")))
        .with_hint(format!("type more of the {what} ID"))
}

impl Store {
    /// The session `typed` names: its ID, or a prefix of one ID only.
    pub fn find(&self, typed: &str) -> Result<SessionId> {
        let invalid = || {
            Error::user(format!("invalid session ID {typed:?}"))
                .with_hint("a session ID is letters, digits, '.', '_' and '-', as `entire sessions` shows")
        };
        let typed_id = SessionId::parse(typed).ok_or_else(invalid)?;
        if self.load(&typed_id)?.is_some() {
            return Ok(typed_id);
        }
        let ids = std::fs::read_dir(self.dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| SessionId::parse(entry.file_name().to_str()?.strip_suffix(".json")?));
        match by_prefix(typed, ids) {
            Prefix::One(id) => Ok(id),
            Prefix::None => Err(Error::user(format!("no session {typed} in this repository"))
                .with_hint("`entire sessions --all` lists the sessions recorded here")),
            Prefix::Many(matches) => Err(ambiguous(typed, "session", &matches)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_names_one_id_or_says_which() {
        let ids = ["0190a1-aa", "0190a1-ab", "0190b2-cc"];
        assert_eq!(by_prefix("0190b", ids), Prefix::One("0190b2-cc"));
        assert_eq!(by_prefix("0190a1-ab", ids), Prefix::One("0190a1-ab"));
        assert_eq!(by_prefix("0190a", ids), Prefix::Many(vec!["0190a1-aa", "0190a1-ab"]));
        assert_eq!(by_prefix("0191", ids), Prefix::None);
        // A whole ID that also begins a longer one is that ID.
        assert_eq!(by_prefix("ab", ["abc", "ab"]), Prefix::One("ab"));
    }

    #[test]
    fn an_ambiguous_prefix_lists_its_matches() {
        let matches: Vec<String> = (0..12).map(|i| format!("id-{i:02}")).collect();
        let err = ambiguous("id", "session", &matches);
        let text = err.to_string();
        assert!(text.starts_with("\"id\" begins 12 session IDs:\n  id-00\n  id-01\n"), "{text}");
        assert!(text.ends_with("  id-09\n  … and 2 more"), "{text}");
    }
}
