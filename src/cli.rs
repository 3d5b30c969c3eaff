//! Command-line definitions (clap derive). Behaviour lives in `cmd/`.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::agents::{self, Spec};
use crate::hookdir;

/// What the command line asks for.
pub enum Invocation {
    Command(Command),
    /// `entire hooks …`: parsed apart, so that help, completions and man
    /// pages, which users read, never show it.
    Hook(HookCommand),
    /// Started by git as a hook of entire's hooks directory (a link to a
    /// copy of this binary, named after the hook): no argument parsing.
    GitHook {
        argv0: OsString,
        hook: String,
        args: Vec<OsString>,
    },
}

/// `COMMAND.entire ARGS…` (an `argv[0]` ending in this) is `entire run -- COMMAND ARGS…`.
pub const WRAPPER_SUFFIX: &str = ".entire";

/// The command line, or the end of the process as clap would end it: help
/// and version on stdout (exit 0), a usage error on stderr as
/// `entire: error: …` like every other error of ours (exit 2).
pub fn parse() -> Invocation {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let name = args.first().and_then(|argv0| std::path::Path::new(argv0).file_name()?.to_str());
    if let Some(hook) = name.filter(|name| hookdir::is_entire_hook(name)).map(str::to_owned) {
        let argv0 = args.remove(0);
        return Invocation::GitHook { argv0, hook, args };
    }
    // Started by the bash wrapper as `claude.entire ARGS…` (docs/shell.md): the
    // agent's name comes first on the command line, so bash names the job after it.
    if let Some(command) = name.and_then(|name| name.strip_suffix(WRAPPER_SUFFIX)).filter(|c| !c.is_empty()) {
        let run = ["entire", "run", "--", command].map(OsString::from);
        args.splice(..1, run);
    }
    if let Some(hook) = hook_command(&args) {
        return Invocation::Hook(hook);
    }
    if let Some(run) = run_command(&args) {
        return Invocation::Command(Command::Run(run));
    }
    let parsed = match args.get(1) {
        Some(first) if first == "hooks" => {
            HooksCli::try_parse_from(&args[1..]).map(|h| Invocation::Hook(h.command))
        }
        _ => Cli::try_parse_from(&args).map(|cli| Invocation::Command(cli.command)),
    };
    parsed.unwrap_or_else(|err| {
        if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            // `entire` alone: the help, as asked for, not an error.
            let _ = std::io::Write::write_all(&mut std::io::stderr(), err.render().to_string().as_bytes());
        } else if err.use_stderr() {
            let text = err.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("entire: error: {text}").as_bytes(),
            );
        } else {
            // A reader that closed the pipe on `--help` has what it wanted.
            let _ = err.print();
        }
        std::process::exit(err.exit_code())
    })
}

/// `entire hooks git <hook> …` and `entire hooks <agent> <event>` as the
/// installed hooks write them, read without building a parser: they run on
/// every commit and every agent event. Anything else goes to clap.
fn hook_command(args: &[OsString]) -> Option<HookCommand> {
    let word =
        |i: usize| args.get(i).and_then(|a| a.to_str()).filter(|a| !a.is_empty() && !a.starts_with('-'));
    if word(1)? != "hooks" {
        return None;
    }
    match (word(2)?, word(3)?) {
        ("git", hook) => Some(HookCommand::Git { hook: hook.to_owned(), args: args[4..].to_vec() }),
        (agent, event) if args.len() == 4 && agents::hooks_of(agent).is_some() => {
            Some(HookCommand::Agent(vec![agent.to_owned(), event.to_owned()]))
        }
        _ => None,
    }
}

/// `entire run -- CMD…` and `entire run CMD…` (CMD not an option), as the
/// shell integration and users write it, read without building a parser:
/// building clap's parser for every command costs more than the rest of
/// the launcher's start. Anything else (options, help) goes to clap.
fn run_command(args: &[OsString]) -> Option<RunArgs> {
    if args.get(1)? != "run" {
        return None;
    }
    let first = args.get(2)?;
    let command = match first.as_encoded_bytes().first() {
        _ if first == "--" && args.len() > 3 => &args[3..],
        Some(b'-') | None => return None,
        Some(_) => &args[2..],
    };
    Some(RunArgs { agent: None, status_file: None, command: command.to_vec() })
}

