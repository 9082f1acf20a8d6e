//! The claim-check (link) transport against the real file server, the
//! JetStream Object Store, a plik-compatible server, and scripted HTTP
//! faults: round trips, streaming, handlers, and every way a link can be bad.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{WAIT, next, pattern, server_and_bridge, subscribe};
use natsbridge::encoding::sha256_hex;
use natsbridge::store::{HandlerFetcher, HandlerStore, PlikStore};
use natsbridge::{
    Bridge, ConnectOptions, ErrorKind, Payload, PayloadType, PayloadValue, ReceiveOptions,
    SendOptions, Table, Transport,
};
use natsbridge_testkit::{
    FaultServer, FileServerHandle, NatsServer, PlikServer, Reply, closed_port,
};
use serde_json::json;

const MB: usize = 1_000_000;

/// A hand-made envelope with one binary link payload, as a third party would write it.
fn link_envelope(url: &str, size: u64, sha: &str) -> Vec<u8> {
    json!({
        "version": 1,
        "msg_id": "m-1",
        "payloads": [{"id": "p-1", "dataname": "file", "type": "binary", "transport": "link",
                      "encoding": "url", "size": size, "sha256": sha, "data": url, "metadata": {}}]
    })
    .to_string()
    .into_bytes()
}

fn fast_retries() -> ReceiveOptions {
    ReceiveOptions::new()
        .max_retries(3)
        .base_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(100))
        .download_timeout(Duration::from_secs(5))
}

async fn receive(
    body: &[u8],
    options: &ReceiveOptions,
) -> natsbridge::Result<natsbridge::ReceivedEnvelope> {
    natsbridge::smartreceive(body, None, options).await
}

