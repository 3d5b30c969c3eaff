//! GitHub Copilot CLI hooks, as observed with Copilot CLI 1.0.102. It reads
//! hooks from `.github/hooks/*.json` and from the `hooks` key of its repo
//! settings, `.github/copilot/settings.json` (committed) and
//! `settings.local.json` (this clone's); ours go in the settings files, as
//! for Claude Code. The format is its own: `{"hooks": {"<event>": [{"type":
//! "command", "bash": "…", "matcher": "…"}]}}`, one flat list per event,
//! `matcher` an anchored regular expression over tool names.
//!
//! It runs a repository's hooks only in a folder the user trusts (asked on
//! the first interactive start, or `--trust-folder`); entire never trusts
//! one on the user's behalf. A hook runs as `bash -c <command>`, a child of
//! the native `copilot` process, with a one-line JSON payload in camelCase:
//! `sessionId`, `cwd`, `timestamp`, plus `prompt` on userPromptSubmitted
//! and `toolName`/`toolArgs` on postToolUse. Only agentStop names the
//! transcript (`transcriptPath`), always
//! `$COPILOT_HOME/session-state/<sessionId>/events.jsonl`: every event
//! records that. Its shell runs
//! git with the repository's hooks, so the git hooks attribute its commits.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::hooks_json::{edited, json_problems, object_at, parse, removed, retain_entries};
use super::{Before, HookEvent, HooksFormat, Removed, Spec, Turn};
use crate::error::{Error, Result};
use crate::session::SessionId;

pub const SPEC: Spec = Spec {
    name: "copilot",
    settings_dir: ".github",
    project_file: "copilot/settings.json",
    local_file: Some("copilot/settings.local.json"),
    events: &[
        HookEvent { native: "sessionStart", verb: "session-start", matcher: "", turn: Turn::Start },
        HookEvent {
            native: "userPromptSubmitted",
            verb: "user-prompt-submit",
            matcher: "",
            turn: Turn::Prompt,
        },
        // File-writing tools name the file; the shell only marks activity.
        HookEvent {
            native: "postToolUse",
            verb: "post-tool-use",
            matcher: "bash|create|edit",
            turn: Turn::Tool,
        },
        HookEvent { native: "agentStop", verb: "stop", matcher: "", turn: Turn::Stop },
        HookEvent { native: "sessionEnd", verb: "session-end", matcher: "", turn: Turn::End },
    ],
    file_tools: &[("create", "path"), ("edit", "path")],
    transcript_of: Some(transcript),
    format: &FlatHooks,
    post_hoc: false,
    note: Some("Copilot CLI runs them in a folder you trust: it asks when it first starts here"),
};

/// Where Copilot CLI writes the events of session `id`. Not checked for
/// existence: its first hooks may run before it has written them, and the
/// checkpoint says when a transcript is not found.
fn transcript(id: &SessionId) -> Option<String> {
    let env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let dir = crate::checkpoint::agent_dirs(SPEC.name, env).into_iter().next()?;
    Some(dir.join(id.as_str()).join("events.jsonl").to_string_lossy().into_owned())
}

/// Copilot CLI's hooks: a flat list of entries per event. The rest of the
/// file is the user's and stays as it is; ours are the entries whose
/// `bash` holds ` hooks copilot `.
#[derive(Debug)]
pub struct FlatHooks;

/// The key holding an entry's command.
const COMMAND: &str = "bash";

impl HooksFormat for FlatHooks {
    fn install(
        &self,
        spec: &Spec,
        current: Option<&[u8]>,
        command: &dyn Fn(&HookEvent) -> String,
    ) -> Result<Option<Vec<u8>>> {
        edited(current, |settings| merge(settings, spec, command))
    }

    fn uninstall(&self, spec: &Spec, current: &[u8], before: Before) -> Result<Removed> {
        let mut settings = parse(current)?;
        if let Some(hooks) = settings.get_mut("hooks").and_then(Value::as_object_mut)
            && retain_ours(hooks, spec, |_, _| false)
            && hooks.is_empty()
        {
            settings.shift_remove("hooks");
        }
        removed(settings, before, |_, _| {})
    }

