//! The object database and refs behind the checkpoints branch. Writes,
//! and the reads a write needs, run in process ([`Objects`], gitoxide):
//! the detached writer starts no git at all. Readers that are not on a
//! commit's path (`explain`, the merge with a remote) talk to long-lived
//! `git cat-file --batch` and `git mktree --batch` processes instead, each
//! answering many requests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::error::{Error, Result};
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
        if size > MAX_OBJECT_BYTES {
            // Skipped unread, so the next object can still be read.
            let skipped =
                std::io::copy(&mut (&mut self.0.stdout).take(size as u64 + 1), &mut std::io::sink());
            skipped.map_err(|_| self.0.failure())?;
            return Err(Error::internal(format!(
                "{spec}: a {kind} of {size} bytes, over the {MAX_OBJECT_BYTES}-byte cap on what entire reads"
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
        let oid = data[nul + 1..nul + 1 + oid_len].iter().map(|b| format!("{b:02x}")).collect();
        tree.insert(data[space + 1..nul].to_vec(), Entry { mode, oid });
        data = &data[nul + 1 + oid_len..];
    }
    Ok(tree)
}

/// The object database and the refs of one repository, in process
/// (gitoxide): blobs, trees and the commit of a checkpoint are written
/// without starting git, and the ref moves by compare-and-swap under git's
/// own lock file. Identity and configuration are read as git reads them.
pub struct Objects {
    repo: gix::Repository,
    /// Set when the refs are in the reftable format, which gitoxide does
    /// not write: the ref is then moved by `git update-ref`.
    reftable: Option<Repo>,
}

impl Objects {
    pub fn open(repo: &Repo) -> Result<Objects> {
        let opened = gix::open(&repo.git_dir)
            .map_err(|e| Error::internal(format!("opening {} with gitoxide: {e}", repo.git_dir.display())))?;
        let reftable = repo.common_dir.join("reftable").is_dir().then(|| repo.clone());
        Ok(Objects { repo: opened, reftable })
    }

    fn oid(&self, hex: &str) -> Result<gix::ObjectId> {
        gix::ObjectId::from_hex(hex.as_bytes())
            .map_err(|_| Error::internal(format!("not an object name: {hex:?}")))
    }

    /// The object `oid` names; None when it is missing.
    pub fn get(&self, oid: &str) -> Result<Option<Object>> {
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
        let Some(commit) = self.commit_headers(commit)? else { return Ok(None) };
        let mut object = self.get(&commit.tree)?;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            let Some(entries) = object.map(|o| o.entries()).transpose()? else { return Ok(None) };
            object = match entries.get(name.as_bytes()) {
                Some(entry) => self.get(&entry.oid)?,
                None => return Ok(None),
            };
        }
        Ok(object)
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
        let mut files = Vec::new();
        match headers.parents.first() {
            None => self.diff_trees(None, Some(&headers.tree), "", &mut files)?,
            Some(parent) => {
                let parent = self
                    .commit_headers(parent)?
                    .ok_or_else(|| Error::internal(format!("parent {parent} of {commit} is not here")))?;
                self.diff_trees(Some(&parent.tree), Some(&headers.tree), "", &mut files)?
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
        let entries = |tree: Option<&str>| -> Result<Tree> {
            Ok(match tree {
                Some(oid) => self.get(oid)?.map(|o| o.entries()).transpose()?.unwrap_or_default(),
                None => Tree::new(),
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
        self.at_path(commit, dir)?.map_or(Ok(Tree::new()), |object| object.entries())
    }

    pub fn blob(&self, bytes: &[u8]) -> Result<String> {
        let id = self.repo.write_blob(bytes).map_err(|e| odb_error("writing", "a blob", e))?;
        Ok(id.to_string())
    }

    /// Writes a tree in git's entry order.
    pub fn write_tree(&self, tree: &Tree) -> Result<String> {
        let mut entries = Vec::with_capacity(tree.len());
        for (name, entry) in tree {
            let mode = gix::objs::tree::EntryMode::from_bytes(entry.mode.as_bytes())
                .ok_or_else(|| Error::internal(format!("bad tree entry mode {:?}", entry.mode)))?;
            entries.push(gix::objs::tree::Entry {
                mode,
                filename: name.clone().into(),
                oid: self.oid(&entry.oid)?,
            });
        }
        entries.sort();
        let id = self
            .repo
            .write_object(gix::objs::Tree { entries })
            .map_err(|e| odb_error("writing", "a tree", e))?;
        Ok(id.to_string())
    }

    /// A commit as the repository's configured user, else as `entire
    /// <entire@localhost>`: never an identity guessed from the host name.
    pub fn commit(&self, tree: &str, parents: &[&str], message: &str) -> Result<String> {
        let now = gix::date::Time::now_local_or_utc();
        let fallback = |name: &str, email: &str| gix::actor::Signature {
            name: name.into(),
            email: email.into(),
            time: now,
        };
        let configured = |sig: Option<gix::Result<gix::actor::SignatureRef<'_>>>| {
            sig.and_then(|s| s.ok())
                .filter(|s| !s.name.is_empty() && !s.email.is_empty())
                .and_then(|s| s.to_owned().ok())
        };
        let committer =
            configured(self.repo.committer()).unwrap_or_else(|| fallback("entire", "entire@localhost"));
        let author = configured(self.repo.author()).unwrap_or_else(|| committer.clone());
        let commit = gix::objs::Commit {
            tree: self.oid(tree)?,
            parents: parents.iter().map(|p| self.oid(p)).collect::<Result<_>>()?,
            author,
            committer,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        let id = self.repo.write_object(&commit).map_err(|e| odb_error("writing", "a commit", e))?;
        Ok(id.to_string())
    }

    /// Compare-and-swap of `name`: moves it from `old` (None: it must not
    /// exist yet) to `new`, or fails without touching it.
    pub fn update_ref(&self, name: &str, new: &str, old: Option<&str>, reflog: &str) -> Result<()> {
        use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
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
        self.repo.edit_reference(edit).map(drop).map_err(|e| {
            Error::internal(format!("moving {name} from {} to {new}: {e}", old.unwrap_or("nothing")))
        })
    }
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
    fn rejects_truncated_tree() {
        let mut data = b"100644 a\0".to_vec();
        data.extend([0xab; 10]);
        assert!(parse_tree(&data, 20).is_err());
    }

    #[test]
    fn batch_processes_survive_a_repack_that_prunes_what_they_read() {
        let tmp = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let mut cmd = Command::new("git");
            cmd.current_dir(tmp.path()).env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_CONFIG_NOSYSTEM", "1");
            cmd.args(["-c", "user.name=t", "-c", "user.email=t@t"]).args(args);
            String::from_utf8(checked(&mut cmd).unwrap()).unwrap().trim().to_owned()
        };
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
