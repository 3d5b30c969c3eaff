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
        liveness: Liveness::Live,
        worktree_path: Some(WORKTREE.into()),
        last_interaction_time: None,
        started_at: None,
        files_touched: Vec::new(),
        agent_session_id: None,
        terminal: None,
        found_in: FoundIn::Store,
    }
}

fn ended(id: &str) -> Candidate {
    Candidate { liveness: Liveness::Ended, ..live(id) }
}

/// Resolution with no environment, no staged files and recency on.
fn inputs<'a>(ancestry: &'a [ProcId], candidates: &'a [Candidate]) -> Inputs<'a> {
    Inputs {
        env: None,
        ancestry,
        candidates,
        agent_vars: &[],
        terminal: None,
        worktree: WORKTREE,
        staged: None,
        recency: true,
    }
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
    let res = resolve(&Inputs { env: Some(OsStr::new("a")), ..inputs(&ANCESTRY, &candidates) });
    assert_eq!(
        res.owner,
        Some(Owner {
            session_id: sid("a"),
            method: ResolvedBy::Env,
            depth: None,
            found_in: FoundIn::Store,
            variable: None
        })
    );
    assert_eq!(res.env_rejected, None);
    // No ancestor is anyone's (a sandbox's own PID namespace): the variable.
    let res = resolve(&Inputs { env: Some(OsStr::new("b")), ..inputs(&ANCESTRY[..1], &candidates) });
    assert_eq!(res.owner.map(|o| (o.session_id, o.method)), Some((sid("b"), ResolvedBy::Env)));
    // A variable whose session runs elsewhere loses to the session that
    // owns an ancestor.
    let res = resolve(&Inputs { env: Some(OsStr::new("b")), ..inputs(&ANCESTRY, &candidates) });
    assert_eq!(res.owner.map(|o| (o.session_id, o.method)), Some((sid("a"), ResolvedBy::Pid)));
    assert_eq!(res.env_rejected, Some(EnvRejected::NearerOwner));
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
    candidates.push(ended("gone"));
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
                found_in: FoundIn::Store,
                variable: None
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
        Candidate { agent: Some(ANCESTRY[0]), ..ended("dead") },
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
    assert_eq!(
        res.trace.last().map(ToString::to_string).as_deref(),
        Some("no owner: the commit is not attributed")
    );
}

