//! The command line itself: usage errors, closed pipes, `explain [REV]`,
//! completions and man pages.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use crate::support::{World, stdout};

/// Runs `cmd` with its stdout a pipe whose reader is already gone, as in
/// `entire … | head -1` once head has exited.
fn with_closed_stdout(cmd: &mut Command) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cmd.stdout(writer).stderr(Stdio::piped()).output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Ended quietly: exit 0 or death by SIGPIPE, as `git log | head` ends.
fn assert_quiet_end(what: &str, (status, stderr): (std::process::ExitStatus, String)) {
    assert!(status.success() || status.signal() == Some(libc::SIGPIPE), "{what}: {status:?}\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{what}: {stderr}");
}

#[test]
fn a_closed_pipe_ends_each_command_quietly() {
    let w = World::new();
    let repo = w.repo("r");
    for i in 0..3 {
        w.git(&repo, &["commit", "-q", "--allow-empty", "-m", &format!("change {i}")]);
    }
    let agent = w.agent(&repo, "claude-code");
    agent.ok("git commit -q --allow-empty -m 'by the agent'");
    for args in [
        &["sessions", "--all"][..],
        &["sessions", "--json"],
        &["explain"],
        &["explain", "HEAD"],
        &["status"],
        &["doctor"],
        &["completions", "bash"],
        &["man"],
    ] {
        assert_quiet_end(&format!("{args:?}"), with_closed_stdout(w.entire(&repo).args(args)));
    }
}

#[test]
fn a_closed_pipe_ends_the_demo_and_its_temp_dir_goes() {
    let w = World::new();
    let tmp = w.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    assert_quiet_end("demo", with_closed_stdout(w.entire(w.path()).arg("demo").env("TMPDIR", &tmp)));
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the demo left its temp dir behind");
}

#[test]
fn usage_errors_read_like_every_other_error() {
    let w = World::new();
    for args in
        [&["--bogus"][..], &["explain", "--commit"], &["clean", "--older-than", "soon"], &["no-such-command"]]
    {
        let out = w.entire(w.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("entire: error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("error: error"), "{args:?}: {stderr}");
    }
    let help = w.entire(w.path()).arg("--help").output().unwrap();
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("Usage: entire"));
}

#[test]
fn explain_takes_a_positional_rev_and_its_json_matches_the_text() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "claude-code");
    agent.ok("git commit -q --allow-empty -m 'by the agent'");
    // With hooks off: recency would give it to the live agent.
    w.git(&repo, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "by a human"]);
    let by_flag = w.json(&repo, &["explain", "--commit", "HEAD~1", "--json"]);
    assert_eq!(w.json(&repo, &["explain", "HEAD~1", "--json"]), by_flag);
    assert_eq!(by_flag["checkpoints"][0]["session_id"], agent.session_id.as_str());

    // No argument: the log, as text and as JSON alike (newest first).
    let text = stdout(w.entire(&repo).arg("explain").output().unwrap());
    let json = w.json(&repo, &["explain", "--json"]);
    let commits = json.as_array().expect("an array of commits");
    assert_eq!(commits.len(), text.lines().count() - 1, "one per row:\n{text}\n{json}");
    assert_eq!(commits[1], by_flag);
    assert_eq!(commits[0]["commit"], w.git(&repo, &["rev-parse", "HEAD"]));
    assert_eq!(commits[0]["checkpoints"], serde_json::json!([]));

    let both = w.entire(&repo).args(["explain", "HEAD", "--commit", "HEAD"]).output().unwrap();
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn completions_offer_no_hidden_command() {
    let w = World::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(w.entire(w.path()).args(["completions", shell]).output().unwrap());
        assert!(script.contains("explain"), "{shell}: visible commands are offered");
        for offered in ["entire__hooks", "__hooks_commands", "-a \"hooks\"", "installed hooks call"] {
            assert!(!script.contains(offered), "{shell}: the hidden `hooks` command is offered ({offered})");
        }
    }
}

#[test]
fn every_man_page_referred_to_exists() {
    let w = World::new();
    let man = |command: &[&str]| w.entire(w.path()).arg("man").args(command).output().unwrap();
    let mut pages = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(command) = pages.pop() {
        let out = man(&command.iter().map(String::as_str).collect::<Vec<_>>());
        let page = stdout(out);
        let title =
            std::iter::once("entire").chain(command.iter().map(String::as_str)).collect::<Vec<_>>().join("-");
        assert!(page.contains(&format!(".TH {title} 1")), "{command:?}: {page}");
        assert_has_every_section(&title, &page);
        seen += 1;
        // clap_mangen lists each subcommand as `entire\-run(1)`.
        for line in page.lines().filter_map(|l| l.strip_suffix("(1)")).filter(|l| l.starts_with("entire\\-"))
        {
            let words: Vec<String> = line.split("\\-").skip(1).map(str::to_owned).collect();
            assert_eq!(words[..command.len()], command[..], "{line} is not below {title}");
            pages.push(words);
        }
    }
    assert!(seen > 10, "the top page and one per command: {seen}");
    assert_eq!(man(&["hooks"]).status.code(), Some(2), "no page for the hidden command");
}

