//! Installing agent hooks into the agent's own settings file and removing
//! them; what is written into the file is the agent's format's
//! (`Spec::format`).
//!
//! **Where.** By default the agent's local, uncommitted file
//! (`.claude/settings.local.json`), or, for an agent without one, its
//! project file kept out of git through `<git-common-dir>/info/exclude`;
//! either way made sure git ignores it, and the command names this
//! machine's entire by absolute path. With `--project`, the committed
//! project file, whose command finds `entire` on PATH and does nothing
//! where it is not installed: teammates without entire are not broken.
//!
//! **Restoring byte for byte.** When `enable` finds no hook of ours in a
//! file, it saves the file's original bytes (or that there was no file) and
//! the bytes it wrote, in `<git-dir>/entire-agent-settings/<agent>[.local].json`
//! (per worktree, never committed). `disable` puts the original back when
//! the file is still exactly what `enable` wrote, or when removing our
//! hooks gives the original's content. When the user changed something
//! else meanwhile, only ours go.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Before, HookEvent, Removed, Spec, with_hooks};
use crate::error::{Context, Error, Result};
use crate::fsutil::{Links, SETTINGS_CAP, atomic_write, read_capped};
use crate::git::Repo;
use crate::hookdir::shell_quote;

/// Which settings file: this clone's own, or the one committed for everyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Local,
    Project,
}

/// Which agents have every hook of ours installed (in the project or the
/// local settings file), for `entire status`.
pub fn installed(repo: &Repo) -> Vec<(&'static str, bool)> {
    with_hooks()
        .map(|spec| {
            let complete = SettingsFile::all(repo, spec).iter().any(|file| {
                let Ok(Some(bytes)) = read_capped(&file.path, SETTINGS_CAP, Links::Follow) else {
                    return false;
                };
                let verbs = spec.format.installed_verbs(spec, &bytes);
                spec.events.iter().all(|e| verbs.iter().any(|v| v == e.verb))
            });
            (spec.name, complete)
        })
        .collect()
}

/// What keeps entire's agent hooks from running, as `(problem, hint)`, for
/// `entire doctor`: only files that hold some of ours are looked at.
pub fn problems(repo: &Repo) -> Vec<(String, String)> {
    let complete = installed(repo);
    let mut found = Vec::new();
    for spec in with_hooks() {
        let hint = format!("run `entire enable --agent {}`", spec.name);
        let mut mentioned = false;
        let mut unusable = false;
        for file in SettingsFile::all(repo, spec) {
            let Ok(Some(bytes)) = read_capped(&file.path, SETTINGS_CAP, Links::Follow) else { continue };
            if !String::from_utf8_lossy(&bytes).contains(&spec.marker()) {
                continue;
            }
            mentioned = true;
            let shown = file.path.strip_prefix(&repo.worktree).unwrap_or(&file.path).display().to_string();
            for problem in spec.format.problems(spec, &bytes) {
                unusable |= spec.format.installed_verbs(spec, &bytes).is_empty();
                found.push((format!("{shown} {problem}"), hint.clone()));
            }
        }
        if mentioned && !unusable && complete.contains(&(spec.name, false)) {
            found.push((format!("{} settings lost some of entire's hooks", spec.name), hint));
        }
    }
    found
}

/// One agent settings file, and where its original is saved.
pub struct SettingsFile {
    spec: &'static Spec,
    scope: Scope,
    pub path: PathBuf,
    /// The agent's settings directory, the last one removed with the file.
    dir: PathBuf,
    saved: PathBuf,
    /// `<git-common-dir>/info/exclude`, which keeps a local file out of git.
    exclude_file: PathBuf,
}

impl SettingsFile {
    pub fn new(repo: &Repo, spec: &'static Spec, scope: Scope) -> SettingsFile {
        let name = match scope {
            Scope::Local => spec.local_file.unwrap_or(spec.project_file),
            Scope::Project => spec.project_file,
        };
        let suffix = match (scope, spec.local_file) {
            (Scope::Local, Some(_)) => ".local",
            _ => "",
        };
        let dir = repo.worktree.join(spec.settings_dir);
        SettingsFile {
            spec,
            scope,
            path: dir.join(name),
            dir,
            saved: repo.git_dir.join("entire-agent-settings").join(format!("{}{suffix}.json", spec.name)),
            exclude_file: repo.common_dir.join("info/exclude"),
        }
    }

    /// The project file, and the local one when the agent has its own.
    pub fn all(repo: &Repo, spec: &'static Spec) -> Vec<SettingsFile> {
        let mut files = vec![SettingsFile::new(repo, spec, Scope::Project)];
        if spec.local_file.is_some() {
            files.push(SettingsFile::new(repo, spec, Scope::Local));
        }
        files
    }

