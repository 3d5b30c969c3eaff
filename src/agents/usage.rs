//! Tokens and models, read from the transcripts the agents write. Nothing
//! is estimated: a count the transcript does not give stays absent.
//!
//! - Claude Code: assistant lines carry `message.usage` (`input_tokens`,
//!   `output_tokens`, `cache_read_input_tokens`,
//!   `cache_creation_input_tokens`) and `message.model`; one message is
//!   written as several lines (one per content block) with the same
//!   `message.id` and usage, so each ID counts once.
//! - Codex: `event_msg` lines of type `token_count` carry the session's
//!   running `info.total_token_usage` (`input_tokens` including
//!   `cached_input_tokens`, `cache_write_input_tokens`, `output_tokens`
//!   including reasoning); the last one is the total. `turn_context` lines
//!   name the model.
//! - Gemini CLI: `gemini` messages carry `tokens` (`input` including
//!   `cached`, `output`, `thoughts`) and `model`; a message is appended
//!   again when its tokens arrive, so each `id` counts once, the last wins.
//! - Copilot CLI: a `session.usage_record` event per model call carries
//!   `data.usage` (`inputTokens` including `cacheReadTokens`,
//!   `outputTokens`, `cacheWriteTokens`) and its `model`.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// How much of a transcript's end `last_model` reads.
const TAIL: u64 = 64 * 1024;

#[derive(Serialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tokens {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<u64>,
}

/// Field by field; a count known on either side is known.
impl std::ops::Add for Tokens {
    type Output = Tokens;

    fn add(self, other: Tokens) -> Tokens {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        Tokens {
            input: sum(self.input, other.input),
            output: sum(self.output, other.output),
            cache_read: sum(self.cache_read, other.cache_read),
            cache_write: sum(self.cache_write, other.cache_write),
        }
    }
}

/// What a transcript says about tokens and models.
#[derive(Default, Clone, Debug, PartialEq)]
pub struct Usage {
    pub tokens: Option<Tokens>,
    /// In order of first use.
    pub models: Vec<String>,
}

impl Usage {
    /// Adds `"tokens"` and `"models"` to a JSON object, when known.
    pub fn annotate(&self, object: &mut serde_json::Map<String, Value>) {
        if let Some(tokens) = self.tokens {
            object.insert("tokens".into(), serde_json::to_value(tokens).expect("tokens serialize"));
        }
        if !self.models.is_empty() {
            object.insert("models".into(), self.models.clone().into());
        }
    }

    /// One line for people: `15 in, 78 out, 8300 cache read (model)`.
    pub fn summary(&self) -> Option<String> {
        let tokens = self.tokens?;
        let parts: Vec<String> = [
            (tokens.input, "in"),
            (tokens.output, "out"),
            (tokens.cache_read, "cache read"),
            (tokens.cache_write, "cache write"),
        ]
        .into_iter()
        .filter_map(|(count, what)| Some(format!("{} {what}", count?)))
        .collect();
        let models =
            if self.models.is_empty() { String::new() } else { format!(" ({})", self.models.join(", ")) };
        Some(format!("{}{models}", parts.join(", ")))
    }

    pub fn add(&mut self, other: &Usage) {
        self.tokens = match (self.tokens, other.tokens) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        for model in &other.models {
            if !self.models.contains(model) {
                self.models.push(model.clone());
            }
        }
    }
}

/// The model a line names: Claude's `message.model`, Gemini's `model`,
/// Codex's `turn_context` `payload.model`, Copilot's usage records'.
fn model_of(value: &Value) -> Option<&str> {
    let model = match value.get("type").and_then(Value::as_str)? {
        "assistant" => value["message"].get("model"),
        "gemini" => value.get("model"),
        "turn_context" => value["payload"].get("model"),
        "session.usage_record" => value["data"]["usage"].get("model"),
        _ => None,
    };
    model.and_then(Value::as_str).filter(|m| !m.is_empty())
}

