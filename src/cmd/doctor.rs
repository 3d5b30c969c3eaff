//! `entire doctor`.

use crate::cli::DoctorArgs;
use crate::error::{Error, Result};

pub fn run(_args: DoctorArgs) -> Result<i32> {
    Err(Error::new("`entire doctor` is not built yet"))
}
