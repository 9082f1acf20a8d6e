//! The FaultServer seen through a real HTTP client (reqwest, as the link
//! transport uses): each scripted fault shows up as the failure a download
//! would meet.

use std::time::Duration;

use natsbridge_testkit::{FaultServer, Reply, pattern};

const DEADLINE: Duration = Duration::from_secs(20);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(DEADLINE)
        .build()
        .unwrap()
}

#[tokio::test]
async fn error_then_success_like_a_retried_download() {
    let server = FaultServer::start(vec![
        Reply::status(500),
        Reply::status(429),
        Reply::ok("payload"),
    ]);
    let url = format!("{}/id/name", server.url());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(client().get(&url).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [500, 429, 200]);
    assert_eq!(
        client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "payload"
    );
    assert_eq!(server.hits(), 4);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.method == "GET" && r.path == "/id/name")
    );
}

#[tokio::test]
async fn lying_and_missing_lengths_reach_the_client() {
    let server = FaultServer::start(vec![
        Reply::ok_lying_length(vec![1u8; 10], 1000),
        Reply::ok_lying_length(vec![2u8; 1000], 10),
        Reply::ok_pattern(300_000).without_length(),
    ]);
    let url = server.url();

    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.content_length(), Some(1000));
    assert!(
        response.bytes().await.is_err(),
        "a body shorter than declared is an error"
    );

    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.content_length(), Some(10));
    assert_eq!(
        response.bytes().await.unwrap().len(),
        10,
        "the client stops at the declared length"
    );

    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.content_length(), None);
    assert!(response.bytes().await.unwrap() == pattern(300_000));
}

#[tokio::test]
async fn redirect_to_another_origin_and_what_each_side_saw() {
    let target = FaultServer::start(vec![Reply::ok("moved here")]);
    let origin = FaultServer::start(vec![Reply::redirect(&format!("{}/new", target.url()))]);

    let response = client()
        .get(format!("{}/old", origin.url()))
        .bearer_auth("store-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "moved here");

    let asked = origin.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].header("authorization"),
        Some("Bearer store-secret")
    );
    let followed = target.requests();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].path, "/new");
    assert_eq!(
        followed[0].header("authorization"),
        None,
        "credentials leaked across origins"
    );
}

#[tokio::test]
async fn close_and_delay_fail_the_request() {
    let server = FaultServer::start(vec![
        Reply::close(),
        Reply::delay(Duration::from_secs(3600), Reply::ok("never")),
    ]);
    let err = client().get(server.url()).send().await.unwrap_err();
    assert!(
        !err.is_timeout(),
        "a closed connection is not a timeout: {err}"
    );

    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = impatient.get(server.url()).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn streamed_uploads_are_read_and_measured() {
    let server = FaultServer::start(vec![Reply::status(500)]);
    let chunks = (0..4).map(|_| Ok::<_, std::io::Error>(vec![0u8; 10_000]));
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = client()
        .put(format!("{}/up", server.url()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let request = &server.requests()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.header("transfer-encoding"), Some("chunked"));
    assert_eq!(request.body_len, 40_000);
}

#[tokio::test]
async fn closed_port_is_connection_refused() {
    let port = natsbridge_testkit::closed_port();
    let err = client()
        .get(format!("http://127.0.0.1:{port}/x"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
}
