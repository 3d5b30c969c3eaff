//! Commit-message trailers, with git's own rules. `insert` writes what
//! `git interpret-trailers --no-divider --trailer 'key: value'` writes with
//! git's default trailer config (where=end, ifExists=addIfDifferentNeighbor,
//! ifMissing=add): the trailer joins an existing trailer block or starts a
//! new one after a blank line, stays above comment lines and a scissors
//! line, and honours `core.commentChar`. `--no-divider` because that is how
//! `git commit --trailer` edits a message: a `---` line in a commit message
//! is text (a Markdown rule, say), not the start of a patch, and a trailer
//! put above it would not be a trailer of the commit.
//!
//! The rules come from git's trailer.c (`find_trailer_block_start`,
//! `trailer_info_get`, `parse_trailers`), commit.c
//! (`ignored_log_message_bytes`), wt-status.c (`wt_status_locate_end`) and
//! builtin/commit.c (`adjust_comment_line_char`).

use std::borrow::Cow;

pub use super::comment_char::comment_char;

/// The trailer that links a commit to its checkpoint.
pub const CHECKPOINT_KEY: &str = "Entire-Checkpoint";

/// Whether a message names our trailer's key anywhere, in any case: the
/// quick test before a message is parsed, which most commits fail.
pub fn mentions_checkpoint(message: &[u8]) -> bool {
    let key = CHECKPOINT_KEY.as_bytes();
    message.windows(key.len()).any(|w| w.eq_ignore_ascii_case(key))
}
/// The Linux kernel's `Assisted-by: AGENT:MODEL` (opt-in, next to ours).
pub const ASSISTED_KEY: &str = "Assisted-by";

/// What starts a comment line in a commit message (`core.commentChar` /
/// `core.commentString`; git's default is `#`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommentChar {
    Str(String),
    /// `core.commentChar=auto`: git picks the first of `#;@!$%^&|:` that
    /// starts no line of the message (see `auto_comment` for how that is
    /// read back from the file a hook gets).
    Auto,
    /// No line is a comment: git keeps them all (cleanup `whitespace`, the
    /// default under `-m`/`-F`, and `verbatim`).
    Nothing,
}

impl Default for CommentChar {
    fn default() -> Self {
        CommentChar::Str(DEFAULT_COMMENT.into())
    }
}

const DEFAULT_COMMENT: &str = "#";

/// What `core.commentChar=auto` picks from, in order.
const AUTO_CANDIDATES: &[u8] = b"#;@!$%^&|:";

/// Follows the comment string and a space on the line below which
/// `git commit -v` puts the diff; the whole line must match.
const CUT_LINE: &str = "------------------------ >8 ------------------------\n";

const SIGN_OFF: &str = "Signed-off-by: ";

/// Lines git writes itself: a block holding one may be up to 75% other
/// lines and still be a trailer block.
const GIT_GENERATED_PREFIXES: [&str; 2] = [SIGN_OFF, "(cherry picked from commit "];

