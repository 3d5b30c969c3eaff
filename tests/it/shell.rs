//! `entire shell init`, `entire completions` and `entire man`. The init
//! scripts run in real bash, zsh and fish started without rc files, and call
//! a fake `claude` on PATH that logs what it received.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::support::{World, copy_entire, entire_bin, script, stdout};

/// What `entire shell init` wraps without `--agents`.
const DEFAULT_AGENTS: [&str; 8] =
    ["claude", "codex", "gemini", "aider", "opencode", "cursor-agent", "copilot", "goose"];

/// Appends one call to $AGENT_LOG: its session, the live registry while it
/// runs (names and records), its argv. Exits 7, which nothing else returns.
const FAKE_AGENT: &str = r#"#!/bin/sh
{
    echo call
    echo "session=${ENTIRE_SESSION_ID-}"
    for entry in "$ENTIRE_STATE_DIR"/live/*.json; do
        if [ -e "$entry" ]; then
            echo "live=${entry##*/}"
            printf 'record=%s\n' "$(cat "$entry")"
        fi
    done
    for arg in "$@"; do printf 'arg=%s\n' "$arg"; done
} >>"$AGENT_LOG"
exit 7
"#;

#[derive(Clone, Copy, Debug)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// `script` in this shell without rc files, with the fake agent first on
    /// PATH and `$ENTIRE` naming the binary under test. Non-interactive bash
    /// and zsh also get `-e -u`, which the init script must survive. The
    /// script's stderr joins stdout; the shell's own (interactive shells
    /// without a terminal complain about job control) is left out.
    fn command(self, world: &World, interactive: bool, script: &str) -> Command {
        let args: &[&str] = match (self, interactive) {
            (Shell::Bash, true) => &["--norc", "--noprofile", "-i"],
            (Shell::Bash, false) => &["--norc", "--noprofile", "-e", "-u", "-o", "pipefail"],
            (Shell::Zsh, true) => &["-f", "-i"],
            (Shell::Zsh, false) => &["-f", "-e", "-u"],
            (Shell::Fish, true) => &["--no-config", "-i"],
            (Shell::Fish, false) => &["--no-config"],
        };
        let script = match self {
            Shell::Fish => format!("begin\n{script}\nend 2>&1"),
            _ => format!("{{\n{script}\n}} 2>&1"),
        };
        let path = std::env::join_paths(
            std::iter::once(world.path().join("bin"))
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .expect("PATH");
        let mut cmd = world.cmd(self.name(), world.path());
        cmd.args(args)
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .env("XDG_STATE_HOME", world.path().join("xdg-state"))
            .env("ENTIRE", entire_bin())
            .env("AGENT_LOG", world.path().join("agent.log"))
            .env("TERM", "dumb");
        cmd
    }

    /// Loading the script the way docs/shell.md tells users to.
    fn init(self, extra: &str) -> String {
        match self {
            Shell::Fish => format!(r#""$ENTIRE" shell init fish {extra} | source"#),
            _ => format!(r#"eval "$("$ENTIRE" shell init {} {extra})""#, self.name()),
        }
    }

    /// Prints the names of all defined functions, one a line.
    fn list_functions(self) -> &'static str {
        match self {
            // compgen fails when there is nothing to list.
            Shell::Bash => "{ compgen -A function || true; }",
            Shell::Zsh => "print -rl -- ${(ok)functions}",
            Shell::Fish => "functions --all --names",
        }
    }

    /// `$?` in this shell.
    fn status(self) -> &'static str {
        match self {
            Shell::Fish => "$status",
            _ => "$?",
        }
    }
}

/// A world with the fake `claude` in its `bin/`.
fn agent_world() -> World {
    let world = World::new();
    std::fs::create_dir(world.path().join("bin")).expect("bin dir");
    script(&world.path().join("bin/claude"), FAKE_AGENT);
    world
}

#[derive(Debug, Default, PartialEq)]
struct AgentCall {
    session: String,
    /// Live-registry file names, and the agent each entry records.
    live: Vec<String>,
    live_agents: Vec<String>,
    args: Vec<String>,
}

