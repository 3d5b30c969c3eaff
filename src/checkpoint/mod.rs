//! The checkpoints branch `entire/checkpoints/v1` (docs/spec.md §7). Layout,
//! concurrency and the decisions docs/spec.md leaves open: docs/checkpoints.md.

mod id;
mod merge;
mod objects;
mod pack;
pub mod pending;
pub mod post_hoc;
pub mod push;
mod reader;
mod record;
pub mod remote;
pub mod scan;
pub mod transcript;
mod transcript_source;
mod writer;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::git::CommitId;
use crate::session::{CheckpointId, Resolution, ResolvedBy, SessionId};

pub use id::{
    Claimed, new_id, new_id_with, new_pending_id, refill as refill_ids, refill_with as refill_ids_with,
};
pub use merge::{conflicts, merge};
pub use objects::Objects;
pub use reader::{Reader, for_commit, read};
pub use record::{Attribution, record, record_all};
pub use transcript_source::{SkipReason, agent_dirs, open_transcript};
pub use writer::{Batch, write};

/// The branch's short name, for messages: git resolves it to the local
/// `refs/entire/checkpoints/v1` (`crate::git::CHECKPOINTS_REF`).
pub const BRANCH: &str = "entire/checkpoints/v1";

/// The branch's name on remotes, where peers' tools look for it.
pub const REMOTE_REF: &str = "refs/heads/entire/checkpoints/v1";

/// What to run when the branch exists on the remote but not here.
pub const FETCH_HINT: &str = "run `entire enable` (it makes `git fetch` bring the branch), then `git fetch`";

/// The one session slot this tool writes in a checkpoint: `0/`.
pub const SLOT: &str = "0";

/// Where the transcript copy lives in a checkpoint.
pub const TRANSCRIPT_FILE: &str = "full.jsonl";

/// A checkpoint's root `metadata.json` (docs/spec.md §7), fields in this order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Metadata {
    pub checkpoint_id: CheckpointId,
    /// The full SHA of the commit the checkpoint was written for.
    pub commit: CommitId,
    pub session_id: SessionId,
    pub agent: Option<String>,
    pub resolved_by: ResolvedBy,
    pub resolution: Resolution,
    pub created_at: DateTime<Utc>,
    pub branch: Option<String>,
    pub files_changed: Vec<String>,
    pub agent_session_id: Option<SessionId>,
    /// Anything else: "linked", "transcript_truncated"…
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Moves the branch to a tip that took in checkpoints from elsewhere
/// (another clone's, fetched or merged), by compare-and-swap. The pool of
/// IDs checked against the old tips goes, before and after.
pub(crate) fn update_ref(
    repo: &crate::git::Repo,
    new: &str,
    old: Option<&str>,
    reflog: &str,
) -> crate::error::Result<()> {
    id::forget_pool(repo);
    let moved = objects::update_ref(repo, new, old, reflog);
    id::forget_pool(repo);
    moved
}

/// `<id[0:2]>/<id[2:]>`: a checkpoint's directory on the branch.
pub fn dir_of(id: &CheckpointId) -> String {
    let id = id.as_str();
    format!("{}/{}", &id[..2], &id[2..])
}

/// `commits/<sha[0:2]>/<sha[2:]>`: the index file listing a commit's
/// checkpoints, one ID per line.
pub fn index_of(commit: &CommitId) -> String {
    let sha = commit.as_str();
    format!("commits/{}/{}", &sha[..2], &sha[2..])
}

/// The `cat-file` name of `path` in commit `tip` (`""`: its root tree).
fn spec(tip: &str, path: &str) -> String {
    if path.is_empty() { format!("{tip}^{{tree}}") } else { format!("{tip}:{path}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_paths() {
        assert_eq!(dir_of(&CheckpointId::parse("0123456789ab").unwrap()), "01/23456789ab");
        let sha = "ab".repeat(20);
        assert_eq!(index_of(&CommitId::parse(&sha).unwrap()), format!("commits/ab/{}", &sha[2..]));
    }

    #[test]
    fn metadata_keeps_field_order_and_extra() {
        let raw = r#"{"checkpoint_id":"0123456789ab","commit":"cccccccccccccccccccccccccccccccccccccccc","session_id":"s","agent":null,"resolved_by":"pid","resolution":{"method":"pid","depth":2,"env_rejected":null},"created_at":"2025-01-02T03:04:05Z","branch":"main","files_changed":["a"],"agent_session_id":null,"linked":"post-hoc"}"#;
        let meta: Metadata = serde_json::from_str(raw).unwrap();
        assert_eq!(meta.extra["linked"], "post-hoc");
        assert_eq!(serde_json::to_string(&meta).unwrap(), raw);
    }
}