/// A page says more in DESCRIPTION than its NAME line, and has the
/// sections clap does not write.
fn assert_has_every_section(title: &str, page: &str) {
    let sections: Vec<&str> =
        page.lines().filter_map(|l| Some(l.strip_prefix(".SH ")?.trim_matches('"'))).collect();
    for wanted in ["NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "EXIT STATUS", "FILES", "SEE ALSO"] {
        assert!(sections.contains(&wanted), "{title} has no {wanted}: {sections:?}");
    }
    let after = |heading: &str| page.split(heading).nth(1).and_then(|rest| rest.lines().nth(1)).unwrap_or("");
    let name = after(".SH NAME");
    let summary = name.split_once(" \\- ").map_or(name, |(_, about)| about);
    let description = after(".SH DESCRIPTION");
    assert!(
        !description.is_empty() && !description.starts_with(summary),
        "{title} repeats NAME: {description}"
    );
    for variable in
        ["ENTIRE_SESSION_ID", "ENTIRE_STATE_DIR", "ENTIRE_DEBUG", "NO_COLOR", "ENTIRE_SHELL_NO_WRAP"]
    {
        assert!(page.contains(variable), "{title} does not document {variable}");
    }
}

#[test]
fn a_missing_test_tool_fails_in_one_line_naming_its_package() {
    let w = World::new();
    let failed = std::panic::catch_unwind(|| w.cmd("no-such-tool-xyz", w.path()));
    let payload = failed.expect_err("a missing tool fails the test");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("no-such-tool-xyz is not installed")
    );
    assert!(std::panic::catch_unwind(|| w.cmd("git", w.path())).is_ok());
}

#[test]
fn entire_alone_prints_the_help_without_an_error() {
    let w = World::new();
    for args in [&[][..], &["shell"]] {
        let out = w.entire(w.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let help = String::from_utf8_lossy(&out.stderr);
        assert!(!help.contains("error"), "{args:?}: {help}");
        assert!(help.contains("Usage: entire") && help.contains("Commands:"), "{args:?}: {help}");
    }
}

/// Two sessions started together share the start of their IDs: the
/// command line takes any prefix that names one of them, and lists both
/// for one that does not. A checkpoint ID, or a prefix of one, explains its
/// commit. The environment takes whole IDs only.
#[test]
fn ids_may_be_typed_as_unique_prefixes_on_the_command_line_only() {
    let w = World::new();
    let repo = w.repo("r");
    let (a, b) = (w.agent(&repo, "a"), w.agent(&repo, "b"));
    a.ok("git commit -q --allow-empty -m by-a");
    let by_a = w.git(&repo, &["rev-parse", "HEAD"]);
    let shared = a.session_id.chars().zip(b.session_id.chars()).take_while(|(x, y)| x == y).count();
    assert!(shared >= 8, "sessions started together share a prefix: {} {}", a.session_id, b.session_id);

    let explain = |args: &[&str]| w.entire(&repo).arg("explain").args(args).output().unwrap();
    let unique = &a.session_id[..shared + 1];
    let listed = stdout(explain(&["--session", unique]));
    assert!(listed.starts_with(&format!("session {} (a): 1 commit(s)", a.session_id)), "{listed}");

    let out = explain(&["--session", &a.session_id[..shared]]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("entire: error: ") && stderr.contains("begins 2 session IDs"), "{stderr}");
    assert!(stderr.contains(&a.session_id) && stderr.contains(&b.session_id), "{stderr}");
    assert!(stderr.contains("hint: type more of the session ID"), "{stderr}");

    let checkpoint = crate::support::checkpoint_of(&w, &repo, "HEAD").unwrap();
    for typed in [&checkpoint[..], &checkpoint[..6]] {
        let shown = stdout(explain(&[typed]));
        assert!(shown.starts_with(&format!("commit {by_a}\n")), "{typed}: {shown}");
    }
    let out = explain(&["no-such-thing"]);
    assert_eq!(out.status.code(), Some(1));

    let stderr = b.ok(&format!(
        "ENTIRE_SESSION_ID={} ENTIRE_DEBUG=1 git commit -q --allow-empty -m by-b",
        &b.session_id[..shared + 1]
    ));
    assert!(stderr.contains("env_rejected: unknown"), "a prefix is no session ID here: {stderr}");
    let owner = crate::support::owner_of(&w, &repo, "HEAD").map(|(session, _)| session);
    assert_eq!(owner.as_deref(), Some(b.session_id.as_str()));
    a.stop();
    b.stop();
}