#[test]
fn recency_tags_the_one_live_session_of_this_worktree_and_says_so() {
    let candidates = [
        Candidate { last_interaction_time: at(10), ..live("only") },
        Candidate {
            last_interaction_time: at(30),
            worktree_path: Some("/src/other".into()),
            ..live("elsewhere")
        },
        Candidate { last_interaction_time: at(40), worktree_path: None, ..live("nowhere") },
        Candidate { last_interaction_time: at(50), ..ended("ended") },
        Candidate { liveness: Liveness::Unseen, ..live("unseen") },
    ];
    let res = resolve(&inputs(&ANCESTRY, &candidates));
    assert_eq!(
        res.owner.as_ref().map(|o| (o.session_id.as_str(), o.method)),
        Some(("only", ResolvedBy::Recent))
    );
    assert_eq!(res.notices.len(), 1, "{:?}", res.notices);
    assert!(res.notices[0].starts_with("tagged this commit to session only by recency"), "{:?}", res.notices);
    assert!(res.notices[0].contains(r#""recency": false"#), "how to turn it off: {:?}", res.notices);
    let off = resolve(&Inputs { recency: false, ..inputs(&ANCESTRY, &candidates) });
    assert_eq!((off.owner, off.notices), (None, Vec::<String>::new()));
}

#[test]
fn recency_abstains_when_two_live_sessions_could_own_the_commit() {
    let candidates = [
        Candidate { last_interaction_time: at(10), ..live("older") },
        Candidate { last_interaction_time: at(20), ..live("newer") },
    ];
    let res = resolve(&inputs(&ANCESTRY, &candidates));
    assert_eq!(res.owner, None);
    assert_eq!(
        res.notices,
        [
            "no checkpoint for this commit: 2 live sessions here could own it (newer, older), and nothing shows which made it"
        ]
    );
    assert_eq!(
        res.trace.iter().rev().nth(1).map(|l| (l.step, l.decision)),
        Some(("recent", Decision::Abstain))
    );
}

#[test]
fn recency_never_crosses_terminals() {
    let on = |id: &str, terminal| Candidate { terminal, ..live(id) };
    let from = |terminal, candidates: &[Candidate]| {
        let res = resolve(&Inputs { terminal, ..inputs(&[], candidates) });
        (res.owner.map(|o| o.session_id.to_string()), res.notices)
    };
    let (owner, notices) = from(Some(0x8801), &[on("agent", Some(0x8800))]);
    assert_eq!(owner, None);
    assert_eq!(
        notices,
        ["no checkpoint for this commit: the only live session here, agent runs on another terminal"]
    );
    // Same terminal, or no terminal on either side: unknown, not different.
    assert_eq!(from(Some(0x8800), &[on("agent", Some(0x8800))]).0.as_deref(), Some("agent"));
    assert_eq!(from(None, &[on("agent", Some(0x8800))]).0.as_deref(), Some("agent"));
    assert_eq!(from(Some(0x8801), &[on("agent", None)]).0.as_deref(), Some("agent"));
    // The other terminal's session is out; the one left is the guess.
    assert_eq!(
        from(Some(0x8801), &[on("there", Some(0x8800)), on("here", Some(0x8801))]).0.as_deref(),
        Some("here")
    );
}

#[test]
fn recency_keeps_only_sessions_that_touched_a_staged_file() {
    let touched = |id: &str, files: &[&str]| Candidate {
        files_touched: files.iter().map(|f| f.to_string()).collect(),
        ..live(id)
    };
    let pick = |candidates: &[Candidate], staged: Option<&[String]>| {
        let res = resolve(&Inputs { staged, ..inputs(&[], candidates) });
        (res.owner.map(|o| o.session_id.to_string()), res.notices)
    };
    let two = [touched("b-only", &["b.rs"]), touched("a-and-c", &["a.rs", "c.rs"])];
    assert_eq!(pick(&two, Some(&["a.rs".into()])).0.as_deref(), Some("a-and-c"));
    assert_eq!(pick(&two, Some(&["c.rs".into(), "d.rs".into()])).0.as_deref(), Some("a-and-c"));
    // Both touched a staged file: doubt.
    assert_eq!(pick(&two, Some(&["c.rs".into(), "b.rs".into()])).0, None);
    // Staged files unknown: both could.
    assert_eq!(pick(&two, None).0, None);
    let (owner, notices) = pick(&[touched("agent", &["a.rs"])], Some(&["x.rs".into()]));
    assert_eq!(owner, None);
    assert_eq!(
        notices,
        ["no checkpoint for this commit: the only live session here, agent touched none of the staged files"]
    );
    // A session that recorded no files is not evidence against itself.
    assert_eq!(pick(&[touched("quiet", &[])], Some(&["x.rs".into()])).0.as_deref(), Some("quiet"));
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
        prop::sample::select(vec![Liveness::Live, Liveness::Ended, Liveness::Unseen]),
        prop::sample::select(vec![Some(WORKTREE), Some("/src/other"), None]),
        time(),
        time(),
        prop::sample::subsequence(vec!["a.rs", "b.rs"], 0..=2),
        (prop::option::of(prop::sample::select(vec!["x", "y"])), prop::option::of(1..3u64)),
    )
        .prop_map(
            move |(
                prefix,
                launcher,
                agent,
                liveness,
                worktree,
                seen,
                started,
                files,
                (agent_session, terminal),
            )| Candidate {
                // Unique by the index; the prefix varies how IDs sort.
                session_id: sid(&format!("{prefix}{index}")),
                launcher,
                agent,
                liveness,
                worktree_path: worktree.map(str::to_owned),
                last_interaction_time: seen,
                started_at: started,
                files_touched: files.into_iter().map(str::to_owned).collect(),
                agent_session_id: agent_session.map(sid),
                terminal,
                found_in: FoundIn::RepoIndex,
            },
        )
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
        vars in prop::sample::subsequence(vec![("CLAUDE_CODE_SESSION_ID", "x"), ("CODEX_SESSION_ID", "y")], 0..=2),
        terminal in prop::option::of(1..3u64),
    ) {
        let inputs = |candidates| Inputs {
            env: env.map(OsStr::new),
            ancestry: &ancestry,
            candidates,
            agent_vars: &vars,
            terminal,
            worktree: WORKTREE,
            staged: staged.as_deref(),
            recency,
        };
        let (first, second) = (resolve(&inputs(&listed)), resolve(&inputs(&shuffled)));
        prop_assert_eq!(first.owner, second.owner);
        prop_assert_eq!(first.env_rejected, second.env_rejected);
        prop_assert_eq!(first.notices, second.notices);
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
        res.trace.iter().any(|l| l.to_string().ends_with("is session a (found in ancestor-environ)")),
        "{:?}",
        res.trace
    );
    let none = resolve(&Inputs { recency: false, ..inputs(&[], &candidates) });
    assert_eq!(details(&none), serde_json::json!({"method": null, "depth": null, "env_rejected": null}));
    candidates[0].liveness = Liveness::Ended;
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
    fn agent_vars(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        self.inputs.agent_vars()
    }
    fn terminal(&mut self) -> Option<u64> {
        self.asked.push("terminal");
        self.inputs.terminal()
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
        let owner =
            resolve_from(&GIT_HOOK, &mut evidence).owner.map(|o| (o.session_id.to_string(), o.method));
        (owner, evidence.asked)
    };
    let base = Inputs { staged: Some(&staged), ..inputs(&ANCESTRY, &candidates) };
    // The env step settles it: the named session, the ancestry and the
    // sessions on it (is a nearer ancestor someone else's?) are read.
    let by_env = asked(Inputs { env: Some(OsStr::new("a")), ..base });
    assert_eq!(by_env, (Some(("a".into(), ResolvedBy::Env)), vec!["named", "ancestry", "candidates"]));
    // A rejected name reads nothing more before the next step.
    let unknown = asked(Inputs { env: Some(OsStr::new("zz")), ..base });
    assert_eq!(unknown, (Some(("a".into(), ResolvedBy::Pid)), vec!["named", "candidates", "ancestry"]));
    let by_pid = asked(base);
    assert_eq!(by_pid, (Some(("a".into(), ResolvedBy::Pid)), vec!["candidates", "ancestry"]));
    // Recency asks for the staged files only when a session here recorded files.
    let untouched = [live("only")];
    let recent = asked(Inputs { candidates: &untouched, ..base });
    assert_eq!(recent.1, ["candidates", "ancestry", "terminal"]);
    let touched = [Candidate { files_touched: vec!["a.rs".into()], ..live("only") }];
    let recent = asked(Inputs { candidates: &touched, ..base });
    assert_eq!(
        recent,
        (Some(("only".into(), ResolvedBy::Recent)), vec!["candidates", "ancestry", "staged", "terminal"])
    );
}

