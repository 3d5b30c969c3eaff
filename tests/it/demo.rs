//! `entire demo` is the README's main job: it must run anywhere and show
//! two live sessions each owning their own commits.

use crate::support::{World, stdout};

#[test]
fn demo_attributes_every_commit_to_its_own_session() {
    let w = World::new();
    let out = stdout(w.entire(w.path()).arg("demo").output().unwrap());
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.len() > 40 && l.as_bytes()[..40].iter().all(u8::is_ascii_hexdigit))
        .collect();
    assert_eq!(rows.len(), 6, "{out}");
    assert_eq!(rows.iter().filter(|r| r.ends_with(" env")).count(), 3, "{out}");
    assert_eq!(rows.iter().filter(|r| r.ends_with(" pid")).count(), 3, "{out}");
    assert!(!out.contains("WRONG"), "{out}");
    assert!(out.contains("checkpoint "), "explain output shown: {out}");
}
