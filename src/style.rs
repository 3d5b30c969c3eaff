//! Terminal styling: colour only on a terminal, never with `NO_COLOR`.

use std::io::IsTerminal;

pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub fn green(text: &str) -> String {
    paint(text, "32")
}

pub fn dim(text: &str) -> String {
    paint(text, "2")
}

pub fn yellow(text: &str) -> String {
    paint(text, "33")
}

fn paint(text: &str, code: &str) -> String {
    if color_enabled() { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

/// "3m ago"-style age for tables.
pub fn age(then: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let Some(then) = then else { return "-".into() };
    let secs = (chrono::Utc::now() - then).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}
