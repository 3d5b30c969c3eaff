//! The session record (docs/spec.md §3). Every field is optional on read so old or
//! partial files still load; unknown fields are kept and written back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CheckpointId, SessionId};
use crate::process::{ProcId, ProcessTable};

/// A record without a well-formed `session_id` does not load (docs/spec.md §2);
/// every other field may be absent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SessionRecord {
    pub session_id: SessionId,
    pub parent_session_id: Option<SessionId>,
    pub agent: Option<String>,
    pub command: Option<Vec<String>>,
    pub cwd: Option<String>,
    pub worktree_path: Option<String>,
    pub base_commit: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub last_interaction_time: Option<DateTime<Utc>>,
    pub launcher_pid: Option<i32>,
    pub launcher_start_time: Option<u64>,
    pub agent_pid: Option<i32>,
    pub agent_start_time: Option<u64>,
    /// The PID namespace those PIDs belong to (`process::pid_namespace`):
    /// from another one they cannot be checked.
    pub pid_namespace: Option<u64>,
    /// The controlling terminal the session runs on (device number).
    pub terminal: Option<u64>,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub agent_session_id: Option<SessionId>,
    pub transcript_path: Option<String>,
    pub first_prompt: Option<String>,
    #[serde(default)]
    pub files_touched: Vec<String>,
    #[serde(default)]
    pub checkpoints: Vec<CheckpointRef>,
    pub source: Option<Source>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CheckpointRef {
    pub checkpoint_id: CheckpointId,
    pub commit: crate::git::CommitId,
    pub resolved_by: ResolvedBy,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// A UTC time as chrono's serde writes it (RFC 3339, `Z`, fractional
/// seconds in 0, 3, 6 or 9 digits, as few as hold them), without its
/// formatting machinery: a record lists every checkpoint of its session
/// and the checkpoint writer writes it once per checkpoint.
fn rfc3339<S: serde::Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    use chrono::{Datelike, Timelike};
    let (year, nano) = (time.year(), time.nanosecond());
    let Some(year) = u32::try_from(year).ok().filter(|y| *y <= 9999) else {
        return time.serialize(serializer); // a year that takes a sign
    };
    if nano >= 1_000_000_000 {
        return time.serialize(serializer); // a leap second
    }
    let mut out = [0u8; 30];
    let mut len = 0;
    let mut put = |prefix: Option<u8>, value: u32, digits: u32| {
        if let Some(byte) = prefix {
            out[len] = byte;
            len += 1;
        }
        for i in (0..digits).rev() {
            out[len] = b'0' + u8::try_from(value / 10u32.pow(i) % 10).expect("a digit");
            len += 1;
        }
    };
    put(None, year, 4);
    put(Some(b'-'), time.month(), 2);
    put(Some(b'-'), time.day(), 2);
    put(Some(b'T'), time.hour(), 2);
    put(Some(b':'), time.minute(), 2);
    put(Some(b':'), time.second(), 2);
    if nano % 1_000_000 == 0 && nano != 0 {
        put(Some(b'.'), nano / 1_000_000, 3);
    } else if nano % 1_000 == 0 && nano != 0 {
        put(Some(b'.'), nano / 1_000, 6);
    } else if nano != 0 {
        put(Some(b'.'), nano, 9);
    }
    put(Some(b'Z'), 0, 0);
    serializer.serialize_str(std::str::from_utf8(&out[..len]).expect("ASCII"))
}

/// How a commit was attributed to its session (docs/spec.md §5, §7).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ResolvedBy {
    Env,
    Pid,
    Recent,
    /// Linked after the fact by an agent hook: the commit ran no git hook.
    PostHoc,
}

impl ResolvedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedBy::Env => "env",
            ResolvedBy::Pid => "pid",
            ResolvedBy::Recent => "recent",
            ResolvedBy::PostHoc => "post-hoc",
        }
    }
}

impl std::fmt::Display for ResolvedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why `ENTIRE_SESSION_ID` was set but not used.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EnvRejected {
    Unknown,
    Ended,
    Malformed,
    /// Recorded in another PID namespace, with no lock to show it alive.
    NotVisible,
    /// Inherited: another live session owns a nearer ancestor.
    NearerOwner,
}

impl EnvRejected {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvRejected::Unknown => "unknown",
            EnvRejected::Ended => "ended",
            EnvRejected::Malformed => "malformed",
            EnvRejected::NotVisible => "not-visible",
            EnvRejected::NearerOwner => "nearer-owner",
        }
    }
}

/// Where the owner lookup found a session: the checkpoint's
/// `resolution.found_in`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FoundIn {
    /// This repository's store, by the ID `ENTIRE_SESSION_ID` gave.
    #[default]
    Store,
    /// This repository's index of its live sessions, `<store>/live/`.
    RepoIndex,
    /// The live registry that the hook's environment names.
    Registry,
    /// Named by `ENTIRE_SESSION_ID` in the initial environment of one of
    /// the hook's ancestors (an agent that cleared its commands' variables).
    AncestorEnviron,
}

impl FoundIn {
    pub fn as_str(self) -> &'static str {
        match self {
            FoundIn::Store => "store",
            FoundIn::RepoIndex => "repo-index",
            FoundIn::Registry => "registry",
            FoundIn::AncestorEnviron => "ancestor-environ",
        }
    }
}

