//! Publish rate of 1 KiB text envelopes: `smartsend` against publishing the
//! same envelope bytes with raw async-nats, on one nats-server, in one run.
//!
//! Each round publishes N messages and waits for the server to have them
//! (flush); rounds alternate raw and smartsend so drift hits both; the median
//! of the rounds is reported. Also measured: `codec::decode` of the same
//! envelope (the receive side's CPU cost per message).
//!
//! Run: `cargo run --release -p natsbridge-bench --bin bench-publish [N] [ROUNDS]`

use std::time::Instant;

use async_nats::HeaderMap;
use natsbridge::{Bridge, Payload, SendOptions, codec};
use natsbridge_bench::median;
use natsbridge_testkit::NatsServer;

/// mimalloc: glibc's allocator serializes on arena locks when a buffer is
/// allocated on one thread and freed on another, which is the path of every
/// published message (caller thread -> connection task).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Run on natsbridge's own runtime, where its connections live, so the
    // publisher and both connection tasks share one scheduler, as they would
    // in a binding (which calls natsbridge::runtime) or an app that connects
    // from its own runtime (where async-nats puts the raw connection).
    natsbridge::runtime::global().block_on(run());
}

async fn run() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let server = NatsServer::builder().without_jetstream().start();
    let bridge = Bridge::connect(&server.url())
        .await
        .expect("connect natsbridge");
    let raw = async_nats::connect(server.url())
        .await
        .expect("connect async-nats");
    let text = "x".repeat(1024);
    let options = SendOptions::new();
    // The raw peer publishes exactly what smartsend publishes: the same
    // envelope bytes with the same two headers.
    let sample = bridge
        .smartsend(
            "bench.sample",
            vec![Payload::text("message", text.clone())],
            &options,
        )
        .await
        .expect("a sample envelope");
    let envelope = sample.wire_bytes().clone();
    let mut headers = HeaderMap::new();
    for (name, value) in codec::nats_headers(&sample.header) {
        headers.insert(name, value);
    }
    println!(
        "publishing {count} envelopes of {} bytes (1 KiB text payload), {rounds} rounds each",
        envelope.len()
    );
    // Each variant publishes `count` messages and flushes; rounds interleave
    // the variants so that load changes on the machine hit all of them.
    let mut rates: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..count {
            raw.publish_with_headers("bench.raw", headers.clone(), envelope.clone())
                .await
                .expect("raw publish");
        }
        raw.flush().await.expect("flush");
        rates[0].push(count as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        for _ in 0..count {
            raw.publish("bench.bare", envelope.clone())
                .await
                .expect("bare publish");
        }
        raw.flush().await.expect("flush");
        rates[1].push(count as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        for _ in 0..count {
            let fresh = bytes::Bytes::copy_from_slice(&envelope);
            raw.publish_with_headers("bench.copy", headers.clone(), fresh)
                .await
                .expect("raw publish");
        }
        raw.flush().await.expect("flush");
        rates[2].push(count as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        for _ in 0..count {
            bridge
                .smartsend(
                    "bench.smart",
                    vec![Payload::text("message", text.clone())],
                    &options,
                )
                .await
                .expect("smartsend");
        }
        bridge.flush().await.expect("flush");
        rates[3].push(count as f64 / started.elapsed().as_secs_f64());
    }
    let decode_started = Instant::now();
    let decodes = count.min(100_000);
    for _ in 0..decodes {
        let decoded = codec::decode(&envelope).expect("decode");
        std::hint::black_box(decoded);
    }
    let decode_rate = decodes as f64 / decode_started.elapsed().as_secs_f64();
    let [raw_rate, bare, fresh, smart] = rates.map(median);
    println!("| what | msgs/s | vs raw (same bytes + headers) |");
    println!("|---|---:|---:|");
    println!("| raw async-nats publish, same envelope + headers | {raw_rate:.0} | 1.00 |");
    println!(
        "| raw async-nats publish, same envelope, no headers | {bare:.0} | {:.2} |",
        bare / raw_rate
    );
    println!(
        "| raw async-nats publish, a fresh copy of the envelope + headers | {fresh:.0} | {:.2} |",
        fresh / raw_rate
    );
    println!(
        "| natsbridge smartsend (builds each envelope) | {smart:.0} | {:.2} |",
        smart / raw_rate
    );
    println!(
        "| natsbridge codec::decode of the envelope (receive-side CPU) | {decode_rate:.0} | - |"
    );
    println!(
        "ratio smartsend / raw = {:.2} (target >= 0.80)",
        smart / raw_rate
    );
}
