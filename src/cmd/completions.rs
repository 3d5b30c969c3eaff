//! `entire completions SHELL` and `entire man`, generated from the clap
//! definitions so they never drift from the real CLI.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, Result};

pub fn completions(args: CompletionsArgs) -> Result<i32> {
    // Buffered: clap_complete panics on a write error, we report it instead.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "entire", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(0)
}

/// One page per command, as clap_mangen names them in SEE ALSO-style lists:
/// `entire man run` prints entire-run(1).
pub fn man(args: ManArgs) -> Result<i32> {
    let mut page = Cli::command().disable_help_subcommand(true);
    page.build(); // names each subcommand `entire-<name>`, as the pages refer to it
    for name in &args.command {
        page = page.find_subcommand(name).filter(|sub| !sub.is_hide_set()).cloned().ok_or_else(|| {
            Error::usage(format!("no man page for `entire {}`", args.command.join(" ")))
                .with_hint("`entire man` lists the commands, each with a page of its own")
        })?;
    }
    clap_mangen::Man::new(page).render(&mut std::io::stdout().lock())?;
    Ok(0)
}
