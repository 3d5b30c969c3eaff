//! The object database and refs behind the checkpoints branch. Writes,
//! and the reads a write needs, run in process ([`Objects`], gitoxide):
//! the detached writer starts no git at all. Readers that are not on a
//! commit's path (`explain`, the merge with a remote) talk to long-lived
//! `git cat-file --batch` and `git mktree --batch` processes instead, each
//! answering many requests.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::rc::Rc;

use super::pack;
use crate::error::{Context, Error, Result};
use crate::git::{CHECKPOINTS_REF, Repo, command_line, failed, not_started};

pub const TREE_MODE: &str = "40000";
pub const BLOB_MODE: &str = "100644";

/// One tree entry; the name is the key of [`Tree`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub mode: String,
    pub oid: String,
}

impl Entry {
    pub fn tree(oid: &str) -> Entry {
        Entry { mode: TREE_MODE.into(), oid: oid.into() }
    }

    pub fn blob(oid: &str) -> Entry {
        Entry { mode: BLOB_MODE.into(), oid: oid.into() }
    }

    pub fn is_tree(&self) -> bool {
        self.mode == TREE_MODE
    }

    fn kind(&self) -> &'static str {
        match self.mode.as_str() {
            TREE_MODE => "tree",
            "160000" => "commit",
            _ => "blob",
        }
    }
}

/// A tree's entries by raw name (names from another clone may be any bytes).
pub type Tree = BTreeMap<Vec<u8>, Entry>;

pub struct Object {
    pub kind: String,
    pub oid: String,
    pub data: Vec<u8>,
}

impl Object {
    /// This object's entries; an empty tree when it is not a tree.
    pub fn entries(&self) -> Result<Tree> {
        if self.kind != "tree" {
            return Ok(Tree::new());
        }
        parse_tree(&self.data, self.oid.len() / 2)
    }
}

/// A git process we talk to over its stdin and stdout.
struct Pipe {
    /// The command, for messages.
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Pipe {
    fn spawn(mut cmd: Command) -> Result<Pipe> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| not_started(&cmd, e))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Pipe { name: command_line(&cmd), child, stdin, stdout })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let sent = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(bytes).and_then(|()| stdin.flush()),
            None => Ok(()),
        };
        sent.map_err(|_| self.failure())
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(n) if n > 0 => Ok(line.trim_end_matches('\n').to_owned()),
            _ => Err(self.failure()),
        }
    }

    /// The process died on us: its own words, from stderr.
    fn failure(&mut self) -> Error {
        self.stdin = None;
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        failed(&self.name, stderr.as_bytes())
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.stdin = None; // EOF: the batch process exits
        let _ = self.child.wait();
    }
}

/// The largest object entire loads from the branch: metadata, prompts,
/// index files and trees are far smaller; a larger one came from
/// elsewhere and is refused rather than held in memory.
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// `git cat-file --batch`: many objects read through one process.
pub struct CatFile(Pipe);

impl CatFile {
    pub fn spawn(repo: &Repo) -> Result<CatFile> {
        let mut cmd = repo.git();
        cmd.args(["cat-file", "--batch"]);
        Pipe::spawn(cmd).map(CatFile)
    }

    /// The object `spec` names (`<rev>:<path>`, an oid…); None when missing.
    pub fn get(&mut self, spec: &str) -> Result<Option<Object>> {
        self.get_up_to(spec, MAX_OBJECT_BYTES)
    }

    /// The same, for a kind of object that may be larger (a transcript
    /// portion): refused over `cap` bytes.
    pub fn get_up_to(&mut self, spec: &str, cap: usize) -> Result<Option<Object>> {
        if spec.contains('\n') {
            return Err(Error::internal(format!("invalid object name {spec:?}")));
        }
        self.0.send(format!("{spec}\n").as_bytes())?;
        let header = self.0.read_line()?;
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            return Ok(None);
        }
        let mut fields = header.split(' ');
        let (Some(oid), Some(kind), Some(size)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(Error::internal(format!("git cat-file: bad header {header:?}")));
        };
        let size: usize =
            size.parse().map_err(|_| Error::internal(format!("git cat-file: bad header {header:?}")))?;
        if size > cap {
            // Skipped unread, so the next object can still be read.
            let skipped =
                std::io::copy(&mut (&mut self.0.stdout).take(size as u64 + 1), &mut std::io::sink());
            skipped.map_err(|_| self.0.failure())?;
            return Err(Error::internal(format!(
                "{spec}: a {kind} of {size} bytes, over the {cap}-byte cap on what entire reads"
            )));
        }
        let mut data = vec![0; size + 1]; // the object, then a newline
        self.0.stdout.read_exact(&mut data).map_err(|_| self.0.failure())?;
        data.truncate(size);
        Ok(Some(Object { kind: kind.to_owned(), oid: oid.to_owned(), data }))
    }

    /// The entries of the tree `spec` names; empty when it is missing or
    /// not a tree.
    pub fn tree(&mut self, spec: &str) -> Result<Tree> {
        self.get(spec)?.map_or(Ok(Tree::new()), |object| object.entries())
    }
}

/// `git mktree -z --batch`: many trees written through one process.
pub struct MkTree(Pipe);