fn agent_calls(world: &World) -> Vec<AgentCall> {
    let log = std::fs::read_to_string(world.path().join("agent.log")).unwrap_or_default();
    let mut calls: Vec<AgentCall> = Vec::new();
    for line in log.lines() {
        if line == "call" {
            calls.push(AgentCall::default());
            continue;
        }
        let call = calls.last_mut().expect("log starts with a call");
        let (key, value) = line.split_once('=').expect("key=value");
        match key {
            "session" => call.session = value.to_owned(),
            "live" => call.live.push(value.to_owned()),
            "record" => {
                let entry: serde_json::Value = serde_json::from_str(value).expect("live entry");
                call.live_agents.push(entry["session"]["agent"].as_str().unwrap_or("").to_owned());
            }
            "arg" => call.args.push(value.to_owned()),
            _ => panic!("unexpected agent log line {line:?}"),
        }
    }
    calls
}

/// `entire ARGS` in an isolated world; its stdout, trimmed.
fn entire(args: &[&str]) -> String {
    let world = World::new();
    stdout(world.entire(world.path()).args(args).output().expect("run entire"))
}

/// Sources the script once in a fresh world with `env` added; returns what
/// the sourcing printed and the functions it added.
fn load(shell: Shell, interactive: bool, env: &[(&str, &str)]) -> (String, BTreeSet<String>) {
    let list = shell.list_functions();
    let script = format!("{list}\necho '#'\n{}\necho '#'\n{list}", shell.init(""));
    let world = World::new();
    let mut cmd = shell.command(&world, interactive, &script);
    let text = stdout(cmd.envs(env.iter().copied()).output().expect("run shell"));
    let mut parts = vec![Vec::new()];
    for line in text.lines() {
        match line {
            "#" => parts.push(Vec::new()),
            _ => parts.last_mut().expect("a part").push(line),
        }
    }
    let [before, printed, after] = &parts[..] else { panic!("unexpected output {text:?}") };
    let names = |list: &[&str]| -> BTreeSet<String> { list.iter().map(|s| s.to_string()).collect() };
    let added = names(after).difference(&names(before)).cloned().collect();
    (printed.join("\n"), added)
}

/// The script for the default agents and for an unusual list.
fn scripts(shell: Shell) -> Vec<String> {
    [&[][..], &["--agents", "claude,my.agent_2,x-y,007"]]
        .iter()
        .map(|agents| entire(&[&["shell", "init", shell.name()], *agents].concat()))
        .collect()
}

fn script_parses(shell: Shell) {
    let world = World::new();
    let file = world.path().join("entire-init");
    for script in scripts(shell) {
        std::fs::write(&file, script).expect("write script");
        let check = match shell {
            Shell::Bash | Shell::Zsh => "-n",
            Shell::Fish => "--no-execute",
        };
        stdout(world.cmd(shell.name(), world.path()).arg(check).arg(&file).output().expect("parse"));
    }
}

/// shellcheck has no zsh mode and fish is a language of its own: bash only.
#[test]
#[ignore = "needs shellcheck: run scripts/test"]
fn bash_script_passes_shellcheck() {
    let world = World::new();
    let file = world.path().join("entire-init");
    for script in scripts(Shell::Bash) {
        std::fs::write(&file, script).expect("write script");
        let mut shellcheck = world.cmd("shellcheck", world.path());
        stdout(shellcheck.args(["-s", "bash"]).arg(&file).output().expect("run shellcheck"));
    }
}

fn non_interactive_shell_is_untouched(shell: Shell) {
    assert_eq!(load(shell, false, &[]), (String::new(), BTreeSet::new()));
}

fn interactive_shell_gets_wrappers(shell: Shell) {
    let helper = match shell {
        Shell::Bash => "__entire_direct",
        Shell::Zsh | Shell::Fish => "__entire_wrap",
    };
    let expected = DEFAULT_AGENTS.iter().copied().chain([helper]).map(str::to_owned);
    assert_eq!(load(shell, true, &[]), (String::new(), expected.collect()));
}

