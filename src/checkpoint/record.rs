//! Recording a checkpoint: the one way a commit becomes a session's
//! checkpoint, whether post-commit found it or post-hoc linking did.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::Metadata;
use super::writer::Batch;
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::session::{CheckpointId, CheckpointRef, Resolution, ResolvedBy, SessionId, Store};

/// A commit attributed to a session, to record as a checkpoint.
pub struct Attribution {
    pub checkpoint_id: CheckpointId,
    pub commit: crate::git::CommitId,
    pub session_id: SessionId,
    pub resolved_by: ResolvedBy,
    pub resolution: Resolution,
    pub created_at: DateTime<Utc>,
    /// The branch the commit was made on, as seen when it was found.
    pub branch: Option<String>,
    pub files_changed: Vec<String>,
    /// Further metadata fields ("linked").
    pub extra: Map<String, Value>,
}

/// Adds the checkpoint to its session's record (replacing an earlier entry
/// with its ID: a retried write), then writes it to the branch.
pub fn record(repo: &Repo, store: &Store, attribution: Attribution, batch: &Batch) -> Result<()> {
    let Attribution {
        checkpoint_id,
        commit,
        session_id,
        resolved_by,
        resolution,
        created_at,
        branch,
        files_changed,
        extra,
    } = attribution;
    let reference = CheckpointRef {
        checkpoint_id: checkpoint_id.clone(),
        commit: commit.clone(),
        resolved_by,
        created_at,
    };
    let record = store
        .modify_kept(&session_id, &mut batch.kept(), |current| {
            let mut record = current?;
            record.checkpoints.retain(|c| c.checkpoint_id != checkpoint_id);
            record.checkpoints.push(reference);
            super::transcript::advance(&mut record, &checkpoint_id);
            Some(record)
        })?
        .ok_or_else(|| Error::internal(format!("session {session_id} has no record")))?;
    let meta = Metadata {
        checkpoint_id,
        commit,
        session_id: record.session_id.clone(),
        agent: record.agent.clone(),
        resolved_by,
        resolution,
        created_at,
        branch,
        files_changed,
        agent_session_id: record.agent_session_id.clone(),
        extra,
    };
    batch.write(repo, &meta, record)
}
