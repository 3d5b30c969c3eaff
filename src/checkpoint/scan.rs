//! Secrets in what the branch already holds: checkpoints written before
//! redaction, or before a rule was added. `entire doctor` reports them;
//! removing them means rewriting the branch (docs/privacy.md, "Purging").

use super::objects::CatFile;
use crate::error::Result;
use crate::git::Repo;
use crate::redact::Redactor;

/// One file of the branch's history that holds secrets: its path and the
/// rules that found them, each once.
pub struct Exposed {
    pub path: String,
    pub rules: Vec<String>,
}

/// Every blob reachable from `tip` (its whole history, each blob once),
/// scanned with `redactor`'s rules; in the order git lists them.
pub fn secrets(repo: &Repo, tip: &str, redactor: &Redactor) -> Result<Vec<Exposed>> {
    // `<oid> <path>` for trees and blobs; commits come without a path.
    let listing = repo.git_output(["rev-list", "--objects", tip])?;
    let mut objects = CatFile::spawn(repo)?;
    let mut exposed = Vec::new();
    for line in String::from_utf8_lossy(&listing).lines() {
        let Some((oid, path)) = line.split_once(' ') else { continue };
        let Some(object) = objects.get(oid)? else { continue };
        if object.kind != "blob" {
            continue;
        }
        let mut rules: Vec<String> = Vec::new();
        for finding in redactor.find(&object.data) {
            if !rules.contains(&finding.rule) {
                rules.push(finding.rule);
            }
        }
        if !rules.is_empty() {
            exposed.push(Exposed { path: path.to_owned(), rules });
        }
    }
    Ok(exposed)
}
