//! The web UI, built into the binary: the files under `crates/kiseki-server/ui/` are embedded at
//! build time through one table, [`ASSETS`], and served on the query port.
//!
//! `/` redirects to `/search`; `/search`, `/services` and `/trace/{id}` answer the app shell
//! (`index.html`), whose script routes on the client with the History API, so a deep link works
//! on reload and can be shared. Assets are under `/ui/…` with their content type and an ETag that
//! is a hash of their bytes (computed at compile time); `Cache-Control: no-cache` makes the browser
//! revalidate, so a new binary's files are picked up at once and an unchanged file costs a 304.

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::query::QueryState;

/// One embedded file of the UI.
#[derive(Debug)]
pub struct Asset {
    /// The path under `ui/` (and under `/ui/` in URLs).
    pub path: &'static str,
    pub body: &'static [u8],
    /// FNV-1a of `body`: the ETag.
    pub hash: u64,
}

impl Asset {
    /// The `Content-Type` for the file's extension.
    pub fn content_type(&self) -> &'static str {
        let extension = self.path.rsplit_once('.').map_or("", |(_, extension)| extension);
        match extension {
            "html" => "text/html; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            "json" => "application/json",
            "txt" => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        }
    }

    fn etag(&self) -> String {
        format!("\"{:016x}\"", self.hash)
    }
}

macro_rules! asset {
    ($path:literal) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!("../ui/", $path)),
            hash: fnv1a(include_bytes!(concat!("../ui/", $path))),
        }
    };
}

/// Every file of the UI. A file under `ui/` that is not listed here is not served; a test checks
/// that the table and the folder agree.
pub static ASSETS: &[Asset] = &[
    asset!("index.html"),
    asset!("style.css"),
    asset!("favicon.svg"),
    asset!("app.js"),
    asset!("api.js"),
    asset!("dom.js"),
    asset!("format.js"),
    asset!("search.js"),
    asset!("scatter.js"),
    asset!("trace.js"),
    asset!("trace-model.js"),
    asset!("waterfall.js"),
    asset!("minimap.js"),
    asset!("span-details.js"),
    asset!("trace-stats.js"),
    asset!("services.js"),
];

/// The page every client-side route answers with.
const SHELL: &str = "index.html";

/// What the shell may load: only files from this origin, no inline script or style.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The embedded file at `path` (relative to `ui/`), if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

pub(crate) fn routes() -> Router<QueryState> {
    Router::new()
        .route("/", get(redirect_to_search))
        .route("/search", get(shell))
        .route("/services", get(shell))
        .route("/trace/{trace_id}", get(shell))
        .route("/ui/{*path}", get(serve_asset))
}

/// `/` → `/search`, keeping the query string so `/?service=x` still means something.
async fn redirect_to_search(request: Request) -> Redirect {
    match request.uri().query() {
        Some(query) => Redirect::temporary(&format!("/search?{query}")),
        None => Redirect::temporary("/search"),
    }
}

async fn shell(headers: HeaderMap) -> Response {
    match asset(SHELL) {
        Some(shell) => {
            let mut response = respond(shell, &headers);
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            );
            response
        }
        // The table test makes sure this is not reached.
        None => ApiError::not_found("the UI is not built into this binary").into_response(),
    }
}

async fn serve_asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match asset(&path) {
        Some(asset) => respond(asset, &headers),
        None => ApiError::not_found(format!("/ui/{path} is not a file of the UI")).into_response(),
    }
}

/// The asset, or a 304 when the client's copy (`If-None-Match`) is current.
fn respond(asset: &Asset, request_headers: &HeaderMap) -> Response {
    let etag = asset.etag();
    let current = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*");
    let mut response = if current {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = asset.body.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type()));
        response
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// 64-bit FNV-1a, evaluated at compile time for each asset.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_file_of_the_ui_folder_and_nothing_else() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/ui");
        let mut on_disk: Vec<String> = Vec::new();
        let mut pending = vec![std::path::PathBuf::from(folder)];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(folder).unwrap();
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        listed.sort();
        assert_eq!(listed, on_disk);
    }

    #[test]
    fn every_asset_has_a_known_content_type() {
        for asset in ASSETS {
            assert_ne!(asset.content_type(), "application/octet-stream", "{}", asset.path);
        }
    }

    #[test]
    fn the_etag_follows_the_bytes() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        // The published FNV-1a 64 test vector for "a".
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let hashes: std::collections::HashSet<u64> = ASSETS.iter().map(|a| a.hash).collect();
        assert_eq!(hashes.len(), ASSETS.len(), "every asset differs, so every tag does");
    }
}
