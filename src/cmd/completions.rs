//! `entire completions SHELL`, generated from the clap definitions so they
//! never drift from the real CLI.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Result;

pub fn completions(args: CompletionsArgs) -> Result<i32> {
    // Buffered: clap_complete panics on a write error, we report it instead.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "entire", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(0)
}
