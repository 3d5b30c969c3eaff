//! `entire shell`.

use crate::cli::ShellArgs;
use crate::error::{Error, Result};

pub fn run(_args: ShellArgs) -> Result<i32> {
    Err(Error::new("`entire shell` is not built yet"))
}
