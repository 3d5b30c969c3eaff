//! `entire sessions`.

use crate::cli::SessionsArgs;
use crate::error::{Error, Result};

pub fn run(_args: SessionsArgs) -> Result<i32> {
    Err(Error::new("`entire sessions` is not built yet"))
}
