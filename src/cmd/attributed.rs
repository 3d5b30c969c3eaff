//! Which sessions made which commits, for `explain`, `blame` and `stats`:
//! the checkpoints a commit's trailers name and how each relates to the
//! commit. For many commits at once the checkpoint IDs come from one `git
//! log` (the `Entire-Checkpoint` lines of each message) and the commit
//! index, and each checkpoint is read once through one `cat-file` process.

use std::collections::HashMap;

use serde_json::Value;

use crate::agents::usage::{self, Usage};
use crate::checkpoint::{Metadata, Reader, SLOT, transcript};
use crate::error::{Result, warn};
use crate::git::trailers::{self, CHECKPOINT_KEY};
use crate::git::{CommitId, Repo};
use crate::session::{CheckpointId, Store};

/// Tokens and models of the turns up to a checkpoint's commit: from the
/// transcript as far as the checkpoint holds it (its portion and those
/// before it). Unknown when it has none.
pub fn checkpoint_usage(reader: &mut Reader, id: &CheckpointId) -> Usage {
    match transcript::reassemble(reader, id) {
        Ok(transcript) => usage::read(&transcript),
        Err(err) => {
            warn(err);
            Usage::default()
        }
    }
}

/// Reads checkpoints and first prompts, each once.
pub struct Owners<'a> {
    repo: &'a Repo,
    reader: Option<Reader>,
    store: Store,
    checkpoints: HashMap<CheckpointId, Option<Metadata>>,
    prompts: HashMap<CheckpointId, Option<String>>,
}

impl Owners<'_> {
    pub fn open(repo: &Repo) -> Result<Owners<'_>> {
        crate::checkpoint::pending::complete(repo);
        if let Err(err) = crate::checkpoint::remote::adopt_remote(repo) {
            warn(format_args!("reading the remote checkpoints: {err:#}"));
        }
        Ok(Owners {
            repo,
            reader: Reader::open(repo)?,
            store: Store::new(repo.store_dir()),
            checkpoints: HashMap::new(),
            prompts: HashMap::new(),
        })
    }

    /// The checkpoint that makes `sha` a session's work: the first its
    /// trailers name, then those the commit index lists, whose relation to
    /// it is written or rewritten (as `explain` says); an unrelated one (a
    /// trailer copied onto other work) does not count.
    pub fn owner(&mut self, sha: &CommitId, named: &[CheckpointId]) -> Option<Metadata> {
        let reader = self.reader.as_mut()?;
        let mut files = None;
        let mut ids = named.to_vec();
        match reader.ids_for_commit(sha) {
            Ok(indexed) => ids.extend(indexed.into_iter().filter(|id| !named.contains(id))),
            Err(err) => warn(err),
        }
        for id in ids {
            let meta = self.checkpoints.entry(id.clone()).or_insert_with(|| match reader.metadata(&id) {
                Ok(meta) => meta,
                Err(err) => {
                    warn(err); // one unreadable checkpoint hides only itself
                    None
                }
            });
            let Some(meta) = meta.as_ref() else { continue };
            // Only a rewritten or copied trailer costs a look at the commit.
            let relation = if meta.commit == *sha {
                Relation::Written
            } else {
                let files = files.get_or_insert_with(|| {
                    changed_files(self.repo, sha).unwrap_or_else(|err| {
                        warn(err);
                        Vec::new()
                    })
                });
                Relation::of(meta, sha, files)
            };
            if relation != Relation::Unrelated {
                return Some(meta.clone());
            }
        }
        None
    }

    /// A checkpoint's tokens and models (`checkpoint_usage`).
    pub fn usage(&mut self, meta: &Metadata) -> Usage {
        self.reader.as_mut().map(|r| checkpoint_usage(r, &meta.checkpoint_id)).unwrap_or_default()
    }

    /// The session's first prompt: from its record here, else the
    /// checkpoint's `prompt.txt`.
    pub fn prompt(&mut self, meta: &Metadata) -> Option<String> {
        let id = &meta.checkpoint_id;
        if let Some(prompt) = self.prompts.get(id) {
            return prompt.clone();
        }
        let recorded = self.store.load(&meta.session_id).ok().flatten().and_then(|r| r.first_prompt);
        let prompt = recorded.or_else(|| {
            let bytes = self.reader.as_mut()?.file(id, &format!("{SLOT}/prompt.txt")).ok()??;
            Some(String::from_utf8_lossy(&bytes).split_whitespace().collect::<Vec<_>>().join(" "))
        });
        self.prompts.insert(id.clone(), prompt.clone());
        prompt
    }
}