#[derive(Parser, Debug)]
#[command(
    name = "entire",
    version,
    about = "Records which AI coding-agent session made each git commit",
    long_about = "Tags each commit an AI coding agent makes with a checkpoint naming its \
                  session, and gets it right when several agents work in one repository at \
                  once; the checkpoints live on a branch of their own.\n\n\
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
    #[command(long_about = "Starts CMD in the foreground with ENTIRE_SESSION_ID set and records the \
        session: the launcher's and the agent's PIDs and start times, the agent, the directory, when \
        it ended and how. The git hooks give the commits made inside it to this session.\n\n\
        The agent keeps the terminal: Ctrl-C, Ctrl-Z and window-size changes reach it directly; \
        signals sent to entire are relayed to it. entire exits with the agent's status, or dies of \
        the signal that killed the agent. A failure of entire's own never keeps the agent from \
        running: it is reported in one line and the agent runs.")]
    Run(RunArgs),
    /// Install entire's git hooks and settings in this repository
    #[command(long_about = "Writes .entire/settings.json and installs entire's git hooks \
        (prepare-commit-msg, commit-msg, post-commit and pre-push) in a directory of its own, \
        pointing core.hooksPath at it. The hooks in use before keep running: entire's hooks run \
        them, and hook managers keep working. Running it again repairs what changed since.\n\n\
        With --agent, also installs that agent's own hooks, so that each session records the \
        agent's session ID, transcript and first prompt.")]
    Enable(EnableArgs),
    /// Remove entire's git hooks (and agent hooks), restoring what was there
    #[command(long_about = "Sets core.hooksPath back to what it was, removes entire's hooks \
        directory and agent hooks, and turns entire off in this clone \
        (.entire/settings.local.json; with --project, .entire/settings.json, for everyone). With \
        --agent, removes only that agent's hooks. Recorded sessions and checkpoints stay.")]
    Disable(DisableArgs),
    /// Show whether entire is enabled here and which sessions are live
    #[command(long_about = "Whether entire is enabled in this repository, the state of each of its \
        git hooks and what is wrong with them, the agents whose hooks are installed, and the \
        sessions that are live here. --prompt prints a short segment for a shell prompt instead.")]
    Status(StatusArgs),
    /// List the sessions of this repository
    #[command(long_about = "One line per session of this repository, oldest first: its ID, agent, \
        whether it is live, when it started, how many commits it made, and its first prompt. \
        Sessions that ended more than a day ago are left out unless --all.")]
    Sessions(SessionsArgs),
    /// Show which session made a commit, and how that was decided
    #[command(long_about = "Shows the checkpoint of a commit: the session that made it, the agent, \
        the first prompt, the files, and how the owner was found (env: ENTIRE_SESSION_ID named \
        it; pid: the commit ran in its process tree; recent: a guess by recency; post-hoc: the \
        agent's hooks linked it afterwards). Without REV, the last 20 commits of HEAD, one line \
        each. With --session, the commits of one session; any unique prefix of its ID will do. \
        With --format agent-trace, the commit as an Agent Trace record (the lines it added, the \
        sessions and models that wrote them).")]
    Explain(ExplainArgs),
    /// Show each line of a file with the session and agent that wrote it
    #[command(long_about = "Runs git blame on FILE (as of REV, else as it is in the working tree) \
        and shows, for each line, its commit, the agent and a number for the session whose \
        checkpoint that commit is; lines no session made say human. The sessions follow, with \
        their IDs and first prompts. --json gives one object per line.")]
    Blame(BlameArgs),
    /// Count commits and lines per agent and session over a range
    #[command(long_about = "Counts the commits of RANGE (merges left out) and the lines they added \
        and removed, per agent and per session, and for the commits no session made (human). \
        Without RANGE: the current branch since it left the default branch, else the last 100 \
        commits of HEAD. --json also gives the tokens and models the transcripts tell.")]
    Stats(StatsArgs),
    /// Find stale sessions and broken hooks; --fix repairs what is safe
    #[command(long_about = "Checks entire's git hooks, settings and session records here, and says \
        what is wrong and how to fix it. With --fix, repairs what is safe to repair and says what \
        it did. Exits 1 while a problem needs attention.")]
    Doctor(DoctorArgs),
    /// Remove stale sessions, and ended ones past --older-than (default 30d)
    #[command(long_about = "Forgets the session records of sessions whose processes are gone \
        without an end, and of sessions that ended at least --older-than ago, once their \
        checkpoints are on the checkpoints branch. The branch keeps every checkpoint.")]
    Clean(CleanArgs),
    /// Shell integration: wrap agent commands so they run through `entire run`
    #[command(long_about = "Prints a script for bash, zsh or fish that turns each agent command \
        (claude, codex, gemini…) into a function running it through `entire run`, so that every \
        agent started from an interactive shell is a recorded session. Load it from the shell's \
        startup file: eval \"$(entire shell init bash)\".")]
    Shell(ShellArgs),
    /// Print a completion script for a shell
    #[command(long_about = "Prints a completion script for SHELL on stdout, generated from the same \
        definitions as the command line, so it never drifts from it.")]
    Completions(CompletionsArgs),
    /// Print a man page (roff) on stdout: entire's, or a command's
    #[command(long_about = "Prints the man page of entire, or of one of its commands, in roff on \
        stdout: `entire man run > entire-run.1`. Each page lists the pages of its commands.")]
    Man(ManArgs),
    /// Run a self-contained demonstration of concurrent attribution
    #[command(long_about = "Creates a temporary repository, enables entire in it, and runs two \
        scripted agents that commit in turn while both are live, one whose git sees \
        ENTIRE_SESSION_ID and one whose git does not. Prints each commit with its checkpoint, its \
        session and how that was decided, then removes the repository (unless --keep). Touches \
        nothing outside a temporary directory.")]
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Agent name to record (default: derived from the command, `claude` → `claude-code`)
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    // For the zsh wrapper: after Ctrl-Z zsh finishes a function in a forked
    // subshell, which cannot wait for the launcher.
    /// Also write the agent's exit status (128 + N for signal N) to FILE
    #[arg(long, value_name = "FILE", hide = true)]
    pub status_file: Option<std::path::PathBuf>,
    /// The agent command and its arguments
    #[arg(required = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct EnableArgs {
    /// Also install this agent's hooks (repeatable)
    #[arg(long, value_name = "AGENT", value_parser = agents::hooks_parser())]
    pub agent: Vec<&'static Spec>,
    /// Accepted for compatibility: hooks that were there are always chained
    #[arg(long, hide = true)]
    pub force: bool,
    /// Write agent hooks into the agent's committed settings file, for
    /// everyone (the command finds `entire` on PATH and does nothing where
    /// it is not installed); without it they go into this clone's own
    #[arg(long)]
    pub project: bool,
    /// Accepted for compatibility: agent hooks go into the local file by default
    #[arg(long, hide = true, conflicts_with = "project")]
    pub local: bool,
    /// Send checkpoints (redacted) along when you push, in this clone
    #[arg(long, conflicts_with = "no_push")]
    pub push: bool,
    /// Keep checkpoints in this clone (the default)
    #[arg(long)]
    pub no_push: bool,
}

