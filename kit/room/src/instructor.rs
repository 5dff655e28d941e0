//! The instructor's side: sign in with the class's instructor token, read the board, follow it live,
//! export it as CSV.
//!
//! The page sends the token once (`POST /api/session`, from the link's `#fragment`, which never
//! reaches a server log) and gets it back as an `HttpOnly`, `SameSite=Strict` cookie, which the
//! event stream then carries: `EventSource` cannot send an `Authorization` header.

use crate::api::{ApiError, bearer, body};
use crate::store::Class;
use crate::{AppState, board, now_ms};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const COOKIE: &str = "room_instructor";

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{COOKIE}=")[..]))
}

/// The class whose instructor token the request carries (cookie, or `Authorization: Bearer`).
async fn class(state: &AppState, headers: &HeaderMap) -> Result<Class, ApiError> {
    let token = bearer(headers).or_else(|| cookie_token(headers));
    let Some(token) = token.filter(|token| token.starts_with("ri_")) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this needs the instructor token that `cargo xtask room open` printed",
        ));
    };
    state
        .store
        .class_by_instructor_token(token)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown instructor token"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    token: String,
}

/// `POST /api/session`: trades the instructor token for the cookie.
pub async fn session(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Result<Json<SessionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !state.joins.allow(&peer.ip()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-in attempts from this address; wait a minute",
        ));
    }
    let token = body(request)?.token;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, bearer_value(&token)?);
    let class = class(&state, &headers).await?;
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=86400");
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "malformed token"))?;
    Ok((
        StatusCode::OK,
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "class": class.name })),
    )
        .into_response())
}

fn bearer_value(token: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ApiError::new(StatusCode::UNAUTHORIZED, "malformed token"))
}

/// `GET /api/board`: the class, the catalog and every learner's row.
pub async fn snapshot(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let class = class(&state, &headers).await?;
    let rows = rows(&state, &class).await?;
    Ok(Json(json!({
        "class": {
            "name": class.name,
            "code": crate::security::show_code(&class.code),
            "closed": class.closed,
        },
        "book": "/book/",
        "book_served": state.book_dir.is_some(),
        "factors": state.catalog.factors,
        "learners": rows,
        "now_ms": now_ms(),
    }))
    .into_response())
}

async fn rows(state: &AppState, class: &Class) -> Result<Vec<board::LearnerRow>, ApiError> {
    let learners = state.store.learners(class.id).await?;
    let verdicts = state.store.class_verdicts(class.id).await?;
    let doctor = state.store.latest_doctor_reports(class.id).await?;
    Ok(board::rows(&learners, &verdicts, &doctor))
}

/// `GET /api/events`: each changed learner row, as it happens.
pub async fn events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let class = class(&state, &headers).await?;
    let events = state.hub.subscribe(class.id);
    tracing::info!(class = %class.code, pages = state.hub.subscriber_count(), "live page connected");
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// `GET /api/export.csv`: one line per learner and factor checked.
pub async fn export(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let class = class(&state, &headers).await?;
    let csv = csv(&rows(&state, &class).await?);
    let disposition = format!("attachment; filename=\"class-{}.csv\"", class.code);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).expect("a code is ASCII"),
            ),
        ],
        csv,
    )
        .into_response())
}

/// The board as CSV: learner, factor, the latest verdict's numbers and failing checks.
pub fn csv(rows: &[board::LearnerRow]) -> String {
    let mut out = String::from(
        "learner,factor,passed,total,compiled,failing,hints_used,checks_edited,checked_at,current,stuck_minutes\n",
    );
    let now = now_ms();
    for row in rows {
        for (factor, cell) in &row.factors {
            let current = row.current == Some(*factor);
            let stuck = match (current, row.stuck_since_ms) {
                (true, Some(since)) => ((now - since) / 60_000).to_string(),
                _ => String::new(),
            };
            let fields = [
                field(&row.name),
                factor.to_string(),
                cell.passed.to_string(),
                cell.total.to_string(),
                cell.compiled.to_string(),
                field(&cell.failing.join(" ")),
                cell.hints_used.to_string(),
                cell.checks_edited.to_string(),
                iso8601(cell.received_ms),
                current.to_string(),
                stuck,
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

/// A CSV field, quoted when it needs to be (names are validated, but never trust that here).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Unix milliseconds as `2026-12-05T12:34:56Z` (UTC), without a date library.
pub fn iso8601(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_printed_in_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_796_473_096_000), "2026-12-05T12:18:16Z");
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("plain"), "plain");
    }
}