impl MkTree {
    pub fn spawn(repo: &Repo) -> Result<MkTree> {
        let mut cmd = repo.git();
        // Every entry names an object this writer read from the branch or
        // wrote itself. Without --missing, mktree looks each one up in the
        // packs it listed at start: a `gc --auto` that packs and prunes
        // loose objects meanwhile (another commit's) makes it fail.
        cmd.args(["mktree", "-z", "--missing", "--batch"]);
        Pipe::spawn(cmd).map(MkTree)
    }

    /// Writes one tree and returns its oid. mktree sorts the entries.
    pub fn write(&mut self, tree: &Tree) -> Result<String> {
        let mut input = Vec::new();
        for (name, entry) in tree {
            input.extend_from_slice(format!("{} {} {}\t", entry.mode, entry.kind(), entry.oid).as_bytes());
            input.extend_from_slice(name);
            input.push(0);
        }
        input.push(0); // an empty record ends the tree
        self.0.send(&input)?;
        self.0.read_line()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Git's binary tree format: `<octal mode> <name>\0<raw oid>`, repeated.
fn parse_tree(mut data: &[u8], oid_len: usize) -> Result<Tree> {
    let bad = || Error::internal("malformed tree object on the checkpoints branch");
    let mut tree = Tree::new();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let nul = data.iter().position(|&b| b == 0).ok_or_else(bad)?;
        if nul < space || data.len() < nul + 1 + oid_len {
            return Err(bad());
        }
        let mode = String::from_utf8_lossy(&data[..space]).into_owned();
        let oid = hex(&data[nul + 1..nul + 1 + oid_len]);
        tree.insert(data[space + 1..nul].to_vec(), Entry { mode, oid });
        data = &data[nul + 1 + oid_len..];
    }
    Ok(tree)
}

/// The object database and the refs of one repository, in process
/// (gitoxide): blobs, trees and the commit of a checkpoint are written
/// without starting git, and the ref moves by compare-and-swap under git's
/// own lock file. Identity and configuration are read as git reads them.
///
/// One is opened per writer run, not per checkpoint: it keeps the trees it
/// read or wrote and the root tree of each commit it read or wrote (a drain
/// reads the tip's root and commit index once, and the next checkpoint
/// finds them as the last one wrote them), and one compressor for the
/// objects it writes. Opened [`packing`](Objects::packing), it holds what
/// it writes and writes it as one pack before it moves a ref.
pub struct Objects {
    repo: gix::Repository,
    /// Set when the refs are in the reftable format, which gitoxide does
    /// not write: the ref is then moved by `git update-ref`.
    reftable: Option<Repo>,
    loose: Option<LooseWriter>,
    /// The objects written since the last pack, when packing.
    held: Option<RefCell<Held>>,
    /// Where the names of the writer's packs not folded yet are kept.
    pack_list: PathBuf,
    trees: RefCell<HashMap<String, Rc<Tree>>>,
    /// The root tree of each commit this process read or wrote.
    commit_trees: RefCell<HashMap<String, String>>,
    /// The committer's zone of the last commit read: the zone git writes
    /// in this repository, without reading the time zone database.
    zone: std::cell::Cell<Option<i32>>,
}

/// Objects written and not in a pack yet, each once.
#[derive(Default)]
struct Held {
    objects: Vec<(gix::objs::Kind, Vec<u8>, gix::ObjectId)>,
    by_id: HashMap<gix::ObjectId, usize>,
    bytes: usize,
}

/// Held objects beyond this many bytes go into a pack of their own before
/// the next one is held: a drain of large transcripts holds no more.
const HELD_BYTES: usize = 64 << 20;

/// Once the writer has this many packs not folded, it folds them into one:
/// few enough that a process that opens the repository lists few packs
/// (gitoxide stats each pack twice per process), many enough that folding
/// is rare.
const FOLD_AT: usize = 8;

/// A pack this large is left to git: folding it again would copy it
/// every `FOLD_AT` drains.
const FOLDED_ENOUGH_BYTES: usize = 8 << 20;
const FOLDED_ENOUGH_OBJECTS: usize = 4096;

/// A list of the writer's packs, at most: a few hundred names.
const PACK_LIST_CAP: crate::fsutil::Cap = crate::fsutil::Cap { what: "pack list", bytes: 64 << 10 };

/// Writes loose objects as git does (zlib at `core.looseCompression`,
/// default level 1; a temp file renamed into place; no fsync, as git's
/// default `core.fsync` does not sync loose objects), and compresses the
/// entries of packs, with one compressor reset between objects where
/// gitoxide allocates and zeroes a new one (about 400 KB) per object. The
/// temp files are named as git names its own, so that `git gc` removes
/// one a killed writer left.
struct LooseWriter {
    dir: PathBuf,
    compress: RefCell<gix::zlib::stream::deflate::Compress>,
    buffer: RefCell<Vec<u8>>,
}

impl LooseWriter {
    /// None when the repository asks for permissions of its own
    /// (`core.sharedRepository`): gitoxide's writer applies them.
    fn new(repo: &gix::Repository) -> Option<LooseWriter> {
        let config = repo.config_snapshot();
        if config.string("core.sharedRepository").is_some() {
            return None;
        }
        let level = ["core.looseCompression", "core.compression"]
            .iter()
            .find_map(|key| config.integer(key))
            .and_then(|level| i32::try_from(level).ok())
            .and_then(|level| gix::zlib::Compression::new(if level == -1 { 1 } else { level }))
            .unwrap_or(gix::zlib::Compression::BEST_SPEED);
        Some(LooseWriter {
            dir: repo.objects.store_ref().path().to_path_buf(),
            compress: RefCell::new(gix::zlib::stream::deflate::Compress::new(level)),
            buffer: RefCell::new(Vec::new()),
        })
    }

