//! The HTTP API on `api_listen`: status, explain, reload, drains, fleet reports, metrics,
//! and its own OpenAPI description.
//!
//! `router(state)` builds the axum `Router`; handlers read the live snapshot or ask the
//! control task, and compute no answers themselves (`explain` calls `route::decide`). Every
//! POST and the fleet endpoints need `Authorization: Bearer <fleet token>` (the scheme in
//! any case), checked by [`require_token`] from the headers alone, before any body is
//! read, and compared in time that does not depend on where the bytes differ (only the
//! length can show). A body must then arrive whole within `api_body_timeout`. Report
//! batches are rate-limited per prober name (`limit`). Errors are [`ApiError`]: a status
//! code and a JSON reason; the control plane's typed errors map onto it here, and only
//! internal faults are logged. The socket side (TLS, timeouts, caps) is `listener`.

mod limit;
pub mod listener;
mod metrics;
mod page;
mod status;

use crate::control::{ControlHandle, DrainError, ReloadError, ReportError, Stopped};
use crate::dns::stats::StatsRegistry;
use crate::explain::{ExplainError, explain, parse_client};
use crate::health::fleet::{ReportBatch, TargetList};
use crate::health::store::BatchError;
use crate::route::Family;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;

pub use limit::{Limited, ReportLimiter};
pub use status::{Status, status};

/// Largest report batch body accepted.
const MAX_BODY: usize = 8 << 20;
/// How long a request body may take to arrive, unless `serve` sets `api_body_timeout`.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The control task (named `health` for the handlers that read health through it).
    pub health: ControlHandle,
    pub stats: Arc<StatsRegistry>,
    pub token: Arc<str>,
    pub config_path: PathBuf,
    /// A request body must be read whole within this.
    pub body_timeout: Duration,
    limiter: Arc<Mutex<ReportLimiter>>,
    /// Refused report batches, for `/metrics` and `/v1/status`.
    pub refusals: Arc<metrics::Refusals>,
    /// What the listener did with connections, for `/metrics`.
    pub connections: Arc<listener::ConnectionStats>,
}

impl ApiState {
    pub fn new(
        health: ControlHandle,
        stats: Arc<StatsRegistry>,
        token: String,
        config_path: PathBuf,
    ) -> ApiState {
        ApiState::with_limiter(
            health,
            stats,
            token,
            config_path,
            ReportLimiter::new(crate::control::now()),
        )
    }

