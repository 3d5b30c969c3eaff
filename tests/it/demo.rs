//! `entire demo` is the README's main job: it must run anywhere and show
//! two live sessions each owning their own commits, in 80 columns. Its
//! exact text is pinned in output.rs.

use crate::support::{World, stdout};

#[test]
fn demo_attributes_every_commit_to_its_own_session() {
    let w = World::new();
    let out = stdout(w.entire(w.path()).arg("demo").output().unwrap());
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.len() == 7 && cells[1].ends_with(':'))
        .collect();
    assert_eq!(rows.len(), 6, "{out}");
    for row in &rows {
        let by = if row[1] == "alpha:" { "env" } else { "pid" };
        assert_eq!((row[5], row[6]), (row[1].trim_end_matches(':'), by), "{out}");
    }
    assert!(!out.contains("WRONG"), "{out}");
    assert!(out.contains("checkpoint "), "explain output shown: {out}");
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line:?}");
    }
}
