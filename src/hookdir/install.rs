//! Installing, repairing and removing entire's hooks directory.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::diagnosis::{is_chain_script, is_our_hook};
use super::state::State;
use super::{
    CHAIN_MARKER, COPY, GIT_HOOKS, ON_DEMAND, STATE_FILE, hooks_dir, hooks_path_config, hooks_path_values,
    is_entire_dir, is_entire_hook, location, our_dir, set_local_hooks_path, shell_quote,
};
use crate::error::{Context, Error, Result};
use crate::fsutil::is_executable;
use crate::git::Repo;

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
}

impl Installed {
    /// What `install` did with the hooks that were there, for the user
    /// (`enable`, `doctor --fix`).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (hook, target) in &self.adopted {
            lines.push(format!(
                "{hook}: moved the hook found in entire's hooks directory to {}, where it runs",
                target.display()
            ));
        }
        for aside in &self.moved_aside {
            lines.push(format!("  (the one that was there is kept as {})", aside.display()));
        }
        if !self.chained.is_empty() {
            let from = self.previous.as_deref().unwrap_or("the default hooks directory");
            lines.push(format!(
                "core.hooksPath was {from}; its hooks still run, after entire's, by their own path: {}",
                self.chained.join(", ")
            ));
        }
        lines
    }
}

/// The binary the hooks are copied from: this one, by absolute path.
pub fn current_binary() -> Result<PathBuf> {
    std::env::current_exe().and_then(|p| p.canonicalize()).context("finding the entire binary")
}

/// Installs (or repairs) entire's hooks for `repo`, running `binary`.
pub fn install(repo: &Repo, binary: &Path) -> Result<Installed> {
    let ours = our_dir(repo);
    let mut done = Installed { dir: ours.clone(), ..Installed::default() };
    crate::fsutil::private_dir(&ours).or_else(|_| fs::create_dir_all(&ours).context("creating hooks dir"))?;
    let current = hooks_dir(repo)?;
    let old = State::load(&ours);
    let local_now = hooks_path_config(repo, Some("--local"))?;
    // Still ours: git runs our directory, or the repository's config names
    // an entire directory (this one's, or, in a moved or copied repository,
    // the one it came from, whose state.json came along).
    let still_ours = current == ours || local_now.as_deref().is_some_and(is_entire_dir);
    let mut state = match old {
        Some(old) if still_ours => old,
        old => {
            // First install, or something changed core.hooksPath since:
            // what git runs now is what the hooks chain to, and what
            // `disable` restores. Never an entire directory.
            State {
                previous_local: local_now.filter(|v| !is_entire_dir(v)),
                previous: hooks_path_values(repo)?.into_iter().rfind(|v| !is_entire_dir(v)),
                added_refspecs: old.map(|s| s.added_refspecs).unwrap_or_default(),
                ..State::default()
            }
        }
    };
    let meta = fs::metadata(binary).context(format_args!("reading {}", binary.display()))?;
    state.stamp(binary, &meta);
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
        if hook == ON_DEMAND && !chained {
            // Linked again by the first commit that needs it.
            if is_our_hook(&ours, &path) {
                fs::remove_file(&path).context(format_args!("removing {}", path.display()))?;
            }
        } else if is_entire_hook(hook) {
            link_copy(&copy, &path)?;
        } else if chained {
            write_chain_script(&path, &chain_script(&state, hook, &common))?;
        } else if is_chain_script(&path) {
            fs::remove_file(&path).context(format_args!("removing {}", path.display()))?;
        }
    }
    state.save(&ours)?;
    location::point_git_at(repo, &ours)?;
    Ok(done)
}

