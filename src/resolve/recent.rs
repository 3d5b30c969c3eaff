//! Step 4, **recent**: a guess, made only where it cannot be a coin toss.
//!
//! Among the live sessions of the commit's worktree, those that could have
//! made it: not on another controlling terminal than the committing
//! process (no terminal on either side is unknown, not different), and,
//! when the session recorded the files it touched and the staged files are
//! known, one that touched a staged file. Exactly one: it owns the commit,
//! and the user is told. None, or more than one: no owner, and the user is
//! told why. `"resolution": {"recency": false}` turns the step off.

use std::collections::HashSet;

use super::{Candidate, Context, Outcome, Owner, Step};
use crate::session::ResolvedBy;

pub struct Recent;

/// How the user turns the guess off, in every line about it.
const TURN_OFF: &str =
    "set \"resolution\": {\"recency\": false} in .entire/settings.local.json to never guess";

impl Step for Recent {
    fn name(&self) -> &'static str {
        "recent"
    }

    fn run(&self, ctx: &mut Context<'_>) -> Outcome {
        if !ctx.evidence().recency() {
            return Outcome::Pass("disabled by resolution.recency".into());
        }
        let worktree = ctx.evidence().worktree().to_owned();
        let mut here: Vec<Candidate> = ctx
            .candidates()
            .into_iter()
            .filter(|c| c.live() && c.worktree_path.as_deref() == Some(worktree.as_str()))
            .collect();
        here.sort_by(|a, b| a.session_id.cmp(&b.session_id));
        if here.is_empty() {
            return Outcome::Pass("no live session in this worktree".into());
        }
        let staged = match here.iter().any(|c| !c.files_touched.is_empty()) {
            true => ctx.evidence().staged(),
            false => None,
        };
        let staged: Option<HashSet<&str>> = staged.as_ref().map(|s| s.iter().map(String::as_str).collect());
        let terminal = ctx.evidence().terminal().filter(|&t| t != 0);
        let against = |c: &Candidate| -> Option<&'static str> {
            if let (Some(mine), Some(theirs)) = (terminal, c.terminal.filter(|&t| t != 0))
                && mine != theirs
            {
                return Some("runs on another terminal");
            }
            match &staged {
                Some(staged) if !c.files_touched.is_empty() => {
                    (!c.files_touched.iter().any(|f| staged.contains(f.as_str())))
                        .then_some("touched none of the staged files")
                }
                _ => None,
            }
        };
        let could_own: Vec<&Candidate> = here.iter().filter(|c| against(c).is_none()).collect();
        let ids =
            |list: &[&Candidate]| list.iter().map(|c| c.session_id.as_str()).collect::<Vec<_>>().join(", ");
        match could_own.as_slice() {
            [only] => Outcome::Owner {
                owner: Owner::of(only, ResolvedBy::Recent, None),
                note: format!(
                    "the one live session in this worktree that could own the commit is {} (found in {})",
                    only.session_id,
                    only.found_in.as_str()
                ),
                notice: Some(format!(
                    "tagged this commit to session {} by recency: the only live session here, though nothing proves it made the commit; {TURN_OFF}",
                    only.session_id
                )),
            },
            [] => {
                let why = |c: &Candidate| format!("{} {}", c.session_id, against(c).unwrap_or_default());
                let why = match here.as_slice() {
                    [only] => format!("the only live session here, {}", why(only)),
                    all => format!(
                        "none of the {} live sessions here could own it ({})",
                        all.len(),
                        all.iter().map(why).collect::<Vec<_>>().join("; ")
                    ),
                };
                Outcome::Abstain {
                    note: why.clone(),
                    notice: format!("no checkpoint for this commit: {why}"),
                }
            }
            several => Outcome::Abstain {
                note: format!("{} live sessions here could own the commit: {}", several.len(), ids(several)),
                notice: format!(
                    "no checkpoint for this commit: {} live sessions here could own it ({}), and nothing shows which made it",
                    several.len(),
                    ids(several)
                ),
            },
        }
    }
}
