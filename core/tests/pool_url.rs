//! Issue 16 item 9: the function-style `smartreceive(msg)` without a
//! `nats_url` never connects to the `broker_url` a sender wrote into the
//! envelope; it uses `$NATS_URL` (else the default). One test in its own
//! binary, because it sets the process environment.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use natsbridge::ReceiveOptions;
use natsbridge::encoding::sha256_hex;
use natsbridge_testkit::NatsServer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_link_is_never_fetched_through_the_broker_url_of_the_message() {
    // The host a hostile sender names: it counts every connection made to it.
    let evil = TcpListener::bind("127.0.0.1:0").unwrap();
    evil.set_nonblocking(true).unwrap();
    let evil_url = format!("nats://{}", evil.local_addr().unwrap());
    // The receiver's own server, named by $NATS_URL, holds the object.
    let server = NatsServer::start();
    let bridge = natsbridge::Bridge::connect(&server.url()).await.unwrap();
    let data = common::pattern(3000);
    let sent = bridge
        .smartsend(
            "/pool/url",
            vec![natsbridge::Payload::bytes(
                "blob",
                natsbridge::PayloadType::Binary,
                data.clone(),
            )],
            &natsbridge::SendOptions::new().size_threshold(100),
        )
        .await
        .unwrap();
    let wire = sent.to_json();
    let url = wire["payloads"][0]["data"].as_str().unwrap().to_owned();
    assert!(url.starts_with("nats-object://"), "{url}");
    // SAFETY: this test binary has this one test; nothing else reads the
    // environment concurrently.
    unsafe { std::env::set_var("NATS_URL", server.url()) };
    let body = json!({
        "version": 1, "msg_id": "m-1", "broker_url": evil_url,
        "payloads": [{"id": "p", "dataname": "blob", "type": "binary", "transport": "link",
                      "encoding": "url", "size": data.len(), "sha256": sha256_hex(&data),
                      "data": url, "metadata": {}}]
    })
    .to_string();
    let options = ReceiveOptions::new().download_timeout(Duration::from_secs(5));
    let received = natsbridge::smartreceive(body.as_bytes(), None, &options)
        .await
        .expect("fetched through $NATS_URL");
    assert_eq!(
        &received.payloads[0].value.as_bytes().unwrap()[..],
        &data[..]
    );
    assert!(
        evil.accept().is_err(),
        "smartreceive connected to the broker_url written in the message"
    );
}
