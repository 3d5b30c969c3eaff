//! What a team reads from the record: `blame`, `stats`, tokens and models
//! from transcripts, the Agent Trace export. One file with lines from a
//! Claude Code session, a person and a Codex session (fake agents under the
//! real launcher, real git and hooks).

use std::path::{Path, PathBuf};

use insta::assert_snapshot;
use serde_json::{Value, json};

use crate::output::redacted;
use crate::support::{World, entire_bin, stdout};

/// A Claude Code transcript as it writes them: `usage` on assistant turns.
const CLAUDE_TRANSCRIPT: &str = r#"{"type":"user","message":{"role":"user","content":"Add two lines"}}
{"type":"assistant","message":{"model":"claude-sonnet-4-5","role":"assistant","usage":{"input_tokens":12,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000,"output_tokens":57}}}
{"type":"assistant","message":{"model":"claude-sonnet-4-5","role":"assistant","usage":{"input_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":4300,"output_tokens":21}}}
"#;

struct Team {
    w: World,
    repo: PathBuf,
    claude: String,
    codex: String,
}

/// `f.txt`: lines 1-2 by Claude Code, 3 by a person, 4 by Codex.
fn team() -> Team {
    let w = World::new();
    let repo = w.repo("r");
    let transcript = w.path().join("claude-transcript.jsonl");
    std::fs::write(&transcript, CLAUDE_TRANSCRIPT).unwrap();

    let claude = w.agent(&repo, "claude-code");
    let payload =
        json!({"session_id": "claude-own-id", "transcript_path": transcript, "prompt": "Add two lines"});
    claude.ok(&format!(
        "echo '{payload}' | '{bin}' hooks claude-code session-start && \
         echo '{payload}' | '{bin}' hooks claude-code user-prompt-submit && \
         printf 'one\\ntwo\\n' > f.txt && git add f.txt && git commit -q -m 'claude: two lines'",
        bin = entire_bin().display()
    ));
    let claude_id = claude.session_id.clone();
    claude.stop();

    std::fs::write(repo.join("f.txt"), "one\ntwo\nthree by hand\n").unwrap();
    w.git(&repo, &["commit", "-q", "-am", "human: a third line"]);

    let codex = w.agent(&repo, "codex");
    codex.ok("echo four >> f.txt && git commit -q -am 'codex: a fourth line'");
    let codex_id = codex.session_id.clone();
    codex.stop();
    Team { w, repo, claude: claude_id, codex: codex_id }
}

fn entire(team: &Team, args: &[&str]) -> String {
    redacted(&team.w, &team.repo, &stdout(team.w.entire(&team.repo).args(args).output().unwrap()))
}

fn sha(w: &World, repo: &Path, rev: &str) -> String {
    w.git(repo, &["rev-parse", rev])
}