    /// The command a hook runs: this machine's entire by absolute path in
    /// a local file; in a committed one, whatever `entire` is on PATH, and
    /// nothing (the payload read and dropped) where there is none.
    fn command(&self, binary: &Path) -> impl Fn(&HookEvent) -> String + '_ {
        let quoted = shell_quote(&binary.to_string_lossy());
        move |event| match self.scope {
            Scope::Local => format!("{quoted}{}{}", self.spec.marker(), event.verb),
            Scope::Project => format!(
                "command -v entire >/dev/null 2>&1 || exec cat >/dev/null; exec entire{}{}",
                self.spec.marker(),
                event.verb
            ),
        }
    }

    /// What `enable` would change; checks everything before anything is written.
    pub fn plan_install(&self, repo: &Repo, binary: &Path) -> Result<Change> {
        let exclude = match self.scope {
            Scope::Local => self.keep_out_of_git(repo)?.map(Exclude::Add),
            Scope::Project => None,
        };
        let added = match &exclude {
            Some(Exclude::Add(line)) => Some(line.clone()),
            _ => None,
        };
        let current = read_capped(&self.path, SETTINGS_CAP, Links::Follow)?;
        let installed = self
            .spec
            .format
            .install(self.spec, current.as_deref(), &self.command(binary))
            .map_err(|e| self.shape_error(e))?;
        let Some(bytes) = installed else {
            return Ok(self.change(Write::Unchanged, Saved::Keep, exclude));
        };
        let had_ours =
            current.as_deref().is_some_and(|c| String::from_utf8_lossy(c).contains(&self.spec.marker()));
        let saved = if had_ours {
            // Only a file without our hooks is worth restoring.
            match self.load_saved() {
                Some(original) => Saved::Put(Original {
                    installed: string(&bytes),
                    excluded: added.or(original.excluded.clone()),
                    ..original
                }),
                None => Saved::Keep,
            }
        } else {
            Saved::Put(Original {
                original: current.as_deref().map(string),
                installed: string(&bytes),
                excluded: added,
            })
        };
        Ok(self.change(Write::Bytes(bytes), saved, exclude))
    }

    /// The line `info/exclude` needs so that git ignores this local file,
    /// if it needs one. A file git tracks cannot be kept local.
    fn keep_out_of_git(&self, repo: &Repo) -> Result<Option<String>> {
        let relative =
            self.path.strip_prefix(&repo.worktree).unwrap_or(&self.path).to_string_lossy().into_owned();
        if repo.git_output(["ls-files", "--error-unmatch", "--", &relative]).is_ok() {
            return Err(Error::user(format!(
                "{relative} is committed, and {} has no settings file of its own for this clone",
                self.spec.name
            ))
            .with_hint(format!(
                "`entire enable --agent {} --project` puts the hooks in {relative} for everyone",
                self.spec.name
            )));
        }
        if repo.git_output(["check-ignore", "-q", "--no-index", "--", &relative]).is_ok() {
            return Ok(None);
        }
        Ok(Some(format!("/{relative}")))
    }

    /// What `disable` would change.
    pub fn plan_uninstall(&self) -> Result<Change> {
        let Some(current) = read_capped(&self.path, SETTINGS_CAP, Links::Follow)? else {
            return Ok(self.change(Write::Unchanged, Saved::Drop, None));
        };
        if !String::from_utf8_lossy(&current).contains(&self.spec.marker()) {
            return Ok(self.change(Write::Unchanged, Saved::Drop, None)); // not ours, maybe not even JSON
        }
        let saved = self.load_saved();
        // The ignore line `enable` added goes with the file.
        let unexclude = saved.as_ref().and_then(|s| s.excluded.clone()).map(Exclude::Remove);
        let restore = |original: &Option<String>| match original {
            Some(text) => Write::Bytes(text.clone().into_bytes()),
            None => Write::Delete,
        };
        if let Some(saved) = &saved
            && saved.installed.as_bytes() == current
        {
            return Ok(self.change(restore(&saved.original), Saved::Drop, unexclude));
        }
        let before = match &saved {
            None => Before::Unknown,
            Some(Original { original: None, .. }) => Before::Absent,
            Some(Original { original: Some(text), .. }) => Before::Text(text.as_bytes()),
        };
        let removed =
            self.spec.format.uninstall(self.spec, &current, before).map_err(|e| self.shape_error(e))?;
        let write = match removed {
            Removed::AsBefore => restore(&saved.expect("known before").original),
            Removed::Bytes(bytes) => Write::Bytes(bytes),
            Removed::Delete => Write::Delete,
        };
        Ok(self.change(write, Saved::Drop, unexclude))
    }

    fn change(&self, write: Write, saved: Saved, exclude: Option<Exclude>) -> Change {
        Change {
            agent: self.spec.name,
            scope: self.scope,
            path: self.path.clone(),
            dir: self.dir.clone(),
            saved_path: self.saved.clone(),
            write,
            saved,
            exclude: exclude.map(|e| (self.exclude_file.clone(), e)),
        }
    }

    fn shape_error(&self, err: Error) -> Error {
        err.context(format_args!("cannot change {}", self.path.display()))
            .with_hint("fix the file by hand and run this again; entire left it as it was")
    }

    fn load_saved(&self) -> Option<Original> {
        serde_json::from_slice(&read_capped(&self.saved, SETTINGS_CAP, Links::Follow).ok()??).ok()
    }
}

