//! Trailer insertion compared with `git interpret-trailers` itself: hand
//! written cases, then generated messages. `--no-divider` on git's side, as
//! `git commit --trailer` runs it (see src/git/trailers.rs).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use entire::git::trailers::{CHECKPOINT_KEY, CommentChar, insert, strip_if_only, values};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{World, exact_stdout, script};

const VALUE: &str = "0123456789ab";

/// An isolated world, where git runs outside any repository, and a
/// repository with a staged change for the cases that need `git commit`.
struct Sandbox {
    world: World,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { world: World::new() }
    }

    /// `git -c core.commentChar=<comment> <args>…` outside any repository.
    fn git(&self, comment: &str, args: &[&str]) -> Command {
        let mut cmd = self.world.cmd("git", self.world.path());
        cmd.args(["-c", &format!("core.commentChar={comment}")]).args(args);
        cmd
    }

    fn write(&self, message: &str) -> PathBuf {
        let file = self.world.path().join("message");
        fs::write(&file, message).unwrap();
        file
    }

    /// What git makes of `message` when adding our trailer.
    fn interpret(&self, comment: &str, message: &str, value: &str) -> String {
        let file = self.write(message);
        let trailer = format!("{CHECKPOINT_KEY}: {value}");
        let args = ["interpret-trailers", "--no-divider", "--trailer", &trailer, file.to_str().unwrap()];
        exact_stdout(self.git(comment, &args).output().unwrap())
    }

    /// What `insert` must give: git's answer, below a free first line when
    /// the message has nothing in it yet. Git takes a message without a
    /// final newline as if it had one, except git 2.39, which appends
    /// the trailer to that last line (in the subject's paragraph, where no
    /// git reads it back): the answer is the one for the message with the
    /// newline.
    fn expected(&self, comment: &str, message: &str, value: &str) -> String {
        let terminated = if message.is_empty() || message.ends_with('\n') {
            message.to_owned()
        } else {
            format!("{message}\n")
        };
        let interpreted = self.interpret(comment, &terminated, value);
        if self.cleaned_up(comment, message).is_empty() { format!("\n{interpreted}") } else { interpreted }
    }

    /// Our trailer's values as `git interpret-trailers --parse` lists them.
    fn parsed_values(&self, comment: &str, message: &str) -> Vec<String> {
        let file = self.write(message);
        let args = ["interpret-trailers", "--parse", "--no-divider", file.to_str().unwrap()];
        exact_stdout(self.git(comment, &args).output().unwrap())
            .lines()
            .filter_map(|line| line.split_once(": "))
            .filter(|(key, _)| key.eq_ignore_ascii_case(CHECKPOINT_KEY))
            .map(|(_, value)| value.to_owned())
            .collect()
    }

    /// Whether git lists `value` (in any case) among the message's trailers,
    /// under our key or a prefix of it (which git's `--trailer` takes as ours).
    fn reads_back(&self, comment: &str, message: &str, value: &str) -> bool {
        let file = self.write(message);
        let args = ["interpret-trailers", "--parse", "--no-divider", file.to_str().unwrap()];
        exact_stdout(self.git(comment, &args).output().unwrap()).lines().any(|line| {
            line.split_once(": ").is_some_and(|(key, v)| {
                CHECKPOINT_KEY.to_ascii_lowercase().starts_with(&key.to_ascii_lowercase())
                    && v.eq_ignore_ascii_case(value)
            })
        })
    }

    /// The message `git commit` keeps of `message`: above the scissors
    /// line, without comments and surplus blank lines.
    fn cleaned_up(&self, comment: &str, message: &str) -> String {
        let scissors = format!("{comment} ------------------------ >8 ------------------------\n");
        let above = if message.starts_with(&scissors) {
            ""
        } else {
            message.split(&format!("\n{scissors}")).next().unwrap()
        };
        let file = fs::File::open(self.write(above)).unwrap();
        exact_stdout(self.git(comment, &["stripspace", "--strip-comments"]).stdin(file).output().unwrap())
    }

    /// Whether `git commit` would abort `message` as empty: sign-offs alone
    /// count as nothing.
    fn aborts(&self, comment: &str, message: &str) -> bool {
        self.cleaned_up(comment, message).lines().all(|line| line.starts_with("Signed-off-by: "))
    }

    /// The file `git commit -v -m <message>` hands to prepare-commit-msg
    /// under `core.commentChar=auto`, and the comment character git chose.
    fn auto_template(&self, message: &str) -> (String, String) {
        let repo = self.world.path().join("repos/auto");
        let template = self.world.path().join("template");
        if !repo.exists() {
            self.world.plain_repo("auto");
            fs::write(repo.join("file"), "a\nb\n").unwrap();
            self.world.git(&repo, &["add", "file"]);
            // The hook keeps a copy, then fails so that nothing is committed.
            let hook = format!("#!/bin/sh\ncp \"$1\" '{}'\nexit 1\n", template.display());
            script(&repo.join(".git/hooks/prepare-commit-msg"), &hook);
        }
        let _ = fs::remove_file(&template);
        let out = self
            .world
            .cmd("git", &repo)
            .args(["-c", "core.commentChar=auto", "commit", "-q", "-v", "-e", "-m", message])
            .env("GIT_EDITOR", "false")
            .output()
            .unwrap();
        let file = fs::read_to_string(&template)
            .unwrap_or_else(|_| panic!("no template: {}", String::from_utf8_lossy(&out.stderr)));
        let chosen = file
            .lines()
            .find_map(|line| {
                line.strip_suffix(" Please enter the commit message for your changes. Lines starting")
            })
            .expect("git's template")
            .to_owned();
        (file, chosen)
    }
}