/// The model of the last line that names one in the transcript's final
/// 64 KiB: what a commit hook can afford to read, whatever the size.
pub fn last_model(transcript: &Path) -> Option<String> {
    let mut file = crate::fsutil::open_regular(transcript, crate::fsutil::Links::Follow).ok()??;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut tail = Vec::new();
    file.take(TAIL).read_to_end(&mut tail).ok()?;
    // The first line may be cut; JSON parsing skips it.
    tail.split(|&b| b == b'\n').rev().find_map(|line| {
        serde_json::from_slice::<Value>(line).ok().and_then(|v| model_of(&v).map(str::to_owned))
    })
}

/// Reads a JSONL transcript of any agent above; lines that are not JSON
/// or not about usage are skipped.
pub fn read(transcript: &[u8]) -> Usage {
    // Per message ID (Claude, Gemini), the last counts; Codex's running total.
    let mut messages: Vec<(String, Tokens)> = Vec::new();
    let mut codex_total: Option<Tokens> = None;
    let mut usage = Usage::default();
    let mut note_model = |model: Option<&str>| {
        if let Some(model) = model
            && !usage.models.iter().any(|m| m == model)
        {
            usage.models.push(model.to_owned());
        }
    };
    for (n, line) in transcript.split(|&b| b == b'\n').enumerate() {
        let Ok(value) = serde_json::from_slice::<Value>(line) else { continue };
        let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64);
        note_model(model_of(&value));
        let kind = value.get("type").and_then(Value::as_str);
        let (id, tokens) = match kind {
            Some("assistant") => {
                let message = &value["message"];
                let Some(u) = message.get("usage").filter(|u| u.is_object()) else { continue };
                let tokens = Tokens {
                    input: count(u, "input_tokens"),
                    output: count(u, "output_tokens"),
                    cache_read: count(u, "cache_read_input_tokens"),
                    cache_write: count(u, "cache_creation_input_tokens"),
                };
                (
                    message
                        .get("id")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("line {n}"), str::to_owned),
                    tokens,
                )
            }
            Some("gemini") => {
                let Some(t) = value.get("tokens").filter(|t| t.is_object()) else { continue };
                let cached = count(t, "cached");
                let output = match (count(t, "output"), count(t, "thoughts")) {
                    (Some(o), thoughts) => Some(o + thoughts.unwrap_or(0)),
                    (None, thoughts) => thoughts,
                };
                let tokens = Tokens {
                    input: count(t, "input").map(|i| i.saturating_sub(cached.unwrap_or(0))),
                    output,
                    cache_read: cached,
                    cache_write: None,
                };
                (
                    value
                        .get("id")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("line {n}"), str::to_owned),
                    tokens,
                )
            }
            Some("session.usage_record") => {
                let Some(u) = value["data"].get("usage").filter(|u| u.is_object()) else { continue };
                let cached = count(u, "cacheReadTokens");
                let tokens = Tokens {
                    input: count(u, "inputTokens").map(|i| i.saturating_sub(cached.unwrap_or(0))),
                    output: count(u, "outputTokens"),
                    cache_read: cached,
                    cache_write: count(u, "cacheWriteTokens"),
                };
                (
                    value
                        .get("id")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("line {n}"), str::to_owned),
                    tokens,
                )
            }
            Some("event_msg") if value["payload"]["type"] == "token_count" => {
                let Some(t) = value["payload"]["info"].get("total_token_usage").filter(|t| t.is_object())
                else {
                    continue;
                };
                let cached = count(t, "cached_input_tokens");
                codex_total = Some(Tokens {
                    input: count(t, "input_tokens").map(|i| i.saturating_sub(cached.unwrap_or(0))),
                    output: count(t, "output_tokens"),
                    cache_read: cached,
                    cache_write: count(t, "cache_write_input_tokens"),
                });
                continue;
            }
            _ => continue,
        };
        match messages.iter_mut().find(|(seen, _)| *seen == id) {
            Some(entry) => entry.1 = tokens,
            None => messages.push((id, tokens)),
        }
    }
    let per_message = messages.into_iter().map(|(_, t)| t).reduce(|a, b| a + b);
    usage.tokens = match (per_message, codex_total) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_usage_counts_each_message_once() {
        let text = br#"{"type":"user","message":{"content":"hi"}}
{"type":"assistant","message":{"id":"m1","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":7}}}
{"type":"assistant","message":{"id":"m1","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":7}}}
not json
{"type":"assistant","message":{"id":"m2","model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":2}}}
"#;
        let usage = read(text);
        assert_eq!(
            usage.tokens,
            Some(Tokens { input: Some(11), output: Some(7), cache_read: Some(100), cache_write: Some(7) })
        );
        assert_eq!(usage.models, ["claude-sonnet-4-5", "claude-haiku-4-5"]);
    }

    #[test]
    fn codex_usage_is_the_last_running_total() {
        let text = br#"{"type":"turn_context","payload":{"model":"gpt-5-codex"}}
{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":9}}}}
{"type":"event_msg","payload":{"type":"token_count","info":null}}
{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":250,"cached_input_tokens":90,"cache_write_input_tokens":12,"output_tokens":30}}}}
"#;
        let usage = read(text);
        assert_eq!(
            usage.tokens,
            Some(Tokens { input: Some(160), output: Some(30), cache_read: Some(90), cache_write: Some(12) })
        );
        assert_eq!(usage.models, ["gpt-5-codex"]);
    }

    #[test]
    fn gemini_usage_takes_each_messages_last_record() {
        let text = br#"{"sessionId":"s","projectHash":"p"}
{"id":"a","type":"gemini","model":"gemini-2.5-pro","content":"x"}
{"id":"a","type":"gemini","model":"gemini-2.5-pro","content":"x","tokens":{"input":50,"output":8,"cached":20,"thoughts":4,"tool":0,"total":62}}
"#;
        let usage = read(text);
        assert_eq!(
            usage.tokens,
            Some(Tokens { input: Some(30), output: Some(12), cache_read: Some(20), cache_write: None })
        );
    }

    #[test]
    fn copilot_usage_sums_its_records() {
        let text = br#"{"type":"session.start","data":{"selectedModel":"gpt-5.4"},"id":"e0"}
{"type":"session.usage_record","data":{"usage":{"model":"gpt-5.4","inputTokens":10,"outputTokens":5,"cacheReadTokens":3,"cacheWriteTokens":0,"reasoningTokens":0}},"id":"e1"}
{"type":"assistant.message","data":{"model":"gpt-5.4","content":"Done."},"id":"e2"}
{"type":"session.usage_record","data":{"usage":{"model":"claude-sonnet-4.6","inputTokens":20,"outputTokens":7,"cacheReadTokens":0,"cacheWriteTokens":4}},"id":"e3"}
"#;
        let usage = read(text);
        assert_eq!(
            usage.tokens,
            Some(Tokens { input: Some(27), output: Some(12), cache_read: Some(3), cache_write: Some(4) })
        );
        assert_eq!(usage.models, ["gpt-5.4", "claude-sonnet-4.6"]);
    }

    #[test]
    fn the_last_model_is_read_from_the_end_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let early = r#"{"type":"assistant","message":{"model":"early-model"}}"#;
        let late = r#"{"type":"assistant","message":{"model":"late-model"}}"#;
        let filler = format!("{{\"type\":\"user\",\"pad\":\"{}\"}}\n", "x".repeat(1000));
        let text = format!("{early}\n{}{late}\n{filler}", filler.repeat(80));
        std::fs::write(&path, &text).unwrap();
        assert_eq!(last_model(&path).as_deref(), Some("late-model"));
        std::fs::write(&path, format!("{early}\n{}", filler.repeat(80))).unwrap();
        assert_eq!(last_model(&path), None, "beyond the tail: unknown, not searched for");
        assert_eq!(last_model(&dir.path().join("missing.jsonl")), None);
    }

    #[test]
    fn nothing_known_stays_absent() {
        assert_eq!(read(b"{\"type\":\"user\"}\n"), Usage::default());
        let mut object = serde_json::Map::new();
        Usage::default().annotate(&mut object);
        assert!(object.is_empty());
    }
}
