use super::*;

#[test]
fn no_candidates_no_owner() {
    let res = resolve(&Inputs {
        env: None,
        ancestry: &[],
        candidates: &[],
        worktree: "/w",
        staged: None,
        recency: true,
    });
    assert_eq!(res.owner, None);
}