fn opt_out_defines_nothing(shell: Shell) {
    let opt_out = [("ENTIRE_SHELL_NO_WRAP", "1")];
    assert_eq!(load(shell, true, &opt_out), (String::new(), BTreeSet::new()));
}

fn wrapper_runs_agent_in_one_session(shell: Shell) {
    let world = agent_world();
    let status = shell.status();
    let is_function = match shell {
        Shell::Fish => "functions -q late",
        _ => "typeset -f late >/dev/null",
    };
    // The second load asks for another agent: the guard must ignore it.
    let script = format!(
        "{}\n{}\n{is_function} && echo late-defined\n\
         claude 'a b' '*' -- ''\necho wrapped={status}\n\
         command claude plain\necho direct={status}",
        shell.init(""),
        shell.init("--agents late"),
    );
    let output = shell.command(&world, true, &script).output().expect("run shell");
    assert_eq!(stdout(output), "wrapped=7\ndirect=7");

    let calls = agent_calls(&world);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let session = calls[0].session.clone();
    assert!(!session.is_empty(), "the wrapper must start a session: {calls:?}");
    assert_eq!(
        calls[0],
        AgentCall {
            live: vec![format!("{session}.json")],
            live_agents: vec!["claude-code".into()],
            args: ["a b", "*", "--", ""].map(String::from).to_vec(),
            session,
        }
    );
    assert_eq!(calls[1], AgentCall { args: vec!["plain".into()], ..AgentCall::default() });
}

fn agent_inside_a_session_runs_directly(shell: Shell) {
    let world = agent_world();
    let script = format!("{}\nclaude x\necho status={}", shell.init(""), shell.status());
    let mut cmd = shell.command(&world, true, &script);
    cmd.env("ENTIRE_SESSION_ID", "outer-session");
    assert_eq!(stdout(cmd.output().expect("run shell")), "status=7");
    assert_eq!(
        agent_calls(&world),
        [AgentCall { session: "outer-session".into(), args: vec!["x".into()], ..AgentCall::default() }]
    );
}

fn missing_binary_runs_agent_with_one_warning(shell: Shell) {
    let world = agent_world();
    // Quotes, spaces, `$` and backslashes in the path must survive each shell's quoting.
    let dir = world.path().join(r#"it's "odd" $HOME \' \\ dir"#);
    std::fs::create_dir(&dir).expect("odd dir");
    let copy = dir.join("entire");
    copy_entire(&copy);
    let warnings = world.path().join("warnings");
    let status = shell.status();
    let script = format!(
        "{}\nclaude first\necho present={status}\nrm -- \"$ENTIRE\"\n\
         claude second 2>\"$WARNINGS\"\necho missing={status}",
        shell.init("")
    );
    let mut cmd = shell.command(&world, true, &script);
    cmd.env("ENTIRE", &copy).env("WARNINGS", &warnings);
    assert_eq!(stdout(cmd.output().expect("run shell")), "present=7\nmissing=7");
    assert_eq!(
        std::fs::read_to_string(&warnings).expect("warnings"),
        format!("entire: {} not found; running claude without a session\n", copy.display())
    );

    let calls = agent_calls(&world);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].live.len(), 1, "the copy starts a session: {calls:?}");
    assert_eq!(calls[1], AgentCall { args: vec!["second".into()], ..AgentCall::default() });
}

/// With hashing off (`set +h`) the bash wrapper cannot name the launcher
/// after the agent; it calls it by its path, and the agent is still recorded.
#[test]
fn bash_without_hashing_still_records() {
    let world = agent_world();
    let script = format!("set +h\n{}\nclaude x\necho wrapped=$?", Shell::Bash.init(""));
    let output = Shell::Bash.command(&world, true, &script).output().expect("run bash");
    assert_eq!(stdout(output), "wrapped=7");
    let calls = agent_calls(&world);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (&calls[0].live_agents[..], &calls[0].args[..]),
        (&["claude-code".to_owned()][..], &["x".to_owned()][..])
    );
}

