//! Sessions as rows, listed by both `entire sessions` and `entire status`.

use std::io::Write;

use serde_json::Value;

use crate::error::Result;
use crate::session::SessionRecord;
use crate::style;

/// A record as JSON with the added `live` boolean (docs/spec.md §8).
pub fn with_live(record: &SessionRecord, live: bool) -> Value {
    let mut value = serde_json::to_value(record).expect("records serialize");
    value["live"] = Value::Bool(live);
    value
}

/// The table of sessions, each with whether it is live.
pub fn print_table(out: &mut impl Write, rows: &[(SessionRecord, bool)]) -> Result<()> {
    let mut table = style::Table::new(&["SESSION", "AGENT", "STATE", "STARTED", "COMMITS", "PROMPT"]);
    for (r, live) in rows {
        let state: (String, style::Paint) =
            if *live { ("live".into(), style::green) } else { ("ended".into(), style::dim) };
        let prompt: String = r.first_prompt.as_deref().unwrap_or("").chars().take(40).collect();
        table.painted_row([
            (r.session_id.to_string(), style::plain as style::Paint),
            (style::printable(r.agent.as_deref().unwrap_or("-")).into_owned(), style::plain),
            state,
            (style::age(r.started_at), style::plain),
            (r.checkpoints.len().to_string(), style::plain),
            (style::printable(&prompt).into_owned(), style::plain),
        ]);
    }
    table.write(out)?;
    Ok(())
}
