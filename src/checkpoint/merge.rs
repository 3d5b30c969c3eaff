//! Joining two histories of the branch, for pre-push when another clone
//! pushed checkpoints first. Checkpoints are only ever added, so the merge
//! is a union of the two trees and needs no merge base.

use super::objects::{CatFile, Entry, MkTree, Tree, commit_tree, hash_stream};
use super::spec;
use crate::error::Result;
use crate::git::Repo;

/// A merge commit (parents `ours`, `theirs`) whose tree holds every path of
/// both. Where both sides hold different files at one path, `theirs` wins,
/// except in the commit index (`commits/`), whose files are unions of
/// their lines. The ref is not moved.
pub fn merge(repo: &Repo, ours: &str, theirs: &str) -> Result<String> {
    let mut merger = Merger { repo, objects: CatFile::spawn(repo)?, trees: MkTree::spawn(repo)? };
    let our_tree = merger.objects.tree(&spec(ours, ""))?;
    let their_tree = merger.objects.tree(&spec(theirs, ""))?;
    let tree = merger.union(our_tree, their_tree, "")?;
    commit_tree(repo, &tree, &[ours, theirs], "Merge remote checkpoints")
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
                Some(_) => their,
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
