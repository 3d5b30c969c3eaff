//! `entire clean`.

use crate::cli::CleanArgs;
use crate::error::{Error, Result};

pub fn run(_args: CleanArgs) -> Result<i32> {
    Err(Error::new("`entire clean` is not built yet"))
}
