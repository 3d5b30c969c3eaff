//! Every branch of the resolver (docs/spec.md §5), plus a property: the order in
//! which candidates are listed never changes the owner.

use std::os::unix::ffi::OsStrExt;

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

const WORKTREE: &str = "/src/repo";

fn proc(pid: i32, start_time: u64) -> ProcId {
    ProcId { pid, start_time }
}

/// A moment `secs` into the test's day.
fn at(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(1_750_000_000 + secs, 0).single()
}

fn sid(id: &str) -> SessionId {
    SessionId::parse(id).unwrap()
}

fn live(id: &str) -> Candidate {
    Candidate {
        session_id: sid(id),
        launcher: None,
        agent: None,
        live: true,
        worktree_path: Some(WORKTREE.into()),
        last_interaction_time: None,
        started_at: None,
        files_touched: Vec::new(),
        found_in: FoundIn::Store,
    }
}

/// Resolution with no environment, no staged files and recency on.
fn inputs<'a>(ancestry: &'a [ProcId], candidates: &'a [Candidate]) -> Inputs<'a> {
    Inputs { env: None, ancestry, candidates, worktree: WORKTREE, staged: None, recency: true }
}

fn owner(inputs: &Inputs) -> Option<(String, ResolvedBy, Option<usize>)> {
    resolve(inputs).owner.map(|o| (o.session_id.to_string(), o.method, o.depth))
}

fn by(id: &str, method: ResolvedBy, depth: Option<usize>) -> Option<(String, ResolvedBy, Option<usize>)> {
    Some((id.into(), method, depth))
}

/// The hook's ancestors: its shell at depth 1, the agent at 2, the
/// launcher at 3, the user's shell at 4.
const ANCESTRY: [ProcId; 4] = [
    ProcId { pid: 40, start_time: 4 },
    ProcId { pid: 30, start_time: 3 },
    ProcId { pid: 20, start_time: 2 },
    ProcId { pid: 10, start_time: 1 },
];

/// `a` is the agent at depth 2 of `ANCESTRY`; `b` runs elsewhere.
fn two_sessions() -> Vec<Candidate> {
    vec![
        Candidate { agent: Some(ANCESTRY[1]), launcher: Some(ANCESTRY[2]), ..live("a") },
        Candidate { agent: Some(proc(99, 9)), last_interaction_time: at(100), ..live("b") },
    ]
}

#[test]
fn env_names_the_owner_before_any_pid() {
    let candidates = two_sessions();
    let res = resolve(&Inputs { env: Some(OsStr::new("b")), ..inputs(&ANCESTRY, &candidates) });
    assert_eq!(
        res.owner,
        Some(Owner { session_id: sid("b"), method: ResolvedBy::Env, depth: None, found_in: FoundIn::Store })
    );
    assert_eq!(res.env_rejected, None);
}

#[test]
fn env_set_but_empty_is_ignored_not_rejected() {
    let candidates = two_sessions();
    let res = resolve(&Inputs { env: Some(OsStr::new("")), ..inputs(&ANCESTRY, &candidates) });
    assert_eq!(res.env_rejected, None);
    assert_eq!(res.owner.map(|o| o.session_id), Some(sid("a")));
}

#[test]
fn unusable_env_is_recorded_and_the_pid_walk_runs() {
    let mut candidates = two_sessions();
    candidates.push(Candidate { live: false, ..live("gone") });
    let cases: [(&OsStr, EnvRejected); 5] = [
        (OsStr::new("../../etc"), EnvRejected::Malformed),
        (OsStr::from_bytes(b"b\xff"), EnvRejected::Malformed),
        (OsStr::new("b c"), EnvRejected::Malformed),
        (OsStr::new("unknown-session"), EnvRejected::Unknown),
        (OsStr::new("gone"), EnvRejected::Ended),
    ];
    for (env, rejected) in cases {
        let res = resolve(&Inputs { env: Some(env), ..inputs(&ANCESTRY, &candidates) });
        assert_eq!(res.env_rejected, Some(rejected), "{env:?}");
        assert_eq!(
            res.owner,
            Some(Owner {
                session_id: sid("a"),
                method: ResolvedBy::Pid,
                depth: Some(2),
                found_in: FoundIn::Store
            }),
            "{env:?}"
        );
    }
}

#[test]
fn unusable_env_falls_through_to_recency() {
    let candidates = [live("only")];
    let res = resolve(&Inputs { env: Some(OsStr::new("other")), ..inputs(&ANCESTRY, &candidates) });
    assert_eq!(res.env_rejected, Some(EnvRejected::Unknown));
    assert_eq!(res.owner.map(|o| (o.session_id, o.method)), Some((sid("only"), ResolvedBy::Recent)));
}

