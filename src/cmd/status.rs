//! `entire status`.

use crate::cli::StatusArgs;
use crate::error::{Error, Result};

pub fn run(_args: StatusArgs) -> Result<i32> {
    Err(Error::new("`entire status` is not built yet"))
}
