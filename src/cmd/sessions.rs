//! `entire sessions [--all] [--json]`: the sessions of this repository.

use std::io::{Read, Write};
use std::path::Path;

use chrono::{Duration, Utc};
use serde_json::Value;

use super::session_rows::{print_table, with_live};
use crate::agents::usage;
use crate::checkpoint;
use crate::cli::SessionsArgs;
use crate::error::{Result, warn};
use crate::git::Repo;
use crate::process::System;
use crate::session::{SessionRecord, Store};
use crate::settings::{Settings, TranscriptRules};

pub fn run(args: SessionsArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    checkpoint::pending::complete(&repo);
    let (mut records, warnings) = Store::new(repo.store_dir()).list();
    warnings.into_iter().for_each(warn);
    let cutoff = Utc::now() - Duration::days(1);
    let mut rows: Vec<(SessionRecord, bool)> = records
        .drain(..)
        .map(|r| {
            let live = r.is_live(&System);
            (r, live)
        })
        .filter(|(r, live)| args.all || *live || ended_at(r).is_none_or(|t| t > cutoff))
        .collect();
    rows.sort_by(|(a, _), (b, _)| (a.started_at, &a.session_id).cmp(&(b.started_at, &b.session_id)));
    let mut out = std::io::stdout().lock();

    if args.json {
        let rules = Settings::for_repo(&repo)?.transcripts();
        let json: Vec<Value> =
            rows.iter().map(|(r, live)| with_usage(with_live(r, *live), r, &rules)).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        return Ok(0);
    }
    if rows.is_empty() {
        writeln!(
            out,
            "No sessions{}.",
            if args.all { "" } else { " in the last day (--all shows older ones)" }
        )?;
        return Ok(0);
    }
    print_table(&mut out, &rows)?;
    Ok(0)
}

/// When a session ended: its recorded end, or — for one whose processes
/// are gone without a word — its last sign of life.
fn ended_at(r: &SessionRecord) -> Option<chrono::DateTime<Utc>> {
    r.ended_at.or_else(|| r.activity_time())
}

/// `tokens` and `models` from the session's transcript, when it says; the
/// transcript is opened as the checkpoint writer opens it (a regular file
/// of the user's, under the agent's transcript directories).
fn with_usage(mut value: Value, record: &SessionRecord, rules: &TranscriptRules) -> Value {
    let Some(path) = record.transcript_path.as_deref() else { return value };
    let Ok(mut file) = checkpoint::open_transcript(Path::new(path), record.agent.as_deref(), rules) else {
        return value;
    };
    let mut transcript = Vec::new();
    if file.read_to_end(&mut transcript).is_ok()
        && let Some(object) = value.as_object_mut()
    {
        usage::read(&transcript).annotate(object);
    }
    value
}
