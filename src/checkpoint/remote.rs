//! Teammates' checkpoints: `git fetch` brings each remote's
//! `entire/checkpoints/v1` to `refs/remotes/<remote>/entire/checkpoints/v1`
//! (the default refspec `refs/heads/*` already does; `enable` adds one
//! where a remote's refspecs do not cover the branch, as in a
//! `--single-branch` clone), and readers fold those into the local branch
//! before reading ([`adopt_remote`]): created when missing, fast-forwarded
//! when behind, merged like pre-push merges a diverged remote when both
//! moved. docs/checkpoints.md, "Teams".

use super::{merge, update_ref};
use crate::error::Result;
use crate::git::{CHECKPOINTS_REF, Repo};

/// `+refs/heads/entire/checkpoints/v1:refs/remotes/<remote>/entire/checkpoints/v1`.
pub fn refspec(remote: &str) -> String {
    format!("+{CHECKPOINTS_REF}:{}", tracking_ref(remote))
}

pub fn tracking_ref(remote: &str) -> String {
    format!("refs/remotes/{remote}/entire/checkpoints/v1")
}

/// Whether a fetch refspec's source side matches the checkpoints branch.
fn covers(spec: &str) -> bool {
    let spec = spec.trim_start_matches('+');
    if spec.starts_with('^') {
        return false;
    }
    let src = spec.split(':').next().unwrap_or("");
    match src.split_once('*') {
        Some((head, tail)) => {
            CHECKPOINTS_REF.len() >= head.len() + tail.len()
                && CHECKPOINTS_REF.starts_with(head)
                && CHECKPOINTS_REF.ends_with(tail)
        }
        None => src == CHECKPOINTS_REF || src == super::BRANCH,
    }
}

/// Adds our fetch refspec to every remote whose refspecs do not bring the
/// branch, and fetches it there once. Returns (remote, refspec) added.
/// A fetch that fails only warns: the next `git fetch` brings it.
pub fn ensure_fetch(repo: &Repo) -> Result<Vec<(String, String)>> {
    let remotes = String::from_utf8_lossy(&repo.git_output(["remote"])?).into_owned();
    let mut added = Vec::new();
    for remote in remotes.lines().filter(|r| !r.is_empty()) {
        let key = format!("remote.{remote}.fetch");
        let specs = repo.git_output(["config", "--get-all", &key]).unwrap_or_default();
        if String::from_utf8_lossy(&specs).lines().any(covers) {
            continue;
        }
        let spec = refspec(remote);
        repo.git_output(["config", "--add", &key, &spec])?;
        if let Err(err) = repo.git_output(["fetch", "--quiet", "--no-tags", remote, &spec]) {
            crate::error::warn(format_args!("fetching {} from {remote}: {err}", super::BRANCH));
        }
        added.push((remote.to_owned(), spec));
    }
    Ok(added)
}

/// Removes refspecs that `ensure_fetch` added.
pub fn remove_fetch(repo: &Repo, added: &[(String, String)]) {
    for (remote, spec) in added {
        let key = format!("remote.{remote}.fetch");
        let _ = repo.git_output(["config", "--unset", "--fixed-value", &key, spec]);
    }
}

/// Folds every fetched remote checkpoints branch into the local one.
/// Never loses a checkpoint: a move is a compare-and-swap, and a failed one
/// leaves the local branch as it was (the next reader tries again).
pub fn adopt_remote(repo: &Repo) -> Result<()> {
    let out =
        repo.git_output(["for-each-ref", "--format=%(objectname)", "refs/remotes/*/entire/checkpoints/v1"])?;
    for theirs in String::from_utf8_lossy(&out).lines().filter(|l| !l.is_empty()) {
        let ours = repo.resolve_ref(CHECKPOINTS_REF);
        match ours.as_deref() {
            None => update_ref(repo, theirs, None, "entire: checkpoints from a remote")?,
            // Nothing of ours to protect.
            Some(ours) if ours == theirs || is_ancestor(repo, theirs, ours) => {}
            // A fast-forward only when it changes nothing we have: a remote
            // that rewrote one of our checkpoints gets merged, ours kept.
            Some(ours) if is_ancestor(repo, ours, theirs) => {
                let tree = super::merge::union(repo, ours, theirs)?;
                if tree.merged == tree.theirs {
                    update_ref(repo, theirs, Some(ours), "entire: fast-forward to remote checkpoints")?
                } else {
                    let merged = super::objects::commit_tree(
                        repo,
                        &tree.merged,
                        &[ours, theirs],
                        "Merge remote checkpoints",
                    )?;
                    update_ref(repo, &merged, Some(ours), "entire: merge remote checkpoints")?
                }
            }
            Some(ours) => {
                let merged = merge(repo, ours, theirs)?;
                update_ref(repo, &merged, Some(ours), "entire: merge remote checkpoints")?
            }
        }
    }
    Ok(())
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
    fn which_refspecs_bring_the_branch() {
        assert!(covers("+refs/heads/*:refs/remotes/origin/*"));
        assert!(covers("refs/heads/entire/*:refs/remotes/origin/entire/*"));
        assert!(covers(&refspec("origin")));
        assert!(!covers("+refs/heads/main:refs/remotes/origin/main"));
        assert!(!covers("^refs/heads/entire/checkpoints/v1"));
        assert!(!covers("+refs/tags/*:refs/tags/*"));
    }
}
