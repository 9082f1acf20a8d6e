//! The subscription's guarantees against a real nats-server: waits dropped at
//! any point lose and reorder nothing (also while link payloads download from
//! a slow server), a stop handle ends a pending wait from another task, the
//! rule after `unsubscribe` (ends at once, drops what is buffered) and after
//! `drain` (delivers what had arrived, then ends), and concurrent decoding
//! that keeps arrival order.

mod common;

use std::time::{Duration, Instant};

use common::{WAIT, pattern, server_and_bridge};
use natsbridge::codec::sha256_hex;
use natsbridge::{Bridge, Payload, ReceiveOptions, ReceivedEnvelope, SendOptions, Subscription};
use natsbridge_testkit::{FaultServer, Reply};
use serde_json::json;

/// A link envelope `m-<index>` whose one payload is `data`, served by `server`.
fn link_envelope(index: usize, server: &FaultServer, data: &[u8]) -> Vec<u8> {
    json!({
        "version": 1,
        "msg_id": format!("m-{index}"),
        "payloads": [{"id": format!("p-{index}"), "dataname": "file", "type": "binary",
                      "transport": "link", "encoding": "url", "size": data.len(),
                      "sha256": sha256_hex(data), "data": format!("{}/f/{index}", server.url()),
                      "metadata": {}}]
    })
    .to_string()
    .into_bytes()
}

/// Publishes envelopes `m-0` .. `m-<count - 1>` in order: those `is_link`
/// picks by link to `server` (which serves `data`), the others direct.
async fn publish_numbered(
    bridge: &Bridge,
    subject: &str,
    count: usize,
    is_link: impl Fn(usize) -> bool,
    server: &FaultServer,
    data: &[u8],
) {
    for index in 0..count {
        if is_link(index) {
            bridge
                .client()
                .publish(
                    subject.to_owned(),
                    link_envelope(index, server, data).into(),
                )
                .await
                .unwrap();
        } else {
            bridge
                .smartsend(
                    subject,
                    vec![Payload::text("n", index.to_string())],
                    &SendOptions::new().msg_id(format!("m-{index}")),
                )
                .await
                .unwrap();
        }
    }
    bridge.flush().await.unwrap();
}

/// The index of envelope `m-<index>`, checking a link payload's bytes.
fn index_of(envelope: &ReceivedEnvelope, data: &[u8]) -> usize {
    let payload = &envelope.payloads[0];
    if let Some(bytes) = payload.value.as_bytes() {
        assert!(bytes.as_ref() == data, "a link payload's bytes differ");
    }
    envelope
        .header
        .msg_id
        .strip_prefix("m-")
        .unwrap()
        .parse()
        .unwrap()
}