/// Adds `key: value` to `message` as `git interpret-trailers --no-divider
/// --trailer 'key: value'` would, byte for byte, with one exception: a
/// message with nothing in it yet (an editor's template) keeps its first
/// line free for the subject, as `git commit -s` does. Git would put the
/// trailer on the second line, where a subject typed on the first would make
/// it part of the subject's paragraph, so no trailer at all.
pub fn insert(message: &str, key: &str, value: &str, comment: &CommentChar) -> String {
    let text = complete_line(message);
    let comment = comment_str(comment, &text);
    let block = Block::parse(&text, &comment);
    let (key, value) = (trim(key), trim(value));

    let mut out = String::with_capacity(text.len() + key.len() + value.len() + 5);
    let cut = scissors(&text, &comment).unwrap_or(text.len());
    if lines(&text[..cut]).all(|(_, line)| is_nothing(line, &comment)) {
        out.push('\n');
    }
    out.push_str(&text[..block.start]);
    if !block.blank_line_before {
        out.push('\n');
    }
    // Git rewrites the block from what it parsed: separators become ": ",
    // and comment lines inside the block are dropped.
    for item in &block.items {
        match item {
            Item::Trailer { token, value } => push_trailer(&mut out, token, value),
            Item::Other(line) => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    // addIfDifferentNeighbor: only the block's last item is compared.
    let repeats_last = match block.items.last() {
        Some(Item::Trailer { token, value: last }) => {
            same_token(token, key) && last.eq_ignore_ascii_case(value)
        }
        _ => false,
    };
    if !repeats_last {
        push_trailer(&mut out, key, value);
    }
    out.push_str(&text[block.end..]);
    out
}

/// Every value of `key` in the message's trailer block, in order, unfolded
/// as `git interpret-trailers --parse --no-divider` shows them. Meant for
/// a commit's stored message, whose comments git has already stripped; `#`
/// lines are skipped as comments, as git does by default.
pub fn values(message: &str, key: &str) -> Vec<String> {
    values_with(message, key, &CommentChar::default())
}

/// `values` for a message being edited (prepare-commit-msg), whose comment
/// lines use the repository's comment character.
pub fn values_with(message: &str, key: &str, comment: &CommentChar) -> Vec<String> {
    let text = complete_line(message);
    let comment = comment_str(comment, &text);
    Block::parse(&text, &comment)
        .items
        .into_iter()
        .filter_map(|item| match item {
            Item::Trailer { token, value } if token.eq_ignore_ascii_case(key) => Some(unfold(value)),
            _ => None,
        })
        .collect()
}

/// Every value of `key` on a line of its own anywhere in the message, not
/// only in the last trailer block: a squash or fixup leaves each commit's
/// trailers in a paragraph of its own. Indented lines are quoted text or
/// continuations, and comment lines (with `comment`, for a message being
/// edited) are not the message; nor is anything below a scissors line.
pub fn every_value(message: &str, key: &str, comment: Option<&CommentChar>) -> Vec<String> {
    let comment = comment.map(|c| comment_str(c, message));
    let cut = comment.as_deref().and_then(|c| scissors(message, c)).unwrap_or(message.len());
    lines(&message[..cut])
        .filter(|(_, line)| !starts_with_space(line))
        .filter(|(_, line)| comment.as_deref().is_none_or(|c| !line.starts_with(c)))
        .filter_map(|(_, line)| {
            let sep = separator(line)?;
            trim(&line[..sep]).eq_ignore_ascii_case(key).then(|| trim(&line[sep + 1..]).to_owned())
        })
        .collect()
}

/// The message without the lines that give `key` the value `value` (as
/// [`every_value`] reads them).
pub fn remove(message: &str, key: &str, value: &str) -> String {
    lines(message)
        .filter(|(_, line)| {
            starts_with_space(line)
                || separator(line).is_none_or(|sep| {
                    !(trim(&line[..sep]).eq_ignore_ascii_case(key) && trim(&line[sep + 1..]) == value)
                })
        })
        .map(|(_, line)| line)
        .collect()
}

/// For commit-msg: when the message has nothing but `key` trailers whose
/// value passes `ours`, blank lines and comments, returns it with those
/// trailers removed, so git aborts the empty commit as usual. Otherwise
/// None. Sign-offs count as nothing, as they do for git (sequencer.c
/// `rest_is_empty`); a `key` line someone else wrote is the message.
pub fn strip_if_only(
    message: &str,
    key: &str,
    comment: &CommentChar,
    ours: impl Fn(&str) -> bool,
) -> Option<String> {
    strip_if_only_any(message, comment, |k, value| k.eq_ignore_ascii_case(key) && ours(value))
}

/// [`strip_if_only`] for the trailers `ours(key, value)` accepts.
pub fn strip_if_only_any(
    message: &str,
    comment: &CommentChar,
    ours: impl Fn(&str, &str) -> bool,
) -> Option<String> {
    let comment = comment_str(comment, message);
    let cut = scissors(message, &comment).unwrap_or(message.len());
    let mut kept = String::with_capacity(message.len());
    let mut stripped = false;
    for (_, line) in lines(&message[..cut]) {
        if is_nothing(line, &comment) || line.starts_with(SIGN_OFF) {
            kept.push_str(line);
        } else if separator(line).is_some_and(|sep| ours(trim(&line[..sep]), trim(&line[sep + 1..]))) {
            stripped = true;
        } else {
            return None;
        }
    }
    stripped.then(|| kept + &message[cut..])
}

/// What git's cleanup leaves nothing of: comment lines and blank lines.
fn is_nothing(line: &str, comment: &str) -> bool {
    line.starts_with(comment) || is_blank_line(line)
}

/// A trailer block as git finds it: `text[start..end]`, parsed.
struct Block<'a> {
    start: usize,
    end: usize,
    blank_line_before: bool,
    items: Vec<Item<'a>>,
}

enum Item<'a> {
    /// `value` is trimmed and keeps the newlines of continuation lines.
    Trailer { token: &'a str, value: &'a str },
    /// A line of the block that is not a trailer, without its newline.
    Other(&'a str),
}

impl<'a> Block<'a> {
    /// `text` is empty or ends with a newline.
    fn parse(text: &'a str, comment: &str) -> Block<'a> {
        let end = end_of_message(text, comment);
        let start = block_start(text, end, comment);
        let blank_line_before = lines(&text[..start]).last().is_some_and(|(_, line)| is_blank_line(line));
        let items = group_lines(&text[start..end])
            .into_iter()
            .filter(|group| !group.starts_with(comment))
            .map(|group| match separator(group) {
                Some(sep) => Item::Trailer { token: trim(&group[..sep]), value: trim(&group[sep + 1..]) },
                None => Item::Other(group.strip_suffix('\n').unwrap_or(group)),
            })
            .collect();
        Block { start, end, blank_line_before, items }
    }
}

/// Where a scissors line starts (the message's length without one): what
/// `git commit --cleanup=scissors` and `-v` cut.
pub fn cut_line(message: &str, comment: &CommentChar) -> usize {
    scissors(message, &comment_str(comment, message)).unwrap_or(message.len())
}

/// Where the message proper ends: before a scissors line, then before the
/// trailing run of comment lines, empty lines and old-style `Conflicts:`
/// blocks (commit.c `ignored_log_message_bytes`).
fn end_of_message(text: &str, comment: &str) -> usize {
    let cutoff = scissors(text, comment).unwrap_or(text.len());
    // 0 stands for "no run", as in git: a run that starts on the very first
    // line only counts from its second line on.
    let mut run_start = 0;
    let mut in_conflicts = false;
    for (bol, line) in lines(&text[..cutoff]) {
        if line.starts_with(comment) || line == "\n" {
            if run_start == 0 {
                run_start = bol;
            }
        } else if line == "Conflicts:\n" {
            in_conflicts = true;
            if run_start == 0 {
                run_start = bol;
            }
        } else if in_conflicts && line.starts_with('\t') {
            // a path of the conflicts block
        } else if run_start != 0 {
            run_start = 0;
            in_conflicts = false;
        }
    }
    if run_start != 0 { run_start } else { cutoff }
}

/// Start of the scissors line `<comment> ------------------------ >8 ---…`.
fn scissors(text: &str, comment: &str) -> Option<usize> {
    let pattern = format!("\n{comment} {CUT_LINE}");
    if text.starts_with(&pattern[1..]) { Some(0) } else { text.find(&pattern).map(|at| at + 1) }
}

/// Where the trailer block of `text[..end]` starts; `end` when it has none
/// (trailer.c `find_trailer_block_start`, with no `trailer.*` config).
fn block_start(text: &str, end: usize, comment: &str) -> usize {
    let message = &text[..end];
    // The first paragraph is the title and cannot hold trailers.
    // (Git skips comment lines here; no comment line is blank unless the
    // comment string is, and then skipping changes nothing.)
    let title_end = lines(message).find(|(_, line)| is_blank_line(line)).map_or(end, |(bol, _)| bol);

    // From the end, the last paragraph is a trailer block when all its lines
    // are trailers, or when one was written by git and at least 25% are.
    let mut only_spaces = true;
    let mut recognized_prefix = false;
    let (mut trailer_lines, mut non_trailer_lines) = (0, 0);
    // Indented lines count as whatever they continue, known only above them.
    let mut possible_continuation_lines = 0;
    for (bol, line) in lines(message).rev().take_while(|(bol, _)| *bol >= title_end) {
        if line.starts_with(comment) {
            non_trailer_lines += possible_continuation_lines;
            possible_continuation_lines = 0;
        } else if is_blank_line(line) {
            if only_spaces {
                continue;
            }
            non_trailer_lines += possible_continuation_lines;
            let all_trailers = trailer_lines > 0 && non_trailer_lines == 0;
            if all_trailers || (recognized_prefix && trailer_lines * 3 >= non_trailer_lines) {
                return bol + line.len();
            }
            return end;
        } else {
            only_spaces = false;
            if GIT_GENERATED_PREFIXES.iter().any(|prefix| line.starts_with(prefix)) {
                recognized_prefix = true;
                trailer_lines += 1;
                possible_continuation_lines = 0;
            } else if separator(line).is_some() {
                trailer_lines += 1;
                possible_continuation_lines = 0;
            } else if starts_with_space(line) {
                possible_continuation_lines += 1;
            } else {
                non_trailer_lines += 1 + possible_continuation_lines;
                possible_continuation_lines = 0;
            }
        }
    }
    end
}

/// The block's lines, each indented line joined to the trailer above it.
fn group_lines(block: &str) -> Vec<&str> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut continues_trailer = false;
    for (bol, line) in lines(block) {
        match groups.last_mut() {
            Some(group) if continues_trailer && starts_with_space(line) => group.1 = bol + line.len(),
            _ => {
                groups.push((bol, bol + line.len()));
                continues_trailer = separator(line).is_some();
            }
        }
    }
    groups.into_iter().map(|(from, to)| &block[from..to]).collect()
}

/// The position of the `:` in `<token><optional blanks>:…`, where the
/// token is letters, digits and `-` (trailer.c `find_separator`).
fn separator(line: &str) -> Option<usize> {
    let mut blanks_seen = false;
    for (at, byte) in line.bytes().enumerate() {
        match byte {
            b':' if at > 0 => return Some(at),
            b if !blanks_seen && (b.is_ascii_alphanumeric() || b == b'-') => {}
            b' ' | b'\t' if at > 0 => blanks_seen = true,
            _ => return None,
        }
    }
    None
}

/// Two tokens are the same when one, without trailing punctuation, is a
/// case-insensitive prefix of the other (trailer.c `same_token`).
fn same_token(a: &str, b: &str) -> bool {
    let bare = |token: &str| token.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).len();
    let len = bare(a).min(bare(b));
    a.as_bytes()[..len].eq_ignore_ascii_case(&b.as_bytes()[..len])
}

