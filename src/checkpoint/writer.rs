//! Writes one checkpoint as one commit on the branch, with plumbing only:
//! the user's index, worktree and HEAD are never read or written. The ref
//! moves by compare-and-swap; a writer that loses the race re-reads the tip
//! and rebuilds on top of it, so concurrent writers lose nothing.
//!
//! Git processes per write: `hash-object` (all blobs), `mktree --batch`
//! (all trees), `cat-file --batch` (the tip's trees; none before the first
//! checkpoint), `commit-tree`, `update-ref`: five. A lost race costs one
//! more `commit-tree` and `update-ref`; a transcript over the cap one more
//! `hash-object`.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::id::random_bytes;
use super::objects::{CatFile, Entry, MkTree, Tree, commit_tree, hash_files, hash_stream, update_ref};
use super::transcript_source::{SkipReason, open_transcript};
use super::{Metadata, SLOT, TRANSCRIPT_FILE, index_of, spec};
use crate::error::{Context, Result};
use crate::git::{CHECKPOINTS_REF, Repo};
use crate::session::SessionRecord;
use crate::settings::TranscriptRules;

/// Enough for dozens of simultaneous writers; a writer that still loses
/// after this many tries is facing something other than a race.
const MAX_ATTEMPTS: u32 = 40;

/// Writes one checkpoint (root `metadata.json`, and in slot `0/` the
/// session record as `metadata.json`, `prompt.txt` when the first prompt is
/// known, and `full.jsonl`, a copy of the transcript when it is readable,
/// cut at the rules' cap, from where they allow) as one commit on the branch.
pub fn write(
    repo: &Repo,
    meta: &Metadata,
    session: &SessionRecord,
    transcripts: &TranscriptRules,
) -> Result<()> {
    let mut root_meta = meta.clone();
    let transcript = Transcript::open(session, transcripts);
    if let Transcript::Skipped(reason) = &transcript {
        root_meta.extra.insert("transcript_skipped".into(), Value::from(reason.to_string()));
    }
    if let Transcript::Stream { keep, original, .. } = &transcript
        && keep < original
    {
        root_meta.extra.insert("transcript_truncated".into(), Value::Bool(true));
        root_meta.extra.insert("transcript_original_bytes".into(), Value::from(*original));
    }
    // The batch processes start first: their start-up overlaps the hashing.
    let objects = match repo.resolve_ref(CHECKPOINTS_REF) {
        Some(_) => Some(CatFile::spawn(repo)?),
        None => None,
    };
    let mut writer = Writer { repo, meta, trees: MkTree::spawn(repo)?, objects };
    let blobs = Blobs::write(repo, &root_meta, session, transcript)?;
    let checkpoint = writer.checkpoint_tree(&blobs)?;
    let message = format!(
        "Checkpoint: {}\n\nEntire-Session: {}\nEntire-Strategy: manual-commit",
        meta.checkpoint_id, meta.session_id
    );
    let reflog = format!("entire: checkpoint {}", meta.checkpoint_id);
    let mut attempt = 0;
    loop {
        let tip = repo.resolve_ref(CHECKPOINTS_REF);
        let tree = writer.root_tree(tip.as_deref(), &checkpoint, &blobs.fresh_index)?;
        let commit = commit_tree(repo, &tree, tip.as_deref().as_slice(), &message)?;
        match update_ref(repo, &commit, tip.as_deref(), &reflog) {
            Ok(()) => return Ok(()),
            Err(err) if attempt + 1 >= MAX_ATTEMPTS => {
                return Err(err.context(format_args!("moving {CHECKPOINTS_REF} after {MAX_ATTEMPTS} tries")));
            }
            // Another writer moved the tip (or holds its lock): rebuild on top.
            Err(_) => backoff(attempt),
        }
        attempt += 1;
    }
}

/// Full jitter, doubling up to 64 ms: colliding writers spread out fast.
fn backoff(attempt: u32) {
    let ceiling_us = 2_000u64 << attempt.min(5);
    let jitter = random_bytes::<2>().map_or(u16::MAX / 2, u16::from_le_bytes);
    std::thread::sleep(Duration::from_micros(ceiling_us * u64::from(jitter) / u64::from(u16::MAX)));
}

