//! The web process: its HTTP routes, and how it serves and drains (Factors VII and IX).
//!
//! Handlers only translate HTTP into calls on [`db`] and [`Store`]; where things are kept is their
//! job. Every backing-service failure is a logged `503`, never a panic: the process stays up and
//! serves again as soon as the service is back.

use crate::build_info;
use crate::config::WebConfig;
use crate::db::{self, Notification};
use crate::shutdown::Shutdown;
use crate::store::Store;
use anyhow::Context;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tower_http::trace::TraceLayer;

/// The longest message a notification may carry, in characters (Factor X's contract).
pub const MESSAGE_LIMIT: usize = 280;

/// What every handler shares: connections, never data.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub store: Store,
    pub config: Arc<WebConfig>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/visits", get(visits))
        .route("/login", axum::routing::post(login))
        .route("/me", get(me))
        .route("/notifications", get(list).post(create))
        .route("/notifications/{id}", get(one))
        // Liveness: the process serves HTTP. It touches no backing service, so an outage of
        // Postgres or Redis does not make a platform restart a process that is otherwise fine.
        .route("/health", get(|| async { "ok\n" }))
        // Readiness: send traffic only once the schema this code needs is there (Factor XII).
        .route("/health/ready", get(ready))
        .route("/version", get(version))
        .route("/release", get(release))
        .route("/slow", get(slow).post(slow))
        // One event per request with its method, path, status and latency (Factor XI). The
        // latency is a number of milliseconds, not tower-http's default `"12 ms"` string: a log
        // platform can then sum it, chart it and alert on it without parsing text.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_request(())
                .on_response(
                    |response: &Response, latency: Duration, _: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "request served"
                        );
                    },
                )
                .on_failure(()),
        )
        .with_state(state)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The homepage: which deploy this is, its banner, and the visit count (one more each time).
async fn home(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let visits = state.store.record_visit().await.map_err(AppError::Redis)?;
    let config = &state.config;
    let banner = config
        .banner
        .as_deref()
        .map(|banner| format!("<p class=\"banner\">{}</p>\n", escape(banner)))
        .unwrap_or_default();
    Ok(Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Noticeboard</title></head>\n\
         <body>\n{banner}<h1>Noticeboard ({deploy})</h1>\n\
         <p>This page has been visited {visits} times.</p>\n</body></html>\n",
        deploy = escape(&config.deploy_name),
    )))
}

async fn visits(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let visits = state.store.visits().await.map_err(AppError::Redis)?;
    Ok(Json(json!({ "visits": visits })))
}

#[derive(Deserialize)]
struct Login {
    name: String,
}

async fn login(
    State(state): State<AppState>,
    Json(login): Json<Login>,
) -> Result<Response, AppError> {
    let token = state
        .store
        .create_session(&login.name, state.config.session_ttl)
        .await
        .map_err(AppError::Redis)?;
    let cookie = format!("session={token}; HttpOnly; Path=/");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "token": token })),
    )
        .into_response())
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return Ok((StatusCode::UNAUTHORIZED, "log in first\n").into_response());
    };
    let user = state
        .store
        .session_user(token)
        .await
        .map_err(AppError::Redis)?;
    Ok(match user {
        Some(name) => Json(json!({ "name": name })).into_response(),
        None => (StatusCode::UNAUTHORIZED, "unknown or expired session\n").into_response(),
    })
}

