//! `entire hooks`.

use crate::cli::HooksArgs;
use crate::error::{Error, Result};

pub fn run(_args: HooksArgs) -> Result<i32> {
    Err(Error::new("`entire hooks` is not built yet"))
}
