//! `scripts/bench --quick` against the binary under test, so that the
//! benchmark cannot rot: it must run to the end (it checks on its own that
//! every measured commit was attributed as intended) and print every row.
//! No timing is asserted: this machine's timings say nothing here.

use std::path::Path;

use crate::support::{World, entire_bin, stdout};

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench")
}

#[test]
#[ignore = "needs shellcheck: run scripts/test"]
fn the_benchmark_script_passes_shellcheck() {
    let world = World::new();
    stdout(world.cmd("shellcheck", world.path()).arg(script()).output().expect("run shellcheck"));
}

#[test]
fn the_quick_benchmark_runs_and_prints_every_row() {
    let world = World::new();
    let script = script();
    let out = world
        .cmd(&script, world.path())
        .env("TMPDIR", world.path())
        .args(["--quick", "--bin"])
        .arg(entire_bin())
        .output()
        .unwrap();
    let table = stdout(out);
    // `run`'s floor, measured where GNU time is installed.
    let launcher = ["C launcher (GNU time) -- true  vs  true", "run minus the C launcher"];
    let with_time = std::path::Path::new("/usr/bin/time").exists().then_some(launcher).into_iter().flatten();
    for row in [
        "run -- true  vs  true",
        "entire --version  vs  true",
        "commit, env path, 10 sessions",
        "commit, env path, 100 sessions",
        "commit, env path, 1000 sessions",
        "commit, pid path, 10 sessions",
        "commit, pid path, 100 sessions",
        "commit, pid path, 1000 sessions",
        "commit, stripped env, 10 sessions",
        "commit, stripped env, 1000 sessions",
        "commit, three links to true (floor)",
        "back to back: floor (links to true)",
        "back to back: commit under a session",
        "commit, three sh scripts running true",
        "commit outside any session",
        "prepare-commit-msg  vs  true",
        "post-commit: checkpoint  vs  none",
        "  until it is on the branch  vs  none",
        "redact a 50 MB transcript  vs  cat",
        "12 worktrees x 10 back to back (wall)",
        "  until every checkpoint is written",
        "back to back minus its floor",
        "stripped env, 1000 sessions minus floor",
        "env path commit: 1000 sessions / 10",
        "writer CPU per checkpoint (ms)",
        "12x10 burst: hooks on / off",
        "  dangling objects / checkpoints",
        // Labels that carry the quick run's sizes.
        "5-commit session: objects / transcript",
        "checkpoint of a 1 MB transcript (ms)",
        "launcher VmRSS (MB)  vs  sleep",
    ]
    .into_iter()
    .chain(with_time)
    {
        let line =
            table.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no {row:?} in:\n{table}"));
        assert!(
            line[row.len()..].trim_start().starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-'),
            "{line}"
        );
    }
}
