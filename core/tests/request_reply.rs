//! Request/reply (wire-v1 section 6) over a real nats-server.

mod common;

use std::time::Duration;

use common::{WAIT, server_and_bridge, subscribe};
use natsbridge::{ErrorKind, Payload, ReceiveOptions, ReplyTarget, SendOptions};
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
    let target = ReplyTarget::from_fields("/raw/response", Some("_INBOX.unused"), "m-42", "c-42");
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