fn checkpoint(value: &str) -> String {
    format!("{CHECKPOINT_KEY}: {value}\n")
}

const TEMPLATE: &str = "\n# Please enter the commit message for your changes. Lines starting\n\
                        # with '#' will be ignored, and an empty message aborts the commit.\n#\n\
                        # On branch main\n# Changes to be committed:\n#\tmodified:   src/a.rs\n#\n";

const SCISSORS: &str = "# ------------------------ >8 ------------------------\n\
                        # Do not modify or remove the line above.\n\
                        # Everything below it will be ignored.\n\
                        diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n";

#[test]
fn insert_matches_git_on_hand_written_cases() {
    let subject_then_template = format!("Fix the parser\n{TEMPLATE}");
    let body_then_scissors = format!("Fix\n\nBody.\n\n{SCISSORS}");
    let only_scissors = format!("\n{SCISSORS}");
    let semicolon_template = "Fix #12\n\n#hashtag in the body\n\n; Please enter the commit message.\n;\n";
    let same_last = format!("Fix\n\n{}", checkpoint(VALUE));
    let same_upper = format!("Fix\n\n{}", checkpoint(&VALUE.to_uppercase()));
    let different = format!("Fix\n\n{}", checkpoint("fedcba987654"));
    let scissors_first = "# ------------------------ >8 ------------------------\nFix\n";
    let prefix_token = format!("Fix\n\nEntire: {VALUE}\n");
    let same_not_last = format!("Fix\n\n{}Signed-off-by: A <a@example.com>\n", checkpoint(VALUE));
    let hash = CommentChar::default();
    let semicolon = CommentChar::Str(";".into());
    let percent = CommentChar::Str("%".into());
    // (what, message, our comment setting, the comment character git uses)
    let cases: Vec<(&str, &str, &CommentChar, &str)> = vec![
        ("empty message", "", &hash, "#"),
        ("subject only", "Fix the parser\n", &hash, "#"),
        ("subject without a newline", "Fix the parser", &hash, "#"),
        ("subject that looks like a trailer", "Fixes: the parser\n", &hash, "#"),
        ("subject and body", "Fix\n\nThe body explains why.\n", &hash, "#"),
        ("Signed-off-by block", "Fix\n\nBody.\n\nSigned-off-by: A <a@example.com>\n", &hash, "#"),
        ("Co-authored-by block", "Fix\n\nBody.\n\nCo-authored-by: B <b@example.com>\n", &hash, "#"),
        ("blank-separated token", "Fix\n\nReviewed-by : C\nAcked-by:D\n", &hash, "#"),
        (
            "git trailer lets a non-trailer line in",
            "Fix\n\nSigned-off-by: A\nnot a trailer\nKey: v\n",
            &hash,
            "#",
        ),
        ("25% rule: exactly a quarter", "Fix\n\nSigned-off-by: A\none\ntwo\nthree\n", &hash, "#"),
        ("25% rule: too many other lines", "Fix\n\nSigned-off-by: A\none\ntwo\nthree\nfour\n", &hash, "#"),
        ("a non-trailer line without a git trailer", "Fix\n\nKey: v\nprose\n", &hash, "#"),
        (
            "cherry-pick line joins the paragraph",
            "Fix\n\nBody\n(cherry picked from commit abc)\n",
            &hash,
            "#",
        ),
        ("continuation lines", "Fix\n\nKey: first\n  second\n\tthird\nOther: x\n", &hash, "#"),
        ("indented lines under a comment continue nothing", "Fix\n\nKey: v\n# c\n  indented\n", &hash, "#"),
        (
            "indented line under a comment in a block",
            "Fix\n\nSigned-off-by: A\n# c\n  indented\n",
            &hash,
            "#",
        ),
        ("comment inside the block is dropped", "Fix\n\nA: 1\n# note\nB: 2\n", &hash, "#"),
        ("editor template", &subject_then_template, &hash, "#"),
        ("empty editor template", TEMPLATE, &hash, "#"),
        ("message starting with comments", "# c1\n# c2\n", &hash, "#"),
        ("comment char ;", semicolon_template, &semicolon, ";"),
        ("comment char % leaves # lines alone", "Fix\n\n# not a comment\n% comment\n", &percent, "%"),
        ("scissors line", &body_then_scissors, &hash, "#"),
        ("scissors and nothing else", &only_scissors, &hash, "#"),
        ("CRLF", "Fix\r\n\r\nBody.\r\n\r\nSigned-off-by: A\r\n", &hash, "#"),
        ("CRLF subject only", "Fix\r\n", &hash, "#"),
        ("trailing blank lines", "Fix\n\nBody.\n\n\n\n", &hash, "#"),
        ("trailing whitespace-only lines", "Fix\n\nKey: v\n  \n\t\n", &hash, "#"),
        ("--- line is text", "Fix\n\nBody.\n---\nMore.\n", &hash, "#"),
        ("--- after trailers", "Fix\n\nSigned-off-by: A\n---\n", &hash, "#"),
        ("old Conflicts: block", "Merge branch 'x'\n\nConflicts:\n\tsrc/a.rs\n", &hash, "#"),
        ("same checkpoint, last", &same_last, &hash, "#"),
        ("same checkpoint, other case", &same_upper, &hash, "#"),
        ("different checkpoint", &different, &hash, "#"),
        ("same checkpoint, not last", &same_not_last, &hash, "#"),
        ("token prefix counts as the same key", &prefix_token, &hash, "#"),
        ("auto without #", "Fix\n\nBody.\n", &CommentChar::Auto, "#"),
        ("auto with a # line", "Fix #12\n\n#hashtag\n", &CommentChar::Auto, ";"),
        ("auto with # first", scissors_first, &CommentChar::Auto, ";"),
    ];
    let sandbox = Sandbox::new();
    for (what, message, ours, theirs) in cases {
        let inserted = insert(message, CHECKPOINT_KEY, VALUE, ours);
        assert_eq!(inserted, sandbox.expected(theirs, message, VALUE), "{what}: {message:?}");
        assert!(sandbox.reads_back(theirs, &inserted, VALUE), "{what}: git does not read {inserted:?}");
    }
}

