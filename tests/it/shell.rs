//! `entire shell init`, `entire completions` and `entire man`. The init
//! scripts run in real bash, zsh and fish started without rc files, and call
//! a fake `claude` on PATH that logs what it received.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::Sandbox;

const ENTIRE: &str = env!("CARGO_BIN_EXE_entire");

/// What `entire shell init` wraps without `--agents`.
const DEFAULT_AGENTS: [&str; 7] = ["claude", "codex", "gemini", "aider", "opencode", "cursor-agent", "goose"];

/// Appends one call to $AGENT_LOG: its session, the live registry as it is
/// while the agent runs, its argv. Exits 7, a status nothing else produces.
const FAKE_AGENT: &str = r#"#!/bin/sh
{
    echo call
    echo "session=${ENTIRE_SESSION_ID-}"
    for entry in "$ENTIRE_STATE_DIR"/live/*; do
        if [ -e "$entry" ]; then echo "live=${entry##*/}"; fi
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
    /// and zsh also get `-e -u`, which the init script must survive.
    fn command(self, sandbox: &Sandbox, interactive: bool, script: &str) -> Command {
        let args: &[&str] = match (self, interactive) {
            (Shell::Bash, true) => &["--norc", "--noprofile", "-i"],
            (Shell::Bash, false) => &["--norc", "--noprofile", "-e", "-u", "-o", "pipefail"],
            (Shell::Zsh, true) => &["-f", "-i"],
            (Shell::Zsh, false) => &["-f", "-e", "-u"],
            (Shell::Fish, true) => &["--no-config", "-i"],
            (Shell::Fish, false) => &["--no-config"],
        };
        let path = std::env::join_paths(
            std::iter::once(sandbox.path().join("bin"))
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .expect("PATH");
        let mut cmd = sandbox.command(self.name());
        cmd.args(args)
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .env("ENTIRE", ENTIRE)
            .env("AGENT_LOG", sandbox.path().join("agent.log"))
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

    /// Script text for `$?` after a command.
    fn status(self) -> &'static str {
        match self {
            Shell::Fish => "$status",
            _ => "$?",
        }
    }
}

