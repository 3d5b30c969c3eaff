//! Ownership resolution (SPEC §5): which session made this commit.
//!
//! A pure function: the process table and the stores are read by the caller
//! and passed in, so every branch is testable without processes. Every
//! ordering ends in the session ID, so the answer never depends on the order
//! candidates were listed in — the bug this project exists to avoid.

pub mod owner;

use std::collections::HashSet;
use std::ffi::OsStr;

use chrono::{DateTime, Utc};

use crate::process::{MAX_ANCESTRY, ProcId};
use crate::session::{EnvRejected, FoundIn, Resolution, ResolvedBy, SessionId};

#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub session_id: SessionId,
    pub launcher: Option<ProcId>,
    pub agent: Option<ProcId>,
    /// Not ended, and its launcher or agent alive as recorded.
    pub live: bool,
    pub worktree_path: Option<String>,
    pub last_interaction_time: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub files_touched: Vec<String>,
    /// Where the lookup found this session (recorded with the owner).
    pub found_in: FoundIn,
}

#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The raw `ENTIRE_SESSION_ID`, if set.
    pub env: Option<&'a OsStr>,
    /// The hook's ancestors, nearest (its parent) first.
    pub ancestry: &'a [ProcId],
    pub candidates: &'a [Candidate],
    /// The commit's worktree (canonical path).
    pub worktree: &'a str,
    /// Staged paths, when known.
    pub staged: Option<&'a [String]>,
    /// `resolution.recency` setting.
    pub recency: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub session_id: SessionId,
    /// `env`, `pid` or `recent`: the resolver never links post hoc.
    pub method: ResolvedBy,
    /// For `pid`: how many steps above the hook the match was (parent = 1).
    pub depth: Option<usize>,
    pub found_in: FoundIn,
}

impl Owner {
    fn of(c: &Candidate, method: ResolvedBy, depth: Option<usize>) -> Owner {
        Owner { session_id: c.session_id.clone(), method, depth, found_in: c.found_in }
    }
}

/// What the resolver decided, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub owner: Option<Owner>,
    pub env_rejected: Option<EnvRejected>,
    /// Human-readable steps, printed under `ENTIRE_DEBUG=1`.
    pub trace: Vec<String>,
}

impl Verdict {
    /// The `resolution` object stored with a checkpoint (SPEC §7).
    pub fn details(&self) -> Resolution {
        Resolution {
            method: self.owner.as_ref().map(|o| o.method),
            depth: self.owner.as_ref().and_then(|o| o.depth),
            env_rejected: self.env_rejected,
            found_in: self.owner.as_ref().map(|o| o.found_in),
            ..Resolution::default()
        }
    }
}

pub fn resolve(inputs: &Inputs) -> Verdict {
    let mut res = Verdict::default();
    let found = by_env(inputs, &mut res)
        .or_else(|| by_pid(inputs, &mut res))
        .or_else(|| by_recency(inputs, &mut res));
    if found.is_none() {
        res.trace.push("no owner: the commit is not attributed".into());
    }
    res.owner = found;
    res
}

fn by_env(inputs: &Inputs, res: &mut Verdict) -> Option<Owner> {
    let raw = inputs.env.filter(|v| !v.is_empty())?;
    let rejected = match raw.to_str().and_then(SessionId::parse) {
        None => EnvRejected::Malformed,
        Some(id) => match inputs.candidates.iter().find(|c| c.session_id == id) {
            None => EnvRejected::Unknown,
            Some(c) if !c.live => EnvRejected::Ended,
            Some(c) => {
                res.trace.push(format!(
                    "env: ENTIRE_SESSION_ID={} is live (found in {})",
                    c.session_id,
                    c.found_in.as_str()
                ));
                return Some(Owner::of(c, ResolvedBy::Env, None));
            }
        },
    };
    res.trace.push(format!("env: ENTIRE_SESSION_ID rejected, env_rejected: {}", rejected.as_str()));
    res.env_rejected = Some(rejected);
    None
}

fn by_pid(inputs: &Inputs, res: &mut Verdict) -> Option<Owner> {
    for (index, ancestor) in inputs.ancestry.iter().take(MAX_ANCESTRY).enumerate() {
        let depth = index + 1;
        let on_this_process = inputs
            .candidates
            .iter()
            .filter(|c| c.live && (c.launcher == Some(*ancestor) || c.agent == Some(*ancestor)));
        if let Some(best) = on_this_process.max_by(|a, b| {
            (a.last_interaction_time, &a.session_id).cmp(&(b.last_interaction_time, &b.session_id))
        }) {
            res.trace.push(format!(
                "pid: ancestor {} at depth {depth} is session {} (found in {})",
                ancestor.pid,
                best.session_id,
                best.found_in.as_str()
            ));
            return Some(Owner::of(best, ResolvedBy::Pid, Some(depth)));
        }
    }
    res.trace
        .push(format!("pid: no live session among {} ancestors", inputs.ancestry.len().min(MAX_ANCESTRY)));
    None
}

fn by_recency(inputs: &Inputs, res: &mut Verdict) -> Option<Owner> {
    if !inputs.recency {
        res.trace.push("recent: disabled by resolution.recency".into());
        return None;
    }
    let staged: Option<HashSet<&str>> = inputs.staged.map(|s| s.iter().map(String::as_str).collect());
    let touched_staged = |c: &Candidate| match &staged {
        Some(staged) if !c.files_touched.is_empty() => {
            c.files_touched.iter().any(|f| staged.contains(f.as_str()))
        }
        _ => true,
    };
    let best = inputs
        .candidates
        .iter()
        .filter(|c| c.live && c.worktree_path.as_deref() == Some(inputs.worktree) && touched_staged(c))
        .max_by(|a, b| {
            (a.last_interaction_time, a.started_at, &a.session_id).cmp(&(
                b.last_interaction_time,
                b.started_at,
                &b.session_id,
            ))
        })?;
    res.trace.push(format!(
        "recent: most recent live session in this worktree is {} (found in {})",
        best.session_id,
        best.found_in.as_str()
    ));
    Some(Owner::of(best, ResolvedBy::Recent, None))
}

#[cfg(test)]
mod tests;
