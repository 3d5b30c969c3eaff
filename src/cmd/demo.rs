//! `entire demo`.

use crate::cli::DemoArgs;
use crate::error::{Error, Result};

pub fn run(_args: DemoArgs) -> Result<i32> {
    Err(Error::new("`entire demo` is not built yet"))
}