/// The name the bash wrapper starts the launcher under: `claude.entire
/// ARGS…` is `entire run -- claude ARGS…`, every argument the agent's.
#[test]
fn a_name_ending_in_dot_entire_runs_that_agent() {
    let world = agent_world();
    let link = world.path().join("claude.entire");
    std::os::unix::fs::symlink(entire_bin(), &link).expect("link");
    let output = Shell::Bash
        .command(&world, false, "\"$LINK\" --help -- '' run || echo status=$?")
        .env("LINK", &link)
        .output()
        .expect("run bash");
    assert_eq!(stdout(output), "status=7");
    let calls = agent_calls(&world);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].live_agents, ["claude-code"]);
    assert_eq!(calls[0].args, ["--help", "--", "", "run"]);
}

#[test]
fn init_scripts_are_pinned() {
    let exe = Path::new(&entire_bin()).canonicalize().expect("entire path");
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let script = entire(&["shell", "init", shell.name()])
            .replace(exe.to_str().expect("UTF-8 path"), "/path/to/entire");
        insta::assert_snapshot!(format!("init_{}", shell.name()), script);
    }
}

const PROMPT: &str = "[entire-test]$ ";

/// An agent that says `ready`, waits for `$AGENT_GO`, says `done` and
/// exits 7.
const WAITING_AGENT: &str = r#"#!/bin/sh
echo ready
while [ ! -e "$AGENT_GO" ]; do sleep 0.02; done
echo done
exit 7
"#;

/// Ctrl-Z stops a wrapped agent and `fg` brings it back, in a real
/// interactive shell in a terminal; the agent's exit status is the
/// shell's `$?` afterwards; `fg %claude` finds it among other stopped jobs.
/// bash lists the job under the agent's name; zsh without a name.
fn ctrl_z_and_fg_keep_the_agent_status(shell: Shell) {
    let world = World::new();
    std::fs::create_dir(world.path().join("bin")).expect("bin dir");
    script(&world.path().join("bin/claude"), WAITING_AGENT);
    let go = world.path().join("go");
    let cmd = shell.command(&world, true, "");
    let args: &[&str] = match shell {
        Shell::Bash => &["--norc", "--noprofile", "--noediting", "-i"],
        Shell::Zsh => &["-f", "-i", "+Z"],
        Shell::Fish => unreachable!("fish is not tested here"),
    };
    // The same environment as `command`, without its `-c` script.
    let mut terminal = std::process::Command::new(cmd.get_program());
    terminal.args(args).current_dir(world.path()).env_clear();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            terminal.env(key, value);
        }
    }
    terminal.env("PS1", PROMPT).env("PROMPT", PROMPT).env("AGENT_GO", &go).env("TMPDIR", world.path());
    let session = rexpect::session::spawn_command(terminal, Some(30_000)).expect("spawn the shell");
    let mut sh = rexpect::session::PtyReplSession::new(session, PROMPT.to_owned());
    sh.wait_for_prompt().expect("the first prompt");
    if let Shell::Zsh = shell {
        sh.send_line("unsetopt prompt_cr prompt_sp").unwrap();
        sh.wait_for_prompt().unwrap();
    }
    sh.send_line(&shell.init("")).unwrap();
    sh.wait_for_prompt().unwrap();
    sh.send_line("claude hello").unwrap();
    sh.exp_string("ready").expect("the agent started");
    sh.send_control('z').unwrap();
    sh.wait_for_prompt().expect("the prompt after Ctrl-Z");
    // A second stopped job, so that `fg %claude` has to pick.
    sh.send_line("sh -c 'echo up-$((6 * 7)); exec sleep 60'").unwrap();
    sh.exp_string("up-42").expect("the second job started");
    sh.send_control('z').unwrap();
    sh.wait_for_prompt().expect("the prompt after the second Ctrl-Z");
    sh.send_line("jobs").unwrap();
    let jobs = sh.wait_for_prompt().unwrap();
    let first = jobs.lines().find(|line| line.starts_with("[1]")).unwrap_or_default();
    match shell {
        // bash names the job after the command inside the function.
        Shell::Bash => assert!(first.contains("Stopped") && first.contains("claude.entire \"$@\""), "{jobs}"),
        // zsh shows the stopped launcher's text, which it never sets inside a function.
        _ => assert_eq!(first.trim_end(), "[1]  - suspended", "{jobs}"),
    }
    std::fs::write(&go, "").unwrap();
    sh.send_line("fg %claude").unwrap();
    sh.exp_string("done").expect("the agent resumed");
    sh.wait_for_prompt().unwrap();
    sh.send_line("echo \"rc=$?\"").unwrap();
    sh.exp_string("rc=7").expect("the agent's status");
    sh.wait_for_prompt().unwrap();
    let stray = std::fs::read_dir(world.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("entire-status."))
        .count();
    assert_eq!(stray, 0, "the status file is removed");
    sh.process_mut().kill(rexpect::process::signal::Signal::SIGHUP).unwrap();
}

