//! Secret redaction for everything free-text that goes on the checkpoints
//! branch: the agent's argv, its prompts, the transcript copy, free-text
//! metadata. A secret is replaced by `[REDACTED:<rule-id>]`; JSONL stays
//! valid line by line, because inside a JSON line a replacement never
//! leaves the string literal it starts in nor cuts an escape sequence.
//!
//! One `RegexSet` pass over each line says which rules match at all (a
//! lazy DFA: linear time whatever the input); only those rules then run
//! to find where, each compiled on the first text the set names it for.
//! The rules, and why they are these: docs/privacy.md.

mod rules;

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;

use crate::error::{Error, Result};

pub use rules::BUILTIN;

/// User rules and allow-list, `"redaction"` in `.entire/settings.json`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct UserRules {
    /// More rules; a capture group, when the pattern has one, marks the
    /// secret inside the match.
    pub rules: Vec<UserRule>,
    /// Patterns for values that are not secrets, matched against what a
    /// rule found (not against the text around it).
    pub allow: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct UserRule {
    pub id: String,
    pub regex: String,
}

/// The rules compiled once; cheap to share.
pub struct Redactor {
    set: RegexSet,
    rules: Vec<Rule>,
    allow: Vec<Regex>,
}

struct Rule {
    id: String,
    pattern: String,
    /// Compiled when the set first says the rule matched: most texts match
    /// no rule, and the writer compiles the rules once per run.
    regex: std::sync::OnceLock<Regex>,
    min_entropy: f64,
    /// Compiled, like `regex`, only once the rule has matched.
    allow: Option<(&'static str, std::sync::OnceLock<Regex>)>,
    /// The generic shapes skip identifiers and paths.
    skip_identifiers: bool,
    extend: Option<rules::Extend>,
}

/// Where a rule found a secret: `text[start..end]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub rule: String,
}

/// The input is not UTF-8 text: not copied at all.
#[derive(Debug, PartialEq)]
pub struct NotText;

static BUILTIN_ONLY: LazyLock<Redactor> =
    LazyLock::new(|| Redactor::new(&UserRules::default()).expect("the built-in rules compile"));

fn compile(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).unicode(false).size_limit(32 << 20).build()
}

