//! What entire knows about each agent: the one registry of agents (from
//! which `--agent`, `entire hooks <agent> <event>`, the shell wrappers,
//! `status` and `doctor` derive), the hook events each installs and what
//! they mean, and their settings file formats.

pub mod claude;
pub mod event;
pub mod gemini;
pub mod settings;

use std::ffi::OsStr;
use std::path::Path;

use clap::builder::{PossibleValuesParser, TypedValueParser};

/// An agent entire knows by name.
#[derive(Debug)]
pub struct Agent {
    /// The command that starts it, which `entire shell init` wraps.
    pub command: &'static str,
    /// The name its sessions record.
    pub name: &'static str,
    /// Its hooks, when entire installs them (`entire enable --agent`).
    pub hooks: Option<&'static Spec>,
}

pub const AGENTS: &[Agent] = &[
    Agent { command: "claude", name: claude::SPEC.name, hooks: Some(&claude::SPEC) },
    Agent { command: "codex", name: "codex", hooks: None },
    Agent { command: "gemini", name: gemini::SPEC.name, hooks: Some(&gemini::SPEC) },
    Agent { command: "aider", name: "aider", hooks: None },
    Agent { command: "opencode", name: "opencode", hooks: None },
    Agent { command: "cursor-agent", name: "cursor-agent", hooks: None },
    Agent { command: "goose", name: "goose", hooks: None },
];

/// The agents whose hooks entire installs.
pub fn with_hooks() -> impl Iterator<Item = &'static Spec> {
    AGENTS.iter().filter_map(|agent| agent.hooks)
}

/// The hooks of the agent of that name.
pub fn hooks_of(name: &str) -> Option<&'static Spec> {
    with_hooks().find(|spec| spec.name == name)
}

/// `--agent NAME` for the agents with hooks: their names, for help and
/// completions too.
pub fn hooks_parser() -> impl TypedValueParser<Value = &'static Spec> {
    PossibleValuesParser::new(with_hooks().map(|spec| spec.name))
        .map(|name| hooks_of(&name).expect("one of the possible values"))
}

/// The name a session started by this command records: the agent's (`claude`
/// → `claude-code`), else the command's basename.
pub fn session_name(program: &OsStr) -> String {
    let base = Path::new(program).file_name().unwrap_or(program).to_string_lossy();
    match AGENTS.iter().find(|agent| agent.command == base) {
        Some(agent) => agent.name.to_owned(),
        None => base.into_owned(),
    }
}

/// One agent's hooks: the events we install and what each one means.
#[derive(Debug)]
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

#[derive(Debug)]
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
    /// A tool call begins (only agents whose commits are linked post hoc).
    ToolStart,
    Tool,
    Stop,
    End,
}

impl Spec {
    pub fn event(&self, verb: &str) -> Option<&HookEvent> {
        self.events.iter().find(|e| e.verb == verb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_map_to_the_names_sessions_record() {
        assert_eq!(session_name(OsStr::new("claude")), "claude-code");
        assert_eq!(session_name(OsStr::new("/usr/local/bin/gemini")), "gemini");
        assert_eq!(session_name(OsStr::new("./my-agent")), "my-agent");
    }

    #[test]
    fn every_agent_is_named_once() {
        let mut names: Vec<&str> = AGENTS.iter().map(|a| a.name).collect();
        let mut commands: Vec<&str> = AGENTS.iter().map(|a| a.command).collect();
        names.sort();
        names.dedup();
        commands.sort();
        commands.dedup();
        assert_eq!((names.len(), commands.len()), (AGENTS.len(), AGENTS.len()));
        assert_eq!(with_hooks().map(|s| s.name).collect::<Vec<_>>(), ["claude-code", "gemini"]);
    }
}
