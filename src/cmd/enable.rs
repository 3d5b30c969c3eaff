//! `entire enable` and `entire disable`.

use crate::cli::{DisableArgs, EnableArgs};
use crate::error::{Error, Result};

pub fn enable(_args: EnableArgs) -> Result<i32> {
    Err(Error::new("`entire enable` is not built yet"))
}

pub fn disable(_args: DisableArgs) -> Result<i32> {
    Err(Error::new("`entire disable` is not built yet"))
}
