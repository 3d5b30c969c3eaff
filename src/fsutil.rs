//! Filesystem helpers shared by every store: atomic writes, private dirs,
//! the JSON files of a directory.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// Writes `bytes` to `path` atomically: a temp file in the same directory,
/// fsync, rename. Readers see the old content or the new, never a mix, and
/// after a crash the disk holds one or the other.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_replacing(path, bytes, mode, true)
}

/// [`atomic_write`] without the fsync, for state that a crash of the
/// machine makes moot anyway (docs/performance.md argues each use): running
/// processes see the old content or the new all the same, but after a
/// crash the file may be empty.
pub fn atomic_write_volatile(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_replacing(path, bytes, mode, false)
}

fn write_replacing(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .context(format_args!("creating a temp file in {}", dir.display()))?;
    tmp.as_file().set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    if durable {
        tmp.as_file().sync_all()?;
    } else if swapped_in(&tmp, path) {
        return Ok(()); // dropping `tmp` deletes the old content
    }
    tmp.persist(path).map_err(|e| e.error).context(format_args!("writing {}", path.display()))?;
    Ok(())
}

/// Swaps the new file in for the old one, rather than renaming it over
/// the old one, which then goes with `tmp`. On ext4, a rename over a file
/// makes the new one's blocks be allocated and written at once (the
/// `auto_da_alloc` safeguard, pointless without fsync), and a file whose
/// blocks were written costs a discard when deleted on disks mounted with
/// `discard`; a short-lived file swapped in needs neither. False when there
/// is no old file, or the filesystem cannot swap: rename then.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn swapped_in(tmp: &tempfile::NamedTempFile, path: &Path) -> bool {
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    renameat2(AT_FDCWD, tmp.path(), AT_FDCWD, path, RenameFlags::RENAME_EXCHANGE).is_ok()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn swapped_in(_: &tempfile::NamedTempFile, _: &Path) -> bool {
    false
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .context(format_args!("creating {}", dir.display()))
}

/// Reads a file that may legitimately be absent.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::error::Error::from(e).context(path.display())),
    }
}

/// Whether git (or a shell) would run `path`: a file, after symlinks, with
/// an execute bit.
pub fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `.json` files of a directory, leaving out dotfiles (temp files of
/// writes under way); none when it cannot be read.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_and_leave_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f.json");
        atomic_write_volatile(&path, b"one", 0o600).unwrap();
        atomic_write_volatile(&path, b"two", 0o640).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        atomic_write(&path, b"three", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["f.json"]);
    }
}