impl Redactor {
    /// The built-in rules alone.
    pub fn builtin() -> &'static Redactor {
        &BUILTIN_ONLY
    }

    /// The built-in rules, then the user's; a user pattern that does not
    /// compile is an error (nothing is written unredacted because of it).
    pub fn new(user: &UserRules) -> Result<Redactor> {
        let mut rules: Vec<Rule> = BUILTIN
            .iter()
            .map(|b| Rule {
                id: b.id.to_owned(),
                pattern: b.pattern.to_owned(),
                regex: std::sync::OnceLock::new(),
                min_entropy: b.min_entropy,
                allow: b.allow.map(|a| (a, std::sync::OnceLock::new())),
                skip_identifiers: b.min_entropy > 0.0,
                extend: b.extend,
            })
            .collect();
        for rule in &user.rules {
            if rule.id.is_empty()
                || !rule.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(Error::user(format!("redaction rule id {:?} is not a name", rule.id))
                    .with_hint("use letters, digits, '-' and '_' (the marker reads [REDACTED:<id>])"));
            }
            // Compiled here once, so that a mistake is an error now.
            let regex = compile(&rule.regex).map_err(|e| user_pattern_error(&rule.id, e))?;
            rules.push(Rule {
                id: rule.id.clone(),
                pattern: rule.regex.clone(),
                regex: std::sync::OnceLock::from(regex),
                min_entropy: 0.0,
                allow: None,
                skip_identifiers: false,
                extend: None,
            });
        }
        let allow = user
            .allow
            .iter()
            .map(|a| compile(a).map_err(|e| user_pattern_error(a, e)))
            .collect::<Result<Vec<_>>>()?;
        let set_patterns =
            BUILTIN.iter().map(|b| loosened(b.pattern)).chain(user.rules.iter().map(|r| r.regex.clone()));
        let set = RegexSetBuilder::new(set_patterns)
            .unicode(false)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .map_err(|e| Error::internal(format!("compiling the redaction rules: {e}")))?;
        Ok(Redactor { set, rules, allow })
    }

    /// Every secret in `text`, in order, none overlapping (where two
    /// overlap, the earlier rule's, then the longer, is kept).
    pub fn find(&self, text: &[u8]) -> Vec<Finding> {
        let matched = self.set.matches(text);
        if !matched.matched_any() {
            return Vec::new();
        }
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        let mut footers = rules::Footers::default();
        for index in matched.iter() {
            let rule = &self.rules[index];
            let regex =
                rule.regex.get_or_init(|| compile(&rule.pattern).expect("compiled in the set already"));
            for caps in regex.captures_iter(text) {
                let m = (1..caps.len()).find_map(|i| caps.get(i)).or_else(|| caps.get(0)).expect("a match");
                if !m.is_empty() && self.is_secret(rule, m.as_bytes()) {
                    let end = rule.extend.map_or(m.end(), |extend| extend(text, m.end(), &mut footers));
                    spans.push((m.start(), end, index));
                }
            }
        }
        spans.sort_by_key(|&(start, end, rule)| (start, rule, usize::MAX - end));
        // Overlapping matches become one, named by the earliest rule among them.
        let mut kept: Vec<(usize, usize, usize)> = Vec::new();
        for span in spans {
            match kept.last_mut() {
                Some(last) if span.0 < last.1 => {
                    last.1 = last.1.max(span.1);
                    last.2 = last.2.min(span.2);
                }
                _ => kept.push(span),
            }
        }
        kept.into_iter()
            .map(|(start, end, rule)| Finding { start, end, rule: self.rules[rule].id.clone() })
            .collect()
    }

    fn is_secret(&self, rule: &Rule, value: &[u8]) -> bool {
        if rule.skip_identifiers && rules::looks_like_an_identifier(value) {
            return false;
        }
        let rule_allows = rule.allow.as_ref().is_some_and(|(pattern, allow)| {
            allow.get_or_init(|| compile(pattern).expect("built-in allow compiles")).is_match(value)
        });
        if rule_allows || self.allow.iter().any(|a| a.is_match(value)) {
            return false;
        }
        entropy(value) >= rule.min_entropy
    }

    /// Plain text (a prompt, an argument) with its secrets replaced.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let findings = self.find(text.as_bytes());
        if findings.is_empty() {
            return Cow::Borrowed(text);
        }
        let replaced = replace(text.as_bytes(), &findings);
        Cow::Owned(String::from_utf8(replaced).expect("replacements keep UTF-8 boundaries"))
    }

    /// An argv: each argument as text, and the value after a flag whose
    /// name says key, token, secret or password replaced whole.
    pub fn argv(&self, argv: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(argv.len());
        for (i, arg) in argv.iter().enumerate() {
            let after_secret_flag = i > 0 && is_secret_flag(&argv[i - 1]) && !arg.starts_with('-');
            if after_secret_flag && !arg.is_empty() && !self.allow.iter().any(|a| a.is_match(arg.as_bytes()))
            {
                out.push(marker("cli-secret-argument"));
            } else {
                out.push(self.text(arg).into_owned());
            }
        }
        out
    }

    /// A transcript (JSONL) with its secrets replaced, line by line. A
    /// line that is valid JSON stays valid JSON; any other line is
    /// redacted as text. Not UTF-8: [`NotText`], nothing copied.
    pub fn jsonl<'a>(&self, bytes: &'a [u8]) -> std::result::Result<Cow<'a, [u8]>, NotText> {
        if std::str::from_utf8(bytes).is_err() || bytes.contains(&0) {
            return Err(NotText);
        }
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr_newline(&bytes[start..]).map_or(bytes.len(), |i| start + i);
            let line = &bytes[start..end];
            let findings = self.find(line);
            if !findings.is_empty() {
                let findings = if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
                    inside_json_strings(line, findings)
                } else {
                    findings
                };
                if !findings.is_empty() {
                    let buf = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                    buf.extend_from_slice(&bytes[copied..start]);
                    buf.extend_from_slice(&replace(line, &findings));
                    copied = end;
                }
            }
            start = end + 1;
        }
        Ok(match out {
            None => Cow::Borrowed(bytes),
            Some(mut buf) => {
                buf.extend_from_slice(&bytes[copied.min(bytes.len())..]);
                Cow::Owned(buf)
            }
        })
    }
}

