//! The learners' side of the HTTP API: join a class, post verdicts and doctor reports.
//!
//! Every input is checked before anything is stored, and every refusal is a 4xx with one sentence
//! saying what was wrong: a bad request stores nothing.

use crate::AppState;
use crate::store::{Learner, NewVerdict};
use crate::{board, security};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

/// How far a learner's clock may be from the board's: a day behind (a verdict queued while the
/// board was down is sent with the next check), ten minutes ahead.
const MAX_AGE_SECONDS: i64 = 24 * 3600;
const MAX_AHEAD_SECONDS: i64 = 600;

/// The names `cargo xtask doctor` gives its findings; a doctor report lists which are problems.
pub const DOCTOR_FINDINGS: [&str; 9] = [
    "platform",
    "toolchain",
    "backend",
    "disk",
    "postgres",
    "redis",
    "compose-settings",
    "local-postgres",
    "mdbook",
];

/// A refusal: a status and one sentence, sent as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(status, message.into())
    }

    fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        tracing::error!(error = format!("{err:#}"), "request failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the board cannot reach its database; try again in a moment",
        )
    }
}

/// A JSON body, or the reason it is not one (wrong content type, too large, malformed, unknown or
/// missing fields), as a 4xx.
pub fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        let status = rejection.status();
        let text = rejection.body_text();
        let text = text.lines().next().unwrap_or_default();
        ApiError::new(status, format!("the request body was refused: {text}"))
    })
}

/// The bearer token of the request, if it sent one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    code: String,
    name: String,
}

/// `POST /api/join`: a class code and a display name in; a learner id and token out.
pub async fn join(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Result<Json<JoinRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    // Counted before anything else, so guessing codes costs a guess whatever the answer.
    if !state.joins.allow(&peer.ip()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many join attempts from this address; wait a minute",
        ));
    }
    let request = body(request)?;
    let class = match security::normalize_code(&request.code) {
        Some(code) => state.store.class_by_code(&code).await?,
        None => None,
    };
    let Some(class) = class else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no class has this code; check it on the instructor's screen",
        ));
    };
    if class.closed {
        return Err(ApiError::new(
            StatusCode::GONE,
            "this class is closed; ask the instructor for today's code",
        ));
    }
    let name = security::display_name(&request.name).map_err(ApiError::invalid)?;
    let id = uuid::Uuid::new_v4().to_string();
    let token = security::token("rl_");
    if !state.store.join(&class, &id, &name, &token).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("someone in this class is already called {name:?}; add an initial"),
        ));
    }
    tracing::info!(class = %class.code, learner = %id, "learner joined");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "learner": id, "token": token, "class": class.name })),
    )
        .into_response())
}

/// The learner the request's token belongs to, who must be the one in the path.
async fn learner(
    state: &AppState,
    headers: &HeaderMap,
    learner_id: &str,
) -> Result<Learner, ApiError> {
    let token = learner_token(headers)?;
    let Some(learner) = state.store.learner_by_token(token).await? else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown token: join the class again with `cargo xtask room join`",
        ));
    };
    if learner.id != learner_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this token belongs to another learner",
        ));
    }
    if learner.class_closed {
        return Err(ApiError::new(
            StatusCode::GONE,
            "this class is closed; the board no longer takes verdicts for it",
        ));
    }
    Ok(learner)
}

/// A verdict exactly as `cargo xtask check` posts it: these fields, and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictIn {
    id: String,
    factor: i64,
    passed: i64,
    total: i64,
    failing: Vec<String>,
    not_checkable: i64,
    compiled: bool,
    hints_used: i64,
    checks_edited: bool,
    at: i64,
}

fn post_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::invalid(format!("id {id:?} is not a UUID")))
}

fn timestamp(at: i64) -> Result<i64, ApiError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    if at < now - MAX_AGE_SECONDS || at > now + MAX_AHEAD_SECONDS {
        return Err(ApiError::invalid(format!(
            "at = {at} is not a time within the last day (Unix seconds; the board's clock says \
             {now})"
        )));
    }
    Ok(at)
}

/// Checks a verdict against the catalog: a real factor, its real checks, numbers that add up.
pub fn validate(
    catalog: &crate::catalog::Catalog,
    verdict: VerdictIn,
) -> Result<NewVerdict, ApiError> {
    let id = post_id(&verdict.id)?;
    let factor = u8::try_from(verdict.factor)
        .ok()
        .and_then(|number| catalog.factor(number))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "factor {} is not one of the kit's factors (1 to 12, available ones)",
                verdict.factor
            ))
        })?;
    let known = factor.check_names();
    let count = known.len() as i64;
    let mut seen = BTreeSet::new();
    for name in &verdict.failing {
        if !known.contains(name.as_str()) {
            return Err(ApiError::invalid(format!(
                "{name:?} is not a check of Factor {}",
                factor.roman
            )));
        }
        if !seen.insert(name) {
            return Err(ApiError::invalid(format!("{name:?} is listed twice")));
        }
    }
    let (passed, total, not_checkable) = (verdict.passed, verdict.total, verdict.not_checkable);
    if !(0..=100).contains(&not_checkable) {
        return Err(ApiError::invalid(format!(
            "not_checkable {not_checkable} is not a count of checks"
        )));
    }
    if verdict.checks_edited {
        // Edited checks may number differently; the names must still be the kit's.
        if !(0..=100).contains(&total) || !(0..=total).contains(&passed) {
            return Err(ApiError::invalid(format!(
                "passed {passed} of {total} is not a count of checks"
            )));
        }
    } else if total + not_checkable != count {
        return Err(ApiError::invalid(format!(
            "Factor {} has {count} checks, not {total} judged and {not_checkable} not checkable",
            factor.roman
        )));
    }
    if !(0..=total).contains(&passed) {
        return Err(ApiError::invalid(format!(
            "passed {passed} of {total} is not a count of checks"
        )));
    }
    if verdict.compiled {
        let failed = (total - passed) as usize;
        let listed = verdict.failing.len();
        let consistent = if verdict.checks_edited {
            listed <= failed
        } else {
            listed == failed
        };
        if !consistent {
            return Err(ApiError::invalid(format!(
                "{passed} of {total} passed, so {failed} failing check(s) are named, not {listed}"
            )));
        }
    } else if passed != 0 || not_checkable != 0 || !verdict.failing.is_empty() {
        return Err(ApiError::invalid(
            "a verdict that did not compile has no passed, failing or not checkable checks",
        ));
    }
    if !(0..=factor.hints as i64).contains(&verdict.hints_used) {
        return Err(ApiError::invalid(format!(
            "Factor {} has {} hints, so hints_used {} is impossible",
            factor.roman, factor.hints, verdict.hints_used
        )));
    }
    Ok(NewVerdict {
        id,
        factor: i16::from(factor.number),
        passed: passed as i16,
        total: total as i16,
        failing: verdict.failing,
        not_checkable: not_checkable as i16,
        compiled: verdict.compiled,
        hints_used: verdict.hints_used as i16,
        checks_edited: verdict.checks_edited,
        at: timestamp(verdict.at)?,
    })
}

