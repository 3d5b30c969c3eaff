//! Installing and removing entire's git hooks (docs/spec.md §6, docs/hooks.md).
//!
//! entire keeps a hooks directory of its own, `<git-common-dir>/entire-hooks`,
//! and points the repository's `core.hooksPath` at it. Each of entire's four
//! hooks there is a hard link to `.entire`, a **private copy of the entire
//! binary** (not a link to the installed one), which sees the hook's name in `argv[0]`, does entire's work in
//! process and then `exec`s the hook git would have run before: the one of
//! the same name in the previous hooks directory (the previous
//! `core.hooksPath`, or the default `hooks/`), by the path git would have
//! used, with the same arguments, stdin, environment and cwd. Every other
//! hook name that the previous directory holds gets a two-line `#!/bin/sh`
//! script there that `exec`s it the same way. Nothing of the user's or of a
//! hook manager's is renamed or rewritten.
//!
//! Why copies and not symlinks to the installed binary: hook managers write
//! hooks into `core.hooksPath` (simple-git-hooks with `writeFileSync`,
//! scripts with `cp` or `>`), which writes *through* a symlink and would
//! overwrite the installed `entire` binary itself. The private copy takes
//! that write instead, where `status` and `doctor` see it (a manager also
//! deletes the names it does not install, which tells which hook it
//! meant). A copy also keeps the user's
//! chained hooks running when the installed binary is removed; when the
//! installed binary is replaced (an upgrade), a hook re-executes it (see
//! `hooks::chain`).
//!
//! `state.json` in that directory records what `disable` restores
//! (`core.hooksPath` as it was in the repository's config, unset if it was
//! not) and what the hooks chain to.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::git::{Repo, checked};

/// The first lines of entire's old `#!/bin/sh` shims (chained to
/// `<hook>.pre-entire`), which `enable` migrates and `disable` removes.
pub const MARKER: &str = "# entire-hook v1";
/// The marker of the `#!/bin/sh` scripts that chain the hooks entire has no
/// work in.
pub const CHAIN_MARKER: &str = "# entire-hook v2: chains the hook git ran before `entire enable`";
pub const HOOKS: [&str; 4] = ["prepare-commit-msg", "commit-msg", "post-commit", "pre-push"];
/// entire's hooks directory, under the git common dir.
pub const DIR_NAME: &str = "entire-hooks";
/// What `disable` restores and what the hooks chain to.
pub const STATE_FILE: &str = "state.json";
/// The private copy of the binary that the hooks are hard links to.
pub const COPY: &str = ".entire";

/// Every hook name git runs (githooks(5)): those the previous hooks
/// directory holds are chained.
pub const GIT_HOOKS: [&str; 28] = [
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "fsmonitor-watchman",
    "p4-changelist",
    "p4-prepare-changelist",
    "p4-post-changelist",
    "p4-pre-submit",
    "post-index-change",
];

