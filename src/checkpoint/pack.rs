//! The checkpoint writer's packs: each drain's objects as one pack file
//! and its index (git's pack format version 2, index version 2, no
//! deltas), and the folding of those small packs into one, which keeps
//! their number under what makes `git gc --auto` repack the whole
//! repository (`gc.autoPackLimit`, 50).
//!
//! A loose object is a file of its own: on a disk file system creating a
//! file costs more than everything else the writer does for it
//! (docs/design.md, "Dependencies"). A pack is two files however many
//! objects it holds.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use gix::ObjectId;

/// A pack entry as the pack holds it: the type-and-size header, then the
/// object's zlib stream.
pub struct Entry {
    pub id: ObjectId,
    pub bytes: Vec<u8>,
}

/// The pack entry header of an object of `kind` and `size` bytes.
pub fn entry_header(kind: gix::objs::Kind, size: usize, out: &mut Vec<u8>) {
    use gix::odb::pack::data::entry::Header;
    let header = match kind {
        gix::objs::Kind::Commit => Header::Commit,
        gix::objs::Kind::Tree => Header::Tree,
        gix::objs::Kind::Blob => Header::Blob,
        gix::objs::Kind::Tag => Header::Tag,
    };
    header.write_to(size as u64, out).expect("writing to a Vec");
}

/// Writes `entries` as one pack and its index in `dir` (`objects/pack`),
/// each through a temp file named as git names its own (`tmp_*`, which
/// `git gc` removes when a killed writer left one), the pack renamed into
/// place before the index, which is what makes git see it. With `sync`,
/// both are fsynced first. Returns the pack's name, `pack-<checksum>`.
pub fn write(dir: &Path, hash: gix::hash::Kind, entries: &[Entry], sync: bool) -> std::io::Result<String> {
    let count = u32::try_from(entries.len()).map_err(std::io::Error::other)?;
    let mut pack = Vec::with_capacity(12 + entries.iter().map(|e| e.bytes.len()).sum::<usize>() + 20);
    pack.extend_from_slice(&gix::odb::pack::data::header::encode(gix::odb::pack::data::Version::V2, count));
    let mut located = Vec::with_capacity(entries.len());
    for entry in entries {
        located.push((entry.id, pack.len() as u64, crc32fast::hash(&entry.bytes)));
        pack.extend_from_slice(&entry.bytes);
    }
    let checksum = digest(hash, &pack)?;
    pack.extend_from_slice(checksum.as_slice());
    let index = index(hash, located, &checksum)?;
    let name = format!("pack-{checksum}");
    let pack_tmp = temp_file(dir, "pack", &pack, sync)?;
    let placed = temp_file(dir, "idx", &index, sync).and_then(|index_tmp| {
        let renamed = fs::rename(&pack_tmp, dir.join(format!("{name}.pack")))
            .and_then(|()| fs::rename(&index_tmp, dir.join(format!("{name}.idx"))));
        if renamed.is_err() {
            let _ = fs::remove_file(&index_tmp);
        }
        renamed
    });
    if placed.is_err() {
        let _ = fs::remove_file(&pack_tmp);
    }
    placed.map(|()| name)
}

/// Index version 2: fan-out table, sorted names, CRC-32s, offsets (those
/// past 2 GiB in a table of 64-bit ones), the pack's checksum and its own.
fn index(
    hash: gix::hash::Kind,
    mut located: Vec<(ObjectId, u64, u32)>,
    pack: &ObjectId,
) -> std::io::Result<Vec<u8>> {
    // Each object once: git refuses an index that counts fewer than the pack.
    located.sort_by_key(|a| a.0);
    let mut out = Vec::with_capacity(8 + 1024 + located.len() * (hash.len_in_bytes() + 8) + 40);
    out.extend_from_slice(b"\xfftOc");
    out.extend_from_slice(&2u32.to_be_bytes());
    let mut fan_out = [0u32; 256];
    for (id, _, _) in &located {
        fan_out[usize::from(id.as_slice()[0])] += 1;
    }
    let mut total = 0;
    for count in fan_out {
        total += count;
        out.extend_from_slice(&total.to_be_bytes());
    }
    for (id, _, _) in &located {
        out.extend_from_slice(id.as_slice());
    }
    for (_, _, crc) in &located {
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for (_, offset, _) in &located {
        let small = match u32::try_from(*offset) {
            Ok(offset) if offset < 0x8000_0000 => offset,
            _ => {
                large.push(*offset);
                0x8000_0000 | u32::try_from(large.len() - 1).map_err(std::io::Error::other)?
            }
        };
        out.extend_from_slice(&small.to_be_bytes());
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack.as_slice());
    let own = digest(hash, &out)?;
    out.extend_from_slice(own.as_slice());
    Ok(out)
}

fn digest(hash: gix::hash::Kind, bytes: &[u8]) -> std::io::Result<ObjectId> {
    let mut hasher = gix::hash::hasher(hash);
    hasher.update(bytes);
    hasher.try_finalize().map_err(std::io::Error::other)
}

/// A new, read-only file `tmp_<what>_entire_<pid>_<n>` in `dir`, named as
/// git names its temp files, so that `git gc` removes one a killed
/// process left: `n` counts this process's files (threads included),
/// skipping any that a killed process of the same PID left.
pub fn git_temp_file(dir: &Path, what: &str) -> std::io::Result<(PathBuf, fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("tmp_{what}_entire_{}_{n}", std::process::id()));
        match fs::File::options().write(true).create_new(true).mode(0o444).open(&path) {
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            opened => return opened.map(|file| (path, file)),
        }
    }
}

