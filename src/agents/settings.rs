//! Installing agent hooks into the agent's own settings file
//! (`.claude/settings.json`, `.gemini/settings.json`) and removing them.
//!
//! The file is the user's. Every key and entry they had is kept in place;
//! ours are the hook entries whose command contains ` hooks <agent> `, and
//! only those are added, updated or removed. A second `enable` writes
//! nothing. A file that is not valid JSON is never touched.
//!
//! Restoring byte for byte: when `enable` finds no entry of ours in a file,
//! it saves the file's original bytes (or that there was no file) and the
//! bytes it wrote, in `<git-dir>/entire-agent-settings/<agent>[.local].json`
//! (per worktree, never committed). `disable` puts the original back when
//! the file is still exactly what `enable` wrote, or when removing our
//! entries (and the switch we turned on) gives the original's JSON. When the
//! user changed something else meanwhile, only our entries go, and the file
//! is rewritten as formatted JSON.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{HookEvent, Spec, with_hooks};
use crate::error::{Context, Error, Result};
use crate::fsutil::{Links, SETTINGS_CAP, atomic_write, read_capped};
use crate::git::Repo;
use crate::hookdir::shell_quote;

/// Which agents have every hook of ours installed (in the project or the
/// local settings file), for `entire status`.
pub fn installed(repo: &Repo) -> Vec<(&'static str, bool)> {
    with_hooks()
        .map(|spec| {
            let complete = SettingsFile::all(repo, spec).iter().any(|file| {
                let Ok(Some(bytes)) = read_capped(&file.path, SETTINGS_CAP, Links::Follow) else {
                    return false;
                };
                let Ok(Value::Object(settings)) = serde_json::from_slice(&bytes) else { return false };
                let present = ours(&settings, spec);
                spec.events.iter().all(|e| present.contains(&(e.native.to_owned(), e.verb.to_owned())))
            });
            (spec.name, complete)
        })
        .collect()
}

/// One agent settings file, and where its original is saved.
pub struct SettingsFile {
    spec: &'static Spec,
    pub path: PathBuf,
    saved: PathBuf,
}

impl SettingsFile {
    pub fn new(repo: &Repo, spec: &'static Spec, local: bool) -> Result<SettingsFile> {
        let name = match (local, spec.local_file) {
            (false, _) => "settings.json",
            (true, Some(name)) => name,
            (true, None) => {
                return Err(Error::user(format!("{} has no local settings file", spec.name))
                    .with_hint(format!("run without --local to use {}/settings.json", spec.settings_dir)));
            }
        };
        let suffix = if local { ".local" } else { "" };
        Ok(SettingsFile {
            spec,
            path: repo.worktree.join(spec.settings_dir).join(name),
            saved: repo.git_dir.join("entire-agent-settings").join(format!("{}{suffix}.json", spec.name)),
        })
    }

    /// The project file, and the local one when the agent has it.
    pub fn all(repo: &Repo, spec: &'static Spec) -> Vec<SettingsFile> {
        [false, true].into_iter().filter_map(|local| SettingsFile::new(repo, spec, local).ok()).collect()
    }

    /// What `enable` would change; checks everything before anything is written.
    pub fn plan_install(&self, binary: &Path) -> Result<Change> {
        let current = read_capped(&self.path, SETTINGS_CAP, Links::Follow)?;
        let mut settings = match &current {
            Some(bytes) => self.parse(bytes)?,
            None => Map::new(),
        };
        let had_ours = !ours(&settings, self.spec).is_empty();
        merge(&mut settings, self.spec, binary).map_err(|e| self.shape_error(e))?;
        if let Some(bytes) = &current
            && self.parse(bytes)? == settings
        {
            return Ok(self.change(Write::Unchanged, Saved::Keep));
        }
        let bytes = pretty(&settings)?;
        let saved = if had_ours {
            // Only a file without our entries is worth restoring.
            match self.load_saved() {
                Some(original) => Saved::Put(Original { installed: string(&bytes), ..original }),
                None => Saved::Keep,
            }
        } else {
            Saved::Put(Original { original: current.as_deref().map(string), installed: string(&bytes) })
        };
        Ok(self.change(Write::Bytes(bytes), saved))
    }

    /// What `disable` would change.
    pub fn plan_uninstall(&self) -> Result<Change> {
        let Some(current) = read_capped(&self.path, SETTINGS_CAP, Links::Follow)? else {
            return Ok(self.change(Write::Unchanged, Saved::Drop));
        };
        let marker = marker(self.spec);
        if !String::from_utf8_lossy(&current).contains(&marker) {
            return Ok(self.change(Write::Unchanged, Saved::Drop)); // not ours, maybe not even JSON
        }
        let saved = self.load_saved();
        let restore = |original: &Option<String>| match original {
            Some(text) => Write::Bytes(text.clone().into_bytes()),
            None => Write::Delete,
        };
        if let Some(saved) = &saved
            && saved.installed.as_bytes() == current
        {
            return Ok(self.change(restore(&saved.original), Saved::Drop));
        }
        let mut settings = self.parse(&current)?;
        strip(&mut settings, self.spec);
        let Some(saved) = saved else {
            return Ok(self.change(Write::Bytes(pretty(&settings)?), Saved::Drop));
        };
        let original = match &saved.original {
            Some(text) => self.parse(text.as_bytes()).unwrap_or_default(),
            None => Map::new(),
        };
        if let Some((section, key)) = self.spec.enable_flag {
            revert_flag(&mut settings, &original, section, key);
        }
        let write =
            if settings == original { restore(&saved.original) } else { Write::Bytes(pretty(&settings)?) };
        Ok(self.change(write, Saved::Drop))
    }

