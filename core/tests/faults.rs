//! Faults survived (issue 19, item 2): real servers killed, restarted and
//! overloaded while a Bridge works, each test bounded in time and asserting
//! exactly what the API promises about loss and duplicates:
//!
//! - core NATS is at-most-once: across a server restart nothing is
//!   duplicated, and publishing resumes once the client reconnects;
//! - JetStream publish: every acknowledged message is in the stream, every
//!   unacknowledged one returned an error to its caller;
//! - a durable consumer is at-least-once: a killed consumer process resumes
//!   after its last acknowledgement, redeliveries carry the same `msg_id`;
//! - a link download retries through a file-server outage shorter than the
//!   retry window and fails with `DOWNLOAD` in bounded time after a longer one;
//! - a replicated stream and Object Store bucket survive losing the node the
//!   Bridge is connected to;
//! - a slow consumer's dropped messages are reported, never silent.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{WAIT, pattern};
use natsbridge::jetstream::{ConsumerOptions, DeliverFrom};
use natsbridge::{
    Bridge, ConnectOptions, ErrorKind, Payload, PayloadType, ReceiveOptions, ReceivedEnvelope,
    SendOptions,
};
use natsbridge_testkit::{FileServerHandle, NatsCluster, NatsServer};

fn numbered(index: usize) -> Vec<Payload> {
    vec![Payload::text("n", index.to_string())]
}

fn number(envelope: &ReceivedEnvelope) -> usize {
    envelope.payloads[0]
        .value
        .as_text()
        .expect("a text payload")
        .parse()
        .expect("a number")
}

