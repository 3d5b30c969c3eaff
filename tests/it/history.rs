//! Attribution through rewritten history and unusual messages: squashes,
//! amends, rebase stops, copied trailers, real file names, cleanup modes
//! and encodings (docs/trailers.md, docs/checkpoints.md "Relations").

use std::path::Path;

use serde_json::Value;

use crate::support::{World, checkpoint_of, script, stage_change};

fn explained(world: &World, repo: &Path, rev: &str) -> Value {
    world.json(repo, &["explain", "--commit", rev, "--json"])
}

/// (session_id, relation) of each checkpoint `explain` shows for `rev`.
fn sessions_of(world: &World, repo: &Path, rev: &str) -> Vec<(String, String)> {
    let json = explained(world, repo, rev);
    json["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["session_id"].as_str().unwrap().to_owned(), c["relation"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_squash_of_two_sessions_commits_explains_as_both() {
    let world = World::new();
    let repo = world.repo("r");
    let (a, b) = (world.agent(&repo, "claude-code"), world.agent(&repo, "codex"));
    a.ok(&format!("{} && git commit -q -m 'by a'", stage_change("a")));
    b.ok(&format!("{} && git commit -q -m 'by b'", stage_change("b")));
    // The human squashes them: both trailers stay, in two paragraphs.
    let editor = world.path().join("squash.sh");
    script(&editor, "#!/bin/sh\nsed -i '2s/^pick/squash/' \"$1\"\n");
    let mut rebase = world.cmd("git", &repo);
    rebase
        .args(["rebase", "-q", "-i", "HEAD~2"])
        .env("GIT_SEQUENCE_EDITOR", &editor)
        .env("GIT_EDITOR", "true");
    assert!(rebase.stdout(std::process::Stdio::null()).status().unwrap().success());
    assert_eq!(world.git(&repo, &["rev-list", "--count", "HEAD"]), "2", "squashed");
    let mut got = sessions_of(&world, &repo, "HEAD");
    got.sort();
    let mut want =
        vec![(a.session_id.clone(), "rewritten".into()), (b.session_id.clone(), "rewritten".into())];
    want.sort();
    assert_eq!(got, want);
    assert!(a.stop().success() && b.stop().success());
}

#[test]
fn amend_with_a_new_message_keeps_the_checkpoint() {
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    agent.ok(&format!("{} && git commit -q -m 'first words'", stage_change("f")));
    let id = checkpoint_of(&world, &repo, "HEAD").expect("a trailer");
    agent.ok("git commit -q --amend -m 'better words'");
    assert_eq!(checkpoint_of(&world, &repo, "HEAD"), Some(id.clone()), "carried into the new message");
    assert_eq!(world.git(&repo, &["log", "-1", "--format=%s"]), "better words");
    assert_eq!(sessions_of(&world, &repo, "HEAD"), [(agent.session_id.clone(), "rewritten".to_owned())]);
    let pending = world.store(&repo).join("pending");
    assert_eq!(std::fs::read_dir(pending).map(|d| d.count()).unwrap_or(0), 0, "no new checkpoint");

    let human = crate::support::stdout(world.entire(&repo).args(["explain", "HEAD"]).output().unwrap());
    assert!(human.contains("relation:    rewritten: written for"), "{human}");
    assert!(agent.stop().success());
}

#[test]
fn a_trailer_copied_onto_an_unrelated_commit_is_not_its_session() {
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    agent.ok(&format!("{} && git commit -q -m 'by the agent'", stage_change("f")));
    let id = checkpoint_of(&world, &repo, "HEAD").unwrap();
    let session = agent.session_id.clone();
    assert!(agent.stop().success());
    std::fs::write(repo.join("other"), "x").unwrap();
    world.git(&repo, &["add", "other"]);
    world.git(&repo, &["commit", "-q", "-m", "by hand", "-m", &format!("Entire-Checkpoint: {id}")]);
    assert_eq!(sessions_of(&world, &repo, "HEAD"), [(session.clone(), "unrelated".to_owned())]);
    let human = crate::support::stdout(world.entire(&repo).args(["explain", "HEAD"]).output().unwrap());
    assert!(human.contains("no checkpoint: no agent session was attributed"), "{human}");
    assert!(human.contains("relation:    unrelated"), "{human}");
    let log = crate::support::stdout(world.entire(&repo).arg("explain").output().unwrap());
    let line = log.lines().find(|l| l.ends_with("by hand")).unwrap();
    assert!(!line.contains(&session), "{log}");
}

#[test]
fn real_file_names_are_recorded() {
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    agent.ok("echo x > 'café déjà.txt' && git add 'café déjà.txt' && git commit -q -m 'accents'");
    let json = explained(&world, &repo, "HEAD");
    assert_eq!(json["checkpoints"][0]["files_changed"], serde_json::json!(["café déjà.txt"]), "{json}");
    assert!(agent.stop().success());
}

#[test]
fn a_commit_made_at_a_rebase_stop_and_the_agents_revert_are_attributed() {
    let world = World::new();
    let repo = world.repo("r");
    world.git(&repo, &["commit", "-q", "--allow-empty", "-m", "to edit"]);
    let agent = world.agent(&repo, "claude-code");
    let editor = world.path().join("edit.sh");
    script(&editor, "#!/bin/sh\nsed -i '1s/^pick/edit/' \"$1\"\n");
    agent.ok(&format!("GIT_SEQUENCE_EDITOR={} git rebase -q -i HEAD~1 2>/dev/null", editor.display()));
    agent.ok(&format!("{} && git commit -q -m 'made at the stop'", stage_change("new")));
    let made = world.git(&repo, &["rev-parse", "HEAD"]);
    agent.ok("git rebase --continue");
    assert_eq!(sessions_of(&world, &repo, &made), [(agent.session_id.clone(), "written".to_owned())]);
    agent.ok("git revert --no-edit HEAD >/dev/null");
    assert_eq!(sessions_of(&world, &repo, "HEAD"), [(agent.session_id.clone(), "written".to_owned())]);
    assert!(agent.stop().success());
}

#[test]
fn verbatim_messages_keep_every_byte_and_gain_the_trailer() {
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    let message = "subject\n\n# kept as written\n  indented\n";
    std::fs::write(world.path().join("msg"), message).unwrap();
    agent.ok(&format!(
        "{} && git commit -q --cleanup=verbatim -F {}",
        stage_change("f"),
        world.path().join("msg").display()
    ));
    let id = checkpoint_of(&world, &repo, "HEAD").expect("a trailer");
    let stored = world.git(&repo, &["cat-file", "commit", "HEAD"]);
    let body = stored.split_once("\n\n").unwrap().1;
    assert_eq!(format!("{body}\n"), format!("{message}\nEntire-Checkpoint: {id}\n"));
    assert!(agent.stop().success());
}

#[test]
fn a_message_in_another_encoding_is_tagged_byte_for_byte() {
    let world = World::new();
    let repo = world.repo("r");
    world.git(&repo, &["config", "i18n.commitEncoding", "ISO-8859-1"]);
    let agent = world.agent(&repo, "claude-code");
    let file = world.path().join("latin1");
    std::fs::write(&file, b"caf\xe9 cr\xe8me\n").unwrap();
    let (rc, out) = agent.exec(&format!("{} && git commit -q -F {}", stage_change("f"), file.display()));
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("entire:"), "{out}");
    let raw = world.cmd("git", &repo).args(["cat-file", "commit", "HEAD"]).output().unwrap().stdout;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("encoding ISO-8859-1"), "{text}");
    assert!(raw.windows(10).any(|w| w == b"caf\xe9 cr\xe8me"), "{text}");
    assert!(text.contains("\n\nEntire-Checkpoint: "), "{text}");
    let id = text.rsplit("Entire-Checkpoint: ").next().unwrap().trim();
    assert_eq!(
        sessions_of(&world, &repo, "HEAD"),
        [(agent.session_id.clone(), "written".to_owned())],
        "{id}"
    );
    assert!(agent.stop().success());
}

