//! The JSON hooks format that Claude Code, Gemini CLI and Codex share:
//! `{"hooks": {"<Event>": [{"matcher": "…", "hooks": [{"type": "command",
//! "command": "…"}]}]}}`, with a `name` on each entry and a switch to turn
//! hooks on where the agent asks for them.
//!
//! The file is the user's. Every key and entry they had is kept in place
//! (serde_json `preserve_order`); ours are the entries whose command holds
//! ` hooks <agent> `, and only those are added, updated or removed.

use std::collections::HashSet;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::{Before, HookEvent, HooksFormat, Removed, Spec};
use crate::error::{Error, Result};
use crate::fsutil::is_executable;

#[derive(Debug)]
pub struct JsonHooks {
    /// Whether the agent needs a `name` on every hook entry.
    pub named_entries: bool,
    /// A boolean (`section.key`) the agent needs set before it runs any hook.
    pub enable_flag: Option<(&'static str, &'static str)>,
}

impl HooksFormat for JsonHooks {
    fn install(
        &self,
        spec: &Spec,
        current: Option<&[u8]>,
        command: &dyn Fn(&HookEvent) -> String,
    ) -> Result<Option<Vec<u8>>> {
        edited(current, |settings| self.merge(settings, spec, command))
    }

    fn uninstall(&self, spec: &Spec, current: &[u8], before: Before) -> Result<Removed> {
        let mut settings = parse(current)?;
        strip(&mut settings, spec);
        removed(settings, before, |settings, original| {
            if let Some((section, key)) = self.enable_flag {
                revert_flag(settings, original, section, key);
            }
        })
    }

    fn installed_verbs(&self, spec: &Spec, current: &[u8]) -> Vec<String> {
        let Ok(settings) = parse(current) else { return Vec::new() };
        ours(&settings, spec)
            .into_iter()
            .filter(|(native, verb)| spec.event(verb).is_some_and(|e| e.native == native))
            .map(|(_, verb)| verb)
            .collect()
    }

    fn problems(&self, spec: &Spec, current: &[u8]) -> Vec<String> {
        json_problems(spec, current, |_| Vec::new())
    }
}

/// `current` (None: no file) as `change` leaves it; None when that
/// changes nothing.
pub(super) fn edited(
    current: Option<&[u8]>,
    change: impl FnOnce(&mut Map<String, Value>) -> Result<()>,
) -> Result<Option<Vec<u8>>> {
    let before = current.map(parse).transpose()?;
    let mut settings = before.clone().unwrap_or_default();
    change(&mut settings)?;
    if before.as_ref() == Some(&settings) {
        return Ok(None);
    }
    pretty(&settings).map(Some)
}

/// `settings`, ours taken out, against what the file held `before`:
/// `revert(settings, original)` first puts back what ours needed.
pub(super) fn removed(
    mut settings: Map<String, Value>,
    before: Before,
    revert: impl FnOnce(&mut Map<String, Value>, &Map<String, Value>),
) -> Result<Removed> {
    let original = match before {
        Before::Unknown => return pretty(&settings).map(Removed::Bytes),
        Before::Absent => Map::new(),
        Before::Text(text) => parse(text).unwrap_or_default(),
    };
    revert(&mut settings, &original);
    if settings == original { Ok(Removed::AsBefore) } else { pretty(&settings).map(Removed::Bytes) }
}

/// What stops the hooks in a JSON file from running: not JSON, what
/// `switched_off` finds in it, each program of ours that is gone.
pub(super) fn json_problems(
    spec: &Spec,
    current: &[u8],
    switched_off: impl FnOnce(&Value) -> Vec<String>,
) -> Vec<String> {
    let Ok(settings) = serde_json::from_slice::<Value>(current) else {
        return vec![format!("is not valid JSON, so {} runs none of its hooks", spec.name)];
    };
    let mut problems = switched_off(&settings);
    let mut gone: Vec<PathBuf> =
        programs(&settings, &spec.marker()).into_iter().filter(|p| !is_executable(p)).collect();
    gone.dedup();
    problems.extend(gone.into_iter().map(|p| format!("runs {}, which is gone", p.display())));
    problems
}

impl JsonHooks {
    /// Adds our entries, one per event, in a group of their own. Entries
    /// of ours are updated in place (a moved binary, fields the user added
    /// kept); stale or duplicate ones go.
    fn merge(
        &self,
        settings: &mut Map<String, Value>,
        spec: &Spec,
        command: &dyn Fn(&HookEvent) -> String,
    ) -> Result<()> {
        if let Some((section, key)) = self.enable_flag {
            object_at(settings, section)?.insert(key.into(), Value::Bool(true));
        }
        let fill = |entry: &mut Map<String, Value>, event: &HookEvent| {
            if self.named_entries {
                entry.insert("name".into(), json!(format!("entire-{}", event.verb)));
            }
            entry.insert("type".into(), json!("command"));
            entry.insert("command".into(), json!(command(event)));
        };
        let hooks = object_at(settings, "hooks")?;
        let mut present = HashSet::new();
        retain_ours(hooks, spec, |native, entry| {
            let verb = entry.get("command").and_then(Value::as_str).and_then(|c| spec.verb_of(c));
            let wanted = spec.events.iter().find(|e| e.native == native && Some(e.verb) == verb);
            match wanted {
                Some(event) if present.insert(event.verb) => {
                    fill(entry, event);
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
            fill(&mut entry, event);
            groups.push(json!({"matcher": event.matcher, "hooks": [entry]}));
        }
        Ok(())
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::user("it is not a JSON object")),
        Err(e) => Err(Error::user(format!("it is not valid JSON ({e})"))),
    }
}

fn is_ours(entry: &Map<String, Value>, spec: &Spec) -> bool {
    entry.get("command").and_then(Value::as_str).is_some_and(|c| c.contains(&spec.marker()))
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
            retain_entries(entries, &mut dropped, |entry| is_ours(entry, spec), |entry| keep(native, entry))
        });
        !(groups.is_empty() && before > 0)
    });
    dropped
}

