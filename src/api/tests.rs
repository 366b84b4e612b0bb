//! The router without a socket (`router(state).oneshot(request)`): how the control plane's
//! errors reach an HTTP client, as status code and JSON reason.

use super::*;
use crate::control::tests::{Fixture, states};
use crate::route::EndpointState::Up;
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
async fn a_drain_that_cannot_be_saved_is_500_and_changes_nothing() {
    let dir = Fixture::write();
    // A file where state_dir should be.
    std::fs::write(dir.path().join("state"), "not a directory").unwrap();
    let f = Fixture::start_in(dir);
    let state = state(&f);
    let (_, before) = call(&state, "GET", "/v1/status", None).await;
    let (status, json) = call(&state, "POST", "/v1/regions/eu-west/drain", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{json}");
    let reason = error(&json);
    assert!(
        reason.contains("\"eu-west\" was not drained")
            && reason.contains("state/health.json")
            && reason.contains("answers are unchanged"),
        "{reason}"
    );
    assert_eq!(states(&f.live).0, [Up, Up, Up], "answers did not move");
    let (_, after) = call(&state, "GET", "/v1/status", None).await;
    assert_eq!(before["regions"], after["regions"], "status unchanged");
    assert_eq!(after["regions"][0]["drained"], false);
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
    let rows: [(ApiError, StatusCode); 5] = [
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
        // The server's prober table is full: its capacity, not the prober's error.
        (
            ReportError::Refused(crate::health::store::BatchError::TooManyProbers).into(),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            ReportError::Refused(crate::health::store::BatchError::BadProber).into(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (error, status) in rows {
        assert_eq!(error.status(), status, "{error}");
    }
}

/// A request body that fails the test if anything reads it.
struct Untouchable;

impl axum::body::HttpBody for Untouchable {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        panic!("the body was read before the token was checked");
    }
}

#[tokio::test]
async fn a_request_without_the_token_is_401_before_its_body_is_read() {
    // Issue 10, point 5: today an unauthenticated 8 MB body was buffered first.
    let f = Fixture::start();
    let state = state(&f);
    for (path, authorization) in [
        ("/v1/fleet/reports", None),
        ("/v1/fleet/reports", Some("Bearer wrong-token-0123456789")),
        ("/v1/regions/eu-west/drain", Some("Basic dXNlcjpwYXNz")),
        ("/v1/reload", None),
    ] {
        let mut request = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_LENGTH, (8 << 20).to_string());
        if let Some(a) = authorization {
            request = request.header(header::AUTHORIZATION, a);
        }
        let request = request.body(Body::new(Untouchable)).unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
    assert_eq!(state.refusals.total(metrics::Refusal::Unauthorized), 2);
    assert_eq!(states(&f.live).0, [Up, Up, Up]);
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_in_any_case() {
    let f = Fixture::start();
    let state = state(&f);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let request = Request::builder()
            .uri("/v1/fleet/targets")
            .header(header::AUTHORIZATION, format!("{scheme} {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
    let request = Request::builder()
        .uri("/v1/fleet/targets")
        .header(header::AUTHORIZATION, TOKEN)
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "no scheme");
}

#[tokio::test(start_paused = true)]
async fn a_flooding_prober_gets_429_and_the_honest_ones_votes_stay_fresh() {
    // Issue 10, point 7: one limiter for all let a flooder starve the honest prober.
    let f = Fixture::start();
    let limiter = ReportLimiter::with_rates(5.0, 1000.0, 64, crate::control::now());
    let state = ApiState::with_limiter(
        f.control.clone(),
        Arc::new(StatsRegistry::default()),
        TOKEN.into(),
        Fixture::config_path(f.dir.path()),
        limiter,
    );
    let eu = f.target(0);
    let batch = |prober: &str, up: bool| {
        serde_json::json!({
            "prober": prober, "region": "us-east",
            "reports": [{ "target": eu, "up": up, "reason": "" }],
        })
        .to_string()
    };
    let mut flooder_limited = 0;
    // Ten seconds: the honest prober says up every half second (first, as it was there
    // first), the flooder says down 50 times a second.
    for step in 0..500 {
        if step % 25 == 0 {
            let (status, json) = call(
                &state,
                "POST",
                "/v1/fleet/reports",
                Some(&batch("honest", true)),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "honest at step {step}: {json}");
        }
        let (status, _) = call(
            &state,
            "POST",
            "/v1/fleet/reports",
            Some(&batch("flooder", false)),
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            flooder_limited += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(flooder_limited > 400, "{flooder_limited} of 500 limited");
    let (_, json) = call(
        &state,
        "POST",
        "/v1/fleet/reports",
        Some(&batch("flooder", false)),
    )
    .await;
    assert!(
        error(&json).contains("\"flooder\" sent more than 5 report batches per second"),
        "{json}"
    );
    let (_, status) = call(&state, "GET", "/v1/status", None).await;
    let votes = &status["services"][0]["endpoints"][0]["votes"];
    let honest = votes
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["prober"] == "honest")
        .unwrap_or_else(|| panic!("{votes}"));
    assert_eq!(honest["fresh"], true, "{votes}");
    // One fresh "down" against one fresh "up" is no majority: the endpoint stays up.
    assert_eq!(states(&f.live).0, [Up, Up, Up]);
    assert_eq!(
        state.refusals.total(metrics::Refusal::RateLimited),
        flooder_limited + 1
    );
}

#[tokio::test(start_paused = true)]
async fn a_prober_silent_for_an_hour_disappears_from_status() {
    let f = Fixture::start();
    let state = state(&f);
    f.vote("quiet", 0, true).await;
    // And one whose only batch was refused (a target twice).
    let eu = f.target(0);
    let twice = serde_json::json!({
        "prober": "refused-one", "region": "ap-south",
        "reports": [{ "target": eu, "up": true }, { "target": eu, "up": false }],
    })
    .to_string();
    let (status, _) = call(&state, "POST", "/v1/fleet/reports", Some(&twice)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let names = |status: &serde_json::Value| -> Vec<String> {
        status["probers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, status) = call(&state, "GET", "/v1/status", None).await;
    assert_eq!(names(&status), ["quiet", "refused-one"]);
    tokio::time::sleep(Duration::from_secs(3599)).await;
    let (_, status) = call(&state, "GET", "/v1/status", None).await;
    assert_eq!(names(&status), ["quiet", "refused-one"], "within the hour");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, status) = call(&state, "GET", "/v1/status", None).await;
    assert!(names(&status).is_empty(), "{status:#}");
    assert!(status["viewpoints"].as_array().unwrap().is_empty());
    let votes = &status["services"][0]["endpoints"][0]["votes"];
    assert!(votes.as_array().unwrap().is_empty(), "{votes}");
}

#[test]
fn the_openapi_document_describes_exactly_the_route_table() {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("docs/openapi.json is JSON");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            documented.push((method.to_ascii_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut routes: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    routes.sort();
    assert_eq!(documented, routes);
}

#[tokio::test]
async fn every_route_of_the_table_is_served() {
    let f = Fixture::start();
    let state = state(&f);
    for (method, path) in ROUTES {
        let path = path.replace("{region}", "eu-west");
        // Without the token, so nothing changes; a route that is not there is axum's 404.
        let request = Request::builder()
            .method(method)
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        assert_ne!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_ne!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
    let (status, json) = call(&state, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["openapi"], "3.1.0");
}
