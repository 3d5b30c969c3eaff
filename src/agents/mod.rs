//! What entire knows about each agent: the one registry of agents (from
//! which `--agent`, `entire hooks <agent> <event>`, the shell wrappers,
//! `status` and `doctor` derive), the hook events each installs and what
//! they mean, and their settings file formats.

pub mod claude;
pub mod codex;
pub mod copilot;
pub mod event;
pub mod gemini;
pub mod hooks_json;
pub mod opencode;
pub mod settings;
pub mod usage;

use std::ffi::OsStr;
use std::path::Path;

use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::session::SessionId;

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
    Agent { command: "codex", name: codex::SPEC.name, hooks: Some(&codex::SPEC) },
    Agent { command: "gemini", name: gemini::SPEC.name, hooks: Some(&gemini::SPEC) },
    Agent { command: "aider", name: "aider", hooks: None },
    Agent { command: "opencode", name: opencode::SPEC.name, hooks: Some(&opencode::SPEC) },
    Agent { command: "cursor-agent", name: "cursor-agent", hooks: None },
    Agent { command: "copilot", name: copilot::SPEC.name, hooks: Some(&copilot::SPEC) },
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
    /// The file in it that holds the hooks for everyone (committed).
    pub project_file: &'static str,
    /// Its uncommitted per-user settings file, if it has one; without it,
    /// the project file kept out of git stands in.
    pub local_file: Option<&'static str>,
    pub events: &'static [HookEvent],
    /// Tools that write a file, and the `tool_input` key naming it.
    pub file_tools: &'static [(&'static str, &'static str)],
    /// Where the agent keeps the transcript of its session of this ID,
    /// for the events whose payloads do not say.
    pub transcript_of: Option<fn(&SessionId) -> Option<String>>,
    /// How the hooks are written into the file.
    pub format: &'static dyn HooksFormat,
    /// Git hooks do not run for this agent's commits: link them post hoc.
    pub post_hoc: bool,
    /// What the user must do before the agent runs them, said by `enable`.
    pub note: Option<&'static str>,
}

/// An agent's hooks file format: adding, updating, finding and removing
/// our hooks in the file's text. The file itself (reading, the saved
/// original, writing) is `settings::SettingsFile`'s.
pub trait HooksFormat: Sync + std::fmt::Debug {
    /// `current` (None: no file) with our hooks added or brought up to
    /// date, each running `command(event)`; None when nothing would
    /// change. A file it cannot safely change is an error, and stays as it was.
    fn install(
        &self,
        spec: &Spec,
        current: Option<&[u8]>,
        command: &dyn Fn(&HookEvent) -> String,
    ) -> crate::error::Result<Option<Vec<u8>>>;

    /// `current` without our hooks, and whatever ours needed (a switch)
    /// put back as `before` had it.
    fn uninstall(&self, spec: &Spec, current: &[u8], before: Before) -> crate::error::Result<Removed>;

    /// The verbs of our hooks that `current` holds.
    fn installed_verbs(&self, spec: &Spec, current: &[u8]) -> Vec<String>;

    /// What stops our hooks in `current` from running, for `doctor`.
    fn problems(&self, spec: &Spec, current: &[u8]) -> Vec<String>;
}

/// What a settings file held before `enable` first put our hooks in.
#[derive(Clone, Copy)]
pub enum Before<'a> {
    /// Not known (it already had ours, or nothing was saved).
    Unknown,
    Absent,
    Text(&'a [u8]),
}

/// A settings file once our hooks are taken out.
pub enum Removed {
    /// Exactly what it was before `enable`: put that back.
    AsBefore,
    Bytes(Vec<u8>),
    /// Nothing is left: the file goes.
    Delete,
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

    /// What marks a hook command as ours: ` hooks <agent> `.
    pub fn marker(&self) -> String {
        format!(" hooks {} ", self.name)
    }

    /// The verb of a command of ours: the word after the marker.
    pub fn verb_of<'a>(&self, command: &'a str) -> Option<&'a str> {
        let (_, rest) = command.split_once(&self.marker())?;
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
        Some(&rest[..end])
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
        assert_eq!(
            with_hooks().map(|s| s.name).collect::<Vec<_>>(),
            ["claude-code", "codex", "gemini", "opencode", "copilot"]
        );
    }
}
