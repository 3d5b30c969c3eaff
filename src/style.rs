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

/// A table whose columns are as wide as their widest cell, so that any
/// name length keeps them aligned. Each cell may be painted; the padding
/// is worked out on the plain text. The last column is not padded.
pub struct Table {
    rows: Vec<Vec<(String, Paint)>>,
    /// Printed under the table on a terminal: what the column names and
    /// values mean.
    legend: Vec<&'static str>,
}

/// How a cell is painted.
pub type Paint = fn(&str) -> String;

/// No paint.
pub fn plain(text: &str) -> String {
    text.to_owned()
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| (h.to_string(), plain as Paint)).collect()],
            legend: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        self.painted_row(cells.into_iter().map(|c| (c, plain as Paint)));
    }

    pub fn painted_row(&mut self, cells: impl IntoIterator<Item = (String, Paint)>) {
        self.rows.push(cells.into_iter().collect());
    }

    /// A line for the legend.
    pub fn legend(&mut self, line: &'static str) {
        self.legend.push(line);
    }

    /// The table, and its legend when stdout is a terminal.
    pub fn write(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        self.write_with(out, std::io::stdout().is_terminal())
    }

    /// The table, and the legend when `legend`.
    fn write_with(&self, out: &mut impl std::io::Write, legend: bool) -> std::io::Result<()> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows.iter().filter_map(|r| r.get(i)).map(|(t, _)| t.chars().count()).max().unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (i, (text, paint)) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&paint(text));
                if i + 1 < row.len() {
                    line.push_str(&" ".repeat(widths[i] - text.chars().count()));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        if legend {
            for line in &self.legend {
                writeln!(out, "{}", dim(line))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(table: &Table, legend: bool) -> String {
        let mut out = Vec::new();
        table.write_with(&mut out, legend).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_fit_their_widest_cell() {
        let mut table = Table::new(&["SESSION", "AGENT", "N", "PROMPT"]);
        table.row(["a".into(), "a-very-long-agent-name".into(), "12".into(), "fix it".into()]);
        table.row(["bb".into(), "x".into(), "3".into(), String::new()]);
        table.legend("N: how many");
        assert_eq!(
            shown(&table, false),
            "SESSION  AGENT                   N   PROMPT\n\
             a        a-very-long-agent-name  12  fix it\n\
             bb       x                       3\n"
        );
        assert!(shown(&table, true).ends_with("N: how many\n"));
    }

    #[test]
    fn paint_does_not_count_towards_the_width() {
        let mut table = Table::new(&["A", "B"]);
        table.painted_row([("x".to_owned(), (|t: &str| format!("<{t}>")) as Paint), ("y".to_owned(), plain)]);
        assert_eq!(shown(&table, false), "A  B\n<x>  y\n");
    }
}

/// Text from a file or the checkpoints branch (a teammate's, or anyone's
/// who could push there), made safe to print: control characters (C0,
/// DEL, C1; escape sequences start with one) are shown as `\x1b`-style
/// escapes, so nothing read can move the cursor, clear the screen or
/// retitle the terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if c.is_control() && (c as u32) < 0x100 => safe.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => safe.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => safe.push(c),
        }
    }
    std::borrow::Cow::Owned(safe)
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn escapes_every_control_character_and_nothing_else() {
        assert_eq!(printable("fix the parser — ok ✓"), "fix the parser — ok ✓");
        assert_eq!(printable("\x1b[2J\x1b]0;owned\x07x"), "\\x1b[2J\\x1b]0;owned\\x07x");
        assert_eq!(printable("a\nb\tc\u{9b}31m\u{7f}"), "a\\x0ab\\x09c\\x9b31m\\x7f");
    }
}
