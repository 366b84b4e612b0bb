//! `GET /v1/openapi.json`: the OpenAPI document the server serves describes the API it
//! answers. Its routes are exactly the server's (the route table `router` is built from,
//! and each route answering as documented, each other method 405), its auth is what the
//! server asks for, and real responses, status and body, fit what it says.
//!
//! No prober runs here; endpoint addresses are 127.0.70.x (never probed).

use crate::util::{FLEET_TOKEN, Server, check_schema, fleet_fixture, http, resolve_ref};
use std::collections::BTreeSet;

const APP: &str = "app.example.com";

/// A failover service `app` over eu-west and us-east with a TCP check (no prober runs).
const APP_SERVICE: &str = "[services.app]\nttl = 20\npolicy = \"failover\"\n\
     order = [\"eu-west\", \"us-east\"]\n\
     check = { kind = \"tcp\", port = 9, interval = \"1s\", timeout = \"500ms\" }\n\
     endpoints = [\n  { region = \"eu-west\", address = \"127.0.70.11\" },\n  \
     { region = \"us-east\", address = \"127.0.70.12\" },\n]\n";

/// The methods an OpenAPI path item can hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A server with a checked service and a bad state file kept aside at start (so
/// `/v1/status` has every part filled in), and its OpenAPI document fetched over HTTP.
fn server_and_document() -> (Server, serde_json::Value) {
    let server = fleet_fixture(false, APP_SERVICE)
        .file("state/health.json", "{ not json")
        .start();
    let r = http(server.api(), "GET", "/v1/openapi.json", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    (server, doc)
}

/// Every (METHOD, path template) the document describes.
fn documented(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn operation<'a>(doc: &'a serde_json::Value, method: &str, path: &str) -> &'a serde_json::Value {
    doc["paths"][path]
        .get(method.to_ascii_lowercase())
        .unwrap_or_else(|| panic!("{method} {path} is not in the document"))
}

/// Every `$ref` in the document points at something.
fn assert_refs_resolve(doc: &serde_json::Value, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(r) = map.get("$ref") {
                resolve_ref(doc, r.as_str().expect("$ref is a string")).unwrap();
            }
            map.values().for_each(|v| assert_refs_resolve(doc, v));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| assert_refs_resolve(doc, v)),
        _ => {}
    }
}

/// The path with its parameters filled in (a region that exists).
fn concrete(path: &str) -> String {
    path.replace("{region}", "eu-west")
}

#[test]
fn the_document_lists_every_route_the_server_answers_and_no_other() {
    let (server, doc) = server_and_document();
    let served: BTreeSet<(String, String)> = meridian::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented(&doc),
        served,
        "document vs the server's route table"
    );
    assert_refs_resolve(&doc, &doc);
    let mut ids = BTreeSet::new();
    for (method, path) in documented(&doc) {
        let op = operation(&doc, &method, &path);
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_string()), "operationId {id} twice");
        let responses = op["responses"].as_object().expect("responses");
        let secured = !op["security"].as_array().expect("security").is_empty();
        // Without the token, nothing changes: each route answers one of its documented
        // statuses, 401 exactly where the document asks for the token.
        let r = http(server.api(), &method, &concrete(&path), None, None);
        assert!(
            responses.contains_key(&r.status.to_string()),
            "{method} {path}: {} is not documented ({:?}): {}",
            r.status,
            responses.keys().collect::<Vec<_>>(),
            r.body
        );
        assert_eq!(
            r.status == 401,
            secured,
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        if secured {
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer"),
                "{method} {path}"
            );
        }
    }
    // Every other method on a documented path is refused by the router (405), even with
    // the token: the server answers no route the document leaves out.
    for path in doc["paths"].as_object().unwrap().keys() {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if doc["paths"][path]
                .get(method.to_ascii_lowercase())
                .is_some()
            {
                continue;
            }
            let r = http(
                server.api(),
                method,
                &concrete(path),
                Some(FLEET_TOKEN),
                Some(""),
            );
            assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
        }
    }
    // A path the document does not have is the router's empty 404.
    let r = http(server.api(), "GET", "/v1/openapi.yaml", None, None);
    assert_eq!((r.status, r.body.as_str()), (404, ""));
}

