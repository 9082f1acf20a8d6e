//! The request log: one line per request with method, path, status, bytes
//! and milliseconds. Its own binary, as it installs a tracing subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestServer;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

// A current-thread runtime runs the server's tasks on this thread, where the
// subscriber is installed.
#[tokio::test(flavor = "current_thread")]
async fn each_request_logs_one_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let status = client
        .put(server.url("/log/file"))
        .body(vec![0u8; 1234])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 201);
    let status = client
        .get(server.url("/log/missing"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);

    let lines = captured.lines();
    let requests: Vec<&String> = lines.iter().filter(|l| l.contains("method=")).collect();
    assert_eq!(requests.len(), 2, "one line per request: {lines:#?}");
    let put = requests[0];
    for part in ["method=PUT", "status=201", "bytes=1234", "ms="] {
        assert!(put.contains(part), "{part:?} missing from {put:?}");
    }
    let get = requests[1];
    for part in [
        "method=GET",
        "status=404",
        "bytes=0",
        "no file at this path",
    ] {
        assert!(get.contains(part), "{part:?} missing from {get:?}");
    }
    // Issue 16 item 14: paths are read capabilities, kept out of INFO.
    assert!(
        lines.iter().all(|line| !line.contains("/log/")),
        "a path was logged at INFO: {lines:#?}"
    );
}

/// At DEBUG the path is there, for an operator chasing one request.
#[tokio::test(flavor = "current_thread")]
async fn paths_are_logged_at_debug_only() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = TestServer::start().await;
    let status = reqwest::Client::new()
        .get(server.url("/debug/missing"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    let lines = captured.lines();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("DEBUG") && line.contains("path=/debug/missing")),
        "{lines:#?}"
    );
}