    /// `input` as one zlib stream, appended to `out`.
    fn deflate(&self, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        use gix::zlib::stream::deflate::FlushCompress;
        if input.len() < STORED_BELOW {
            stored(input, out);
            return Ok(());
        }
        let mut compress = self.compress.borrow_mut();
        compress.reset();
        let start = out.len();
        let (in_before, out_before) = (compress.total_in(), compress.total_out());
        loop {
            let consumed = usize::try_from(compress.total_in() - in_before).unwrap_or(usize::MAX);
            let produced = usize::try_from(compress.total_out() - out_before).unwrap_or(usize::MAX);
            out.resize(start + produced + input.len() - consumed + 64, 0);
            let status = compress
                .compress(&input[consumed..], &mut out[start + produced..], FlushCompress::Finish)
                .map_err(std::io::Error::other)?;
            if status == gix::zlib::Status::StreamEnd {
                let produced = usize::try_from(compress.total_out() - out_before).unwrap_or(usize::MAX);
                out.truncate(start + produced);
                return Ok(());
            }
        }
    }

    /// An object as a pack entry: its header, then its zlib stream.
    fn pack_entry(
        &self,
        kind: gix::objs::Kind,
        data: &[u8],
        id: gix::ObjectId,
    ) -> std::io::Result<pack::Entry> {
        let mut bytes = Vec::with_capacity(data.len() / 2 + 16);
        pack::entry_header(kind, data.len(), &mut bytes);
        self.deflate(data, &mut bytes)?;
        Ok(pack::Entry { id, bytes })
    }

    fn write(&self, kind: gix::objs::Kind, data: &[u8], id: &gix::ObjectId) -> std::io::Result<()> {
        let hex = id.to_string();
        let path = self.dir.join(&hex[..2]).join(&hex[2..]);
        if path.exists() {
            return Ok(()); // the same content: a retry, or an index file seen before
        }
        let header = gix::objs::encode::loose_header(kind, data.len() as u64);
        let input = [&header[..], data].concat();
        let mut out = self.buffer.borrow_mut();
        out.clear();
        self.deflate(&input, &mut out)?;
        let (tmp, mut file) = pack::git_temp_file(&self.dir, "obj")?;
        let placed = (|| {
            file.write_all(&out)?;
            drop(file);
            match std::fs::rename(&tmp, &path) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    match std::fs::create_dir(path.parent().expect("a fan-out dir")) {
                        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => return Err(err),
                        _ => {}
                    }
                    std::fs::rename(&tmp, &path)
                }
                other => other,
            }
        })();
        if placed.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        placed
    }
}

/// Objects smaller than this go into their zlib streams uncompressed
/// (a stored block): compressing would save a few hundred bytes at most,
/// and resetting the compressor clears a 128 KiB table, more instructions
/// than the rest of writing such an object.
const STORED_BELOW: usize = 1024;