/// How a checkpoint relates to the commit it is shown for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Relation {
    /// Written for this commit.
    Written,
    /// Written for an earlier version of it: an amend, a rebase, a
    /// cherry-pick or a squash that changes some of the same files.
    Rewritten,
    /// The commit touches none of the checkpoint's files: its trailer was
    /// copied here. Never counted as this commit's session.
    Unrelated,
}

impl Relation {
    pub(super) fn of(meta: &Metadata, commit: &CommitId, files: &[String]) -> Relation {
        if meta.commit == *commit {
            return Relation::Written;
        }
        let overlaps = if meta.files_changed.is_empty() {
            files.is_empty() // an empty commit, rewritten as one
        } else {
            meta.files_changed.iter().any(|f| files.contains(f))
        };
        if overlaps { Relation::Rewritten } else { Relation::Unrelated }
    }

    fn as_str(self) -> &'static str {
        match self {
            Relation::Written => "written",
            Relation::Rewritten => "rewritten",
            Relation::Unrelated => "unrelated",
        }
    }

    /// The checkpoint's metadata with `"relation"` added.
    pub(super) fn tag(self, meta: &Metadata) -> Value {
        let mut value = serde_json::to_value(meta).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut value {
            fields.insert("relation".into(), Value::from(self.as_str()));
        }
        value
    }

    /// What the text says when the checkpoint was not written for this
    /// commit.
    pub(super) fn describe(self, meta: &Metadata) -> Option<String> {
        let original = meta.commit.short(12);
        match self {
            Relation::Written => None,
            Relation::Rewritten => Some(format!(
                "rewritten: written for {original}, which this commit rewrites (amend, rebase, squash)"
            )),
            Relation::Unrelated => Some(format!(
                "unrelated: written for {original}; this commit touches none of its files, so its trailer was \
                 copied here and the session is not this commit's"
            )),
        }
    }
}

/// The paths a commit changes (against its first parent), as named.
pub(super) fn changed_files(repo: &Repo, commit: &CommitId) -> Result<Vec<String>> {
    let out = repo.git_output([
        "diff-tree",
        "-r",
        "-z",
        "-m",
        "--first-parent",
        "--root",
        "--no-commit-id",
        "--name-only",
        "--no-renames",
        commit.as_str(),
        "--",
    ])?;
    Ok(String::from_utf8_lossy(&out).split('\0').filter(|f| !f.is_empty()).map(str::to_owned).collect())
}

/// The checkpoints a message names on trailer lines, in any paragraph (a
/// squash keeps each commit's), each once.
pub(super) fn named_checkpoints(message: &str) -> Vec<CheckpointId> {
    let mut named: Vec<CheckpointId> = Vec::new();
    for id in
        trailers::every_value(message, CHECKPOINT_KEY, None).iter().filter_map(|v| CheckpointId::parse(v))
    {
        if !named.contains(&id) {
            named.push(id);
        }
    }
    named
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta(commit: &str, files: &[&str]) -> Metadata {
        serde_json::from_value(json!({
            "checkpoint_id": "0123456789ab", "commit": commit, "session_id": "s1", "agent": null,
            "resolved_by": "env", "resolution": {"method": "env", "depth": null, "env_rejected": null},
            "created_at": "2025-01-02T03:04:05Z", "branch": null, "files_changed": files, "agent_session_id": null,
        }))
        .unwrap()
    }

    #[test]
    fn relation_by_commit_then_by_files() {
        let (a, b) = (CommitId::parse(&"a".repeat(40)).unwrap(), CommitId::parse(&"b".repeat(40)).unwrap());
        let files = ["x".to_owned(), "y".to_owned()];
        assert_eq!(Relation::of(&meta(a.as_str(), &["z"]), &a, &files), Relation::Written);
        assert_eq!(Relation::of(&meta(a.as_str(), &["y"]), &b, &files), Relation::Rewritten);
        assert_eq!(Relation::of(&meta(a.as_str(), &["z"]), &b, &files), Relation::Unrelated);
        assert_eq!(Relation::of(&meta(a.as_str(), &[]), &b, &[]), Relation::Rewritten, "empty, amended");
        assert_eq!(Relation::of(&meta(a.as_str(), &[]), &b, &files), Relation::Unrelated);
        assert_eq!(Relation::Unrelated.tag(&meta(a.as_str(), &[]))["relation"], "unrelated");
    }
}
