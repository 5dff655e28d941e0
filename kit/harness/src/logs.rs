//! Log lines as a log platform reads them: one JSON object per line, each with a time, a level and
//! a message.
//!
//! There is no single standard for structured logs, so [`parse`] accepts the common shapes:
//! `tracing-subscriber`'s JSON (`timestamp`, `level`, `fields.message`, or `message` when the event
//! is flattened), bunyan and pino (`time`, a numeric `level`, `msg`), and the ECS and cloud logging
//! spellings (`@timestamp`, `log.level`, `severity`). What it rejects is text, JSON without one of
//! the three, and anything a machine cannot sort by time or filter by level.

use serde_json::{Map, Value};
use std::fmt;

/// Where a timestamp may be, in the order they are tried.
pub const TIME_KEYS: &[&str] = &["timestamp", "time", "ts", "@timestamp"];
/// Where a level may be.
pub const LEVEL_KEYS: &[&str] = &["level", "severity", "log.level"];
/// Where a message may be.
pub const MESSAGE_KEYS: &[&str] = &["message", "msg", "fields.message", "fields.msg"];

/// A log level, least verbose first: `level >= Level::Info` means "info or chattier".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// A level's name (`"INFO"`, `"warning"`, ...) or a bunyan/pino number (10 trace ... 60 fatal).
    pub fn from_json(value: &Value) -> Option<Level> {
        if let Some(number) = value.as_f64() {
            return Some(match number {
                n if n <= 10.0 => Level::Trace,
                n if n <= 20.0 => Level::Debug,
                n if n <= 30.0 => Level::Info,
                n if n <= 40.0 => Level::Warn,
                _ => Level::Error,
            });
        }
        Some(match value.as_str()?.to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" | "notice" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" | "err" | "fatal" | "critical" | "crit" | "alert" | "emergency" => Level::Error,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        f.write_str(name)
    }
}

/// One log event: a JSON object with a time, a level and a message.
#[derive(Debug, Clone)]
pub struct Event {
    pub json: Map<String, Value>,
    pub level: Level,
    pub message: String,
}

impl Event {
    /// Every leaf value of the event except its message, with its dotted path (`span.uri`,
    /// `fields.status`, `spans.0.method`), so a check can look for a field wherever a formatter
    /// nests it.
    pub fn fields(&self) -> Vec<(String, &Value)> {
        let mut leaves = Vec::new();
        for (key, value) in &self.json {
            collect(key.clone(), value, &mut leaves);
        }
        leaves.retain(|(path, _)| !MESSAGE_KEYS.contains(&path.as_str()));
        leaves
    }
}

fn collect<'a>(path: String, value: &'a Value, leaves: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                collect(format!("{path}.{key}"), value, leaves);
            }
        }
        Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                collect(format!("{path}.{index}"), value, leaves);
            }
        }
        _ => leaves.push((path, value)),
    }
}

/// `key` in `json`: a literal key first (`"log.level"` as one key), then a dotted path.
pub fn lookup<'a>(json: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(value) = json.get(key) {
        return Some(value);
    }
    let (head, rest) = key.split_once('.')?;
    lookup(json.get(head)?.as_object()?, rest)
}

/// Whether `text` holds an ANSI escape sequence, raw or JSON-escaped (`\u001b`).
pub fn has_ansi(text: &str) -> bool {
    text.contains('\u{1b}') || text.to_ascii_lowercase().contains("\\u001b")
}

/// Reads one line as a log event, or says what it lacks (in words a learner can act on).
pub fn parse(line: &str) -> Result<Event, String> {
    let value: Value = serde_json::from_str(line.trim()).map_err(|_| "is not JSON".to_string())?;
    let Value::Object(json) = value else {
        return Err("is JSON but not an object".into());
    };
    let time = TIME_KEYS.iter().find_map(|key| lookup(&json, key));
    match time {
        None => {
            return Err(format!(
                "has no timestamp (looked for {})",
                TIME_KEYS.join(", ")
            ));
        }
        Some(time) if !is_time(time) => {
            return Err(format!(
                "has a timestamp that is not a date and time: {time}"
            ));
        }
        Some(_) => {}
    }
    let level = LEVEL_KEYS.iter().find_map(|key| lookup(&json, key));
    let level = match level {
        None => {
            return Err(format!(
                "has no level (looked for {})",
                LEVEL_KEYS.join(", ")
            ));
        }
        Some(level) => Level::from_json(level)
            .ok_or_else(|| format!("has a level that is not a log level: {level}"))?,
    };
    let message = MESSAGE_KEYS
        .iter()
        .find_map(|key| lookup(&json, key).and_then(Value::as_str))
        .ok_or_else(|| format!("has no message (looked for {})", MESSAGE_KEYS.join(", ")))?
        .to_string();
    Ok(Event {
        json,
        level,
        message,
    })
}

