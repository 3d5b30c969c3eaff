//! Writes one checkpoint as one commit on the branch, in process: blobs,
//! trees and the commit go to the object database directly
//! (`checkpoint::objects`), and the user's index, worktree and HEAD are
//! never read or written. The ref moves by compare-and-swap; a writer that
//! loses the race re-reads the tip and rebuilds on top of it, so concurrent
//! writers lose nothing. No git process is started.
//!
//! Everything free-text is redacted here (`crate::redact`), in the
//! detached writer, never while the commit waits: the argv, the first
//! prompt and each transcript portion, which is not stored at all when it
//! is not UTF-8 text.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::id::random_bytes;
use super::objects::{Entry, Objects, Tree};
use super::transcript::Portion;
use super::{Metadata, SLOT, TRANSCRIPT_FILE, index_of};
use crate::error::{Context, Result};
use crate::git::{CHECKPOINTS_REF, CommitId, Repo};
use crate::redact::Redactor;
use crate::session::{CheckpointId, Kept, SessionId, SessionRecord};
use crate::settings::{Settings, TranscriptRules};

/// Enough for dozens of simultaneous writers; a writer that still loses
/// after this many tries is facing something other than a race.
const MAX_ATTEMPTS: u32 = 40;

/// What one writer run keeps from checkpoint to checkpoint: the object
/// database opened once (with the trees it read and wrote), the redaction
/// and transcript rules read once, the session record it last wrote.
pub struct Batch {
    objects: Objects,
    redactor: Arc<Redactor>,
    transcripts: TranscriptRules,
    kept: RefCell<Kept>,
}

impl Batch {
    /// For one checkpoint at a time, outside the writer lock: loose objects.
    pub fn open(repo: &Repo, settings: &Settings) -> Result<Batch> {
        Batch::with(Objects::open(repo)?, settings)
    }

    /// For the one writer of the repository, which holds the writer lock:
    /// each [`commit`](Batch::commit) writes its objects as one pack.
    pub fn for_writer(repo: &Repo, settings: &Settings) -> Result<Batch> {
        Batch::with(Objects::packing(repo)?, settings)
    }

    fn with(objects: Objects, settings: &Settings) -> Result<Batch> {
        Ok(Batch {
            objects,
            redactor: settings.redactor()?,
            transcripts: settings.transcripts(),
            kept: RefCell::default(),
        })
    }

    pub(super) fn objects(&self) -> &Objects {
        &self.objects
    }

    pub(super) fn kept(&self) -> std::cell::RefMut<'_, Kept> {
        self.kept.borrow_mut()
    }
}

/// Writes one checkpoint (root `metadata.json`, and in slot `0/` the
/// session record as `metadata.json`, `prompt.txt` when the first prompt is
/// known, and `full.jsonl`, the transcript's portion since the session's
/// previous checkpoint when the rules allow its source, cut at their cap) as
/// one commit on the branch.
pub fn write(
    repo: &Repo,
    meta: &Metadata,
    session: &SessionRecord,
    transcripts: &TranscriptRules,
) -> Result<()> {
    let batch = Batch {
        objects: Objects::open(repo)?,
        redactor: Settings::for_repo(repo)?.redactor()?,
        transcripts: transcripts.clone(),
        kept: RefCell::default(),
    };
    batch.write(repo, meta, session.clone())
}

/// A checkpoint's objects that do not depend on the branch's tip, written
/// before any look at it: a retry reuses them.
pub struct Staged {
    checkpoint_id: CheckpointId,
    commit: CommitId,
    session_id: SessionId,
    /// `<id[2:]>/`: the root metadata and slot `0/`.
    tree: String,
    /// The commit index file when this checkpoint is the commit's first.
    fresh_index: String,
}

impl Batch {
    /// [`write`] with this run's objects and rules.
    pub fn write(&self, repo: &Repo, meta: &Metadata, session: SessionRecord) -> Result<()> {
        let staged = self.stage(meta, session)?;
        self.commit(repo, std::slice::from_ref(&staged))
    }

