//! Where a transcript may be copied from. A session's `transcript_path`
//! comes from an agent's hook payload or a record file, and anyone who can
//! write either could name any file the user can read (`~/.ssh/id_ed25519`,
//! by a symlink called `x.jsonl`), which the checkpoint would then carry to
//! the team's remote. So a transcript is copied only when it is where its
//! agent keeps transcripts, and looks like one (docs/spec.md §7).

use std::fs::File;
use std::io::{BufRead, Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::fsutil::{Links, open_regular};
use crate::settings::TranscriptRules;

/// Why a transcript was not copied: the checkpoint's `transcript_skipped`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    NotFound,
    SymbolicLink,
    NotRegular,
    NotOwned,
    OutsideAgentDirs,
    NotJsonLines,
    Unreadable(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::NotFound => f.write_str("not found"),
            SkipReason::SymbolicLink => f.write_str("a symbolic link"),
            SkipReason::NotRegular => f.write_str("not a regular file"),
            SkipReason::NotOwned => f.write_str("owned by another user"),
            SkipReason::OutsideAgentDirs => f.write_str("outside the agent's transcript directories"),
            SkipReason::NotJsonLines => f.write_str("not JSON lines"),
            SkipReason::Unreadable(why) => write!(f, "unreadable: {why}"),
        }
    }
}

/// The agents whose transcript directories entire knows.
const AGENTS_WITH_TRANSCRIPTS: [&str; 4] = ["claude-code", "codex", "gemini", "copilot"];

/// Where each agent keeps its transcripts, from the real CLIs: Claude Code
/// under `$CLAUDE_CONFIG_DIR/projects` (default `~/.claude`), Codex under
/// `$CODEX_HOME/sessions` (default `~/.codex`), Gemini CLI under
/// `$GEMINI_CLI_HOME/.gemini/tmp` (default home), or `~/.cache/.gemini/tmp`
/// in its macOS sandbox, Copilot CLI under `$COPILOT_HOME/session-state`
/// (default `~/.copilot`). `var` looks an environment variable up.
pub fn agent_dirs(agent: &str, var: impl Fn(&str) -> Option<PathBuf>) -> Vec<PathBuf> {
    let var = |name: &str| var(name).filter(|p| p.is_absolute());
    let home = var("HOME");
    let under_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
    match agent {
        "claude-code" => var("CLAUDE_CONFIG_DIR")
            .or_else(|| under_home(".claude"))
            .map(|d| d.join("projects"))
            .into_iter()
            .collect(),
        "codex" => var("CODEX_HOME")
            .or_else(|| under_home(".codex"))
            .map(|d| d.join("sessions"))
            .into_iter()
            .collect(),
        "gemini" => {
            let base = var("GEMINI_CLI_HOME").or(home.clone());
            let mut dirs: Vec<PathBuf> = base.map(|b| b.join(".gemini/tmp")).into_iter().collect();
            dirs.extend(under_home(".cache/.gemini/tmp"));
            dirs
        }
        "copilot" => var("COPILOT_HOME")
            .or_else(|| under_home(".copilot"))
            .map(|d| d.join("session-state"))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Opens a session's transcript for copying, if it may be copied: a
/// regular file (not a symbolic link, FIFO or device: opened with
/// `O_NOFOLLOW | O_NONBLOCK`), owned by the user running entire, under one
/// of the agent's transcript directories (after resolving every link on
/// the way), whose first `max_bytes` are JSON lines (or, for a `.json`
/// file, one JSON document). A last line still being written is allowed.
pub fn open_transcript(
    path: &Path,
    agent: Option<&str>,
    rules: &TranscriptRules,
) -> Result<File, SkipReason> {
    let env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let dirs = match (&rules.dirs, agent) {
        (Some(dirs), _) => dirs.clone(),
        (None, Some(agent)) if AGENTS_WITH_TRANSCRIPTS.contains(&agent) => agent_dirs(agent, env),
        // A session named after its command (`entire run -- ./my-claude`)
        // whose agent hooks named the transcript: any known agent's.
        (None, _) => AGENTS_WITH_TRANSCRIPTS.iter().flat_map(|agent| agent_dirs(agent, env)).collect(),
    };
    let file = match open_regular(path, Links::Refuse) {
        Ok(Some(file)) => file,
        Ok(None) => return Err(SkipReason::NotFound),
        Err(_) if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) => {
            return Err(SkipReason::SymbolicLink);
        }
        Err(_) if path.symlink_metadata().is_ok_and(|m| !m.is_file()) => return Err(SkipReason::NotRegular),
        Err(err) => return Err(SkipReason::Unreadable(format!("{err:#}"))),
    };
    let meta = file.metadata().map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(SkipReason::NotOwned);
    }
    let real = std::fs::canonicalize(path).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    let inside = |dir: &PathBuf| std::fs::canonicalize(dir).is_ok_and(|dir| real.starts_with(dir));
    if !dirs.iter().any(inside) {
        return Err(SkipReason::OutsideAgentDirs);
    }
    let one_document = path.extension().is_some_and(|ext| ext == "json");
    if !looks_like_json(&file, rules.max_bytes, one_document) {
        return Err(SkipReason::NotJsonLines);
    }
    (&file).rewind().map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    Ok(file)
}

