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