/// Sends one request and checks the reply against the document: the status is one of the
/// operation's responses, the content type one it lists, and a JSON body fits its schema.
/// `body`, when sent, is checked against the request schema and must fit it `body_fits`.
#[allow(clippy::too_many_arguments)]
fn exchange(
    server: &Server,
    doc: &serde_json::Value,
    method: &str,
    template: &str,
    path: &str,
    token: bool,
    body: Option<&str>,
    expected: u16,
) -> serde_json::Value {
    let op = operation(doc, method, template);
    if let Some(body) = body {
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        let fits = check_schema(doc, schema, &value);
        assert_eq!(
            fits.is_ok(),
            expected == 200,
            "{method} {path}: the request schema and the server disagree on {body}: {fits:?}"
        );
    }
    let r = http(
        server.api(),
        method,
        path,
        token.then_some(FLEET_TOKEN),
        body,
    );
    assert_eq!(r.status, expected, "{method} {path}: {}", r.body);
    let mut response = &op["responses"][r.status.to_string()];
    if let Some(reference) = response.get("$ref") {
        response = resolve_ref(doc, reference.as_str().unwrap()).unwrap();
    }
    assert!(
        response.is_object(),
        "{method} {template}: {} not documented",
        r.status
    );
    let content_type = r.header("content-type").unwrap_or("");
    let media = |t: &str| t.split(';').next().unwrap().trim().to_ascii_lowercase();
    let content = response["content"].as_object().expect("content");
    let (listed, entry) = content
        .iter()
        .find(|(t, _)| *t == content_type || media(t) == media(content_type))
        .unwrap_or_else(|| {
            panic!(
                "{method} {path} {}: content type {content_type:?} not in {:?}",
                r.status,
                content.keys().collect::<Vec<_>>()
            )
        });
    if listed.starts_with("application/json") {
        let value = r.json();
        check_schema(doc, &entry["schema"], &value)
            .unwrap_or_else(|e| panic!("{method} {path} {}: {e}\n{value:#}", r.status));
        if let Some(headers) = response.get("headers").and_then(|h| h.as_object()) {
            for name in headers.keys() {
                assert!(
                    r.header(name).is_some(),
                    "{method} {path}: no {name} header"
                );
            }
        }
        return value;
    }
    serde_json::Value::String(r.body)
}

#[test]
fn responses_fit_the_document() {
    let (server, doc) = server_and_document();
    let x = |method: &str, template: &str, path: &str, token: bool, body: Option<&str>, status| {
        exchange(&server, &doc, method, template, path, token, body, status)
    };
    let targets = x(
        "GET",
        "/v1/fleet/targets",
        "/v1/fleet/targets",
        true,
        None,
        200,
    );
    let target = targets["targets"][0]["id"]
        .as_str()
        .expect("a target")
        .to_string();
    let batch = serde_json::json!({
        "prober": "paris-1", "region": "paris-isp2",
        "reports": [{ "target": target, "up": false, "changing": false, "rtt_ms": null,
                      "reason": "connect: connection refused" }],
    })
    .to_string();
    let taken = x(
        "POST",
        "/v1/fleet/reports",
        "/v1/fleet/reports",
        true,
        Some(&batch),
        200,
    );
    assert_eq!(taken["accepted"], 1, "{taken}");
    let unknown_field = batch.replace("\"changing\"", "\"changed\"");
    x(
        "POST",
        "/v1/fleet/reports",
        "/v1/fleet/reports",
        true,
        Some(&unknown_field),
        400,
    );

    let status = x("GET", "/v1/status", "/v1/status", false, None, 200);
    // Every part of the status was filled in, so every schema under it was used.
    assert!(status["state_file"].is_object(), "{status:#}");
    assert!(
        !status["services"][0]["endpoints"][0]["votes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        !status["viewpoints"].as_array().unwrap().is_empty(),
        "{status:#}"
    );
    assert!(
        !status["events"].as_array().unwrap().is_empty(),
        "{status:#}"
    );
    assert!(
        !status["services"][0]["pools"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let explain = "/v1/explain";
    x(
        "GET",
        explain,
        &format!("{explain}?name={APP}&client=192.0.2.1/24"),
        false,
        None,
        200,
    );
    x(
        "GET",
        explain,
        &format!("{explain}?name={APP}&client=192.0.2.1&type=AAAA"),
        false,
        None,
        200,
    );
    x(
        "GET",
        explain,
        &format!("{explain}?name={APP}&client=nonsense"),
        false,
        None,
        400,
    );
    x(
        "GET",
        explain,
        &format!("{explain}?name={APP}"),
        false,
        None,
        400,
    );
    x(
        "GET",
        explain,
        &format!("{explain}?name=www.example.com&client=192.0.2.1"),
        false,
        None,
        404,
    );

    let drain = "/v1/regions/{region}/drain";
    let undrain = "/v1/regions/{region}/undrain";
    let d = x("POST", drain, "/v1/regions/us-east/drain", true, None, 200);
    assert_eq!(
        (&d["drained"], &d["changed"]),
        (&true.into(), &true.into()),
        "{d}"
    );
    // The drain is an event of its own shape (a region, no service), and with eu-west
    // down it makes `app` fail open: those fit too.
    let status = x("GET", "/v1/status", "/v1/status", false, None, 200);
    let kinds: Vec<&str> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["failing_open", "endpoint", "drain", "endpoint"]);
    x(
        "POST",
        undrain,
        "/v1/regions/us-east/undrain",
        true,
        None,
        200,
    );
    x("POST", drain, "/v1/regions/mars/drain", true, None, 404);
    x("POST", drain, "/v1/regions/us-east/drain", false, None, 401);

    x("POST", "/v1/reload", "/v1/reload", true, None, 200);
    x("POST", "/v1/reload", "/v1/reload", false, None, 401);
    x(
        "GET",
        "/v1/fleet/targets",
        "/v1/fleet/targets",
        false,
        None,
        401,
    );

    let page = x("GET", "/", "/", false, None, 200);
    assert!(page.as_str().unwrap().contains("<html"), "{page}");
    let metrics = x("GET", "/metrics", "/metrics", false, None, 200);
    assert!(
        metrics.as_str().unwrap().contains("# TYPE meridian_"),
        "{metrics}"
    );
    x(
        "GET",
        "/v1/openapi.json",
        "/v1/openapi.json",
        false,
        None,
        200,
    );
}
