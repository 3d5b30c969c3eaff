//! Session IDs. Ours are UUIDv7; IDs from outside (environment, agent hook
//! payloads) must match `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$` (SPEC §2) so
//! that one can never be used to escape a directory.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fresh, time-ordered session ID (UUIDv7, lowercase, hyphenated).
pub fn new_session_id() -> SessionId {
    SessionId(uuid::Uuid::now_v7().hyphenated().to_string())
}

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
}