#[tokio::test(flavor = "multi_thread")]
async fn http_file_server_round_trips_5_and_50_mb() {
    let (_server, bridge) = server_and_bridge().await;
    let files = FileServerHandle::start();
    let mut sub = subscribe(&bridge, "files").await;
    for size in [5 * MB, 50 * MB] {
        let data = pattern(size);
        let sent = bridge
            .smartsend(
                "files",
                vec![Payload::bytes(
                    "large_document",
                    PayloadType::Binary,
                    data.clone(),
                )],
                &SendOptions::new().fileserver_url(files.url()),
            )
            .await
            .unwrap();
        let info = &sent.payloads[0];
        assert_eq!(info.transport, Transport::Link);
        assert_eq!(info.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
        let url = sent.payload_data(0);
        assert_eq!(url, format!("{}/{}/large_document", files.url(), info.id));
        let on_disk = std::fs::read(files.dir().join(&info.id).join("large_document")).unwrap();
        assert!(on_disk == data, "the stored file differs");
        let got = next(&mut sub).await;
        assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == data.as_slice());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_object_store_is_the_default_store() {
    let (server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "objects").await;
    for size in [5 * MB, 50 * MB] {
        let data = pattern(size);
        let sent = bridge
            .smartsend(
                "objects",
                vec![Payload::bytes("blob", PayloadType::Binary, data.clone())],
                &SendOptions::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            sent.payload_data(0),
            format!("nats-object://natsbridge/{}", sent.payloads[0].id)
        );
        let got = next(&mut sub).await;
        assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == data.as_slice());
    }
    // Another process, with only the message bytes and the NATS URL, reads it too.
    let sent = bridge
        .smartsend(
            "objects",
            vec![Payload::bytes(
                "again",
                PayloadType::Binary,
                pattern(2 * MB),
            )],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    let got = natsbridge::smartreceive(
        sent.wire_bytes(),
        Some(&server.url()),
        &ReceiveOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(got.payloads[0].value.as_bytes().unwrap().len(), 2 * MB);
    // The bucket was created with the 24 h TTL.
    let js = async_nats::jetstream::new(bridge.client().clone());
    let mut stream = js.get_stream("OBJ_natsbridge").await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().config.max_age,
        Duration::from_secs(24 * 3600)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_above_the_threshold_and_a_mixed_message() {
    let (_server, bridge) = server_and_bridge().await;
    let files = FileServerHandle::start();
    let mut sub = subscribe(&bridge, "mixed").await;
    let rows: Vec<_> = (0..20_000)
        .map(|i| json!({"id": i, "name": format!("row-{i}"), "v": i as f64 / 3.0}))
        .collect();
    let table = Table::from_json_rows(&rows).unwrap();
    let threshold = table.ipc_bytes().len() - 1;
    let sent = bridge
        .smartsend(
            "mixed",
            vec![
                Payload::text("message_text", "Hello!"),
                Payload::table("students", table.clone()),
                Payload::bytes("user_avatar", PayloadType::Image, pattern(10_000)),
                Payload::bytes(
                    "large_document",
                    PayloadType::Binary,
                    pattern(threshold + 5),
                ),
            ],
            &SendOptions::new()
                .fileserver_url(files.url())
                .size_threshold(threshold),
        )
        .await
        .unwrap();
    let transports: Vec<_> = sent.payloads.iter().map(|p| p.transport).collect();
    assert_eq!(
        transports,
        [
            Transport::Direct,
            Transport::Link,
            Transport::Direct,
            Transport::Link
        ]
    );
    let got = next(&mut sub).await;
    assert_eq!(got.payloads[0].value.as_text(), Some("Hello!"));
    let received = got.payloads[1].value.as_table().unwrap();
    assert_eq!(received.num_rows(), 20_000);
    assert_eq!(received.to_json_rows().unwrap()[19_999], rows[19_999]);
    assert_eq!(
        got.payloads[3].value.as_bytes().unwrap().len(),
        threshold + 5
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_store_at_all_is_a_clear_error() {
    let server = NatsServer::builder().without_jetstream().start();
    let bridge = Bridge::connect(&server.url()).await.unwrap();
    let err = bridge
        .smartsend(
            "x",
            vec![Payload::bytes("big", PayloadType::Binary, pattern(2 * MB))],
            &SendOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
    assert!(
        err.message().contains("fileserver_url") && err.message().contains("'big'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn file_payloads_stream_to_both_stores_and_to_a_save_dir() {
    let (_server, bridge) = server_and_bridge().await;
    let files = FileServerHandle::start();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("input.bin");
    let data = pattern(3 * MB);
    std::fs::write(&source, &data).unwrap();
    let save_dir = work.path().join("incoming");
    std::fs::create_dir(&save_dir).unwrap();
    let mut sub = bridge
        .subscribe("stream", ReceiveOptions::new().save_dir(&save_dir))
        .await
        .unwrap();
    bridge.flush().await.unwrap();
    for options in [
        SendOptions::new().fileserver_url(files.url()),
        SendOptions::new(),
    ] {
        let sent = bridge
            .smartsend(
                "stream",
                vec![Payload::file("../../etc/x", PayloadType::Binary, &source)],
                &options,
            )
            .await
            .unwrap();
        assert_eq!(
            sent.payloads[0].sha256.as_deref(),
            Some(sha256_hex(&data).as_str())
        );
        let got = next(&mut sub).await;
        let PayloadValue::File(path) = &got.payloads[0].value else {
            panic!("expected a file, got {:?}", got.payloads[0].value);
        };
        assert_eq!(
            path.parent(),
            Some(save_dir.as_path()),
            "the dataname escaped the save dir"
        );
        assert!(std::fs::read(path).unwrap() == data);
    }
    // A small file payload goes direct and arrives as bytes.
    std::fs::write(&source, b"tiny").unwrap();
    bridge
        .smartsend(
            "stream",
            vec![Payload::file("small", PayloadType::Binary, &source)],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        next(&mut sub).await.payloads[0]
            .value
            .as_bytes()
            .unwrap()
            .as_ref(),
        b"tiny"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_retry_5xx_and_429_but_not_4xx() {
    let data = pattern(1000);
    let sha = sha256_hex(&data);
    let flaky = FaultServer::start(vec![
        Reply::status(500),
        Reply::status(429),
        Reply::ok(data.clone()),
    ]);
    let got = receive(
        &link_envelope(&format!("{}/f", flaky.url()), 1000, &sha),
        &fast_retries(),
    )
    .await
    .unwrap();
    assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == data.as_slice());
    assert_eq!(flaky.hits(), 3);

    let missing = FaultServer::start(vec![Reply::status(404)]);
    let err = receive(
        &link_envelope(&format!("{}/f", missing.url()), 1000, &sha),
        &fast_retries(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(err.message().contains("404"), "{err}");
    assert_eq!(missing.hits(), 1, "a 404 must not be retried");

    let down = FaultServer::start(vec![Reply::status(503)]);
    let err = receive(
        &link_envelope(&format!("{}/f", down.url()), 1000, &sha),
        &fast_retries(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert_eq!(down.hits(), 4, "1 try + 3 retries");
    assert!(err.message().contains("gave up after 4 attempts"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_gives_up_in_bounded_time() {
    let url = format!("http://127.0.0.1:{}/f", closed_port());
    let options = ReceiveOptions::new()
        .max_retries(4)
        .base_delay(Duration::from_millis(50))
        .max_delay(Duration::from_millis(200));
    let started = Instant::now();
    let err = receive(&link_envelope(&url, 1, &sha256_hex(b"x")), &options)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Download, "{err}");
    // Delays are at least half their ceiling: 25 + 50 + 100 + 100 ms.
    assert!(
        took >= Duration::from_millis(275) && took < Duration::from_secs(5),
        "took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn size_sha_and_cap_violations_are_caught() {
    let data = pattern(5000);
    let sha = sha256_hex(&data);
    let server = FaultServer::start(vec![Reply::ok(data.clone())]);
    let url = format!("{}/f", server.url());
    let err = receive(
        &link_envelope(&url, 5000, &sha256_hex(b"other")),
        &fast_retries(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    let err = receive(&link_envelope(&url, 4000, &sha), &fast_retries())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");

    // A server that lies about its length or sends no length cannot push past the size.
    let liar = FaultServer::start(vec![Reply::ok_without_length(pattern(50_000))]);
    let err = receive(
        &link_envelope(&format!("{}/f", liar.url()), 5000, &sha),
        &fast_retries(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");

    // The receiver's cap: declared too large is refused before any request...
    let capped = fast_retries().max_download_size(10_000);
    let unused = FaultServer::start(vec![Reply::ok_pattern(20_000)]);
    let err = receive(
        &link_envelope(&format!("{}/f", unused.url()), 20_000, &sha),
        &capped,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(err.message().contains("max_download_size"), "{err}");
    assert_eq!(unused.hits(), 0);
    // ...and a body that runs past it is cut off, even a huge one.
    let huge = FaultServer::start(vec![Reply::ok_pattern(1 << 30).without_length()]);
    let started = Instant::now();
    let err = receive(
        &link_envelope(&format!("{}/f", huge.url()), 9_000, &sha),
        &capped,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_safe_urls_are_fetched() {
    let sha = sha256_hex(b"x");
    for url in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x",
    ] {
        let err = receive(&link_envelope(url, 1, &sha), &fast_retries())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UrlNotAllowed, "{url}: {err}");
    }
    // A redirect from an allowed server to the metadata address is refused at the hop.
    let redirector = FaultServer::start(vec![Reply::redirect(
        "http://169.254.169.254/latest/meta-data/",
    )]);
    let err = receive(
        &link_envelope(&format!("{}/f", redirector.url()), 1, &sha),
        &fast_retries(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UrlNotAllowed, "{err}");
    assert_eq!(redirector.hits(), 1);

    // With an allow-list, other origins are refused, also as redirect targets.
    let allowed = FaultServer::start(vec![Reply::ok(b"x".to_vec())]);
    let outsider = FaultServer::start(vec![Reply::ok(b"x".to_vec())]);
    let options = fast_retries().allowed_origin(allowed.url());
    receive(
        &link_envelope(&format!("{}/f", allowed.url()), 1, &sha),
        &options,
    )
    .await
    .unwrap();
    let err = receive(
        &link_envelope(&format!("{}/f", outsider.url()), 1, &sha),
        &options,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UrlNotAllowed);
    let bouncer = FaultServer::start(vec![Reply::redirect(&format!("{}/f", outsider.url()))]);
    let options = fast_retries().allowed_origin(bouncer.url());
    let err = receive(
        &link_envelope(&format!("{}/f", bouncer.url()), 1, &sha),
        &options,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UrlNotAllowed);
    assert_eq!(outsider.hits(), 0, "the refused origin was contacted");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_tokens_go_only_to_the_store() {
    let data = b"secret-file".to_vec();
    let sha = sha256_hex(&data);
    let elsewhere = FaultServer::start(vec![Reply::ok(data.clone())]);
    let store = FaultServer::start(vec![Reply::redirect(&format!("{}/moved", elsewhere.url()))]);
    let options = fast_retries().store_token(store.url(), "store-token");
    receive(
        &link_envelope(&format!("{}/f", store.url()), data.len() as u64, &sha),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(
        store.requests()[0].header("authorization"),
        Some("Bearer store-token")
    );
    assert_eq!(
        elsewhere.requests()[0].header("authorization"),
        None,
        "the token leaked to another host"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_missing_from_the_object_store_is_a_download_error() {
    let (server, _bridge) = server_and_bridge().await;
    let sha = sha256_hex(b"x");
    // The bucket does not even exist yet, then exists without the object.
    let url = "nats-object://natsbridge/no-such-object";
    let err = natsbridge::smartreceive(
        &link_envelope(url, 1, &sha),
        Some(&server.url()),
        &fast_retries(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download, "{err}");
    let bridge = Bridge::connect(&server.url()).await.unwrap();
    bridge
        .smartsend(
            "x",
            vec![Payload::bytes("b", PayloadType::Binary, pattern(2 * MB))],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let err = natsbridge::smartreceive(
        &link_envelope(url, 1, &sha),
        Some(&server.url()),
        &fast_retries(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download, "{err}");
    assert!(err.message().contains("not in the Object Store"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a missing object must not be retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_written_by_another_client_are_read_and_no_consumer_is_left() {
    let (server, bridge) = server_and_bridge().await;
    let js = async_nats::jetstream::new(bridge.client().clone());
    let store = js
        .create_object_store(async_nats::jetstream::object_store::Config {
            bucket: "elsewhere".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // Another application's bucket is read only when the receiver lists it.
    let elsewhere = || fast_retries().allowed_origin("nats-object://elsewhere");
    // Many chunks and a short last one; and a link object pointing at it.
    let data = pattern(3 * MB + 17);
    let sha = sha256_hex(&data);
    let original = store.put("original", &mut data.as_slice()).await.unwrap();
    store.add_link("alias", &original).await.unwrap();
    let empty = store.put("empty", &mut &b""[..]).await.unwrap();
    assert_eq!(empty.chunks, 0);
    for (name, want) in [
        ("original", &data[..]),
        ("alias", &data[..]),
        ("empty", &b""[..]),
    ] {
        let url = format!("nats-object://elsewhere/{name}");
        let got = natsbridge::smartreceive(
            &link_envelope(&url, want.len() as u64, &sha256_hex(want)),
            Some(&server.url()),
            &elsewhere(),
        )
        .await
        .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert!(
            got.payloads[0].value.as_bytes().unwrap().as_ref() == want,
            "{name}"
        );
        // Each download removed its consumer.
        let stream = js.get_stream("OBJ_elsewhere").await.unwrap();
        let names: Vec<_> = futures::StreamExt::collect::<Vec<_>>(stream.consumer_names()).await;
        assert!(names.is_empty(), "after {name}: {names:?}");
    }
    // A size over the cap is final, not retried, even mid-object.
    let started = Instant::now();
    let err = natsbridge::smartreceive(
        &link_envelope("nats-object://elsewhere/original", 1000, &sha),
        Some(&server.url()),
        &elsewhere(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    // Metadata (written by hand, as a broken client might) that counts one
    // chunk more than was stored: each attempt gives up when no chunk comes
    // within request_timeout, and the download fails in bounded time.
    let mut short = store.info("original").await.unwrap();
    short.name = "short".into();
    short.chunks += 1;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Rollup", "sub");
    let meta_subject = format!(
        "$O.elsewhere.M.{}",
        base64_simd::URL_SAFE.encode_to_string("short")
    );
    js.publish_with_headers(
        meta_subject,
        headers,
        serde_json::to_vec(&short).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let started = Instant::now();
    let err = natsbridge::smartreceive(
        &link_envelope("nats-object://elsewhere/short", data.len() as u64, &sha),
        Some(&server.url()),
        &elsewhere().download_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download, "{err}");
    assert!(err.to_string().contains("no chunk came within"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    let stream = js.get_stream("OBJ_elsewhere").await.unwrap();
    let names: Vec<_> = futures::StreamExt::collect::<Vec<_>>(stream.consumer_names()).await;
    assert!(names.is_empty(), "after the stalled reads: {names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_uploads_fail_the_send_and_publish_nothing() {
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "up").await;
    let guarded = FileServerHandle::builder().token("right").start();
    let big = || {
        vec![
            Payload::text("note", "n"),
            Payload::bytes("big", PayloadType::Binary, pattern(2 * MB)),
        ]
    };
    let err = bridge
        .smartsend(
            "up",
            big(),
            &SendOptions::new().fileserver_url(guarded.url()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upload);
    assert_eq!(err.dataname(), Some("big"));
    assert!(err.message().contains("401"), "{err}");
    bridge
        .smartsend(
            "up",
            big(),
            &SendOptions::new()
                .fileserver_url(guarded.url())
                .fileserver_token("right"),
        )
        .await
        .unwrap();
    let limited = FileServerHandle::builder().max_upload(MB as u64).start();
    let err = bridge
        .smartsend(
            "up",
            big(),
            &SendOptions::new().fileserver_url(limited.url()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upload);
    assert!(err.message().contains("413"), "{err}");
    let err = bridge
        .smartsend(
            "up",
            big(),
            &SendOptions::new().fileserver_url(format!("http://127.0.0.1:{}", closed_port())),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upload, "{err}");
    // Only the one good send arrived.
    let got = next(&mut sub).await;
    assert_eq!(got.payloads[1].value.as_bytes().unwrap().len(), 2 * MB);
    assert!(sub.next_timeout(Duration::from_millis(300)).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn dataname_traversal_stays_inside_the_file_server() {
    let (_server, bridge) = server_and_bridge().await;
    let files = FileServerHandle::start();
    let sent = bridge
        .smartsend(
            "t",
            vec![Payload::bytes(
                "../../../../tmp/evil",
                PayloadType::Binary,
                pattern(2 * MB),
            )],
            &SendOptions::new().fileserver_url(files.url()),
        )
        .await
        .unwrap();
    let id = &sent.payloads[0].id;
    assert!(
        sent.payload_data(0)
            .ends_with(&format!("/{id}/___.._.._.._tmp_evil")),
        "{}",
        sent.payload_data(0)
    );
    assert!(!std::path::Path::new("/tmp/evil").exists());
    let got = natsbridge::smartreceive(sent.wire_bytes(), None, &ReceiveOptions::new())
        .await
        .unwrap();
    assert_eq!(got.payloads[0].value.as_bytes().unwrap().len(), 2 * MB);
    assert!(files.dir().join(id).is_dir());
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_run_concurrently_and_one_failure_aborts_the_send() {
    let (_server, bridge) = server_and_bridge().await;
    let mut sub = subscribe(&bridge, "conc").await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (flight, top) = (in_flight.clone(), peak.clone());
    let store = HandlerStore::new(
        "mem://",
        Arc::new(move |base: String, name: String, bytes: Bytes| {
            let (flight, top) = (flight.clone(), top.clone());
            Box::pin(async move {
                let now = flight.fetch_add(1, Ordering::SeqCst) + 1;
                top.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                flight.fetch_sub(1, Ordering::SeqCst);
                if name == "bad" {
                    return Err("the disk is full".into());
                }
                Ok(format!("http://127.0.0.1:1/{base}{name}/{}", bytes.len()))
            }) as _
        }),
    );
    let options = SendOptions::new().store(Arc::new(store)).size_threshold(10);
    let payloads = vec![
        Payload::bytes("a", PayloadType::Binary, pattern(100)),
        Payload::bytes("b", PayloadType::Binary, pattern(100)),
        Payload::bytes("bad", PayloadType::Binary, pattern(100)),
    ];
    let started = Instant::now();
    let err = bridge
        .smartsend("conc", payloads, &options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handler);
    assert_eq!(err.dataname(), Some("bad"));
    assert!(
        err.full_message().contains("the disk is full"),
        "{}",
        err.full_message()
    );
    assert_eq!(
        peak.load(Ordering::SeqCst),
        3,
        "uploads ran one after another"
    );
    assert!(started.elapsed() < Duration::from_millis(550));
    assert!(
        sub.next_timeout(Duration::from_millis(300)).await.is_err(),
        "a failed send published"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_upload_and_download_handlers_round_trip() {
    let (_server, bridge) = server_and_bridge().await;
    let files = FileServerHandle::start();
    // Raw messages, decoded below with the custom fetcher's options.
    let mut raw = bridge.client().subscribe("handled").await.unwrap();
    bridge.flush().await.unwrap();
    let uploads = Arc::new(AtomicUsize::new(0));
    let counter = uploads.clone();
    let base = files.url();
    let store = HandlerStore::new(
        base.clone(),
        Arc::new(move |base: String, name: String, bytes: Bytes| {
            let counter = counter.clone();
            Box::pin(async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let url = format!("{base}/custom/{name}");
                reqwest::Client::new()
                    .put(&url)
                    .body(bytes)
                    .send()
                    .await?
                    .error_for_status()?;
                Ok(url)
            }) as _
        }),
    );
    let fetches = Arc::new(AtomicUsize::new(0));
    let fetched = fetches.clone();
    let fetcher = HandlerFetcher::new(Arc::new(
        move |url: String, retries: u32, base: Duration, max: Duration| {
            let fetched = fetched.clone();
            Box::pin(async move {
                assert_eq!(
                    (retries, base, max),
                    (5, Duration::from_millis(100), Duration::from_millis(5000))
                );
                fetched.fetch_add(1, Ordering::SeqCst);
                Ok(reqwest::get(&url).await?.bytes().await?)
            }) as _
        },
    ));
    let data = pattern(3 * MB);
    bridge
        .smartsend(
            "handled",
            vec![Payload::bytes("doc", PayloadType::Binary, data.clone())],
            &SendOptions::new().store(Arc::new(store)),
        )
        .await
        .unwrap();
    let message = futures::StreamExt::next(&mut raw).await.unwrap();
    let got = bridge
        .smartreceive(
            &message,
            &ReceiveOptions::new().fetcher(Arc::new(fetcher.clone())),
        )
        .await
        .unwrap();
    assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == data.as_slice());
    assert_eq!(
        (
            uploads.load(Ordering::SeqCst),
            fetches.load(Ordering::SeqCst)
        ),
        (1, 1)
    );

    // A download handler returning the wrong bytes is caught by the core.
    let liar = HandlerFetcher::new(Arc::new(|_: String, _: u32, _: Duration, _: Duration| {
        Box::pin(async { Ok(Bytes::from_static(b"not the payload")) }) as _
    }));
    let err = bridge
        .smartreceive(&message, &ReceiveOptions::new().fetcher(Arc::new(liar)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    let failing = HandlerFetcher::new(Arc::new(|_: String, _: u32, _: Duration, _: Duration| {
        Box::pin(async { Err("no route to the archive".into()) }) as _
    }));
    let err = bridge
        .smartreceive(&message, &ReceiveOptions::new().fetcher(Arc::new(failing)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handler);
    assert!(
        std::error::Error::source(&err)
            .unwrap()
            .to_string()
            .contains("no route")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plik_uploads_with_ttl_and_one_shot() {
    let (_server, bridge) = server_and_bridge().await;
    let plik = PlikServer::start();
    let data = pattern(2 * MB);
    let sent = bridge
        .smartsend(
            "plik",
            vec![Payload::bytes(
                "report.pdf",
                PayloadType::Binary,
                data.clone(),
            )],
            &SendOptions::new().store(Arc::new(PlikStore::new(
                plik.url(),
                Duration::from_secs(3600),
            ))),
        )
        .await
        .unwrap();
    assert!(
        sent.payload_data(0)
            .starts_with(&format!("{}/file/", plik.url()))
    );
    for _ in 0..2 {
        let got = natsbridge::smartreceive(sent.wire_bytes(), None, &ReceiveOptions::new())
            .await
            .unwrap();
        assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == data.as_slice());
    }
    // One-shot: the first receiver gets it, a second (fan-out, replay) finds it gone.
    let sent = bridge
        .smartsend(
            "plik",
            vec![Payload::bytes(
                "once.bin",
                PayloadType::Binary,
                data.clone(),
            )],
            &SendOptions::new().store(Arc::new(PlikStore::oneshot(plik.url()))),
        )
        .await
        .unwrap();
    natsbridge::smartreceive(sent.wire_bytes(), None, &ReceiveOptions::new())
        .await
        .unwrap();
    let err = natsbridge::smartreceive(sent.wire_bytes(), None, &fast_retries())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(err.message().contains("404"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bridge_wide_fileserver_default_applies_to_every_send() {
    let server = NatsServer::start();
    let files = FileServerHandle::start();
    let bridge = ConnectOptions::new(server.url())
        .fileserver_url(files.url())
        .connect()
        .await
        .unwrap();
    let sent = bridge
        .smartsend(
            "d",
            vec![Payload::bytes("f", PayloadType::Binary, pattern(2 * MB))],
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert!(sent.payload_data(0).starts_with(&files.url()));
    let _ = WAIT;
}

/// The progress callback sees every link payload go up and come down, to its
/// full size, through the file server and through the Object Store (a file
/// payload and an in-memory one); direct payloads report nothing.
#[tokio::test(flavor = "multi_thread")]
async fn progress_reports_uploads_and_downloads_to_the_last_byte() {
    use natsbridge::store::{Direction, Progress};
    use std::sync::Mutex;
    type Seen = Arc<Mutex<Vec<(Direction, String, u64, u64)>>>;
    fn recorder() -> (Progress, Seen) {
        let seen: Seen = Arc::default();
        let sink = seen.clone();
        let progress = Progress::new(move |p| {
            sink.lock()
                .unwrap()
                .push((p.direction, p.dataname.to_owned(), p.done, p.total))
        });
        (progress, seen)
    }
    fn last(seen: &Seen, direction: Direction, name: &str) -> Option<(u64, u64)> {
        let seen = seen.lock().unwrap();
        let reports: Vec<_> = seen
            .iter()
            .filter(|(d, n, _, _)| *d == direction && n == name)
            .collect();
        // Never backwards within one attempt, never past the size.
        assert!(reports.iter().all(|(_, _, done, total)| done <= total));
        reports.last().map(|(_, _, done, total)| (*done, *total))
    }

    let (_server, bridge) = server_and_bridge().await;
    let files = FileServerHandle::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    let on_disk = pattern(3 * MB);
    std::fs::write(&file, &on_disk).unwrap();
    for fileserver in [Some(files.url()), None] {
        let (up, sent_seen) = recorder();
        let (down, received_seen) = recorder();
        let subject = "progress";
        let mut sub = bridge
            .subscribe(subject, fast_retries().progress(down))
            .await
            .unwrap();
        bridge.flush().await.unwrap();
        let mut options = SendOptions::new().size_threshold(100_000).progress(up);
        if let Some(url) = &fileserver {
            options = options.fileserver_url(url.clone());
        }
        bridge
            .smartsend(
                subject,
                vec![
                    Payload::bytes("memory", PayloadType::Binary, pattern(2 * MB)),
                    Payload::file("disk", PayloadType::Binary, &file),
                    Payload::text("note", "small"),
                ],
                &options,
            )
            .await
            .unwrap();
        let got = tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(got.payloads.len(), 3);
        let store = if fileserver.is_some() {
            "file server"
        } else {
            "object store"
        };
        for (name, size) in [("memory", 2 * MB as u64), ("disk", 3 * MB as u64)] {
            assert_eq!(
                last(&sent_seen, Direction::Upload, name),
                Some((size, size)),
                "{store} {name}"
            );
            assert_eq!(
                last(&received_seen, Direction::Download, name),
                Some((size, size)),
                "{store} {name}"
            );
        }
        assert_eq!(last(&sent_seen, Direction::Upload, "note"), None);
        assert_eq!(last(&received_seen, Direction::Download, "note"), None);
    }
}
