//! Filesystem helpers shared by every store: atomic writes, private dirs,
//! reads that never follow a planted link, never block on a FIFO and never
//! load more than a cap, locks with a deadline, the JSON files of a
//! directory.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};

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

/// Creates `dir` (and parents) with mode 0700 if missing; refuses an
/// existing one that others could plant files in (see [`check_private`]).
pub fn private_dir(dir: &Path) -> Result<()> {
    shared_dir(dir, || None).map(drop)
}

/// [`private_dir`] for a directory that a group-shared repository's
/// members share: `shared_mode` gives git's `core.sharedRepository` as a
/// directory mode (e.g. 0o2770), asked only when the directory is missing
/// or more open than private. It is then created with that mode, and
/// accepted when no more open than it, whichever member owns it. Returns
/// the directory's mode, from which its files take theirs ([`file_mode_in`]).
pub fn shared_dir(dir: &Path, shared_mode: impl FnOnce() -> Option<u32>) -> Result<u32> {
    use std::os::unix::fs::MetadataExt;
    let shared_mode = match fs::symlink_metadata(dir) {
        Ok(meta) if check_private(dir, &meta, None).is_ok() => return Ok(meta.mode()),
        Ok(meta) => {
            let shared = shared_mode();
            check_private(dir, &meta, shared)?;
            return Ok(meta.mode());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => shared_mode(),
        Err(e) => return Err(Error::from(e).context(dir.display())),
    };
    let mode = shared_mode.unwrap_or(0o700);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode & 0o777)
        .create(dir)
        .context(format_args!("creating {}", dir.display()))?;
    if shared_mode.is_some() {
        // The umask took group bits off, and DirBuilder never sets setgid.
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .context(format_args!("setting the mode of {}", dir.display()))?;
    }
    Ok(mode)
}

/// The mode of a file entire writes in a directory of mode `dir_mode`:
/// 0600, plus what a shared repository's directory grants its group (and
/// the world) to read and write.
pub fn file_mode_in(dir_mode: u32) -> u32 {
    0o600 | (dir_mode & 0o066)
}

/// What ssh asks of `~/.ssh`: a directory entire keeps its state in must be
/// a real directory (not a symlink to somewhere else), owned by the user,
/// and writable by nobody else, or another user could plant sessions in it
/// or make entire write through a link. In a group-shared repository
/// (`shared_mode`), another member may own it and the group may write.
fn check_private(dir: &Path, meta: &fs::Metadata, shared_mode: Option<u32>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // The fix goes in the message: a hook or the launcher prints it as
    // its one warning line.
    let refuse = |what: String, fix: String| {
        Err(Error::user(format!("refusing to use {}: {what}; to fix: {fix}", dir.display())))
    };
    if meta.file_type().is_symlink() {
        return refuse(
            "it is a symbolic link".into(),
            format!("remove the link ({}); entire creates the directory again", dir.display()),
        );
    }
    if !meta.is_dir() {
        return Ok(()); // creating files in it fails with its own message
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && shared_mode.is_none() {
        return refuse(
            format!("it is owned by uid {}, not by you (uid {me})", meta.uid()),
            format!("remove it if you do not know why, or run: chown {me} {}", dir.display()),
        );
    }
    let open_bits = meta.mode() & 0o022 & !shared_mode.unwrap_or(0);
    if open_bits != 0 {
        return refuse(
            format!("others may write to it (mode {:o})", meta.mode() & 0o7777),
            format!("run: chmod go-w {}", dir.display()),
        );
    }
    Ok(())
}

/// Reads a file that may legitimately be absent.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::error::Error::from(e).context(path.display())),
    }
}

/// How much entire reads of one kind of file at most (docs/spec.md §3):
/// a larger one is refused with one warning, and never loaded whole.
#[derive(Clone, Copy, Debug)]
pub struct Cap {
    pub what: &'static str,
    pub bytes: u64,
}

pub const SETTINGS_CAP: Cap = Cap { what: "settings file", bytes: 1 << 20 };
pub const RECORD_CAP: Cap = Cap { what: "session record", bytes: 16 << 20 };
pub const LIVE_ENTRY_CAP: Cap = Cap { what: "live entry", bytes: 1 << 20 };
pub const PENDING_CAP: Cap = Cap { what: "pending checkpoint", bytes: 64 << 10 };
/// One-line state: the tip pushed to a remote.
pub const STATE_LINE_CAP: Cap = Cap { what: "state file", bytes: 4 << 10 };

/// Whether a read may follow a symbolic link at the path's last component.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Links {
    /// In entire's own directories: a link there was planted, never made by
    /// entire, and is refused (`O_NOFOLLOW`).
    Refuse,
    /// A file of the user's (a committed settings file): followed, but what
    /// it reaches must still be a regular file.
    Follow,
}