#[test]
fn a_malformed_checkpoint_value_does_not_stop_tagging() {
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    agent.ok(&format!("{} && git commit -q -m subject -m 'Entire-Checkpoint: zzz'", stage_change("f")));
    let body = world.git(&repo, &["log", "-1", "--format=%B"]);
    assert!(body.contains("Entire-Checkpoint: zzz"), "left as written: {body}");
    assert_eq!(
        sessions_of(&world, &repo, "HEAD"),
        [(agent.session_id.clone(), "written".to_owned())],
        "{body}"
    );
    assert!(agent.stop().success());
}

/// Hostile messages under every cleanup mode: what git commits with entire
/// is what it commits without, plus one `Entire-Checkpoint` line (and the
/// blank line that starts its block), or the same abort.
#[test]
fn messages_commit_as_without_entire_plus_one_trailer() {
    const MESSAGES: &[&str] = &[
        "#123 fix login\n",
        "subject\n\n# a heading, or a comment\n",
        "subject\n\n---\nbelow a rule\n",
        "subject\n\nSigned-off-by: A <a@b>\n",
        "subject\n\nKey: value\n  folded on\nOther: x\n",
        "Entire-Checkpoint: zzz\n",
        "subject\n\nEntire-Checkpoint: not-an-id\n",
        "  indented subject\n\n\n\ntrailing blanks\n\n\n",
        "subject\r\n\r\nbody\r\n",
        "subject: looks like a trailer\n",
        "subject\n# ------------------------ >8 ------------------------\ncut here\n",
        "\n\n\nsubject after blank lines\n",
        "# only a comment\n",
        "",
    ];
    const MODES: &[&str] =
        &["", "--cleanup=strip", "--cleanup=whitespace", "--cleanup=verbatim", "--cleanup=scissors"];
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    let file = world.path().join("message");
    for mode in MODES {
        for message in MESSAGES {
            // Known gap (docs/trailers.md): under `strip` without `-v`, git
            // keeps what follows a scissors line, where the trailer is put.
            if *mode == "--cleanup=strip" && message.contains(">8") {
                continue;
            }
            std::fs::write(&file, message).unwrap();
            let plain = world
                .cmd("git", &repo)
                .args(["-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-F"])
                .arg(&file)
                .args(Some(mode).filter(|m| !m.is_empty()))
                .output()
                .unwrap();
            let without = plain.status.success().then(|| raw_head(&world, &repo));
            let (rc, out) = agent.exec(&format!("git commit -q --allow-empty -F {} {mode}", file.display()));
            let case = format!("{mode:?} {message:?}");
            let Some(without) = without else {
                assert_ne!(rc, 0, "{case}: git aborts it without entire, and must with entire: {out}");
                continue;
            };
            assert_eq!(rc, 0, "{case}: {out}");
            let with = raw_head(&world, &repo);
            let (body_with, body_without) = (body(&with), body(&without));
            let (_, line) = body_with.trim_end_matches('\n').rsplit_once('\n').unwrap_or(("", body_with));
            let id =
                line.strip_prefix("Entire-Checkpoint: ").unwrap_or_else(|| panic!("{case}: {body_with:?}"));
            let explained = explained(&world, &repo, "HEAD");
            assert_eq!(explained["checkpoints"][0]["checkpoint_id"], id, "{case}");
            // Where git's own trailer rules put it: at the end, or above
            // trailing blank lines (which verbatim keeps).
            let unjoined = body_with.replacen(&format!("{line}\n"), "", 1);
            let unblocked = body_with.replacen(&format!("\n{line}\n"), "", 1);
            assert!(
                unjoined == body_without || unblocked == body_without,
                "{case}:\n{body_with:?}\nvs\n{body_without:?}"
            );
        }
    }
    assert!(agent.stop().success());
}

/// HEAD as git stores it, byte for byte (as text).
fn raw_head(world: &World, repo: &Path) -> String {
    let out = world.cmd("git", repo).args(["cat-file", "commit", "HEAD"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// A raw commit's message.
fn body(raw: &str) -> &str {
    raw.split_once("\n\n").map_or("", |(_, body)| body)
}
