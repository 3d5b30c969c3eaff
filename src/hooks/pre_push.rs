//! pre-push: placeholder until the checkpoints writer lands.

use crate::error::Result;
use crate::git::Repo;

pub fn run(_repo: &Repo, _remote: &str, _stdin: &mut dyn std::io::Read) -> Result<()> {
    Ok(())
}