    fn change(&self, write: Write, saved: Saved) -> Change {
        Change {
            agent: self.spec.name,
            path: self.path.clone(),
            saved_path: self.saved.clone(),
            write,
            saved,
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<Map<String, Value>> {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.shape_error(Error::user("it is not a JSON object"))),
            Err(e) => Err(self.shape_error(Error::user(format!("it is not valid JSON ({e})")))),
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

/// What the user had before `enable` added our entries.
#[derive(Serialize, Deserialize, Clone)]
struct Original {
    /// The file's text; None when there was no file.
    original: Option<String>,
    /// What `enable` wrote.
    installed: String,
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
    pub path: PathBuf,
    saved_path: PathBuf,
    write: Write,
    saved: Saved,
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
                // The directory too, when the file was all it held.
                let _ = fs::remove_dir(self.path.parent().expect("settings dir"));
            }
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

/// What marks a hook command as ours.
fn marker(spec: &Spec) -> String {
    format!(" hooks {} ", spec.name)
}

fn command(spec: &Spec, event: &HookEvent, binary: &Path) -> String {
    format!("{}{}{}", shell_quote(&binary.to_string_lossy()), marker(spec), event.verb)
}

/// Sets our fields on a hook entry, keeping any the user added (a timeout).
fn fill(entry: &mut Map<String, Value>, spec: &Spec, event: &HookEvent, binary: &Path) {
    if spec.named_entries {
        entry.insert("name".into(), json!(format!("entire-{}", event.verb)));
    }
    entry.insert("type".into(), json!("command"));
    entry.insert("command".into(), json!(command(spec, event, binary)));
}

fn is_ours(entry: &Map<String, Value>, spec: &Spec) -> bool {
    entry.get("command").and_then(Value::as_str).is_some_and(|c| c.contains(&marker(spec)))
}

fn verb(entry: &Map<String, Value>) -> &str {
    entry.get("command").and_then(Value::as_str).and_then(|c| c.split_whitespace().last()).unwrap_or("")
}

/// Adds our entries, one per event, in a group of their own. Entries of
/// ours are updated in place (a moved binary); stale or duplicate ones go.
fn merge(settings: &mut Map<String, Value>, spec: &Spec, binary: &Path) -> Result<()> {
    if let Some((section, key)) = spec.enable_flag {
        object_at(settings, section)?.insert(key.into(), Value::Bool(true));
    }
    let hooks = object_at(settings, "hooks")?;
    let mut present = HashSet::new();
    retain_ours(hooks, spec, |native, entry| {
        let wanted = spec.events.iter().find(|e| e.native == native && e.verb == verb(entry));
        match wanted {
            Some(event) if present.insert(event.verb) => {
                fill(entry, spec, event, binary);
                true
            }
            _ => false,
        }
    });
    for event in spec.events.iter().filter(|e| !present.contains(e.verb)) {
        let groups = hooks.entry(event.native).or_insert_with(|| json!([]));
        let groups = groups
            .as_array_mut()
            .ok_or_else(|| Error::user(format!("`hooks.{}` is not a JSON array", event.native)))?;
        let mut entry = Map::new();
        fill(&mut entry, spec, event, binary);
        groups.push(json!({"matcher": event.matcher, "hooks": [entry]}));
    }
    Ok(())
}

/// Removes every entry of ours, and what only ours filled.
fn strip(settings: &mut Map<String, Value>, spec: &Spec) {
    let Some(hooks) = settings.get_mut("hooks").and_then(Value::as_object_mut) else { return };
    if retain_ours(hooks, spec, |_, _| false) && hooks.is_empty() {
        settings.shift_remove("hooks");
    }
}

/// Puts `section.key` back as the original had it.
fn revert_flag(settings: &mut Map<String, Value>, original: &Map<String, Value>, section: &str, key: &str) {
    let Some(current) = settings.get_mut(section).and_then(Value::as_object_mut) else { return };
    match original.get(section).and_then(|s| s.get(key)) {
        Some(value) => {
            current.insert(key.into(), value.clone());
        }
        None => {
            current.shift_remove(key);
            if current.is_empty() && !original.contains_key(section) {
                settings.shift_remove(section);
            }
        }
    }
}

/// Calls `keep(event, entry)` on each entry of ours and drops those it
/// refuses, then the groups and event lists that this left empty. Returns
/// whether anything was dropped.
fn retain_ours(
    hooks: &mut Map<String, Value>,
    spec: &Spec,
    mut keep: impl FnMut(&str, &mut Map<String, Value>) -> bool,
) -> bool {
    let mut dropped = false;
    hooks.retain(|native, groups| {
        let Some(groups) = groups.as_array_mut() else { return true };
        let before = groups.len();
        groups.retain_mut(|group| {
            let Some(entries) = group.get_mut("hooks").and_then(Value::as_array_mut) else { return true };
            let count = entries.len();
            entries.retain_mut(|entry| match entry.as_object_mut() {
                Some(entry) if is_ours(entry, spec) => keep(native, entry),
                _ => true,
            });
            dropped |= entries.len() < count;
            !(entries.is_empty() && count > 0)
        });
        !(groups.is_empty() && before > 0)
    });
    dropped
}

/// `(event, verb)` of every entry of ours.
fn ours(settings: &Map<String, Value>, spec: &Spec) -> HashSet<(String, String)> {
    let Some(hooks) = settings.get("hooks").and_then(Value::as_object) else { return HashSet::new() };
    let mut found = HashSet::new();
    for (native, groups) in hooks {
        let entries =
            groups.as_array().into_iter().flatten().filter_map(|g| g.get("hooks")?.as_array()).flatten();
        for entry in entries.filter_map(Value::as_object).filter(|e| is_ours(e, spec)) {
            found.insert((native.clone(), verb(entry).to_owned()));
        }
    }
    found
}

fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> Result<&'a mut Map<String, Value>> {
    map.entry(key)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| Error::user(format!("`{key}` is not a JSON object")))
}

fn pretty(settings: &Map<String, Value>) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(settings)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Text we parsed as JSON, hence UTF-8.
fn string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{claude, gemini};