enum Transcript {
    Absent,
    /// Named, but not copied: see `transcript_source`.
    Skipped(SkipReason),
    /// Under the cap: git reads the file itself.
    Whole(PathBuf),
    /// Over the cap (or a path git cannot be handed): its first `keep`
    /// bytes are streamed to git.
    Stream {
        file: File,
        keep: u64,
        original: u64,
    },
}

impl Transcript {
    fn open(session: &SessionRecord, rules: &TranscriptRules) -> Transcript {
        let Some(path) = session.transcript_path.as_deref().filter(|p| !p.is_empty()) else {
            return Transcript::Absent;
        };
        let file = match open_transcript(Path::new(path), session.agent.as_deref(), rules) {
            Ok(file) => file,
            Err(reason) => return Transcript::Skipped(reason),
        };
        let cap = rules.max_bytes;
        let Ok(len) = file.metadata().map(|m| m.len()) else { return Transcript::Absent };
        if len <= cap
            && let Ok(absolute) = std::fs::canonicalize(path)
            && !absolute.as_os_str().as_encoded_bytes().contains(&b'\n')
        {
            return Transcript::Whole(absolute);
        }
        let keep = if len > cap { cut_point(&file, cap) } else { len };
        Transcript::Stream { file, keep, original: len }
    }
}

/// Where to cut a transcript to at most `cap` bytes: after the last full
/// line that fits, or at `cap` when no line ends before it.
fn cut_point(file: &File, cap: u64) -> u64 {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0; CHUNK as usize];
    let mut end = cap;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        if file.read_exact_at(chunk, start).is_err() {
            break;
        }
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return start + i as u64 + 1;
        }
        end = start;
    }
    cap
}

/// The checkpoint's blobs, written before any look at the tip: they do not
/// depend on it, so a retry reuses them.
struct Blobs {
    root: String,
    session: String,
    prompt: Option<String>,
    transcript: Option<String>,
    /// The commit index file when this checkpoint is the commit's first.
    fresh_index: String,
}

impl Blobs {
    fn write(repo: &Repo, root: &Metadata, session: &SessionRecord, transcript: Transcript) -> Result<Blobs> {
        let tmp = tempfile::Builder::new()
            .prefix("entire-checkpoint-")
            .tempdir_in(&repo.common_dir)
            .context("creating a temp dir")?;
        let put = |name: &str, bytes: &[u8]| -> Result<PathBuf> {
            let path = tmp.path().join(name);
            std::fs::write(&path, bytes).context(format_args!("writing {}", path.display()))?;
            Ok(path)
        };
        let mut paths = vec![
            put("root.json", &pretty(root)?)?,
            put("session.json", &pretty(session)?)?,
            put("index", format!("{}\n", root.checkpoint_id).as_bytes())?,
        ];
        let prompt = session.first_prompt.as_deref().filter(|p| !p.is_empty());
        if let Some(prompt) = prompt {
            paths.push(put("prompt.txt", prompt.as_bytes())?);
        }
        let streamed = match transcript {
            Transcript::Absent | Transcript::Skipped(_) => None,
            Transcript::Whole(path) => {
                paths.push(path);
                None
            }
            Transcript::Stream { file, keep, .. } => Some(hash_stream(repo, &mut file.take(keep))?),
        };
        let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let mut oids = hash_files(repo, &path_refs)?.into_iter();
        let mut next = || oids.next().expect("one oid per path");
        Ok(Blobs {
            root: next(),
            session: next(),
            fresh_index: next(),
            prompt: prompt.map(|_| next()),
            transcript: streamed.or_else(|| oids.next()),
        })
    }
}

fn pretty(value: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut json = serde_json::to_vec_pretty(value)?;
    json.push(b'\n');
    Ok(json)
}

struct Writer<'a> {
    repo: &'a Repo,
    meta: &'a Metadata,
    trees: MkTree,
    /// None until there is a tip to read.
    objects: Option<CatFile>,
}

