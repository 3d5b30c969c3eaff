//! `state.json` in entire's hooks directory: what `disable` restores
//! (`core.hooksPath` as it was in the repository's config, unset if it was
//! not), what the hooks chain to, and the binary they were copied from.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::STATE_FILE;
use crate::error::Result;
use crate::git::Repo;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// The installed binary the hooks are copies of.
    pub binary: PathBuf,
    /// Its size and mtime when copied: see [`State::binary_status`].
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

/// The installed binary, compared with the one the hooks were copied from.
#[derive(Debug, PartialEq, Eq)]
pub enum Binary {
    Same,
    /// Replaced since (an upgrade): the hooks run it rather than their copy.
    Changed,
    /// Removed: the hooks run their own copy.
    Gone,
}

impl State {
    pub fn load(dir: &Path) -> Option<State> {
        // Read like entire's other state: no planted link, FIFO or giant.
        let bytes = crate::fsutil::read_own(&dir.join(STATE_FILE), crate::fsutil::SETTINGS_CAP).ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    pub(super) fn save(&self, dir: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        crate::fsutil::atomic_write(&dir.join(STATE_FILE), &bytes, 0o644)
    }

    /// Notes the size and mtime of `meta`, the binary just copied.
    pub(super) fn stamp(&mut self, binary: &Path, meta: &fs::Metadata) {
        self.binary = binary.to_path_buf();
        (self.binary_len, self.binary_mtime_ns) = stamp(meta);
    }

    /// One `stat` of the installed binary: the one check of whether it
    /// changed, for the hooks (every commit) and for `doctor` alike.
    pub fn binary_status(&self) -> Binary {
        match fs::metadata(&self.binary) {
            Err(_) => Binary::Gone,
            Ok(meta) if stamp(&meta) != (self.binary_len, self.binary_mtime_ns) => Binary::Changed,
            Ok(_) => Binary::Same,
        }
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

fn stamp(meta: &fs::Metadata) -> (u64, i64) {
    (meta.len(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec())
}

/// `~/` as git expands it in `core.hooksPath`.
fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn state(previous: Option<&str>) -> State {
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
    fn a_binary_is_changed_gone_or_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let binary = tmp.path().join("entire");
        fs::write(&binary, "one").unwrap();
        let mut state = State::default();
        state.stamp(&binary, &fs::metadata(&binary).unwrap());
        assert_eq!(state.binary_status(), Binary::Same);
        fs::write(&binary, "two!").unwrap();
        assert_eq!(state.binary_status(), Binary::Changed);
        fs::remove_file(&binary).unwrap();
        assert_eq!(state.binary_status(), Binary::Gone);
    }
}
