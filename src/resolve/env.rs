//! Step 1, **env**: `ENTIRE_SESSION_ID` names a live session.
//!
//! An inherited variable is not proof: an agent started by another
//! session's agent (a `claude` run from Claude's Bash tool) inherits the
//! outer session's variable. So when one of the hook's ancestors nearer
//! than the named session's own processes belongs to another live session,
//! the nearest owner wins (the PID step finds it) and the variable is
//! recorded as rejected (`nearer-owner`); so does any session that owns an
//! ancestor when the named session's processes are not among them. Where
//! no ancestor is anyone's (a sandbox with its own PID namespace), the
//! variable is the evidence, and stands.

use super::{Context, Liveness, Outcome, Owner, Step, pid};
use crate::process::MAX_ANCESTRY;
use crate::session::{EnvRejected, ResolvedBy, SessionId};

pub struct Env;

impl Step for Env {
    fn name(&self) -> &'static str {
        "env"
    }

    fn run(&self, ctx: &mut Context<'_>) -> Outcome {
        let Some(raw) = ctx.evidence().env().filter(|v| !v.is_empty()).map(|v| v.to_owned()) else {
            return Outcome::Pass("ENTIRE_SESSION_ID is not set".into());
        };
        let shown = raw.to_string_lossy().into_owned();
        let Some(id) = raw.to_str().and_then(SessionId::parse) else {
            return reject(
                ctx,
                EnvRejected::Malformed,
                format!("ENTIRE_SESSION_ID={shown:?} is not a session ID"),
            );
        };
        let Some(named) = ctx.evidence().named(&id) else {
            return reject(
                ctx,
                EnvRejected::Unknown,
                format!("ENTIRE_SESSION_ID names session {id}, unknown here"),
            );
        };
        match named.liveness {
            Liveness::Ended => {
                return reject(
                    ctx,
                    EnvRejected::Ended,
                    format!("ENTIRE_SESSION_ID names session {id}, which has ended"),
                );
            }
            Liveness::Unseen => {
                let why = format!(
                    "ENTIRE_SESSION_ID names session {id}, whose launcher is not visible from here (another PID namespace)"
                );
                return reject(ctx, EnvRejected::NotVisible, why);
            }
            Liveness::Live => {}
        }
        // Only the ancestors below the session's own process can be another's.
        let ancestry = ctx.ancestry_until(|p| named.runs_as(p));
        let own_depth = pid::depth_of(&ancestry, &named);
        let candidates = ctx.candidates();
        let nearer = pid::nearest(&ancestry, &candidates, own_depth.map_or(MAX_ANCESTRY, |d| d - 1));
        if let Some((depth, other)) = nearer.filter(|(_, c)| c.session_id != id) {
            ctx.env_rejected = Some(EnvRejected::NearerOwner);
            let own = own_depth.map_or("not among the ancestors".into(), |d| format!("at depth {d}"));
            return Outcome::Pass(format!(
                "ENTIRE_SESSION_ID={id} is inherited: session {} owns ancestor {} at depth {depth}, \
                 nearer than {id}'s own processes ({own})",
                other.session_id,
                ancestry[depth - 1].pid
            ));
        }
        Outcome::Owner {
            note: format!("ENTIRE_SESSION_ID={id} is live (found in {})", named.found_in.as_str()),
            owner: Owner::of(&named, ResolvedBy::Env, None),
            notice: None,
        }
    }
}

/// A set but unusable variable: recorded as the reason, told to the user
/// if nothing else owns the commit, and the next step runs.
fn reject(ctx: &mut Context<'_>, rejected: EnvRejected, why: String) -> Outcome {
    ctx.env_rejected = Some(rejected);
    ctx.if_unowned.push(format!("no checkpoint for this commit: {why}"));
    Outcome::Pass(format!("{why}; env_rejected: {}", rejected.as_str()))
}