impl Writer<'_> {
    /// `<id[2:]>/`: the root metadata and slot `0/`.
    fn checkpoint_tree(&mut self, blobs: &Blobs) -> Result<String> {
        let mut slot = Tree::from([(b"metadata.json".to_vec(), Entry::blob(&blobs.session))]);
        if let Some(prompt) = &blobs.prompt {
            slot.insert(b"prompt.txt".to_vec(), Entry::blob(prompt));
        }
        if let Some(transcript) = &blobs.transcript {
            slot.insert(TRANSCRIPT_FILE.as_bytes().to_vec(), Entry::blob(transcript));
        }
        let slot = self.trees.write(&slot)?;
        self.trees.write(&Tree::from([
            (b"metadata.json".to_vec(), Entry::blob(&blobs.root)),
            (SLOT.as_bytes().to_vec(), Entry::tree(&slot)),
        ]))
    }

    /// The tip's root tree with this checkpoint and its index line added.
    /// Writing an ID that is already there replaces its directory.
    fn root_tree(&mut self, tip: Option<&str>, checkpoint: &str, fresh_index: &str) -> Result<String> {
        let (id_shard, id_rest) = self.meta.checkpoint_id.as_str().split_at(2);
        let (sha_shard, sha_rest) = self.meta.commit.as_str().split_at(2);
        let index = self.index_blob(tip, fresh_index)?;
        let shard = self.put(tip, id_shard, [(id_rest, Entry::tree(checkpoint))])?;
        let commit_shard =
            self.put(tip, &format!("commits/{sha_shard}"), [(sha_rest, Entry::blob(&index))])?;
        let commits = self.put(tip, "commits", [(sha_shard, Entry::tree(&commit_shard))])?;
        self.put(tip, "", [(id_shard, Entry::tree(&shard)), ("commits", Entry::tree(&commits))])
    }

    /// The tip's tree at `dir` (empty when absent) with `changes` applied.
    fn put<const N: usize>(
        &mut self,
        tip: Option<&str>,
        dir: &str,
        changes: [(&str, Entry); N],
    ) -> Result<String> {
        let mut tree = match tip {
            Some(tip) => self.objects()?.tree(&spec(tip, dir))?,
            None => Tree::new(),
        };
        tree.extend(changes.map(|(name, entry)| (name.as_bytes().to_vec(), entry)));
        self.trees.write(&tree)
    }

    /// The commit's index file with this checkpoint's ID: the fresh one,
    /// the existing one when it already lists the ID, else the existing
    /// lines plus the ID.
    fn index_blob(&mut self, tip: Option<&str>, fresh: &str) -> Result<String> {
        let Some(tip) = tip else { return Ok(fresh.to_owned()) };
        let id = self.meta.checkpoint_id.as_str();
        let path = spec(tip, &index_of(&self.meta.commit));
        let existing = self.objects()?.get(&path)?;
        let Some(existing) = existing.filter(|o| o.kind == "blob") else { return Ok(fresh.to_owned()) };
        let text = String::from_utf8_lossy(&existing.data);
        if text.lines().any(|line| line == id) {
            return Ok(existing.oid);
        }
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        lines.push(id);
        hash_stream(self.repo, &mut format!("{}\n", lines.join("\n")).as_bytes())
    }

    fn objects(&mut self) -> Result<&mut CatFile> {
        if self.objects.is_none() {
            self.objects = Some(CatFile::spawn(self.repo)?);
        }
        Ok(self.objects.as_mut().expect("just started"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut tmp, bytes).unwrap();
        let file = File::open(tmp.path()).unwrap();
        (tmp, file)
    }

    #[test]
    fn cuts_after_the_last_line_that_fits() {
        let (_tmp, file) = file_with(b"one\ntwo\nthree\n");
        assert_eq!(cut_point(&file, 10), 8); // "one\ntwo\n"
        assert_eq!(cut_point(&file, 8), 8);
        assert_eq!(cut_point(&file, 7), 4);
    }

    #[test]
    fn cuts_at_the_cap_when_no_line_ends_before_it() {
        let (_tmp, file) = file_with(&[b'x'; 200_000]);
        assert_eq!(cut_point(&file, 150_000), 150_000);
        assert_eq!(cut_point(&file, 0), 0);
    }

    #[test]
    fn finds_a_newline_several_chunks_back() {
        let mut bytes = vec![b'x'; 300_000];
        bytes[10] = b'\n';
        let (_tmp, file) = file_with(&bytes);
        assert_eq!(cut_point(&file, 250_000), 11);
    }

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
