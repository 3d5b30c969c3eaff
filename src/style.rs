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
