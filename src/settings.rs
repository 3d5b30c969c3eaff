//! Repo settings, read and written here only. Three layers, each a JSON
//! object, merged key by key; the later wins (docs/spec.md §3):
//! `.entire/settings.json` (the project's, committed: the team's
//! default), `<git-common-dir>/entire-settings.json` (this clone's: where
//! `enable` and `disable` record whether entire is on, out of reach of
//! checkouts, `git clean` and `git stash`), `.entire/settings.local.json`
//! (this worktree's, not committed). Every file is validated: a syntax error
//! (line and column), a value of the wrong type or an unknown key is a
//! [`Problem`] that `status` and `doctor` report and hooks warn about; the
//! file (or the key) is then left out, never fatal.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Context, Error, Result};
use crate::fsutil::{Links, SETTINGS_CAP, atomic_write, read_capped};

pub const DIR: &str = ".entire";
pub const FILE: &str = "settings.json";
pub const LOCAL_FILE: &str = "settings.local.json";
/// This clone's settings, in the git common dir.
pub const CLONE_FILE: &str = "entire-settings.json";
/// The two files as the user sees them, for messages.
pub const FILE_PATH: &str = ".entire/settings.json";
pub const LOCAL_FILE_PATH: &str = ".entire/settings.local.json";

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Some layer exists and the merge does not say `"enabled": false`.
    pub enabled: bool,
    /// `resolution.recency` (default true).
    pub recency: bool,
    /// Cap on the transcript copied into a checkpoint.
    pub transcript_max_bytes: u64,
    /// `trailers.assisted_by` (default false): add `Assisted-by: AGENT:MODEL`.
    pub assisted_by: bool,
    /// `hooks.repair` (default false): `entire run` repairs entire's git
    /// hooks when git would not run them, instead of only saying so.
    pub hooks_repair: bool,
    /// The file whose `"enabled"` decides, when one says it.
    pub enabled_from: Option<PathBuf>,
    /// What is wrong with the files, for `status`, `doctor` and hooks.
    pub problems: Vec<Problem>,
    /// `checkpoints.transcript_dirs`, read from the local settings file
    /// only: a committed file could widen what is copied to the branch.
    pub transcript_dirs: Option<Vec<PathBuf>>,
    /// `checkpoints.push`: which remotes the branch may go to.
    pub push: Push,
    /// `checkpoints.remote`: where the branch goes instead of the remote
    /// pushed to (a remote's name or a URL).
    pub checkpoint_remote: Option<String>,
    /// `redaction` as written (`{"rules": […], "allow": […]}`); its patterns
    /// are checked where they are used, so that a mistake in one stops no
    /// hook.
    pub redaction: Value,
}

/// Consent to push the checkpoints branch (docs/privacy.md).
#[derive(Clone, Debug, PartialEq)]
pub enum Push {
    /// Not set anywhere: not pushed.
    Unset,
    Never,
    Always,
    /// To these remotes (names or URLs) only.
    To(Vec<String>),
}

impl Push {
    fn from_value(value: Option<&Value>) -> Push {
        match value {
            None => Push::Unset,
            Some(Value::Bool(true)) => Push::Always,
            Some(Value::Array(names)) => {
                Push::To(names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            }
            Some(_) => Push::Never,
        }
    }

    /// Whether the branch may go to `remote` (a name or URL).
    pub fn allows(&self, remote: &str) -> bool {
        match self {
            Push::Always => true,
            Push::To(names) => names.iter().any(|n| n == remote),
            Push::Unset | Push::Never => false,
        }
    }
}

/// What the checkpoint writer needs to know about transcripts: how much to
/// copy, and from where.
#[derive(Clone, Debug, PartialEq)]
pub struct TranscriptRules {
    /// Cap on the copy (`checkpoints.transcript_max_bytes`).
    pub max_bytes: u64,
    /// Directories transcripts may come from, instead of the agents' own.
    pub dirs: Option<Vec<PathBuf>>,
}

pub const DEFAULT_TRANSCRIPT_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// The type a known key must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Count,
    Object,
    Text,
    List,
    /// `true`, `false` or a list of names.
    BoolOrList,
    /// A list of absolute paths.
    Paths,
}