    /// The checkpoint's blobs and its directory's trees.
    pub fn stage(&self, meta: &Metadata, session: SessionRecord) -> Result<Staged> {
        let Batch { objects, redactor, transcripts, .. } = self;
        let mut root_meta = meta.clone();
        let transcript = match Portion::of(&session, &meta.checkpoint_id, transcripts) {
            Some(Ok(portion)) => match portion.redacted(redactor) {
                Ok(bytes) => {
                    portion.describe(&mut root_meta, bytes.len());
                    Some(bytes)
                }
                Err(reason) => {
                    root_meta.extra.insert("transcript_skipped".into(), Value::from(reason));
                    None
                }
            },
            Some(Err(reason)) => {
                root_meta.extra.insert("transcript_skipped".into(), Value::from(reason.to_string()));
                None
            }
            None => None,
        };
        let session = redacted_session(redactor, session);
        let blobs = Blobs::write(objects, &root_meta, &session, transcript.as_deref())?;
        Ok(Staged {
            checkpoint_id: meta.checkpoint_id.clone(),
            commit: meta.commit.clone(),
            session_id: meta.session_id.clone(),
            tree: checkpoint_tree(objects, &blobs)?,
            fresh_index: blobs.fresh_index,
        })
    }

    /// One commit per staged checkpoint, in order, on top of the branch's
    /// tip, and the ref moved to the last of them by one compare-and-swap.
    pub fn commit(&self, repo: &Repo, staged: &[Staged]) -> Result<()> {
        if staged.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = staged.iter().map(|s| s.checkpoint_id.as_str()).collect();
        let reflog = match ids.as_slice() {
            [one] => format!("entire: checkpoint {one}"),
            many => format!("entire: checkpoints {}", many.join(" ")),
        };
        let objects = &self.objects;
        let mut attempt = 0;
        loop {
            let tip = repo.resolve_ref(CHECKPOINTS_REF);
            let mut parent = tip.clone();
            for checkpoint in staged {
                let tree = root_tree(objects, parent.as_deref(), checkpoint)?;
                let message = format!(
                    "Checkpoint: {}\n\nEntire-Session: {}\nEntire-Strategy: manual-commit\n",
                    checkpoint.checkpoint_id, checkpoint.session_id
                );
                parent = Some(objects.commit(&tree, parent.as_deref().as_slice(), &message)?);
            }
            let new = parent.expect("at least one commit");
            match objects.update_ref(CHECKPOINTS_REF, &new, tip.as_deref(), &reflog) {
                Ok(()) => return Ok(()),
                Err(err) if attempt + 1 >= MAX_ATTEMPTS => {
                    return Err(
                        err.context(format_args!("moving {CHECKPOINTS_REF} after {MAX_ATTEMPTS} tries"))
                    );
                }
                // Another writer moved the tip (or holds its lock): rebuild on top.
                Err(_) => backoff(attempt),
            }
            attempt += 1;
        }
    }
}

/// Full jitter, doubling up to 64 ms: colliding writers spread out fast.
fn backoff(attempt: u32) {
    let ceiling_us = 2_000u64 << attempt.min(5);
    let jitter = random_bytes::<2>().map_or(u16::MAX / 2, u16::from_le_bytes);
    std::thread::sleep(Duration::from_micros(ceiling_us * u64::from(jitter) / u64::from(u16::MAX)));
}

/// The session record as the branch holds it: its argv, first prompt and
/// free-text fields of unknown keys redacted; IDs, paths and times as
/// they are (other features key on them); no list of checkpoints (the
/// branch holds them, one commit each: a copy of the list in each would
/// make a session's checkpoints cost the square of their number).
fn redacted_session(redactor: &Redactor, session: SessionRecord) -> SessionRecord {
    let mut out = session;
    out.checkpoints = Vec::new();
    out.command = out.command.as_deref().map(|argv| redactor.argv(argv));
    if let Some(prompt) = out.first_prompt.as_mut()
        && let Cow::Owned(redacted) = redactor.text(prompt)
    {
        *prompt = redacted;
    }
    for value in out.extra.values_mut() {
        redact_strings(redactor, value);
    }
    out
}

fn redact_strings(redactor: &Redactor, value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(redacted) = redactor.text(text) {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(redactor, v)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_strings(redactor, v)),
        _ => {}
    }
}

/// The checkpoint's blobs.
struct Blobs {
    root: String,
    session: String,
    prompt: Option<String>,
    transcript: Option<String>,
    /// The commit index file when this checkpoint is the commit's first.
    fresh_index: String,
}

