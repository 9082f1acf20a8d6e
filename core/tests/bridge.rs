//! Round trips through a real nats-server: every payload type, mixed
//! messages, the max_payload rule, connection reuse and bad input on send.

mod common;

use common::{WAIT, next, pattern, server_and_bridge, subscribe};
use natsbridge::{
    Body, Bridge, ConnectOptions, ErrorKind, Payload, PayloadType, SendOptions, Table, Transport,
};
use natsbridge_testkit::{NatsServer, closed_port};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn every_payload_type_round_trips() {
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "/chat/room1").await;
    let table = Table::from_json_rows(
        json!([{"id": 1, "name": "Alice", "score": 95.5}, {"id": 2, "name": "Bob", "score": 88.0}])
            .as_array()
            .unwrap(),
    )
    .unwrap();
    let sent = bridge
        .smartsend(
            "/chat/room1",
            vec![
                Payload::text("message", "Hello World ✓"),
                Payload::dictionary("config", json!({"wifi_ssid": "MyNetwork", "update_interval": 60, "nested": [1, null, {"a": true}]})),
                Payload::table("students", table.clone()),
                Payload::bytes("avatar", PayloadType::Image, pattern(4096)),
                Payload::bytes("clip", PayloadType::Audio, pattern(10)),
                Payload::bytes("movie", PayloadType::Video, pattern(20_000)),
                Payload::bytes("blob", PayloadType::Binary, Vec::<u8>::new()),
            ],
            &SendOptions::new().msg_purpose("chat").sender_name("tester"),
        )
        .await
        .unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(sent.wire_bytes()).unwrap();
    assert_eq!(sent.to_json(), parsed);
    let got = next(&mut sub).await;
    assert_eq!(got.header, sent.header);
    assert_eq!(got.subject.as_deref(), Some("/chat/room1"));
    assert_eq!(got.payloads.len(), 7);
    assert_eq!(got.payloads[0].value.as_text(), Some("Hello World ✓"));
    assert_eq!(
        got.payloads[1].value.as_json().unwrap()["nested"][2]["a"],
        json!(true)
    );
    let students = got.payloads[2].value.as_table().unwrap();
    assert_eq!(
        students.to_json_rows().unwrap(),
        table.to_json_rows().unwrap()
    );
    assert_eq!(students.schema(), table.schema());
    assert_eq!(
        got.payloads[3].value.as_bytes().unwrap().as_ref(),
        pattern(4096).as_slice()
    );
    assert_eq!(got.payloads[3].payload_type(), &PayloadType::Image);
    assert_eq!(got.payloads[4].payload_type(), &PayloadType::Audio);
    assert_eq!(
        got.payloads[5].value.as_bytes().unwrap().as_ref(),
        pattern(20_000).as_slice()
    );
    assert!(got.payloads[6].value.as_bytes().unwrap().is_empty());
    for (received, info) in got.payloads.iter().zip(&sent.payloads) {
        assert_eq!(&received.info, info);
        assert_eq!(received.info.transport, Transport::Direct);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_five_payload_message_keeps_order_and_headers() {
    let (_server, bridge) = server_and_bridge().await;
    let mut raw = bridge.client().subscribe("mixed").await.unwrap();
    bridge.flush().await.unwrap();
    let mut meta = serde_json::Map::new();
    meta.insert("site".into(), json!("plant-2"));
    let sent = bridge
        .smartsend(
            "mixed",
            vec![
                Payload::text("a", "first"),
                Payload::bytes("b", PayloadType::Binary, vec![1u8, 2, 3]),
                Payload::dictionary("c", json!([1, 2, 3])),
                Payload::text("d", ""),
                Payload::bytes("e", PayloadType::Image, pattern(300)),
            ],
            &SendOptions::new()
                .correlation_id("corr-42")
                .receiver_name("dashboard")
                .reply_to("replies.here")
                .metadata(meta),
        )
        .await
        .unwrap();
    use futures::StreamExt as _;
    let message = tokio::time::timeout(WAIT, raw.next())
        .await
        .unwrap()
        .unwrap();
    let headers = message.headers.as_ref().expect("natsbridge sets headers");
    assert_eq!(
        headers.get("Nats-Msg-Id").unwrap().as_str(),
        sent.header.msg_id
    );
    assert_eq!(
        headers.get("Content-Type").unwrap().as_str(),
        "application/vnd.natsbridge.envelope+json"
    );
    let got = bridge
        .smartreceive(&message, &Default::default())
        .await
        .unwrap();
    let names: Vec<_> = got
        .payloads
        .iter()
        .map(|p| p.dataname().to_owned())
        .collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(got.header.correlation_id, "corr-42");
    assert_eq!(got.header.receiver_name, "dashboard");
    assert_eq!(got.header.reply_to, "replies.here");
    assert_eq!(got.header.metadata["site"], "plant-2");
    assert_eq!(got.header.broker_url, bridge.broker_url());
    assert_eq!(got.payloads[3].value.as_text(), Some(""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_900_kb_binary_never_exceeds_the_default_max_payload() {
    // Without JetStream there is no claim-check store: the send must fail
    // cleanly (base64 makes 900 kB into 1.2 MB) and publish nothing.
    let server = NatsServer::builder().without_jetstream().start();
    let bridge = Bridge::connect(&server.url()).await.unwrap();
    assert_eq!(bridge.max_payload(), 1024 * 1024);
    let mut sub = subscribe(&bridge, "big").await;
    let err = bridge
        .smartsend(
            "big",
            vec![Payload::bytes(
                "video",
                PayloadType::Video,
                pattern(900_000),
            )],
            &SendOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
    assert_eq!(err.dataname(), Some("video"));
    assert!(err.message().contains("max_payload"), "{err}");
    bridge
        .smartsend(
            "big",
            vec![Payload::text("after", "ok")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    let first = next(&mut sub).await;
    assert_eq!(
        first.payloads[0].dataname(),
        "after",
        "the failed send published something"
    );

    // With JetStream, the default store takes it by link; the envelope stays small.
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "big").await;
    let data = pattern(900_000);
    let sent = bridge
        .smartsend(
            "big",
            vec![
                Payload::text("note", "big one"),
                Payload::bytes("video", PayloadType::Video, data.clone()),
            ],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(sent.payloads[0].transport, Transport::Direct);
    assert_eq!(sent.payloads[1].transport, Transport::Link);
    assert!(
        sent.wire_bytes().len() < 4096,
        "envelope is {} bytes",
        sent.wire_bytes().len()
    );
    assert!(
        sent.payload_data(1)
            .starts_with("nats-object://natsbridge/")
    );
    // `to_json` (what the C ABI hands Julia instead of the text to parse)
    // is exactly the published JSON, direct and link payloads alike.
    let parsed: serde_json::Value = serde_json::from_slice(sent.wire_bytes()).unwrap();
    assert_eq!(sent.to_json(), parsed);
    let got = next(&mut sub).await;
    assert_eq!(
        got.payloads[1].value.as_bytes().unwrap().as_ref(),
        data.as_slice()
    );
}

/// The C, Python and Node bindings box a send's future to poll it once on
/// the caller's thread and hand it to the runtime if it must wait, so its
/// size is allocated and copied per send. The rarer paths (file payloads,
/// links, JetStream) box their own futures to keep it small: it was 5,760
/// bytes before they did (a direct 1 KiB send copied all of it).
#[tokio::test(flavor = "multi_thread")]
async fn a_send_future_stays_small() {
    let (_server, bridge) = server_and_bridge().await;
    let options = SendOptions::new();
    let send = bridge.smartsend(
        "small",
        vec![Payload::text("t", "x".repeat(1024))],
        &options,
    );
    let size = std::mem::size_of_val(&send);
    assert!(size <= 2048, "a smartsend future is {size} bytes");
    let sent = send.await.unwrap();
    assert_eq!(sent.payloads[0].transport, Transport::Direct);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payload_just_under_the_limit_goes_direct() {
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "edge").await;
    // 700 kB of base64 is 933 kB: fits in 1 MiB with the envelope.
    let data = pattern(700_000);
    let sent = bridge
        .smartsend(
            "edge",
            vec![Payload::bytes("b", PayloadType::Binary, data.clone())],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(sent.payloads[0].transport, Transport::Direct);
    assert!(sent.wire_bytes().len() <= bridge.max_payload());
    assert_eq!(
        next(&mut sub).await.payloads[0]
            .value
            .as_bytes()
            .unwrap()
            .as_ref(),
        data.as_slice()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_max_payload_is_respected() {
    let server = NatsServer::builder().max_payload(20_000).start();
    let bridge = Bridge::connect(&server.url()).await.unwrap();
    assert_eq!(bridge.max_payload(), 20_000);
    let mut sub = subscribe(&bridge, "small").await;
    let sent = bridge
        .smartsend(
            "small",
            vec![
                Payload::bytes("x", PayloadType::Binary, pattern(9_000)),
                Payload::bytes("y", PayloadType::Binary, pattern(9_500)),
                Payload::text("z", "tiny"),
            ],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    // 12 kB + 12.7 kB of base64 do not fit 20 kB: the largest (y) moves to link.
    let transports: Vec<_> = sent.payloads.iter().map(|p| p.transport).collect();
    assert_eq!(
        transports,
        [Transport::Direct, Transport::Link, Transport::Direct]
    );
    let got = next(&mut sub).await;
    assert_eq!(
        got.payloads[1].value.as_bytes().unwrap().as_ref(),
        pattern(9_500).as_slice()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_on_send_is_typed_and_publishes_nothing() {
    let (_server, bridge) = server_and_bridge().await;
    // Every subject, raw: whatever a failed send might publish shows up here.
    let mut everything = bridge.client().subscribe(">").await.unwrap();
    bridge.flush().await.unwrap();
    let text = || vec![Payload::text("m", "x")];
    let cases: Vec<(&str, Vec<Payload>, ErrorKind)> = vec![
        ("", text(), ErrorKind::InvalidArgument),
        ("has space", text(), ErrorKind::InvalidArgument),
        ("a..b", text(), ErrorKind::InvalidArgument),
        ("wild.*", text(), ErrorKind::InvalidArgument),
        (
            "ok",
            vec![Payload::text("", "x")],
            ErrorKind::InvalidArgument,
        ),
        (
            "ok",
            vec![Payload::file(
                "f",
                PayloadType::Binary,
                "/nonexistent/natsbridge",
            )],
            ErrorKind::Io,
        ),
    ];
    for (subject, payloads, kind) in cases {
        let err = bridge
            .smartsend(subject, payloads, &SendOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{subject:?}: {err}");
    }
    assert_eq!(
        Payload::new("m", "spreadsheet", Body::Text("x".into()))
            .unwrap_err()
            .kind(),
        ErrorKind::UnknownType
    );
    let not_json = std::collections::BTreeMap::from([(vec![1u8], 1)]);
    assert_eq!(
        Payload::dictionary_from("d", &not_json).unwrap_err().kind(),
        ErrorKind::Serialization
    );
    assert_eq!(
        Payload::new("t", "table", Body::Bytes(b"not arrow".to_vec().into()))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidTable
    );
    bridge
        .smartsend(
            "marker",
            vec![Payload::text("m", "marker")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    use futures::StreamExt as _;
    loop {
        let message = tokio::time::timeout(WAIT, everything.next())
            .await
            .unwrap()
            .unwrap();
        // Flushes make a round trip through a private inbox; skip those.
        if message.subject.starts_with("_INBOX.") {
            continue;
        }
        assert_eq!(
            message.subject.as_str(),
            "marker",
            "a failed send published something"
        );
        break;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_messages_on_a_subscription_are_errors_and_it_goes_on() {
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "inbox").await;
    let client = bridge.client();
    let garbage: [(&[u8], ErrorKind); 4] = [
        (b"{\"version\":1,\"payl", ErrorKind::MalformedEnvelope),
        (b"{\"version\":2,\"payloads\":[]}", ErrorKind::UnsupportedVersion),
        (b"{\"payloads\":[{\"dataname\":\"x\",\"type\":\"text\",\"transport\":\"direct\",\"size\":3,\"data\":\"!!!\"}]}", ErrorKind::InvalidBase64),
        (b"{\"payloads\":[{\"dataname\":\"x\",\"type\":\"text\",\"transport\":\"direct\",\"size\":9,\"data\":\"aGk=\"}]}", ErrorKind::Integrity),
    ];
    for (body, _) in &garbage {
        client.publish("inbox", body.to_vec().into()).await.unwrap();
    }
    bridge
        .smartsend(
            "inbox",
            vec![Payload::text("ok", "fine")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    for (_, kind) in &garbage {
        let err = sub.next_timeout(WAIT).await.unwrap_err();
        assert_eq!(err.kind(), *kind, "{err}");
    }
    assert_eq!(
        next(&mut sub).await.payloads[0].value.as_text(),
        Some("fine")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_not_running_fails_fast_and_clearly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = std::time::Instant::now();
    let err = ConnectOptions::new(format!("nats://127.0.0.1:{port}"))
        .connect_timeout(std::time::Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err:?}");
    assert!(
        err.message().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    let err = natsbridge::smartsend(
        &format!("nats://127.0.0.1:{port}"),
        "s",
        vec![Payload::text("a", "b")],
        &SendOptions::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
}

/// Issue 16 item 14: a password holding `/`, `?` or `#` (typed without
/// percent-encoding) is used to log in and never echoed in an error.
#[tokio::test(flavor = "multi_thread")]
async fn passwords_with_url_delimiters_work_and_are_never_echoed() {
    let server = NatsServer::builder()
        .user_password("alice", "pa/ss?w#rd")
        .start();
    let url = format!("nats://alice:pa/ss?w#rd@127.0.0.1:{}", server.port());
    let bridge = Bridge::connect(&url).await.unwrap();
    assert_eq!(
        bridge.broker_url(),
        format!("nats://127.0.0.1:{}", server.port())
    );
    let wrong = format!("nats://alice:wr/ong?pw@127.0.0.1:{}", server.port());
    let err = Bridge::connect(&wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    let shown = format!("{} {err:?}", err.full_message());
    assert!(
        !shown.contains("wr/ong") && !shown.contains("ong?pw"),
        "{shown}"
    );
    let closed = format!("nats://alice:cl/osed?pw@127.0.0.1:{}", closed_port());
    let err = Bridge::connect(&closed).await.unwrap_err();
    let shown = format!("{} {err:?}", err.full_message());
    assert!(
        !shown.contains("cl/osed") && !shown.contains("osed?pw"),
        "{shown}"
    );
}

/// Issue 16 item 14: credentials written in one URL of a list are not sent
/// to the other servers: a list whose URLs disagree is refused.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_of_one_url_are_not_sent_to_the_rest_of_the_list() {
    let server = NatsServer::builder()
        .user_password("alice", "s3cret-pw")
        .start();
    let other = NatsServer::start();
    let mixed = format!(
        "nats://127.0.0.1:{},nats://alice:s3cret-pw@127.0.0.1:{}",
        other.port(),
        server.port()
    );
    let err = Bridge::connect(&mixed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
    assert!(
        !err.full_message().contains("s3cret"),
        "{}",
        err.full_message()
    );
    let different = format!(
        "nats://bob:other@127.0.0.1:{},nats://alice:s3cret-pw@127.0.0.1:{}",
        other.port(),
        server.port()
    );
    assert_eq!(
        Bridge::connect(&different).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // The same credentials in every URL, or explicit options, still work.
    let same = format!(
        "nats://alice:s3cret-pw@127.0.0.1:{},nats://alice:s3cret-pw@127.0.0.1:{}",
        server.port(),
        server.port()
    );
    Bridge::connect(&same).await.unwrap();
    ConnectOptions::new(&mixed)
        .user_password("alice", "s3cret-pw")
        .connect()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_used_but_never_written_into_envelopes() {
    let server = NatsServer::builder()
        .user_password("alice", "s3cret-pw")
        .start();
    let url = format!("nats://alice:s3cret-pw@127.0.0.1:{}", server.port());
    let bridge = Bridge::connect(&url).await.unwrap();
    let mut sub = subscribe(&bridge, "secure").await;
    let sent = bridge
        .smartsend("secure", vec![Payload::text("a", "b")], &SendOptions::new())
        .await
        .unwrap();
    let wire = String::from_utf8(sent.wire_bytes().to_vec()).unwrap();
    assert!(
        !wire.contains("s3cret-pw") && !wire.contains("alice"),
        "{wire}"
    );
    assert_eq!(
        next(&mut sub).await.header.broker_url,
        format!("nats://127.0.0.1:{}", server.port())
    );
    let err = Bridge::connect(&format!("nats://alice:wrong@127.0.0.1:{}", server.port()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    assert!(
        !err.full_message().contains("wrong"),
        "{}",
        err.full_message()
    );

    let server = NatsServer::builder().token("tok-123").start();
    let bridge = ConnectOptions::new(server.url())
        .token("tok-123")
        .connect()
        .await
        .unwrap();
    bridge
        .smartsend("t", vec![Payload::text("a", "b")], &SendOptions::new())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn function_style_smartsend_reuses_one_pooled_connection() {
    let server = NatsServer::start();
    let url = server.url();
    let first = natsbridge::pool_bridge(&url).await.unwrap();
    for index in 0..50 {
        natsbridge::smartsend(
            &url,
            "pooled",
            vec![Payload::text("i", index.to_string())],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    }
    let again = natsbridge::pool_bridge(&url).await.unwrap();
    assert!(first.same_connection(&again));
    // Two callers racing for a new URL share one connection attempt.
    let server2 = NatsServer::start();
    let url2 = server2.url();
    let (a, b) = tokio::join!(
        natsbridge::pool_bridge(&url2),
        natsbridge::pool_bridge(&url2)
    );
    assert!(a.unwrap().same_connection(&b.unwrap()));
}

#[test]
fn the_pool_survives_the_runtime_that_first_used_it() {
    let server = NatsServer::start();
    let url = server.url();
    for round in 0..3 {
        // Each round has its own short-lived runtime, as a binding's
        // block_on would; the pooled connection must outlive each one.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(natsbridge::smartsend(
                &url,
                "rt",
                vec![Payload::text("r", round.to_string())],
                &SendOptions::new(),
            ))
            .unwrap_or_else(|err| panic!("round {round}: {err:?}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_list_connects_to_a_live_member() {
    let server = NatsServer::start();
    let dead = natsbridge_testkit::closed_port();
    let servers = format!("nats://127.0.0.1:{dead}, {}", server.url());
    let bridge = ConnectOptions::new(&servers).connect().await.unwrap();
    assert_eq!(
        bridge.broker_url(),
        format!("nats://127.0.0.1:{dead},{}", server.url())
    );
    let mut sub = subscribe(&bridge, "cluster").await;
    bridge
        .smartsend(
            "cluster",
            vec![Payload::text("a", "b")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.header.broker_url, bridge.broker_url());
}

/// A msg_id travels as the `Nats-Msg-Id` header, where a line break cannot
/// go: it is the caller's bad argument (a typed error, nothing published),
/// not a panic inside async-nats.
#[tokio::test(flavor = "multi_thread")]
async fn a_msg_id_with_a_line_break_is_refused() {
    let (_server, bridge) = server_and_bridge().await;
    let mut raw = bridge.client().subscribe("crlf").await.unwrap();
    bridge.flush().await.unwrap();
    for id in ["a\r\nb", "a\nb", "a\rb"] {
        let err = bridge
            .smartsend(
                "crlf",
                vec![Payload::text("m", "x")],
                &SendOptions::new().msg_id(id),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{id:?}: {err}");
        assert!(err.message().contains("msg_id"), "{err}");
    }
    let sent = bridge
        .smartsend(
            "crlf",
            vec![Payload::text("m", "x")],
            &SendOptions::new().msg_id("ok-1"),
        )
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut raw))
        .await
        .expect("a message in time")
        .expect("subscription open");
    let headers = first.headers.expect("headers");
    assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), "ok-1");
    assert_eq!(
        headers.get("Content-Type").unwrap().as_str(),
        natsbridge::envelope::CONTENT_TYPE
    );
    assert_eq!(first.payload, sent.wire_bytes().clone());
}