#[derive(Args, Debug)]
pub struct DisableArgs {
    /// Remove only this agent's hooks, keep the git hooks (repeatable)
    #[arg(long, value_name = "AGENT", value_parser = agents::hooks_parser())]
    pub agent: Vec<&'static Spec>,
    /// Also write `"enabled": false` to the committed .entire/settings.json:
    /// the default of every clone that has not enabled entire itself
    #[arg(long)]
    pub project: bool,
    /// Also remove everything entire keeps in this clone's git dir (sessions,
    /// pending checkpoints, settings) and this repository's entries in the
    /// state dir, saying what went
    #[arg(long, conflicts_with = "agent")]
    pub purge: bool,
    /// With --purge: delete the local checkpoints branch too
    #[arg(long, requires = "purge")]
    pub branch: bool,
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
    /// The commit to explain; without one, the last commits of HEAD
    #[arg(value_name = "REV", conflicts_with_all = ["commit", "session"])]
    pub rev: Option<String>,
    /// The commit to explain (the same as REV)
    #[arg(long, value_name = "REV", conflicts_with = "session")]
    pub commit: Option<String>,
    /// Print the transcript as far as a checkpoint holds it (with REV or --checkpoint)
    #[arg(long, conflicts_with_all = ["session", "json"])]
    pub transcript: bool,
    /// The checkpoint whose transcript to print (with --transcript)
    #[arg(long, value_name = "ID", requires = "transcript", conflicts_with_all = ["rev", "commit"])]
    pub checkpoint: Option<String>,
    /// List the commits of one session
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Machine-readable output (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// A standard export of one commit instead: `agent-trace` (Agent Trace 0.1)
    #[arg(long, value_name = "FORMAT", value_enum, conflicts_with_all = ["json", "session"])]
    pub format: Option<ExportFormat>,
}

/// `entire explain --format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    AgentTrace,
}

#[derive(Args, Debug)]
pub struct BlameArgs {
    /// The file, as git names it
    #[arg(value_name = "FILE")]
    pub file: String,
    /// The revision to blame from (default: the working tree's file)
    #[arg(value_name = "REV")]
    pub rev: Option<String>,
    /// Machine-readable output (see docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// A revision range (`main..HEAD`); default: the current branch since it
    /// left the default branch, else the last 100 commits of HEAD
    #[arg(value_name = "RANGE")]
    pub range: Option<String>,
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
    /// Remove ended sessions at least this old: 30d, 12h, 90m, 0s (all)
    #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_age)]
    pub older_than: chrono::TimeDelta,
}

