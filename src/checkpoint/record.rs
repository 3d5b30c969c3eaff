//! Recording a checkpoint: the one way a commit becomes a session's
//! checkpoint, whether post-commit found it or post-hoc linking did.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::Metadata;
use super::writer::Batch;
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::session::{CheckpointId, CheckpointRef, Resolution, ResolvedBy, SessionId, SessionRecord, Store};

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
    let (_, recorded) = record_all(repo, store, vec![attribution], batch).pop().expect("one result");
    recorded
}

/// [`record`] for several checkpoints: each session's record is rewritten
/// once with all of its own, then they go onto the branch in order as one
/// move of the ref. The result of each, in order.
pub fn record_all(
    repo: &Repo,
    store: &Store,
    attributions: Vec<Attribution>,
    batch: &Batch,
) -> Vec<(CheckpointId, Result<()>)> {
    let mut sessions: Vec<&SessionId> = Vec::new();
    for attribution in &attributions {
        if !sessions.contains(&&attribution.session_id) {
            sessions.push(&attribution.session_id);
        }
    }
    // Each checkpoint's record as it stood once the checkpoint was added.
    let mut recorded: HashMap<CheckpointId, Result<SessionRecord>> = HashMap::new();
    for session_id in sessions {
        let own: Vec<&Attribution> = attributions.iter().filter(|a| &a.session_id == session_id).collect();
        let mut snapshots = Vec::new();
        let modified = store.modify_kept(session_id, &mut batch.kept(), |current| {
            let mut record = current?;
            for attribution in &own {
                add(&mut record, attribution);
                // Without the list of checkpoints, which the branch's copy
                // leaves out: each copy would cost the list's length.
                let list = std::mem::take(&mut record.checkpoints);
                snapshots.push(record.clone());
                record.checkpoints = list;
            }
            Some(record)
        });
        let failure = match modified {
            Ok(Some(_)) => None,
            Ok(None) => Some(Error::internal(format!("session {session_id} has no record"))),
            Err(err) => Some(err),
        };
        let results: Vec<Result<SessionRecord>> = match failure {
            None => snapshots.into_iter().map(Ok).collect(),
            Some(err) => copies(err, own.len()).into_iter().map(Err).collect(),
        };
        for (attribution, result) in own.into_iter().zip(results) {
            recorded.insert(attribution.checkpoint_id.clone(), result);
        }
    }
    let mut results = Vec::with_capacity(attributions.len());
    let mut staged = Vec::new();
    for attribution in attributions {
        let id = attribution.checkpoint_id.clone();
        let result =
            recorded.remove(&id).unwrap_or_else(|| Err(Error::internal("not recorded"))).and_then(|record| {
                let meta = metadata(attribution, &record);
                batch.stage(&meta, record)
            });
        match result {
            Ok(checkpoint) => {
                staged.push(checkpoint);
                results.push((id, None));
            }
            Err(err) => results.push((id, Some(err))),
        }
    }
    let mut not_committed = match batch.commit(repo, &staged) {
        Ok(()) => Vec::new(),
        Err(err) => copies(err, staged.len()),
    }
    .into_iter();
    results
        .into_iter()
        .map(|(id, failed)| match failed.or_else(|| not_committed.next()) {
            Some(err) => (id, Err(err)),
            None => (id, Ok(())),
        })
        .collect()
}

/// One failure shared by `count` checkpoints: the error itself for the
/// first, its words for the others.
fn copies(err: Error, count: usize) -> Vec<Error> {
    let words = format!("{err:#}");
    std::iter::once(err).chain((1..count).map(|_| Error::internal(words.clone()))).collect()
}

/// The checkpoint's entry in its session's record, and the record's mark
/// of the transcript bytes it takes.
fn add(record: &mut SessionRecord, attribution: &Attribution) {
    let id = &attribution.checkpoint_id;
    record.checkpoints.retain(|c| &c.checkpoint_id != id);
    record.checkpoints.push(CheckpointRef {
        checkpoint_id: id.clone(),
        commit: attribution.commit.clone(),
        resolved_by: attribution.resolved_by,
        created_at: attribution.created_at,
    });
    super::transcript::advance(record, id);
}

fn metadata(attribution: Attribution, record: &SessionRecord) -> Metadata {
    let Attribution {
        checkpoint_id,
        commit,
        session_id: _,
        resolved_by,
        resolution,
        created_at,
        branch,
        files_changed,
        extra,
    } = attribution;
    Metadata {
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
    }
}