pub fn is_entire_hook(name: &str) -> bool {
    HOOKS.contains(&name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HookState {
    Installed,
    Missing,
    Foreign,
}

/// `state.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// The installed binary the hooks are copies of.
    pub binary: PathBuf,
    /// Its size and mtime when copied: a hook that finds them changed runs
    /// the installed binary instead of its own copy (an upgrade).
    pub binary_len: u64,
    pub binary_mtime_ns: i64,
    /// `core.hooksPath` in the repository's own config before `enable`,
    /// verbatim; None when it was not set. `disable` restores it.
    pub previous_local: Option<String>,
    /// The `core.hooksPath` git used before `enable` (from any config
    /// scope), verbatim; None: the default `hooks/` directory.
    pub previous: Option<String>,
    /// Fetch refspecs `enable` added, as (remote, refspec), for `disable`.
    #[serde(default)]
    pub added_refspecs: Vec<(String, String)>,
}

impl State {
    pub fn load(dir: &Path) -> Option<State> {
        let bytes = fs::read(dir.join(STATE_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        crate::fsutil::atomic_write(&dir.join(STATE_FILE), &bytes, 0o644)
    }

    /// The path git would have run `hook` by before `enable`, as git names
    /// it (relative when git's own would be: `$0` is unchanged). `in_main`
    /// says the hook runs in a main worktree whose git dir is `./.git` and
    /// GIT_DIR is unset, where git names the default directory `.git/hooks`.
    pub fn chained_path(&self, hook: &str, common_dir: &Path, in_main: bool) -> PathBuf {
        match &self.previous {
            Some(path) => {
                let expanded = expand_home(path);
                PathBuf::from(format!("{}/{hook}", expanded.trim_end_matches('/')))
            }
            None if in_main => PathBuf::from(format!(".git/hooks/{hook}")),
            None => common_dir.join("hooks").join(hook),
        }
    }

    /// The previous hooks directory, absolute, for reading and repairs.
    pub fn previous_dir(&self, repo: &Repo) -> PathBuf {
        match &self.previous {
            Some(path) => repo.worktree.join(expand_home(path)),
            None => repo.common_dir.join("hooks"),
        }
    }
}

/// `~/` as git expands it in `core.hooksPath`.
fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_owned(),
    }
}

/// entire's own hooks directory for `repo`.
pub fn our_dir(repo: &Repo) -> PathBuf {
    let common = repo.common_dir.canonicalize().unwrap_or_else(|_| repo.common_dir.clone());
    common.join(DIR_NAME)
}

/// Where git runs hooks from now (honours `core.hooksPath`), absolute.
pub fn hooks_dir(repo: &Repo) -> Result<PathBuf> {
    // Not `repo.git()`: that one turns hooks off, and we want the real path.
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).args(["rev-parse", "--git-path", "hooks"]).stdin(Stdio::null());
    let out = checked(&mut cmd)?;
    let rel = String::from_utf8_lossy(&out).trim().to_owned();
    let dir = repo.worktree.join(rel);
    Ok(dir.canonicalize().unwrap_or(dir))
}

/// `git config [scope] --get core.hooksPath`, without entire's override.
fn hooks_path_config(repo: &Repo, scope: Option<&str>) -> Result<Option<String>> {
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).arg("config");
    cmd.args(scope);
    cmd.args(["--get", "core.hooksPath"]).stdin(Stdio::null());
    let out = cmd.output().context("running git config")?;
    match out.status.code() {
        Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_owned())),
        Some(1) => Ok(None),
        _ => Err(Error::new(format!("git config: {}", String::from_utf8_lossy(&out.stderr).trim()))),
    }
}