/// `input` (under 64 KiB) as a zlib stream of one stored block.
fn stored(input: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(input.len()).expect("a stored block holds under 64 KiB");
    out.extend_from_slice(&[0x78, 0x01, 0x01]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(input);
    out.extend_from_slice(&zlib_rs::adler32::adler32(1, input).to_be_bytes());
}

impl Objects {
    pub fn open(repo: &Repo) -> Result<Objects> {
        let opened = gix::open(&repo.git_dir)
            .map_err(|e| Error::internal(format!("opening {} with gitoxide: {e}", repo.git_dir.display())))?;
        let reftable = repo.common_dir.join("reftable").is_dir().then(|| repo.clone());
        Ok(Objects {
            loose: LooseWriter::new(&opened),
            repo: opened,
            reftable,
            held: None,
            pack_list: repo.store_dir().join("packs"),
            trees: RefCell::default(),
            commit_trees: RefCell::default(),
            zone: std::cell::Cell::new(None),
        })
    }

    /// For the one writer of the repository (it holds the writer lock):
    /// what it writes is held and written as one pack before a ref moves
    /// (or once [`HELD_BYTES`] are held), instead of a file per object.
    /// Loose objects still where gitoxide's writer applies the
    /// repository's own permissions (`core.sharedRepository`).
    pub fn packing(repo: &Repo) -> Result<Objects> {
        let mut objects = Objects::open(repo)?;
        if objects.loose.is_some() {
            objects.held = Some(RefCell::default());
        }
        Ok(objects)
    }

    /// Writes one object unless it is there; returns its name.
    fn write_object(&self, kind: gix::objs::Kind, data: &[u8], what: &str) -> Result<String> {
        let hash = || {
            gix::objs::compute_hash(self.repo.object_hash(), kind, data)
                .map_err(|e| odb_error("hashing", what, e))
        };
        let written = match (&self.loose, &self.held) {
            (Some(_), Some(held)) => {
                let id = hash()?;
                if held.borrow().bytes + data.len() > HELD_BYTES {
                    self.write_held()?;
                }
                let mut held = held.borrow_mut();
                if !held.by_id.contains_key(&id) {
                    let at = held.objects.len();
                    held.by_id.insert(id, at);
                    held.bytes += data.len();
                    held.objects.push((kind, data.to_vec(), id));
                }
                Ok(id)
            }
            (Some(loose), None) => hash().and_then(|id| {
                loose.write(kind, data, &id).map(|()| id).map_err(|e| odb_error("writing", what, e))
            }),
            (None, _) => {
                gix::objs::Write::write_buf(&self.repo, kind, data).map_err(|e| odb_error("writing", what, e))
            }
        };
        written.map(|id| id.to_string())
    }

    /// Writes what is held as one pack, and lists it for folding.
    fn write_held(&self) -> Result<()> {
        let (Some(loose), Some(held)) = (&self.loose, &self.held) else { return Ok(()) };
        if held.borrow().objects.is_empty() {
            return Ok(());
        }
        let entries = held
            .borrow()
            .objects
            .iter()
            .map(|(kind, data, id)| loose.pack_entry(*kind, data, *id))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| odb_error("compressing", "objects", e))?;
        let dir = loose.dir.join("pack");
        let name = pack::write(&dir, self.repo.object_hash(), &entries, false)
            .map_err(|e| odb_error("writing", "a pack", e))?;
        // Only once they are in the pack: a failed write (a full disk)
        // keeps them for the retry, which must not name objects it lost.
        *held.borrow_mut() = Held::default();
        // A large one (a long transcript portion) is left to git as it is:
        // folding would copy it again and again.
        if entries.iter().map(|e| e.bytes.len()).sum::<usize>() >= FOLDED_ENOUGH_BYTES {
            return Ok(());
        }
        // Appended in one write: no new file once the list exists. A pack
        // missing from the list is only never folded (git's gc packs it).
        let _ = self.open_pack_list(true).and_then(|mut list| list.write_all(format!("{name}\n").as_bytes()));
        Ok(())
    }

    /// The list of the writer's packs, for appending or rewriting, never
    /// through a planted link.
    fn open_pack_list(&self, append: bool) -> std::io::Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::File::options();
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        options
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&self.pack_list)
    }

    /// Folds the writer's packs into one once there are [`FOLD_AT`] of them.
    /// The writer calls it after it moved the branch.
    pub fn fold_packs(&self) -> Result<()> {
        let Some(loose) = self.loose.as_ref().filter(|_| self.held.is_some()) else { return Ok(()) };
        let listed = match crate::fsutil::read_own(&self.pack_list, PACK_LIST_CAP) {
            Ok(listed) => listed.unwrap_or_default(),
            // Started afresh: what it named is left to git's gc.
            Err(_) => return self.open_pack_list(false).map(drop).map_err(Error::from),
        };
        let names: Vec<String> = String::from_utf8_lossy(&listed)
            .lines()
            .filter(|name| name.strip_prefix("pack-").is_some_and(crate::git::is_object_name))
            .map(str::to_owned)
            .collect();
        if names.len() < FOLD_AT {
            return Ok(());
        }
        let folded = pack::fold(&loose.dir.join("pack"), &names, self.repo.object_hash())
            .map_err(|e| odb_error("folding", "the writer's packs", e))?;
        let keep = match folded {
            Some((name, objects, bytes))
                if objects < FOLDED_ENOUGH_OBJECTS && bytes < FOLDED_ENOUGH_BYTES =>
            {
                format!("{name}\n")
            }
            _ => String::new(),
        };
        self.open_pack_list(false)
            .and_then(|mut list| list.write_all(keep.as_bytes()))
            .context(format_args!("writing {}", self.pack_list.display()))
    }

    fn oid(&self, hex: &str) -> Result<gix::ObjectId> {
        gix::ObjectId::from_hex(hex.as_bytes())
            .map_err(|_| Error::internal(format!("not an object name: {hex:?}")))
    }

    /// The object `oid` names; None when it is missing.
    pub fn get(&self, oid: &str) -> Result<Option<Object>> {
        if let Some(held) = &self.held {
            let held = held.borrow();
            if let Some(&at) = held.by_id.get(&self.oid(oid)?) {
                let (kind, data, _) = &held.objects[at];
                return Ok(Some(Object { kind: kind.to_string(), oid: oid.to_owned(), data: data.clone() }));
            }
        }
        let found = self.repo.try_find_object(self.oid(oid)?).map_err(|e| odb_error("reading", oid, e))?;
        Ok(found.map(|object| Object {
            kind: object.kind.to_string(),
            oid: oid.to_owned(),
            data: object.data.clone(),
        }))
    }

    /// The object at `path` in `commit`'s tree (`""`: the root tree); None
    /// when the commit or the path is missing.
    pub fn at_path(&self, commit: &str, path: &str) -> Result<Option<Object>> {
        let Some(root) = self.root_of(commit)? else { return Ok(None) };
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None if path.is_empty() => return self.get(&root),
            None => ("", path),
        };
        let Some(entries) = self.entries_at(&root, dir)? else { return Ok(None) };
        match entries.get(name.as_bytes()) {
            Some(entry) => self.get(&entry.oid),
            None => Ok(None),
        }
    }

    /// The root tree of a commit; None when the commit is missing.
    fn root_of(&self, commit: &str) -> Result<Option<String>> {
        if let Some(tree) = self.commit_trees.borrow().get(commit) {
            return Ok(Some(tree.clone()));
        }
        let Some(headers) = self.commit_headers(commit)? else { return Ok(None) };
        self.commit_trees.borrow_mut().insert(commit.to_owned(), headers.tree.clone());
        Ok(Some(headers.tree))
    }

    /// The entries of the tree `oid`, as read or written before; None when
    /// it is missing, empty when it is not a tree.
    fn entries(&self, oid: &str) -> Result<Option<Rc<Tree>>> {
        if let Some(tree) = self.trees.borrow().get(oid) {
            return Ok(Some(Rc::clone(tree)));
        }
        let Some(object) = self.get(oid)? else { return Ok(None) };
        let tree = Rc::new(object.entries()?);
        self.trees.borrow_mut().insert(oid.to_owned(), Rc::clone(&tree));
        Ok(Some(tree))
    }

    /// The entries of the tree at `dir` below the tree `root`; None when a
    /// directory on the way is missing.
    fn entries_at(&self, root: &str, dir: &str) -> Result<Option<Rc<Tree>>> {
        let Some(mut tree) = self.entries(root)? else { return Ok(None) };
        for name in dir.split('/').filter(|n| !n.is_empty()) {
            let Some(entry) = tree.get(name.as_bytes()).filter(|e| e.is_tree()) else { return Ok(None) };
            let oid = entry.oid.clone();
            match self.entries(&oid)? {
                Some(next) => tree = next,
                None => return Ok(None),
            }
        }
        Ok(Some(tree))
    }

    /// A commit's message; None when it is missing.
    pub fn message(&self, commit: &str) -> Result<Option<String>> {
        Ok(self.commit_headers(commit)?.map(|headers| headers.message))
    }

    /// A commit's tree, parents and message; None when it is missing.
    fn commit_headers(&self, commit: &str) -> Result<Option<CommitHeaders>> {
        let Some(object) = self.get(commit)?.filter(|o| o.kind == "commit") else { return Ok(None) };
        let bad = || Error::internal(format!("malformed commit {commit}"));
        let split = object.data.windows(2).position(|w| w == b"\n\n");
        let (headers, message) = match split {
            Some(at) => (&object.data[..at], &object.data[at + 2..]),
            None => (&object.data[..], &[][..]),
        };
        let headers = std::str::from_utf8(headers).map_err(|_| bad())?;
        let value = |key: &'static str| headers.lines().filter_map(move |l| l.strip_prefix(key));
        if let Some(zone) =
            value("committer ").next().and_then(|c| c.rsplit_once(' ')).and_then(|(_, z)| zone(z))
        {
            self.zone.set(Some(zone));
        }
        Ok(Some(CommitHeaders {
            tree: value("tree ").next().ok_or_else(bad)?.to_owned(),
            parents: value("parent ").map(str::to_owned).collect(),
            encoding: value("encoding ").next().map(str::to_owned),
            message: String::from_utf8_lossy(message).into_owned(),
        }))
    }

    /// A commit's message and the paths it changed against its first parent
    /// (every path of a root commit), sorted as `git log -1 --name-only
    /// --no-renames -m --first-parent` lists them, but never quoted. None
    /// when the message is in an encoding other than UTF-8, which git
    /// converts.
    pub fn commit_summary(&self, commit: &str) -> Result<Option<(String, Vec<String>)>> {
        let headers = self
            .commit_headers(commit)?
            .ok_or_else(|| Error::internal(format!("commit {commit} is not here")))?;
        if headers
            .encoding
            .as_deref()
            .is_some_and(|e| !e.eq_ignore_ascii_case("utf-8") && !e.eq_ignore_ascii_case("utf8"))
        {
            return Ok(None);
        }
        // The next commit of a drain is often this one's child.
        self.commit_trees.borrow_mut().insert(commit.to_owned(), headers.tree.clone());
        let mut files = Vec::new();
        match headers.parents.first() {
            None => self.diff_trees(None, Some(&headers.tree), "", &mut files)?,
            Some(parent) => {
                let parent = self
                    .root_of(parent)?
                    .ok_or_else(|| Error::internal(format!("parent {parent} of {commit} is not here")))?;
                self.diff_trees(Some(&parent), Some(&headers.tree), "", &mut files)?
            }
        }
        files.sort();
        let files = files.into_iter().map(|p| String::from_utf8_lossy(&p).into_owned()).collect();
        Ok(Some((headers.message, files)))
    }

    /// The paths under `prefix` whose files differ between two trees.
    fn diff_trees(
        &self,
        old: Option<&str>,
        new: Option<&str>,
        prefix: &str,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<()> {
        let entries = |tree: Option<&str>| -> Result<Rc<Tree>> {
            Ok(match tree {
                Some(oid) => self.entries(oid)?.unwrap_or_default(),
                None => Rc::default(),
            })
        };
        let (old, new) = (entries(old)?, entries(new)?);
        let names: std::collections::BTreeSet<&Vec<u8>> = old.keys().chain(new.keys()).collect();
        for name in names {
            let (a, b) = (old.get(name), new.get(name));
            if a == b {
                continue;
            }
            let path = [prefix.as_bytes(), name].concat();
            let tree = |e: Option<&Entry>| e.filter(|e| e.is_tree()).map(|e| e.oid.clone());
            let file = |e: Option<&Entry>| e.is_some_and(|e| !e.is_tree());
            if file(a) || file(b) {
                out.push(path.clone());
            }
            let (ta, tb) = (tree(a), tree(b));
            if ta.is_some() || tb.is_some() {
                let dir = format!("{}/", String::from_utf8_lossy(&path));
                self.diff_trees(ta.as_deref(), tb.as_deref(), &dir, out)?;
            }
        }
        Ok(())
    }

    /// The entries of the tree at `dir` in `commit`; empty when missing.
    pub fn tree_at(&self, commit: &str, dir: &str) -> Result<Tree> {
        let Some(root) = self.root_of(commit)? else { return Ok(Tree::new()) };
        Ok(self.entries_at(&root, dir)?.map(|tree| (*tree).clone()).unwrap_or_default())
    }

    pub fn blob(&self, bytes: &[u8]) -> Result<String> {
        self.write_object(gix::objs::Kind::Blob, bytes, "a blob")
    }

    /// Writes a tree in git's entry order.
    pub fn write_tree(&self, tree: Tree) -> Result<String> {
        use gix::objs::WriteTo;
        let mut entries = Vec::with_capacity(tree.len());
        for (name, entry) in &tree {
            let mode = gix::objs::tree::EntryMode::from_bytes(entry.mode.as_bytes())
                .ok_or_else(|| Error::internal(format!("bad tree entry mode {:?}", entry.mode)))?;
            entries.push(gix::objs::tree::Entry {
                mode,
                filename: name.clone().into(),
                oid: self.oid(&entry.oid)?,
            });
        }
        entries.sort();
        let mut data = Vec::new();
        gix::objs::Tree { entries }.write_to(&mut data).map_err(|e| odb_error("encoding", "a tree", e))?;
        let oid = self.write_object(gix::objs::Kind::Tree, &data, "a tree")?;
        self.trees.borrow_mut().insert(oid.clone(), Rc::new(tree));
        Ok(oid)
    }

    /// A commit as the repository's configured user, else as `entire
    /// <entire@localhost>`: never an identity guessed from the host name.
    pub fn commit(&self, tree: &str, parents: &[&str], message: &str) -> Result<String> {
        let (committer, author) = self.signatures();
        let commit = gix::objs::Commit {
            tree: self.oid(tree)?,
            parents: parents.iter().map(|p| self.oid(p)).collect::<Result<_>>()?,
            author,
            committer,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        let mut data = Vec::new();
        gix::objs::WriteTo::write_to(&commit, &mut data).map_err(|e| odb_error("encoding", "a commit", e))?;
        let oid = self.write_object(gix::objs::Kind::Commit, &data, "a commit")?;
        self.commit_trees.borrow_mut().insert(oid.clone(), tree.to_owned());
        Ok(oid)
    }

    /// Committer and author. Unless `GIT_COMMITTER_DATE` or
    /// `GIT_AUTHOR_DATE` is in a form other than git's raw `[@]<seconds>
    /// <±hhmm>` (the form git exports to its hooks), the identity is read
    /// from git's variables and configuration as git reads it and the time
    /// is that date or now in the local zone (chrono reads `TZ` or
    /// `/etc/localtime`): gitoxide's own identity would have its time
    /// library index the whole zoneinfo directory (about 600 directory
    /// reads, 3 M instructions) in every writer process.
    fn signatures(&self) -> (gix::actor::Signature, gix::actor::Signature) {
        let fallback =
            |time| gix::actor::Signature { name: "entire".into(), email: "entire@localhost".into(), time };
        let (committer_date, author_date) = (raw_date("GIT_COMMITTER_DATE"), raw_date("GIT_AUTHOR_DATE"));
        let (Some(committer_date), Some(author_date)) = (committer_date, author_date) else {
            let configured = |sig: Option<gix::Result<gix::actor::SignatureRef<'_>>>| {
                sig.and_then(|s| s.ok())
                    .filter(|s| !s.name.is_empty() && !s.email.is_empty())
                    .and_then(|s| s.to_owned().ok())
            };
            let committer = configured(self.repo.committer())
                .unwrap_or_else(|| fallback(gix::date::Time::now_local_or_utc()));
            let author = configured(self.repo.author()).unwrap_or_else(|| committer.clone());
            return (committer, author);
        };
        let now = || match self.zone.get() {
            Some(zone) => gix::date::Time::new(chrono::Utc::now().timestamp(), zone),
            None => {
                let now = chrono::Local::now();
                gix::date::Time::new(now.timestamp(), now.offset().local_minus_utc())
            }
        };
        let committer_time = committer_date.unwrap_or_else(now);
        let committer = self
            .identity("COMMITTER", "committer", committer_time)
            .unwrap_or_else(|| fallback(committer_time));
        let author = self
            .identity("AUTHOR", "author", author_date.unwrap_or(committer_time))
            .unwrap_or_else(|| committer.clone());
        (committer, author)
    }

    /// Name and email of a role as git finds them: `GIT_<ROLE>_NAME`,
    /// `<role>.name`, `user.name`; `GIT_<ROLE>_EMAIL`, `<role>.email`,
    /// `user.email`, `EMAIL`. None unless both are there and not empty.
    fn identity(&self, env_role: &str, role: &str, time: gix::date::Time) -> Option<gix::actor::Signature> {
        let config = self.repo.config_snapshot();
        let find = |env: &str, field: &str| -> Option<gix::bstr::BString> {
            let from_env = std::env::var_os(format!("GIT_{env_role}_{env}"))
                .map(|v| gix::bstr::BString::from(v.as_encoded_bytes().to_vec()));
            let from_config = || {
                [format!("{role}.{field}"), format!("user.{field}")]
                    .iter()
                    .find_map(|key| config.string(key.as_str()))
            };
            let found = from_env.or_else(from_config);
            let found = match (found, field) {
                (None, "email") => std::env::var_os("EMAIL").map(|v| v.as_encoded_bytes().to_vec().into()),
                (found, _) => found,
            };
            found.filter(|v| !v.is_empty())
        };
        Some(gix::actor::Signature { name: find("NAME", "name")?, email: find("EMAIL", "email")?, time })
    }

    /// Compare-and-swap of `name`: moves it from `old` (None: it must not
    /// exist yet) to `new`, or fails without touching it.
    pub fn update_ref(&self, name: &str, new: &str, old: Option<&str>, reflog: &str) -> Result<()> {
        use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
        // Every object the ref will name is in the object database first.
        self.write_held()?;
        if let Some(repo) = &self.reftable {
            let zero = "0".repeat(new.len());
            return repo.git_output(["update-ref", "-m", reflog, name, new, old.unwrap_or(&zero)]).map(drop);
        }
        let expected = match old {
            Some(old) => PreviousValue::MustExistAndMatch(gix::refs::Target::Object(self.oid(old)?)),
            None => PreviousValue::MustNotExist,
        };
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: reflog.into(),
                },
                expected,
                new: gix::refs::Target::Object(self.oid(new)?),
            },
            name: name.try_into().map_err(|_| Error::internal(format!("bad ref name {name:?}")))?,
            deref: false,
        };
        // The reflog's identity as the commit's: gitoxide's own would read
        // the time zone database (see `signatures`).
        let (committer, _) = self.signatures();
        let mut time = gix::date::parse::TimeBuf::default();
        self.repo.edit_references_as([edit], Some(committer.to_ref(&mut time))).map(drop).map_err(|e| {
            Error::internal(format!("moving {name} from {} to {new}: {e}", old.unwrap_or("nothing")))
        })
    }
}