    /// Like [`ApiState::new`], with the report limiter given (tests use small rates).
    pub fn with_limiter(
        health: ControlHandle,
        stats: Arc<StatsRegistry>,
        token: String,
        config_path: PathBuf,
        limiter: ReportLimiter,
    ) -> ApiState {
        ApiState {
            health,
            stats,
            token: token.into(),
            config_path,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            limiter: Arc::new(Mutex::new(limiter)),
            refusals: Arc::default(),
            connections: Arc::default(),
        }
    }
}

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, a bad query parameter, a refused batch).
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    /// The request is well formed but what it asks for cannot be done as things are (a
    /// reload of a configuration that has errors).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    TooMany(String),
    /// The server is shutting down: the control task no longer takes requests.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on the server's side (cannot write state_dir, a loader bug); logged.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(reason) = &self {
            tracing::error!("api: {reason}");
        }
        let mut response = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<Stopped> for ApiError {
    fn from(e: Stopped) -> ApiError {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<ReloadError> for ApiError {
    fn from(e: ReloadError) -> ApiError {
        match e {
            ReloadError::Invalid(_) => ApiError::Unprocessable(e.to_string()),
            ReloadError::Stopped(s) => s.into(),
            ReloadError::Internal(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<DrainError> for ApiError {
    fn from(e: DrainError) -> ApiError {
        match e {
            DrainError::UnknownRegion { .. } => ApiError::NotFound(e.to_string()),
            DrainError::Stopped(s) => s.into(),
            DrainError::NotSaved { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> ApiError {
        match e {
            // The server's capacity, not the prober's fault: retry once a name is forgotten.
            ReportError::Refused(BatchError::TooManyProbers) => {
                ApiError::Unavailable(e.to_string())
            }
            ReportError::Refused(_) => ApiError::BadRequest(e.to_string()),
            ReportError::Stopped(s) => s.into(),
        }
    }
}

/// Every route the API answers: method and path, in axum's notation. [`router`] is built
/// from this list and nothing else, and `docs/openapi.json` (served at
/// `/v1/openapi.json`) describes exactly these; a unit test and an integration test hold
/// the three together. A new route goes here, in [`handler`] and in the document.
pub const ROUTES: [(&str, &str); 10] = [
    ("GET", "/"),
    ("GET", "/metrics"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/status"),
    ("GET", "/v1/explain"),
    ("POST", "/v1/reload"),
    ("POST", "/v1/regions/{region}/drain"),
    ("POST", "/v1/regions/{region}/undrain"),
    ("GET", "/v1/fleet/targets"),
    ("POST", "/v1/fleet/reports"),
];

/// The OpenAPI 3.1 description of this API, written by hand next to `docs/reference.md`.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// The API's routes: [`ROUTES`], each with its handler.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for (method, path) in ROUTES {
        router = router.route(path, handler(method, path, &state));
    }
    // Route layers run outermost last: the token is checked first, then the body read.
    router
        .route_layer(from_fn_with_state(state.clone(), read_body))
        .route_layer(from_fn_with_state(state.clone(), require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The handler of one entry of [`ROUTES`].
fn handler(method: &str, path: &str, state: &ApiState) -> MethodRouter<ApiState> {
    match (method, path) {
        ("GET", "/") => get(page::index),
        ("GET", "/metrics") => get(metrics::metrics),
        ("GET", "/v1/openapi.json") => get(get_openapi),
        ("GET", "/v1/status") => get(get_status),
        ("GET", "/v1/explain") => get(get_explain),
        ("POST", "/v1/reload") => post(post_reload),
        ("POST", "/v1/regions/{region}/drain") => post(post_drain),
        ("POST", "/v1/regions/{region}/undrain") => post(post_undrain),
        ("GET", "/v1/fleet/targets") => get(get_targets),
        ("POST", "/v1/fleet/reports") => {
            post(post_reports).layer(from_fn_with_state(state.clone(), metrics::count_refusals))
        }
        _ => unreachable!("{method} {path} is in ROUTES but has no handler"),
    }
}

/// Whether a request needs the fleet token: every POST, and the fleet endpoints.
fn needs_token(method: &Method, path: &str) -> bool {
    method != Method::GET && method != Method::HEAD || path.starts_with("/v1/fleet/")
}

/// Layer on every route: a request that needs the token and lacks it is answered 401
/// from its headers, before anything reads its body.
async fn require_token(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if needs_token(request.method(), request.uri().path())
        && let Err(e) = authorize(&state, request.headers())
    {
        if request.uri().path() == "/v1/fleet/reports" {
            state.refusals.count(metrics::Refusal::Unauthorized, None);
        }
        return e.into_response();
    }
    next.run(request).await
}

/// Layer on every route, inside [`require_token`]: reads the body whole within the body
/// timeout (408 otherwise) and at most [`MAX_BODY`] bytes (413), so no handler waits on
/// a slow client.
async fn read_body(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let reports = parts.uri.path() == "/v1/fleet/reports";
    let refused = |status: StatusCode, reason: String| {
        if reports {
            state.refusals.count(metrics::Refusal::Invalid, None);
        }
        let mut response = (status, Json(serde_json::json!({ "error": reason }))).into_response();
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        response
    };
    let bytes = match tokio::time::timeout(state.body_timeout, axum::body::to_bytes(body, MAX_BODY))
        .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            return refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the request body (at most {MAX_BODY} bytes): {e}"),
            );
        }
        Err(_) => {
            return refused(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {}",
                    humantime::format_duration(state.body_timeout)
                ),
            );
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Checks `Authorization: Bearer <token>` (the scheme in any case) in constant time.
fn authorize(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim_start_matches(' '));
    let ok: bool = given.as_bytes().ct_eq(state.token.as_bytes()).into();
    if ok && !state.token.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

async fn get_openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn get_status(State(state): State<ApiState>) -> Result<Json<Status>, ApiError> {
    Ok(Json(status(&state).await?))
}

#[derive(Debug, Deserialize)]
struct ExplainQuery {
    name: String,
    #[serde(rename = "type", default)]
    qtype: Option<String>,
    client: String,
}

async fn get_explain(
    State(state): State<ApiState>,
    Query(q): Query<ExplainQuery>,
) -> Result<Response, ApiError> {
    let family = match q.qtype.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("A") => Family::V4,
        Some("AAAA") => Family::V6,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "type {other}: only A and AAAA are load-balanced"
            )));
        }
    };
    let (addr, prefix) = parse_client(&q.client).map_err(ApiError::BadRequest)?;
    let snapshot = state.health.live().load_full();
    match explain(&snapshot, &q.name, family, addr, prefix) {
        Ok(e) => Ok(Json(e).into_response()),
        Err(e @ ExplainError::BadName(_)) => Err(ApiError::BadRequest(e.to_string())),
        Err(e) => Err(ApiError::NotFound(e.to_string())),
    }
}

async fn post_reload(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let summary = state.health.reload(&state.config_path).await?;
    Ok(Json(serde_json::json!({ "reloaded": true, "loaded": summary })).into_response())
}

async fn drain(state: ApiState, region: String, drained: bool) -> Result<Response, ApiError> {
    let changed = state.health.drain(&region, drained).await?;
    Ok(
        Json(serde_json::json!({ "region": region, "drained": drained, "changed": changed }))
            .into_response(),
    )
}

async fn post_drain(
    State(state): State<ApiState>,
    UrlPath(region): UrlPath<String>,
) -> Result<Response, ApiError> {
    drain(state, region, true).await
}

async fn post_undrain(
    State(state): State<ApiState>,
    UrlPath(region): UrlPath<String>,
) -> Result<Response, ApiError> {
    drain(state, region, false).await
}

async fn get_targets(State(state): State<ApiState>) -> Result<Json<TargetList>, ApiError> {
    let targets = state.health.targets().borrow().as_ref().clone();
    Ok(Json(TargetList { targets }))
}

async fn post_reports(
    State(state): State<ApiState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let batch: ReportBatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("bad report batch: {e}")))?;
    let (taken, per_second) = {
        let mut limiter = state.limiter.lock().unwrap_or_else(|e| e.into_inner());
        let taken = limiter.take(&batch.prober, crate::control::now());
        (taken, limiter.per_second())
    };
    match taken {
        Ok(()) => {}
        Err(Limited::Prober) => {
            return Err(ApiError::TooMany(format!(
                "prober {:?} sent more than {per_second} report batches per second; slow down",
                batch.prober
            )));
        }
        Err(Limited::Global) => {
            return Err(ApiError::TooMany(
                "the fleet as a whole is sending more report batches than this server takes; \
                 slow down"
                    .into(),
            ));
        }
    }
    let (accepted, ignored) = state.health.report(batch).await?;
    Ok(Json(serde_json::json!({ "accepted": accepted, "ignored": ignored })).into_response())
}

#[cfg(test)]
mod tests;