#[test]
fn pid_matches_the_launcher_or_the_agent_at_its_depth() {
    let on_launcher = [Candidate { launcher: Some(ANCESTRY[2]), ..live("s") }];
    assert_eq!(owner(&inputs(&ANCESTRY, &on_launcher)), by("s", ResolvedBy::Pid, Some(3)));
    let on_agent = [Candidate { launcher: Some(proc(7, 7)), agent: Some(ANCESTRY[0]), ..live("s") }];
    assert_eq!(owner(&inputs(&ANCESTRY, &on_agent)), by("s", ResolvedBy::Pid, Some(1)));
}

#[test]
fn nearest_ancestor_wins() {
    // `far` is more recent, and its ID greater: neither matters.
    let candidates = [
        Candidate { launcher: Some(ANCESTRY[3]), last_interaction_time: at(500), ..live("z-far") },
        Candidate { agent: Some(ANCESTRY[1]), last_interaction_time: at(1), ..live("a-near") },
    ];
    assert_eq!(owner(&inputs(&ANCESTRY, &candidates)), by("a-near", ResolvedBy::Pid, Some(2)));
}

#[test]
fn same_pid_with_another_start_time_never_matches() {
    // The recorded agent died and its PID was reused by the hook's shell.
    let candidates = [Candidate { agent: Some(proc(ANCESTRY[0].pid, 1234)), ..live("s") }];
    let no_recency = Inputs { recency: false, ..inputs(&ANCESTRY, &candidates) };
    assert_eq!(owner(&no_recency), None);
}

#[test]
fn a_dead_session_on_an_ancestor_is_skipped() {
    let candidates = [
        Candidate { agent: Some(ANCESTRY[0]), live: false, ..live("dead") },
        Candidate { launcher: Some(ANCESTRY[3]), ..live("outer") },
    ];
    assert_eq!(owner(&inputs(&ANCESTRY, &candidates)), by("outer", ResolvedBy::Pid, Some(4)));
}

#[test]
fn two_sessions_on_one_process_most_recent_then_greatest_id() {
    let on = |id: &str, seen| Candidate { agent: Some(ANCESTRY[1]), last_interaction_time: seen, ..live(id) };
    let pick = |candidates: &[Candidate]| owner(&inputs(&ANCESTRY, candidates)).map(|(id, ..)| id);
    assert_eq!(pick(&[on("b", at(2)), on("a", at(1))]), Some("b".into()));
    assert_eq!(pick(&[on("a", at(1)), on("b", at(2))]), Some("b".into()));
    assert_eq!(pick(&[on("z", at(1)), on("a", at(2))]), Some("a".into()));
    assert_eq!(pick(&[on("a", at(5)), on("b", at(5))]), Some("b".into()));
    assert_eq!(pick(&[on("b", at(5)), on("a", at(5))]), Some("b".into()));
    // A recorded time beats none; with none at all, the ID decides.
    assert_eq!(pick(&[on("z", None), on("a", at(0))]), Some("a".into()));
    assert_eq!(pick(&[on("a", None), on("b", None)]), Some("b".into()));
}

#[test]
fn the_walk_stops_after_64_ancestors() {
    let ancestry: Vec<ProcId> = (0..70).map(|i| proc(1000 + i, 1)).collect();
    let at_index = |index: usize| [Candidate { launcher: Some(ancestry[index]), ..live("s") }];
    let no_recency =
        |candidates: &[Candidate]| owner(&Inputs { recency: false, ..inputs(&ancestry, candidates) });
    assert_eq!(no_recency(&at_index(63)), by("s", ResolvedBy::Pid, Some(64)));
    assert_eq!(no_recency(&at_index(64)), None);
}

#[test]
fn sessions_without_recorded_pids_match_no_ancestor() {
    // What the stores turn records with zero or missing PIDs into.
    let candidates = [
        Candidate {
            launcher: ProcId::from_parts(Some(0), Some(0)),
            agent: ProcId::from_parts(Some(0), Some(0)),
            ..live("zeros")
        },
        Candidate {
            launcher: ProcId::from_parts(None, None),
            agent: ProcId::from_parts(None, Some(3)),
            ..live("none")
        },
    ];
    let ancestry = [proc(0, 0), ANCESTRY[0]];
    let res = resolve(&Inputs { recency: false, ..inputs(&ancestry, &candidates) });
    assert_eq!(res.owner, None);
    assert_eq!(res.trace.last().map(String::as_str), Some("no owner: the commit is not attributed"));
}

