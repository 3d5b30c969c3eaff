//! Every human-readable output, pinned as an inline snapshot (jj-style):
//! `explain`, `status`, `sessions`, `doctor`, `clean`. IDs, SHAs, times and
//! the test's temp dir are redacted, each distinct value numbered in order
//! of appearance, so that a snapshot still shows which rows share one.

use std::collections::HashMap;
use std::path::Path;

use insta::assert_snapshot;

use crate::support::{World, stdout};

/// Redacts what differs between runs: the test's temp dir `[TMP]` and the
/// binary `[ENTIRE]`; a commit of HEAD (full or abbreviated) as `[HEAD~n]`;
/// other IDs numbered: `[SESSION-n]` (UUIDs), `[SHA-n]`, `[CP-n]`
/// (checkpoint IDs); `[TIME]` (`YYYY-MM-DD HH:MM[:SS] UTC`) and `[AGE]`
/// (`3s ago`).
pub fn redact(text: &str, tmp: &Path, commits: &[String]) -> String {
    let text = text
        .replace(&crate::support::entire_bin().display().to_string(), "[ENTIRE]")
        .replace(&tmp.display().to_string(), "[TMP]");
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(len) = timestamp_len(rest) {
            out.push_str("[TIME]");
            rest = &rest[len..];
            continue;
        }
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
        let (word, after) = rest.split_at(len);
        rest = after;
        if is_age(word) && rest.starts_with(" ago") {
            out.push_str("[AGE]");
            rest = &rest[" ago".len()..];
            continue;
        }
        let of_head = (word.len() >= 7).then(|| commits.iter().position(|c| c.starts_with(word))).flatten();
        match (of_head, kind_of(word)) {
            (Some(0), _) => out.push_str("[HEAD]"),
            (Some(n), _) => out.push_str(&format!("[HEAD~{n}]")),
            (None, Some(kind)) => {
                let label = seen.entry(word.to_owned()).or_insert_with(|| {
                    let n = counts.entry(kind).or_default();
                    *n += 1;
                    format!("[{kind}-{n}]")
                });
                out.push_str(label);
            }
            (None, None) => out.push_str(word),
        }
    }
    out.push_str(rest);
    out
}

fn is_age(word: &str) -> bool {
    word.len() >= 2
        && word[..word.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && word.ends_with(['s', 'm', 'h', 'd'])
}

fn kind_of(word: &str) -> Option<&'static str> {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let parts: Vec<&str> = word.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    if lens == [8, 4, 4, 4, 12] && parts.iter().all(|p| hex(p)) {
        return Some("SESSION");
    }
    let has_digit = word.bytes().any(|b| b.is_ascii_digit());
    match word.len() {
        40 | 64 if hex(word) => Some("SHA"),
        12 if hex(word) && has_digit => Some("CP"),
        _ => None,
    }
}

/// `YYYY-MM-DD HH:MM[:SS] UTC` at the start of `text`: its length.
fn timestamp_len(text: &str) -> Option<usize> {
    let shape = |pattern: &str| {
        text.len() >= pattern.len()
            && text
                .bytes()
                .zip(pattern.bytes())
                .all(|(c, p)| if p == b'9' { c.is_ascii_digit() } else { c == p })
    };
    ["9999-99-99 99:99:99 UTC", "9999-99-99 99:99 UTC"].into_iter().find(|p| shape(p)).map(str::len)
}

/// `entire ARGS` in `repo`, redacted.
fn entire(w: &World, repo: &Path, args: &[&str]) -> String {
    redacted(w, repo, &stdout(w.entire(repo).args(args).output().unwrap()))
}

pub fn redacted(w: &World, repo: &Path, text: &str) -> String {
    let commits: Vec<String> = w.git(repo, &["log", "--format=%H"]).lines().map(str::to_owned).collect();
    redact(text, w.path(), &commits)
}

#[test]
fn the_redaction_numbers_each_value_once() {
    let head = format!("{}{}", "a1b2c3d", "0".repeat(33));
    let text = format!(
        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b a1b2c3d 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b 5s ago 30d \
         2025-01-02 03:04:05 UTC 0123456789ab added facade 2025-01-02 03:04 UTC {} /t/x {head}",
        "f".repeat(40)
    );
    assert_snapshot!(
        redact(&text, Path::new("/t"), std::slice::from_ref(&head)),
        @"[SESSION-1] [HEAD] [SESSION-1] [AGE] 30d [TIME] [CP-1] added facade [TIME] [SHA-1] [TMP]/x [HEAD]"
    );
}

