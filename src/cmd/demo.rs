//! `entire demo`: two agents commit in one repository at the same time, and
//! each commit goes to the session that made it, where picking "the" live
//! session would give them all to one. Its output fits 80 columns.
//!
//! Self-contained: a temp repository, a temp state dir, and a scripted
//! agent (a shell script that edits and commits). No network, no real agent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli::DemoArgs;
use crate::error::{Context, Error, Result};
use crate::git::checked;
use crate::session::{SESSION_ENV, SessionRecord, Store};
use crate::style;

/// Each agent waits until both are live, then commits in turn with the
/// other. Agent "beta" runs git without ENTIRE_SESSION_ID, as Codex does
/// with `shell_environment_policy.inherit = "core"`, so its commits are
/// found by walking the process tree instead.
const AGENT: &str = r#"#!/bin/sh
set -eu
name=$1 other=$2 rounds=$3
echo "$ENTIRE_SESSION_ID" > "../$name.session"
touch "../$name.ready"
while [ ! -e "../$other.ready" ]; do sleep 0.01; done
i=1
while [ "$i" -le "$rounds" ]; do
    # Take turns so that both sessions stay live across every commit.
    while [ "$(cat ../turn)" != "$name" ]; do sleep 0.01; done
    echo "$name change $i" >> "$name.txt"
    git add "$name.txt"
    if [ "$name" = beta ]; then
        env -u ENTIRE_SESSION_ID git commit -q -m "$name: change $i"
    else
        git commit -q -m "$name: change $i"
    fi
    echo "$other" > ../turn
    i=$((i + 1))
done
"#;

const ROUNDS: usize = 3;

pub fn run(args: DemoArgs) -> Result<i32> {
    let tmp = tempfile::Builder::new().prefix("entire-demo-").tempdir().context("creating a temp dir")?;
    let root = tmp.path().canonicalize()?;
    let mut out = std::io::stdout().lock();
    // Whatever happens (a reader that closed the pipe included), the temp
    // dir goes when `tmp` drops, unless it is to be kept.
    let result = demo(&root, &mut out);
    if args.keep {
        let kept = tmp.keep();
        writeln!(out, "\nKept the demo in {}", kept.display())?;
    }
    result
}

fn demo(root: &Path, out: &mut impl Write) -> Result<i32> {
    let exe = std::env::current_exe().context("finding the entire binary")?;
    let repo_dir = root.join("repo");
    let state = root.join("state");
    std::fs::create_dir_all(&repo_dir)?;
    let sh = |cmd: &mut Command| -> Result<Vec<u8>> {
        checked(cmd.current_dir(&repo_dir).env("ENTIRE_STATE_DIR", &state).env_remove(SESSION_ENV))
    };
    let git = |args: &[&str]| sh(Command::new("git").args(args));

    writeln!(out, "entire demo: two agents commit in one repository at the same time\n")?;
    git(&["init", "-q", "-b", "main"])?;
    git(&["config", "user.name", "Demo User"])?;
    git(&["config", "user.email", "demo@example.com"])?;
    git(&["commit", "-q", "--allow-empty", "-m", "initial"])?;
    sh(Command::new(&exe).arg("enable"))?;
    std::fs::write(root.join("agent.sh"), AGENT)?;
    std::fs::write(root.join("turn"), "alpha")?;
    writeln!(out, "repository  {}", repo_dir.display())?;
    let agents = ["alpha", "beta"];
    let mut children = Vec::new();
    for (name, other) in [(agents[0], agents[1]), (agents[1], agents[0])] {
        let child = Command::new(&exe)
            .args(["run", "--agent", name, "--", "sh", "../agent.sh", name, other, &ROUNDS.to_string()])
            .current_dir(&repo_dir)
            .env("ENTIRE_STATE_DIR", &state)
            .env_remove(SESSION_ENV)
            .stdin(Stdio::null())
            .spawn()
            .context("starting `entire run`")?;
        children.push(child);
    }
    for mut child in children {
        let status = child.wait()?;
        if !status.success() {
            return Err(Error::internal(format!("a demo agent failed: {status}")));
        }
    }

    let session_of = |name: &str| -> Result<String> {
        Ok(std::fs::read_to_string(root.join(format!("{name}.session")))?.trim().to_owned())
    };
    let (alpha, beta) = (session_of("alpha")?, session_of("beta")?);
    writeln!(out, "alpha       session {alpha}")?;
    writeln!(out, "            its git commands see ENTIRE_SESSION_ID")?;
    writeln!(out, "beta        session {beta}")?;
    writeln!(out, "            its git commands run without it, as Codex's can\n")?;

    let store = Store::new(
        PathBuf::from(
            String::from_utf8_lossy(&git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])?)
                .trim(),
        )
        .join("entire-sessions"),
    );
    let (records, _) = store.list();
    let log = String::from_utf8_lossy(&git(&["log", "--reverse", "--format=%H %h %s"])?).into_owned();
    let mut table = style::Table::new(&["COMMIT", "SUBJECT", "CHECKPOINT", "SESSION", "BY"]);
    let mut wrong = 0;
    for line in log.lines().skip(1) {
        let mut fields = line.splitn(3, ' ');
        let (sha, short, subject) =
            (fields.next().unwrap_or(""), fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        let made_by = subject.split(':').next().unwrap_or("");
        let expected = if made_by == "alpha" { &alpha } else { &beta };
        let (checkpoint, session, by) = match owner_of(&records, sha) {
            Some((r, c)) => {
                let session = r.session_id.as_str();
                let name = if session == alpha {
                    "alpha"
                } else if session == beta {
                    "beta"
                } else {
                    session
                };
                (c.checkpoint_id.to_string(), name.to_owned(), c.resolved_by.to_string())
            }
            None => ("-".into(), "-".into(), "none".into()),
        };
        let ok = owner_of(&records, sha).is_some_and(|(r, _)| r.session_id.as_str() == expected.as_str());
        wrong += usize::from(!ok);
        let by = if ok { by } else { format!("{by}  WRONG") };
        table.row([short.to_owned(), subject.to_owned(), checkpoint, session, by]);
    }
    table.write(out)?;
    writeln!(out)?;
    if wrong > 0 {
        writeln!(out, "{wrong} commit(s) went to the wrong session.")?;
        return Ok(1);
    }
    writeln!(out, "$ entire explain HEAD")?;
    out.write_all(&sh(Command::new(&exe).args(["explain", "HEAD"]))?)?;
    writeln!(out)?;
    writeln!(out, "Both sessions were live for every commit, and each commit went to the")?;
    writeln!(out, "session that made it: by ENTIRE_SESSION_ID (env) for alpha, by the process")?;
    writeln!(out, "tree (pid) for beta. Picking one live session by some other rule (say, the")?;
    writeln!(out, "first session file found) would have given them all to the same one.")?;
    Ok(0)
}

fn owner_of<'a>(
    records: &'a [SessionRecord],
    sha: &str,
) -> Option<(&'a SessionRecord, &'a crate::session::CheckpointRef)> {
    records.iter().find_map(|r| r.checkpoints.iter().find(|c| c.commit == *sha).map(|c| (r, c)))
}