/// What the user had before `enable` added our hooks.
#[derive(Serialize, Deserialize, Clone)]
struct Original {
    /// The file's text; None when there was no file.
    original: Option<String>,
    /// What `enable` wrote.
    installed: String,
    /// The line `enable` added to `info/exclude`, if it added one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    excluded: Option<String>,
}

/// A line `info/exclude` gains or loses.
enum Exclude {
    Add(String),
    Remove(String),
}

enum Write {
    Unchanged,
    Bytes(Vec<u8>),
    Delete,
}

enum Saved {
    Keep,
    Put(Original),
    Drop,
}

/// A planned change to one settings file.
pub struct Change {
    pub agent: &'static str,
    pub scope: Scope,
    pub path: PathBuf,
    dir: PathBuf,
    saved_path: PathBuf,
    write: Write,
    saved: Saved,
    /// `info/exclude`, and the line that keeps a local file out of git.
    exclude: Option<(PathBuf, Exclude)>,
}

impl Change {
    pub fn changes_file(&self) -> bool {
        !matches!(self.write, Write::Unchanged)
    }

    pub fn apply(self) -> Result<()> {
        match &self.write {
            Write::Unchanged => {}
            Write::Bytes(bytes) => {
                let dir = self.path.parent().expect("settings dir");
                fs::create_dir_all(dir).context(format_args!("creating {}", dir.display()))?;
                let mode = fs::metadata(&self.path).map_or(0o644, |m| m.permissions().mode() & 0o777);
                atomic_write(&self.path, bytes, mode)?;
            }
            Write::Delete => {
                fs::remove_file(&self.path).context(format_args!("removing {}", self.path.display()))?;
                // The directories too, up to the agent's, when the file was all they held.
                let mut dir = self.path.parent();
                while let Some(d) = dir.filter(|d| d.starts_with(&self.dir) && fs::remove_dir(d).is_ok()) {
                    dir = d.parent();
                }
            }
        }
        match &self.exclude {
            Some((exclude, Exclude::Add(line))) => append_line(exclude, line)?,
            Some((exclude, Exclude::Remove(line))) => remove_line(exclude, line)?,
            None => {}
        }
        match &self.saved {
            Saved::Keep => {}
            Saved::Put(original) => {
                crate::fsutil::private_dir(self.saved_path.parent().expect("state dir"))?;
                atomic_write(&self.saved_path, &serde_json::to_vec(original)?, 0o600)?;
            }
            Saved::Drop => {
                let _ = fs::remove_file(&self.saved_path);
            }
        }
        Ok(())
    }
}

/// Appends `line` to `path` (created with its directory), on a line of its own.
fn append_line(path: &Path, line: &str) -> Result<()> {
    let current = read_capped(path, SETTINGS_CAP, Links::Follow)?.unwrap_or_default();
    let what = format!("adding {line} to {}", path.display());
    fs::create_dir_all(path.parent().expect("info dir")).context(&what)?;
    let mut file = fs::OpenOptions::new().create(true).append(true).open(path).context(&what)?;
    let newline = if current.is_empty() || current.ends_with(b"\n") { "" } else { "\n" };
    writeln!(file, "{newline}{line}").context(&what)
}

/// Removes the lines that are exactly `line` from `path`, if it has any.
fn remove_line(path: &Path, line: &str) -> Result<()> {
    let Some(current) = read_capped(path, SETTINGS_CAP, Links::Follow)? else { return Ok(()) };
    let text = String::from_utf8_lossy(&current);
    if !text.lines().any(|l| l == line) {
        return Ok(());
    }
    let kept: String = text.split_inclusive('\n').filter(|l| l.trim_end_matches('\n') != line).collect();
    let mode = fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o777);
    atomic_write(path, kept.as_bytes(), mode)
}

/// Text we parsed, hence UTF-8.
fn string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
