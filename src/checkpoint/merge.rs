//! Joining two histories of the branch: pre-push when another clone pushed
//! checkpoints first, and readers folding in what `git fetch` brought.
//! Checkpoints are only ever added, so the merge is a union of the two
//! trees and needs no merge base.
//!
//! A remote is a peer, not an authority: whoever can push the branch there
//! could otherwise rewrite the checkpoints of everyone who fetches it. So
//! where both sides hold different content at one path, ours stays (the
//! first writer wins, and `doctor` reports the difference, [`conflicts`]);
//! at the root, only checkpoint shards and the commit index come in.

use super::objects::{CatFile, Entry, MkTree, Tree, commit_tree, hash_stream};
use super::spec;
use crate::error::Result;
use crate::git::{CHECKPOINTS_REF, Repo};

/// A merge commit (parents `ours`, `theirs`) whose tree is [`union`]. The
/// ref is not moved.
pub fn merge(repo: &Repo, ours: &str, theirs: &str) -> Result<String> {
    let tree = union(repo, ours, theirs)?;
    commit_tree(repo, &tree.merged, &[ours, theirs], "Merge remote checkpoints")
}

/// The union of two commits' trees, and `theirs`'s own tree.
pub struct Union {
    pub merged: String,
    pub theirs: String,
}

/// Every path of both trees; where both sides hold different files at one
/// path, `ours` wins, except in the commit index (`commits/`), whose
/// files are unions of their lines. Of `theirs`'s root, only checkpoint
/// shards (two hex digits) and `commits`, as trees, are taken.
pub fn union(repo: &Repo, ours: &str, theirs: &str) -> Result<Union> {
    let mut merger = Merger { repo, objects: CatFile::spawn(repo)?, trees: MkTree::spawn(repo)? };
    let our_tree = merger.objects.tree(&spec(ours, ""))?;
    let their_root = merger.objects.get(&format!("{theirs}^{{tree}}"))?.map(|o| o.oid).unwrap_or_default();
    let their_tree = merger.objects.tree(&spec(theirs, ""))?;
    let merged = merger.union(our_tree, their_tree, "")?;
    Ok(Union { merged, theirs: their_root })
}

/// The paths where a fetched remote branch holds other content than the
/// local one (a checkpoint rewritten there, or a different one under the
/// same ID): each `<remote ref> <path>`. Merges keep ours; this says so.
pub fn conflicts(repo: &Repo) -> Result<Vec<String>> {
    let Some(ours) = repo.resolve_ref(CHECKPOINTS_REF) else { return Ok(Vec::new()) };
    let refs =
        repo.git_output(["for-each-ref", "--format=%(refname)", "refs/remotes/*/entire/checkpoints/v1"])?;
    let mut found = Vec::new();
    for theirs in String::from_utf8_lossy(&refs).lines().filter(|l| !l.is_empty()) {
        let out = repo.git_output([
            "diff-tree",
            "-r",
            "--no-renames",
            "--name-status",
            "--diff-filter=MT",
            &ours,
            theirs,
        ])?;
        for line in String::from_utf8_lossy(&out).lines() {
            let Some((_, path)) = line.split_once('\t') else { continue };
            if !path.starts_with("commits/") {
                found.push(format!("{theirs} {path}"));
            }
        }
    }
    Ok(found)
}

struct Merger<'a> {
    repo: &'a Repo,
    objects: CatFile,
    trees: MkTree,
}

impl Merger<'_> {
    /// The union of the trees at `dir` (`""`: the root).
    fn union(&mut self, ours: Tree, theirs: Tree, dir: &str) -> Result<String> {
        let in_index = dir == "commits" || dir.starts_with("commits/");
        let mut merged = ours;
        for (name, their) in theirs {
            if dir.is_empty() && !(their.is_tree() && belongs_at_root(&name)) {
                continue;
            }
            let entry = match merged.remove(&name) {
                None => their,
                Some(our) if our == their => our,
                Some(our) if our.is_tree() && their.is_tree() => {
                    let name = String::from_utf8_lossy(&name);
                    let child = if dir.is_empty() { name.into_owned() } else { format!("{dir}/{name}") };
                    let (a, b) = (self.objects.tree(&our.oid)?, self.objects.tree(&their.oid)?);
                    Entry::tree(&self.union(a, b, &child)?)
                }
                Some(our) if in_index && !our.is_tree() && !their.is_tree() => {
                    Entry::blob(&self.union_lines(&our.oid, &their.oid)?)
                }
                Some(our) => our,
            };
            merged.insert(name, entry);
        }
        self.trees.write(&merged)
    }

    /// Their lines, then ours that they lack.
    fn union_lines(&mut self, ours: &str, theirs: &str) -> Result<String> {
        let read = |objects: &mut CatFile, oid| -> Result<String> {
            Ok(objects.get(oid)?.map(|o| String::from_utf8_lossy(&o.data).into_owned()).unwrap_or_default())
        };
        let (ours, theirs) = (read(&mut self.objects, ours)?, read(&mut self.objects, theirs)?);
        let mut lines: Vec<&str> = Vec::new();
        for line in theirs.lines().chain(ours.lines()) {
            if !line.is_empty() && !lines.contains(&line) {
                lines.push(line);
            }
        }
        hash_stream(self.repo, &mut format!("{}\n", lines.join("\n")).as_bytes())
    }
}

/// What the branch's root holds: `<id[0:2]>` shards and `commits`.
fn belongs_at_root(name: &[u8]) -> bool {
    name == b"commits" || (name.len() == 2 && name.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}
