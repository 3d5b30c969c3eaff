//! Checkpoint IDs: 12 lowercase hex characters from the OS random source,
//! checked unique against the branch before use (docs/spec.md §2), and against the
//! checkpoints pending in the store, which are not on the branch yet.
//!
//! Checking against the branch reads the object database, so the
//! background checkpoint writer, which has just moved the branch, checks a
//! few IDs ahead of time and keeps them in a pool, one empty file each
//! (`<store>/ids/<id>`). prepare-commit-msg takes one by renaming its file
//! to a name of its own, which one process wins, and so reads nothing of
//! git's; the file then becomes the pending checkpoint's (see
//! [`Claimed`]). A pooled ID
//! stays unused on the branch: the branch only gains checkpoints whose IDs
//! come from this pool or from a draw that skips it, or, when another
//! clone's checkpoints are folded in, the pool is emptied ([`forget_pool`]).

use std::fs;
use std::io::Read;
use std::path::PathBuf;

use super::dir_of;
use super::objects::Objects;
use crate::error::{Context, Error, Result};
use crate::git::{CHECKPOINTS_REF, Repo};
use crate::session::{CheckpointId, Store};

/// Collisions need 48 random bits to repeat; a few tries is already absurd.
const MAX_TRIES: usize = 8;

/// IDs the writer keeps checked ahead: more than a burst of commits of one
/// worktree makes before its writer runs again.
const POOL_SIZE: usize = 8;

fn pool_dir(repo: &Repo) -> PathBuf {
    repo.store_dir().join("ids")
}

/// A fresh ID from `/dev/urandom`, unused on the branch and in the store:
/// a pooled one when there is one, else one checked now.
pub fn new_id(repo: &Repo) -> Result<CheckpointId> {
    new_pending_id(repo).map(|(id, claimed)| {
        drop(claimed);
        id
    })
}

/// [`new_id`] with the pool's file when the ID came from the pool, for
/// the pending checkpoint to be written into
/// ([`Store::put_pending`]): on a disk file system creating a file costs
/// more than the rest of prepare-commit-msg (1.3 to 1.7 ms on ext4 here,
/// where a rename costs 0.03), and the writer made this one beforehand.
pub fn new_pending_id(repo: &Repo) -> Result<(CheckpointId, Option<Claimed>)> {
    let store = Store::new(repo.store_dir());
    if let Some((id, claimed)) = take_pooled(repo, &store) {
        return Ok((id, Some(claimed)));
    }
    Ok((draw(repo, &store, None, &mut random_bytes::<6>)?, None))
}

/// A pooled ID's file, renamed to `ids/.<id>.<pid>` by the one process
/// that took it (a name `pooled` does not read as an ID). Removed when
/// dropped unless moved on ([`Claimed::into_path`]); one left by a
/// process killed in between is an empty file, ignored, that
/// `disable --purge` removes with the store.
pub struct Claimed(Option<PathBuf>);

impl Claimed {
    pub fn into_path(mut self) -> PathBuf {
        self.0.take().expect("claimed once")
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// [`new_id`] with the random source supplied and no pool, so that tests
/// can drive the collision path.
pub fn new_id_with(repo: &Repo, random: &mut dyn FnMut() -> Result<[u8; 6]>) -> Result<CheckpointId> {
    draw(repo, &Store::new(repo.store_dir()), None, random)
}

/// Tops the pool up with IDs checked against the branch's tip now.
/// Without a branch there is nothing to check: `new_id` reads nothing then.
pub fn refill(repo: &Repo) -> Result<()> {
    refill_with(repo, &Objects::open(repo)?)
}

/// [`refill`] in the writer's object database, which holds the tip's
/// trees it has just written.
pub fn refill_with(repo: &Repo, objects: &Objects) -> Result<()> {
    let dir = pool_dir(repo);
    if pooled(repo).len() >= POOL_SIZE / 2 || repo.resolve_ref(CHECKPOINTS_REF).is_none() {
        return Ok(());
    }
    crate::fsutil::private_dir(&dir)?;
    let store = Store::new(repo.store_dir());
    for _ in pooled(repo).len()..POOL_SIZE {
        let id = draw(repo, &store, Some(objects), &mut random_bytes::<6>)?;
        fs::File::options()
            .write(true)
            .create_new(true)
            .open(dir.join(id.as_str()))
            .context(format_args!("adding to {}", dir.display()))?;
    }
    Ok(())
}

/// Empties the pool: the branch took in checkpoints from elsewhere, whose
/// IDs the pool was not checked against.
pub fn forget_pool(repo: &Repo) {
    for id in pooled(repo) {
        let _ = fs::remove_file(pool_dir(repo).join(id.as_str()));
    }
}

fn pooled(repo: &Repo) -> Vec<CheckpointId> {
    let Ok(entries) = fs::read_dir(pool_dir(repo)) else { return Vec::new() };
    entries.flatten().filter_map(|e| e.file_name().to_str().and_then(CheckpointId::parse)).collect()
}

/// Takes a pooled ID that is not pending. Whatever is taken is used once
/// or dropped.
fn take_pooled(repo: &Repo, store: &Store) -> Option<(CheckpointId, Claimed)> {
    let dir = pool_dir(repo);
    pooled(repo).into_iter().find_map(|id| {
        let claimed = dir.join(format!(".{id}.{}", std::process::id()));
        fs::rename(dir.join(id.as_str()), &claimed).ok()?;
        let claimed = Claimed(Some(claimed));
        (!store.is_pending(&id)).then_some((id, claimed))
    })
}

/// A random ID neither pending, pooled nor on the branch; without
/// `objects`, the object database is opened on first need.
fn draw(
    repo: &Repo,
    store: &Store,
    objects: Option<&Objects>,
    random: &mut dyn FnMut() -> Result<[u8; 6]>,
) -> Result<CheckpointId> {
    let tip = repo.resolve_ref(CHECKPOINTS_REF);
    let pool = pooled(repo);
    let mut opened = None;
    for _ in 0..MAX_TRIES {
        let id = CheckpointId::from_bytes(random()?);
        if store.is_pending(&id) || pool.contains(&id) {
            continue;
        }
        let Some(tip) = &tip else { return Ok(id) };
        let objects = match (objects, &opened) {
            (Some(objects), _) | (None, Some(objects)) => objects,
            (None, None) => opened.insert(Objects::open(repo)?),
        };
        if objects.at_path(tip, &dir_of(&id))?.is_none() {
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
