//! Checkpoint IDs: 12 lowercase hex characters from the OS random source,
//! checked unique against the branch before use (docs/spec.md §2), and against the
//! checkpoints pending in the store, which are not on the branch yet.
//!
//! Checking against the branch takes a git process, so the background
//! checkpoint writer, which has just moved the branch, draws and checks the
//! next commit's ID ahead of time ([`reserve`]). The reservation, a cache
//! of the branch kept next to it in the git common dir, holds the ID and
//! the tip it was checked against. The next prepare-commit-msg takes it
//! when the branch still has that tip (the same tip, the same content: the
//! check holds as if made then), so it starts no git at all.

use std::fs;
use std::io::Read;

use super::dir_of;
use super::objects::CatFile;
use crate::error::{Context, Error, Result};
use crate::git::{CHECKPOINTS_REF, Repo};
use crate::session::{CheckpointId, Store};

/// Collisions need 48 random bits to repeat; a few tries is already absurd.
const MAX_TRIES: usize = 8;

/// The reservation file, in the git common dir.
const RESERVED: &str = "entire-next-checkpoint-id";

/// A fresh ID from `/dev/urandom`, unused on the branch and in the store:
/// the reserved one when it still holds, else one checked now.
pub fn new_id(repo: &Repo) -> Result<CheckpointId> {
    let store = Store::new(repo.store_dir());
    let tip = repo.resolve_ref(CHECKPOINTS_REF);
    if let Some(id) = take_reserved(repo, &store, tip.as_deref()) {
        return Ok(id);
    }
    draw(repo, &store, tip.as_deref(), &mut random_bytes::<6>)
}

/// [`new_id`] with the random source supplied and no reservation, so that
/// tests can drive the collision path.
pub fn new_id_with(repo: &Repo, random: &mut dyn FnMut() -> Result<[u8; 6]>) -> Result<CheckpointId> {
    let store = Store::new(repo.store_dir());
    draw(repo, &store, repo.resolve_ref(CHECKPOINTS_REF).as_deref(), random)
}

/// Draws the next commit's ID and checks it against the branch's tip now.
/// Without a branch there is nothing to save: `new_id` starts no git then.
pub fn reserve(repo: &Repo) -> Result<()> {
    let store = Store::new(repo.store_dir());
    let Some(tip) = repo.resolve_ref(CHECKPOINTS_REF) else { return Ok(()) };
    let id = draw(repo, &store, Some(&tip), &mut random_bytes::<6>)?;
    crate::fsutil::atomic_write_volatile(
        &repo.common_dir.join(RESERVED),
        format!("{id} {tip}\n").as_bytes(),
        0o600,
    )
}

/// Takes the reserved ID if it was checked against `tip`, the branch's tip
/// now, and is not pending. Taking it is a rename, which one process wins;
/// whatever was taken is used once or dropped.
fn take_reserved(repo: &Repo, store: &Store, tip: Option<&str>) -> Option<CheckpointId> {
    let path = repo.common_dir.join(RESERVED);
    let taken = repo.common_dir.join(format!("{RESERVED}.{}", std::process::id()));
    fs::rename(&path, &taken).ok()?;
    let text = crate::fsutil::read_own(&taken, crate::fsutil::STATE_LINE_CAP);
    let _ = fs::remove_file(&taken);
    let text = String::from_utf8(text.ok()??).ok()?;
    let (id, checked_at) = text.trim().split_once(' ')?;
    let id = CheckpointId::parse(id)?;
    (Some(checked_at) == tip && !store.is_pending(&id)).then_some(id)
}

fn draw(
    repo: &Repo,
    store: &Store,
    tip: Option<&str>,
    random: &mut dyn FnMut() -> Result<[u8; 6]>,
) -> Result<CheckpointId> {
    let mut objects = None;
    for _ in 0..MAX_TRIES {
        let id = CheckpointId::from_bytes(random()?);
        if store.is_pending(&id) {
            continue;
        }
        let Some(tip) = tip else { return Ok(id) };
        let objects = match &mut objects {
            Some(objects) => objects,
            None => objects.insert(CatFile::spawn(repo)?),
        };
        if objects.get(&format!("{tip}:{}", dir_of(&id)))?.is_none() {
            return Ok(id);
        }
    }
    Err(Error::internal("could not find an unused checkpoint ID").with_hint("is /dev/urandom random?"))
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
    fn random_bytes_differ() {
        assert_ne!(random_bytes::<16>().unwrap(), random_bytes::<16>().unwrap());
    }
}
