//! Claude Code hooks (`.claude/settings.json`), as observed with Claude
//! Code 2.1.197: hooks run as `/bin/sh -c <command>` children of the
//! `claude` process, with a one-line JSON payload on stdin that carries
//! `session_id`, `transcript_path` and `cwd`, plus `prompt` on
//! UserPromptSubmit and `tool_name`/`tool_input` on PostToolUse. Its Bash
//! tool runs git with the repository's hooks, so commits are linked by the
//! git hooks; these hooks add the agent's own session ID, transcript,
//! prompt and edited files, and make a session when there is no launcher.

use super::hooks_json::JsonHooks;
use super::{HookEvent, Spec, Turn};

pub const SPEC: Spec = Spec {
    name: "claude-code",
    settings_dir: ".claude",
    project_file: "settings.json",
    local_file: Some("settings.local.json"),
    events: &[
        HookEvent { native: "SessionStart", verb: "session-start", matcher: "", turn: Turn::Start },
        HookEvent { native: "UserPromptSubmit", verb: "user-prompt-submit", matcher: "", turn: Turn::Prompt },
        // File-writing tools name the file; Bash only marks activity.
        HookEvent {
            native: "PostToolUse",
            verb: "post-tool-use",
            matcher: "Write|Edit|MultiEdit|NotebookEdit|Bash",
            turn: Turn::Tool,
        },
        HookEvent { native: "Stop", verb: "stop", matcher: "", turn: Turn::Stop },
        HookEvent { native: "SessionEnd", verb: "session-end", matcher: "", turn: Turn::End },
    ],
    file_tools: &[
        ("Write", "file_path"),
        ("Edit", "file_path"),
        ("MultiEdit", "file_path"),
        ("NotebookEdit", "notebook_path"),
    ],
    transcript_of: None,
    format: &JsonHooks { named_entries: false, enable_flag: None },
    post_hoc: false,
    note: None,
};