async fn subscribe(bridge: &Bridge, subject: &str) -> Subscription {
    bridge
        .subscribe(subject, ReceiveOptions::new())
        .await
        .expect("subscribe")
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_waits_lose_and_reorder_nothing() {
    const COUNT: usize = 320;
    let (_server, bridge) = server_and_bridge().await;
    let data = pattern(2000);
    // Every link download takes 15 ms: waits are dropped while they run.
    let slow = FaultServer::start(vec![Reply::delay(
        Duration::from_millis(15),
        Reply::ok(data.clone()),
    )]);
    let mut sub = subscribe(&bridge, "cancel.safe").await;
    let publisher = {
        let bridge = bridge.clone();
        let data = data.clone();
        tokio::spawn(async move {
            publish_numbered(&bridge, "cancel.safe", COUNT, |i| i % 7 == 3, &slow, &data).await;
            slow
        })
    };

    let mut got = Vec::new();
    let mut dropped = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut round: u64 = 0;
    while got.len() < COUNT {
        assert!(
            Instant::now() < deadline,
            "only {} of {COUNT} arrived",
            got.len()
        );
        round += 1;
        // Tiny, varying bounds: most waits are dropped at some await point.
        let bound = Duration::from_micros(50 + (round * 7919) % 3000);
        let item = if round.is_multiple_of(2) {
            match tokio::time::timeout(bound, sub.next()).await {
                Ok(item) => item,
                Err(_) => {
                    dropped += 1;
                    continue;
                }
            }
        } else {
            tokio::select! {
                item = sub.next() => item,
                () = tokio::time::sleep(bound) => {
                    dropped += 1;
                    continue;
                }
            }
        };
        let envelope = item
            .expect("the subscription is open")
            .expect("a valid envelope");
        got.push(index_of(&envelope, &data));
    }
    let slow = publisher.await.unwrap();
    assert_eq!(
        got,
        (0..COUNT).collect::<Vec<_>>(),
        "lost, doubled or reordered"
    );
    assert!(
        dropped > 50,
        "only {dropped} waits were dropped: the test proves little"
    );
    assert_eq!(slow.hits(), (0..COUNT).filter(|i| i % 7 == 3).count());
    // Nothing more is left over.
    assert!(sub.next_timeout(Duration::from_millis(200)).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_handle_ends_a_pending_wait_from_another_task() {
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "stop.idle").await;
    let stop = sub.stop_handle();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.unsubscribe().await.unwrap();
    });
    let started = Instant::now();
    let item = tokio::time::timeout(WAIT, sub.next()).await.unwrap();
    assert!(item.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(sub.next().await.is_none(), "later waits end too");

    // Also while a link payload is downloading from a server that stalls.
    let data = pattern(100);
    let stalled = FaultServer::start(vec![Reply::delay(
        Duration::from_secs(30),
        Reply::ok(data.clone()),
    )]);
    let mut sub = subscribe(&bridge, "stop.busy").await;
    publish_numbered(&bridge, "stop.busy", 1, |_| true, &stalled, &data).await;
    let stop = sub.stop_handle();
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let item = sub.next().await;
        (item.is_none(), started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stalled.hits(), 1, "the download has started");
    let unsubscribed = Instant::now();
    // From a plain thread, as a C or Python caller would.
    std::thread::spawn(move || {
        natsbridge::runtime::block_on(stop.unsubscribe())
            .unwrap()
            .unwrap();
    })
    .join()
    .unwrap();
    let (ended, _) = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert!(ended);
    assert!(unsubscribed.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_drops_what_was_buffered() {
    let (_server, bridge) = server_and_bridge().await;
    let unused = FaultServer::start(vec![Reply::status(500)]);
    let mut sub = subscribe(&bridge, "after.unsubscribe").await;
    publish_numbered(&bridge, "after.unsubscribe", 10, |_| false, &unused, b"").await;
    // The first one is taken; the other nine have arrived and wait.
    let first = tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(index_of(&first, b""), 0);
    sub.unsubscribe().await.unwrap();
    assert!(
        sub.next().await.is_none(),
        "unsubscribe drops what was buffered"
    );
    assert!(sub.next_timeout(WAIT).await.unwrap().is_none());
    assert!(sub.next_batch(10, None).await.unwrap().is_empty());
    // Unsubscribing again, or draining afterwards, is harmless.
    sub.unsubscribe().await.unwrap();
    sub.drain().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_delivers_what_had_arrived_then_ends() {
    let (_server, bridge) = server_and_bridge().await;
    let data = pattern(500);
    let slowish = FaultServer::start(vec![Reply::delay(
        Duration::from_millis(20),
        Reply::ok(data.clone()),
    )]);
    let mut sub = subscribe(&bridge, "after.drain").await;
    publish_numbered(
        &bridge,
        "after.drain",
        25,
        |i| i.is_multiple_of(5),
        &slowish,
        &data,
    )
    .await;
    let stop = sub.stop_handle();
    stop.drain().await.unwrap();
    // Published after the drain: the server no longer sends it.
    publish_numbered(&bridge, "after.drain", 1, |_| false, &slowish, &data).await;
    let mut got = Vec::new();
    while let Some(item) = tokio::time::timeout(WAIT, sub.next()).await.unwrap() {
        got.push(index_of(&item.unwrap(), &data));
    }
    assert_eq!(got, (0..25).collect::<Vec<_>>());
    assert!(sub.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_after_delivers_that_many_then_ends() {
    let (_server, bridge) = server_and_bridge().await;
    let unused = FaultServer::start(vec![Reply::status(500)]);
    let mut sub = subscribe(&bridge, "after.n").await;
    sub.unsubscribe_after(3).await.unwrap();
    publish_numbered(&bridge, "after.n", 6, |_| false, &unused, b"").await;
    let mut got = Vec::new();
    while let Some(item) = tokio::time::timeout(WAIT, sub.next()).await.unwrap() {
        got.push(index_of(&item.unwrap(), b""));
    }
    assert_eq!(got, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_receives_keep_arrival_order_and_overlap_slow_links() {
    const COUNT: usize = 24;
    const DELAY: Duration = Duration::from_millis(300);
    let (_server, bridge) = server_and_bridge().await;
    let data = pattern(1000);
    let slow = FaultServer::start(vec![Reply::delay(DELAY, Reply::ok(data.clone()))]);
    let mut sub = subscribe(&bridge, "concurrent")
        .await
        .concurrent_receives(8);
    let is_link = |i: usize| i % 2 == 1;
    publish_numbered(&bridge, "concurrent", COUNT, is_link, &slow, &data).await;
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < COUNT {
        let batch = sub.next_batch(16, Some(WAIT)).await.unwrap();
        assert!(!batch.is_empty() && batch.len() <= 16);
        for item in batch {
            got.push(index_of(&item.unwrap(), &data));
        }
    }
    let took = started.elapsed();
    assert_eq!(got, (0..COUNT).collect::<Vec<_>>());
    // One at a time, the 12 links would take 12 * 300 ms = 3.6 s.
    let serial = DELAY * (COUNT / 2) as u32;
    assert!(
        took < serial / 2,
        "took {took:?}: the downloads did not overlap"
    );

    // The default, one at a time, is measurably serial (the control).
    let mut serial_sub = subscribe(&bridge, "serial").await;
    publish_numbered(&bridge, "serial", 6, |_| true, &slow, &data).await;
    let started = Instant::now();
    for expected in 0..6 {
        let envelope = serial_sub.next_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(index_of(&envelope, &data), expected);
    }
    assert!(started.elapsed() >= DELAY * 5, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn next_batch_takes_only_what_is_there_and_times_out_when_idle() {
    let (_server, bridge) = server_and_bridge().await;
    let unused = FaultServer::start(vec![Reply::status(500)]);
    let mut sub = subscribe(&bridge, "batch").await;
    let err = sub
        .next_batch(5, Some(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), natsbridge::ErrorKind::Timeout);
    publish_numbered(&bridge, "batch", 7, |_| false, &unused, b"").await;
    let mut got = Vec::new();
    while got.len() < 7 {
        let batch = sub.next_batch(3, Some(WAIT)).await.unwrap();
        assert!((1..=3).contains(&batch.len()), "{}", batch.len());
        got.extend(batch.into_iter().map(|item| index_of(&item.unwrap(), b"")));
    }
    assert_eq!(got, (0..7).collect::<Vec<_>>());
    // A message that is not an envelope is an error item; the batch goes on.
    bridge
        .client()
        .publish("batch", "not json".into())
        .await
        .unwrap();
    bridge.flush().await.unwrap();
    let batch = sub.next_batch(3, Some(WAIT)).await.unwrap();
    assert_eq!(
        batch[0].as_ref().unwrap_err().kind(),
        natsbridge::ErrorKind::MalformedEnvelope
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_bridge_ends_the_subscription() {
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "closing").await;
    let closer = bridge.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        closer.close().await.unwrap();
    });
    assert!(
        tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .is_none()
    );
}

/// Small results run ahead of a slow reader (up to `RESULTS_AHEAD`), but at
/// most one result holding downloaded link payloads waits in the channel:
/// with nothing taken, the pump downloads the first link envelope (in the
/// channel) and the second (waiting for the first to be taken), and no more.
/// Each one taken lets exactly one more download start; all arrive in order.
#[tokio::test(flavor = "multi_thread")]
async fn only_one_downloaded_link_result_waits_ahead_of_the_reader() {
    const COUNT: usize = 5;
    let (_server, bridge) = server_and_bridge().await;
    let data = pattern(3000);
    let store = FaultServer::start(vec![Reply::ok(data.clone())]);
    let mut sub = subscribe(&bridge, "heavy.ahead").await;
    let direct = subscribe(&bridge, "light.ahead").await;
    publish_numbered(&bridge, "heavy.ahead", COUNT, |_| true, &store, &data).await;
    publish_numbered(&bridge, "light.ahead", 40, |_| false, &store, &data).await;
    // Long enough for the pump to fetch everything it is allowed to.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        store.requests().len(),
        2,
        "downloads before the reader took anything"
    );
    for taken in 0..COUNT {
        let envelope = sub.next_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(index_of(&envelope, &data), taken);
        let deadline = Instant::now() + Duration::from_secs(5);
        let expected = (taken + 3).min(COUNT);
        while store.requests().len() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            store.requests().len(),
            expected,
            "downloads after taking {}",
            taken + 1
        );
    }
    // The direct envelopes were all decoded ahead and come in order.
    let mut direct = direct;
    let batch = direct.next_batch(64, Some(WAIT)).await.unwrap();
    assert_eq!(
        batch.len(),
        40,
        "every small result was waiting in the channel"
    );
    for (index, item) in batch.into_iter().enumerate() {
        assert_eq!(index_of(&item.unwrap(), &data), index);
    }
}

/// A binding that queues taken results (the C library's notify
/// subscriptions) holds a heavy result's place until its own reader takes
/// it: meanwhile the pump hands over no other heavy result.
#[tokio::test(flavor = "multi_thread")]
async fn a_held_place_keeps_the_next_heavy_result_back() {
    let (_server, bridge) = server_and_bridge().await;
    let data = pattern(3000);
    let store = FaultServer::start(vec![Reply::ok(data.clone())]);
    let mut sub = subscribe(&bridge, "heavy.held").await;
    let mut light = subscribe(&bridge, "light.held").await;
    publish_numbered(&bridge, "heavy.held", 3, |_| true, &store, &data).await;
    publish_numbered(&bridge, "light.held", 1, |_| false, &store, &data).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        store.requests().len(),
        2,
        "downloads before anything was taken"
    );

    let (first, place) = tokio::time::timeout(WAIT, sub.next_held())
        .await
        .expect("a result within the wait")
        .expect("the subscription is open");
    assert_eq!(index_of(&first.unwrap(), &data), 0);
    assert!(place.is_heavy());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        store.requests().len(),
        2,
        "no further download while the first heavy result's place is held"
    );

    drop(place);
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.requests().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        store.requests().len(),
        3,
        "the place given back lets the pump go on"
    );
    for index in 1..3 {
        let (item, place) = tokio::time::timeout(WAIT, sub.next_held())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(index_of(&item.unwrap(), &data), index);
        assert!(place.is_heavy());
    }

    let (item, place) = tokio::time::timeout(WAIT, light.next_held())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(index_of(&item.unwrap(), &data), 0);
    assert!(!place.is_heavy(), "a direct result holds no place");
}

/// The pump runs on the shared runtime, where the connection lives: a
/// subscription made on a runtime that then ends (a binding's short-lived
/// runtime, a test's) still delivers.
#[test]
fn a_subscription_outlives_the_runtime_that_subscribed() {
    let server = natsbridge_testkit::NatsServer::start();
    let subscribing = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bridge, mut sub) = subscribing.block_on(async {
        let bridge = Bridge::connect(&server.url()).await.expect("connect");
        let sub = subscribe(&bridge, "outlives.runtime").await;
        (bridge, sub)
    });
    drop(subscribing);
    let received = natsbridge::runtime::block_on(async {
        bridge
            .smartsend(
                "outlives.runtime",
                vec![Payload::text("n", "after the runtime ended")],
                &SendOptions::new(),
            )
            .await
            .unwrap();
        sub.next_timeout(WAIT).await
    })
    .unwrap()
    .expect("a message")
    .expect("the subscription ended with the runtime that made it");
    assert_eq!(
        received.payloads[0].value.as_text(),
        Some("after the runtime ended")
    );
}