fn push_trailer(out: &mut String, token: &str, value: &str) {
    out.push_str(token);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}

/// A folded value on one line: each newline and the blanks after it become
/// one space.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            while chars.next_if(|&c| is_space_char(c)).is_some() {}
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The comment string in force; `Auto` stands for what `git commit` chose.
fn comment_str<'a>(comment: &'a CommentChar, text: &str) -> Cow<'a, str> {
    match comment {
        CommentChar::Str(s) => Cow::Borrowed(s),
        CommentChar::Auto => Cow::Owned(auto_comment(text)),
        // No message line starts with NUL: git cuts a message there.
        CommentChar::Nothing => Cow::Borrowed("\0"),
    }
}

/// `core.commentChar=auto`: `git commit` takes the first candidate that
/// starts no line of the message it begins with. With an editor it then
/// appends its template, commented with that character, and a hook sees
/// both: so a trailing template (comment lines as git writes them, `<c>`,
/// `<c> …` or `<c>\t…`, at least one of them bare, and all below a scissors
/// line) tells the character; without one, the rule itself does.
fn auto_comment(text: &str) -> String {
    let candidates = || AUTO_CANDIDATES.iter().map(|&c| char::from(c));
    // The template ends the text: should the message hold a scissors line
    // of its own, the template that starts last is git's.
    let from_template = candidates()
        .rev()
        .filter_map(|c| {
            let start = template_start(text, c);
            let bare = |line: &str| line.strip_suffix('\n').unwrap_or(line).strip_prefix(c) == Some("");
            let is_template = lines(&text[start..]).any(|(_, line)| bare(line));
            (is_template && !starts_a_line(&text[..start], c)).then_some((start, c))
        })
        .max_by_key(|&(start, _)| start)
        .map(|(_, c)| c);
    let chosen = from_template.or_else(|| candidates().find(|&c| !starts_a_line(text, c)));
    // With every candidate taken git refuses to commit; any answer will do.
    chosen.map_or_else(|| DEFAULT_COMMENT.to_owned(), String::from)
}