/// Every key entire reads, by its dotted path.
const KEYS: &[(&str, Kind)] = &[
    ("enabled", Kind::Bool),
    ("resolution", Kind::Object),
    ("resolution.recency", Kind::Bool),
    ("checkpoints", Kind::Object),
    ("checkpoints.transcript_max_bytes", Kind::Count),
    ("checkpoints.transcript_dirs", Kind::Paths),
    ("checkpoints.push", Kind::BoolOrList),
    ("checkpoints.remote", Kind::Text),
    ("hooks", Kind::Object),
    ("hooks.repair", Kind::Bool),
    ("trailers", Kind::Object),
    ("trailers.assisted_by", Kind::Bool),
    ("redaction", Kind::Object),
    ("redaction.rules", Kind::List),
    ("redaction.allow", Kind::List),
];

/// Something wrong in a settings file.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    pub what: String,
    /// Whether entire does something else than the file says (a syntax
    /// error, a wrong type), as opposed to a key it does not know.
    pub changes_behaviour: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.what)
    }
}

impl Settings {
    /// This worktree's settings; a linked worktree whose checkout has no
    /// `.entire/` (the settings were never committed) uses the main
    /// worktree's, since the hooks they share were installed from there.
    pub fn for_repo(repo: &crate::git::Repo) -> Result<Settings> {
        let own = repo.worktree.join(DIR);
        let main = repo.common_dir.parent().filter(|_| repo.common_dir.ends_with(".git"));
        let worktree = match main {
            Some(main) if !own.exists() && main != repo.worktree => main,
            _ => &repo.worktree,
        };
        let dir = worktree.join(DIR);
        Settings::from_files(&[dir.join(FILE), repo.common_dir.join(CLONE_FILE), dir.join(LOCAL_FILE)])
    }

    /// The layers, lowest first, with no fallback. Only an unreadable file
    /// (not one that does not parse) is an error.
    fn from_files(layers: &[PathBuf]) -> Result<Settings> {
        let mut merged = Map::new();
        let mut found = false;
        let mut problems = Vec::new();
        let mut enabled_from = None;
        let mut transcript_dirs = None;
        for path in layers {
            let Some(bytes) = read_capped(path, SETTINGS_CAP, Links::Follow)? else { continue };
            found = true;
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(mut map)) => {
                    check(path, "", &mut map, &mut problems);
                    if map.contains_key("enabled") {
                        enabled_from = Some(path.clone());
                    }
                    if path.file_name().is_some_and(|name| name == LOCAL_FILE) {
                        transcript_dirs = local_transcript_dirs(&map);
                    }
                    merge(&mut merged, map);
                }
                Ok(_) => problems.push(Problem {
                    file: path.clone(),
                    what: "is not a JSON object; the file is ignored".into(),
                    changes_behaviour: true,
                }),
                Err(err) => problems.push(Problem {
                    file: path.clone(),
                    what: format!(
                        "line {}, column {}: {}; the file is ignored",
                        err.line(),
                        err.column(),
                        syntax_message(&err)
                    ),
                    changes_behaviour: true,
                }),
            }
        }
        let flag = |v: Option<&Value>, default| v.and_then(Value::as_bool).unwrap_or(default);
        let get = |section: &str, key: &str| merged.get(section).and_then(|s| s.get(key));
        Ok(Settings {
            enabled: found && flag(merged.get("enabled"), true),
            recency: flag(get("resolution", "recency"), true),
            transcript_max_bytes: get("checkpoints", "transcript_max_bytes")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_TRANSCRIPT_MAX_BYTES),
            assisted_by: flag(get("trailers", "assisted_by"), false),
            hooks_repair: flag(get("hooks", "repair"), false),
            enabled_from,
            problems,
            transcript_dirs,
            push: Push::from_value(get("checkpoints", "push")),
            checkpoint_remote: get("checkpoints", "remote")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            redaction: merged.get("redaction").cloned().unwrap_or(Value::Null),
        })
    }

    /// What the checkpoint writer needs to know about transcripts.
    pub fn transcripts(&self) -> TranscriptRules {
        TranscriptRules { max_bytes: self.transcript_max_bytes, dirs: self.transcript_dirs.clone() }
    }

    /// The redaction rules: the built-in ones and the user's, compiled
    /// once per process for the same settings (the writer drains many
    /// checkpoints in one run).
    pub fn redactor(&self) -> Result<std::sync::Arc<crate::redact::Redactor>> {
        use std::sync::{Arc, Mutex};
        static COMPILED: Mutex<Option<(Value, Arc<crate::redact::Redactor>)>> = Mutex::new(None);
        let mut compiled = COMPILED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((value, redactor)) = compiled.as_ref()
            && *value == self.redaction
        {
            return Ok(Arc::clone(redactor));
        }
        let user = match &self.redaction {
            Value::Null => crate::redact::UserRules::default(),
            value => serde_json::from_value(value.clone()).map_err(|e| {
                Error::user(format!("\"redaction\" in the settings: {e}")).with_hint(
                    "it reads {\"rules\": [{\"id\": \"…\", \"regex\": \"…\"}], \"allow\": [\"…\"]}",
                )
            })?,
        };
        let redactor = Arc::new(crate::redact::Redactor::new(&user)?);
        *compiled = Some((self.redaction.clone(), Arc::clone(&redactor)));
        Ok(redactor)
    }

    pub fn path(worktree: &Path) -> PathBuf {
        worktree.join(DIR).join(FILE)
    }
}

