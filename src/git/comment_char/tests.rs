//! `comment_char`: when it may skip git, and what git says when asked.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use super::*;

/// A repository, a HOME of its own, and the environment the code under
/// test sees instead of the process's.
struct Fixture {
    _dir: tempfile::TempDir,
    home: PathBuf,
    repo: Repo,
    env: HashMap<String, OsString>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        let status = Command::new("git")
            .args(["init", "-q", "repo"])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap();
        assert!(status.success());
        let repo = Repo::discover(&dir.path().join("repo")).unwrap().unwrap();
        let env =
            HashMap::from([("HOME".into(), home.clone().into()), ("GIT_CONFIG_NOSYSTEM".into(), "1".into())]);
        Fixture { _dir: dir, home, repo, env }
    }

    fn set(&mut self, name: &str, value: impl Into<OsString>) {
        self.env.insert(name.into(), value.into());
    }

    fn unset(&mut self, name: &str) {
        self.env.remove(name);
    }

    /// Appends to a config file, creating it and its directory.
    fn append(&self, file: &Path, text: &str) {
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        let old = fs::read_to_string(file).unwrap_or_default();
        fs::write(file, old + text).unwrap();
    }

    fn repo_config(&self) -> PathBuf {
        self.repo.common_dir.join("config")
    }

    fn needs_git(&self) -> bool {
        config_may_set_comment(&self.repo, &|name| self.env.get(name).cloned())
    }

    fn comment_char(&self) -> CommentChar {
        comment_char_with(&self.repo, &|name| self.env.get(name).cloned())
    }
}

const SEMICOLON: &str = "[core]\n\tcommentChar = \";\"\n"; // a bare ; starts a config comment

#[test]
fn skips_git_when_no_source_mentions_it() {
    let fx = Fixture::new();
    fx.append(&fx.home.join(".gitconfig"), "[user]\n\tname = A\n# a comment\n");
    assert!(!fx.needs_git());
    assert_eq!(fx.comment_char(), CommentChar::default());
}

#[test]
fn includes_are_followed_to_the_files_they_name() {
    let fx = Fixture::new();
    // What `entire enable` writes for linked worktrees, and a missing file.
    fx.append(
        &fx.repo_config(),
        "[includeIf \"gitdir:./worktrees/\"]\n\tpath = entire-hooks/linked.config\n",
    );
    fx.append(&fx.repo.common_dir.join("entire-hooks/linked.config"), "[core]\n\thooksPath = /x\n");
    fx.append(&fx.home.join(".gitconfig"), "[include]\n\tpath = ~/missing\n");
    assert!(!fx.needs_git());
    // One level further down, a file that sets it.
    fx.append(&fx.repo.common_dir.join("entire-hooks/linked.config"), "[include]\n\tpath = deeper\n");
    fx.append(&fx.repo.common_dir.join("entire-hooks/deeper"), SEMICOLON);
    assert!(fx.needs_git());
}

#[test]
fn include_paths_the_scan_cannot_read_for_sure_ask_git() {
    for line in ["path = \"a\\\"b\"", "path = x # comment", "path ="] {
        let fx = Fixture::new();
        fx.append(&fx.repo_config(), &format!("[include]\n\t{line}\n"));
        assert!(fx.needs_git(), "{line}");
    }
}

