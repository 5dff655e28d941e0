//! Secrets, limits and headers: class codes, tokens, rate limits, display names, content security.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Letters that cannot be misread on a projector (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 8;
/// The longest display name, in characters.
pub const MAX_NAME: usize = 40;

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes
}

/// A class code, e.g. `K7QM-R2XA` as shown, `K7QMR2XA` as stored (40 bits; joins are rate-limited).
pub fn class_code() -> String {
    random_bytes()
        .iter()
        .take(CODE_LENGTH)
        .map(|byte| CODE_ALPHABET[usize::from(*byte) % CODE_ALPHABET.len()] as char)
        .collect()
}

/// What a person typed as a class code, as stored: case, spaces and dashes do not matter.
pub fn normalize_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|ch| !matches!(ch, '-' | ' '))
        .map(|ch| ch.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|byte| CODE_ALPHABET.contains(&byte)))
        .then_some(code)
}

/// The code as shown to people: two groups of four.
pub fn show_code(code: &str) -> String {
    if code.len() == CODE_LENGTH {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// A bearer token: 256 random bits, hex, with a prefix saying whose it is (`rl_` learner,
/// `ri_` instructor) so a token pasted in the wrong place is recognisable.
pub fn token(prefix: &str) -> String {
    let hex: String = random_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{prefix}{hex}")
}

/// A display name, trimmed, if it is one: 1 to 40 letters, digits, spaces and `.-'_`, starting
/// with a letter or digit (so it can never open a spreadsheet formula or an HTML tag).
pub fn display_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME {
        return Err(format!(
            "a display name has 1 to {MAX_NAME} characters; this one has {count}"
        ));
    }
    if !name.chars().next().is_some_and(char::is_alphanumeric) {
        return Err("a display name starts with a letter or a digit".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|ch| !(ch.is_alphanumeric() || matches!(ch, ' ' | '.' | '-' | '\'' | '_')))
    {
        return Err(format!(
            "a display name holds letters, digits, spaces and . - ' _ only, not {bad:?}"
        ));
    }
    Ok(name.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A fixed-window counter per key: at most `limit` hits per window.
pub struct RateLimit<K> {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Hash + Eq + Clone> RateLimit<K> {
    pub fn per_minute(limit: u32) -> Self {
        RateLimit {
            limit,
            window: Duration::from_secs(60),
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a hit; `false` when the key is over its limit for this window.
    pub fn allow(&self, key: &K) -> bool {
        let now = Instant::now();
        let mut hits = self.hits.lock().expect("rate limit lock");
        if hits.len() > 10_000 {
            // Forget expired windows, so a scan of many addresses cannot grow the map for ever.
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(key.clone()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.limit
    }
}

/// The content-security policy of the board's own pages: its own scripts and styles only, no
/// inline script, no frames, nothing from elsewhere (there is no internet on the LAN anyway).
const BOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";
/// mdBook's pages carry inline scripts and styles of their own.
const BOOK_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers to every response.
pub async fn headers(request: Request, next: Next) -> Response {
    let book = request.uri().path().starts_with("/book/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if book { BOOK_CSP } else { BOARD_CSP }),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_markup_or_control_characters_are_refused() {
        assert_eq!(display_name("  Ada   Lovelace ").unwrap(), "Ada Lovelace");
        assert_eq!(display_name("Zoë O'Brien-Ng").unwrap(), "Zoë O'Brien-Ng");
        for bad in [
            "<script>alert(1)</script>",
            "",
            "=cmd()",
            "a\nb",
            &"x".repeat(41),
        ] {
            assert!(display_name(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn codes_are_read_however_they_are_typed() {
        let code = class_code();
        assert_eq!(normalize_code(&show_code(&code).to_lowercase()), Some(code));
        assert_eq!(normalize_code("short"), None);
    }

    #[test]
    fn a_key_over_its_limit_is_refused_until_the_window_ends() {
        let limit = RateLimit::per_minute(2);
        assert!(limit.allow(&1) && limit.allow(&1));
        assert!(!limit.allow(&1));
        assert!(limit.allow(&2));
    }
}