mod job_control {
    #[test]
    fn bash() {
        super::ctrl_z_and_fg_keep_the_agent_status(super::Shell::Bash)
    }

    #[test]
    #[ignore = "needs zsh: run scripts/test"]
    fn zsh() {
        super::ctrl_z_and_fg_keep_the_agent_status(super::Shell::Zsh)
    }
}

/// Each test below, once per shell; the shells a fresh machine lacks are
/// ignored by plain `cargo test` (scripts/test installs and runs them).
macro_rules! per_shell {
    ($tests:tt, $($module:ident => $shell:ident $(#[$attr:meta])*),*) => {
        $( per_shell!(@module $module $shell [$(#[$attr])*] $tests); )*
    };
    (@module $module:ident $shell:ident $attrs:tt [$($test:ident),*]) => {
        mod $module {
            $( per_shell!(@test $test $shell $attrs); )*
        }
    };
    (@test $test:ident $shell:ident [$(#[$attr:meta])*]) => {
        #[test]
        $(#[$attr])*
        fn $test() {
            super::$test(super::Shell::$shell)
        }
    };
}

per_shell!(
    [
        script_parses,
        non_interactive_shell_is_untouched,
        interactive_shell_gets_wrappers,
        opt_out_defines_nothing,
        wrapper_runs_agent_in_one_session,
        agent_inside_a_session_runs_directly,
        missing_binary_runs_agent_with_one_warning
    ],
    bash => Bash,
    zsh => Zsh #[ignore = "needs zsh: run scripts/test"],
    fish => Fish #[ignore = "needs fish: run scripts/test"]
);

#[test]
fn invalid_agent_names_are_usage_errors() {
    let world = World::new();
    for bad in ["bad name", "-x", ".", "..", "", "a/b", "$(id)", "a;b", "ä"] {
        let output = world
            .entire(world.path())
            .args(["shell", "init", "bash", "--agents"])
            .arg(format!("claude,{bad}"))
            .output()
            .expect("run entire");
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert_eq!(output.stdout, b"", "{bad:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("invalid agent command {bad:?}")), "{stderr}");
    }
}

#[test]
fn agent_lists_may_have_spaces_after_commas() {
    let spaced = entire(&["shell", "init", "bash", "--agents", "claude, codex ,aider"]);
    assert_eq!(spaced, entire(&["shell", "init", "bash", "--agents", "claude,codex,aider"]));
    assert!(spaced.contains("function codex {"), "{spaced}");
}

#[test]
fn completions_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = entire(&["completions", shell]);
        for sub in ["run", "enable", "status", "sessions", "explain"] {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
}

#[test]
fn man_page_is_roff_about_entire() {
    let page = entire(&["man"]);
    assert!(page.starts_with(".TH") || page.starts_with(".ie"), "{page:.80}");
    assert!(page.contains("entire"));
}
