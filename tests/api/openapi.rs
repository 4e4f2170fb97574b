//! The API's contract (`/api/v1/openapi.json`), checked from outside: by PyPI's
//! openapi-spec-validator, by Schemathesis fuzzing every operation of a live server with an
//! admin token (no 5xx, every answer's status, type, headers and body as documented), and
//! against the routes the server really has. (`.ci/run` installs both tools from PyPI.)

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Engine, on_both_engines, spawn_app};

on_both_engines!(
    the_contract_passes_an_outside_validator_and_schemathesis_finds_nothing_wrong,
    every_route_is_in_the_contract_and_every_documented_operation_exists,
);

/// A Python tool installed from PyPI, or `None` (said, and refused under CI) when it is not.
fn python_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|folder| folder.join(name)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(std::env::var("CI").is_err(), "{name} must be installed under CI (.ci/run installs it)");
        eprintln!("SKIPPED: {name} is not installed (python3 -m pip install {name})");
    }
    found
}

async fn contract(app: &crate::helpers::TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("the contract is JSON")
}

async fn the_contract_passes_an_outside_validator_and_schemathesis_finds_nothing_wrong(engine: Engine) {
    let Some(validator) = python_tool("openapi-spec-validator") else { return };
    let Some(schemathesis) = python_tool("st") else { return };
    let app = spawn_app(engine).await;
    // Something to find: a campaign with branches and gifts in its ledger.
    app.create_campaign("office").await;
    app.give("office", "40.00", Some("montreal")).await;
    app.give("office", "25.00", None).await;

    let document = contract(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).expect("written");
    let checked = Command::new(validator).arg(&file).output().expect("openapi-spec-validator runs");
    assert!(
        checked.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let schema_url = app.url("/api/v1/openapi.json");
    let base_url = app.url("/");
    let bearer = format!("Authorization: Bearer {}", app.admin_token);
    let report = folder.path().to_path_buf();
    let fuzz = move || {
        let run = Command::new(&schemathesis)
            .args(["run", &schema_url, "--url", &base_url, "-H", &bearer])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance",
                // A live stream never ends; the progress tests read it.
                "--exclude-path-regex",
                "/progress/stream$",
                "--max-examples",
                "40",
                // The same cases on every run, so that CI is repeatable.
                "--seed",
                "20261206",
                "--generation-database",
                "none",
                "--generation-with-security-parameters",
                "false",
                "--request-timeout",
                "20",
                // One worker: CPython 3.11 before 3.11.8 raises "AST constructor recursion
                // depth mismatch" when two threads parse at once (python/cpython#106905), which
                // Hypothesis does to describe its strategies.
                "--workers",
                "1",
                "--no-color",
            ])
            .current_dir(&report)
            .output()
            .expect("schemathesis runs");
        let said = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
        (run.status.success(), said)
    };
    let (passed, said) = tokio::task::spawn_blocking(move || {
        // Schemathesis itself may crash while generating (a Python "Runtime Error", no
        // request sent): that run says nothing of the API, so it is run again, up to three
        // times in all. A failure found in the API is never retried.
        let crashed_only = |said: &str| said.contains("Runtime Error") && !said.contains("Failures:");
        let mut run = fuzz();
        for _ in 1..3 {
            if run.0 || !crashed_only(&run.1) {
                break;
            }
            eprintln!("Schemathesis crashed on its own; running it again:\n{}", run.1);
            run = fuzz();
        }
        run
    })
    .await
    .expect("schemathesis ends");
    assert!(passed, "Schemathesis found something:\n{said}");
    assert!(said.contains("Tested:"), "Schemathesis tested the operations:\n{said}");
    eprintln!("Schemathesis on {engine:?}:{}", said.split("SUMMARY").nth(1).unwrap_or(&said));

    // Whatever the fuzzing recorded, the books still balance.
    let check = app.cli(&["check"]);
    assert!(
        check.status.success(),
        "appeal check after the fuzzing: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Every `.rs` file under `folder`.
fn sources(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).expect("a source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

/// The paths given to axum's `.route(…)` in the sources: a route added that way bypasses
/// `routes!`, which is what puts a route in the contract.
fn plain_routes() -> Vec<String> {
    let mut routes = Vec::new();
    for file in sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let text = std::fs::read_to_string(&file).expect("readable");
        for piece in text.split(".route(").skip(1) {
            let piece = piece.trim_start();
            if let Some(rest) = piece.strip_prefix('"') {
                routes.push(rest.split('"').next().unwrap_or_default().to_owned());
            }
        }
    }
    routes
}

async fn every_route_is_in_the_contract_and_every_documented_operation_exists(engine: Engine) {
    let app = spawn_app(engine).await;
    let document = contract(&app).await;
    let paths = document["paths"].as_object().expect("paths");

    let routes = plain_routes();
    assert!(routes.iter().any(|route| route == "/c/{slug}"), "the pages' routes are found: {routes:?}");
    for route in routes.iter().filter(|route| route.starts_with("/api/v1")) {
        assert!(paths.contains_key(route), "{route} is served but not in the contract");
    }

    // And every documented operation is served: the router's own "no such endpoint" and
    // "method not allowed" never answer one.
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().expect("an item").keys() {
            let address = path.replace("{slug}", "no-such-campaign").replace("{id}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let mut request =
                app.client.request(method.clone(), app.url(&address)).bearer_auth(&app.admin_token);
            if method != Method::GET {
                request = request.json(&json!({}));
            }
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {body}");
            assert!(!body.contains("No such page or endpoint"), "{method} {path} is documented, not served");
            operations += 1;
        }
    }
    assert!(operations >= 36, "{operations} operations");

    // The page that reads the contract: every operation on it, no script, no other origin.
    let page = app.get("/api/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"].to_str().expect("a policy").to_owned();
    assert!(policy.contains("default-src 'self'") || policy.contains("default-src 'none'"), "{policy}");
    let html = page.text().await.expect("HTML");
    assert!(!html.contains("<script"), "the page needs no script");
    // (An example may show an address; no attribute points at one.)
    for attribute in ["src=\"http", "href=\"http", "url(http"] {
        assert!(!html.contains(attribute), "the page loads nothing from elsewhere ({attribute})");
    }
    for path in paths.keys() {
        assert!(html.contains(&path.replace('/', "&#x2f;")), "{path} is on the page");
    }
    assert!(html.contains("id=\"schema-EntryBody\""));
}