    fn installed_verbs(&self, spec: &Spec, current: &[u8]) -> Vec<String> {
        let Ok(settings) = parse(current) else { return Vec::new() };
        let Some(hooks) = settings.get("hooks").and_then(Value::as_object) else { return Vec::new() };
        let mut verbs: Vec<String> = hooks
            .iter()
            .flat_map(|(native, entries)| {
                entries.as_array().into_iter().flatten().filter_map(move |entry| {
                    let verb = spec.verb_of(ours(entry.as_object()?, spec)?)?;
                    spec.event(verb).is_some_and(|e| e.native == native).then(|| verb.to_owned())
                })
            })
            .collect();
        verbs.dedup();
        verbs
    }

    fn problems(&self, spec: &Spec, current: &[u8]) -> Vec<String> {
        json_problems(spec, current, |settings| {
            let off = settings.get("disableAllHooks") == Some(&Value::Bool(true));
            off.then(|| format!("sets disableAllHooks, so {} runs none of its hooks", spec.name))
                .into_iter()
                .collect()
        })
    }
}

/// The command of an entry of ours.
fn ours<'a>(entry: &'a Map<String, Value>, spec: &Spec) -> Option<&'a str> {
    entry.get(COMMAND).and_then(Value::as_str).filter(|c| c.contains(&spec.marker()))
}

/// Adds our entry to each event's list. Entries of ours are updated in
/// place (a moved binary, fields the user added kept); stale or duplicate
/// ones go.
fn merge(
    settings: &mut Map<String, Value>,
    spec: &Spec,
    command: &dyn Fn(&HookEvent) -> String,
) -> Result<()> {
    let fill = |entry: &mut Map<String, Value>, event: &HookEvent| {
        entry.insert("type".into(), json!("command"));
        entry.insert(COMMAND.into(), json!(command(event)));
        if event.matcher.is_empty() {
            entry.shift_remove("matcher");
        } else {
            entry.insert("matcher".into(), json!(event.matcher));
        }
    };
    let hooks = object_at(settings, "hooks")?;
    let mut present = Vec::new();
    retain_ours(hooks, spec, |native, entry| {
        let verb = ours(entry, spec).and_then(|c| spec.verb_of(c));
        let wanted = spec.events.iter().find(|e| e.native == native && Some(e.verb) == verb);
        match wanted {
            Some(event) if !present.contains(&event.verb) => {
                present.push(event.verb);
                fill(entry, event);
                true
            }
            _ => false,
        }
    });
    for event in spec.events.iter().filter(|e| !present.contains(&e.verb)) {
        let entries = hooks.entry(event.native).or_insert_with(|| json!([]));
        let entries = entries
            .as_array_mut()
            .ok_or_else(|| Error::user(format!("`hooks.{}` is not a JSON array", event.native)))?;
        let mut entry = Map::new();
        fill(&mut entry, event);
        entries.push(Value::Object(entry));
    }
    Ok(())
}