#[test]
fn explain_status_and_sessions_read_as_pinned() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "claude-code");
    agent.ok("echo x > a.txt && git add a.txt && git commit -q -m 'by the agent'");
    w.git(&repo, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "by a human"]);

    assert_snapshot!(entire(&w, &repo, &["explain"]), @r"
        COMMIT   SESSION                               AGENT        BY   SUBJECT
        [HEAD]  -                                                       by a human
        [HEAD~1]  [SESSION-1]  claude-code  env  by the agent
        [HEAD~2]  -                                                       initial
    ");
    assert_snapshot!(entire(&w, &repo, &["explain", "HEAD~1"]), @r"
        commit [HEAD~1]

        checkpoint [CP-1]
          session:     [SESSION-1] (claude-code)
          attributed:  ENTIRE_SESSION_ID in the committing process named this session (env)
          when:        [TIME] on main
          files:       a.txt
    ");
    assert_snapshot!(entire(&w, &repo, &["explain", "--session", &agent.session_id]), @r"
        session [SESSION-1] (claude-code): 1 commit(s)
          [HEAD~1]  checkpoint [CP-1]  by env      [TIME]
    ");
    assert_snapshot!(entire(&w, &repo, &["status"]), @r"
        entire is enabled in [TMP]/repos/r
          commit-msg           on demand (linked when a commit needs it)
          post-commit          installed
          pre-push             installed
          prepare-commit-msg   installed
          agent hooks          none (entire enable --agent claude-code|codex|gemini|opencode|copilot)
        Live sessions:
        SESSION                               AGENT        STATE  STARTED  COMMITS  PROMPT
        [SESSION-1]  claude-code  live   [AGE]   1
    ");
    assert_snapshot!(entire(&w, &repo, &["sessions"]), @r"
        SESSION                               AGENT        STATE  STARTED  COMMITS  PROMPT
        [SESSION-1]  claude-code  live   [AGE]   1
    ");
    agent.stop();
    assert_snapshot!(entire(&w, &repo, &["sessions"]), @r"
        SESSION                               AGENT        STATE  STARTED  COMMITS  PROMPT
        [SESSION-1]  claude-code  ended  [AGE]   1
    ");
    assert_snapshot!(entire(&w, &repo, &["status"]), @r"
        entire is enabled in [TMP]/repos/r
          commit-msg           on demand (linked when a commit needs it)
          post-commit          installed
          pre-push             installed
          prepare-commit-msg   installed
          agent hooks          none (entire enable --agent claude-code|codex|gemini|opencode|copilot)
        No live sessions.
    ");
}

#[test]
fn status_of_a_repository_not_enabled() {
    let w = World::new();
    let repo = w.plain_repo("r");
    assert_snapshot!(entire(&w, &repo, &["status"]), @r"
        entire is not enabled in [TMP]/repos/r
          commit-msg           missing
          post-commit          missing
          pre-push             missing
          prepare-commit-msg   missing
          agent hooks          none (entire enable --agent claude-code|codex|gemini|opencode|copilot)
        hint: run `entire enable` to attribute commits here
        No live sessions.
    ");
    assert_snapshot!(entire(&w, &repo, &["explain", "HEAD"]), @r"
        commit [HEAD]
          no checkpoint: no agent session was attributed to this commit
    ");
}

#[test]
fn doctor_and_clean_read_as_pinned() {
    let w = World::new();
    let repo = w.repo("r");
    assert_snapshot!(entire(&w, &repo, &["doctor"]), @"entire doctor: no problems found");
    assert_snapshot!(entire(&w, &repo, &["clean"]), @"nothing to clean");

    // A launcher killed with SIGKILL: its session never ends.
    let agent = w.agent(&repo, "claude-code");
    agent.ok("git commit -q --allow-empty -m 'by the agent'");
    let launcher = agent.child.id() as i32;
    unsafe { libc::kill(launcher, libc::SIGKILL) };
    agent.stop();
    std::fs::remove_file(repo.join(".git/entire-hooks/pre-push")).unwrap();

    let out = w.entire(&repo).arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_snapshot!(redacted(&w, &repo, &String::from_utf8_lossy(&out.stdout)), @r"
        problem: session [SESSION-1] never ended, and its processes are gone
          `entire doctor --fix` repairs this
        problem: live-index entry [SESSION-1] is left over: its processes are gone
          `entire doctor --fix` repairs this
        problem: git hook pre-push is missing
          `entire doctor --fix` repairs this (so does `entire enable`)
        problem: live-registry entry [SESSION-1] is left over: its processes are gone
          `entire doctor --fix` repairs this
        entire doctor: 4 problem(s), 4 need attention
    ");
    assert_snapshot!(entire(&w, &repo, &["doctor", "--fix"]), @r"
        problem: session [SESSION-1] never ended, and its processes are gone
          fixed: marked it ended
        problem: live-index entry [SESSION-1] is left over: its processes are gone
          fixed: removed it
        problem: git hook pre-push is missing
          fixed: installed entire's hooks again in [TMP]/repos/r/.git/entire-hooks, running [ENTIRE]
        problem: live-registry entry [SESSION-1] is left over: its processes are gone
          fixed: removed it
        entire doctor: 4 problem(s), all fixed
    ");
    assert_snapshot!(entire(&w, &repo, &["clean", "--dry-run"]), @r"
        kept 1 session(s) that ended within the last 30d (--older-than changes this)
        nothing to clean
    ");
    assert_snapshot!(entire(&w, &repo, &["clean", "--older-than", "0s"]), @"removed session [SESSION-1] (ended [TIME], 1 checkpoint(s))");
}

#[test]
fn columns_stay_aligned_for_a_long_agent_name() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "an-agent-with-a-long-name");
    agent.ok("git commit -q --allow-empty -m 'by the agent'");
    assert_snapshot!(entire(&w, &repo, &["explain"]), @r"
        COMMIT   SESSION                               AGENT                      BY   SUBJECT
        [HEAD]  [SESSION-1]  an-agent-with-a-long-name  env  by the agent
        [HEAD~1]  -                                                                     initial
    ");
    assert_snapshot!(entire(&w, &repo, &["sessions"]), @r"
        SESSION                               AGENT                      STATE  STARTED  COMMITS  PROMPT
        [SESSION-1]  an-agent-with-a-long-name  live   [AGE]   1
    ");
    agent.stop();
}

/// On a terminal, a legend under the table says what BY means; piped, the
/// table stands alone (`explain_status_and_sessions_read_as_pinned`).
#[test]
fn on_a_terminal_the_log_explains_its_columns() {
    let w = World::new();
    let repo = w.repo("r");
    let mut cmd = w.entire(&repo);
    cmd.arg("explain").env("NO_COLOR", "1");
    let mut terminal = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    let shown = terminal.exp_eof().unwrap().replace('\r', "");
    assert_snapshot!(redacted(&w, &repo, &shown), @r"
        COMMIT   SESSION  AGENT  BY  SUBJECT
        [HEAD]  -                   initial
        BY: how the session was found. env: ENTIRE_SESSION_ID named it; pid: the
        commit ran in its process tree; recent: a guess (the most recently active
        session here); post-hoc: the agent's hooks linked the commit afterwards
    ");
}

#[test]
fn the_demo_reads_as_pinned() {
    let w = World::new();
    let out = w.entire(w.path()).args(["demo", "--keep"]).env("TMPDIR", w.path()).output().unwrap();
    let out = stdout(out);
    let kept = out.lines().last().and_then(|l| l.strip_prefix("Kept the demo in ")).expect("kept");
    let text = out.replace(kept, "[DEMO]");
    let commits: Vec<String> =
        w.git(&Path::new(kept).join("repo"), &["log", "--format=%H"]).lines().map(str::to_owned).collect();
    assert_snapshot!(redact(&text, w.path(), &commits), @r"
        entire demo: two agents commit in one repository at the same time

        repository  [DEMO]/repo
        alpha       session [SESSION-1]
                    its git commands see ENTIRE_SESSION_ID
        beta        session [SESSION-2]
                    its git commands run without it, as Codex's can

        COMMIT   SUBJECT          CHECKPOINT    SESSION  BY
        [HEAD~5]  alpha: change 1  [CP-1]  alpha    env
        [HEAD~4]  beta: change 1   [CP-2]  beta     pid
        [HEAD~3]  alpha: change 2  [CP-3]  alpha    env
        [HEAD~2]  beta: change 2   [CP-4]  beta     pid
        [HEAD~1]  alpha: change 3  [CP-5]  alpha    env
        [HEAD]  beta: change 3   [CP-6]  beta     pid

        $ entire explain HEAD
        commit [HEAD]

        checkpoint [CP-6]
          session:     [SESSION-2] (beta)
          attributed:  the commit ran under this session's process, 2 level(s) up (pid)
          when:        [TIME] on main
          files:       beta.txt

        Both sessions were live for every commit, and each commit went to the
        session that made it: by ENTIRE_SESSION_ID (env) for alpha, by the process
        tree (pid) for beta. Picking one live session by some other rule (say, the
        first session file found) would have given them all to the same one.

        Kept the demo in [DEMO]
    ");
}
