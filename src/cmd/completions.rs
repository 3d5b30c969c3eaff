//! `entire completions SHELL` and `entire man`.

use crate::cli::CompletionsArgs;
use crate::error::{Error, Result};

pub fn completions(_args: CompletionsArgs) -> Result<i32> {
    Err(Error::new("`entire completions` is not built yet"))
}

pub fn man() -> Result<i32> {
    Err(Error::new("`entire man` is not built yet"))
}
