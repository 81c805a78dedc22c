//! The web UI as the query port serves it: the redirect from `/`, the app shell on every
//! client-side route (so deep links survive a reload), each embedded asset with its content type
//! and ETag, 304s for current copies, 404s for anything else under `/ui/`, and the counting of
//! UI responses in the query metrics.

mod common;

use common::{TestServer, get};
use http::{Request, StatusCode, header};
use kiseki_server::ui::{ASSETS, asset};

async fn html_shell(server: &TestServer, path: &str) -> common::Reply {
    let reply = server.send("query", get(path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    assert_eq!(reply.content_type(), "text/html; charset=utf-8", "{path}");
    assert!(reply.text().contains(r#"<script type="module" src="/ui/app.js">"#), "{path}");
    let policy = reply.headers[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
    assert!(policy.contains("default-src 'self'"), "{path}: {policy}");
    reply
}

#[tokio::test]
async fn the_root_redirects_to_the_search_page_keeping_the_query() {
    let server = TestServer::new();
    let reply = server.send("query", get("/")).await;
    assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(reply.headers[header::LOCATION], "/search");
    let reply = server.send("query", get("/?service=checkout&lookback=6h")).await;
    assert_eq!(reply.headers[header::LOCATION], "/search?service=checkout&lookback=6h");
}

#[tokio::test]
async fn every_page_route_answers_the_app_shell_so_deep_links_survive_a_reload() {
    let server = TestServer::new();
    let shell = asset("index.html").unwrap();
    for path in [
        "/search",
        "/search?service=checkout&attr=http.route%3D%2Fcart&lookback=7d",
        "/services",
        "/services?q=cart",
        "/trace/4bf92f3577b34da6a3ce929d0e0e4736",
        "/trace/4bf92f3577b34da6a3ce929d0e0e4736?span=00f067aa0ba902b7",
        // The page says the trace is unknown or the id malformed; the shell is served either way.
        "/trace/not-hex",
    ] {
        let reply = html_shell(&server, path).await;
        assert_eq!(&reply.body[..], shell.body, "{path}");
    }
}

#[tokio::test]
async fn every_asset_is_served_with_its_content_type_and_validators() {
    let server = TestServer::new();
    for asset in ASSETS {
        let path = format!("/ui/{}", asset.path);
        let reply = server.send("query", get(&path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(&reply.body[..], asset.body, "{path}");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        let expected_type = match asset.path.rsplit_once('.').map(|(_, e)| e) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("html") => "text/html; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("{path}: no expected type for {other:?}"),
        };
        assert_eq!(reply.content_type(), expected_type, "{path}");
        assert!(reply.headers.contains_key(header::ETAG), "{path}");
    }
}

#[tokio::test]
async fn a_current_copy_gets_a_304_and_a_stale_one_the_file() {
    let server = TestServer::new();
    let first = server.send("query", get("/ui/app.js")).await;
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong validator: {etag}");

    for if_none_match in [etag.clone(), format!("W/{etag}"), format!("\"stale\", {etag}")] {
        let request = Request::get("/ui/app.js")
            .header(header::IF_NONE_MATCH, &if_none_match)
            .body(axum::body::Body::empty())
            .unwrap();
        let reply = server.send("query", request).await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{if_none_match}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.headers[header::ETAG].to_str().unwrap(), etag);
    }

    let request = Request::get("/ui/app.js")
        .header(header::IF_NONE_MATCH, "\"0000000000000000\"")
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = server.send("query", request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&reply.body[..], first.body);

    // The shell's tag differs from every asset's, so a new build's shell is fetched again.
    let shell = server.send("query", get("/search")).await;
    assert_ne!(shell.headers[header::ETAG], first.headers[header::ETAG]);
}

#[tokio::test]
async fn anything_else_under_ui_is_a_404() {
    let server = TestServer::new();
    for path in [
        "/ui/missing.js",
        "/ui/APP.JS",
        "/ui/../Cargo.toml",
        "/ui/%2e%2e/src/lib.rs",
        "/ui/",
        "/ui",
        "/ui/app.js/extra",
        "/trace",
        "/trace/",
        "/search/deeper",
    ] {
        let reply = server.send("query", get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.text());
        assert!(!reply.content_type().starts_with("text/javascript"), "{path}");
    }
}

#[tokio::test]
async fn the_shell_and_the_modules_only_name_files_that_are_embedded() {
    let shell = std::str::from_utf8(asset("index.html").unwrap().body).unwrap();
    for reference in shell.split("\"/ui/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(asset(name).is_some(), "index.html names /ui/{name}, which is not embedded");
    }
    for module in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
        let reference = format!("\"/ui/{}\"", module.path);
        assert!(
            shell.contains(&reference),
            "index.html neither loads nor preloads {}",
            module.path
        );
    }
    let mut imports = 0;
    for module in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
        let text = std::str::from_utf8(module.body).unwrap();
        assert!(
            !text.contains("from \"") && !text.contains("import("),
            "{}: imports use 'x'",
            module.path
        );
        for reference in text.split(" from '").skip(1) {
            let name = reference.split('\'').next().unwrap();
            let name = name.strip_prefix("./").unwrap_or_else(|| {
                panic!("{}: imports {name:?}, not a sibling module", module.path)
            });
            assert!(asset(name).is_some(), "{} imports {name}, which is not embedded", module.path);
            imports += 1;
        }
    }
    assert!(imports > 10, "the import lines were found ({imports})");
}

#[tokio::test]
async fn ui_responses_are_counted_under_their_own_api() {
    let server = TestServer::new();
    server.send("query", get("/search")).await;
    server.send("query", get("/ui/style.css")).await;
    server.send("query", get("/ui/nothing.css")).await;
    let metrics = server.metrics().await;
    let count =
        |status| metrics.sum("kiseki_query_requests_total", &[("api", "ui"), ("status", status)]);
    assert_eq!(count("200"), 2);
    assert_eq!(count("404"), 1);
}

#[tokio::test]
async fn head_requests_get_the_headers_without_the_body() {
    let server = TestServer::new();
    let request = Request::head("/ui/style.css").body(axum::body::Body::empty()).unwrap();
    let reply = server.send("query", request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "text/css; charset=utf-8");
    assert!(reply.body.is_empty());
}