impl Blobs {
    fn write(
        objects: &Objects,
        root: &Metadata,
        session: &SessionRecord,
        transcript: Option<&[u8]>,
    ) -> Result<Blobs> {
        let prompt = session.first_prompt.as_deref().filter(|p| !p.is_empty());
        Ok(Blobs {
            root: objects.blob(&pretty(root)?)?,
            session: objects.blob(&pretty(session)?)?,
            fresh_index: objects.blob(format!("{}\n", root.checkpoint_id).as_bytes())?,
            prompt: prompt.map(|p| objects.blob(p.as_bytes())).transpose()?,
            transcript: transcript
                .map(|bytes| objects.blob(bytes).context("copying the transcript"))
                .transpose()?,
        })
    }
}

fn pretty(value: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut json = serde_json::to_vec_pretty(value)?;
    json.push(b'\n');
    Ok(json)
}

/// `<id[2:]>/`: the root metadata and slot `0/`.
fn checkpoint_tree(objects: &Objects, blobs: &Blobs) -> Result<String> {
    let mut slot = Tree::from([(b"metadata.json".to_vec(), Entry::blob(&blobs.session))]);
    if let Some(prompt) = &blobs.prompt {
        slot.insert(b"prompt.txt".to_vec(), Entry::blob(prompt));
    }
    if let Some(transcript) = &blobs.transcript {
        slot.insert(TRANSCRIPT_FILE.as_bytes().to_vec(), Entry::blob(transcript));
    }
    let slot = objects.write_tree(slot)?;
    objects.write_tree(Tree::from([
        (b"metadata.json".to_vec(), Entry::blob(&blobs.root)),
        (SLOT.as_bytes().to_vec(), Entry::tree(&slot)),
    ]))
}

/// The tip's root tree with this checkpoint and its index line added.
/// Writing an ID that is already there replaces its directory.
fn root_tree(objects: &Objects, tip: Option<&str>, staged: &Staged) -> Result<String> {
    let (id_shard, id_rest) = staged.checkpoint_id.as_str().split_at(2);
    let (sha_shard, sha_rest) = staged.commit.as_str().split_at(2);
    let index = index_blob(objects, tip, staged)?;
    let put = |dir: &str, changes: &[(&str, Entry)]| -> Result<String> {
        let mut tree = match tip {
            Some(tip) => objects.tree_at(tip, dir)?,
            None => Tree::new(),
        };
        tree.extend(changes.iter().map(|(name, entry)| (name.as_bytes().to_vec(), entry.clone())));
        objects.write_tree(tree)
    };
    let shard = put(id_shard, &[(id_rest, Entry::tree(&staged.tree))])?;
    let commit_shard = put(&format!("commits/{sha_shard}"), &[(sha_rest, Entry::blob(&index))])?;
    let commits = put("commits", &[(sha_shard, Entry::tree(&commit_shard))])?;
    put("", &[(id_shard, Entry::tree(&shard)), ("commits", Entry::tree(&commits))])
}

/// The commit's index file with this checkpoint's ID: the fresh one, the
/// existing one when it already lists the ID, else the existing lines plus
/// the ID.
fn index_blob(objects: &Objects, tip: Option<&str>, staged: &Staged) -> Result<String> {
    let fresh = || Ok(staged.fresh_index.clone());
    let Some(tip) = tip else { return fresh() };
    let id = staged.checkpoint_id.as_str();
    let existing = objects.at_path(tip, &index_of(&staged.commit))?;
    let Some(existing) = existing.filter(|o| o.kind == "blob") else { return fresh() };
    let text = String::from_utf8_lossy(&existing.data);
    if text.lines().any(|line| line == id) {
        return Ok(existing.oid);
    }
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    lines.push(id);
    objects.blob(format!("{}\n", lines.join("\n")).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ids_and_commits_that_would_be_unsafe_paths_or_trailers() {
        let good = serde_json::json!({
            "checkpoint_id": "0123456789ab", "commit": "a".repeat(40), "session_id": "s1", "agent": null,
            "resolved_by": "env", "resolution": {"method": "env", "depth": null, "env_rejected": null},
            "created_at": "2025-01-02T03:04:05Z", "branch": null, "files_changed": [], "agent_session_id": null,
        });
        assert!(serde_json::from_value::<Metadata>(good.clone()).is_ok());
        for (key, value) in
            [("checkpoint_id", "../../etc/xx"), ("session_id", "s\nEntire-Session: evil"), ("commit", "HEAD")]
        {
            let mut bad = good.clone();
            bad[key] = value.into();
            assert!(serde_json::from_value::<Metadata>(bad).is_err(), "{key}: {value:?}");
        }
    }
}
