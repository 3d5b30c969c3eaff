//! Gemini CLI hooks (`.gemini/settings.json`).
//!
//! Gemini CLI runs every shell command with `core.hooksPath=""` (set through
//! `GIT_CONFIG_*` variables; observed with 0.61.0), so no git hook sees its
//! commits: no trailer, no checkpoint at commit time. Its own hooks make up
//! for that after the fact (`post_hoc`, see `checkpoint::post_hoc`).

use super::hooks_json::JsonHooks;
use super::{HookEvent, Spec, Turn};

pub const SPEC: Spec = Spec {
    name: "gemini",
    settings_dir: ".gemini",
    project_file: "settings.json",
    // None of its own: the project file, kept out of git, stands in.
    local_file: None,
    events: &[
        HookEvent { native: "SessionStart", verb: "session-start", matcher: "", turn: Turn::Start },
        HookEvent { native: "BeforeAgent", verb: "before-agent", matcher: "", turn: Turn::Prompt },
        // Which tool call is open when a commit appears tells overlapping
        // sessions apart; any tool may commit (shell, MCP git servers).
        HookEvent { native: "BeforeTool", verb: "before-tool", matcher: "*", turn: Turn::ToolStart },
        HookEvent { native: "AfterTool", verb: "after-tool", matcher: "*", turn: Turn::Tool },
        HookEvent { native: "AfterAgent", verb: "after-agent", matcher: "", turn: Turn::Stop },
        HookEvent { native: "SessionEnd", verb: "session-end", matcher: "", turn: Turn::End },
    ],
    file_tools: &[("write_file", "file_path"), ("replace", "file_path")],
    transcript_of: None,
    // Gemini CLI runs no hook until `hooksConfig.enabled` is set.
    format: &JsonHooks { named_entries: true, enable_flag: Some(("hooksConfig", "enabled")) },
    post_hoc: true,
    note: None,
};
