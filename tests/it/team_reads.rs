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

/// Where Claude Code keeps a session's transcript (`~/.claude/projects/…`):
/// entire reads transcripts only from the agent's own directories.
fn claude_transcript(w: &World, sid: &str) -> PathBuf {
    let dir = w.path().join("home/.claude/projects/-repo");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{sid}.jsonl"))
}

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
    let transcript = claude_transcript(&w, "claude-own-id");
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
    let text = entire(&t, &["explain", "HEAD~2"]);
    let tokens: Vec<&str> = text.lines().filter(|l| l.contains("tokens:")).collect();
    assert_eq!(
        tokens,
        ["  tokens:      15 in, 78 out, 8300 cache read, 300 cache write (claude-sonnet-4-5)"],
        "{text}"
    );
}

/// A check of the JSON Schema keywords the vendored Agent Trace schema
/// uses (`$ref` into `$defs`, `type`, `required`, `properties`,
/// `additionalProperties: false`, `items`, `enum`, `pattern`, `minimum`,
/// `maxLength`, `format` uuid/date-time/uri): every violation, by path.
fn violations(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.strip_prefix("#/$defs/").expect("local $ref");
        return violations(root, &root["$defs"][name], value, at);
    }
    let mut found = Vec::new();
    let mut fail = |what: String| found.push(format!("{at}: {what}"));
    let kind_ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_u64() || value.is_i64(),
        Some(other) => panic!("type {other} is not checked here"),
        None => true,
    };
    if !kind_ok {
        fail(format!("not of type {}", schema["type"]));
        return found;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        fail(format!("{value} not in {allowed:?}"));
    }
    if let (Some(pattern), Some(text)) = (schema["pattern"].as_str(), value.as_str())
        && !regex::Regex::new(pattern).unwrap().is_match(text)
    {
        fail(format!("{text:?} does not match {pattern}"));
    }
    if let (Some(max), Some(text)) = (schema["maxLength"].as_u64(), value.as_str())
        && text.chars().count() as u64 > max
    {
        fail(format!("longer than {max}"));
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_i64(), value.as_i64())
        && n < min
    {
        fail(format!("{n} < {min}"));
    }
    if let (Some(format), Some(text)) = (schema["format"].as_str(), value.as_str()) {
        let ok = match format {
            "uuid" => uuid::Uuid::parse_str(text).is_ok() && text.len() == 36,
            "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            "uri" => text.split_once(':').is_some_and(|(scheme, _)| !scheme.is_empty()),
            other => panic!("format {other} is not checked here"),
        };
        if !ok {
            fail(format!("{text:?} is not a {format}"));
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(key.as_str().unwrap()) {
                fail(format!("{key} is required"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => found.extend(violations(root, sub, item, &format!("{at}.{key}"))),
                None if schema["additionalProperties"] == false => {
                    found.push(format!("{at}: {key} not allowed"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (n, item) in array.iter().enumerate() {
            found.extend(violations(root, items, item, &format!("{at}[{n}]")));
        }
    }
    found
}

fn agent_trace_schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agent-trace/trace-record.schema.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_schema_check_catches_what_the_schema_forbids() {
    let schema = agent_trace_schema();
    let valid = json!({"version": "0.1", "id": "550e8400-e29b-41d4-a716-446655440000",
        "timestamp": "2026-01-25T10:00:00Z",
        "files": [{"path": "a", "conversations": [{"contributor": {"type": "ai"}, "ranges": [{"start_line": 1, "end_line": 2}]}]}]});
    assert_eq!(violations(&schema, &schema, &valid, "$"), Vec::<String>::new());
    let mut bad = valid.clone();
    bad["version"] = json!("0.1.0");
    bad["id"] = json!("nope");
    bad["extra"] = json!(1);
    bad["files"][0]["conversations"][0]["contributor"]["type"] = json!("robot");
    bad["files"][0]["conversations"][0]["ranges"][0]["start_line"] = json!(0);
    bad.as_object_mut().unwrap().remove("timestamp");
    assert_eq!(
        violations(&schema, &schema, &bad, "$").len(),
        6,
        "{:#?}",
        violations(&schema, &schema, &bad, "$")
    );
}

#[test]
fn explain_exports_agent_trace_records_that_validate() {
    let t = team();
    let schema = agent_trace_schema();
    for rev in ["HEAD~2", "HEAD~1", "HEAD"] {
        let record = t.w.json(&t.repo, &["explain", rev, "--format", "agent-trace"]);
        assert_eq!(violations(&schema, &schema, &record, "$"), Vec::<String>::new(), "{rev}: {record:#}");
        assert_eq!(record["vcs"], json!({"type": "git", "revision": sha(&t.w, &t.repo, rev)}));
        assert_eq!(record["tool"]["name"], "entire");
    }
    let claude = t.w.json(&t.repo, &["explain", "HEAD~2", "--format", "agent-trace"]);
    assert_eq!(
        claude["files"],
        json!([{"path": "f.txt", "conversations": [{
            "contributor": {"type": "ai", "model_id": "anthropic/claude-sonnet-4-5"},
            "ranges": [{"start_line": 1, "end_line": 2}]
        }]}])
    );
    assert_eq!(claude["metadata"]["dev.entire"]["checkpoints"][0]["session_id"], t.claude.as_str());
    let human = t.w.json(&t.repo, &["explain", "HEAD~1", "--format", "agent-trace"]);
    assert_eq!(human["files"][0]["conversations"][0]["contributor"], json!({"type": "unknown"}));
    let codex = t.w.json(&t.repo, &["explain", "HEAD", "--format", "agent-trace"]);
    assert_eq!(
        codex["files"][0]["conversations"][0],
        json!({"contributor": {"type": "ai"}, "ranges": [{"start_line": 4, "end_line": 4}]})
    );

    let out = t.w.entire(&t.repo).args(["explain", "--format", "agent-trace"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Opt-in `Assisted-by: AGENT:MODEL` next to our trailer: the model from
/// the transcript when it names one, the agent alone otherwise.
#[test]
fn assisted_by_trailers_are_opt_in() {
    let w = World::new();
    let repo = w.repo("r");
    let settings = repo.join(".entire/settings.local.json");
    std::fs::write(&settings, r#"{"trailers": {"assisted_by": true}}"#).unwrap();
    let transcript = claude_transcript(&w, "c");
    std::fs::write(&transcript, CLAUDE_TRANSCRIPT).unwrap();

    let claude = w.agent(&repo, "claude-code");
    let payload = json!({"session_id": "c", "transcript_path": transcript});
    claude.ok(&format!(
        "echo '{payload}' | '{}' hooks claude-code session-start && \
         git commit -q --allow-empty -m 'with a model'",
        entire_bin().display()
    ));
    let (code, _) = claude.exec("git commit -q --allow-empty -m ''");
    assert_ne!(code, 0, "a message of our trailers alone is still empty: git aborts");
    claude.stop();
    let codex = w.agent(&repo, "codex");
    codex.ok("git commit -q --allow-empty -m 'without one'");
    codex.stop();

    let trailers =
        |rev: &str| w.git(&repo, &["log", "-1", "--format=%(trailers:key=Assisted-by,valueonly)", rev]);
    assert_eq!(trailers("HEAD~1"), "claude-code:claude-sonnet-4-5");
    assert_eq!(trailers("HEAD"), "codex");
    assert!(crate::support::checkpoint_of(&w, &repo, "HEAD").is_some(), "ours is still there");

    std::fs::remove_file(&settings).unwrap();
    let codex = w.agent(&repo, "codex");
    codex.ok("git commit -q --allow-empty -m 'default'");
    codex.stop();
    assert_eq!(trailers("HEAD"), "", "off by default");
}