/// The date in variable `var`: Some(None) when it is not set, None when
/// it is in another form than git's raw one.
fn raw_date(var: &str) -> Option<Option<gix::date::Time>> {
    let Some(value) = std::env::var_os(var) else { return Some(None) };
    let value = value.to_str()?;
    let (seconds, zone_text) = value.strip_prefix('@').unwrap_or(value).split_once(' ')?;
    let seconds: i64 = seconds.parse().ok()?;
    Some(Some(gix::date::Time::new(seconds, zone(zone_text)?)))
}

/// Seconds east of UTC in git's `±hhmm` form.
fn zone(text: &str) -> Option<i32> {
    let (sign, digits) = match text.as_bytes() {
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return None,
    };
    if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |d: &[u8]| i32::from(d[0] - b'0') * 10 + i32::from(d[1] - b'0');
    Some(sign * (number(&digits[..2]) * 3600 + number(&digits[2..]) * 60))
}

struct CommitHeaders {
    tree: String,
    parents: Vec<String>,
    encoding: Option<String>,
    message: String,
}

fn odb_error(doing: &str, what: &str, err: impl std::fmt::Display) -> Error {
    Error::internal(format!("{doing} {what} in the object database: {err}"))
}

/// Writes everything `reader` yields as one blob.
pub fn hash_stream(repo: &Repo, reader: &mut dyn Read) -> Result<String> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    Objects::open(repo)?.blob(&bytes)
}