/// Calls `keep` on each entry of one list that `ours` claims and drops
/// those it refuses, noting in `dropped` when it did. Returns whether the
/// list should stay: false when this left it empty.
pub(super) fn retain_entries(
    entries: &mut Vec<Value>,
    dropped: &mut bool,
    ours: impl Fn(&Map<String, Value>) -> bool,
    mut keep: impl FnMut(&mut Map<String, Value>) -> bool,
) -> bool {
    let count = entries.len();
    entries.retain_mut(|entry| match entry.as_object_mut() {
        Some(entry) if ours(entry) => keep(entry),
        _ => true,
    });
    *dropped |= entries.len() < count;
    !(entries.is_empty() && count > 0)
}

/// `(event, verb)` of every entry of ours.
fn ours(settings: &Map<String, Value>, spec: &Spec) -> HashSet<(String, String)> {
    let Some(hooks) = settings.get("hooks").and_then(Value::as_object) else { return HashSet::new() };
    let mut found = HashSet::new();
    for (native, groups) in hooks {
        let entries =
            groups.as_array().into_iter().flatten().filter_map(|g| g.get("hooks")?.as_array()).flatten();
        for entry in entries.filter_map(Value::as_object).filter(|e| is_ours(e, spec)) {
            let verb = entry.get("command").and_then(Value::as_str).and_then(|c| spec.verb_of(c));
            found.insert((native.clone(), verb.unwrap_or_default().to_owned()));
        }
    }
    found
}

/// The absolute programs of every command string holding `marker`, quoted
/// or not. A command that finds entire on PATH names no program.
fn programs(value: &Value, marker: &str) -> Vec<PathBuf> {
    match value {
        Value::String(command) => command
            .split_once(marker)
            .map(|(program, _)| program.trim().trim_matches(['\'', '"']))
            .filter(|program| program.starts_with('/'))
            .map(PathBuf::from)
            .into_iter()
            .collect(),
        Value::Array(items) => items.iter().flat_map(|v| programs(v, marker)).collect(),
        Value::Object(map) => map.values().flat_map(|v| programs(v, marker)).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn object_at<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{claude, gemini};

    const BIN: &str = "'/opt/my tools/entire'";

    fn command(spec: &'static Spec) -> impl Fn(&HookEvent) -> String {
        move |event| format!("{BIN}{}{}", spec.marker(), event.verb)
    }

    fn merged(text: &str, spec: &'static Spec) -> Map<String, Value> {
        let bytes = spec.format.install(spec, Some(text.as_bytes()), &command(spec)).unwrap();
        bytes.map_or_else(|| parse(text.as_bytes()).unwrap(), |b| parse(&b).unwrap())
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
    fn a_second_install_changes_nothing() {
        let first =
            claude::SPEC.format.install(&claude::SPEC, None, &command(&claude::SPEC)).unwrap().unwrap();
        let again =
            claude::SPEC.format.install(&claude::SPEC, Some(&first), &command(&claude::SPEC)).unwrap();
        assert!(again.is_none());
        assert_eq!(claude::SPEC.format.installed_verbs(&claude::SPEC, &first).len(), 5);
    }

    #[test]
    fn uninstall_removes_only_ours_and_what_ours_filled() {
        let spec = &claude::SPEC;
        let user = r#"{"hooks": {"Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]}]}}"#;
        let installed = pretty(&merged(user, spec)).unwrap();
        let removed = spec.format.uninstall(spec, &installed, Before::Text(user.as_bytes())).unwrap();
        assert!(matches!(removed, Removed::AsBefore));
        let Removed::Bytes(bytes) = spec.format.uninstall(spec, &installed, Before::Unknown).unwrap() else {
            panic!("bytes")
        };
        assert_eq!(parse(&bytes).unwrap(), parse(user.as_bytes()).unwrap());
        let installed = pretty(&merged("{}", spec)).unwrap();
        assert!(matches!(
            spec.format.uninstall(spec, &installed, Before::Absent).unwrap(),
            Removed::AsBefore
        ));
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let cases: [(&'static Spec, &str); 4] = [
            (&claude::SPEC, r#"{"hooks": []}"#),
            (&claude::SPEC, r#"{"hooks": {"Stop": {}}}"#),
            (&gemini::SPEC, r#"{"hooksConfig": true}"#),
            (&claude::SPEC, r#"[1]"#),
        ];
        for (spec, text) in cases {
            assert!(spec.format.install(spec, Some(text.as_bytes()), &command(spec)).is_err(), "{text}");
        }
    }

    #[test]
    fn problems_name_unparsable_files_and_gone_binaries() {
        let spec = &claude::SPEC;
        assert_eq!(
            spec.format.problems(spec, b"{oops"),
            ["is not valid JSON, so claude-code runs none of its hooks"]
        );
        let text = r#"{"hooks": {"Stop": [{"hooks": [{"command": "'/gone/entire' hooks claude-code stop"},
            {"command": "command -v entire >/dev/null || exec cat >/dev/null; exec entire hooks claude-code stop"}]}]}}"#;
        assert_eq!(spec.format.problems(spec, text.as_bytes()), ["runs /gone/entire, which is gone"]);
    }
}
