//! The HTTP API on `api_listen`: status, explain, reload, drains, fleet reports, metrics.
//!
//! `router(state)` builds the axum `Router`; handlers read the live snapshot or ask the
//! control task, and compute no answers themselves (`explain` calls `route::decide`). Every
//! POST and the fleet endpoints need `Authorization: Bearer <fleet token>`, compared in
//! time that does not depend on where the bytes differ (only the length can show). Errors are [`ApiError`]: a status code and a JSON reason; the control
//! plane's typed errors map onto it here, and only internal faults are logged.

mod metrics;
mod page;
mod status;

use crate::control::{ControlHandle, DrainError, ReloadError, ReportError, Stopped};
use crate::dns::stats::StatsRegistry;
use crate::explain::{ExplainError, explain, parse_client};
use crate::health::fleet::{ReportBatch, TargetList};
use crate::route::Family;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use subtle::ConstantTimeEq;

pub use status::{Status, status};

/// Largest report batch body accepted.
const MAX_BODY: usize = 8 << 20;
/// Report batches accepted per second (a burst of twice this is allowed).
const REPORTS_PER_SECOND: f64 = 200.0;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The control task (named `health` for the handlers that read health through it).
    pub health: ControlHandle,
    pub stats: Arc<StatsRegistry>,
    pub token: Arc<str>,
    pub config_path: PathBuf,
    limiter: Arc<Mutex<Bucket>>,
    /// Refused report batches, for `/metrics` and `/v1/status`.
    pub refusals: Arc<metrics::Refusals>,
}

impl ApiState {
    pub fn new(
        health: ControlHandle,
        stats: Arc<StatsRegistry>,
        token: String,
        config_path: PathBuf,
    ) -> ApiState {
        let limiter = Bucket {
            tokens: 2.0 * REPORTS_PER_SECOND,
            at: Instant::now(),
        };
        ApiState {
            health,
            stats,
            token: token.into(),
            config_path,
            limiter: Arc::new(Mutex::new(limiter)),
            refusals: Arc::default(),
        }
    }
}

/// A token bucket bounding how fast report batches are taken.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * REPORTS_PER_SECOND;
        self.tokens = (self.tokens + refill).min(2.0 * REPORTS_PER_SECOND);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
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
    #[error("too many report batches; slow down")]
    TooMany,
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
            ApiError::TooMany => StatusCode::TOO_MANY_REQUESTS,
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
            ReportError::Refused(_) => ApiError::BadRequest(e.to_string()),
            ReportError::Stopped(s) => s.into(),
        }
    }
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/status", get(get_status))
        .route("/v1/explain", get(get_explain))
        .route("/v1/reload", post(post_reload))
        .route("/v1/regions/{region}/drain", post(post_drain))
        .route("/v1/regions/{region}/undrain", post(post_undrain))
        .route("/v1/fleet/targets", get(get_targets))
        .route(
            "/v1/fleet/reports",
            post(post_reports).layer(axum::middleware::from_fn_with_state(
                state.clone(),
                metrics::count_refusals,
            )),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Checks `Authorization: Bearer <token>` in constant time.
fn authorize(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok: bool = given.as_bytes().ct_eq(state.token.as_bytes()).into();
    if ok && !state.token.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
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

async fn post_reload(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let summary = state.health.reload(&state.config_path).await?;
    Ok(Json(serde_json::json!({ "reloaded": true, "loaded": summary })).into_response())
}

async fn drain(
    state: ApiState,
    headers: HeaderMap,
    region: String,
    drained: bool,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let changed = state.health.drain(&region, drained).await?;
    Ok(
        Json(serde_json::json!({ "region": region, "drained": drained, "changed": changed }))
            .into_response(),
    )
}

async fn post_drain(
    State(state): State<ApiState>,
    headers: HeaderMap,
    UrlPath(region): UrlPath<String>,
) -> Result<Response, ApiError> {
    drain(state, headers, region, true).await
}

async fn post_undrain(
    State(state): State<ApiState>,
    headers: HeaderMap,
    UrlPath(region): UrlPath<String>,
) -> Result<Response, ApiError> {
    drain(state, headers, region, false).await
}

async fn get_targets(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<TargetList>, ApiError> {
    authorize(&state, &headers)?;
    let targets = state.health.targets().borrow().as_ref().clone();
    Ok(Json(TargetList { targets }))
}

async fn post_reports(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    if !state
        .limiter
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        return Err(ApiError::TooMany);
    }
    let batch: ReportBatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("bad report batch: {e}")))?;
    let (accepted, ignored) = state.health.report(batch).await?;
    Ok(Json(serde_json::json!({ "accepted": accepted, "ignored": ignored })).into_response())
}

#[cfg(test)]
mod tests;