/// Flushes until the bridge's connection works again (a reconnect), failing
/// the test after `limit`.
async fn wait_until_connected(bridge: &Bridge, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout(Duration::from_secs(2), bridge.flush()).await {
            Ok(Ok(())) => return,
            _ if Instant::now() > deadline => panic!("no reconnect within {limit:?}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Every envelope of `stream`, read by an ephemeral consumer from the start
/// until nothing more comes for `idle`.
async fn read_stream(
    bridge: &Bridge,
    stream: &str,
    idle: Duration,
) -> Vec<natsbridge::jetstream::JetStreamMessage> {
    read_stream_at_least(bridge, stream, idle, 0, Duration::ZERO).await
}

/// [`read_stream`], but a quiet spell of `idle` ends the read only once
/// `at_least` messages arrived or `patience` has passed since the start:
/// right after a cluster fail-over, pulls from a new stream leader can
/// stall for many seconds between batches (observed 25-80 s for 311
/// messages on two loaded cores) without anything being lost.
///
/// A consumer that delivers nothing for three quiet spells in a row, or
/// whose pull fails, is replaced by a new one that starts at the first
/// stream sequence not read yet, as a reader that must get everything would
/// do. Not after the last one read: a message whose link download was
/// still waiting on the Object Store's new leader when the quiet spell
/// ended (its receive is dropped, unacknowledged), or failed, is
/// redelivered later only by the consumer that had it. CI once lost stream
/// sequence 101 that way (the first link stored after the kill), 310 of
/// 311 read; here the same happened at 151 and the new consumer from 151
/// read it. In CI
/// (two loaded cores, cold caches) an ephemeral consumer opened on the
/// survivors once delivered its first 200 messages and then nothing for
/// 180 s, every pull ending in "missed idle heartbeat"; the stream held the
/// rest all along. What the caller checks is that the survivors hold every
/// acknowledged message, not that one consumer outlives a fail-over.
async fn read_stream_at_least(
    bridge: &Bridge,
    stream: &str,
    idle: Duration,
    at_least: usize,
    patience: Duration,
) -> Vec<natsbridge::jetstream::JetStreamMessage> {
    let started = Instant::now();
    let stall = idle * 3;
    let mut consumer = open_reader(bridge, stream, DeliverFrom::All).await;
    let mut messages: Vec<natsbridge::jetstream::JetStreamMessage> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut last_progress = Instant::now();
    loop {
        let failure = match tokio::time::timeout(idle, consumer.next()).await {
            Ok(Some(Ok(message))) => {
                message.ack().await.expect("ack");
                // A redelivery (an ack lost in the fail-over) is read once.
                if seen.insert(message.stream_sequence) {
                    messages.push(message);
                }
                last_progress = Instant::now();
                continue;
            }
            Ok(None) => break,
            // The consumer has the message again later (a retryable error
            // is negatively acknowledged with a delay; what cannot succeed
            // is terminated, and the caller's check names it).
            Ok(Some(Err(err))) if err.kind() != ErrorKind::JetStream => {
                eprintln!(
                    "reading {stream}: {} so far, one failed and is redelivered later: {}",
                    messages.len(),
                    err.full_message()
                );
                continue;
            }
            Err(_quiet) => {
                if messages.len() >= at_least || started.elapsed() >= patience {
                    break;
                }
                eprintln!(
                    "reading {stream}: {} of at least {at_least} so far, waiting on",
                    messages.len()
                );
                if last_progress.elapsed() < stall {
                    continue;
                }
                format!("nothing for {stall:?}")
            }
            // Still failing after the patience is spent: the count check of
            // the caller says what is missing.
            Ok(Some(Err(err))) if started.elapsed() < patience => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                format!("a pull failed: {}", err.full_message())
            }
            Ok(Some(Err(err))) => panic!("reading stream {stream}: {}", err.full_message()),
        };
        // Start at the first sequence not read (the stream is new: its
        // sequences start at 1); what is read twice is kept once.
        let first_unread = seen
            .iter()
            .zip(1u64..)
            .find(|(sequence, expected)| **sequence != *expected)
            .map_or(seen.len() as u64 + 1, |(_, expected)| expected);
        let from = DeliverFrom::Sequence(first_unread);
        eprintln!(
            "reading {stream}: {} so far, {failure}; opening a new consumer from {from:?}",
            messages.len()
        );
        consumer = open_reader(bridge, stream, from).await;
        last_progress = Instant::now();
    }
    messages
}

/// An ephemeral consumer on `stream`, retried while the stream may still be
/// electing a leader after a fail-over.
async fn open_reader(
    bridge: &Bridge,
    stream: &str,
    from: DeliverFrom,
) -> natsbridge::jetstream::DurableSubscription {
    let deadline = Instant::now() + NatsCluster::JETSTREAM_SETTLE;
    loop {
        match bridge
            .durable_subscribe(stream, ConsumerOptions::ephemeral().deliver_from(from))
            .await
        {
            Ok(consumer) => return consumer,
            Err(err) if Instant::now() < deadline => {
                eprintln!("opening a consumer on {stream}, retrying: {err}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => panic!("open an ephemeral consumer: {}", err.full_message()),
        }
    }
}

// ---------------------------------------------------------------------------
// nats-server killed and restarted while a Bridge publishes 10,000 messages
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn core_nats_publishing_resumes_after_the_server_restarts() {
    let started = Instant::now();
    let mut server = NatsServer::start();
    let options = |url: &str| ConnectOptions::new(url).request_timeout(Duration::from_secs(2));
    let sender = options(&server.url()).connect().await.unwrap();
    let receiver = options(&server.url()).connect().await.unwrap();
    let mut sub = common::subscribe(&receiver, "faults.core").await;
    let received: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let collected = received.clone();
    tokio::spawn(async move {
        while let Some(item) = sub.next().await {
            let envelope = item.expect("every delivered message decodes");
            collected
                .lock()
                .unwrap()
                .push((number(&envelope), envelope.header.msg_id.clone()));
        }
    });
    let count_where = |received: &Arc<Mutex<Vec<(usize, String)>>>,
                       range: std::ops::Range<usize>| {
        received
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| range.contains(n))
            .count()
    };
    let wait_for = |range: std::ops::Range<usize>| {
        let received = received.clone();
        async move {
            let deadline = Instant::now() + WAIT;
            while count_where(&received, range.clone()) < range.len() {
                assert!(
                    Instant::now() < deadline,
                    "only {} of {range:?} arrived",
                    count_where(&received, range.clone())
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let send = SendOptions::new();

    // Before: 4,000 messages, every one delivered.
    for i in 0..4_000 {
        sender
            .smartsend("faults.core", numbered(i), &send)
            .await
            .unwrap();
    }
    sender.flush().await.unwrap();
    wait_for(0..4_000).await;

    // Killed (SIGKILL), restarted 500 ms later on the same port.
    server.kill();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        server.restart();
        server
    });
    // During: 5,000 sends, each returning (queued for the reconnect, or a
    // typed error) in bounded time; none hangs, none panics.
    let mut failed = 0;
    for i in 4_000..9_000 {
        match tokio::time::timeout(WAIT, sender.smartsend("faults.core", numbered(i), &send))
            .await
            .expect("a send during the outage returns in bounded time")
        {
            Ok(_) => {}
            Err(err) => {
                assert!(
                    matches!(err.kind(), ErrorKind::Publish | ErrorKind::Connection),
                    "{err}"
                );
                failed += 1;
            }
        }
    }
    let _server = restarter.join().expect("restart the server");
    wait_until_connected(&sender, WAIT).await;
    wait_until_connected(&receiver, WAIT).await;

    // After: the connection resumed, the subscription was re-established,
    // and all of the last 1,000 arrive.
    for i in 9_000..10_000 {
        sender
            .smartsend("faults.core", numbered(i), &send)
            .await
            .unwrap();
    }
    sender.flush().await.unwrap();
    wait_for(9_000..10_000).await;

    // At most once: nothing is delivered twice, nothing unknown arrives.
    let received = received.lock().unwrap().clone();
    let ids: BTreeSet<&String> = received.iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), received.len(), "a message was delivered twice");
    let numbers: BTreeSet<usize> = received.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers.len(), received.len());
    assert!(numbers.iter().all(|n| *n < 10_000));
    eprintln!(
        "core NATS restart: 10000 sent, {} delivered, {} of the 5000 sent during the outage \
         delivered, {failed} sends failed, {:?}",
        received.len(),
        count_where_vec(&received, 4_000..9_000),
        started.elapsed()
    );
}

fn count_where_vec(received: &[(usize, String)], range: std::ops::Range<usize>) -> usize {
    received.iter().filter(|(n, _)| range.contains(n)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn jetstream_publish_loses_no_acknowledged_message_across_a_server_restart() {
    let started = Instant::now();
    let mut server = NatsServer::start();
    let bridge = ConnectOptions::new(server.url())
        .request_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    bridge
        .ensure_stream("FAULTS", &["faults.js.>"])
        .await
        .unwrap();

    // Four concurrent publishers, 2,500 messages each; the server is killed
    // once 3,000 are acknowledged and restarted 500 ms later.
    const TOTAL: usize = 10_000;
    const WORKERS: usize = 4;
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let bridge = bridge.clone();
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            let send = SendOptions::new().jetstream(true);
            let mut outcomes = Vec::new();
            for i in (worker..TOTAL).step_by(WORKERS) {
                let outcome = tokio::time::timeout(
                    Duration::from_secs(15),
                    bridge.smartsend("faults.js.n", numbered(i), &send),
                )
                .await
                .expect("a JetStream send returns in bounded time");
                if outcome.is_ok() {
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                outcomes.push((i, outcome));
            }
            outcomes
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(std::sync::atomic::Ordering::Relaxed) < 3_000 {
        assert!(Instant::now() < deadline, "3,000 acknowledgements in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        server.restart();
        server
    });
    let mut acknowledged: BTreeMap<usize, (String, u64)> = BTreeMap::new();
    let mut errors: BTreeMap<&'static str, usize> = BTreeMap::new();
    for worker in workers {
        for (i, outcome) in worker.await.unwrap() {
            match outcome {
                Ok(sent) => {
                    let sequence = sent.stream_sequence.expect("an acknowledged sequence");
                    acknowledged.insert(i, (sent.header.msg_id.clone(), sequence));
                }
                Err(err) => {
                    // Each unacknowledged message told its caller, with a kind.
                    assert!(
                        matches!(
                            err.kind(),
                            ErrorKind::JetStream
                                | ErrorKind::Timeout
                                | ErrorKind::Publish
                                | ErrorKind::Connection
                        ),
                        "{err}"
                    );
                    *errors.entry(err.kind().code()).or_default() += 1;
                }
            }
        }
    }
    let _server = restarter.join().expect("restart the server");
    let failed: usize = errors.values().sum();
    assert_eq!(acknowledged.len() + failed, TOTAL, "every send returned");
    assert!(
        acknowledged.len() > 3_000,
        "publishing resumed after the restart"
    );

    // Every acknowledged message is in the stream, with its content, once.
    wait_until_connected(&bridge, WAIT).await;
    let stored = read_stream(&bridge, "FAULTS", Duration::from_secs(2)).await;
    let mut by_msg_id: HashMap<String, (usize, u64)> = HashMap::new();
    for message in &stored {
        let previous = by_msg_id.insert(
            message.envelope.header.msg_id.clone(),
            (number(&message.envelope), message.stream_sequence),
        );
        assert!(previous.is_none(), "a msg_id is twice in the stream");
    }
    for (i, (msg_id, sequence)) in &acknowledged {
        assert_eq!(
            by_msg_id.get(msg_id),
            Some(&(*i, *sequence)),
            "acknowledged message {i} ({msg_id}, sequence {sequence}) is not in the stream as sent"
        );
    }
    // The stream may also hold messages whose acknowledgement was lost (their
    // senders got an error): at most one per failed send.
    assert!(stored.len() >= acknowledged.len() && stored.len() <= TOTAL);
    eprintln!(
        "JetStream restart: {TOTAL} sent, {} acknowledged (all in the stream), errors {errors:?}, \
         {} in the stream, {:?}",
        acknowledged.len(),
        stored.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// a durable consumer process killed mid-stream and restarted
// ---------------------------------------------------------------------------

/// Set in the environment of the child consumer process (the test binary
/// run again for one test): the NATS URL it consumes from.
const CONSUMER_ENV: &str = "NB_FAULTS_CONSUMER_URL";
const DURABLE_STREAM: &str = "DURABLE_FAULTS";
const DURABLE_NAME: &str = "faults-worker";

/// The child process of `a_killed_durable_consumer_resumes_after_its_last_ack`:
/// consumes the durable consumer, printing `GOT <seq> <delivered> <msg_id>
/// <n>` when it has handled a message and `ACK <seq>` once the server
/// confirmed the acknowledgement; exits when nothing comes for 3 s.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "not a test on its own: the child process that \
            a_killed_durable_consumer_resumes_after_its_last_ack starts (with NB_FAULTS_CONSUMER_URL)"]
async fn durable_consumer_child_process() {
    let url = std::env::var(CONSUMER_ENV).expect("run by the parent test only");
    let bridge = Bridge::connect(&url).await.unwrap();
    let mut consumer = bridge
        .durable_subscribe(
            DURABLE_STREAM,
            ConsumerOptions::durable(DURABLE_NAME).ack_wait(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    loop {
        let message = match consumer.next_timeout(Duration::from_secs(3)).await {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(err) if err.kind() == ErrorKind::Timeout => break,
            Err(err) => panic!("{err}"),
        };
        // "Handling" a message: printing it, slowly enough to be killed mid-stream.
        println!(
            "GOT {} {} {} {}",
            message.stream_sequence,
            message.delivered,
            message.envelope.header.msg_id,
            number(&message.envelope)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
        message.ack().await.unwrap();
        println!("ACK {}", message.stream_sequence);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    sequence: u64,
    delivered: i64,
    msg_id: String,
    number: usize,
}

/// Runs the child consumer; returns it and a reader of its lines.
fn spawn_consumer(url: &str) -> (Child, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--ignored",
            "--exact",
            "durable_consumer_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CONSUMER_ENV, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the consumer process");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// One line of the child (libtest may print `test <name> ... ` before the
/// first one on the same line).
fn parse_line(line: &str) -> Option<Result<Got, u64>> {
    let start = [line.rfind("GOT "), line.rfind("ACK ")]
        .into_iter()
        .flatten()
        .max()?;
    let parts: Vec<&str> = line[start..].split_whitespace().collect();
    match parts.as_slice() {
        ["GOT", sequence, delivered, msg_id, number] => Some(Ok(Got {
            sequence: sequence.parse().ok()?,
            delivered: delivered.parse().ok()?,
            msg_id: (*msg_id).to_owned(),
            number: number.parse().ok()?,
        })),
        ["ACK", sequence] => Some(Err(sequence.parse().ok()?)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_durable_consumer_resumes_after_its_last_ack() {
    let started = Instant::now();
    let server = NatsServer::start();
    let bridge = Bridge::connect(&server.url()).await.unwrap();
    bridge
        .ensure_stream(DURABLE_STREAM, &["faults.durable.>"])
        .await
        .unwrap();
    const TOTAL: usize = 1_000;
    let mut sent: HashMap<String, usize> = HashMap::new();
    for i in 0..TOTAL {
        let envelope = bridge
            .smartsend(
                "faults.durable.n",
                numbered(i),
                &SendOptions::new().jetstream(true),
            )
            .await
            .unwrap();
        sent.insert(envelope.header.msg_id.clone(), i);
    }

    // First run: killed (SIGKILL) after it has handled 300 messages.
    let url = server.url();
    let first_run = tokio::task::spawn_blocking(move || {
        let (mut child, lines) = spawn_consumer(&url);
        let (mut got, mut last_ack, mut ack_when_killed) = (Vec::new(), 0, None);
        // After the kill, the lines it wrote before dying are still read.
        for line in lines.map_while(Result::ok) {
            match parse_line(&line) {
                Some(Ok(message)) => got.push(message),
                Some(Err(sequence)) => last_ack = sequence,
                None => {}
            }
            if got.len() == 300 && ack_when_killed.is_none() {
                child.kill().expect("kill the consumer");
                ack_when_killed = Some(last_ack);
            }
        }
        child.wait().expect("reap the consumer");
        (got, last_ack, ack_when_killed)
    });
    let (first, last_ack, ack_when_killed) =
        tokio::time::timeout(Duration::from_secs(60), first_run)
            .await
            .expect("the first run is killed in time")
            .unwrap();
    assert_eq!(
        ack_when_killed,
        Some(299),
        "killed right after handling message 300"
    );
    assert!(
        first.len() >= 300 && first.len() < TOTAL,
        "the first run was killed mid-stream: {}",
        first.len()
    );

    // Second run: resumes and runs until the stream is drained.
    let url = server.url();
    let second_run = tokio::task::spawn_blocking(move || {
        let (mut child, lines) = spawn_consumer(&url);
        let got: Vec<Got> = lines
            .map_while(Result::ok)
            .filter_map(|line| parse_line(&line)?.ok())
            .collect();
        let status = child.wait().expect("reap the consumer");
        (got, status)
    });
    let (second, status) = tokio::time::timeout(Duration::from_secs(60), second_run)
        .await
        .expect("the second run drains the stream in time")
        .unwrap();
    assert!(status.success(), "the second run exits cleanly: {status}");

    // It resumes after the last acknowledgement: nothing acknowledged comes again.
    assert!(
        second.iter().all(|got| got.sequence > last_ack),
        "an acknowledged message was delivered again (last ack {last_ack}): {:?}",
        second
            .iter()
            .filter(|got| got.sequence <= last_ack)
            .take(3)
            .collect::<Vec<_>>()
    );
    // At least once: every message is seen, by one run or the other.
    let all: Vec<&Got> = first.iter().chain(&second).collect();
    let seen: BTreeSet<&str> = all.iter().map(|got| got.msg_id.as_str()).collect();
    assert_eq!(seen.len(), TOTAL, "every message seen at least once");
    for got in &all {
        assert_eq!(
            sent.get(&got.msg_id),
            Some(&got.number),
            "content of {got:?}"
        );
    }
    // Duplicates are the handled-but-unacknowledged ones, recognisable by
    // msg_id: the same sequence and content, delivered again.
    let mut by_id: HashMap<&str, Vec<&Got>> = HashMap::new();
    for got in &all {
        by_id.entry(&got.msg_id).or_default().push(got);
    }
    let duplicates: Vec<&Vec<&Got>> = by_id.values().filter(|gots| gots.len() > 1).collect();
    for gots in &duplicates {
        assert!(gots.iter().all(|got| got.sequence == gots[0].sequence));
        assert!(gots[0].sequence > last_ack);
        assert!(gots[1].delivered > 1, "a redelivery says so: {gots:?}");
    }
    assert!(duplicates.len() <= 2, "only in-flight messages come twice");
    eprintln!(
        "durable consumer kill: {} handled before the kill (last ack {last_ack}), {} after, \
         {} duplicates, {:?}",
        first.len(),
        second.len(),
        duplicates.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// the file server down during a link download
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_link_download_retries_through_a_short_file_server_outage() {
    let server = NatsServer::start();
    let bridge = Bridge::connect(&server.url()).await.unwrap();
    let mut files = FileServerHandle::start();
    let data = pattern(300_000);
    let mut raw = bridge
        .client()
        .subscribe("faults.links")
        .await
        .expect("subscribe");
    bridge.flush().await.unwrap();
    let send = SendOptions::new()
        .fileserver_url(files.url())
        .size_threshold(1024);
    for _ in 0..2 {
        bridge
            .smartsend(
                "faults.links",
                vec![Payload::bytes("blob", PayloadType::Binary, data.clone())],
                &send,
            )
            .await
            .unwrap();
    }
    let mut next_raw = async || {
        tokio::time::timeout(WAIT, futures::StreamExt::next(&mut raw))
            .await
            .expect("a message")
            .expect("subscribed")
    };
    let first = next_raw().await;
    let second = next_raw().await;

    // Down for 600 ms: within the retry window (delays 100, 200, 400, 400,
    // ... ms, 6 retries), so the receive succeeds.
    files.stop();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        files.restart();
        files
    });
    let patient = ReceiveOptions::new()
        .max_retries(6)
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(400));
    let started = Instant::now();
    let received = bridge.smartreceive(&first, &patient).await.unwrap();
    let took = started.elapsed();
    assert_eq!(
        received.payloads[0].value.as_bytes().map(|b| &b[..]),
        Some(&data[..])
    );
    assert!(
        took >= Duration::from_millis(500),
        "the first tries failed: {took:?}"
    );
    let mut files = restarter.join().unwrap();

    // Down for good: a DOWNLOAD error after the configured retries, in
    // bounded time.
    files.stop();
    let brief = ReceiveOptions::new()
        .max_retries(2)
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(200));
    let started = Instant::now();
    let err = bridge.smartreceive(&second, &brief).await.unwrap_err();
    let gave_up = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Download, "{err}");
    assert!(
        gave_up < Duration::from_secs(5),
        "gave up after {gave_up:?}"
    );
    eprintln!("file server outage: recovered after {took:?}; gave up after {gave_up:?}");
}

// ---------------------------------------------------------------------------
// a 3-node cluster loses the node the Bridge is connected to
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_fails_over_and_keeps_every_acknowledged_message_and_payload() {
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3);
    let connect = |servers: String| {
        ConnectOptions::new(servers)
            .object_store_bucket("faults-cluster")
            .jetstream_replicas(3)
            .request_timeout(Duration::from_secs(3))
            .connect()
    };
    let bridge = connect(cluster.urls()).await.unwrap();
    // The cluster elects its JetStream meta leader shortly after start.
    let deadline = Instant::now() + NatsCluster::JETSTREAM_SETTLE;
    while let Err(err) = bridge
        .ensure_stream_replicated("CLUSTER", &["faults.cluster.>"], 3)
        .await
    {
        assert!(Instant::now() < deadline, "no JetStream leader: {err}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let first_port = bridge.client().server_info().port;
    let victim = cluster
        .index_of_port(first_port)
        .expect("connected to a node of the cluster");

    // 300 envelopes, every 25th with a 200 KB link payload stored in the
    // replicated Object Store; the connected node is killed after 100.
    const TOTAL: usize = 300;
    let send = SendOptions::new().jetstream(true).size_threshold(64 * 1024);
    let blob = |i: usize| {
        let mut data = pattern(200_000);
        data[..8].copy_from_slice(&(i as u64).to_le_bytes());
        data
    };
    let mut acknowledged: BTreeMap<usize, String> = BTreeMap::new();
    let mut errors: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut first_errors = Vec::new();
    for i in 0..TOTAL {
        if i == 100 {
            cluster.node_mut(victim).kill();
        }
        let mut payloads = numbered(i);
        if i % 25 == 0 {
            payloads.push(Payload::bytes("blob", PayloadType::Binary, blob(i)));
        }
        let outcome = tokio::time::timeout(
            Duration::from_secs(20),
            bridge.smartsend("faults.cluster.n", payloads, &send),
        )
        .await
        .expect("a send returns in bounded time");
        match outcome {
            Ok(sent) => {
                if i % 25 == 0 {
                    assert_eq!(sent.payloads[1].transport, natsbridge::Transport::Link);
                }
                acknowledged.insert(i, sent.header.msg_id.clone());
            }
            Err(err) => {
                assert!(
                    matches!(
                        err.kind(),
                        ErrorKind::JetStream
                            | ErrorKind::Timeout
                            | ErrorKind::Publish
                            | ErrorKind::Connection
                            | ErrorKind::Upload
                    ),
                    "{err}"
                );
                *errors.entry(err.kind().code()).or_default() += 1;
                if first_errors.len() < 3 {
                    first_errors.push(format!("message {i}: {}", err.full_message()));
                }
            }
        }
    }
    // It failed over: now on a survivor. Sends fail fast (no responders)
    // until the streams whose leader died elect a new one; then a send with
    // a link succeeds again, and so do the next 10.
    let now_port = bridge.client().server_info().port;
    assert_ne!(now_port, first_port, "the bridge moved to a surviving node");
    let killed_at = Instant::now();
    let deadline = killed_at + NatsCluster::JETSTREAM_SETTLE;
    let probe = |i: usize| {
        vec![
            Payload::text("n", i.to_string()),
            Payload::bytes("blob", PayloadType::Binary, blob(i)),
        ]
    };
    loop {
        match bridge
            .smartsend("faults.cluster.n", probe(TOTAL), &send)
            .await
        {
            Ok(sent) => {
                acknowledged.insert(TOTAL, sent.header.msg_id.clone());
                break;
            }
            Err(err) => assert!(
                Instant::now() < deadline,
                "no send succeeded within {:?} of the fail-over: {}; errors {errors:?}, \
                 the first: {first_errors:#?}",
                NatsCluster::JETSTREAM_SETTLE,
                err.full_message()
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let recovered_in = killed_at.elapsed();
    for i in TOTAL + 1..=TOTAL + 10 {
        let sent = bridge
            .smartsend("faults.cluster.n", probe(i), &send)
            .await
            .unwrap_or_else(|err| panic!("send {i} after recovery: {}", err.full_message()));
        acknowledged.insert(i, sent.header.msg_id.clone());
    }

    // Every acknowledged message and every stored payload is readable from
    // the survivors alone (a new connection that knows only them).
    let survivors = cluster
        .nodes()
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != victim)
        .map(|(_, node)| node.url())
        .collect::<Vec<_>>()
        .join(",");
    let sending_took = started.elapsed();
    let reader = connect(survivors).await.unwrap();
    let stored = read_stream_at_least(
        &reader,
        "CLUSTER",
        Duration::from_secs(10),
        acknowledged.len(),
        Duration::from_secs(180),
    )
    .await;
    let by_msg_id: HashMap<&str, &ReceivedEnvelope> = stored
        .iter()
        .map(|m| (m.envelope.header.msg_id.as_str(), &m.envelope))
        .collect();
    for (i, msg_id) in &acknowledged {
        let envelope = by_msg_id.get(msg_id.as_str()).unwrap_or_else(|| {
            panic!(
                "acknowledged message {i} is lost ({} of {} read from the survivors)",
                stored.len(),
                acknowledged.len()
            )
        });
        assert_eq!(number(envelope), *i);
        if i % 25 == 0 || *i > TOTAL {
            assert_eq!(
                envelope.payloads[1].value.as_bytes().map(|b| b.to_vec()),
                Some(blob(*i)),
                "the link payload of message {i}"
            );
        }
    }
    eprintln!(
        "cluster fail-over: {} sent, {} acknowledged (all readable from the survivors, \
         {} with a link payload), errors during the fail-over {errors:?}, sends with links \
         succeeded again {recovered_in:?} after the fail-over was noticed, sending done after \
         {sending_took:?}, all {:?}",
        TOTAL + 11,
        acknowledged.len(),
        acknowledged
            .keys()
            .filter(|i| *i % 25 == 0 || **i > TOTAL)
            .count(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// a slow consumer
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_consumer_is_told_how_many_messages_were_dropped() {
    let server = NatsServer::start();
    let sender = Bridge::connect(&server.url()).await.unwrap();
    // The pending limit: 64 messages buffered for the subscription.
    let receiver = ConnectOptions::new(server.url())
        .subscription_capacity(64)
        .connect()
        .await
        .unwrap();
    let mut sub = common::subscribe(&receiver, "faults.slow").await;
    const TOTAL: usize = 2_000;
    for i in 0..TOTAL {
        sender
            .smartsend("faults.slow", numbered(i), &SendOptions::new())
            .await
            .unwrap();
    }
    sender.flush().await.unwrap();
    receiver.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Only now does the reader take anything.
    let (mut delivered, mut reports) = (Vec::new(), Vec::new());
    loop {
        match sub.next_timeout(Duration::from_millis(500)).await {
            Ok(Some(envelope)) => delivered.push(number(&envelope)),
            Ok(None) => panic!("the subscription ended"),
            Err(err) if err.kind() == ErrorKind::Timeout => break,
            Err(err) => {
                assert!(natsbridge::is_slow_consumer(&err), "{err}");
                assert!(
                    err.to_string().contains("subscription_capacity = 64"),
                    "{err}"
                );
                reports.push(err);
            }
        }
    }
    let dropped = sub.dropped_messages();
    assert!(delivered.len() < TOTAL, "the buffer overflowed");
    assert!(!reports.is_empty(), "the overflow was reported");
    assert!(dropped > 0);
    // Nothing is lost without being counted, up to the client's event queue
    // (a lower bound when drops come in a burst), and nothing is invented.
    assert!(delivered.len() as u64 + dropped <= TOTAL as u64);
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "in order");

    // The subscription goes on after the overflow.
    sender
        .smartsend("faults.slow", numbered(TOTAL), &SendOptions::new())
        .await
        .unwrap();
    assert_eq!(number(&common::next(&mut sub).await), TOTAL);
    eprintln!(
        "slow consumer: {TOTAL} sent, {} delivered, {dropped} reported dropped in {} error(s)",
        delivered.len(),
        reports.len()
    );
}