/// The `resolution` object kept with a checkpoint (docs/spec.md §7).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Resolution {
    pub method: Option<ResolvedBy>,
    /// For `pid`: how many steps above the hook the match was (parent = 1).
    pub depth: Option<usize>,
    pub env_rejected: Option<EnvRejected>,
    /// Where the lookup found the owner (docs/json.md). Absent when there
    /// is no owner, for `post-hoc`, and in checkpoints written before it was
    /// recorded (which keep their shape byte for byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_in: Option<FoundIn>,
    /// The agent's session variable that named the owner
    /// (`CLAUDE_CODE_SESSION_ID`…), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// For `post-hoc`: how the agent hook found its session ("env", "pid"…,
    /// or "agent-hook" when it made the session itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_found_by: Option<String>,
    /// Fields of newer versions, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Launcher,
    AgentHook,
    Adopted,
}

impl SessionRecord {
    /// A record that knows nothing but its ID.
    pub fn new(session_id: SessionId) -> SessionRecord {
        SessionRecord {
            session_id,
            parent_session_id: None,
            agent: None,
            command: None,
            cwd: None,
            worktree_path: None,
            base_commit: None,
            started_at: None,
            ended_at: None,
            last_interaction_time: None,
            launcher_pid: None,
            launcher_start_time: None,
            agent_pid: None,
            agent_start_time: None,
            pid_namespace: None,
            terminal: None,
            exit_code: None,
            exit_signal: None,
            agent_session_id: None,
            transcript_path: None,
            first_prompt: None,
            files_touched: Vec::new(),
            checkpoints: Vec::new(),
            source: None,
            extra: Map::new(),
        }
    }

    pub fn launcher(&self) -> Option<ProcId> {
        ProcId::from_parts(self.launcher_pid, self.launcher_start_time)
    }

    pub fn agent_proc(&self) -> Option<ProcId> {
        ProcId::from_parts(self.agent_pid, self.agent_start_time)
    }

    /// Live: not ended, and its launcher or its agent is alive as recorded
    /// (same PID *and* start time). A SIGKILLed launcher leaves its agent
    /// working, and the session with it.
    pub fn is_live(&self, procs: &dyn ProcessTable) -> bool {
        self.ended_at.is_none()
            && [self.launcher(), self.agent_proc()].into_iter().flatten().any(|p| procs.alive_as_recorded(p))
    }

    /// The time recency ordering uses: the last interaction, else the start.
    pub fn activity_time(&self) -> Option<DateTime<Utc>> {
        self.last_interaction_time.or(self.started_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_times_are_written_as_chrono_writes_them() {
        use chrono::TimeZone;
        let mut seconds: i64 = -62_235_596_800; // before year 1
        let mut times = vec![Utc.timestamp_opt(1_483_228_799, 1_250_000_000).unwrap()]; // a leap second
        for step in 0..4000u32 {
            seconds += 7_919_993 + i64::from(step) * 104_729;
            let nano = [0, 5_000_000, 123_000, 7, 999_999_999, 10][step as usize % 6];
            times.push(Utc.timestamp_opt(seconds, nano).unwrap());
        }
        for time in times {
            let ours = serde_json::to_string(&CheckpointRef {
                checkpoint_id: CheckpointId::parse("0123456789ab").unwrap(),
                commit: crate::git::CommitId::parse(&"a".repeat(40)).unwrap(),
                resolved_by: ResolvedBy::Env,
                created_at: time,
            })
            .unwrap();
            let chrono = serde_json::to_string(&time).unwrap();
            assert!(ours.contains(&format!("\"created_at\":{chrono}")), "{ours} vs {chrono}");
        }
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let raw = r#"{"session_id":"s1","future_field":{"x":1},"agent":"codex"}"#;
        let rec: SessionRecord = serde_json::from_str(raw).unwrap();
        assert_eq!(rec.agent.as_deref(), Some("codex"));
        let back = serde_json::to_value(&rec).unwrap();
        assert_eq!(back["future_field"]["x"], 1);
        assert!(back["ended_at"].is_null(), "absent fields are written as null");
    }

    #[test]
    fn a_record_without_a_well_formed_id_does_not_load() {
        for raw in [
            r#"{"agent":"codex"}"#,
            r#"{"session_id":"../x"}"#,
            r#"{"session_id":"s","parent_session_id":"a b"}"#,
        ] {
            assert!(serde_json::from_str::<SessionRecord>(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn resolution_keeps_its_spec_shape() {
        let raw =
            r#"{"method":"post-hoc","depth":null,"env_rejected":"ended","session_found_by":"pid","later":1}"#;
        let resolution: Resolution = serde_json::from_str(raw).unwrap();
        assert_eq!(resolution.method, Some(ResolvedBy::PostHoc));
        assert_eq!(serde_json::to_string(&resolution).unwrap(), raw);
        let plain = Resolution { method: Some(ResolvedBy::Pid), depth: Some(2), ..Resolution::default() };
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"method":"pid","depth":2,"env_rejected":null}"#
        );
    }

    #[test]
    fn source_uses_spec_spelling() {
        let json = serde_json::to_string(&Source::AgentHook).unwrap();
        assert_eq!(json, r#""agent-hook""#);
    }
}
