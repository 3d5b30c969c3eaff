//! Identifiers, validated once where they come in (files, environment,
//! payloads, the command line) and typed from then on.
//!
//! Session IDs: ours are UUIDv7; IDs from outside must match
//! `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$` (docs/spec.md §2) so that one can never be
//! used to escape a directory. Checkpoint IDs: 12 lowercase hex characters
//! (drawn by `checkpoint::new_id`).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// Validates an ID that came from outside.
    pub fn parse(raw: &str) -> Option<SessionId> {
        let bytes = raw.as_bytes();
        let well_formed = !bytes.is_empty()
            && bytes.len() <= 128
            && bytes[0].is_ascii_alphanumeric()
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        well_formed.then(|| SessionId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh, time-ordered session ID (UUIDv7, lowercase, hyphenated).
pub fn new_session_id() -> SessionId {
    SessionId(uuid::Uuid::now_v7().hyphenated().to_string())
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CheckpointId(String);

impl CheckpointId {
    pub fn parse(raw: &str) -> Option<CheckpointId> {
        let well_formed = raw.len() == 12 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        well_formed.then(|| CheckpointId(raw.to_owned()))
    }

    /// The ID of six random bytes.
    pub fn from_bytes(bytes: [u8; 6]) -> CheckpointId {
        CheckpointId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_id {
    ($id:ident, $what:literal) => {
        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl TryFrom<String> for $id {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                $id::parse(&raw).ok_or_else(|| format!(concat!("malformed ", $what, " {:?}"), raw))
            }
        }

        impl From<$id> for String {
            fn from(id: $id) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $id {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl AsRef<str> for $id {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(SessionId, "session ID");
string_id!(CheckpointId, "checkpoint ID");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_uuids_and_agent_ids() {
        for ok in ["0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "a", "A.b_c-d", &"x".repeat(128)] {
            assert!(SessionId::parse(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn rejects_hostile_ids() {
        let long = "x".repeat(129);
        for bad in
            ["", "../../etc", "/etc/passwd", ".hidden", "-rf", "a/b", "a\\b", "a b", "a\nb", "é", &long]
        {
            assert!(SessionId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn new_ids_are_valid_v7() {
        let id = new_session_id();
        assert!(SessionId::parse(id.as_str()).is_some());
        assert_eq!(uuid::Uuid::parse_str(id.as_str()).unwrap().get_version_num(), 7);
    }

    #[test]
    fn a_malformed_id_in_json_is_rejected_when_read() {
        assert_eq!(serde_json::from_str::<SessionId>(r#""ok-1""#).unwrap().as_str(), "ok-1");
        let err = serde_json::from_str::<SessionId>(r#""../x""#).unwrap_err().to_string();
        assert!(err.contains("malformed session ID"), "{err}");
        assert!(serde_json::from_str::<CheckpointId>(r#""0123456789AB""#).is_err());
        assert_eq!(
            serde_json::to_string(&CheckpointId::from_bytes([0, 1, 2, 0xab, 0xcd, 0xef])).unwrap(),
            r#""000102abcdef""#
        );
    }

    #[test]
    fn checkpoint_ids_are_twelve_lowercase_hex() {
        assert!(CheckpointId::parse("0123456789ab").is_some());
        for bad in ["0123456789a", "0123456789abc", "0123456789aB", "0123456789ag", ""] {
            assert!(CheckpointId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