/// `<N><unit>`, the unit one of s, m, h, d, w.
fn parse_age(text: &str) -> Result<chrono::TimeDelta, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().map_err(|_| format!("{text:?} is not an age such as 30d, 12h or 90m"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return Err(format!("{text:?} needs a unit: s, m, h, d or w (as in 30d)")),
    };
    n.checked_mul(unit_secs)
        .and_then(chrono::TimeDelta::try_seconds)
        .ok_or_else(|| format!("{text:?} is too long an age"))
}

#[derive(Args, Debug)]
pub struct ShellArgs {
    #[command(subcommand)]
    pub command: ShellCommand,
}

#[derive(Subcommand, Debug)]
pub enum ShellCommand {
    /// Print the init script: eval "$(entire shell init bash)"
    #[command(long_about = "Prints the script that wraps agent commands for SHELL. It defines \
        nothing in a non-interactive shell, or with ENTIRE_SHELL_NO_WRAP=1, and loading it twice \
        changes nothing. Inside an agent session (ENTIRE_SESSION_ID set) the wrappers run agents \
        directly; `command claude` always does.")]
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
pub struct ManArgs {
    /// The command whose page to print (`shell init` for entire-shell-init(1))
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo repository instead of deleting it
    #[arg(long)]
    pub keep: bool,
}

/// `entire hooks …`: what installed hooks call, not for direct use.
#[derive(Parser, Debug)]
#[command(name = "entire hooks")]
struct HooksCli {
    #[command(subcommand)]
    command: HookCommand,
}

#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// A git hook: prepare-commit-msg, commit-msg, post-commit, pre-push
    Git {
        hook: String,
        #[arg(allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Copies stdin (a transcript: JSONL) to stdout with secrets redacted
    /// as the checkpoint writer stores it, with this repository's rules
    Redact,
    /// `<agent> <event>`: an agent's hook event (`claude-code stop`); the
    /// payload is read from stdin
    #[command(external_subcommand)]
    Agent(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_take_a_unit() {
        assert_eq!(parse_age("30d"), Ok(chrono::TimeDelta::days(30)));
        assert_eq!(parse_age("2w"), Ok(chrono::TimeDelta::weeks(2)));
        assert_eq!(parse_age("90m"), Ok(chrono::TimeDelta::minutes(90)));
        assert_eq!(parse_age("0s"), Ok(chrono::TimeDelta::zero()));
        for bad in ["30", "d", "-1d", "1.5h", "1y", "99999999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hook_commands_skip_the_parser_as_clap_would_read_them() {
        let os = |words: &str| words.split(' ').map(OsString::from).collect::<Vec<_>>();
        for line in [
            "entire hooks git prepare-commit-msg .git/COMMIT_EDITMSG message",
            "entire hooks git post-commit",
            "entire hooks git pre-push origin -x",
            "entire hooks claude-code stop",
        ] {
            let fast = hook_command(&os(line)).unwrap_or_else(|| panic!("{line}"));
            let parsed = HooksCli::try_parse_from(&os(line)[1..]).unwrap().command;
            assert_eq!(format!("{fast:?}"), format!("{parsed:?}"), "{line}");
        }
        for line in
            ["entire hooks git --help", "entire hooks redact", "entire hooks git", "entire run hooks git x"]
        {
            assert!(hook_command(&os(line)).is_none(), "{line}");
        }
    }

    #[test]
    fn run_commands_skip_the_parser_as_clap_would_read_them() {
        let os = |words: &str| words.split(' ').map(OsString::from).collect::<Vec<_>>();
        for line in [
            "entire run -- claude",
            "entire run -- claude --resume -p x",
            "entire run -- -weird --help",
            "entire run -- --",
            "entire run claude --help -- x",
            "entire run sh -c true",
        ] {
            let fast = run_command(&os(line)).unwrap_or_else(|| panic!("{line}"));
            let Command::Run(parsed) = Cli::try_parse_from(os(line)).unwrap().command else {
                panic!("{line}")
            };
            assert_eq!(format!("{fast:?}"), format!("{parsed:?}"), "{line}");
        }
        for line in
            ["entire run", "entire run --", "entire run --agent x -- y", "entire run --help", "entire runs x"]
        {
            assert!(run_command(&os(line)).is_none(), "{line}");
        }
        assert!(run_command(&[OsString::from("entire"), OsString::from("run"), OsString::new()]).is_none());
    }

    #[test]
    fn the_cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        HooksCli::command().debug_assert();
    }
}