#[derive(Deserialize)]
struct ListParams {
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Notification>>, AppError> {
    let limit = params.limit.map(|limit| limit.max(0));
    Ok(Json(
        db::newest(&state.pool, limit)
            .await
            .map_err(AppError::Database)?,
    ))
}

async fn one(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, AppError> {
    Ok(
        match db::find(&state.pool, id)
            .await
            .map_err(AppError::Database)?
        {
            Some(notification) => Json(notification).into_response(),
            None => (StatusCode::NOT_FOUND, "no such notification\n").into_response(),
        },
    )
}

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

/// Stores the notification and queues its delivery; answers `202 Accepted` at once, never after
/// the delivery (Factor VIII: a worker delivers it).
///
/// Differs from solutions 01, 03 and 10, which answer `201 Created`: there the notification is
/// all there is. Here its delivery is still to come, which is what 202 says (solutions 08, 09);
/// the body is the stored notification all the same.
async fn create(
    State(state): State<AppState>,
    Json(new): Json<NewNotification>,
) -> Result<Response, AppError> {
    // Characters, not bytes: "é" is one character and two bytes (Factor X's contract).
    if new.message.chars().count() > MESSAGE_LIMIT {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("a message has at most {MESSAGE_LIMIT} characters\n"),
        )
            .into_response());
    }
    let notification = db::create(&state.pool, &new.name, &new.message)
        .await
        .map_err(AppError::Database)?;
    Ok((StatusCode::ACCEPTED, Json(notification)).into_response())
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match db::schema_ready(&state.pool).await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database is unreachable or not migrated\n",
            )
        }
    }
}

/// Which commit this deploy runs (Factor I).
async fn version() -> Json<Value> {
    Json(json!({ "commit": build_info::COMMIT, "dirty": build_info::dirty() }))
}

/// Which release this process runs: the release id from its environment, the commit from its
/// build (Factor V).
async fn release(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "release": state.config.release_id, "commit": build_info::COMMIT }))
}

/// The longest `GET /slow` will sleep.
const MAX_SLOW_MS: u64 = 120_000;

#[derive(Deserialize)]
struct SlowParams {
    ms: u64,
}

/// A request that takes as long as asked (capped): it stands in for a slow report or upload,
/// a request in flight when the process is told to stop (Factor IX's checks and the deploy demo).
async fn slow(Query(params): Query<SlowParams>) -> Json<Value> {
    let ms = params.ms.min(MAX_SLOW_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({ "slept_ms": ms }))
}

/// A backing service could not serve a request: log which, answer `503`, keep running.
enum AppError {
    Redis(anyhow::Error),
    Database(anyhow::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (service, err) = match self {
            AppError::Redis(err) => ("redis", err),
            AppError::Database(err) => ("postgres", err),
        };
        tracing::error!(service, error = %format!("{err:#}"), "{service} is unavailable; answering 503");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{service} is unavailable; try again shortly\n"),
        )
            .into_response()
    }
}

/// Binds at once (ready within milliseconds), serves until SIGTERM or SIGINT, then drains: no new
/// connections, idle keep-alive connections closed, requests in flight finish for at most the
/// grace period, and the process exits 0 on its own terms before the platform's SIGKILL.
pub async fn run(config: WebConfig, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let pool = db::connect(&config.database)?;
    let store = Store::connect(&config.redis)?;
    let listener = tokio::net::TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on PORT {} (host {})",
                config.port, config.host
            )
        })?;
    tracing::info!(
        port = config.port,
        host = %config.host,
        database = %config.database.redacted(),
        redis = %config.redis.redacted(),
        deploy = %config.deploy_name,
        release = %config.release_id,
        commit = build_info::COMMIT,
        "web process listening"
    );
    let grace = config.grace;
    let state = AppState {
        pool: pool.clone(),
        store,
        config: Arc::new(config),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let mut server = std::pin::pin!(server.into_future());
    let signal = tokio::select! {
        result = &mut server => {
            result.context("the server stopped")?;
            return Ok(());
        }
        signal = shutdown.recv() => signal,
    };
    tracing::info!(
        signal,
        "stopping: no new connections, finishing the requests in flight"
    );
    let _ = stop.send(());
    match tokio::time::timeout(grace, &mut server).await {
        Ok(result) => result.context("the server failed while draining")?,
        Err(_) => tracing::warn!("requests still in flight after {grace:?}: exiting without them"),
    }
    db::close(&pool).await;
    tracing::info!("web process stopped");
    Ok(())
}