/// `POST /api/learners/{id}/verdicts`: 201 when stored, 200 when this id was stored before.
///
/// The hot path of the board (every learner's every check): checked in memory first (a token is
/// there, under its rate limit; the verdict is valid), then authorised and stored in one round
/// trip to Postgres. Only a refused token costs a second query, to say why.
pub async fn post_verdict(
    State(state): State<Arc<AppState>>,
    Path(learner_id): Path<String>,
    headers: HeaderMap,
    request: Result<Json<VerdictIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let token = learner_token(&headers)?;
    if !state.posts.allow(&token.to_string()) {
        return Err(too_many_posts());
    }
    let verdict = validate(&state.catalog, body(request)?)?;
    match state
        .store
        .add_verdict_with_token(token, &learner_id, &verdict)
        .await?
    {
        Some((class_id, stored)) => {
            if stored {
                let learner = Learner {
                    id: learner_id,
                    class_id,
                    class_closed: false,
                };
                publish(&state, &learner);
            }
            Ok(stored_status(stored))
        }
        None => {
            // Which of token, learner or class is wrong: `learner` says it as a 4xx.
            learner(&state, &headers, &learner_id).await?;
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "the class changed while this verdict was being stored; send it again",
            ))
        }
    }
}

fn too_many_posts() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many posts from this learner; wait a minute",
    )
}

/// The request's learner token, if it carries one that looks like one.
fn learner_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this needs the token `cargo xtask room join` gave you (Authorization: Bearer ...)",
        ));
    };
    if !token.starts_with("rl_") {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this is not a learner's token",
        ));
    }
    Ok(token)
}

fn stored_status(stored: bool) -> Response {
    if stored {
        (StatusCode::CREATED, Json(json!({ "stored": true }))).into_response()
    } else {
        (
            StatusCode::OK,
            Json(json!({ "stored": false, "seen": true })),
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorIn {
    id: String,
    problems: Vec<String>,
    at: i64,
}

/// `POST /api/learners/{id}/doctor`: which of doctor's findings are problems on this laptop.
pub async fn post_doctor(
    State(state): State<Arc<AppState>>,
    Path(learner_id): Path<String>,
    headers: HeaderMap,
    request: Result<Json<DoctorIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !state.posts.allow(&learner_token(&headers)?.to_string()) {
        return Err(too_many_posts());
    }
    let learner = learner(&state, &headers, &learner_id).await?;
    let report = body(request)?;
    let id = post_id(&report.id)?;
    let mut seen = BTreeSet::new();
    for problem in &report.problems {
        if !DOCTOR_FINDINGS.contains(&problem.as_str()) {
            return Err(ApiError::invalid(format!(
                "{problem:?} is not one of doctor's findings ({})",
                DOCTOR_FINDINGS.join(", ")
            )));
        }
        if !seen.insert(problem) {
            return Err(ApiError::invalid(format!("{problem:?} is listed twice")));
        }
    }
    let at = timestamp(report.at)?;
    let stored = state
        .store
        .add_doctor_report(&learner, &id, &report.problems, at)
        .await?;
    if stored {
        publish(&state, &learner);
    }
    Ok(stored_status(stored))
}

/// Sends the learner's new row to the class's open pages, after the response (a post never waits
/// on a page).
fn publish(state: &Arc<AppState>, learner: &Learner) {
    if !state.hub.has_subscribers(learner.class_id) {
        return;
    }
    let state = Arc::clone(state);
    let learner = learner.clone();
    tokio::spawn(async move {
        let row = async {
            let name = state.store.learner_name(&learner.id).await?;
            let verdicts = state.store.learner_verdicts(&learner.id).await?;
            let doctor = state
                .store
                .latest_doctor_reports(learner.class_id)
                .await?
                .into_iter()
                .find(|(id, _)| *id == learner.id)
                .map(|(_, problems)| problems);
            let refs: Vec<_> = verdicts.iter().collect();
            anyhow::Ok(board::row(&name, &refs, doctor))
        };
        match row.await {
            Ok(row) => {
                let data = json!({ "row": row, "now_ms": crate::now_ms() }).to_string();
                state.hub.publish(learner.class_id, &data);
            }
            Err(err) => tracing::warn!(error = format!("{err:#}"), "cannot build a learner row"),
        }
    });
}