#[test]
fn auto_finds_the_character_git_commit_chose() {
    let sandbox = Sandbox::new();
    let own_scissors = "# ------------------------ >8 ------------------------\n#";
    for (message, expected) in [
        ("Fix\n\nBody.", "#"),
        ("Fix #12\n\n#hashtag", ";"),
        ("#1\n\n;x\n@y", "!"),
        ("Fix\n\nKey: v", "#"),
        (own_scissors, ";"),
    ] {
        let (template, chosen) = sandbox.auto_template(message);
        assert_eq!(chosen, expected, "{message:?}");
        assert_eq!(
            insert(&template, CHECKPOINT_KEY, VALUE, &CommentChar::Auto),
            sandbox.expected(&chosen, &template, VALUE),
            "{template:?}"
        );
    }
}

#[test]
fn values_lists_every_checkpoint_of_the_block() {
    let sandbox = Sandbox::new();
    let squashed =
        "Squash\n\nEntire-Checkpoint: 111111111111\nSigned-off-by: A\nentire-checkpoint:222222222222\n";
    let cases: [(&str, &[&str]); 6] = [
        (squashed, &["111111111111", "222222222222"]),
        ("Fix\n\nEntire-Checkpoint: 0123456789ab\n---\nmore\n", &[]),
        ("Fix\n\nEntire-Checkpoint: 0123456789ab\n\nBody after.\n", &[]),
        ("Entire-Checkpoint: 0123456789ab\n", &[]), // the subject is no trailer
        ("Fix\n\nEntire-Checkpoint: 0123\n  456789ab\n# comment\n", &["0123 456789ab"]),
        ("Fix\n\nEntire-Checkpoints: 0123456789ab\n", &[]),
    ];
    for (message, expected) in cases {
        assert_eq!(values(message, CHECKPOINT_KEY), expected, "{message:?}");
        assert_eq!(sandbox.parsed_values("#", message), expected, "git disagrees on {message:?}");
    }
}