/// [`Objects::commit`] in a repository opened for it.
pub fn commit_tree(repo: &Repo, tree: &str, parents: &[&str], message: &str) -> Result<String> {
    Objects::open(repo)?.commit(tree, parents, message)
}

/// Compare-and-swap of the checkpoints ref: moves it from `old` (None: it
/// must not exist yet) to `new`, or fails without touching it.
pub fn update_ref(repo: &Repo, new: &str, old: Option<&str>, reflog: &str) -> Result<()> {
    Objects::open(repo)?.update_ref(CHECKPOINTS_REF, new, old, reflog)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::checked;

    /// Real git in `dir`, with no configuration of the machine's.
    fn git_in(dir: &std::path::Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir).env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_CONFIG_NOSYSTEM", "1");
        cmd.args(["-c", "user.name=t", "-c", "user.email=t@t"]).args(args);
        String::from_utf8(checked(&mut cmd).unwrap()).unwrap().trim().to_owned()
    }

    #[test]
    fn parses_binary_tree_entries() {
        let mut data = b"100644 a b\0".to_vec();
        data.extend([0xab; 20]);
        data.extend(b"40000 dir\0");
        data.extend([0x01; 20]);
        let tree = parse_tree(&data, 20).unwrap();
        assert_eq!(tree[b"a b".as_slice()], Entry::blob(&"ab".repeat(20)));
        assert_eq!(tree[b"dir".as_slice()], Entry::tree(&"01".repeat(20)));
    }

    #[test]
    fn reads_dates_in_the_form_git_exports_to_hooks() {
        let read = |value: &str| {
            // SAFETY: unit tests of this module set no other variable.
            unsafe { std::env::set_var("ENTIRE_TEST_RAW_DATE", value) };
            raw_date("ENTIRE_TEST_RAW_DATE").map(|t| t.map(|t| (t.seconds, t.offset)))
        };
        assert_eq!(read("@1733529600 +0130"), Some(Some((1_733_529_600, 5400))));
        assert_eq!(read("1733529600 -0800"), Some(Some((1_733_529_600, -28800))));
        assert_eq!(read("2024-12-07T00:00:00Z"), None, "another form: gitoxide parses it");
        assert_eq!(read("@1733529600 +01"), None);
        assert_eq!(raw_date("ENTIRE_TEST_NO_SUCH_DATE"), Some(None));
    }

    #[test]
    fn small_objects_are_stored_blocks_that_inflate_to_themselves() {
        for input in [&b""[..], b"a", &[0xff; 1023]] {
            let mut out = Vec::new();
            stored(input, &mut out);
            let mut inflated = vec![0; 2048];
            let (status, consumed, produced) =
                gix::zlib::Inflate::default().once(&out, &mut inflated).unwrap();
            assert_eq!((status, consumed), (gix::zlib::Status::StreamEnd, out.len()));
            assert_eq!(&inflated[..produced], input);
        }
        let mut out = Vec::new();
        stored(b"Wikipedia", &mut out);
        assert_eq!(out[out.len() - 4..], [0x11, 0xe6, 0x03, 0x98], "Adler-32");
    }

    #[test]
    fn a_writers_packs_are_read_by_git_and_folded_into_one() {
        let tmp = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| git_in(tmp.path(), args);
        git(&["init", "-q"]);
        let repo = Repo::discover(tmp.path()).unwrap().unwrap();
        std::fs::create_dir(repo.store_dir()).unwrap();
        let objects = Objects::packing(&repo).unwrap();
        let packs = || std::fs::read_dir(tmp.path().join(".git/objects/pack")).unwrap().count() / 2;
        let mut tip: Option<String> = None;
        let mut blobs = Vec::new();
        for n in 0..FOLD_AT {
            // Small and large, so both stored and compressed entries.
            let text = format!("{n}\n").repeat(if n % 2 == 0 { 1 } else { 2000 });
            let blob = objects.blob(text.as_bytes()).unwrap();
            assert_eq!(objects.get(&blob).unwrap().unwrap().data, text.as_bytes(), "held, and read back");
            let tree = objects.write_tree(Tree::from([(b"f".to_vec(), Entry::blob(&blob))])).unwrap();
            let commit = objects.commit(&tree, tip.as_deref().as_slice(), "m\n").unwrap();
            objects.update_ref(CHECKPOINTS_REF, &commit, tip.as_deref(), "test").unwrap();
            assert_eq!(packs(), n + 1, "one pack per move of the ref");
            assert_eq!(objects.get(&blob).unwrap().unwrap().data, text.as_bytes(), "read from the pack");
            tip = Some(commit);
            blobs.push((blob, text));
        }
        assert_eq!(git(&["count-objects", "-v"]).lines().next(), Some("count: 0"), "nothing loose");
        git(&["fsck", "--strict", "--no-dangling"]);
        // Another process's view: the packs listed, one of them read.
        let early = Objects::open(&repo).unwrap();
        assert!(early.get(&blobs[0].0).unwrap().is_some());
        objects.fold_packs().unwrap();
        assert_eq!(packs(), 1);
        git(&["fsck", "--strict", "--no-dangling"]);
        let reopened = Objects::open(&repo).unwrap();
        for (blob, text) in &blobs {
            assert_eq!(git(&["cat-file", "blob", blob]), text.trim_end());
            for objects in [&objects, &early, &reopened] {
                assert_eq!(objects.get(blob).unwrap().unwrap().data, text.as_bytes(), "after the fold");
            }
        }
        let pack = std::fs::read_dir(tmp.path().join(".git/objects/pack"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
            .unwrap();
        git(&["verify-pack", pack.to_str().unwrap()]);
    }

    #[test]
    fn rejects_truncated_tree() {
        let mut data = b"100644 a\0".to_vec();
        data.extend([0xab; 10]);
        assert!(parse_tree(&data, 20).is_err());
    }

    #[test]
    fn batch_processes_survive_a_repack_that_prunes_what_they_read() {
        let tmp = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| git_in(tmp.path(), args);
        git(&["init", "-q"]);
        std::fs::write(tmp.path().join("f"), "x").unwrap();
        git(&["add", "f"]);
        git(&["commit", "-q", "-m", "one"]);
        let blob = git(&["rev-parse", "HEAD:f"]);
        let repo = Repo::discover(tmp.path()).unwrap().unwrap();
        let mut trees = MkTree::spawn(&repo).unwrap();
        let mut objects = CatFile::spawn(&repo).unwrap();
        // Both have listed the packs: none yet.
        trees.write(&Tree::from([(b"g".to_vec(), Entry::blob(&blob))])).unwrap();
        assert!(objects.get(&blob).unwrap().is_some());
        // What `gc --auto` does after another commit: the blob moves from a
        // loose object to a pack that this mktree has never listed.
        git(&["repack", "-a", "-d", "-q"]);
        git(&["prune-packed"]);
        let written = trees.write(&Tree::from([(b"h".to_vec(), Entry::blob(&blob))])).unwrap();
        assert_eq!(git(&["rev-parse", &format!("{written}:h")]), blob);
        assert_eq!(objects.get("HEAD:f").unwrap().map(|o| o.oid), Some(blob));
    }
}
