//! A commit's full object name, checked once where it enters: lowercase hex
//! of a SHA-1 or SHA-256 length, as git prints it. Safe and canonical as a
//! path on the checkpoints branch and as an argument to git (never an
//! option, never a revision expression).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct CommitId(String);

impl CommitId {
    pub fn parse(text: &str) -> Option<CommitId> {
        is_object_name(text).then(|| CommitId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first `n` characters, as `git log --oneline` shows a commit.
    pub fn short(&self, n: usize) -> &str {
        &self.0[..n.min(self.0.len())]
    }
}

/// The one validator of object names: 40 or 64 lowercase hex digits.
pub fn is_object_name(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl TryFrom<String> for CommitId {
    type Error = String;

    fn try_from(text: String) -> Result<CommitId, String> {
        if is_object_name(&text) {
            Ok(CommitId(text))
        } else {
            Err(format!("not a full commit SHA: {text:?}"))
        }
    }
}

impl From<CommitId> for String {
    fn from(id: CommitId) -> String {
        id.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for CommitId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_lowercase_hex_of_a_hash_length() {
        assert!(CommitId::parse(&"a1".repeat(20)).is_some());
        assert!(CommitId::parse(&"a1".repeat(32)).is_some());
        for bad in ["A1".repeat(20), "HEAD".into(), "a1".repeat(19), "-".repeat(40), String::new()] {
            assert!(CommitId::parse(&bad).is_none(), "{bad:?}");
            assert!(serde_json::from_value::<CommitId>(bad.into()).is_err());
        }
    }
}