#[test]
fn strip_if_only_leaves_git_an_empty_message() {
    let sandbox = Sandbox::new();
    let trailer = checkpoint(VALUE);
    let hash = CommentChar::default();
    let semicolon = CommentChar::Str(";".into());
    // (message, comment setting, git's comment character, stripped message)
    let only = format!("\n{trailer}{TEMPLATE}");
    let lower = "entire-checkpoint: 0123456789ab\n\n# c\n";
    let twice = format!("{trailer}\n{trailer}");
    let signed = format!("Signed-off-by: A <a@example.com>\n{trailer}{TEMPLATE}");
    let scissors = format!("{trailer}\n{SCISSORS}");
    let semi = format!("\n{trailer}; Please enter the commit message.\n;\n");
    let with_subject = format!("Fix\n\n{trailer}{TEMPLATE}");
    let hash_comment_under_semicolon = format!("{trailer}# not a comment\n");
    let written_by_hand = format!("{}\n{trailer}", checkpoint("zzz"));
    let cases: Vec<(&str, &CommentChar, &str, Option<String>)> = vec![
        (&only, &hash, "#", Some(format!("\n{TEMPLATE}"))),
        (lower, &hash, "#", Some("\n# c\n".into())),
        (&twice, &hash, "#", Some("\n".into())),
        (&signed, &hash, "#", Some(format!("Signed-off-by: A <a@example.com>\n{TEMPLATE}"))),
        (&scissors, &hash, "#", Some(format!("\n{SCISSORS}"))),
        (&semi, &semicolon, ";", Some("\n; Please enter the commit message.\n;\n".into())),
        (&semi, &CommentChar::Auto, ";", Some("\n; Please enter the commit message.\n;\n".into())),
        (&with_subject, &hash, "#", None),
        (&hash_comment_under_semicolon, &semicolon, ";", None),
        (TEMPLATE, &hash, "#", None), // no trailer: nothing to do
        (&written_by_hand, &hash, "#", None),
    ];
    for (message, ours, theirs, expected) in cases {
        let stripped = strip_if_only(message, CHECKPOINT_KEY, ours, |value| value.len() == 12);
        assert_eq!(stripped, expected, "{message:?}");
        if let Some(stripped) = stripped {
            assert!(!sandbox.aborts(theirs, message), "git would abort anyway: {message:?}");
            assert!(sandbox.aborts(theirs, &stripped), "git would commit {stripped:?}");
        }
    }
}

