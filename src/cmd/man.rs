//! `entire man [COMMAND]`: one page per command, generated from the clap
//! definitions (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, the pages of its
//! commands), with the sections clap knows nothing of: ENVIRONMENT, EXIT
//! STATUS, FILES and SEE ALSO.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{Error, Result};

/// The variables entire reads, and what each does.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "ENTIRE_SESSION_ID",
        "Set by entire run for the agent and everything it starts: the session that owns the commits \
         made there. A value that names no live session is not used (ENTIRE_DEBUG=1 says why). Inside \
         a session, the shell wrappers run agents directly.",
    ),
    (
        "ENTIRE_STATE_DIR",
        "Where the registry of live sessions is kept (live/ in it). Default: $XDG_STATE_HOME/entire, \
         else ~/.local/state/entire.",
    ),
    ("ENTIRE_DEBUG", "Set to 1: each git hook prints how it looked for the commit's owner, on stderr."),
    ("ENTIRE_SHELL_NO_WRAP", "Set to 1 before the shell init line: the script defines nothing."),
    ("NO_COLOR", "Set and not empty: no colour. Colour is only ever used on a terminal."),
    ("XDG_STATE_HOME", "See ENTIRE_STATE_DIR."),
    ("GIT_DIR, GIT_WORK_TREE", "Honoured as git honours them: they say which repository is meant."),
];

/// The files entire reads and writes; `<git-dir>` is the repository's
/// common git directory (shared by its linked worktrees).
const FILES: &[(&str, &str)] = &[
    (".entire/settings.json", "The repository's settings, committed: enabled, resolution.recency…"),
    (".entire/settings.local.json", "This clone's own settings, not committed; they win."),
    ("<git-dir>/entire-hooks/", "entire's git hooks, which core.hooksPath points to while enabled."),
    ("<git-dir>/entire-sessions/", "The session records of this repository, and pending checkpoints."),
    ("$ENTIRE_STATE_DIR/live/", "One entry per running entire run, for hooks in any repository."),
    ("entire/checkpoints/v1", "The branch that holds each checkpoint's metadata (a git ref, not a file)."),
];

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    ("1", "A failure, said on stderr (entire: error: …)."),
    ("2", "A command line that does not make sense."),
];

/// What one command's exit status adds to [`EXIT_STATUS`], or says
/// instead of it for the same status.
fn exit_status_of(command: &[String]) -> &'static [(&'static str, &'static str)] {
    match command.first().map(String::as_str) {
        Some("run") => &[
            ("126", "CMD was found but cannot be run."),
            ("127", "CMD was not found."),
            (
                "other",
                "The agent's own exit status; an agent killed by a signal kills entire by the same signal.",
            ),
        ],
        Some("doctor") => {
            &[("1", "A failure, or a problem that needs attention (after --fix: one it could not fix).")]
        }
        _ => &[],
    }
}

pub fn man(args: ManArgs) -> Result<i32> {
    let mut page = Cli::command().disable_help_subcommand(true);
    page.build(); // names each subcommand `entire-<name>`, as the pages refer to it
    for name in &args.command {
        page = page.find_subcommand(name).filter(|sub| !sub.is_hide_set()).cloned().ok_or_else(|| {
            Error::usage(format!("no man page for `entire {}`", args.command.join(" ")))
                .with_hint("`entire man` lists the commands, each with a page of its own")
        })?;
    }
    let top = args.command.is_empty();
    let man = clap_mangen::Man::new(page.clone());
    let mut text = Vec::new();
    man.render_title(&mut text)?;
    man.render_name_section(&mut text)?;
    man.render_synopsis_section(&mut text)?;
    man.render_description_section(&mut text)?;
    if page.get_arguments().any(|arg| !arg.is_hide_set()) {
        man.render_options_section(&mut text)?;
    }
    if page.get_subcommands().any(|sub| !sub.is_hide_set()) {
        man.render_subcommands_section(&mut text)?;
    }
    let mut exit_status = EXIT_STATUS.to_vec();
    for &(status, text) in exit_status_of(&args.command) {
        match exit_status.iter_mut().find(|(s, _)| *s == status) {
            Some(entry) => entry.1 = text,
            None => exit_status.push((status, text)),
        }
    }
    for (title, entries) in [("ENVIRONMENT", ENVIRONMENT), ("EXIT STATUS", &exit_status), ("FILES", FILES)] {
        text.extend(section(title, entries).into_bytes());
    }
    let see_also = if top { "git(1), githooks(5)" } else { "entire(1), git(1), githooks(5)" };
    text.extend(format!(".SH \"SEE ALSO\"\n{}\n", escape(see_also)).into_bytes());
    if top {
        man.render_version_section(&mut text)?;
    }
    std::io::stdout().lock().write_all(&text)?;
    Ok(0)
}

/// A roff section of tagged paragraphs: the tag in bold, then its text.
fn section(title: &str, entries: &[(&str, &str)]) -> String {
    let mut roff = format!(".SH \"{title}\"\n");
    for (tag, text) in entries {
        roff.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", escape(tag), escape(text)));
    }
    roff
}

/// Text as roff shows it literally: backslashes and hyphens escaped, and a
/// line that would start with a control character guarded.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with(['.', '\'']) { format!("\\&{text}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_text_is_escaped() {
        assert_eq!(escape("entire-run"), "entire\\-run");
        assert_eq!(escape(".entire/x"), "\\&.entire/x");
        assert_eq!(escape("a\\b"), "a\\eb");
        assert_eq!(section("FILES", &[("f", "g")]), ".SH \"FILES\"\n.TP\n\\fBf\\fR\ng\n");
    }
}
