//! Reading checkpoints from the local branch: one `cat-file --batch`
//! process serves every read of a [`Reader`].

use super::objects::{CatFile, MAX_OBJECT_BYTES};
use super::{Metadata, SLOT, TRANSCRIPT_FILE, dir_of, index_of, spec};
use crate::error::{Error, Result};
use crate::git::{CHECKPOINTS_REF, CommitId, Repo};
use crate::session::CheckpointId;
use crate::settings::{DEFAULT_TRANSCRIPT_MAX_BYTES, Settings};

pub struct Reader {
    tip: String,
    objects: CatFile,
    /// The largest transcript portion read: what this clone's writer may
    /// store (`checkpoints.transcript_max_bytes`), never less than any
    /// other object's cap.
    transcript_cap: usize,
}

impl Reader {
    /// None when the branch does not exist in this repository.
    pub fn open(repo: &Repo) -> Result<Option<Reader>> {
        let Some(tip) = repo.resolve_ref(CHECKPOINTS_REF) else { return Ok(None) };
        let transcript_max =
            Settings::for_repo(repo).map_or(DEFAULT_TRANSCRIPT_MAX_BYTES, |s| s.transcript_max_bytes);
        let transcript_cap = usize::try_from(transcript_max).unwrap_or(usize::MAX).max(MAX_OBJECT_BYTES);
        Ok(Some(Reader { tip, objects: CatFile::spawn(repo)?, transcript_cap }))
    }

    /// The commit the branch pointed at when this reader opened it.
    pub fn tip(&self) -> &str {
        &self.tip
    }

    /// A checkpoint's root metadata; None when it is not on the branch.
    pub fn metadata(&mut self, checkpoint_id: &CheckpointId) -> Result<Option<Metadata>> {
        let Some(bytes) = self.file(checkpoint_id, "metadata.json")? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::internal(format!("checkpoint {checkpoint_id}: unreadable metadata.json: {e}"))
        })
    }

    /// Whether the checkpoint is on the branch.
    pub fn contains(&mut self, checkpoint_id: &CheckpointId) -> Result<bool> {
        Ok(self.file(checkpoint_id, "metadata.json")?.is_some())
    }

    /// A file of a checkpoint, by its path inside the checkpoint's directory
    /// (`metadata.json`, `0/prompt.txt`…). Capped at 16 MiB: not for
    /// transcripts.
    pub fn file(&mut self, checkpoint_id: &CheckpointId, path: &str) -> Result<Option<Vec<u8>>> {
        let object = self.objects.get(&spec(&self.tip, &format!("{}/{path}", dir_of(checkpoint_id))))?;
        Ok(object.filter(|o| o.kind == "blob").map(|o| o.data))
    }

    /// A checkpoint's transcript portion (`0/full.jsonl`), whole.
    pub fn transcript_portion(&mut self, checkpoint_id: &CheckpointId) -> Result<Option<Vec<u8>>> {
        let path = format!("{}/{SLOT}/{TRANSCRIPT_FILE}", dir_of(checkpoint_id));
        let object = self.objects.get_up_to(&spec(&self.tip, &path), self.transcript_cap)?;
        Ok(object.filter(|o| o.kind == "blob").map(|o| o.data))
    }

    /// The names of the files in a checkpoint's session slot `0/`.
    pub fn slot_files(&mut self, checkpoint_id: &CheckpointId) -> Result<Vec<String>> {
        let tree = self.objects.tree(&spec(&self.tip, &format!("{}/{SLOT}", dir_of(checkpoint_id))))?;
        Ok(tree.into_keys().map(|name| String::from_utf8_lossy(&name).into_owned()).collect())
    }

    /// The checkpoints on the branch whose IDs begin with `prefix` (at
    /// least the two characters that name their directory).
    pub fn ids_with_prefix(&mut self, prefix: &str) -> Result<Vec<CheckpointId>> {
        let Some((dir, rest)) = prefix.split_at_checked(2) else { return Ok(Vec::new()) };
        let tree = self.objects.tree(&spec(&self.tip, dir))?;
        Ok(tree
            .into_keys()
            .filter_map(|name| CheckpointId::parse(&format!("{dir}{}", String::from_utf8_lossy(&name))))
            .filter(|id| id.as_str()[2..].starts_with(rest))
            .collect())
    }

    /// The checkpoint IDs the commit index lists for a commit.
    pub fn ids_for_commit(&mut self, commit: &CommitId) -> Result<Vec<CheckpointId>> {
        let Some(index) = self.objects.get(&spec(&self.tip, &index_of(commit)))? else {
            return Ok(Vec::new());
        };
        let text = String::from_utf8_lossy(&index.data);
        Ok(text.lines().filter_map(CheckpointId::parse).collect())
    }

    /// Every checkpoint the index lists for a commit whose metadata names
    /// that commit, in index order: a line of the index alone proves
    /// nothing (whoever can push the branch can add one), and a checkpoint
    /// that cannot be read does not hide the others.
    pub fn for_commit(&mut self, commit: &CommitId) -> Result<Vec<Metadata>> {
        let mut found = Vec::new();
        for checkpoint_id in self.ids_for_commit(commit)? {
            if let Ok(Some(meta)) = self.metadata(&checkpoint_id)
                && meta.commit == *commit
            {
                found.push(meta);
            }
        }
        Ok(found)
    }
}

/// A checkpoint's metadata by ID; None when it (or the branch) is absent.
pub fn read(repo: &Repo, checkpoint_id: &CheckpointId) -> Result<Option<Metadata>> {
    match Reader::open(repo)? {
        Some(mut reader) => reader.metadata(checkpoint_id),
        None => Ok(None),
    }
}

/// Every checkpoint recorded for a commit (full SHA), found through the
/// commit index without scanning the branch.
pub fn for_commit(repo: &Repo, commit: &CommitId) -> Result<Vec<Metadata>> {
    match Reader::open(repo)? {
        Some(mut reader) => reader.for_commit(commit),
        None => Ok(Vec::new()),
    }
}