/// Calls `keep(event, entry)` on each entry of ours and drops those it
/// refuses, then the event lists that this left empty. Returns whether
/// anything was dropped.
fn retain_ours(
    hooks: &mut Map<String, Value>,
    spec: &Spec,
    mut keep: impl FnMut(&str, &mut Map<String, Value>) -> bool,
) -> bool {
    let mut dropped = false;
    hooks.retain(|native, entries| {
        let Some(entries) = entries.as_array_mut() else { return true };
        retain_entries(
            entries,
            &mut dropped,
            |entry| ours(entry, spec).is_some(),
            |entry| keep(native, entry),
        )
    });
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIN: &str = "'/opt/my tools/entire'";

    fn command(event: &HookEvent) -> String {
        format!("{BIN}{}{}", SPEC.marker(), event.verb)
    }

    fn install(text: Option<&str>) -> Option<Value> {
        let bytes = SPEC.format.install(&SPEC, text.map(str::as_bytes), &command).unwrap()?;
        Some(serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn entries_are_flat_with_bash_commands_and_matchers_only_for_tools() {
        let settings = install(None).unwrap();
        assert_eq!(settings["hooks"].as_object().unwrap().len(), 5);
        assert_eq!(
            settings["hooks"]["postToolUse"],
            json!([{"type": "command", "bash": "'/opt/my tools/entire' hooks copilot post-tool-use",
                    "matcher": "bash|create|edit"}])
        );
        assert_eq!(
            settings["hooks"]["agentStop"],
            json!([{"type": "command", "bash": "'/opt/my tools/entire' hooks copilot stop"}])
        );
        let text = serde_json::to_string(&settings).unwrap();
        assert_eq!(install(Some(&text)), None, "a second install changes nothing");
        assert_eq!(SPEC.format.installed_verbs(&SPEC, text.as_bytes()).len(), 5);
    }

    #[test]
    fn user_entries_stay_and_ours_are_updated_in_place() {
        let user = r#"{"model": "x", "hooks": {"sessionEnd": [
            {"type": "command", "bash": "notify-send done"},
            {"type": "command", "bash": "/old/entire hooks copilot session-end", "timeoutSec": 5},
            {"type": "command", "bash": "/old/entire hooks copilot session-end"},
            {"type": "command", "bash": "/old/entire hooks copilot pre-task"}
        ]}}"#;
        let settings = install(Some(user)).unwrap();
        let end = settings["hooks"]["sessionEnd"].as_array().unwrap();
        assert_eq!(end.len(), 2, "the duplicate and the stale entry went: {end:?}");
        assert_eq!(end[0]["bash"], "notify-send done");
        assert_eq!(end[1]["bash"], "'/opt/my tools/entire' hooks copilot session-end");
        assert_eq!(end[1]["timeoutSec"], 5);
        assert_eq!(settings.as_object().unwrap().keys().next().map(String::as_str), Some("model"));
    }

    #[test]
    fn uninstall_removes_only_ours() {
        let user = r#"{"hooks": {"sessionEnd": [{"type": "command", "bash": "notify-send done"}]}}"#;
        let installed = serde_json::to_vec(&install(Some(user)).unwrap()).unwrap();
        let removed = SPEC.format.uninstall(&SPEC, &installed, Before::Text(user.as_bytes())).unwrap();
        assert!(matches!(removed, Removed::AsBefore));
        let Removed::Bytes(bytes) = SPEC.format.uninstall(&SPEC, &installed, Before::Unknown).unwrap() else {
            panic!("bytes")
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            serde_json::from_str::<Value>(user).unwrap()
        );
        let alone = serde_json::to_vec(&install(None).unwrap()).unwrap();
        let Removed::Bytes(bytes) = SPEC.format.uninstall(&SPEC, &alone, Before::Unknown).unwrap() else {
            panic!("bytes")
        };
        assert_eq!(bytes, b"{}\n");
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for text in [r#"{"hooks": []}"#, r#"{"hooks": {"sessionStart": {}}}"#, "[1]"] {
            assert!(SPEC.format.install(&SPEC, Some(text.as_bytes()), &command).is_err(), "{text}");
        }
    }

    #[test]
    fn problems_name_switched_off_hooks_and_gone_binaries() {
        let text = r#"{"disableAllHooks": true, "hooks": {"agentStop": [
            {"type": "command", "bash": "'/gone/entire' hooks copilot stop"}]}}"#;
        assert_eq!(
            SPEC.format.problems(&SPEC, text.as_bytes()),
            ["sets disableAllHooks, so copilot runs none of its hooks", "runs /gone/entire, which is gone"]
        );
        assert_eq!(
            SPEC.format.problems(&SPEC, b"{oops"),
            ["is not valid JSON, so copilot runs none of its hooks"]
        );
    }
}
