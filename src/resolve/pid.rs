//! Step 2, **pid**: the nearest of the hook's ancestors that is, by PID
//! *and* start time, the launcher or the agent of a live session.

use super::{Candidate, Context, Outcome, Owner, Step};
use crate::process::{MAX_ANCESTRY, ProcId};
use crate::session::ResolvedBy;

pub struct Pid;

impl Step for Pid {
    fn name(&self) -> &'static str {
        "pid"
    }

    fn run(&self, ctx: &mut Context<'_>) -> Outcome {
        let candidates = ctx.candidates();
        // Up to the nearest ancestor a live session owns: no further is read.
        let ancestry = ctx.ancestry_until(|p| candidates.iter().any(|c| c.live() && c.runs_as(p)));
        match nearest(&ancestry, &candidates, MAX_ANCESTRY) {
            Some((depth, owner)) => Outcome::Owner {
                owner: Owner::of(owner, ResolvedBy::Pid, Some(depth)),
                note: format!(
                    "ancestor {} at depth {depth} is session {} (found in {})",
                    ancestry[depth - 1].pid,
                    owner.session_id,
                    owner.found_in.as_str()
                ),
                notice: None,
            },
            None => {
                Outcome::Pass(format!("no live session among {} ancestors", ancestry.len().min(MAX_ANCESTRY)))
            }
        }
    }
}

/// The live session that owns the nearest of the first `limit` ancestors,
/// and that ancestor's depth (parent = 1). Two sessions on one process: the
/// most recent `last_interaction_time`, then the greatest session ID.
pub fn nearest<'c>(
    ancestry: &[ProcId],
    candidates: &'c [Candidate],
    limit: usize,
) -> Option<(usize, &'c Candidate)> {
    ancestry.iter().take(limit.min(MAX_ANCESTRY)).enumerate().find_map(|(index, ancestor)| {
        let on_this_process = candidates.iter().filter(|c| c.live() && c.runs_as(*ancestor));
        let best = on_this_process.max_by(|a, b| {
            (a.last_interaction_time, &a.session_id).cmp(&(b.last_interaction_time, &b.session_id))
        })?;
        Some((index + 1, best))
    })
}

/// The depth of the nearest ancestor that is `candidate`'s launcher or agent.
pub fn depth_of(ancestry: &[ProcId], candidate: &Candidate) -> Option<usize> {
    ancestry.iter().take(MAX_ANCESTRY).position(|a| candidate.runs_as(*a)).map(|i| i + 1)
}