#[test]
fn an_inherited_variable_loses_to_a_nearer_owner() {
    // `outer` is a launcher's session whose agent is at depth 3; `inner`
    // is an agent started by that agent, at depth 1, with its own session.
    let candidates = [
        Candidate { agent: Some(ANCESTRY[2]), launcher: Some(ANCESTRY[3]), ..live("outer") },
        Candidate { agent: Some(ANCESTRY[0]), ..live("inner") },
    ];
    let res = resolve(&Inputs { env: Some(OsStr::new("outer")), ..inputs(&ANCESTRY, &candidates) });
    assert_eq!(
        res.owner.map(|o| (o.session_id, o.method, o.depth)),
        Some((sid("inner"), ResolvedBy::Pid, Some(1)))
    );
    assert_eq!(res.env_rejected, Some(EnvRejected::NearerOwner));
    assert!(res.notices.is_empty(), "an owner was found: {:?}", res.notices);
    // Nearer than the inner agent: nothing; the variable names the owner.
    let res = resolve(&Inputs { env: Some(OsStr::new("inner")), ..inputs(&ANCESTRY, &candidates) });
    assert_eq!(res.owner.map(|o| (o.session_id, o.method)), Some((sid("inner"), ResolvedBy::Env)));
    // The named session's processes not among the ancestors: a proven
    // owner of an ancestor still wins; with none (a sandbox), the variable.
    let res = resolve(&Inputs { env: Some(OsStr::new("outer")), ..inputs(&ANCESTRY[..2], &candidates) });
    assert_eq!(res.owner.map(|o| (o.session_id, o.method)), Some((sid("inner"), ResolvedBy::Pid)));
    let res = resolve(&Inputs { env: Some(OsStr::new("outer")), ..inputs(&[], &candidates) });
    assert_eq!(res.owner.map(|o| (o.session_id, o.method)), Some((sid("outer"), ResolvedBy::Env)));
}