/// A sandbox with the fake `claude` in its `bin/`.
fn agent_sandbox() -> Sandbox {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let bin = sandbox.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    std::fs::write(bin.join("claude"), FAKE_AGENT).expect("fake agent");
    std::fs::set_permissions(bin.join("claude"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    sandbox
}

fn run(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("start shell");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

#[derive(Debug, Default, PartialEq)]
struct AgentCall {
    session: String,
    live: Vec<String>,
    args: Vec<String>,
}

fn agent_calls(sandbox: &Sandbox) -> Vec<AgentCall> {
    let log = std::fs::read_to_string(sandbox.path().join("agent.log")).unwrap_or_default();
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
            "arg" => call.args.push(value.to_owned()),
            _ => panic!("unexpected agent log line {line:?}"),
        }
    }
    calls
}

/// The binary under test in a sandbox; panics unless it succeeds.
fn entire(sandbox: &Sandbox, args: &[&str]) -> String {
    let mut cmd = sandbox.command(ENTIRE);
    cmd.args(args);
    stdout(&run(&mut cmd))
}

/// Sources the script once in a fresh sandbox with `env` added; returns what
/// the sourcing printed (both streams) and the functions it added.
fn load(shell: Shell, interactive: bool, env: &[(&str, &str)]) -> (String, BTreeSet<String>) {
    let list = shell.list_functions();
    let init = shell.init("");
    let script = match shell {
        Shell::Fish => format!("{list}; echo '#'; begin; {init}; end 2>&1; echo '#'; {list}"),
        _ => format!("{list}; echo '#'; {{ {init}; }} 2>&1; echo '#'; {list}"),
    };
    let sandbox = Sandbox::new();
    let mut cmd = shell.command(&sandbox, interactive, &script);
    cmd.envs(env.iter().copied());
    let output = run(&mut cmd);
    if !interactive {
        // Interactive shells without a terminal complain about job control; others must be quiet.
        assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    }
    let text = stdout(&output);
    let [before, printed, after] = text.split("#\n").collect::<Vec<_>>()[..] else {
        panic!("unexpected output {text:?}")
    };
    let names = |list: &str| -> BTreeSet<String> {
        list.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
    };
    let added = names(after).difference(&names(before)).cloned().collect();
    (printed.to_owned(), added)
}

fn script_parses(shell: Shell) {
    let sandbox = Sandbox::new();
    for agents in [&[][..], &["--agents", "claude,my.agent_2,x-y,007"]] {
        let file = sandbox.path().join(format!("entire.{}", shell.name()));
        let script = entire(&sandbox, &[&["shell", "init", shell.name()], agents].concat());
        std::fs::write(&file, script).expect("write script");
        let mut check = sandbox.command(shell.name());
        match shell {
            Shell::Bash | Shell::Zsh => check.arg("-n"),
            Shell::Fish => check.arg("--no-execute"),
        };
        run(check.arg(&file));
        // shellcheck has no zsh mode and fish is its own language: bash only.
        if let Shell::Bash = shell {
            run(sandbox.command("shellcheck").args(["-s", "bash"]).arg(&file));
        }
    }
}

fn non_interactive_shell_is_untouched(shell: Shell) {
    assert_eq!(load(shell, false, &[]), (String::new(), BTreeSet::new()));
}

fn interactive_shell_gets_wrappers(shell: Shell) {
    let expected = DEFAULT_AGENTS.iter().chain(&["__entire_wrap"]).map(|s| s.to_string());
    assert_eq!(load(shell, true, &[]), (String::new(), expected.collect()));
}

fn opt_out_defines_nothing(shell: Shell) {
    let opt_out = [("ENTIRE_SHELL_NO_WRAP", "1")];
    assert_eq!(load(shell, true, &opt_out), (String::new(), BTreeSet::new()));
}

fn wrapper_runs_agent_in_one_session(shell: Shell) {
    let sandbox = agent_sandbox();
    let status = shell.status();
    let defined = match shell {
        Shell::Fish => "functions -q late",
        _ => "typeset -f late >/dev/null",
    };
    // The second load asks for another agent: the guard must ignore it.
    let script = format!(
        "{}\n{}\n{defined} && echo late-defined\n\
         claude 'a b' '*' -- ''\necho wrapped={status}\n\
         command claude plain\necho direct={status}\n",
        shell.init(""),
        shell.init("--agents late"),
    );
    let output = run(&mut shell.command(&sandbox, true, &script));
    assert_eq!(stdout(&output), "wrapped=7\ndirect=7\n");

    let calls = agent_calls(&sandbox);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let session = calls[0].session.clone();
    assert!(!session.is_empty(), "the wrapper must start a session: {calls:?}");
    assert_eq!(
        calls[0],
        AgentCall {
            live: vec![format!("{session}.json")],
            args: ["a b", "*", "--", ""].map(String::from).to_vec(),
            session,
        }
    );
    assert_eq!(calls[1], AgentCall { args: vec!["plain".into()], ..AgentCall::default() });
}

fn agent_inside_a_session_runs_directly(shell: Shell) {
    let sandbox = agent_sandbox();
    let script = format!("{}\nclaude x\necho status={}\n", shell.init(""), shell.status());
    let mut cmd = shell.command(&sandbox, true, &script);
    cmd.env("ENTIRE_SESSION_ID", "outer-session");
    assert_eq!(stdout(&run(&mut cmd)), "status=7\n");
    assert_eq!(
        agent_calls(&sandbox),
        [AgentCall { session: "outer-session".into(), live: vec![], args: vec!["x".into()] }]
    );
}

fn missing_binary_runs_agent_with_one_warning(shell: Shell) {
    let sandbox = agent_sandbox();
    // Quotes, spaces and `$` in the path must survive each shell's quoting.
    let dir = sandbox.path().join(r#"it's "odd" $HOME \ dir"#);
    std::fs::create_dir(&dir).expect("odd dir");
    let copy = dir.join("entire");
    std::fs::copy(ENTIRE, &copy).expect("copy entire");
    let warnings = sandbox.path().join("warnings");
    let status = shell.status();
    let script = format!(
        "{}\nclaude first\necho present={status}\nrm -- \"$ENTIRE\"\n\
         claude second 2>\"$WARNINGS\"\necho missing={status}\n",
        shell.init("")
    );
    let mut cmd = shell.command(&sandbox, true, &script);
    cmd.env("ENTIRE", &copy).env("WARNINGS", &warnings);
    assert_eq!(stdout(&run(&mut cmd)), "present=7\nmissing=7\n");

    let calls = agent_calls(&sandbox);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(!calls[0].session.is_empty(), "first call runs in a session: {calls:?}");
    assert_eq!(calls[1], AgentCall { args: vec!["second".into()], ..AgentCall::default() });
    assert_eq!(
        std::fs::read_to_string(&warnings).expect("warnings"),
        format!("entire: {} not found; running claude without a session\n", copy.display())
    );
}

fn snapshot(shell: Shell) {
    let exe = Path::new(ENTIRE).canonicalize().expect("entire path");
    let script = entire(&Sandbox::new(), &["shell", "init", shell.name()])
        .replace(exe.to_str().expect("UTF-8 path"), "/path/to/entire");
    insta::assert_snapshot!(format!("init_{}", shell.name()), script);
}

macro_rules! per_shell {
    ($tests:tt, $($module:ident => $shell:ident),*) => {
        $( per_shell!(@module $module $shell $tests); )*
    };
    (@module $module:ident $shell:ident [$($test:ident),*]) => {
        mod $module {
            $( #[test] fn $test() { super::$test(super::Shell::$shell) } )*
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
        missing_binary_runs_agent_with_one_warning,
        snapshot
    ],
    bash => Bash,
    zsh => Zsh,
    fish => Fish
);

#[test]
fn invalid_agent_names_are_usage_errors() {
    let sandbox = Sandbox::new();
    for bad in ["bad name", "-x", ".", "..", "", "a/b", "$(id)", "a;b", "ä"] {
        let output = sandbox
            .command(ENTIRE)
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
fn completions_name_the_subcommands() {
    let sandbox = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = entire(&sandbox, &["completions", shell]);
        for sub in ["run", "enable", "status", "sessions", "explain"] {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
}

#[test]
fn man_page_is_roff_about_entire() {
    let page = entire(&Sandbox::new(), &["man"]);
    assert!(page.starts_with(".TH") || page.starts_with(".ie"), "{page:.80}");
    assert!(page.contains("entire"));
}
