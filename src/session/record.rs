//! The session record (SPEC §3). Every field is optional on read so old or
//! partial files still load; unknown fields are kept and written back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::process::{ProcId, ProcessTable};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct SessionRecord {
    pub session_id: String,
    pub parent_session_id: Option<String>,
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
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub agent_session_id: Option<String>,
    pub transcript_path: Option<String>,
    pub first_prompt: Option<String>,
    pub files_touched: Vec<String>,
    pub checkpoints: Vec<CheckpointRef>,
    pub source: Option<Source>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CheckpointRef {
    pub checkpoint_id: String,
    pub commit: String,
    pub resolved_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Launcher,
    AgentHook,
    Adopted,
}

impl SessionRecord {
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
    fn unknown_fields_survive_a_round_trip() {
        let raw = r#"{"session_id":"s1","future_field":{"x":1},"agent":"codex"}"#;
        let rec: SessionRecord = serde_json::from_str(raw).unwrap();
        assert_eq!(rec.agent.as_deref(), Some("codex"));
        let back = serde_json::to_value(&rec).unwrap();
        assert_eq!(back["future_field"]["x"], 1);
        assert!(back["ended_at"].is_null(), "absent fields are written as null");
    }

    #[test]
    fn source_uses_spec_spelling() {
        let json = serde_json::to_string(&Source::AgentHook).unwrap();
        assert_eq!(json, r#""agent-hook""#);
    }
}
