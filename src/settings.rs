//! Repo settings: `.entire/settings.json` (committed) overlaid by
//! `.entire/settings.local.json` (not committed), read and written here
//! only. Unknown keys are allowed so that newer settings files do not break
//! older binaries.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Context, Error, Result};
use crate::fsutil::{atomic_write, read_optional};

pub const DIR: &str = ".entire";
pub const FILE: &str = "settings.json";
pub const LOCAL_FILE: &str = "settings.local.json";
/// The two files as the user sees them, for messages.
pub const FILE_PATH: &str = ".entire/settings.json";
pub const LOCAL_FILE_PATH: &str = ".entire/settings.local.json";

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// A settings file exists and does not say `"enabled": false`.
    pub enabled: bool,
    /// `resolution.recency` (default true).
    pub recency: bool,
    /// Cap on the transcript copied into a checkpoint.
    pub transcript_max_bytes: u64,
    /// `trailers.assisted_by` (default false): add `Assisted-by: AGENT:MODEL`.
    pub assisted_by: bool,
}

pub const DEFAULT_TRANSCRIPT_MAX_BYTES: u64 = 50 * 1024 * 1024;

impl Settings {
    /// This worktree's settings; a linked worktree whose checkout has no
    /// `.entire/` (the settings were never committed) uses the main
    /// worktree's, since the hooks they share were installed from there.
    pub fn for_repo(repo: &crate::git::Repo) -> Result<Settings> {
        let own = repo.worktree.join(DIR);
        let main = repo.common_dir.parent().filter(|_| repo.common_dir.ends_with(".git"));
        match main {
            Some(main) if !own.exists() && main != repo.worktree => Settings::from_dir(main),
            _ => Settings::from_dir(&repo.worktree),
        }
    }

    /// The settings files of one worktree, with no fallback.
    fn from_dir(worktree: &Path) -> Result<Settings> {
        let dir = worktree.join(DIR);
        let mut merged = Map::new();
        let mut found = false;
        for name in [FILE, LOCAL_FILE] {
            let path = dir.join(name);
            let Some(bytes) = read_optional(&path)? else { continue };
            found = true;
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => merge(&mut merged, map),
                _ => return Err(Error::new(format!("{} is not a JSON object", path.display()))),
            }
        }
        let flag = |v: Option<&Value>, default| v.and_then(Value::as_bool).unwrap_or(default);
        Ok(Settings {
            enabled: found && flag(merged.get("enabled"), true),
            recency: flag(merged.get("resolution").and_then(|r| r.get("recency")), true),
            transcript_max_bytes: merged
                .get("checkpoints")
                .and_then(|c| c.get("transcript_max_bytes"))
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_TRANSCRIPT_MAX_BYTES),
            assisted_by: flag(merged.get("trailers").and_then(|t| t.get("assisted_by")), false),
        })
    }

    pub fn path(worktree: &Path) -> PathBuf {
        worktree.join(DIR).join(FILE)
    }
}

/// Sets `enabled` in `.entire/settings.json`, keeping every other key (a
/// file that already says so is not rewritten).
pub fn set_enabled(worktree: &Path, enabled: bool) -> Result<()> {
    let path = Settings::path(worktree);
    let dir = path.parent().expect("settings dir");
    std::fs::create_dir_all(dir).context(format_args!("creating {}", dir.display()))?;
    let before = read_object(&path)?;
    let mut map = before.clone();
    map.insert("enabled".into(), Value::Bool(enabled));
    map.entry("resolution").or_insert_with(|| json!({"recency": true}));
    if map != before || !path.exists() {
        write_object(&path, map)?;
    }
    ensure_ignored(dir)
}

/// `"enabled": false` in `.entire/settings.local.json` (not committed),
/// keeping its other keys: `entire disable` in this clone only.
pub fn set_local_disable(worktree: &Path) -> Result<()> {
    let path = worktree.join(DIR).join(LOCAL_FILE);
    let mut map = read_object(&path)?;
    map.insert("enabled".into(), Value::Bool(false));
    write_object(&path, map)?;
    ensure_ignored(path.parent().expect("settings dir"))
}

/// Takes a local `"enabled": false` back out; the file goes when nothing
/// else is in it.
pub fn clear_local_disable(worktree: &Path) -> Result<()> {
    let path = worktree.join(DIR).join(LOCAL_FILE);
    let mut map = read_object(&path)?;
    if map.get("enabled") != Some(&Value::Bool(false)) {
        return Ok(());
    }
    map.remove("enabled");
    if map.is_empty() {
        std::fs::remove_file(&path).context(format_args!("removing {}", path.display()))
    } else {
        write_object(&path, map)
    }
}

/// A settings file as a JSON object; an absent file is an empty one.
fn read_object(path: &Path) -> Result<Map<String, Value>> {
    Ok(match read_optional(path)? {
        None => Map::new(),
        Some(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(Error::user(format!("{} is not a JSON object", path.display()))
                    .with_hint("fix or remove the file, then run this again"));
            }
        },
    })
}

fn write_object(path: &Path, map: Map<String, Value>) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(map))?;
    bytes.push(b'\n');
    atomic_write(path, &bytes, 0o644)
}

/// `.entire/.gitignore` lists the local settings file.
fn ensure_ignored(dir: &Path) -> Result<()> {
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        atomic_write(&ignore, format!("{LOCAL_FILE}\n").as_bytes(), 0o644)?;
    }
    Ok(())
}

/// Deep merge: objects merge key by key, anything else is replaced.
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::create_dir_all(dir.join(DIR)).unwrap();
        std::fs::write(dir.join(DIR).join(name), body).unwrap();
    }

    #[test]
    fn absent_means_disabled() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!Settings::from_dir(tmp.path()).unwrap().enabled);
    }

    #[test]
    fn local_overrides_project() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), FILE, r#"{"enabled": true, "resolution": {"recency": true}}"#);
        write(tmp.path(), LOCAL_FILE, r#"{"resolution": {"recency": false}}"#);
        let s = Settings::from_dir(tmp.path()).unwrap();
        assert!(s.enabled);
        assert!(!s.recency);
    }

    #[test]
    fn broken_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), FILE, "[1,2");
        assert!(Settings::from_dir(tmp.path()).is_err());
    }
}
