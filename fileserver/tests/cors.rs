//! CORS and the static site (`fileserver/src/cors.rs`) over loopback: what a
//! browser sends (Origin, preflight OPTIONS) and what it needs back.

mod common;

use common::{DEADLINE, TestServer};

use reqwest::StatusCode;

const PAGE: &str = "http://127.0.0.1:5173";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("http client")
}

async fn server_with_cors() -> TestServer {
    TestServer::start_with(|config| {
        config.cors_origins = vec![PAGE.to_owned()];
        config.token = Some("s3cret".to_owned());
    })
    .await
}

#[tokio::test]
async fn preflight_for_put_from_a_listed_origin_is_answered() {
    let server = server_with_cors().await;
    let response = client()
        .request(reqwest::Method::OPTIONS, server.url("/id/file.bin"))
        .header("Origin", PAGE)
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], PAGE);
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PUT")
    );
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    // The preflight never reaches the store.
    assert!(server.files().is_empty());
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_headers() {
    let server = server_with_cors().await;
    let preflight = client()
        .request(reqwest::Method::OPTIONS, server.url("/id/file.bin"))
        .header("Origin", "http://evil.example")
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::FORBIDDEN);
    assert!(
        !preflight
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let get = client()
        .get(server.url("/id/missing"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!get.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn put_and_get_from_a_listed_origin_carry_cors_headers_and_still_need_the_token() {
    let server = server_with_cors().await;
    let without_token = client()
        .put(server.url("/id/file.bin"))
        .header("Origin", PAGE)
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(without_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(without_token.headers()["access-control-allow-origin"], PAGE);
    let put = client()
        .put(server.url("/id/file.bin"))
        .header("Origin", PAGE)
        .bearer_auth("s3cret")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    assert_eq!(put.headers()["access-control-allow-origin"], PAGE);
    let get = client()
        .get(server.url("/id/file.bin"))
        .header("Origin", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(get.headers()["access-control-allow-origin"], PAGE);
    assert_eq!(get.headers()["vary"], "Origin");
    assert_eq!(get.text().await.unwrap(), "abc");
}

#[tokio::test]
async fn the_static_site_serves_pages_scripts_and_wasm_read_only() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("chat")).unwrap();
    std::fs::write(site.path().join("chat/index.html"), "<!doctype html>").unwrap();
    std::fs::write(site.path().join("app.js"), "export {}").unwrap();
    std::fs::write(site.path().join("codec.wasm"), b"\0asm").unwrap();
    let static_dir = site.path().to_path_buf();
    let server = TestServer::start_with(|config| config.static_dir = Some(static_dir)).await;
    let get = |path: &str| client().get(server.url(path)).send();
    let page = get("/app/chat/").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let script = get("/app/app.js").await.unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let wasm = get("/app/codec.wasm").await.unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(wasm.bytes().await.unwrap().as_ref(), b"\0asm");
    assert_eq!(
        get("/app/missing.js").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Raw bytes: a URL library would resolve the dot segments itself.
    let escape = common::raw_request(
        server.addr,
        b"GET /app/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(escape.status, 400);
    let put = client()
        .put(server.url("/app/app.js"))
        .body("overwritten")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        std::fs::read_to_string(site.path().join("app.js")).unwrap(),
        "export {}"
    );
    // Outside /app/ the store works as before.
    let stored = client()
        .put(server.url("/id/x"))
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
}
