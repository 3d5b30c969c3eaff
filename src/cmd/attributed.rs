//! The sessions behind many commits at once, for `blame` and `stats`: the
//! checkpoint IDs come from one `git log` (the `Entire-Checkpoint` lines
//! of each message) and the commit index, and each checkpoint is read once
//! through one `cat-file` process.

use std::collections::HashMap;

use super::explain::{Relation, changed_files};
use crate::agents::usage::{self, Usage};
use crate::checkpoint::{Metadata, Reader, SLOT, transcript};
use crate::error::{Result, warn};
use crate::git::{CommitId, Repo};
use crate::session::{CheckpointId, Store};

pub(super) use super::explain::named_checkpoints;

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