/// `checkpoints.transcript_dirs` of one file, checked already.
fn local_transcript_dirs(map: &Map<String, Value>) -> Option<Vec<PathBuf>> {
    let list = map.get("checkpoints")?.get("transcript_dirs")?.as_array()?;
    Some(list.iter().filter_map(Value::as_str).map(PathBuf::from).collect())
}

/// serde_json's message without its own " at line L column C".
fn syntax_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Checks the keys of `map` (at `prefix`) against [`KEYS`]: a wrong type
/// is reported and taken out (the default applies); an unknown key is
/// reported and kept (a newer entire may know it).
fn check(file: &Path, prefix: &str, map: &mut Map<String, Value>, problems: &mut Vec<Problem>) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let Some(&(_, kind)) = KEYS.iter().find(|(known, _)| *known == path) else {
            problems.push(Problem {
                file: file.to_path_buf(),
                what: format!("unknown key {path:?} (known: {})", known_under(prefix)),
                changes_behaviour: false,
            });
            continue;
        };
        let value = map.get_mut(&key).expect("a key of the map");
        let is_names = |v: &Value| v.as_array().is_some_and(|items| items.iter().all(Value::is_string));
        let fits = match kind {
            Kind::Bool => value.is_boolean(),
            Kind::Count => value.is_u64(),
            Kind::Object => value.is_object(),
            Kind::Text => value.is_string(),
            Kind::List => value.is_array(),
            Kind::BoolOrList => value.is_boolean() || is_names(value),
            Kind::Paths => value.as_array().is_some_and(|list| {
                list.iter().all(|p| p.as_str().is_some_and(|p| Path::new(p).is_absolute()))
            }),
        };
        if !fits {
            let expected = match kind {
                Kind::Bool => "true or false",
                Kind::Count => "a whole number of at least 0",
                Kind::Object => "an object",
                Kind::Text => "a string",
                Kind::List => "a list",
                Kind::BoolOrList => "true, false or a list of remote names",
                Kind::Paths => "a list of absolute paths",
            };
            problems.push(Problem {
                file: file.to_path_buf(),
                what: format!("{path:?} is {value}, but must be {expected}; the default applies"),
                changes_behaviour: true,
            });
            map.remove(&key);
        } else if let Value::Object(inner) = value {
            check(file, &path, inner, problems);
        }
    }
}

/// The known keys directly under `prefix`, for a message.
fn known_under(prefix: &str) -> String {
    let names: Vec<&str> = KEYS
        .iter()
        .filter_map(|(path, _)| match prefix {
            "" => (!path.contains('.')).then_some(*path),
            _ => path.strip_prefix(prefix)?.strip_prefix('.').filter(|rest| !rest.contains('.')),
        })
        .collect();
    names.join(", ")
}

/// Records in this clone's settings (in the git common dir) whether entire
/// is on, keeping its other keys.
pub fn set_clone_enabled(common_dir: &Path, enabled: bool) -> Result<()> {
    let path = common_dir.join(CLONE_FILE);
    let mut map = read_object(&path)?;
    if map.get("enabled") == Some(&Value::Bool(enabled)) {
        return Ok(());
    }
    map.insert("enabled".into(), Value::Bool(enabled));
    write_object(&path, map)
}

