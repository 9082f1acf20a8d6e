//! JetStream: acknowledged publishing and durable consumers that replay.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{WAIT, server_and_bridge};
use natsbridge::jetstream::{ConsumerOptions, DeliverFrom};
use natsbridge::{Bridge, ErrorKind, Payload, SendOptions};

fn numbered(index: usize) -> Vec<Payload> {
    vec![Payload::text("n", index.to_string())]
}

fn number(message: &natsbridge::jetstream::JetStreamMessage) -> usize {
    message.envelope.payloads[0]
        .value
        .as_text()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn jetstream_publish_is_acknowledged_with_a_sequence() {
    let (_server, bridge) = server_and_bridge().await;
    let err = bridge
        .smartsend(
            "orders.new",
            numbered(0),
            &SendOptions::new().jetstream(true),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStream, "{err}");
    assert!(err.message().contains("no JetStream stream"), "{err}");
    bridge.ensure_stream("ORDERS", &["orders.>"]).await.unwrap();
    let first = bridge
        .smartsend(
            "orders.new",
            numbered(1),
            &SendOptions::new().jetstream(true),
        )
        .await
        .unwrap();
    let second = bridge
        .smartsend(
            "orders.new",
            numbered(2),
            &SendOptions::new().jetstream(true),
        )
        .await
        .unwrap();
    assert_eq!(
        (first.stream_sequence, second.stream_sequence),
        (Some(1), Some(2))
    );
    // The same msg_id again is de-duplicated by the stream (Nats-Msg-Id).
    let again = bridge
        .smartsend(
            "orders.new",
            numbered(2),
            &SendOptions::new()
                .jetstream(true)
                .msg_id(second.header.msg_id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(again.stream_sequence, Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_durable_consumer_resumes_after_the_last_ack_when_restarted() {
    let (server, bridge) = server_and_bridge().await;
    bridge
        .ensure_stream("CHAT", &["/chat/room1"])
        .await
        .unwrap();
    for index in 0..10 {
        bridge
            .smartsend(
                "/chat/room1",
                numbered(index),
                &SendOptions::new().jetstream(true),
            )
            .await
            .unwrap();
    }
    let consumer = || ConsumerOptions::durable("reader").ack_wait(Duration::from_secs(1));
    {
        // First run: process and acknowledge 0..=5, take 6 without acknowledging, then "crash".
        let worker = Bridge::connect(&server.url()).await.unwrap();
        let mut sub = worker.durable_subscribe("CHAT", consumer()).await.unwrap();
        for expected in 0..=5 {
            let message = sub.next_timeout(WAIT).await.unwrap().unwrap();
            assert_eq!(number(&message), expected);
            assert_eq!(message.delivered, 1);
            message.ack().await.unwrap();
        }
        let unacked = sub.next_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(number(&unacked), 6);
        worker.close().await.unwrap();
    }
    // Restart: resumes at 6 (redelivered once ack_wait expires), nothing acked comes back.
    let worker = Bridge::connect(&server.url()).await.unwrap();
    let mut sub = worker.durable_subscribe("CHAT", consumer()).await.unwrap();
    let mut seen = BTreeSet::new();
    while seen.len() < 4 {
        let message = sub.next_timeout(WAIT).await.unwrap().unwrap();
        let n = number(&message);
        assert!(n >= 6, "message {n} was acknowledged before the restart");
        if n == 6 {
            assert!(message.delivered >= 2, "6 is a redelivery");
        }
        message.ack().await.unwrap();
        seen.insert(n);
    }
    assert_eq!(seen, BTreeSet::from([6, 7, 8, 9]));
    assert_eq!(
        sub.next_timeout(Duration::from_millis(1500))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );

    // A full replay from the start is always possible with a new consumer.
    let mut replay = worker
        .durable_subscribe(
            "CHAT",
            ConsumerOptions::ephemeral().deliver_from(DeliverFrom::All),
        )
        .await
        .unwrap();
    for expected in 0..10 {
        let message = replay.next_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(
            (number(&message), message.stream_sequence),
            (expected, expected as u64 + 1)
        );
        message.ack().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_message_in_a_stream_does_not_block_the_consumer() {
    let (_server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("MIXED", &["mixed.>"]).await.unwrap();
    let js = async_nats::jetstream::new(bridge.client().clone());
    js.publish("mixed.a", "not an envelope".into())
        .await
        .unwrap()
        .await
        .unwrap();
    bridge
        .smartsend("mixed.a", numbered(1), &SendOptions::new().jetstream(true))
        .await
        .unwrap();
    let mut sub = bridge
        .durable_subscribe(
            "MIXED",
            ConsumerOptions::durable("m").ack_wait(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let err = sub.next_timeout(WAIT).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedEnvelope);
    let good = sub.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(number(&good), 1);
    good.ack().await.unwrap();
    // The bad one was terminated, so it is not redelivered.
    assert_eq!(
        sub.next_timeout(Duration::from_millis(2500))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
}

// ---- issue 16 item 13: what can never succeed is terminated ---------------

/// Publishes, through JetStream, an envelope with one binary link payload.
async fn publish_link(bridge: &Bridge, subject: &str, url: &str, data: &[u8]) {
    let body = serde_json::json!({
        "version": 1, "msg_id": format!("m-{url}"),
        "payloads": [{"id": "p", "dataname": "file", "type": "binary", "transport": "link",
                      "encoding": "url", "size": data.len(),
                      "sha256": natsbridge::codec::sha256_hex(data), "data": url, "metadata": {}}]
    })
    .to_string();
    let js = async_nats::jetstream::new(bridge.client().clone());
    js.publish(subject.to_owned(), body.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

fn quick_receive() -> natsbridge::ReceiveOptions {
    natsbridge::ReceiveOptions::new()
        .max_retries(1)
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(20))
}

#[tokio::test(flavor = "multi_thread")]
async fn deterministic_download_failures_are_terminated_not_redelivered() {
    let (_server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("LINKS", &["links.>"]).await.unwrap();
    let missing =
        natsbridge_testkit::FaultServer::start(vec![natsbridge_testkit::Reply::status(404)]);
    let data = b"0123456789".repeat(100);
    publish_link(
        &bridge,
        "links.a",
        &format!("{}/gone", missing.url()),
        &data,
    )
    .await;
    publish_link(&bridge, "links.b", &format!("{}/big", missing.url()), &data).await;
    // Over the receiver's cap (refused before any request), then a 404: each
    // message fails once and is terminated (a NAK would redeliver after 1 s).
    for (durable, receive) in [
        ("over-cap", quick_receive().max_download_size(999)),
        ("not-found", quick_receive()),
    ] {
        let mut sub = bridge
            .durable_subscribe(
                "LINKS",
                ConsumerOptions::durable(durable)
                    .ack_wait(Duration::from_secs(1))
                    .receive_options(receive),
            )
            .await
            .unwrap();
        for _ in 0..2 {
            let err = sub.next_timeout(WAIT).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Download, "{err}");
            let why = if durable == "over-cap" {
                "max_download_size"
            } else {
                "404"
            };
            assert!(err.message().contains(why), "{err}");
        }
        assert_eq!(
            sub.next_timeout(Duration::from_millis(3000))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Timeout,
            "{durable}"
        );
    }
    assert_eq!(
        missing.hits(),
        2,
        "one GET per message, no retries of a 404"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn consumers_get_a_finite_max_deliver_by_default() {
    let (_server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("FINITE", &["finite.>"]).await.unwrap();
    let _sub = bridge
        .durable_subscribe("FINITE", ConsumerOptions::durable("f"))
        .await
        .unwrap();
    let js = async_nats::jetstream::new(bridge.client().clone());
    let stream = js.get_stream("FINITE").await.unwrap();
    let info = stream.consumer_info("f").await.unwrap();
    assert_eq!(
        info.config.max_deliver,
        natsbridge::jetstream::DEFAULT_MAX_DELIVER
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_download_is_kept_in_progress_and_not_redelivered() {
    let (_server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("SLOW", &["slow.>"]).await.unwrap();
    let data = b"slow bytes".repeat(50);
    let slow = natsbridge_testkit::FaultServer::start(vec![natsbridge_testkit::Reply::delay(
        Duration::from_millis(3000),
        natsbridge_testkit::Reply::ok(data.clone()),
    )]);
    publish_link(&bridge, "slow.a", &format!("{}/s", slow.url()), &data).await;
    let mut sub = bridge
        .durable_subscribe(
            "SLOW",
            ConsumerOptions::durable("s")
                .ack_wait(Duration::from_secs(1))
                .receive_options(quick_receive().download_timeout(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    let message = sub.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(message.delivered, 1);
    message.ack().await.unwrap();
    // With ack_wait 1 s and a 3 s download, the server would have sent it
    // again twice by now without progress acks.
    assert_eq!(
        sub.next_timeout(Duration::from_millis(2000))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
    assert_eq!(slow.hits(), 1);
}

// ---- issue 19 item 1: options by name, deliver-from, nak, term, replicas ----

fn by_name(pairs: &[(&str, natsbridge::schema::OptionValue)]) -> ConsumerOptions {
    pairs
        .iter()
        .fold(ConsumerOptions::ephemeral(), |options, (name, value)| {
            options.set(name, value.clone()).unwrap()
        })
}

fn text(value: &str) -> natsbridge::schema::OptionValue {
    natsbridge::schema::OptionValue::Text(value.into())
}

async fn publish_numbered(bridge: &Bridge, subject: &str, range: std::ops::Range<usize>) {
    for index in range {
        bridge
            .smartsend(
                subject,
                numbered(index),
                &SendOptions::new().jetstream(true),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unacked_messages_come_back_to_the_same_durable_name_exactly_once_more() {
    let (server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("REDO", &["redo.>"]).await.unwrap();
    publish_numbered(&bridge, "redo.a", 0..6).await;
    let options = || {
        by_name(&[
            ("stream", text("REDO")),
            ("durable", text("worker")),
            ("ack_wait", natsbridge::schema::OptionValue::Number(1000)),
        ])
    };
    {
        let worker = Bridge::connect(&server.url()).await.unwrap();
        let mut sub = worker.consume(options()).await.unwrap();
        for expected in 0..6 {
            let message = sub.next_timeout(WAIT).await.unwrap().unwrap();
            assert_eq!((number(&message), message.delivered), (expected, 1));
            if expected % 2 == 0 {
                message.ack().await.unwrap();
            }
        }
        worker.close().await.unwrap();
    }
    let worker = Bridge::connect(&server.url()).await.unwrap();
    let mut sub = worker.consume(options()).await.unwrap();
    let mut again = Vec::new();
    for _ in 0..3 {
        let message = sub.next_timeout(WAIT).await.unwrap().unwrap();
        again.push((number(&message), message.delivered));
        message.ack().await.unwrap();
    }
    again.sort();
    assert_eq!(again, vec![(1, 2), (3, 2), (5, 2)]);
    assert_eq!(
        sub.next_timeout(Duration::from_millis(1500))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
    // last_ack resumes that consumer; with no such consumer it is an error.
    let mut resumed = worker
        .consume(by_name(&[
            ("stream", text("REDO")),
            ("durable", text("worker")),
            ("deliver", text("last_ack")),
        ]))
        .await
        .unwrap();
    publish_numbered(&bridge, "redo.a", 6..7).await;
    let message = resumed.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(number(&message), 6);
    let err = worker
        .consume(by_name(&[
            ("stream", text("REDO")),
            ("durable", text("nobody")),
            ("deliver", text("last_ack")),
        ]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStream, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deliver_from_all_new_sequence_and_time() {
    let (_server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("FROM", &["from.>"]).await.unwrap();
    publish_numbered(&bridge, "from.a", 0..5).await;
    let first = |deliver: &str| {
        by_name(&[
            ("stream", text("FROM")),
            ("deliver", text(deliver)),
            ("filter_subject", text("from.>")),
        ])
    };
    let mut all = bridge.consume(first("all")).await.unwrap();
    let message = all.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!((number(&message), message.stream_sequence), (0, 1));
    let mut from_three = bridge.consume(first("3")).await.unwrap();
    let message = from_three.next_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!((number(&message), message.stream_sequence), (2, 3));
    let mut last = bridge.consume(first("last")).await.unwrap();
    assert_eq!(number(&last.next_timeout(WAIT).await.unwrap().unwrap()), 4);
    let mut new = bridge.consume(first("new")).await.unwrap();
    assert_eq!(
        new.next_timeout(Duration::from_millis(500))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
    publish_numbered(&bridge, "from.a", 5..6).await;
    assert_eq!(number(&new.next_timeout(WAIT).await.unwrap().unwrap()), 5);
    // A time after every message so far: only later ones.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let now = time_now_rfc3339();
    tokio::time::sleep(Duration::from_millis(20)).await;
    publish_numbered(&bridge, "from.a", 6..7).await;
    let mut since = bridge.consume(first(&now)).await.unwrap();
    assert_eq!(number(&since.next_timeout(WAIT).await.unwrap().unwrap()), 6);
    // Bad values are typed errors before anything reaches the server.
    for (name, value) in [
        ("deliver", text("yesterday")),
        ("deliver", text("0")),
        ("durable", text(" ")),
        ("ack_wait", natsbridge::schema::OptionValue::Number(0)),
        ("deliver", natsbridge::schema::OptionValue::Number(3)),
    ] {
        let err = ConsumerOptions::ephemeral().set(name, value).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    let err = bridge
        .consume(ConsumerOptions::durable("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err = bridge
        .consume(first("all").stream("NO_SUCH_STREAM"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStream, "{err}");
}

fn time_now_rfc3339() -> String {
    natsbridge::clock::now_rfc3339_millis()
}

#[tokio::test(flavor = "multi_thread")]
async fn nak_with_delay_redelivers_and_term_does_not() {
    let (_server, bridge) = server_and_bridge().await;
    bridge.ensure_stream("SETTLE", &["settle.>"]).await.unwrap();
    publish_numbered(&bridge, "settle.a", 0..2).await;
    let mut sub = bridge
        .durable_subscribe(
            "SETTLE",
            ConsumerOptions::durable("s").ack_wait(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let zero = sub.next_timeout(WAIT).await.unwrap().unwrap();
    let one = sub.next_timeout(WAIT).await.unwrap().unwrap();
    let started = std::time::Instant::now();
    zero.nak(Some(Duration::from_millis(800))).await.unwrap();
    one.term().await.unwrap();
    let again = sub.next_timeout(WAIT).await.unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!((number(&again), again.delivered), (0, 2));
    again.ack().await.unwrap();
    // ack_wait is 30 s: nothing else comes back (term is final).
    assert_eq!(
        sub.next_timeout(Duration::from_millis(1500))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_and_buckets_are_created_with_the_replica_count() {
    let (server, bridge) = server_and_bridge().await;
    bridge
        .ensure_stream_replicated("ONE", &["one.>"], 1)
        .await
        .unwrap();
    let js = async_nats::jetstream::new(bridge.client().clone());
    let mut stream = js.get_stream("ONE").await.unwrap();
    assert_eq!(stream.info().await.unwrap().config.num_replicas, 1);
    let err = bridge
        .ensure_stream_replicated("ZERO", &["zero.>"], 0)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // A single server cannot keep 3 copies: the server's refusal is typed.
    let err = bridge
        .ensure_stream_replicated("THREE", &["three.>"], 3)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStream, "{err}");
    // The connection's option reaches the Object Store bucket it creates.
    let three = natsbridge::ConnectOptions::new(server.url())
        .object_store_bucket("three")
        .jetstream_replicas(3)
        .connect()
        .await
        .unwrap();
    let big = vec![7u8; 2 << 20];
    let err = three
        .smartsend(
            "big",
            vec![Payload::bytes("b", natsbridge::PayloadType::Binary, big)],
            &SendOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upload, "{err}");
}
