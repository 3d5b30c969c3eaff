//! What entire knows about each agent: the registry, the hook events it
//! installs and what they mean, and its settings file format.

pub mod claude;
pub mod gemini;
pub mod settings;

use crate::cli::AgentKind;

pub const AGENTS: [&Spec; 2] = [&claude::SPEC, &gemini::SPEC];

pub fn spec(kind: AgentKind) -> &'static Spec {
    match kind {
        AgentKind::ClaudeCode => &claude::SPEC,
        AgentKind::Gemini => &gemini::SPEC,
    }
}

/// One agent's hooks: the events we install and what each one means.
pub struct Spec {
    /// The agent's name in sessions and in `entire hooks <name> <verb>`.
    pub name: &'static str,
    /// The agent's settings directory, relative to the worktree.
    pub settings_dir: &'static str,
    /// Its uncommitted per-user settings file, if it has one.
    pub local_file: Option<&'static str>,
    pub events: &'static [HookEvent],
    /// Tools that write a file, and the `tool_input` key naming it.
    pub file_tools: &'static [(&'static str, &'static str)],
    /// Whether the agent's settings need a `name` on every hook entry.
    pub named_entries: bool,
    /// A boolean the agent needs set before it runs any hook.
    pub enable_flag: Option<(&'static str, &'static str)>,
    /// Git hooks do not run for this agent's commits: link them post hoc.
    pub post_hoc: bool,
}

pub struct HookEvent {
    /// The agent's name for the event, as a key of its `hooks` object.
    pub native: &'static str,
    /// Our kebab-case name for it: `entire hooks <agent> <verb>`.
    pub verb: &'static str,
    pub matcher: &'static str,
    pub turn: Turn,
}

/// Where an event sits in an agent's session, whatever the agent calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    Start,
    Prompt,
    Tool,
    Stop,
    End,
}

impl Spec {
    pub fn event(&self, verb: &str) -> Option<&HookEvent> {
        self.events.iter().find(|e| e.verb == verb)
    }
}