/// Whether the file's first `limit` bytes are JSON lines (each whole line a
/// JSON value; the last one may be cut or still being written, but one
/// whole line at least), or one JSON document. Bytes that are not UTF-8
/// are read as U+FFFD: a transcript may hold them, a key file never parses.
fn looks_like_json(file: &File, limit: u64, one_document: bool) -> bool {
    let mut input = std::io::BufReader::new(file.take(limit));
    if one_document {
        return serde_json::from_reader::<_, serde::de::IgnoredAny>(input).is_ok();
    }
    let (mut line, mut whole) = (Vec::new(), 0);
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(_) if line.last() != Some(&b'\n') => return whole > 0, // the end, or a line cut short
            Ok(_) => {}
            Err(_) => return false,
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
            return false;
        }
        whole += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<PathBuf> {
        let pairs: Vec<(String, PathBuf)> =
            pairs.iter().map(|(k, v)| (k.to_string(), PathBuf::from(v))).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn agent_dirs_honour_their_variables() {
        let home = [("HOME", "/h")];
        assert_eq!(agent_dirs("claude-code", vars(&home)), [PathBuf::from("/h/.claude/projects")]);
        assert_eq!(
            agent_dirs("claude-code", vars(&[("HOME", "/h"), ("CLAUDE_CONFIG_DIR", "/c")])),
            [PathBuf::from("/c/projects")]
        );
        assert_eq!(agent_dirs("codex", vars(&[("CODEX_HOME", "/x")])), [PathBuf::from("/x/sessions")]);
        assert_eq!(
            agent_dirs("gemini", vars(&[("HOME", "/h"), ("GEMINI_CLI_HOME", "/g")])),
            [PathBuf::from("/g/.gemini/tmp"), PathBuf::from("/h/.cache/.gemini/tmp")]
        );
        assert_eq!(agent_dirs("copilot", vars(&home)), [PathBuf::from("/h/.copilot/session-state")]);
        assert_eq!(
            agent_dirs("copilot", vars(&[("HOME", "/h"), ("COPILOT_HOME", "/p")])),
            [PathBuf::from("/p/session-state")]
        );
        assert!(agent_dirs("aider", vars(&home)).is_empty());
        // A relative value is no directory of the agent's.
        assert_eq!(agent_dirs("codex", vars(&[("CODEX_HOME", "rel")])), Vec::<PathBuf>::new());
    }

    fn json_check(bytes: &[u8], one_document: bool) -> bool {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut tmp, bytes).unwrap();
        looks_like_json(&File::open(tmp.path()).unwrap(), 1 << 20, one_document)
    }

    #[test]
    fn only_json_passes() {
        assert!(json_check(b"{\"a\":1}\n{\"b\":\"\xff\"}\r\n{\"c\":", false));
        assert!(!json_check(b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n", false));
        assert!(!json_check(b"{\"a\":1}", false), "no whole line");
        assert!(!json_check(b"root:x:0:0::/root:/bin/bash\n", false));
        assert!(!json_check(b"", false));
        assert!(json_check(b"{\n  \"messages\": []\n}\n", true));
        assert!(!json_check(b"{\n  \"messages\": [\n", true));
    }
}
