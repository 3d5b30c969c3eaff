//! The git plumbing the checkpoints branch is built with. `cat-file` and
//! `mktree` run as long-lived `--batch` processes that answer many requests
//! each, so a checkpoint write costs a handful of git processes however
//! many trees it touches (hooks run on every commit).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::error::{Error, Result};
use crate::git::{CHECKPOINTS_REF, Repo, checked, command_line, failed, not_started};

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

/// Writes files as blobs with one `hash-object` process; oids in order.
/// Paths must not contain newlines (they are passed one per line).
pub fn hash_files(repo: &Repo, paths: &[&Path]) -> Result<Vec<String>> {
    let mut input = Vec::new();
    for path in paths {
        input.extend_from_slice(path.as_os_str().as_encoded_bytes());
        input.push(b'\n');
    }
    let mut cmd = repo.git();
    cmd.args(["hash-object", "-w", "--no-filters", "--stdin-paths"]);
    // A few paths in, one short line out each: no pipe can fill up.
    let out = feed(cmd, &mut input.as_slice())?;
    let oids: Vec<String> = String::from_utf8_lossy(&out).lines().map(str::to_owned).collect();
    if oids.len() != paths.len() {
        return Err(Error::internal("git hash-object: unexpected output"));
    }
    Ok(oids)
}

/// Writes everything `reader` yields as one blob, streamed to git.
pub fn hash_stream(repo: &Repo, reader: &mut dyn Read) -> Result<String> {
    let mut cmd = repo.git();
    cmd.args(["hash-object", "-w", "--stdin"]);
    let out = feed(cmd, reader)?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

fn feed(cmd: Command, reader: &mut dyn Read) -> Result<Vec<u8>> {
    let mut pipe = Pipe::spawn(cmd)?;
    let mut stdin = pipe.stdin.take().expect("piped stdin");
    if let Err(err) = std::io::copy(reader, &mut stdin) {
        drop(stdin);
        return Err(Error::internal(format!("feeding git: {err}; {}", pipe.failure())));
    }
    drop(stdin);
    let mut out = Vec::new();
    let _ = pipe.stdout.read_to_end(&mut out);
    let status = pipe.child.wait()?;
    if !status.success() {
        return Err(pipe.failure());
    }
    Ok(out)
}

/// `git commit-tree` as the repo's configured user, else as
/// `entire <entire@localhost>`: a hook must not fail, nor use an identity
/// git guessed from the host name, because nobody set `user.email`.
pub fn commit_tree(repo: &Repo, tree: &str, parents: &[&str], message: &str) -> Result<String> {
    let run = |fallback: bool| {
        let mut cmd = repo.git();
        cmd.args(["-c", "user.useConfigOnly=true", "commit-tree", "--no-gpg-sign", "-m", message]);
        for parent in parents {
            cmd.args(["-p", parent]);
        }
        cmd.arg(tree);
        if fallback {
            for (var, value) in [
                ("GIT_AUTHOR_NAME", "entire"),
                ("GIT_AUTHOR_EMAIL", "entire@localhost"),
                ("GIT_COMMITTER_NAME", "entire"),
                ("GIT_COMMITTER_EMAIL", "entire@localhost"),
            ] {
                if std::env::var_os(var).is_none() {
                    cmd.env(var, value);
                }
            }
        }
        checked(&mut cmd).map(|out| String::from_utf8_lossy(&out).trim().to_owned())
    };
    // Only an unconfigured identity makes the first try fail; anything
    // else fails the second as well and is reported.
    run(false).or_else(|_| run(true))
}

/// Compare-and-swap of the checkpoints ref: moves it from `old` (None: it
/// must not exist yet) to `new`, or fails without touching it.
pub fn update_ref(repo: &Repo, new: &str, old: Option<&str>, reflog: &str) -> Result<()> {
    let zero = "0".repeat(new.len());
    repo.git_output(["update-ref", "-m", reflog, CHECKPOINTS_REF, new, old.unwrap_or(&zero)]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

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