#[test]
fn blame_names_each_lines_session_or_none() {
    let t = team();
    let blame = t.w.json(&t.repo, &["blame", "f.txt", "--json"]);
    let lines = blame.as_array().unwrap();
    let who: Vec<(u64, Value, Value)> = lines
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l["session_id"].clone(), l["agent"].clone()))
        .collect();
    assert_eq!(
        who,
        [
            (1, json!(t.claude), json!("claude-code")),
            (2, json!(t.claude), json!("claude-code")),
            (3, Value::Null, Value::Null),
            (4, json!(t.codex), json!("codex")),
        ]
    );
    assert_eq!(lines[0]["commit"], sha(&t.w, &t.repo, "HEAD~2"));
    assert_eq!(lines[2]["commit"], sha(&t.w, &t.repo, "HEAD~1"));
    assert!(lines[2]["checkpoint_id"].is_null());
    let checkpoint =
        t.w.json(&t.repo, &["explain", "HEAD", "--json"])["checkpoints"][0]["checkpoint_id"].clone();
    assert_eq!(lines[3]["checkpoint_id"], checkpoint);
    assert_eq!(lines[0].as_object().unwrap().len(), 5, "{:#}", lines[0]);

    assert_snapshot!(entire(&t, &["blame", "f.txt"]), @r#"
    [HEAD~2] claude-code  #1  1) one
    [HEAD~2] claude-code  #1  2) two
    [HEAD~1] human        -   3) three by hand
    [HEAD] codex        #2  4) four

    sessions:
      #1  [SESSION-1]  claude-code  "Add two lines"
      #2  [SESSION-2]  codex
    "#);
    // An older revision, and a line not committed yet.
    std::fs::write(t.repo.join("f.txt"), "zero\n").unwrap();
    let blame = t.w.json(&t.repo, &["blame", "f.txt", "--json"]);
    assert_eq!(
        blame,
        json!([{"line": 1, "commit": null, "checkpoint_id": null, "session_id": null, "agent": null}])
    );
    let old = t.w.json(&t.repo, &["blame", "f.txt", "HEAD~1", "--json"]);
    assert_eq!(old.as_array().unwrap().len(), 3);

    let out = t.w.entire(&t.repo).args(["blame", "nope.txt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("entire: error: cannot blame nope.txt"));
}

#[test]
fn stats_count_commits_and_lines_per_agent_session_and_human() {
    let t = team();
    let stats = t.w.json(&t.repo, &["stats", "HEAD~3..HEAD", "--json"]);
    let mut expected = json!({
        "range": "HEAD~3..HEAD",
        "commits": 3,
        "by_agent": {
            "claude-code": {"commits": 1, "lines_added": 2, "lines_removed": 0,
                "sessions": {t.claude.as_str(): {"commits": 1, "lines_added": 2, "lines_removed": 0}}},
            "codex": {"commits": 1, "lines_added": 1, "lines_removed": 0,
                "sessions": {t.codex.as_str(): {"commits": 1, "lines_added": 1, "lines_removed": 0}}},
        },
        "human": {"commits": 1, "lines_added": 1, "lines_removed": 0},
    });
    let claude_tokens = json!({"input": 15, "output": 78, "cache_read": 8300, "cache_write": 300});
    expected["by_agent"]["claude-code"]["tokens"] = claude_tokens.clone();
    expected["by_agent"]["claude-code"]["models"] = json!(["claude-sonnet-4-5"]);
    expected["by_agent"]["claude-code"]["sessions"][&t.claude]["tokens"] = claude_tokens;
    expected["by_agent"]["claude-code"]["sessions"][&t.claude]["models"] = json!(["claude-sonnet-4-5"]);
    assert_eq!(stats, expected);

    // No range on the default branch: the last 100 commits, "initial" too.
    let stats = t.w.json(&t.repo, &["stats", "--json"]);
    assert_eq!(
        (stats["range"].clone(), stats["commits"].clone()),
        (json!("the last 100 commits of HEAD"), json!(4))
    );
    // On a branch: since it left main.
    t.w.git(&t.repo, &["checkout", "-q", "-b", "topic"]);
    t.w.git(&t.repo, &["commit", "-q", "--allow-empty", "-m", "on topic"]);
    let stats = t.w.json(&t.repo, &["stats", "--json"]);
    assert_eq!((stats["range"].clone(), stats["commits"].clone()), (json!("main..HEAD"), json!(1)));

    assert_snapshot!(entire(&t, &["stats", "main~3..main"]), @r"
    main~3..main: 3 commit(s)
    AGENT / SESSION                        COMMITS   ADDED REMOVED
    claude-code                                  1       2       0
      [SESSION-1]       1       2       0
    codex                                        1       1       0
      [SESSION-2]       1       1       0
    human                                        1       1       0
    ");
}

#[test]
fn tokens_and_models_come_from_the_transcripts() {
    let t = team();
    let sessions = t.w.json(&t.repo, &["sessions", "--all", "--json"]);
    let of = |id: &str| sessions.as_array().unwrap().iter().find(|s| s["session_id"] == id).unwrap().clone();
    let claude = of(&t.claude);
    assert_eq!(claude["tokens"], json!({"input": 15, "output": 78, "cache_read": 8300, "cache_write": 300}));
    assert_eq!(claude["models"], json!(["claude-sonnet-4-5"]));
    let codex = of(&t.codex);
    assert!(
        codex.get("tokens").is_none() && codex.get("models").is_none(),
        "unknown stays absent: {codex:#}"
    );

    let explained = t.w.json(&t.repo, &["explain", "HEAD~2", "--json"]);
    assert_eq!(explained["checkpoints"][0]["tokens"]["output"], 78);
    assert_eq!(explained["checkpoints"][0]["models"], json!(["claude-sonnet-4-5"]));
    let explained = t.w.json(&t.repo, &["explain", "HEAD", "--json"]);
    assert!(explained["checkpoints"][0].get("tokens").is_none(), "{explained:#}");
}
