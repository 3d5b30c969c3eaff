//! Teammates' checkpoints and the branch's place among refs.
//!
//! The local branch is `refs/entire/checkpoints/v1`, outside `refs/heads`,
//! so that `git push --all` and `push.default=matching` never publish it
//! (consent is entire's to ask, docs/privacy.md) and never fail on it after
//! a teammate pushed. On remotes it is `refs/heads/entire/checkpoints/v1`,
//! the name peers' tools know. `enable` adds a fetch refspec per remote that
//! brings it to `refs/entire/remotes/<remote>/checkpoints/v1`, and readers
//! fold those into the local branch before reading ([`adopt_remote`]):
//! created when missing, fast-forwarded when behind, merged like pre-push
//! merges a diverged remote when both moved. docs/checkpoints.md, "Teams".

use super::{REMOTE_REF, merge, update_ref};
use crate::error::Result;
use crate::git::{CHECKPOINTS_REF, Repo};

/// Where the branch lived before it left `refs/heads`.
pub const LEGACY_REF: &str = "refs/heads/entire/checkpoints/v1";

/// `+refs/heads/entire/checkpoints/v1:refs/entire/remotes/<remote>/checkpoints/v1`.
pub fn refspec(remote: &str) -> String {
    format!("+{REMOTE_REF}:{}", tracking_ref(remote))
}

pub fn tracking_ref(remote: &str) -> String {
    format!("refs/entire/remotes/{remote}/checkpoints/v1")
}

/// The refspec earlier versions added, into `refs/remotes`.
fn legacy_refspec(remote: &str) -> String {
    format!("+{REMOTE_REF}:refs/remotes/{remote}/entire/checkpoints/v1")
}

/// What `ensure_fetch` changed, as (remote, refspec).
#[derive(Default)]
pub struct FetchChanges {
    pub added: Vec<(String, String)>,
    pub replaced: Vec<(String, String)>,
}

/// Gives every remote our fetch refspec (replacing the one earlier versions
/// added) and fetches the branch there once. A fetch that fails only
/// warns: the next `git fetch` brings it.
pub fn ensure_fetch(repo: &Repo) -> Result<FetchChanges> {
    let remotes = String::from_utf8_lossy(&repo.git_output(["remote"])?).into_owned();
    let mut changes = FetchChanges::default();
    for remote in remotes.lines().filter(|r| !r.is_empty()) {
        let key = format!("remote.{remote}.fetch");
        let specs = repo.git_output(["config", "--get-all", &key]).unwrap_or_default();
        let specs = String::from_utf8_lossy(&specs);
        let legacy = legacy_refspec(remote);
        if specs.lines().any(|s| s == legacy) {
            repo.git_output(["config", "--unset-all", "--fixed-value", &key, &legacy])?;
            changes.replaced.push((remote.to_owned(), legacy));
        }
        let spec = refspec(remote);
        if specs.lines().any(|s| s == spec) {
            continue;
        }
        repo.git_output(["config", "--add", &key, &spec])?;
        if let Err(err) =
            repo.git_output(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, &spec])
        {
            crate::error::warn(format_args!("fetching {} from {remote}: {err}", super::BRANCH));
        }
        changes.added.push((remote.to_owned(), spec));
    }
    Ok(changes)
}

/// Removes refspecs that `ensure_fetch` added.
pub fn remove_fetch(repo: &Repo, added: &[(String, String)]) {
    for (remote, spec) in added {
        let key = format!("remote.{remote}.fetch");
        let _ = repo.git_output(["config", "--unset", "--fixed-value", &key, spec]);
    }
}

/// Folds every fetched remote checkpoints branch into the local one, and
/// the branch of an earlier version (`refs/heads/…`) until it is migrated.
/// Never loses a checkpoint: a move is a compare-and-swap, and a failed one
/// leaves the local branch as it was (the next reader tries again).
pub fn adopt_remote(repo: &Repo) -> Result<()> {
    let out = repo.git_output([
        "for-each-ref",
        "--format=%(objectname) %(refname)",
        "refs/entire/remotes/",
        "refs/remotes/*/entire/checkpoints/v1",
        LEGACY_REF,
    ])?;
    for line in String::from_utf8_lossy(&out).lines() {
        let Some((theirs, name)) = line.split_once(' ') else { continue };
        if name.starts_with("refs/entire/remotes/") && !name.ends_with("/checkpoints/v1") {
            continue;
        }
        fold(repo, theirs)?;
    }
    Ok(())
}

/// Moves the local branch to hold `theirs` too.
fn fold(repo: &Repo, theirs: &str) -> Result<()> {
    let ours = repo.resolve_ref(CHECKPOINTS_REF);
    match ours.as_deref() {
        None => update_ref(repo, theirs, None, "entire: checkpoints from a remote"),
        // Nothing of ours to protect.
        Some(ours) if ours == theirs || is_ancestor(repo, theirs, ours) => Ok(()),
        // A fast-forward only when it changes nothing we have: a remote
        // that rewrote one of our checkpoints gets merged, ours kept.
        Some(ours) if is_ancestor(repo, ours, theirs) => {
            let tree = super::merge::union(repo, ours, theirs)?;
            if tree.merged == tree.theirs {
                update_ref(repo, theirs, Some(ours), "entire: fast-forward to remote checkpoints")
            } else {
                let merged = super::objects::commit_tree(
                    repo,
                    &tree.merged,
                    &[ours, theirs],
                    "Merge remote checkpoints",
                )?;
                update_ref(repo, &merged, Some(ours), "entire: merge remote checkpoints")
            }
        }
        Some(ours) => {
            let merged = merge(repo, ours, theirs)?;
            update_ref(repo, &merged, Some(ours), "entire: merge remote checkpoints")
        }
    }
}

/// Moves an earlier version's `refs/heads/entire/checkpoints/v1` into the
/// local branch and deletes it, so that `git push --all` no longer sees
/// it. Returns whether there was one.
pub fn migrate_legacy_branch(repo: &Repo) -> Result<bool> {
    let Some(old) = repo.resolve_ref(LEGACY_REF) else { return Ok(false) };
    fold(repo, &old)?;
    repo.git_output(["update-ref", "-m", "entire: moved to refs/entire", "-d", LEGACY_REF, &old])?;
    Ok(true)
}

fn is_ancestor(repo: &Repo, a: &str, b: &str) -> bool {
    let mut cmd = repo.git();
    cmd.args(["merge-base", "--is-ancestor", a, b]);
    cmd.output().is_ok_and(|o| o.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refspecs_bring_the_remote_branch_into_entires_own_refs() {
        assert_eq!(
            refspec("origin"),
            "+refs/heads/entire/checkpoints/v1:refs/entire/remotes/origin/checkpoints/v1"
        );
        assert_eq!(
            legacy_refspec("up"),
            "+refs/heads/entire/checkpoints/v1:refs/remotes/up/entire/checkpoints/v1"
        );
    }
}
