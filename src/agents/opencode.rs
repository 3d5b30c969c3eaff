//! opencode: no hooks file, but plugins, JavaScript modules it loads from
//! `.opencode/plugins/*.js` (observed with opencode 1.18.33). Ours is a
//! file of its own, `entire.js`, that hands opencode's events to
//! `entire hooks opencode <verb>` the way the other agents' hooks do: the
//! command run by `/bin/sh -c` (so the agent process is the shell's parent,
//! opencode), a JSON payload on stdin with `session_id`, `cwd`, `prompt`,
//! `tool_name` and `tool_input`. opencode keeps its sessions in its own
//! storage, not in a JSONL transcript: no `transcript_path`.

use serde_json::{Map, Value};

use super::{Before, HookEvent, HooksFormat, Removed, Spec, Turn};
use crate::error::Result;
use crate::fsutil::is_executable;

pub const SPEC: Spec = Spec {
    name: "opencode",
    settings_dir: ".opencode",
    project_file: "plugins/entire.js",
    // None of its own: the project file, kept out of git, stands in.
    local_file: None,
    events: &[
        HookEvent { native: "session.created", verb: "session-start", matcher: "", turn: Turn::Start },
        HookEvent { native: "chat.message", verb: "user-prompt-submit", matcher: "", turn: Turn::Prompt },
        HookEvent { native: "tool.execute.after", verb: "post-tool-use", matcher: "", turn: Turn::Tool },
        HookEvent { native: "session.idle", verb: "stop", matcher: "", turn: Turn::Stop },
        HookEvent { native: "session.deleted", verb: "session-end", matcher: "", turn: Turn::End },
    ],
    file_tools: &[("write", "filePath"), ("edit", "filePath")],
    transcript_of: None,
    format: &Plugin,
    post_hoc: false,
    note: None,
};

/// The plugin file: entirely ours, so it is written whole and removed whole.
#[derive(Debug)]
pub struct Plugin;

/// Where the commands sit in the file, one JSON object on one line.
const COMMANDS: &str = "const COMMANDS = ";

const BODY: &str = r#"
function hook(verb, payload) {
  try {
    spawnSync("/bin/sh", ["-c", COMMANDS[verb]], {
      input: JSON.stringify(payload),
      stdio: ["pipe", "ignore", "inherit"],
      timeout: 30000,
    });
  } catch {
    // entire must never fail opencode.
  }
}

export const Entire = async ({ directory }) => ({
  event: async ({ event }) => {
    const props = event.properties ?? {};
    if (event.type === "session.created") hook("session-start", { session_id: props.info?.id, cwd: directory });
    if (event.type === "session.idle") hook("stop", { session_id: props.sessionID, cwd: directory });
    if (event.type === "session.deleted") hook("session-end", { session_id: props.info?.id, cwd: directory });
  },
  "chat.message": async (input, output) => {
    const prompt = (output.parts ?? []).filter((part) => part.type === "text").map((part) => part.text).join("\n");
    hook("user-prompt-submit", { session_id: input.sessionID, cwd: directory, prompt });
  },
  "tool.execute.after": async (input) => {
    hook("post-tool-use", { session_id: input.sessionID, cwd: directory, tool_name: input.tool, tool_input: input.args ?? {} });
  },
});
"#;

impl HooksFormat for Plugin {
    fn install(
        &self,
        spec: &Spec,
        current: Option<&[u8]>,
        command: &dyn Fn(&HookEvent) -> String,
    ) -> Result<Option<Vec<u8>>> {
        let commands: Map<String, Value> =
            spec.events.iter().map(|e| (e.verb.to_owned(), Value::String(command(e)))).collect();
        let text = format!(
            "// Hands opencode's events to entire: `entire enable --agent opencode` wrote this\n\
             // file and `entire disable` removes it. Each event runs its command with a JSON\n\
             // payload on stdin.\n\
             import {{ spawnSync }} from \"node:child_process\";\n\n\
             {COMMANDS}{};\n{BODY}",
            Value::Object(commands)
        );
        Ok((current != Some(text.as_bytes())).then(|| text.into_bytes()))
    }

    fn uninstall(&self, _spec: &Spec, _current: &[u8], _before: Before) -> Result<Removed> {
        Ok(Removed::Delete)
    }

    fn installed_verbs(&self, spec: &Spec, current: &[u8]) -> Vec<String> {
        let Some(commands) = commands(current) else { return Vec::new() };
        commands
            .iter()
            .filter(|(verb, command)| command.as_str().and_then(|c| spec.verb_of(c)) == Some(verb.as_str()))
            .map(|(verb, _)| verb.clone())
            .collect()
    }

    fn problems(&self, spec: &Spec, current: &[u8]) -> Vec<String> {
        let Some(commands) = commands(current) else {
            return vec![format!("is not the plugin entire writes, so {} runs none of its hooks", spec.name)];
        };
        let mut gone: Vec<String> = commands
            .values()
            .filter_map(Value::as_str)
            .filter_map(|c| c.split_once(&spec.marker()))
            .map(|(program, _)| program.trim().trim_matches('\'').to_owned())
            .filter(|p| p.starts_with('/') && !is_executable(std::path::Path::new(p)))
            .collect();
        gone.dedup();
        gone.into_iter().map(|p| format!("runs {p}, which is gone")).collect()
    }
}

/// The verbs' commands, from the line that holds them.
fn commands(text: &[u8]) -> Option<Map<String, Value>> {
    let text = std::str::from_utf8(text).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix(COMMANDS))?;
    serde_json::from_str(line.strip_suffix(';')?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(binary: &str) -> Vec<u8> {
        let command = |e: &HookEvent| format!("'{binary}'{}{}", SPEC.marker(), e.verb);
        Plugin.install(&SPEC, None, &command).unwrap().unwrap()
    }

    #[test]
    fn the_plugin_holds_every_events_command_once() {
        let text = installed("/opt/it's/entire");
        let verbs = Plugin.installed_verbs(&SPEC, &text);
        assert_eq!(verbs.len(), SPEC.events.len(), "{verbs:?}");
        for event in SPEC.events {
            assert!(
                String::from_utf8_lossy(&text).contains(&format!("hook(\"{}\"", event.verb)),
                "{}",
                event.verb
            );
        }
        let command = |e: &HookEvent| format!("'/opt/it's/entire'{}{}", SPEC.marker(), e.verb);
        assert!(Plugin.install(&SPEC, Some(&text), &command).unwrap().is_none(), "unchanged");
    }

    #[test]
    fn problems_name_a_gone_binary_or_a_foreign_file() {
        assert_eq!(Plugin.problems(&SPEC, &installed("/gone/entire")), ["runs /gone/entire, which is gone"]);
        assert_eq!(Plugin.problems(&SPEC, b"// hooks opencode by hand\n").len(), 1);
    }
}