#[test]
fn a_rejected_variable_and_no_owner_says_why_once() {
    let candidates = [ended("gone"), Candidate { liveness: Liveness::Unseen, ..live("boxed") }];
    let notices = |env: &str| {
        let res = resolve(&Inputs { env: Some(OsStr::new(env)), recency: false, ..inputs(&[], &candidates) });
        assert_eq!(res.owner, None);
        (res.env_rejected.map(EnvRejected::as_str), res.notices)
    };
    assert_eq!(
        notices("gone"),
        (
            Some("ended"),
            vec![
                "no checkpoint for this commit: ENTIRE_SESSION_ID names session gone, which has ended".into()
            ]
        )
    );
    assert_eq!(
        notices("nobody").1,
        ["no checkpoint for this commit: ENTIRE_SESSION_ID names session nobody, unknown here"]
    );
    assert_eq!(
        notices("a b").1,
        [r#"no checkpoint for this commit: ENTIRE_SESSION_ID="a b" is not a session ID"#]
    );
    let (rejected, lines) = notices("boxed");
    assert_eq!(rejected, Some("not-visible"));
    assert!(
        lines[0].ends_with("whose launcher is not visible from here (another PID namespace)"),
        "{lines:?}"
    );
    // Rejected, but another step finds the owner: nothing to say.
    let with_owner = [ended("gone"), live("only")];
    let res = resolve(&Inputs { env: Some(OsStr::new("gone")), recency: false, ..inputs(&[], &with_owner) });
    assert_eq!((res.owner, res.notices.len()), (None, 1));
    let res = resolve(&Inputs { env: Some(OsStr::new("gone")), ..inputs(&[], &with_owner) });
    assert_eq!(res.owner.map(|o| o.method), Some(ResolvedBy::Recent));
    assert_eq!(res.notices.len(), 1, "only the recency line: {:?}", res.notices);
}

#[test]
fn an_agents_session_variable_names_its_session_in_any_namespace() {
    let with_agent_session = |id: &str, agent_session: &str, liveness| Candidate {
        agent_session_id: Some(sid(agent_session)),
        liveness,
        ..live(id)
    };
    let candidates = [
        with_agent_session("hooked", "claude-1", Liveness::Unseen),
        with_agent_session("over", "claude-0", Liveness::Ended),
        with_agent_session("codex", "codex-1", Liveness::Live),
        live("bystander"),
    ];
    let by_vars = |vars: &[(&'static str, &str)]| {
        let res = resolve(&Inputs { agent_vars: vars, ..inputs(&[], &candidates) });
        (res.owner.map(|o| (o.session_id.to_string(), o.method)), res.notices)
    };
    assert_eq!(
        by_vars(&[("CLAUDE_CODE_SESSION_ID", "claude-1")]).0,
        Some(("hooked".into(), ResolvedBy::Env))
    );
    assert_eq!(by_vars(&[("CODEX_SESSION_ID", "codex-1")]).0, Some(("codex".into(), ResolvedBy::Env)));
    // An ended session's variable names nothing; recency then has doubts.
    let (owner, notices) = by_vars(&[("CLAUDE_CODE_SESSION_ID", "claude-0")]);
    assert_eq!(owner, None);
    assert!(notices[0].contains("2 live sessions here could own it (bystander, codex)"), "{notices:?}");
    // Two variables, two sessions: doubt, and no guess after it.
    let (owner, notices) =
        by_vars(&[("CLAUDE_CODE_SESSION_ID", "claude-1"), ("CODEX_SESSION_ID", "codex-1")]);
    assert_eq!(owner, None);
    assert_eq!(
        notices,
        [
            "no checkpoint for this commit: the agents' session variables name 2 sessions (codex, hooked), and nothing shows which made it"
        ]
    );
}
