//! Checkpoint IDs: 12 lowercase hex characters from the OS random source,
//! checked unique against the branch before use (SPEC §2).

use std::io::Read;

use super::dir_of;
use super::objects::CatFile;
use crate::error::{Context, Error, Result};
use crate::git::{CHECKPOINTS_REF, Repo};

/// Collisions need 48 random bits to repeat; a few tries is already absurd.
const MAX_TRIES: usize = 8;

pub fn is_valid(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A fresh ID from `/dev/urandom`, unused on the branch.
pub fn new_id(repo: &Repo) -> Result<String> {
    new_id_with(repo, &mut random_bytes::<6>)
}

/// [`new_id`] with the random source supplied, so that tests can drive the
/// collision path.
pub fn new_id_with(repo: &Repo, random: &mut dyn FnMut() -> Result<[u8; 6]>) -> Result<String> {
    let tip = repo.resolve_ref(CHECKPOINTS_REF);
    let mut objects = None;
    for _ in 0..MAX_TRIES {
        let id: String = random()?.iter().map(|b| format!("{b:02x}")).collect();
        let Some(tip) = &tip else { return Ok(id) };
        let objects = match &mut objects {
            Some(objects) => objects,
            None => objects.insert(CatFile::spawn(repo)?),
        };
        if objects.get(&format!("{tip}:{}", dir_of(&id)))?.is_none() {
            return Ok(id);
        }
    }
    Err(Error::new("could not find an unused checkpoint ID").with_hint("is /dev/urandom random?"))
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        assert!(is_valid("0123456789ab"));
        for bad in ["0123456789a", "0123456789abc", "0123456789AB", "0123456789ag", "../../etc/pa"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(random_bytes::<16>().unwrap(), random_bytes::<16>().unwrap());
    }
}
