//! The checkpoints branch `entire/checkpoints/v1` (SPEC §7).
//! Placeholder API until the writer lands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::git::Repo;
use crate::session::SessionRecord;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Metadata {
    pub checkpoint_id: String,
    pub commit: String,
    pub session_id: String,
    pub agent: Option<String>,
    pub resolved_by: String,
    pub resolution: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub branch: Option<String>,
    pub files_changed: Vec<String>,
    pub agent_session_id: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

pub fn new_id(_repo: &Repo) -> Result<String> {
    let mut buf = [0u8; 6];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn write(_repo: &Repo, _meta: &Metadata, _session: &SessionRecord, _max: u64) -> Result<()> {
    Ok(())
}
