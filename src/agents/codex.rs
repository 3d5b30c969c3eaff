//! Codex CLI hooks (`.codex/hooks.json`), as observed with Codex 0.171:
//! hooks are on by default, in Claude Code's JSON format; they run as
//! `bash -c <command>` children of the `codex` process with a one-line
//! JSON payload (`session_id`, `transcript_path`, `cwd`,
//! `hook_event_name`, plus `prompt` on UserPromptSubmit and
//! `tool_name`/`tool_input` on PostToolUse, the shell being `Bash`).
//! Codex loads a project's `.codex/` layer only in a trusted project, and
//! runs a hook only once the user has reviewed and trusted it (`/hooks`);
//! entire never trusts them on the user's behalf. Its shell runs git with
//! the repository's hooks, so the git hooks attribute its commits; these
//! add its session ID, prompt and transcript, and a session when there is
//! no launcher.

use super::hooks_json::JsonHooks;
use super::{HookEvent, Spec, Turn};

pub const SPEC: Spec = Spec {
    name: "codex",
    settings_dir: ".codex",
    project_file: "hooks.json",
    // None of its own: the project file, kept out of git, stands in.
    local_file: None,
    events: &[
        HookEvent { native: "SessionStart", verb: "session-start", matcher: "", turn: Turn::Start },
        HookEvent { native: "UserPromptSubmit", verb: "user-prompt-submit", matcher: "", turn: Turn::Prompt },
        // The shell marks activity; apply_patch names no single file.
        HookEvent { native: "PostToolUse", verb: "post-tool-use", matcher: "Bash", turn: Turn::Tool },
        HookEvent { native: "Stop", verb: "stop", matcher: "", turn: Turn::Stop },
        HookEvent { native: "SessionEnd", verb: "session-end", matcher: "", turn: Turn::End },
    ],
    file_tools: &[],
    transcript_of: None,
    format: &JsonHooks { named_entries: false, enable_flag: None },
    post_hoc: false,
    note: Some(
        "Codex runs them once this project is trusted and you have reviewed them: open /hooks in codex",
    ),
};
