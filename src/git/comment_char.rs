//! Which comment character `git commit` uses (`core.commentChar` /
//! `core.commentString`), found without starting git when no config source
//! could set it.

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::{fs, str};

use super::trailers::CommentChar;
use crate::git::{Repo, checked};

/// The effective `core.commentChar` / `core.commentString` of `repo`.
/// Hooks run on every commit and each git call costs about a millisecond,
/// so git is asked only when a config source could set either.
pub fn comment_char(repo: &Repo) -> CommentChar {
    comment_char_with(repo, &|name| std::env::var_os(name))
}

/// How configuration reads an environment variable.
type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// `comment_char` under the environment `env`, which both the scan and git
/// see (tests pass an isolated one).
fn comment_char_with(repo: &Repo, env: Env) -> CommentChar {
    if !config_may_set_comment(repo, env) {
        return CommentChar::default();
    }
    let mut cmd = repo.git();
    // Alone among git commands, `git config` reads $GIT_CONFIG instead of
    // the usual files; `git commit` never does.
    cmd.env_remove("GIT_CONFIG");
    for (name, value) in config_env(env) {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    // Both keys set the same thing in git: the last one read wins.
    cmd.args(["config", "-z", "--get-regexp", r"^core\.comment(char|string)$"]);
    checked(&mut cmd).ok().and_then(|out| last_comment_setting(&out)).unwrap_or_default()
}

/// The variables through which git reads configuration from outside the
/// repository, with their values under `env`.
fn config_env(env: Env) -> Vec<(String, Option<OsString>)> {
    const NAMES: [&str; 7] = [
        "HOME",
        "XDG_CONFIG_HOME",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
    ];
    let mut vars: Vec<_> = NAMES.iter().map(|name| (name.to_string(), env(name))).collect();
    let count = env("GIT_CONFIG_COUNT").and_then(|c| c.to_str()?.parse::<usize>().ok()).unwrap_or(0);
    for i in 0..count {
        let key = format!("GIT_CONFIG_KEY_{i}");
        let Some(value) = env(&key) else { break }; // git refuses such a count anyway
        let value_name = format!("GIT_CONFIG_VALUE_{i}");
        let value_value = env(&value_name);
        vars.push((key, Some(value)));
        vars.push((value_name, value_value));
    }
    vars
}

/// Whether some config source mentions `commentChar`/`commentString`, or
/// includes a file that may (whatever the include's condition: entire's
/// own hooks setup includes a file for linked worktrees). Textual and
/// conservative: a false alarm costs one git call.
fn config_may_set_comment(repo: &Repo, env: Env) -> bool {
    let mut files = vec![repo.common_dir.join("config"), repo.git_dir.join("config.worktree")];
    match env("GIT_CONFIG_GLOBAL") {
        Some(global) => files.push(global.into()),
        None => {
            let home = env("HOME").map(PathBuf::from);
            let xdg = env("XDG_CONFIG_HOME")
                .filter(|xdg| !xdg.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|home| home.join(".config")));
            files.extend(home.map(|home| home.join(".gitconfig")));
            files.extend(xdg.map(|xdg| xdg.join("git/config")));
        }
    }
    if !env("GIT_CONFIG_NOSYSTEM").is_some_and(|v| env_true(&v)) {
        files.push(env("GIT_CONFIG_SYSTEM").map_or_else(|| "/etc/gitconfig".into(), PathBuf::from));
    }
    let in_env = config_env(env)
        .into_iter()
        .filter(|(name, _)| name == "GIT_CONFIG_PARAMETERS" || name.starts_with("GIT_CONFIG_KEY_"))
        .filter_map(|(_, value)| value)
        .any(|text| mentions(text.as_encoded_bytes(), &[b"commentchar", b"commentstring", b"include"]));
    in_env || files.iter().any(|file| file_may_set_comment(file, env, MAX_INCLUDE_DEPTH))
}

/// Git's own limit on nested includes is 10.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Whether a config file, or a file it includes, may set the comment
/// character. A file that is missing sets nothing (git skips a missing
/// include too); one that cannot be read, or an include path this scan
/// cannot read for sure, may.
fn file_may_set_comment(file: &Path, env: Env, depth: usize) -> bool {
    let text = match fs::read(file) {
        Ok(text) => text,
        Err(e) => return e.kind() != ErrorKind::NotFound,
    };
    if mentions(&text, &[b"commentchar", b"commentstring"]) {
        return true;
    }
    if !mentions(&text, &[b"include"]) {
        return false;
    }
    let Ok(text) = str::from_utf8(&text) else { return true };
    if depth == 0 {
        return true;
    }
    let mut in_include = false;
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            in_include = header.to_ascii_lowercase().starts_with("include");
            if header.contains(']') && !header.trim_end().ends_with(']') {
                return true; // a key on the header's line
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        if !in_include || !key.trim().eq_ignore_ascii_case("path") {
            continue;
        }
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        if value.is_empty() || value.contains(['"', '\\', '#', ';']) {
            return true; // quoting, escapes or comments: leave it to git
        }
        let path = match value.strip_prefix("~/") {
            Some(rest) => match env("HOME") {
                Some(home) => PathBuf::from(home).join(rest),
                None => return true,
            },
            None => file.parent().unwrap_or(Path::new("")).join(value),
        };
        if file_may_set_comment(&path, env, depth - 1) {
            return true;
        }
    }
    false
}

fn mentions(text: &[u8], words: &[&[u8]]) -> bool {
    let text = text.to_ascii_lowercase();
    words.iter().any(|word| text.windows(word.len()).any(|window| window == *word))
}

/// Git's boolean reading of an environment variable (`git_env_bool`).
fn env_true(value: &OsStr) -> bool {
    let value = value.to_string_lossy().to_ascii_lowercase();
    matches!(value.as_str(), "true" | "yes" | "on") || value.parse::<i64>().is_ok_and(|n| n != 0)
}

/// The last entry of `git config -z --get-regexp` output (`key\nvalue\0`…).
fn last_comment_setting(out: &[u8]) -> Option<CommentChar> {
    let entry = out.split(|&b| b == 0).rfind(|entry| !entry.is_empty())?;
    let (_, value) = str::from_utf8(entry).ok()?.split_once('\n')?;
    match value {
        "" => None, // git rejects it
        auto if auto.eq_ignore_ascii_case("auto") => Some(CommentChar::Auto),
        value => Some(CommentChar::Str(value.to_owned())),
    }
}

#[cfg(test)]
mod tests;