/// Before an agent starts (`entire run`): whether git will run entire's
/// hooks (and the chained ones) in this worktree. When not, the one line to
/// say, with the fix; with `repair` (setting `hooks.repair`), what it
/// repaired. The linked worktrees' include, entire's own file, is
/// corrected unasked.
pub fn before_session(repo: &Repo, repair: bool) -> Result<Option<String>> {
    let ours = our_dir(repo);
    let state = State::load(&ours);
    if let Some(state) = &state
        && location::refresh_linked(&ours)?
    {
        // Moved or copied: the chaining scripts name the old common dir too.
        let common = repo.common_dir.canonicalize().unwrap_or_else(|_| repo.common_dir.clone());
        for hook in GIT_HOOKS.iter().filter(|h| is_chain_script(&ours.join(h))) {
            write_chain_script(&ours.join(hook), &chain_script(state, hook, &common))?;
        }
    }
    let problems = super::diagnosis::problems_given(repo, &ours, state.as_ref())?;
    let Some(problem) = problems.iter().find(|p| p.stops_hooks()) else { return Ok(None) };
    let by_us = problem.fix() == ["entire doctor --fix"];
    if repair && by_us {
        install(repo, &current_binary()?)?;
        return Ok(Some(format!("repaired entire's git hooks before starting the agent: {problem}")));
    }
    let steps: Vec<String> = problem.fix().iter().map(|step| format!("`{step}`")).collect();
    let offer = if by_us {
        " (or \"hooks\": {\"repair\": true} in .entire/settings.local.json, to have `entire run` repair it)"
    } else {
        ""
    };
    Ok(Some(format!(
        "{problem}; this session's commits may get no checkpoint; fix: {}{offer}",
        steps.join(", then ")
    )))
}

fn write_chain_script(path: &Path, script: &str) -> Result<()> {
    if fs::read(path).ok().as_deref() == Some(script.as_bytes()) {
        return Ok(());
    }
    crate::fsutil::atomic_write(path, script.as_bytes(), 0o755)
}

/// Copies the installed binary over the hooks' private copy in `dir` and
/// links the hooks to it again, after an upgrade; run by the new binary the
/// first time one of the hooks runs it.
pub fn refresh_copy(dir: &Path, state: &State) -> Result<()> {
    let meta = fs::metadata(&state.binary).context(format_args!("reading {}", state.binary.display()))?;
    let copy = dir.join(COPY);
    copy_binary(&state.binary, &copy)?;
    for hook in super::HOOKS {
        let path = dir.join(hook);
        if hook != ON_DEMAND || fs::symlink_metadata(&path).is_ok() {
            link_copy(&copy, &path)?;
        }
    }
    let mut state = state.clone();
    state.stamp(&state.binary.clone(), &meta);
    state.save(dir)
}

/// Links [`ON_DEMAND`] in entire's hooks directory `dir`, for git to run
/// after the hook that calls this.
pub fn link_on_demand(dir: &Path) -> Result<()> {
    link_copy(&dir.join(COPY), &dir.join(ON_DEMAND))
}

/// Notes refspecs `enable` added, for `disable` to remove.
pub fn record_refspecs(repo: &Repo, added: &[(String, String)]) -> Result<()> {
    let dir = our_dir(repo);
    let mut state = State::load(&dir).ok_or_else(|| Error::internal("entire's hooks are not installed"))?;
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
/// (anything in it that is not entire's stays, and is reported). Returns the refspecs
/// `enable` added, for the caller to remove, and the files left behind.
pub fn uninstall(repo: &Repo) -> Result<(Option<State>, Vec<PathBuf>)> {
    let ours = our_dir(repo);
    let state = State::load(&ours);
    // Back to what it was; never to an entire directory (a moved or copied
    // repository's config names the one it came from).
    if hooks_path_config(repo, Some("--local"))?.as_deref().is_some_and(is_entire_dir) {
        let previous = state.as_ref().and_then(|s| s.previous_local.as_deref()).filter(|v| !is_entire_dir(v));
        set_local_hooks_path(repo, previous)?;
    }
    location::remove_include(repo)?;
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
                || name == location::LINKED_CONFIG
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state(previous: Option<&str>) -> State {
        State { previous: previous.map(Into::into), ..State::default() }
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
}