/// The comment settings the generator tries; auto goes through a real
/// `git commit` template.
#[derive(Clone, Copy, Debug)]
enum Comment {
    Char(&'static str),
    Auto,
}

fn line() -> impl Strategy<Value = String> {
    const TRAILERS: &[&str] = &[
        "Signed-off-by: A U Thor <a@example.com>",
        "Co-authored-by: B <b@example.com>",
        "Reviewed-by : C",
        "Key:value",
        "Entire: 0123456789ab",
        "entire-checkpoint: 0123456789AB",
        "Entire-Checkpoint: 0123456789ab",
        "Entire-Checkpoint: fedcba987654",
        "(cherry picked from commit 1234abcd)",
        "Bug #43: not a trailer",
        ":no token",
        "-: dash token",
        "Trailing: blanks  ",
        "Empty:",
        "Tabbed\t: value",
        "Ünicode: not a token",
        "Key: välue",
    ];
    prop_oneof![
        3 => "[A-Z][a-z]{0,6}( [a-z]{1,6}){0,3}",
        3 => prop::sample::select(TRAILERS).prop_map(str::to_owned),
        1 => "[ \t][a-z]{1,6}",
        2 => (prop::sample::select(&["#", ";", "%", "@", "!"][..]), "( [a-z]{0,6}|\t[a-z]{1,3}|[a-z]{1,4})?")
            .prop_map(|(c, text)| format!("{c}{text}")),
        3 => prop::sample::select(&["", "", " ", "\t"][..]).prop_map(str::to_owned),
        1 => prop::sample::select(&["#", ";", "%"][..])
            .prop_map(|c| format!("{c} ------------------------ >8 ------------------------")),
        1 => prop::sample::select(&["---", "--- a/file", "----", "Conflicts:", "\tsrc/a.rs"][..])
            .prop_map(str::to_owned),
    ]
}

/// Messages built from lines, some ending in CRLF, the last newline optional.
fn message() -> impl Strategy<Value = String> {
    (prop::collection::vec((line(), prop::bool::weighted(0.15)), 0..14), any::<bool>()).prop_map(
        |(lines, final_newline)| {
            let mut text: String = lines
                .into_iter()
                .map(|(line, crlf)| format!("{line}{}", if crlf { "\r\n" } else { "\n" }))
                .collect();
            if !final_newline {
                text.pop();
            }
            text
        },
    )
}

fn comment() -> impl Strategy<Value = Comment> {
    prop_oneof![
        Just(Comment::Char("#")),
        Just(Comment::Char(";")),
        Just(Comment::Char("%")),
        Just(Comment::Auto)
    ]
}

#[test]
fn insert_and_values_match_git_on_generated_messages() {
    let sandbox = Sandbox::new();
    let values_of_interest = prop::sample::select(&["0123456789ab", "0123456789AB", "fedcba987654"][..]);
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    runner
        .run(&(message(), comment(), values_of_interest), |(message, comment, value)| {
            let (message, ours, theirs) = match comment {
                Comment::Char(c) => (message, CommentChar::Str(c.into()), c.to_owned()),
                Comment::Auto => {
                    let (template, chosen) = sandbox.auto_template(&message);
                    (template, CommentChar::Auto, chosen)
                }
            };
            let inserted = insert(&message, CHECKPOINT_KEY, value, &ours);
            prop_assert_eq!(
                &inserted,
                &sandbox.expected(&theirs, &message, value),
                "message {:?}, comment {:?}",
                message,
                comment
            );
            prop_assert!(sandbox.reads_back(&theirs, &inserted, value), "git does not read {:?}", inserted);
            prop_assert_eq!(values(&message, CHECKPOINT_KEY), sandbox.parsed_values("#", &message));
            Ok(())
        })
        .unwrap();
}