/// An RFC 3339 / ISO 8601 date and time (`2026-11-28T21:30:00.123Z`, a space for the `T` is
/// fine), or a number of seconds or milliseconds since the Unix epoch.
fn is_time(value: &Value) -> bool {
    if let Some(number) = value.as_f64() {
        return number > 1.0e9;
    }
    let Some(text) = value.as_str() else {
        return false;
    };
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        range
            .clone()
            .all(|i| bytes.get(i).is_some_and(u8::is_ascii_digit))
    };
    digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(bytes.get(10), Some(b'T' | b't' | b' '))
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tracing_subscribers_json_nested_and_flattened() {
        let nested = r#"{"timestamp":"2026-11-28T21:30:00.123456Z","level":"INFO","fields":{"message":"finished processing request","latency":"0 ms","status":404},"target":"tower_http::trace::on_response","span":{"method":"GET","uri":"/notifications/9","name":"request"}}"#;
        let event = parse(nested).unwrap();
        assert_eq!(event.level, Level::Info);
        assert_eq!(event.message, "finished processing request");
        let fields = event.fields();
        assert!(
            fields
                .iter()
                .any(|(k, v)| k == "fields.status" && **v == 404)
        );
        assert!(
            fields
                .iter()
                .any(|(k, v)| k == "span.method" && **v == "GET")
        );
        assert!(!fields.iter().any(|(k, _)| k == "fields.message"));

        let flat = r#"{"timestamp":"2026-11-28T21:30:00Z","level":"WARN","message":"no such notification","id":9}"#;
        let event = parse(flat).unwrap();
        assert_eq!(
            (event.level, event.message.as_str()),
            (Level::Warn, "no such notification")
        );
    }

    #[test]
    fn reads_bunyan_ecs_and_cloud_shapes() {
        let bunyan = r#"{"name":"noticeboard","hostname":"h","pid":1,"level":30,"msg":"request","time":"2026-11-28T21:30:00.123Z","v":0}"#;
        assert_eq!(parse(bunyan).unwrap().level, Level::Info);
        let pino = r#"{"level":50,"time":1795901400123,"msg":"boom"}"#;
        assert_eq!(parse(pino).unwrap().level, Level::Error);
        let ecs = r#"{"@timestamp":"2026-11-28T21:30:00Z","log.level":"debug","message":"x"}"#;
        assert_eq!(parse(ecs).unwrap().level, Level::Debug);
        let nested_ecs =
            r#"{"@timestamp":"2026-11-28T21:30:00Z","log":{"level":"warning"},"message":"x"}"#;
        assert_eq!(parse(nested_ecs).unwrap().level, Level::Warn);
        let cloud = r#"{"time":"2026-11-28 21:30:00","severity":"ERROR","message":"x"}"#;
        assert_eq!(parse(cloud).unwrap().level, Level::Error);
    }

    #[test]
    fn says_what_a_line_lacks() {
        let text = "2026-11-28T21:30:00Z  INFO noticeboard: GET / -> 200";
        assert_eq!(parse(text).unwrap_err(), "is not JSON");
        assert_eq!(parse("[1, 2]").unwrap_err(), "is JSON but not an object");
        let no_time = r#"{"level":"INFO","message":"x"}"#;
        assert!(parse(no_time).unwrap_err().starts_with("has no timestamp"));
        let bad_time = r#"{"time":"yesterday","level":"INFO","message":"x"}"#;
        assert!(parse(bad_time).unwrap_err().contains("not a date and time"));
        let no_level = r#"{"time":"2026-11-28T21:30:00Z","message":"x"}"#;
        assert!(parse(no_level).unwrap_err().starts_with("has no level"));
        let odd_level = r#"{"time":"2026-11-28T21:30:00Z","level":"LOUD","message":"x"}"#;
        assert!(parse(odd_level).unwrap_err().contains("not a log level"));
        let no_message =
            r#"{"time":"2026-11-28T21:30:00Z","level":"INFO","fields":{"status":200}}"#;
        assert!(parse(no_message).unwrap_err().starts_with("has no message"));
    }

    #[test]
    fn levels_order_from_quiet_to_chatty() {
        assert!(Level::Info >= Level::Info && Level::Debug > Level::Info);
        assert!(Level::Warn < Level::Info && Level::Error < Level::Warn);
        assert_eq!(Level::from_json(&Value::from(40)), Some(Level::Warn));
        assert_eq!(Level::from_json(&Value::from("Warning")), Some(Level::Warn));
    }

    #[test]
    fn spots_colour_codes_raw_or_escaped() {
        assert!(has_ansi("\u{1b}[32m INFO\u{1b}[0m x"));
        assert!(has_ansi(r#"{"message":"\u001b[1mx"}"#));
        assert!(!has_ansi(r#"{"message":"plain"}"#));
    }
}