fn set_local_hooks_path(repo: &Repo, value: Option<&str>) -> Result<()> {
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).args(["config", "--local"]).stdin(Stdio::null());
    match value {
        Some(v) => cmd.args(["core.hooksPath", v]),
        None => cmd.args(["--unset-all", "core.hooksPath"]),
    };
    let out = cmd.output().context("running git config")?;
    // 5: unsetting a key that is not set.
    if out.status.success() || (value.is_none() && out.status.code() == Some(5)) {
        Ok(())
    } else {
        Err(Error::new(format!("git config core.hooksPath: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}

/// The `#!/bin/sh` script that chains a hook entire has no work in.
pub fn chain_script(state: &State, hook: &str, common_dir: &Path) -> String {
    let q = |p: PathBuf| shell_quote(&p.to_string_lossy());
    let main = if state.previous.is_none() {
        format!(
            "if [ -z \"${{GIT_DIR+x}}\" ] && [ -d .git ]; then exec {} \"$@\"; fi\n",
            q(state.chained_path(hook, common_dir, true))
        )
    } else {
        String::new()
    };
    format!(
        "#!/bin/sh\n{CHAIN_MARKER}\n{main}exec {} \"$@\"\n",
        q(state.chained_path(hook, common_dir, false))
    )
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Whether `content` is one of entire's old v1 shims.
pub fn is_ours(content: &str) -> bool {
    content.lines().take(3).any(|l| l.trim() == MARKER)
}

fn is_chain_script(path: &Path) -> bool {
    fs::read(path)
        .is_ok_and(|b| b.len() < 4096 && String::from_utf8_lossy(&b).lines().nth(1) == Some(CHAIN_MARKER))
}

/// A copy of an entire binary: a regular file that is an executable (ELF
/// or Mach-O), not a script a manager wrote.
pub fn is_binary_copy(path: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else { return false };
    if !meta.is_file() || meta.len() < 4096 {
        return false;
    }
    let mut head = [0u8; 4];
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && is_executable_magic(&head)
}

/// Whether `path` in entire's directory `dir` is one of entire's hooks: an
/// executable (not a script written over it) that is the private copy (a
/// hard link to it) or as large as it (a copy, where there are no hard
/// links). Another program a manager put there is not.
pub fn is_our_hook(dir: &Path, path: &Path) -> bool {
    let (Ok(hook), Ok(copy)) = (fs::symlink_metadata(path), fs::metadata(dir.join(COPY))) else {
        return false;
    };
    is_binary_copy(path)
        && ((hook.ino() == copy.ino() && hook.dev() == copy.dev()) || hook.len() == copy.len())
}

fn is_executable_magic(head: &[u8; 4]) -> bool {
    // ELF, or Mach-O (32/64-bit, either byte order, universal).
    head == b"\x7fELF"
        || matches!(u32::from_be_bytes(*head), 0xfeedface | 0xfeedfacf | 0xcefaedfe | 0xcffaedfe | 0xcafebabe)
}

fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The state of each of our hooks, as git will run them now.
pub fn states(repo: &Repo) -> Result<Vec<(&'static str, HookState)>> {
    let dir = hooks_dir(repo)?;
    let ours = dir == our_dir(repo);
    Ok(HOOKS
        .iter()
        .map(|&hook| {
            let path = dir.join(hook);
            let state = if fs::symlink_metadata(&path).is_err() {
                HookState::Missing
            } else if (ours && is_our_hook(&dir, &path))
                || (!ours && fs::read(&path).is_ok_and(|b| is_ours(&String::from_utf8_lossy(&b))))
            {
                HookState::Installed // ours, or an old v1 shim
            } else {
                HookState::Foreign
            };
            (hook, state)
        })
        .collect())
}

/// Something wrong with the hooks, for `status` and `doctor`; every one of
/// them is repaired by `install` (`entire enable`, `entire doctor --fix`).
#[derive(Debug, PartialEq)]
pub enum Problem {
    /// core.hooksPath is not entire's directory (a hook manager's install,
    /// e.g. `npx husky` or `lefthook install --reset-hooks-path`, set it).
    HooksPathChanged {
        now: Option<String>,
    },
    Missing(&'static str),
    /// Something else wrote a hook into entire's directory (a manager's
    /// install that follows core.hooksPath, e.g. `npx simple-git-hooks`).
    Foreign(String),
    /// The binary the hooks were copied from is gone; they run their copy.
    BinaryGone(PathBuf),
    /// It changed since: the hooks run it rather than their copies.
    BinaryChanged(PathBuf),
    /// The previous hooks directory holds a hook that is not chained.
    NotChained(String),
    /// Old `#!/bin/sh` shims with `.pre-entire` backups.
    Legacy(PathBuf),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::HooksPathChanged { now } => write!(
                f,
                "core.hooksPath is {}, not entire's hooks directory: a hook manager's install \
                 (e.g. `npx husky`) changed it, so entire's hooks do not run",
                now.as_deref().map(|p| format!("{p:?}")).unwrap_or_else(|| "unset".into())
            ),
            Problem::Missing(hook) => write!(f, "git hook {hook} is missing"),
            Problem::Foreign(hook) => write!(
                f,
                "git hook {hook} in entire's hooks directory is not entire's: a hook manager's \
                 install wrote it there (core.hooksPath points there)"
            ),
            Problem::BinaryGone(binary) => write!(
                f,
                "the git hooks were installed from {}, which is gone; they run their own copy",
                binary.display()
            ),
            Problem::BinaryChanged(binary) => {
                write!(f, "{} changed since the git hooks were installed from it", binary.display())
            }
            Problem::NotChained(hook) => {
                write!(
                    f,
                    "your git hook {hook} is not chained from entire's hooks directory, so it does not run"
                )
            }
            Problem::Legacy(dir) => write!(f, "old entire shims in {}", dir.display()),
        }
    }
}

/// What is wrong with entire's hooks in an enabled repository.
pub fn problems(repo: &Repo) -> Result<Vec<Problem>> {
    let ours = our_dir(repo);
    let dir = hooks_dir(repo)?;
    let mut found = Vec::new();
    let Some(state) = State::load(&ours) else {
        if states(repo)?.iter().any(|(_, s)| *s == HookState::Installed) {
            found.push(Problem::Legacy(dir));
        } else {
            found.extend(HOOKS.iter().map(|h| Problem::Missing(h)));
        }
        return Ok(found);
    };
    if dir != ours {
        found.push(Problem::HooksPathChanged { now: hooks_path_config(repo, None)? });
        return Ok(found);
    }
    for (hook, hook_state) in states(repo)? {
        match hook_state {
            HookState::Installed => {}
            HookState::Missing => found.push(Problem::Missing(hook)),
            HookState::Foreign => found.push(Problem::Foreign(hook.into())),
        }
    }
    for hook in GIT_HOOKS.iter().filter(|h| !is_entire_hook(h)) {
        let path = ours.join(hook);
        if fs::symlink_metadata(&path).is_ok() && !is_chain_script(&path) {
            found.push(Problem::Foreign((*hook).into()));
        } else if !path.exists() && is_executable(&state.previous_dir(repo).join(hook)) {
            found.push(Problem::NotChained((*hook).into()));
        }
    }
    match fs::metadata(&state.binary) {
        Err(_) => found.push(Problem::BinaryGone(state.binary.clone())),
        Ok(m)
            if (m.len(), m.mtime() * 1_000_000_000 + m.mtime_nsec())
                != (state.binary_len, state.binary_mtime_ns) =>
        {
            found.push(Problem::BinaryChanged(state.binary.clone()))
        }
        Ok(_) => {}
    }
    Ok(found)
}

/// What `install` did, for the user.
#[derive(Debug, Default)]
pub struct Installed {
    pub dir: PathBuf,
    /// The hooks directory entire now chains to, as git named it.
    pub previous: Option<String>,
    /// Hooks of the previous directory that are chained.
    pub chained: Vec<String>,
    /// Foreign hooks found in entire's directory, moved to the previous one.
    pub adopted: Vec<(String, PathBuf)>,
    /// Files of the previous directory moved aside to make room.
    pub moved_aside: Vec<PathBuf>,
    /// Old shims removed (their `.pre-entire` hooks restored).
    pub migrated: bool,
}

/// Installs (or repairs) entire's hooks for `repo`, running `binary`.
pub fn install(repo: &Repo, binary: &Path) -> Result<Installed> {
    let ours = our_dir(repo);
    let mut done = Installed { dir: ours.clone(), ..Installed::default() };
    crate::fsutil::private_dir(&ours).or_else(|_| fs::create_dir_all(&ours).context("creating hooks dir"))?;
    let current = hooks_dir(repo)?;
    let old = State::load(&ours);
    let mut state = if current == ours {
        old.clone().unwrap_or_default()
    } else {
        // First install, or something changed core.hooksPath since: what
        // git runs now is what the hooks chain to.
        if HOOKS
            .iter()
            .any(|h| fs::read(current.join(h)).is_ok_and(|b| is_ours(&String::from_utf8_lossy(&b))))
        {
            for hook in HOOKS {
                uninstall_legacy(&current, hook)?;
            }
            done.migrated = true;
        }
        State {
            previous_local: hooks_path_config(repo, Some("--local"))?,
            previous: hooks_path_config(repo, None)?,
            added_refspecs: old.map(|s| s.added_refspecs).unwrap_or_default(),
            ..State::default()
        }
    };
    let meta = fs::metadata(binary).context(format_args!("reading {}", binary.display()))?;
    state.binary = binary.to_path_buf();
    state.binary_len = meta.len();
    state.binary_mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
    done.previous = state.previous.clone();
    let previous_dir = state.previous_dir(repo);

    // Hooks a manager wrote into our directory go where it would have
    // written them without us; lefthook's `.old` copies of ours go away.
    for hook in GIT_HOOKS {
        let path = ours.join(hook);
        let old_copy = ours.join(format!("{hook}.old"));
        if is_our_hook(&ours, &old_copy) {
            fs::remove_file(&old_copy).context(format_args!("removing {}", old_copy.display()))?;
        }
        if fs::symlink_metadata(&path).is_err() || is_our_hook(&ours, &path) || is_chain_script(&path) {
            continue;
        }
        let target = previous_dir.join(hook);
        if fs::read(&target).ok() == fs::read(&path).ok() && target.exists() {
            fs::remove_file(&path).context(format_args!("removing {}", path.display()))?;
        } else {
            if fs::symlink_metadata(&target).is_ok() {
                let aside = previous_dir.join(format!("{hook}.replaced-by-entire-{}", std::process::id()));
                fs::rename(&target, &aside).context(format_args!("moving {} aside", target.display()))?;
                done.moved_aside.push(aside);
            }
            fs::create_dir_all(&previous_dir).context(format_args!("creating {}", previous_dir.display()))?;
            move_file(&path, &target)?;
        }
        done.adopted.push((hook.to_owned(), target));
    }

    // One private copy of the binary; the hooks are hard links to it.
    let copy = ours.join(COPY);
    let current_copy =
        fs::metadata(&copy).is_ok_and(|m| m.len() == meta.len()) && !files_differ(&copy, binary);
    if !current_copy {
        copy_binary(binary, &copy)?;
    }
    let common = repo.common_dir.canonicalize().unwrap_or_else(|_| repo.common_dir.clone());
    for hook in GIT_HOOKS {
        let path = ours.join(hook);
        let chained = is_executable(&previous_dir.join(hook));
        if chained {
            done.chained.push(hook.to_owned());
        }
        if is_entire_hook(hook) {
            link_copy(&copy, &path)?;
        } else if chained {
            let script = chain_script(&state, hook, &common);
            if fs::read(&path).ok().as_deref() != Some(script.as_bytes()) {
                crate::fsutil::atomic_write(&path, script.as_bytes(), 0o755)?;
            }
        } else if is_chain_script(&path) {
            fs::remove_file(&path).context(format_args!("removing {}", path.display()))?;
        }
    }
    state.save(&ours)?;
    let wanted = ours.to_string_lossy().into_owned();
    if hooks_path_config(repo, Some("--local"))?.as_deref() != Some(wanted.as_str()) {
        set_local_hooks_path(repo, Some(&wanted))?;
    }
    Ok(done)
}

/// Notes refspecs `enable` added, for `disable` to remove.
pub fn record_refspecs(repo: &Repo, added: &[(String, String)]) -> Result<()> {
    let dir = our_dir(repo);
    let mut state = State::load(&dir).ok_or_else(|| Error::new("entire's hooks are not installed"))?;
    for spec in added {
        if !state.added_refspecs.contains(spec) {
            state.added_refspecs.push(spec.clone());
        }
    }
    state.save(&dir)
}

/// Whether two files differ (enable and doctor only, never a hook).
fn files_differ(a: &Path, b: &Path) -> bool {
    fs::read(a).ok() != fs::read(b).ok()
}

/// Makes `path` a hard link to `copy` (a copy of its own where the file
/// system has no hard links), replacing an older copy atomically.
fn link_copy(copy: &Path, path: &Path) -> Result<()> {
    let same = |a: &Path, b: &Path| matches!((fs::symlink_metadata(a), fs::metadata(b)), (Ok(x), Ok(y)) if x.ino() == y.ino() && x.dev() == y.dev());
    if same(path, copy) {
        return Ok(());
    }
    let dir = path.parent().expect("hook has a dir");
    let tmp =
        dir.join(format!(".{}.tmp-{}", path.file_name().unwrap().to_string_lossy(), std::process::id()));
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(copy, &tmp).is_err() {
        fs::copy(copy, &tmp).context(format_args!("copying {} to {}", copy.display(), tmp.display()))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).context("making the hook executable")?;
    }
    fs::rename(&tmp, path).context(format_args!("installing {}", path.display()))
}

/// Copies the binary to `path` atomically (temp file, rename), so a hook
/// that runs meanwhile runs the old copy or the new one.
fn copy_binary(binary: &Path, path: &Path) -> Result<()> {
    let dir = path.parent().expect("hook has a dir");
    let tmp =
        dir.join(format!(".{}.tmp-{}", path.file_name().unwrap().to_string_lossy(), std::process::id()));
    fs::copy(binary, &tmp).context(format_args!("copying {} to {}", binary.display(), tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).context("making the hook executable")?;
    fs::rename(&tmp, path).context(format_args!("installing {}", path.display()))
}

fn move_file(from: &Path, to: &Path) -> Result<()> {
    if fs::rename(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to).context(format_args!("copying {} to {}", from.display(), to.display()))?;
    fs::remove_file(from).context(format_args!("removing {}", from.display()))
}

/// Removes entire's hooks: `core.hooksPath` goes back to what it was in the
/// repository's config (unset if it was not set), entire's directory goes
/// (anything in it that is not entire's stays, and is reported). Old v1
/// shims are removed wherever git runs hooks from. Returns the refspecs
/// `enable` added, for the caller to remove, and the files left behind.
pub fn uninstall(repo: &Repo) -> Result<(Option<State>, Vec<PathBuf>)> {
    let ours = our_dir(repo);
    let state = State::load(&ours);
    if let Some(state) = &state {
        let local = hooks_path_config(repo, Some("--local"))?;
        if local.as_deref().map(Path::new) == Some(ours.as_path()) {
            set_local_hooks_path(repo, state.previous_local.as_deref())?;
        }
    }
    let current = hooks_dir(repo)?;
    if current != ours {
        for hook in HOOKS {
            uninstall_legacy(&current, hook)?;
        }
    }
    let mut left = Vec::new();
    if let Ok(entries) = fs::read_dir(&ours) {
        // Decided first, removed after: whether a hook is ours depends on
        // the private copy still being there.
        let mut mine = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours_too = name == STATE_FILE
                || name == COPY
                || (is_entire_hook(&name) && is_our_hook(&ours, &path))
                || is_chain_script(&path)
                || name.starts_with('.') && name.contains(".tmp-");
            if ours_too { mine.push(path) } else { left.push(path) }
        }
        for path in mine {
            fs::remove_file(&path).context(format_args!("removing {}", path.display()))?;
        }
        if left.is_empty() {
            let _ = fs::remove_dir(&ours);
        }
    }
    Ok((state, left))
}

/// Removes one old v1 shim and puts back the hook it had renamed.
pub fn uninstall_legacy(dir: &Path, hook: &str) -> Result<bool> {
    let path = dir.join(hook);
    if !fs::read(&path).is_ok_and(|b| is_ours(&String::from_utf8_lossy(&b))) {
        return Ok(false);
    }
    fs::remove_file(&path).context(format_args!("removing {}", path.display()))?;
    let mut backup = path.as_os_str().to_owned();
    backup.push(".pre-entire");
    let backup = PathBuf::from(backup);
    if backup.exists() {
        fs::rename(&backup, &path).context(format_args!("restoring {}", path.display()))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(previous: Option<&str>) -> State {
        State { previous: previous.map(Into::into), ..State::default() }
    }

    #[test]
    fn chained_paths_are_named_as_git_names_them() {
        let common = Path::new("/r/.git");
        assert_eq!(state(None).chained_path("commit-msg", common, true), Path::new(".git/hooks/commit-msg"));
        assert_eq!(
            state(None).chained_path("commit-msg", common, false),
            Path::new("/r/.git/hooks/commit-msg")
        );
        assert_eq!(
            state(Some(".husky/_")).chained_path("pre-push", common, true),
            Path::new(".husky/_/pre-push")
        );
        assert_eq!(state(Some("/abs/")).chained_path("pre-push", common, false), Path::new("/abs/pre-push"));
    }

    #[test]
    fn chain_scripts_quote_and_start_only_the_hook() {
        let s = chain_script(&state(Some("it's here")), "pre-commit", Path::new("/r/.git"));
        assert_eq!(s, format!("#!/bin/sh\n{CHAIN_MARKER}\nexec 'it'\\''s here/pre-commit' \"$@\"\n"));
        let s = chain_script(&state(None), "pre-commit", Path::new("/r/.git"));
        assert!(
            s.contains("exec '.git/hooks/pre-commit' \"$@\"; fi\nexec '/r/.git/hooks/pre-commit'"),
            "{s}"
        );
        assert!(!s.contains("$("), "{s}");
    }

    #[test]
    fn recognises_binaries_and_not_scripts() {
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("commit-msg");
        fs::write(&script, "#!/bin/sh\nexit 0\n".repeat(500)).unwrap();
        assert!(!is_binary_copy(&script));
        let copy = tmp.path().join("post-commit");
        fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
        assert!(is_binary_copy(&copy));
    }
}
