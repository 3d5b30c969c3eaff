//! Command-line definitions (clap derive). Behaviour lives in `cmd/`.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "entire",
    version,
    about = "Records which AI coding-agent session made each git commit",
    long_about = "Records which AI coding-agent session made each git commit, and gets it \
                  right when several agents work in one repository at once.\n\n\
                  Start agents with `entire run -- <agent>`, turn on the git hooks with \
                  `entire enable`, and ask `entire explain` who made a commit."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an agent as a recorded session
    Run(RunArgs),
    /// Install entire's git hooks and settings in this repository
    Enable(EnableArgs),
    /// Remove entire's git hooks (and agent hooks), restoring what was there
    Disable(DisableArgs),
    /// Show whether entire is enabled here and which sessions are live
    Status(StatusArgs),
    /// List the sessions of this repository
    Sessions(SessionsArgs),
    /// Show which session made a commit, and how that was decided
    Explain(ExplainArgs),
    /// Find stale sessions and broken hooks; --fix repairs what is safe
    Doctor(DoctorArgs),
    /// Remove records of ended sessions whose checkpoints are all written
    Clean(CleanArgs),
    /// Shell integration: wrap agent commands so they run through `entire run`
    Shell(ShellArgs),
    /// Print a completion script for a shell
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout
    Man,
    /// Run a self-contained demonstration of concurrent attribution
    Demo(DemoArgs),
    /// What installed hooks call (not for direct use)
    #[command(hide = true)]
    Hooks(HooksArgs),
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Agent name to record (default: derived from the command, `claude` → `claude-code`)
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// The agent command and its arguments
    #[arg(required = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct EnableArgs {
    /// Also install this agent's hooks (repeatable)
    #[arg(long, value_enum, value_name = "AGENT")]
    pub agent: Vec<AgentKind>,
    /// Accepted for compatibility: hooks that were there are always chained
    #[arg(long, hide = true)]
    pub force: bool,
    /// Write agent hooks into the agent's local (uncommitted) settings file
    #[arg(long)]
    pub local: bool,
}

#[derive(Args, Debug)]
pub struct DisableArgs {
    /// Remove only this agent's hooks, keep the git hooks (repeatable)
    #[arg(long, value_enum, value_name = "AGENT")]
    pub agent: Vec<AgentKind>,
    /// Turn entire off for everyone: write `"enabled": false` to the
    /// committed .entire/settings.json instead of .entire/settings.local.json
    #[arg(long)]
    pub project: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentKind {
    #[value(name = "claude-code")]
    ClaudeCode,
    Gemini,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Machine-readable output (see docs/json.md)
    #[arg(long, conflicts_with = "prompt")]
    pub json: bool,
    /// A short segment for a shell prompt (empty when nothing is live)
    #[arg(long)]
    pub prompt: bool,
}

#[derive(Args, Debug)]
pub struct SessionsArgs {
    /// Include sessions that ended more than a day ago
    #[arg(long)]
    pub all: bool,
    /// Machine-readable output (see docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The commit to explain
    #[arg(long, value_name = "REV", conflicts_with = "session")]
    pub commit: Option<String>,
    /// List the commits of one session
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Machine-readable output (see docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Repair what is safe to repair, and say what was done
    #[arg(long)]
    pub fix: bool,
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// Show what would be removed without removing it
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ShellArgs {
    #[command(subcommand)]
    pub command: ShellCommand,
}

#[derive(Subcommand, Debug)]
pub enum ShellCommand {
    /// Print the init script: eval "$(entire shell init bash)"
    Init(ShellInitArgs),
}

#[derive(Args, Debug)]
pub struct ShellInitArgs {
    #[arg(value_enum)]
    pub shell: InitShell,
    /// Comma-separated agent commands to wrap
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub agents: Option<Vec<String>>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo repository instead of deleting it
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct HooksArgs {
    #[command(subcommand)]
    pub command: HookCommand,
}

#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// A git hook: prepare-commit-msg, commit-msg, post-commit, pre-push
    Git {
        hook: String,
        #[arg(allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// A Claude Code hook event; the payload is read from stdin
    #[command(name = "claude-code")]
    ClaudeCode { event: String },
    /// A Gemini CLI hook event; the payload is read from stdin
    Gemini { event: String },
}
