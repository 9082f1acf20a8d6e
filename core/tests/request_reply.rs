//! Request/reply (wire-v1 section 6) over a real nats-server.

mod common;

use std::time::Duration;

use common::{WAIT, server_and_bridge, subscribe};
use natsbridge::schema::OptionValue;
use natsbridge::{ConnectOptions, ErrorKind, Payload, ReceiveOptions, ReplyTarget, SendOptions};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn request_gets_the_reply_envelope() {
    let (_server, bridge) = server_and_bridge().await;
    let mut requests = subscribe(&bridge, "/device/command").await;
    let responder = bridge.clone();
    let serve = tokio::spawn(async move {
        let request = requests.next_timeout(WAIT).await.unwrap().unwrap();
        let command = request
            .payload("command")
            .unwrap()
            .value
            .as_json()
            .unwrap()
            .clone();
        assert_eq!(command["action"], "read_sensor");
        responder
            .reply(
                &request,
                vec![Payload::dictionary(
                    "data",
                    json!({"sensor_id": "sensor-001", "value": 42.5}),
                )],
                &SendOptions::new(),
            )
            .await
            .unwrap();
        request
    });
    let reply = bridge
        .request(
            "/device/command",
            vec![Payload::dictionary(
                "command",
                json!({"action": "read_sensor"}),
            )],
            &SendOptions::new().correlation_id("trace-7"),
            Some(WAIT),
            &ReceiveOptions::new(),
        )
        .await
        .unwrap();
    let request = serve.await.unwrap();
    assert_eq!(reply.header.reply_to_msg_id, request.header.msg_id);
    assert_eq!(reply.header.correlation_id, "trace-7");
    assert_eq!(reply.header.msg_purpose, "response");
    assert_eq!(reply.header.send_to, request.header.reply_to);
    assert_eq!(reply.payloads[0].value.as_json().unwrap()["value"], 42.5);
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_uses_reply_to_then_the_nats_inbox() {
    let (_server, bridge) = server_and_bridge().await;
    // An explicit reply_to subject, as in the original design's example.
    let mut commands = subscribe(&bridge, "cmd").await;
    let mut responses = subscribe(&bridge, "/device/response").await;
    let sent = bridge
        .smartsend(
            "cmd",
            vec![Payload::text("q", "ping")],
            &SendOptions::new().reply_to("/device/response"),
        )
        .await
        .unwrap();
    let request = commands.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(request.reply_subject(), Some("/device/response"));
    bridge
        .reply(
            &request,
            vec![Payload::text("a", "pong")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    let response = responses.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(response.header.reply_to_msg_id, sent.header.msg_id);
    assert_eq!(response.header.correlation_id, sent.header.correlation_id);

    // No reply_to at all: nowhere to answer.
    bridge
        .smartsend("cmd", vec![Payload::text("q", "x")], &SendOptions::new())
        .await
        .unwrap();
    let orphan = commands.next_timeout(WAIT).await.unwrap().unwrap();
    let err = bridge
        .reply(&orphan, vec![Payload::text("a", "x")], &SendOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_to_a_target_built_from_raw_fields() {
    // What a front end holds of a request (its JSON fields) is enough to
    // answer it: no envelope has to be rebuilt.
    let (_server, bridge) = server_and_bridge().await;
    let mut responses = subscribe(&bridge, "/raw/response").await;
    let target = ReplyTarget::from_fields("/raw/response", None, "m-42", "c-42");
    let sent = bridge
        .reply(
            target,
            vec![Payload::text("a", "pong")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(sent.header.send_to, "/raw/response");
    let response = responses.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(response.header.reply_to_msg_id, "m-42");
    assert_eq!(response.header.correlation_id, "c-42");
    assert_eq!(response.header.msg_purpose, "response");

    // No subject: a typed error naming the message, nothing published.
    let err = bridge
        .reply(
            ReplyTarget::from_fields("", None, "m-43", "c-43"),
            vec![Payload::text("a", "x")],
            &SendOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("m-43"), "{}", err.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_nats_responder_can_answer_a_request() {
    use futures::StreamExt as _;
    let (_server, bridge) = server_and_bridge().await;
    let client = bridge.client().clone();
    let mut raw = client.subscribe("plain").await.unwrap();
    bridge.flush().await.unwrap();
    let responder = bridge.clone();
    tokio::spawn(async move {
        let message = raw.next().await.unwrap();
        // Answer on the message's reply subject, decoding nothing but what we need.
        let request = responder
            .smartreceive(&message, &ReceiveOptions::new())
            .await
            .unwrap();
        assert!(message.reply.is_some());
        responder
            .reply(
                &request,
                vec![Payload::text("a", "raw ok")],
                &SendOptions::new(),
            )
            .await
            .unwrap();
    });
    let reply = bridge
        .request(
            "plain",
            vec![Payload::text("q", "hi")],
            &SendOptions::new(),
            Some(WAIT),
            &ReceiveOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(reply.payloads[0].value.as_text(), Some("raw ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_responders_and_timeouts_are_distinct_errors() {
    let (_server, bridge) = server_and_bridge().await;
    let started = std::time::Instant::now();
    let err = bridge
        .request(
            "nobody.home",
            vec![Payload::text("q", "?")],
            &SendOptions::new(),
            Some(WAIT),
            &ReceiveOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let _silent = subscribe(&bridge, "silent").await;
    let started = std::time::Instant::now();
    let err = bridge
        .request(
            "silent",
            vec![Payload::text("q", "?")],
            &SendOptions::new(),
            Some(Duration::from_millis(300)),
            &ReceiveOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_groups_share_the_work() {
    let (_server, bridge) = server_and_bridge().await;
    let mut a = bridge
        .queue_subscribe("jobs", "workers", ReceiveOptions::new())
        .await
        .unwrap();
    let mut b = bridge
        .queue_subscribe("jobs", "workers", ReceiveOptions::new())
        .await
        .unwrap();
    bridge.flush().await.unwrap();
    for index in 0..40 {
        bridge
            .smartsend(
                "jobs",
                vec![Payload::text("n", index.to_string())],
                &SendOptions::new(),
            )
            .await
            .unwrap();
    }
    bridge.flush().await.unwrap();
    let mut seen = Vec::new();
    for sub in [&mut a, &mut b] {
        while let Ok(Some(envelope)) = sub.next_timeout(Duration::from_millis(300)).await {
            seen.push(
                envelope.payloads[0]
                    .value
                    .as_text()
                    .unwrap()
                    .parse::<u32>()
                    .unwrap(),
            );
        }
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..40).collect::<Vec<_>>(),
        "each job exactly once across the group"
    );
    assert!(
        bridge
            .queue_subscribe("jobs", "bad group", ReceiveOptions::new())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_bridge_refuses_further_calls() {
    let (_server, bridge) = server_and_bridge().await;
    let clone = bridge.clone();
    bridge.close().await.unwrap();
    let err = clone
        .smartsend("x", vec![Payload::text("a", "b")], &SendOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(clone.subscribe("x", ReceiveOptions::new()).await.is_err());
}

// ---- issue 16 item 1: replies as a confused deputy -------------------------

/// A raw envelope (as any NATS client could publish it) naming `reply_to`.
fn raw_request(reply_to: &str) -> bytes::Bytes {
    serde_json::json!({"version": 1, "msg_id": "m-evil", "correlation_id": "c-evil",
                       "reply_to": reply_to, "payloads": []})
    .to_string()
    .into()
}

async fn stream_messages(bridge: &natsbridge::Bridge, stream: &str) -> u64 {
    let js = natsbridge::async_nats::jetstream::new(bridge.client().clone());
    let mut stream = js.get_stream(stream).await.unwrap();
    stream.info().await.unwrap().state.messages
}

/// Issue 16 item 1: a request whose body names the JetStream purge API as
/// its reply_to, with or without a NATS reply subject, or whose NATS reply
/// subject is that API, does not make the responder purge a real stream.
/// Fails on the code before the fix (the reply was published to the body's
/// `$JS.API.STREAM.PURGE.ORDERS` and emptied the stream).
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_to_naming_the_jetstream_api_purges_nothing() {
    use futures::StreamExt as _;
    let (_server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("ORDERS", &["orders.>"]).await.unwrap();
    bridge
        .smartsend(
            "orders.new",
            vec![Payload::text("o", "keep me")],
            &SendOptions::new().jetstream(true),
        )
        .await
        .unwrap();
    assert_eq!(stream_messages(&bridge, "ORDERS").await, 1);
    let purge = "$JS.API.STREAM.PURGE.ORDERS";
    let mut requests = subscribe(&bridge, "svc").await;
    let client = bridge.client().clone();

    // 1. In the body only, no NATS reply subject: refused, naming the subject.
    client.publish("svc", raw_request(purge)).await.unwrap();
    let request = requests.next_timeout(WAIT).await.unwrap().unwrap();
    let err = bridge
        .reply(&request, vec![Payload::text("a", "x")], &SendOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains(purge), "{}", err.message());

    // 2. In the body, with a NATS reply subject: the NATS one wins.
    let mut inbox = client.subscribe("_INBOX.requester").await.unwrap();
    client
        .publish_with_reply("svc", "_INBOX.requester", raw_request(purge))
        .await
        .unwrap();
    let request = requests.next_timeout(WAIT).await.unwrap().unwrap();
    let sent = bridge
        .reply(
            &request,
            vec![Payload::text("a", "ok")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(sent.header.send_to, "_INBOX.requester");
    let answer = tokio::time::timeout(WAIT, inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.subject.as_str(), "_INBOX.requester");

    // 3. As the NATS reply subject itself: refused too.
    client
        .publish_with_reply("svc", purge, raw_request(""))
        .await
        .unwrap();
    let request = requests.next_timeout(WAIT).await.unwrap().unwrap();
    let err = bridge
        .reply(&request, vec![Payload::text("a", "x")], &SendOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains(purge), "{}", err.message());

    bridge.flush().await.unwrap();
    assert_eq!(
        stream_messages(&bridge, "ORDERS").await,
        1,
        "the stream was purged"
    );
}

/// Issue 16 item 1: the NATS reply subject wins over the body's reply_to.
#[tokio::test(flavor = "multi_thread")]
async fn the_nats_reply_subject_wins_over_the_body() {
    use futures::StreamExt as _;
    let (_server, bridge) = server_and_bridge().await;
    let mut requests = subscribe(&bridge, "svc").await;
    let mut elsewhere = subscribe(&bridge, "elsewhere.replies").await;
    let client = bridge.client().clone();
    let mut inbox = client.subscribe("_INBOX.mine").await.unwrap();
    client
        .publish_with_reply("svc", "_INBOX.mine", raw_request("elsewhere.replies"))
        .await
        .unwrap();
    let request = requests.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(request.reply_subject(), Some("_INBOX.mine"));
    bridge
        .reply(
            &request,
            vec![Payload::text("a", "ok")],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    let answer = tokio::time::timeout(WAIT, inbox.next())
        .await
        .unwrap()
        .unwrap();
    let answer = bridge
        .smartreceive(&answer, &ReceiveOptions::new())
        .await
        .unwrap();
    assert_eq!(answer.header.reply_to_msg_id, "m-evil");
    assert!(
        elsewhere
            .next_timeout(Duration::from_millis(300))
            .await
            .is_err(),
        "nothing goes to the body's reply_to"
    );
}

/// Issue 16 item 1: with `reply_subject_prefixes` (set by name, as every
/// front end does), a reply goes only to a listed prefix; a `$` prefix is
/// refused at connect.
#[tokio::test(flavor = "multi_thread")]
async fn the_reply_allow_list_refuses_other_subjects() {
    let server = natsbridge_testkit::NatsServer::start();
    let responder = ConnectOptions::new(server.url())
        .set(
            "replySubjectPrefixes",
            OptionValue::TextList(vec!["_INBOX.".into()]),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let requester = natsbridge::Bridge::connect(&server.url()).await.unwrap();
    let mut requests = subscribe(&responder, "svc").await;
    let mut deleted = subscribe(&requester, "orders.delete").await;

    requester
        .smartsend(
            "svc",
            vec![Payload::text("q", "x")],
            &SendOptions::new().reply_to("orders.delete"),
        )
        .await
        .unwrap();
    let request = requests.next_timeout(WAIT).await.unwrap().unwrap();
    let err = responder
        .reply(&request, vec![Payload::text("a", "x")], &SendOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("orders.delete"), "{}", err.message());
    assert!(
        deleted
            .next_timeout(Duration::from_millis(300))
            .await
            .is_err()
    );

    // A request's inbox is listed: answered.
    let serve = tokio::spawn(async move {
        let request = requests.next_timeout(WAIT).await.unwrap().unwrap();
        responder
            .reply(
                &request,
                vec![Payload::text("a", "ok")],
                &SendOptions::new(),
            )
            .await
            .unwrap();
        // The last handle of this bridge ends here: flush before it closes.
        responder.flush().await.unwrap();
    });
    let reply = requester
        .request(
            "svc",
            vec![Payload::text("q", "y")],
            &SendOptions::new(),
            Some(WAIT),
            &ReceiveOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(reply.payloads[0].value.as_text(), Some("ok"));
    serve.await.unwrap();

    for bad in ["$JS.", ""] {
        let err = ConnectOptions::new(server.url())
            .reply_subject_prefix(bad)
            .connect()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
}
