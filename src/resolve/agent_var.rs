//! Step 3, **agent variable**: a session variable that the agent publishes
//! to its commands (Claude Code's `CLAUDE_CODE_SESSION_ID`, Codex's
//! `CODEX_SESSION_ID`…) equals the `agent_session_id` that the agent's
//! hooks recorded in a session. It names the agent session the command
//! runs in whatever PID namespace it runs in and without any launcher:
//! sandboxes, containers. The method recorded is `env`.
//!
//! A session recorded in another PID namespace cannot be shown alive from
//! here (`Unseen`); one that is not ended still counts, since the variable
//! is unique to that agent session. Variables naming two different
//! sessions (a Codex started from Claude's Bash tool, in a sandbox) are
//! doubt: no owner.

use std::collections::BTreeSet;

use super::{Context, Liveness, Outcome, Owner, Step};
use crate::session::{ResolvedBy, SessionId};

/// The variables agents set for their commands, each naming the agent's
/// own session (docs/agents.md).
pub const AGENT_SESSION_VARS: [&str; 5] = [
    "CLAUDE_CODE_SESSION_ID",
    "CODEX_SESSION_ID",
    "CODEX_THREAD_ID",
    "CURSOR_CONVERSATION_ID",
    "COPILOT_AGENT_SESSION_ID",
];

pub struct AgentVar;

impl Step for AgentVar {
    fn name(&self) -> &'static str {
        "agent-var"
    }

    fn run(&self, ctx: &mut Context<'_>) -> Outcome {
        let vars = ctx.evidence().agent_vars();
        let named: Vec<(&str, SessionId)> = vars
            .iter()
            .filter_map(|(name, value)| Some((*name, value.to_str().and_then(SessionId::parse)?)))
            .collect();
        if named.is_empty() {
            return Outcome::Pass("no agent session variable is set".into());
        }
        let candidates = ctx.candidates();
        let mut owners = BTreeSet::new();
        for (var, value) in &named {
            for c in &candidates {
                if c.liveness != Liveness::Ended && c.agent_session_id.as_ref() == Some(value) {
                    owners.insert((c.session_id.clone(), *var));
                }
            }
        }
        let sessions: BTreeSet<&SessionId> = owners.iter().map(|(id, _)| id).collect();
        match sessions.len() {
            0 => Outcome::Pass(format!(
                "{} name no session of this repository that is not ended",
                named.iter().map(|(var, value)| format!("{var}={value}")).collect::<Vec<_>>().join(", ")
            )),
            1 => {
                let (id, var) = owners.first().expect("one owner");
                let owner = candidates.iter().find(|c| c.session_id == *id).expect("a candidate");
                Outcome::Owner {
                    owner: Owner { variable: Some(*var), ..Owner::of(owner, ResolvedBy::Env, None) },
                    note: format!(
                        "{var} is session {id}'s agent session (found in {})",
                        owner.found_in.as_str()
                    ),
                    notice: None,
                }
            }
            _ => {
                let list = sessions.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                Outcome::Abstain {
                    note: format!("agent session variables name {} sessions: {list}", sessions.len()),
                    notice: format!(
                        "no checkpoint for this commit: the agents' session variables name {} sessions ({list}), and nothing shows which made it",
                        sessions.len()
                    ),
                }
            }
        }
    }
}