/// A [`git_temp_file`] in `dir` holding `bytes`.
fn temp_file(dir: &Path, what: &str, bytes: &[u8], sync: bool) -> std::io::Result<PathBuf> {
    let (path, mut file) = git_temp_file(dir, what)?;
    let written = file.write_all(bytes).and_then(|()| if sync { file.sync_all() } else { Ok(()) });
    if let Err(err) = written {
        let _ = fs::remove_file(&path);
        return Err(err);
    }
    Ok(path)
}

/// The entries of the pack `name` in `dir` as written by [`write`], read
/// back from its index; None when it is gone (git repacked it) or holds
/// anything [`write`] does not write (deltas), which is then left alone.
pub fn read(dir: &Path, name: &str, hash: gix::hash::Kind) -> Option<Vec<Entry>> {
    let pack = fs::read(dir.join(format!("{name}.pack"))).ok()?;
    let index = fs::read(dir.join(format!("{name}.idx"))).ok()?;
    let oid_len = hash.len_in_bytes();
    if index.get(..8)? != b"\xfftOc\0\0\0\x02" || pack.get(..8)? != b"PACK\0\0\0\x02" {
        return None;
    }
    let count = u32::from_be_bytes(index.get(8 + 255 * 4..8 + 256 * 4)?.try_into().ok()?) as usize;
    let names = 8 + 1024;
    let offsets = names + count * (oid_len + 4);
    let mut located = Vec::with_capacity(count);
    for i in 0..count {
        let id = ObjectId::try_from(index.get(names + i * oid_len..names + (i + 1) * oid_len)?).ok()?;
        let offset = u32::from_be_bytes(index.get(offsets + i * 4..offsets + i * 4 + 4)?.try_into().ok()?);
        if offset & 0x8000_0000 != 0 {
            return None; // a pack of 2 GiB: never one of a drain's
        }
        located.push((offset as usize, id));
    }
    located.sort_unstable();
    let end = pack.len().checked_sub(oid_len)?;
    let mut entries = Vec::with_capacity(count);
    for (i, &(start, id)) in located.iter().enumerate() {
        let stop = located.get(i + 1).map_or(end, |next| next.0);
        let bytes = pack.get(start..stop)?;
        if !(1..=4).contains(&((bytes.first()? >> 4) & 7)) {
            return None;
        }
        entries.push(Entry { id, bytes: bytes.to_vec() });
    }
    Some(entries)
}

/// The packs `names` in `dir` folded into one, fsynced before they go;
/// returns its name and how many objects and bytes it holds. Packs that
/// are gone or not the writer's are skipped.
pub fn fold(
    dir: &Path,
    names: &[String],
    hash: gix::hash::Kind,
) -> std::io::Result<Option<(String, usize, usize)>> {
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    let mut folded = Vec::new();
    for name in names {
        let Some(read) = read(dir, name, hash) else { continue };
        entries.extend(read.into_iter().filter(|entry| seen.insert(entry.id)));
        folded.push(name);
    }
    if folded.len() < 2 {
        return Ok(None);
    }
    let bytes = entries.iter().map(|e| e.bytes.len()).sum();
    let name = write(dir, hash, &entries, true)?;
    for old in folded.into_iter().filter(|old| **old != name) {
        // The index first: git lists packs by their index.
        let _ = fs::remove_file(dir.join(format!("{old}.idx")));
        let _ = fs::remove_file(dir.join(format!("{old}.pack")));
    }
    Ok(Some((name, entries.len(), bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_headers_carry_type_and_size() {
        let header = |kind, size| {
            let mut out = Vec::new();
            entry_header(kind, size, &mut out);
            out
        };
        assert_eq!(header(gix::objs::Kind::Blob, 15), [0x3f]);
        assert_eq!(header(gix::objs::Kind::Tree, 16), [0xa0, 0x01]);
        assert_eq!(header(gix::objs::Kind::Commit, 300), [0x9c, 0x12]);
    }
}
