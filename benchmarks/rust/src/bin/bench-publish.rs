//! Publish rate of 1 KiB text envelopes: `smartsend` against publishing the
//! same envelope bytes with raw async-nats, on one nats-server, in one run.
//!
//! Each round publishes N messages and waits for the server to have them
//! (flush); rounds alternate raw and smartsend so drift hits both; the median
//! of the rounds is reported. Also measured: `codec::decode` of the same
//! envelope (the receive side's CPU cost per message).
//!
//! Two rows explain the ratio: the codec's build then a raw publish of what
//! it built (smartsend without the `Bridge`), and the raw peer paced (each
//! publish after busy-waiting as long as one build takes, or `PACE_NS`
//! nanoseconds): async-nats writes smaller batches for a slower producer,
//! so any per-message work costs more than its own time. Every row also
//! shows the process's CPU, write system calls and context switches per
//! message (`ProcessUse`).
//!
//! Run: `cargo run --release -p natsbridge-bench --bin bench-publish [N] [ROUNDS]`

use std::time::Instant;

use async_nats::HeaderMap;
use natsbridge::{Bridge, Payload, SendOptions, codec};
use natsbridge_bench::{ProcessUse, median};
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

/// The NATS headers of an envelope as smartsend makes them
/// (`codec::nats_headers`, names taken as static: no parse, no allocation).
fn headers_of(header: &natsbridge::EnvelopeHeader) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in codec::nats_headers(header) {
        headers.insert(async_nats::header::HeaderName::from_static(name), value);
    }
    headers
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
    let headers = headers_of(&sample.header);
    println!(
        "publishing {count} envelopes of {} bytes (1 KiB text payload), {rounds} rounds each",
        envelope.len()
    );
    // Each variant publishes `count` messages and flushes; rounds interleave
    // the variants so that load changes on the machine hit all of them.
    // Beside the rate, each round reads what the whole process used (every
    // thread's CPU, write system calls): the connection task writes to the
    // socket whenever it finds messages queued, so a slower producer means
    // fewer messages per write.
    const VARIANTS: usize = 6;
    let mut rates: [Vec<f64>; VARIANTS] = Default::default();
    let mut usage: [Vec<[f64; 3]>; VARIANTS] = Default::default();
    let mut record = |variant: usize, started: Instant, before: ProcessUse| {
        rates[variant].push(count as f64 / started.elapsed().as_secs_f64());
        usage[variant].push(ProcessUse::now().per_message_since(&before, count));
    };
    let envelope_options = codec::EnvelopeOptions::default();
    let broker = server.url();
    let build = || {
        codec::encode_direct(
            "bench.built",
            vec![Payload::text("message", text.clone())],
            &envelope_options,
            &broker,
            1 << 20,
        )
        .expect("encode")
    };
    // What one build costs on this thread with nothing else running (as
    // bench-codec measures it), for the paced row below.
    let build_time = {
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..20_000 {
                    std::hint::black_box(build());
                }
                started.elapsed().as_secs_f64() / 20_000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        std::time::Duration::from_secs_f64(times[3])
    };
    // PACE_NS=n paces that row by n ns instead (how the ratio moves with
    // the time a producer spends per message).
    let pace = std::env::var("PACE_NS")
        .ok()
        .and_then(|ns| ns.parse().ok())
        .map(std::time::Duration::from_nanos)
        .unwrap_or(build_time);
    // One round of one variant: `count` times the body, then the flush of
    // the connection it published on, timed and metered.
    macro_rules! round {
        ($variant:expr, $connection:expr, $body:block) => {{
            let (started, before) = (Instant::now(), ProcessUse::now());
            for _ in 0..count $body
            $connection.flush().await.expect("flush");
            record($variant, started, before);
        }};
    }
    for _ in 0..rounds {
        round!(0, raw, {
            raw.publish_with_headers("bench.raw", headers.clone(), envelope.clone())
                .await
                .expect("raw publish");
        });
        round!(1, raw, {
            raw.publish("bench.bare", envelope.clone())
                .await
                .expect("bare publish");
        });
        round!(2, raw, {
            let fresh = bytes::Bytes::copy_from_slice(&envelope);
            raw.publish_with_headers("bench.copy", headers.clone(), fresh)
                .await
                .expect("raw publish");
        });
        // The sans-I/O build of each envelope, then a raw publish of what
        // it built with its own headers: smartsend without the Bridge.
        round!(3, raw, {
            let sent = build();
            raw.publish_with_headers(
                "bench.built",
                headers_of(&sent.header),
                sent.wire_bytes().clone(),
            )
            .await
            .expect("raw publish of a built envelope");
        });
        // The raw peer again, each publish after busy work as long as one
        // build: what any producer that spends that long per message gets.
        round!(4, raw, {
            let busy = Instant::now();
            while busy.elapsed() < pace {
                std::hint::spin_loop();
            }
            raw.publish_with_headers("bench.paced", headers.clone(), envelope.clone())
                .await
                .expect("raw publish");
        });
        round!(5, bridge, {
            bridge
                .smartsend(
                    "bench.smart",
                    vec![Payload::text("message", text.clone())],
                    &options,
                )
                .await
                .expect("smartsend");
        });
    }
    let decode_started = Instant::now();
    let decodes = count.min(100_000);
    for _ in 0..decodes {
        let decoded = codec::decode(&envelope).expect("decode");
        std::hint::black_box(decoded);
    }
    let decode_rate = decodes as f64 / decode_started.elapsed().as_secs_f64();
    let [raw_rate, bare, fresh, built, paced, smart] = rates.map(median);
    let per_message = usage.map(|rounds| {
        [0, 1, 2].map(|column| median(rounds.iter().map(|row| row[column]).collect()))
    });
    println!(
        "one build (codec::encode_direct) alone on this thread: {} ns; the paced row busy-waits {} ns per message",
        build_time.as_nanos(),
        pace.as_nanos()
    );
    println!(
        "| what | msgs/s | vs raw (same bytes + headers) | process CPU us / msg | write syscalls / msg | context switches / msg |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let rows = [
        ("raw async-nats publish, same envelope + headers", raw_rate),
        ("raw async-nats publish, same envelope, no headers", bare),
        (
            "raw async-nats publish, a fresh copy of the envelope + headers",
            fresh,
        ),
        (
            "codec::encode_direct, then a raw publish of what it built",
            built,
        ),
        (
            "raw publish, each after busy work as long as one build",
            paced,
        ),
        ("natsbridge smartsend (builds each envelope)", smart),
    ];
    for ((what, rate), [cpu, writes, switches]) in rows.iter().zip(per_message) {
        println!(
            "| {what} | {rate:.0} | {:.2} | {cpu:.2} | {writes:.3} | {switches:.3} |",
            rate / raw_rate
        );
    }
    println!(
        "| natsbridge codec::decode of the envelope (receive-side CPU) | {decode_rate:.0} | - | - | - | - |"
    );
    println!(
        "ratio smartsend / raw = {:.2} (target >= 0.80)",
        smart / raw_rate
    );
}