#[test]
fn every_config_source_is_scanned() {
    type Setup = fn(&mut Fixture);
    let sources: [(&str, Setup); 11] = [
        ("repo config", |fx| fx.append(&fx.repo_config(), "[core]\n\tCommentChar = ;\n")),
        ("config.worktree", |fx| fx.append(&fx.repo.git_dir.join("config.worktree"), SEMICOLON)),
        ("~/.gitconfig", |fx| fx.append(&fx.home.join(".gitconfig"), "[core]\n\tcommentString = //\n")),
        ("~/.config/git/config", |fx| fx.append(&fx.home.join(".config/git/config"), SEMICOLON)),
        ("$XDG_CONFIG_HOME/git/config", |fx| {
            fx.append(&fx.home.join("xdg/git/config"), SEMICOLON);
            fx.set("XDG_CONFIG_HOME", fx.home.join("xdg"));
        }),
        ("$GIT_CONFIG_GLOBAL", |fx| {
            fx.append(&fx.home.join("global"), SEMICOLON);
            fx.set("GIT_CONFIG_GLOBAL", fx.home.join("global"));
        }),
        ("$GIT_CONFIG_SYSTEM", |fx| {
            fx.append(&fx.home.join("system"), SEMICOLON);
            fx.set("GIT_CONFIG_SYSTEM", fx.home.join("system"));
            fx.unset("GIT_CONFIG_NOSYSTEM");
        }),
        ("an unreadable file", |fx| fx.set("GIT_CONFIG_GLOBAL", fx.home.clone())),
        ("an include", |fx| {
            fx.append(&fx.home.join(".gitconfig"), "[includeIf \"gitdir:~/\"]\n\tpath = x\n");
            fx.append(&fx.home.join("x"), SEMICOLON);
        }),
        ("git -c", |fx| fx.set("GIT_CONFIG_PARAMETERS", "'core.commentchar'=';'")),
        ("GIT_CONFIG_KEY_0", |fx| {
            fx.set("GIT_CONFIG_COUNT", "1");
            fx.set("GIT_CONFIG_KEY_0", "core.commentChar");
            fx.set("GIT_CONFIG_VALUE_0", ";");
        }),
    ];
    for (what, setup) in sources {
        let mut fx = Fixture::new();
        setup(&mut fx);
        assert!(fx.needs_git(), "{what}");
    }
}

#[test]
fn sources_git_does_not_read_are_not_scanned() {
    type Setup = fn(&mut Fixture);
    let shadowed: [(&str, Setup); 4] = [
        ("~/.gitconfig under $GIT_CONFIG_GLOBAL", |fx| {
            fx.append(&fx.home.join(".gitconfig"), SEMICOLON);
            fx.set("GIT_CONFIG_GLOBAL", "/dev/null");
        }),
        ("~/.config/git/config under $XDG_CONFIG_HOME", |fx| {
            fx.append(&fx.home.join(".config/git/config"), SEMICOLON);
            fx.set("XDG_CONFIG_HOME", fx.home.join("xdg"));
        }),
        ("system config under GIT_CONFIG_NOSYSTEM", |fx| {
            fx.append(&fx.home.join("system"), SEMICOLON);
            fx.set("GIT_CONFIG_SYSTEM", fx.home.join("system"));
        }),
        ("a key beyond GIT_CONFIG_COUNT", |fx| {
            fx.set("GIT_CONFIG_COUNT", "1");
            fx.set("GIT_CONFIG_KEY_0", "user.name");
            fx.set("GIT_CONFIG_KEY_1", "core.commentChar");
        }),
    ];
    for (what, setup) in shadowed {
        let mut fx = Fixture::new();
        setup(&mut fx);
        assert!(!fx.needs_git(), "{what}");
    }
}

#[test]
fn git_says_which_setting_wins() {
    let fx = Fixture::new();
    fx.append(&fx.repo_config(), SEMICOLON);
    assert_eq!(fx.comment_char(), CommentChar::Str(";".into()));
    // Either key, whichever git reads last: the repository after ~/.gitconfig.
    fx.append(&fx.home.join(".gitconfig"), "[core]\n\tcommentChar = %\n");
    fx.append(&fx.repo_config(), "[core]\n\tcommentString = //\n");
    assert_eq!(fx.comment_char(), CommentChar::Str("//".into()));
    fx.append(&fx.repo_config(), "[core]\n\tcommentChar = AUTO\n");
    assert_eq!(fx.comment_char(), CommentChar::Auto);
}

#[test]
fn git_follows_includes_and_the_environment() {
    let mut fx = Fixture::new();
    fx.append(&fx.home.join(".gitconfig"), "[include]\n\tpath = extra\n");
    assert_eq!(fx.comment_char(), CommentChar::default());
    fx.append(&fx.home.join("extra"), "[core]\n\tcommentChar = %\n");
    assert_eq!(fx.comment_char(), CommentChar::Str("%".into()));
    fx.set("GIT_CONFIG_PARAMETERS", "'core.commentchar'='@'");
    assert_eq!(fx.comment_char(), CommentChar::Str("@".into()));
}