/// Sets `checkpoints.push` in this clone's settings (in the git common
/// dir: every worktree of the clone pushes alike), keeping every other
/// key. The team's `.entire/settings.json` is the default it overrides.
pub fn set_clone_push(common_dir: &Path, push: Value) -> Result<()> {
    let path = common_dir.join(CLONE_FILE);
    let mut map = read_object(&path)?;
    let checkpoints = map.entry("checkpoints").or_insert_with(|| json!({}));
    if !checkpoints.is_object() {
        *checkpoints = json!({});
    }
    checkpoints.as_object_mut().expect("an object").insert("push".into(), push);
    write_object(&path, map)
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

/// Takes `"enabled"` out of the worktree's local file, so that the clone's
/// record (`enable`, `disable`) decides; the file goes when nothing else is
/// in it.
pub fn clear_local_enabled(worktree: &Path) -> Result<()> {
    let path = worktree.join(DIR).join(LOCAL_FILE);
    let mut map = read_object(&path)?;
    if map.remove("enabled").is_none() {
        return Ok(());
    }
    if map.is_empty() {
        std::fs::remove_file(&path).context(format_args!("removing {}", path.display()))
    } else {
        write_object(&path, map)
    }
}

/// A settings file as a JSON object; an absent file is an empty one.
fn read_object(path: &Path) -> Result<Map<String, Value>> {
    Ok(match read_capped(path, SETTINGS_CAP, Links::Follow)? {
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

    fn layers(dir: &Path) -> Vec<PathBuf> {
        vec![dir.join(DIR).join(FILE), dir.join(CLONE_FILE), dir.join(DIR).join(LOCAL_FILE)]
    }

    #[test]
    fn absent_means_disabled() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!Settings::from_files(&layers(tmp.path())).unwrap().enabled);
    }

    #[test]
    fn local_overrides_clone_which_overrides_project() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), FILE, r#"{"enabled": false, "resolution": {"recency": true}}"#);
        std::fs::write(tmp.path().join(CLONE_FILE), r#"{"enabled": true, "hooks": {"repair": true}}"#)
            .unwrap();
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        assert!(s.enabled && s.hooks_repair && s.recency, "{s:?}");
        write(tmp.path(), LOCAL_FILE, r#"{"enabled": false, "resolution": {"recency": false}}"#);
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        assert!(!s.enabled && !s.recency, "{s:?}");
        assert_eq!(s.problems, []);
        // Only the clone's file: an older branch without .entire/.
        std::fs::remove_dir_all(tmp.path().join(DIR)).unwrap();
        assert!(Settings::from_files(&layers(tmp.path())).unwrap().enabled);
    }

    #[test]
    fn push_consent_and_the_clones_override() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            FILE,
            r#"{"enabled": true, "checkpoints": {"push": ["origin"], "remote": "logs"}, "redaction": {"allow": ["x"]}}"#,
        );
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        assert_eq!(s.problems, []);
        assert!(s.push.allows("origin") && !s.push.allows("fork"));
        assert_eq!(s.checkpoint_remote.as_deref(), Some("logs"));
        assert!(s.redactor().is_ok());
        set_clone_push(tmp.path(), Value::Bool(false)).unwrap();
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        assert_eq!(s.push, Push::Never);
        assert_eq!(s.checkpoint_remote.as_deref(), Some("logs"), "other keys kept");
        write(tmp.path(), LOCAL_FILE, r#"{"checkpoints": {"push": "yes"}}"#);
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        assert_eq!(s.push, Push::Never, "a wrong type is left out: the clone's false applies");
        assert_eq!(s.problems.len(), 1, "{s:?}");
        std::fs::remove_file(tmp.path().join(CLONE_FILE)).unwrap();
        write(tmp.path(), FILE, r#"{"enabled": true, "redaction": {"rules": [{"id": "x", "regex": "("}]}}"#);
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        assert_eq!(s.push, Push::Unset);
        assert!(s.redactor().is_err(), "a pattern that does not compile");
    }

    #[test]
    fn a_syntax_error_names_line_and_column_and_the_file_is_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), FILE, "{\n  \"enabled\": true,\n  \"resolution\": {\"recency\" false}\n}\n");
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        assert_eq!(s.problems.len(), 1, "{s:?}");
        let what = &s.problems[0].what;
        assert!(what.starts_with("line 3, column 28: expected `:`"), "{what}");
        assert!(s.enabled, "a file that exists, even broken, keeps entire on unless it says otherwise");
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            FILE,
            r#"{"enabled": true, "resolution": {"recency": "false", "recncy": 1}, "checkpoints": {"transcript_max_bytes": -1}, "colour": 1}"#,
        );
        let s = Settings::from_files(&layers(tmp.path())).unwrap();
        let said: Vec<String> = s.problems.iter().map(|p| p.what.clone()).collect();
        assert!(s.recency, "the default applies");
        assert_eq!(
            said,
            [
                r#""resolution.recency" is "false", but must be true or false; the default applies"#,
                r#"unknown key "resolution.recncy" (known: recency)"#,
                r#""checkpoints.transcript_max_bytes" is -1, but must be a whole number of at least 0; the default applies"#,
                r#"unknown key "colour" (known: enabled, resolution, checkpoints, hooks, trailers, redaction)"#,
            ]
        );
        assert_eq!(s.problems.iter().filter(|p| p.changes_behaviour).count(), 2);
    }
}
