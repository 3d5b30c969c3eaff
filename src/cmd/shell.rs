//! `entire shell init <shell>`: prints a script that turns each agent command
//! into a shell function running it through `entire run` (docs/shell.md).
//!
//! The scripts live in `shell/`; each has a line holding `@CMD@`, repeated
//! once per agent command, and `@ENTIRE_BIN@`, the quoted path of this binary.

use std::io::Write;

use crate::agents;
use crate::cli::{InitShell, ShellArgs, ShellCommand, ShellInitArgs};
use crate::error::{Context, Error, Result};
use crate::hookdir::shell_quote;

const BASH: &str = include_str!("../../shell/entire.bash");
const ZSH: &str = include_str!("../../shell/entire.zsh");
const FISH: &str = include_str!("../../shell/entire.fish");

pub fn run(args: ShellArgs) -> Result<i32> {
    match args.command {
        ShellCommand::Init(args) => init(args),
    }
}

fn init(args: ShellInitArgs) -> Result<i32> {
    // `--agents 'claude, codex'`: the spaces around a comma are not part of a name.
    let commands: Vec<String> = match args.agents {
        Some(list) => list.iter().map(|name| name.trim().to_owned()).collect(),
        None => agents::AGENTS.iter().map(|agent| agent.command.to_owned()).collect(),
    };
    for command in &commands {
        check_command(command)?;
    }
    // The absolute path, so the wrappers work whatever PATH the shell ends up with.
    let exe = std::env::current_exe().context("finding the entire binary")?;
    let exe = exe.to_str().ok_or_else(|| {
        Error::internal(format!("the path of the entire binary is not UTF-8: {}", exe.display()))
    })?;
    std::io::stdout().lock().write_all(render(args.shell, exe, &commands).as_bytes())?;
    Ok(0)
}

/// A name that is a plain word in every supported shell, so it can be pasted
/// unquoted as a function name and an argument.
fn check_command(name: &str) -> Result<()> {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    // Only dots would define a function named `.`, hiding the shell's `source`.
    let only_dots = name.chars().all(|c| c == '.');
    if plain && !only_dots && !name.starts_with('-') {
        return Ok(());
    }
    Err(Error::usage(format!("invalid agent command {name:?} in --agents"))
        .with_hint("use letters, digits, '.', '_' and '-', not starting with '-' and not only dots"))
}

fn render(shell: InitShell, exe: &str, commands: &[String]) -> String {
    let (template, exe) = match shell {
        InitShell::Bash => (BASH, shell_quote(exe)),
        InitShell::Zsh => (ZSH, shell_quote(exe)),
        InitShell::Fish => (FISH, fish_quote(exe)),
    };
    let mut script = String::new();
    for line in template.lines() {
        if line.contains("@CMD@") {
            for command in commands {
                let agent = agents::session_name(command.as_ref());
                script += &line.replace("@CMD@", command).replace("@AGENT@", &agent);
                script.push('\n');
            }
        } else {
            script += &line.replace("@ENTIRE_BIN@", &exe);
            script.push('\n');
        }
    }
    script
}

/// Inside fish single quotes only `\\` and `\'` are escapes.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}