    const BIN: &str = "/opt/my tools/entire";

    fn merged(text: &str, spec: &Spec) -> Map<String, Value> {
        let mut settings = serde_json::from_str(text).unwrap();
        merge(&mut settings, spec, Path::new(BIN)).unwrap();
        settings
    }

    #[test]
    fn claude_entries_use_its_format_and_a_quoted_binary() {
        let settings = merged("{}", &claude::SPEC);
        let group = &settings["hooks"]["PostToolUse"][0];
        assert_eq!(group["matcher"], "Write|Edit|MultiEdit|NotebookEdit|Bash");
        assert_eq!(
            group["hooks"][0],
            json!({"type": "command", "command": "'/opt/my tools/entire' hooks claude-code post-tool-use"})
        );
        assert_eq!(settings["hooks"].as_object().unwrap().len(), 5);
    }

    #[test]
    fn gemini_entries_are_named_and_hooks_switched_on() {
        let settings = merged(r#"{"hooksConfig": {"notifications": false}}"#, &gemini::SPEC);
        assert_eq!(settings["hooksConfig"], json!({"notifications": false, "enabled": true}));
        assert_eq!(settings["hooks"]["AfterTool"][0]["matcher"], "*");
        assert_eq!(settings["hooks"]["AfterTool"][0]["hooks"][0]["name"], "entire-after-tool");
    }

    #[test]
    fn user_entries_stay_and_ours_are_updated_in_place() {
        let user = r#"{"model": "x", "hooks": {"Stop": [
            {"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]},
            {"matcher": "", "hooks": [{"type": "command", "command": "/old/entire hooks claude-code stop", "timeout": 5}]},
            {"matcher": "", "hooks": [{"type": "command", "command": "/old/entire hooks claude-code pre-task"}]}
        ]}}"#;
        let settings = merged(user, &claude::SPEC);
        let stop = settings["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop.len(), 2, "the stale pre-task entry and its group went: {stop:?}");
        assert_eq!(stop[0]["hooks"][0]["command"], "notify-send done");
        assert_eq!(stop[1]["hooks"][0]["command"], "'/opt/my tools/entire' hooks claude-code stop");
        assert_eq!(stop[1]["hooks"][0]["timeout"], 5);
        assert_eq!(settings.keys().next().map(String::as_str), Some("model"));
    }

    #[test]
    fn strip_removes_only_ours_and_what_ours_filled() {
        let user = r#"{"hooks": {"Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]}]}}"#;
        let mut settings = merged(user, &claude::SPEC);
        strip(&mut settings, &claude::SPEC);
        assert_eq!(Value::Object(settings), serde_json::from_str::<Value>(user).unwrap());
        let mut settings = merged("{}", &claude::SPEC);
        strip(&mut settings, &claude::SPEC);
        assert!(settings.is_empty());
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let cases = [
            (&claude::SPEC, r#"{"hooks": []}"#),
            (&claude::SPEC, r#"{"hooks": {"Stop": {}}}"#),
            (&gemini::SPEC, r#"{"hooksConfig": true}"#),
        ];
        for (spec, text) in cases {
            let mut settings = serde_json::from_str(text).unwrap();
            assert!(merge(&mut settings, spec, Path::new(BIN)).is_err(), "{text}");
        }
    }
}