#[test]
fn recency_picks_the_latest_live_session_of_this_worktree() {
    let candidates = [
        Candidate { last_interaction_time: at(10), ..live("older") },
        Candidate {
            last_interaction_time: at(30),
            worktree_path: Some("/src/other".into()),
            ..live("elsewhere")
        },
        Candidate { last_interaction_time: at(40), worktree_path: None, ..live("nowhere") },
        Candidate { last_interaction_time: at(50), live: false, ..live("ended") },
        Candidate { last_interaction_time: at(20), ..live("latest") },
    ];
    assert_eq!(owner(&inputs(&ANCESTRY, &candidates)), by("latest", ResolvedBy::Recent, None));
    assert_eq!(owner(&Inputs { recency: false, ..inputs(&ANCESTRY, &candidates) }), None);
}

#[test]
fn recency_keeps_sessions_that_touched_a_staged_file() {
    let touched = |id: &str, seen, files: &[&str]| Candidate {
        last_interaction_time: at(seen),
        files_touched: files.iter().map(|f| f.to_string()).collect(),
        ..live(id)
    };
    let candidates = [
        touched("b-only", 30, &["b.rs"]),
        touched("a-and-c", 20, &["a.rs", "c.rs"]),
        touched("untracked", 10, &[]),
    ];
    let with_staged = |staged: &[String]| {
        owner(&Inputs { staged: Some(staged), ..inputs(&[], &candidates) }).map(|(id, ..)| id)
    };
    assert_eq!(with_staged(&["a.rs".into()]), Some("a-and-c".into()));
    assert_eq!(with_staged(&["c.rs".into(), "b.rs".into()]), Some("b-only".into()));
    // Nobody touched it: only a session that recorded no files remains.
    assert_eq!(with_staged(&["d.rs".into()]), Some("untracked".into()));
    assert_eq!(owner(&inputs(&[], &candidates)).map(|(id, ..)| id), Some("b-only".into()));
}

#[test]
fn recency_ties_break_on_start_then_id() {
    let session =
        |id: &str, seen, started| Candidate { last_interaction_time: seen, started_at: started, ..live(id) };
    let pick = |candidates: &[Candidate]| owner(&inputs(&[], candidates)).map(|(id, ..)| id);
    assert_eq!(pick(&[session("z", at(5), at(1)), session("a", at(5), at(2))]), Some("a".into()));
    assert_eq!(pick(&[session("a", at(5), at(2)), session("z", at(5), at(1))]), Some("a".into()));
    assert_eq!(pick(&[session("a", at(5), at(2)), session("b", at(5), at(2))]), Some("b".into()));
    assert_eq!(pick(&[session("b", at(5), at(2)), session("a", at(5), at(2))]), Some("b".into()));
    assert_eq!(pick(&[session("z", None, at(9)), session("a", at(0), None)]), Some("a".into()));
    assert_eq!(pick(&[session("z", None, None), session("a", None, at(0))]), Some("a".into()));
    assert_eq!(pick(&[session("a", None, None), session("b", None, None)]), Some("b".into()));
}

#[test]
fn no_candidates_no_owner() {
    let res = resolve(&inputs(&ANCESTRY, &[]));
    assert_eq!(res.owner, None);
    assert_eq!(res.env_rejected, None);
}

/// Few PIDs and start times, so that candidates share processes, PIDs get
/// reused, and timestamps tie.
fn small_proc() -> impl Strategy<Value = ProcId> {
    (2..6, 0..2u64).prop_map(|(pid, start_time)| proc(pid, start_time))
}

fn candidate(index: usize) -> impl Strategy<Value = Candidate> {
    let time = || prop::option::of((0..3i64).prop_map(|s| at(s).unwrap()));
    (
        "[ab]?",
        prop::option::of(small_proc()),
        prop::option::of(small_proc()),
        any::<bool>(),
        prop::sample::select(vec![Some(WORKTREE), Some("/src/other"), None]),
        time(),
        time(),
        prop::sample::subsequence(vec!["a.rs", "b.rs"], 0..=2),
    )
        .prop_map(move |(prefix, launcher, agent, live, worktree, seen, started, files)| Candidate {
            // Unique by the index; the prefix varies how IDs sort.
            session_id: sid(&format!("{prefix}{index}")),
            launcher,
            agent,
            live,
            worktree_path: worktree.map(str::to_owned),
            last_interaction_time: seen,
            started_at: started,
            files_touched: files.into_iter().map(str::to_owned).collect(),
            found_in: FoundIn::RepoIndex,
        })
}

fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    (0..8usize).prop_flat_map(|n| (0..n).map(candidate).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn listing_order_never_changes_the_owner(
        (listed, shuffled) in candidates().prop_flat_map(|c| (Just(c.clone()), Just(c).prop_shuffle())),
        ancestry in prop::collection::vec(small_proc(), 0..6),
        env in prop::option::of(prop::sample::select(vec!["0", "a1", "b2", "3", "unknown", "../x", ""])),
        staged in prop::option::of(prop::sample::subsequence(vec!["a.rs".to_string(), "b.rs".to_string()], 0..=2)),
        recency in any::<bool>(),
    ) {
        let inputs = |candidates| Inputs {
            env: env.map(OsStr::new),
            ancestry: &ancestry,
            candidates,
            worktree: WORKTREE,
            staged: staged.as_deref(),
            recency,
        };
        let (first, second) = (resolve(&inputs(&listed)), resolve(&inputs(&shuffled)));
        prop_assert_eq!(first.owner, second.owner);
        prop_assert_eq!(first.env_rejected, second.env_rejected);
    }
}

#[test]
fn details_record_how_and_where_the_owner_was_found() {
    let mut candidates = two_sessions();
    candidates[0].found_in = FoundIn::AncestorEnviron;
    let res = resolve(&Inputs { env: Some(OsStr::new("nobody")), ..inputs(&ANCESTRY, &candidates) });
    let details = |res: &Verdict| serde_json::to_value(res.details()).unwrap();
    assert_eq!(
        details(&res),
        serde_json::json!({"method": "pid", "depth": 2, "env_rejected": "unknown", "found_in": "ancestor-environ"})
    );
    assert!(
        res.trace.iter().any(|l| l.ends_with("is session a (found in ancestor-environ)")),
        "{:?}",
        res.trace
    );
    let none = resolve(&Inputs { recency: false, ..inputs(&[], &candidates) });
    assert_eq!(details(&none), serde_json::json!({"method": null, "depth": null, "env_rejected": null}));
    candidates[1].found_in = FoundIn::RepoIndex;
    let recent = resolve(&inputs(&[], &candidates));
    assert_eq!(details(&recent)["found_in"], "repo-index");
}

/// Evidence that counts what the resolver asked for.
struct Counting<'a> {
    inputs: Inputs<'a>,
    asked: Vec<&'static str>,
}

impl Evidence for Counting<'_> {
    fn env(&self) -> Option<&OsStr> {
        self.inputs.env
    }
    fn named(&mut self, id: &SessionId) -> Option<Candidate> {
        self.asked.push("named");
        self.inputs.named(id)
    }
    fn ancestry(&mut self) -> Vec<ProcId> {
        self.asked.push("ancestry");
        self.inputs.ancestry()
    }
    fn candidates(&mut self) -> Vec<Candidate> {
        self.asked.push("candidates");
        self.inputs.candidates()
    }
    fn staged(&mut self) -> Option<Vec<String>> {
        self.asked.push("staged");
        self.inputs.staged()
    }
    fn worktree(&self) -> &str {
        self.inputs.worktree
    }
    fn recency(&self) -> bool {
        self.inputs.recency
    }
}

#[test]
fn each_step_reads_only_what_it_needs_in_order() {
    let candidates = two_sessions();
    let staged = ["a.rs".to_string()];
    let asked = |inputs: Inputs| {
        let mut evidence = Counting { inputs, asked: Vec::new() };
        let owner = resolve_from(&mut evidence).owner.map(|o| (o.session_id.to_string(), o.method));
        (owner, evidence.asked)
    };
    let base = Inputs { staged: Some(&staged), ..inputs(&ANCESTRY, &candidates) };
    // The env step settles it: nothing but the one named session is read.
    let by_env = asked(Inputs { env: Some(OsStr::new("b")), ..base });
    assert_eq!(by_env, (Some(("b".into(), ResolvedBy::Env)), vec!["named"]));
    let by_pid = asked(base);
    assert_eq!(by_pid, (Some(("a".into(), ResolvedBy::Pid)), vec!["candidates", "ancestry"]));
    // Recency asks for the staged files only when a session here recorded files.
    let untouched = [live("only")];
    let recent = asked(Inputs { candidates: &untouched, ..base });
    assert_eq!(recent.1, ["candidates", "ancestry"]);
    let touched = [Candidate { files_touched: vec!["a.rs".into()], ..live("only") }];
    let recent = asked(Inputs { candidates: &touched, ..base });
    assert_eq!(recent, (Some(("only".into(), ResolvedBy::Recent)), vec!["candidates", "ancestry", "staged"]));
}
