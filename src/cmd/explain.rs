//! `entire explain`.

use crate::cli::ExplainArgs;
use crate::error::{Error, Result};

pub fn run(_args: ExplainArgs) -> Result<i32> {
    Err(Error::new("`entire explain` is not built yet"))
}
