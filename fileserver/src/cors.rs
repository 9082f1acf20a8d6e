//! What the file server adds for web pages: CORS, so a page on another
//! origin can PUT link payloads and GET them back with `fetch`, and an
//! optional read-only static site (the browser chat page and its scripts).
//!
//! CORS: [`Config::cors_origins`](crate::Config::cors_origins) lists the
//! origins allowed (`scheme://host[:port]`), or `*` for any. A request whose
//! `Origin` is allowed gets `Access-Control-Allow-Origin` with that origin
//! (plus `Vary: Origin`); a preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) from an allowed origin is answered 204
//! with the methods (GET, HEAD, PUT, DELETE) and the request headers
//! (`Authorization`, `Content-Type`, `Range`) the server takes, without
//! reaching the store. An origin that is not listed gets no CORS headers, so
//! the browser refuses the response to the page; the request itself is
//! handled as usual (CORS is the browser's rule; the token is the server's).
//! With no origins configured nothing changes.
//!
//! Static site: with [`Config::static_dir`](crate::Config::static_dir),
//! `GET`/`HEAD /app/<path>` serve files from that directory (`/app/` is
//! `index.html`) with a content type by extension (`.js` and `.mjs` as
//! JavaScript, `.wasm` as `application/wasm`, which module scripts and
//! `WebAssembly.instantiateStreaming` require). Paths are checked like store
//! paths: no `..`, no empty segments. Uploads never land there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::path::StorePath;

/// The URL prefix of the static site.
pub const STATIC_PREFIX: &str = "/app/";

const ALLOW_METHODS: &str = "GET, HEAD, PUT, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Range";
const EXPOSE_HEADERS: &str = "Location, Content-Length, Content-Range, Accept-Ranges";

/// The web settings of a server, shared by its requests.
#[derive(Debug, Clone, Default)]
struct Web {
    origins: Vec<String>,
    static_dir: Option<PathBuf>,
}

impl Web {
    fn allows(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.trim_end_matches('/') == origin)
    }
}

/// Wraps the store's router with CORS and the static site. With neither
/// configured, returns the router unchanged.
pub(crate) fn wrap(router: Router, origins: &[String], static_dir: Option<&Path>) -> Router {
    if origins.is_empty() && static_dir.is_none() {
        return router;
    }
    let web = Arc::new(Web {
        origins: origins.to_vec(),
        static_dir: static_dir.map(Path::to_path_buf),
    });
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let web = web.clone();
        async move { handle(&web, request, next).await }
    }))
}

async fn handle(web: &Web, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .filter(|origin| web.allows(origin))
        .map(str::to_owned);
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        if origin.is_some() {
            StatusCode::NO_CONTENT.into_response()
        } else {
            StatusCode::FORBIDDEN.into_response()
        }
    } else if let (Some(dir), Some(rest)) = (
        &web.static_dir,
        request.uri().path().strip_prefix(STATIC_PREFIX),
    ) {
        serve_static(dir, rest, request.method()).await
    } else {
        next.run(request).await
    };
    if let Some(origin) = origin {
        add_cors_headers(response.headers_mut(), &origin, preflight);
    }
    response
}

fn add_cors_headers(headers: &mut HeaderMap, origin: &str, preflight: bool) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
}

/// The content type of a static file, by extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

async fn serve_static(dir: &Path, rest: &str, method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "the static site is read-only\n",
        )
            .into_response();
    }
    let relative = if rest.is_empty() || rest.ends_with('/') {
        format!("{rest}index.html")
    } else {
        rest.to_owned()
    };
    let Ok(path) = StorePath::parse(&format!("/{relative}")) else {
        return (StatusCode::BAD_REQUEST, "bad path\n").into_response();
    };
    let file = path.to_fs_path(dir);
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let len = bytes.len();
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(bytes)
            };
            let mut response = Response::new(body);
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&file)),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_by_wildcard() {
        let web = Web {
            origins: vec!["http://127.0.0.1:8080/".into()],
            static_dir: None,
        };
        assert!(web.allows("http://127.0.0.1:8080"));
        assert!(!web.allows("http://127.0.0.1:8081"));
        assert!(!web.allows("https://127.0.0.1:8080"));
        let any = Web {
            origins: vec!["*".into()],
            static_dir: None,
        };
        assert!(any.allows("http://example.com"));
    }

    #[test]
    fn module_scripts_and_wasm_get_their_types() {
        assert_eq!(
            content_type(Path::new("a/index.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x.wasm")), "application/wasm");
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
    }
}
