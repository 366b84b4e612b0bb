//! The router without a socket (`router(state).oneshot(request)`): how the control plane's
//! errors reach an HTTP client, as status code and JSON reason.

use super::*;
use crate::control::tests::{Fixture, states};
use crate::route::EndpointState::{Drained, Up};
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

const TOKEN: &str = "unit-test-fleet-token-0123";

fn state(f: &Fixture) -> ApiState {
    ApiState::new(
        f.control.clone(),
        Arc::new(StatsRegistry::default()),
        TOKEN.into(),
        Fixture::config_path(f.dir.path()),
    )
}

/// Sends one request with the fleet token; the status and the JSON body.
async fn call(
    state: &ApiState,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.unwrap_or("").to_string()))
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, json)
}

fn error(json: &serde_json::Value) -> &str {
    json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {json}"))
}

#[tokio::test]
async fn draining_an_unknown_region_is_404_naming_the_known_ones() {
    let f = Fixture::start();
    let (status, json) = call(&state(&f), "POST", "/v1/regions/eu-wset/drain", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    assert_eq!(
        error(&json),
        "unknown region \"eu-wset\" (known: eu-west, us-east, ap-south)"
    );
    assert_eq!(states(&f.live).0, [Up, Up, Up]);
}

#[tokio::test]
async fn a_drain_that_cannot_be_saved_is_500_and_the_drain_still_applies() {
    let dir = Fixture::write();
    // A file where state_dir should be.
    std::fs::write(dir.path().join("state"), "not a directory").unwrap();
    let f = Fixture::start_in(dir);
    let (status, json) = call(&state(&f), "POST", "/v1/regions/eu-west/drain", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{json}");
    let reason = error(&json);
    assert!(
        reason.contains("\"eu-west\" is drained in answers")
            && reason.contains("state/health.json")
            && reason.contains("lost if the server restarts"),
        "{reason}"
    );
    assert_eq!(states(&f.live).0, [Drained, Up, Up], "answers moved anyway");
}

#[tokio::test]
async fn a_stopped_control_task_is_503() {
    let f = Fixture::start();
    let state = state(&f);
    f.control.stop().await;
    let batch = r#"{"prober": "p1", "region": "us-east", "reports": []}"#;
    for (method, path, body) in [
        ("POST", "/v1/regions/eu-west/drain", None),
        ("POST", "/v1/regions/eu-west/undrain", None),
        ("POST", "/v1/fleet/reports", Some(batch)),
        ("POST", "/v1/reload", None),
        ("GET", "/v1/status", None),
    ] {
        let (status, json) = call(&state, method, path, body).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}: {json}"
        );
        assert!(error(&json).contains("stopped"), "{json}");
    }
}

#[tokio::test]
async fn a_reload_of_broken_files_is_422_with_file_and_line() {
    let f = Fixture::start();
    std::fs::write(
        f.dir.path().join("zones/example.com.toml"),
        "[services.app]\nttl = \"soon\"\n",
    )
    .unwrap();
    let (status, json) = call(&state(&f), "POST", "/v1/reload", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    let reason = error(&json);
    assert!(
        reason.contains("still serving the previous configuration"),
        "{reason}"
    );
    assert!(reason.contains("example.com.toml:2"), "{reason}");
}

#[tokio::test]
async fn a_refused_batch_is_400_and_changes_nothing() {
    let f = Fixture::start();
    let batch = r#"{"prober": "bad name!", "region": "us-east", "reports": []}"#;
    let (status, json) = call(&state(&f), "POST", "/v1/fleet/reports", Some(batch)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert!(
        error(&json).starts_with("report batch refused: prober name"),
        "{json}"
    );
    let probers = f.control.inspect(|s| s.probers.len()).await.unwrap();
    assert_eq!(probers, 0);
}

#[test]
fn control_plane_errors_map_to_status_codes() {
    // (error, status): the variants the tests above cannot reach through a request.
    let rows: [(ApiError, StatusCode); 3] = [
        (
            ReloadError::Internal("loader panicked".into()).into(),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (
            ReloadError::Stopped(Stopped).into(),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            ReportError::Stopped(Stopped).into(),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (error, status) in rows {
        assert_eq!(error.status(), status, "{error}");
    }
}