/// A built-in pattern as the set holds it: the set only names the rules
/// to run on a text, and the rule's own regex decides what is redacted, so
/// the set may match more. Each counted repetition `{m,n}` or `{m}`
/// becomes `{min(m, 16),}`, which matches wherever the original does (a
/// run of at least `m` holds a run of 16) and compiles to far fewer NFA
/// states: the set compiles in well under half the instructions
/// (docs/design.md, "regex").
fn loosened(pattern: &str) -> String {
    const LEAST_RUN: u32 = 16;
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.char_indices();
    let mut in_class = 0usize;
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
                continue;
            }
            '[' => in_class += 1,
            ']' if in_class > 0 => in_class -= 1,
            '{' if in_class == 0 => {
                let rest = &pattern[at + 1..];
                let counts = rest.find('}').map(|close| &rest[..close]);
                let least = counts.and_then(|counts| counts.split(',').next()?.parse::<u32>().ok());
                if let (Some(counts), Some(least)) = (counts, least)
                    && counts.bytes().all(|b| b.is_ascii_digit() || b == b',')
                {
                    out.push_str(&format!("{{{},}}", least.min(LEAST_RUN)));
                    for _ in 0..=counts.len() {
                        chars.next();
                    }
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

fn user_pattern_error(what: &str, err: regex::Error) -> Error {
    Error::user(format!("redaction pattern {what:?} does not compile: {err}"))
        .with_hint("fix \"redaction\" in .entire/settings.json (patterns are Rust regex syntax, ASCII only)")
}

/// `-k`, `--api-key`, `--openai-api-key`, `--password`, `-token`: a flag
/// whose value is a secret.
fn is_secret_flag(arg: &str) -> bool {
    let Some(name) = arg.strip_prefix('-') else { return false };
    let name = name.trim_start_matches('-').to_ascii_lowercase();
    !name.contains('=')
        && ["key", "token", "secret", "password", "passwd", "pwd", "credentials"]
            .iter()
            .any(|k| name.ends_with(k))
}

pub fn marker(rule: &str) -> String {
    format!("[REDACTED:{rule}]")
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn replace(text: &[u8], findings: &[Finding]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        out.extend_from_slice(&text[at..f.start]);
        out.extend_from_slice(marker(&f.rule).as_bytes());
        at = f.end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Shannon entropy of a value, in bits per byte.
pub fn entropy(value: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in value {
        counts[b as usize] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * log2(p)
        })
        .sum()
}

/// The base-2 logarithm of a positive normal `x`, without libm: this is
/// the only function of libm entire used, and loading a library costs each
/// start of the binary (each hook) about 30 k instructions and 6 page
/// faults (docs/performance.md). Exact for powers of two, within a few ulps
/// elsewhere: `x = m·2^e` with `m` in [√½, √2), and `ln m = 2·atanh(s)`,
/// `s = (m−1)/(m+1)`, whose series has converged to f64 precision by the
/// 12th term since |s| < 0.172.
fn log2(x: f64) -> f64 {
    debug_assert!(x.is_normal() && x > 0.0, "{x}");
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let mut m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1.0;
    }
    let s = (m - 1.0) / (m + 1.0);
    let (s2, mut power, mut atanh) = (s * s, s, 0.0);
    for k in 0..12 {
        atanh += power / f64::from(2 * k + 1);
        power *= s2;
    }
    e + 2.0 * atanh * std::f64::consts::LOG2_E
}

/// The findings of a valid JSON line moved inside its string literals: each
/// is cut to the literal it starts in (or the first one it reaches) and
/// widened to whole escape sequences, so that the marker replaces only
/// string content. A finding in no literal (a number) is dropped. Each
/// finding costs a binary search and a look at a few bytes around its ends.
fn inside_json_strings(line: &[u8], findings: Vec<Finding>) -> Vec<Finding> {
    let literals = string_literals(line);
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        let first = literals.partition_point(|&(_, end)| end <= f.start);
        let Some(&(lit_start, lit_end)) = literals.get(first).filter(|&&(s, _)| s < f.end) else { continue };
        let (mut start, mut end) = (f.start.max(lit_start), f.end.min(lit_end));
        if let Some((esc_start, _)) = escape_around(line, lit_start, start) {
            start = esc_start;
        }
        if let Some((_, esc_end)) = escape_around(line, lit_start, end) {
            end = esc_end.min(lit_end);
        }
        if start < end && out.last().is_none_or(|last| last.end <= start) {
            out.push(Finding { start, end, rule: f.rule });
        }
    }
    out
}

/// The escape sequence (`\x` or `\uXXXX`) of a string literal starting at
/// `lit_start` that `pos` falls strictly inside, as (start, end).
fn escape_around(line: &[u8], lit_start: usize, pos: usize) -> Option<(usize, usize)> {
    (1..=5).filter(|&back| pos >= lit_start + back).map(|back| pos - back).find_map(|at| {
        if line[at] != b'\\' {
            return None;
        }
        // A backslash starts an escape when an even number of backslashes precede it.
        let run = line[lit_start..at].iter().rev().take_while(|&&b| b == b'\\').count();
        let len = if line.get(at + 1) == Some(&b'u') { 6 } else { 2 };
        (run % 2 == 0 && pos < at + len).then_some((at, at + len))
    })
}

/// The content ranges (between the quotes) of a JSON text's string literals.
fn string_literals(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < line.len() && line[j] != b'"' {
                j += if line[j] == b'\\' { 2 } else { 1 };
            }
            let end = j.min(line.len());
            out.push((start, end));
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