/// Where a template commented with `c` would start: before the scissors
/// line and the trailing run of blank lines and git's comments above it.
fn template_start(text: &str, c: char) -> usize {
    let cutoff = scissors(text, c.encode_utf8(&mut [0; 4])).unwrap_or(text.len());
    let mut start = None;
    for (bol, line) in lines(&text[..cutoff]) {
        let git_comment = line
            .strip_prefix(c)
            .is_some_and(|rest| matches!(rest.as_bytes().first(), None | Some(b'\n' | b' ' | b'\t')));
        if git_comment || is_blank_line(line) {
            start.get_or_insert(bol);
        } else {
            start = None;
        }
    }
    start.unwrap_or(cutoff)
}

/// Git also counts a start after a lone `\r`, but such a "line" is never
/// a comment line, so choosing that character changes nothing.
fn starts_a_line(text: &str, c: char) -> bool {
    text.starts_with(c) || text.contains(&format!("\n{c}"))
}

/// Lines with their newlines, and where each starts.
fn lines(text: &str) -> impl DoubleEndedIterator<Item = (usize, &str)> {
    text.split_inclusive('\n').map(move |line| (line.as_ptr() as usize - text.as_ptr() as usize, line))
}

/// `git interpret-trailers` reads its input with a final newline added.
fn complete_line(message: &str) -> Cow<'_, str> {
    if message.is_empty() || message.ends_with('\n') {
        Cow::Borrowed(message)
    } else {
        Cow::Owned(format!("{message}\n"))
    }
}