/// Opens a regular file for reading without ever blocking: `O_NONBLOCK` at
/// open (a FIFO with no writer would block there forever), then a check
/// that it is a regular file (not a FIFO, a device like `/dev/zero`, a
/// directory), on which `O_NONBLOCK` changes nothing, so it stays.
/// `Ok(None)` when it is absent.
pub fn open_regular(path: &Path, links: Links) -> Result<Option<File>> {
    Ok(open_regular_with_metadata(path, links)?.map(|(file, _)| file))
}

/// [`open_regular`], with the file's metadata, read once.
fn open_regular_with_metadata(path: &Path, links: Links) -> Result<Option<(File, fs::Metadata)>> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match File::options().read(true).custom_flags(flags).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && links == Links::Refuse => {
            return Err(Error::internal(format!(
                "refusing to read {}: it is a symbolic link",
                path.display()
            )));
        }
        Err(e) => return Err(Error::from(e).context(path.display())),
    };
    let meta = file.metadata().context(path.display())?;
    if !meta.is_file() {
        return Err(Error::internal(format!(
            "refusing to read {}: it is {}, not a regular file",
            path.display(),
            kind_of(&meta.file_type())
        )));
    }
    Ok(Some((file, meta)))
}

fn kind_of(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match kind {
        k if k.is_dir() => "a directory",
        k if k.is_fifo() => "a FIFO",
        k if k.is_char_device() => "a character device",
        k if k.is_block_device() => "a block device",
        k if k.is_socket() => "a socket",
        _ => "something else",
    }
}

/// Reads a regular file of at most `cap` bytes (see [`open_regular`]);
/// `Ok(None)` when it is absent. A larger file is an error, found by its
/// size before reading and by reading one byte past the cap (a file that
/// grows meanwhile), so no more than the cap is ever held.
pub fn read_capped(path: &Path, cap: Cap, links: Links) -> Result<Option<Vec<u8>>> {
    let Some((file, meta)) = open_regular_with_metadata(path, links)? else { return Ok(None) };
    read_file_capped(file, meta.len(), path, cap).map(Some)
}

fn read_file_capped(file: File, len: u64, path: &Path, cap: Cap) -> Result<Vec<u8>> {
    let too_big = || {
        Error::internal(format!("skipping {} {}: larger than {} bytes", cap.what, path.display(), cap.bytes))
    };
    if len > cap.bytes {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(len as usize + 1);
    file.take(cap.bytes + 1).read_to_end(&mut bytes).context(path.display())?;
    if bytes.len() as u64 > cap.bytes {
        return Err(too_big());
    }
    Ok(bytes)
}

/// A file in entire's own directories: [`read_capped`] refusing links.
pub fn read_own(path: &Path, cap: Cap) -> Result<Option<Vec<u8>>> {
    read_capped(path, cap, Links::Refuse)
}

/// [`read_own`] that also says who owns the file: what another user put
/// in a shared directory is not believed.
pub fn read_own_with_owner(path: &Path, cap: Cap) -> Result<Option<(Vec<u8>, u32)>> {
    use std::os::unix::fs::MetadataExt;
    let Some((file, meta)) = open_regular_with_metadata(path, Links::Refuse)? else { return Ok(None) };
    read_file_capped(file, meta.len(), path, cap).map(|bytes| Some((bytes, meta.uid())))
}

/// Opens (creating it, 0600) a lock file in entire's own directories,
/// never through a symbolic link: a planted `<id>.lock -> /etc/x` would
/// otherwise make entire create the file it points at.
pub fn open_lock(path: &Path, mode: u32) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .context(format_args!("opening {}", path.display()))
}

/// How long this process waits for a lock, set once by its entry point.
static LOCK_PATIENCE_MS: AtomicU64 = AtomicU64::new(DEFAULT_LOCK_PATIENCE.as_millis() as u64);

/// For commands, pre-push and the launcher's end: long enough for a
/// writer's usual work, short enough that nobody thinks entire hung.
pub const DEFAULT_LOCK_PATIENCE: Duration = Duration::from_secs(5);
/// For hooks that run while a commit or an agent waits.
pub const HOOK_LOCK_PATIENCE: Duration = Duration::from_millis(300);

/// Sets how long every lock of this process is waited for.
pub fn set_lock_patience(patience: Duration) {
    LOCK_PATIENCE_MS.store(patience.as_millis() as u64, Ordering::Relaxed);
}

/// How long this process waits for a lock (for the writer lock: without
/// progress).
pub fn lock_patience() -> Duration {
    Duration::from_millis(LOCK_PATIENCE_MS.load(Ordering::Relaxed))
}

/// Takes an exclusive `flock` on `file`, waiting at most the process's
/// lock patience: a holder that hangs, or holds the lock on purpose, costs
/// a bounded wait, then an error naming the file. `flock` has no timeout of
/// its own, so this polls, backing off to 20 ms.
pub fn lock_with_deadline(file: &File, path: &Path) -> Result<()> {
    let patience = lock_patience();
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::Error(e)) => {
                return Err(Error::from(e).context(format_args!("locking {}", path.display())));
            }
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => {
                return Err(Error::internal(format!(
                    "another process holds {}; gave up after {} ms",
                    path.display(),
                    patience.as_millis()
                )));
            }
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
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