/// Git's own `isspace`: ASCII, and no vertical tab or form feed.
fn is_space_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn trim(s: &str) -> &str {
    s.trim_matches(is_space_char)
}

fn starts_with_space(line: &str) -> bool {
    line.starts_with(is_space_char)
}

fn is_blank_line(line: &str) -> bool {
    line.split('\n').next().is_some_and(|head| head.chars().all(is_space_char))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_counts_except_indented_comment_and_cut_ones() {
        let message = "squash\n\nfirst\n\nEntire-Checkpoint: 00000000000a\n\nsecond\n\n\
                       entire-checkpoint : 00000000000b\n    Entire-Checkpoint: 00000000000c\n\
                       # Entire-Checkpoint: 00000000000d\nEntire-Checkpoint: zzz\n\
                       # ------------------------ >8 ------------------------\nEntire-Checkpoint: 00000000000e\n";
        let hash = CommentChar::default();
        assert_eq!(
            every_value(message, CHECKPOINT_KEY, Some(&hash)),
            ["00000000000a", "00000000000b", "zzz"],
            "an edited message"
        );
        assert_eq!(
            every_value(message, CHECKPOINT_KEY, None),
            ["00000000000a", "00000000000b", "zzz", "00000000000e"],
            "a stored message has no comments"
        );
    }

    #[test]
    fn remove_takes_out_exactly_one_value() {
        let message = "s\n\nEntire-Checkpoint: 00000000000a\nEntire-Checkpoint: 00000000000b\n  Entire-Checkpoint: 00000000000a\n";
        assert_eq!(
            remove(message, CHECKPOINT_KEY, "00000000000a"),
            "s\n\nEntire-Checkpoint: 00000000000b\n  Entire-Checkpoint: 00000000000a\n"
        );
    }
}
