//! What building one envelope costs, without a server: the sans-I/O codec's
//! `encode_direct` of a 1 KiB text payload (what `smartsend` does before it
//! publishes), and the steps it is made of, each timed on its own. Target
//! (issue 21): one 1 KiB text envelope in at most 0.3 µs on this machine.
//!
//! Each step runs `N` times per round on this thread; rounds alternate
//! steps, the median round is reported in ns per call.
//!
//! Run: `cargo run --release -p natsbridge-bench --bin bench-codec [N=200000] [ROUNDS=7]`

use std::hint::black_box;
use std::time::Instant;

use async_nats::HeaderMap;
use natsbridge::codec::{self, EnvelopeOptions};
use natsbridge::{Payload, encoding};
use natsbridge_bench::median;

/// The allocator of the shipped binaries and extensions (see bench-publish).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BROKER: &str = "nats://127.0.0.1:4222";

fn main() {
    // The command line: [N] [ROUNDS] (skip(1) passes over the program name).
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let text = "x".repeat(1024);
    let options = EnvelopeOptions::default();
    let sample = codec::encode_direct(
        "bench.codec",
        vec![Payload::text("message", text.clone())],
        &options,
        BROKER,
        1 << 20,
    )
    .expect("a sample envelope");
    let wire = sample.wire_bytes().clone();

    type Step<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let steps: Vec<Step<'_>> = vec![
        (
            "codec::encode_direct, 1 KiB text (the whole build)",
            Box::new(|| {
                let sent = codec::encode_direct(
                    "bench.codec",
                    vec![Payload::text("message", text.clone())],
                    &options,
                    BROKER,
                    1 << 20,
                )
                .expect("encode");
                black_box(sent);
            }),
        ),
        (
            "  of which: the caller's copy of the 1 KiB text (Payload::text)",
            Box::new(|| {
                black_box(Payload::text("message", text.clone()));
            }),
        ),
        (
            "  of which: codec::new_header (ids, timestamp, fields)",
            Box::new(|| {
                black_box(codec::new_header("bench.codec", &options, BROKER));
            }),
        ),
        (
            "  of which: one id (UUIDv4 text)",
            Box::new(|| {
                black_box(natsbridge::envelope::new_uuid());
            }),
        ),
        (
            "  of which: the timestamp (RFC 3339, ms)",
            Box::new(|| {
                black_box(natsbridge::clock::now_rfc3339_millis());
            }),
        ),
        (
            "  of which: base64 of 1 KiB into a buffer",
            Box::new(|| {
                let mut out = Vec::with_capacity(1400);
                encoding::base64_encode_append(black_box(text.as_bytes()), &mut out);
                black_box(out);
            }),
        ),
        (
            "the NATS header map async-nats takes (2 headers)",
            Box::new(|| {
                let mut headers = HeaderMap::new();
                for (name, value) in codec::nats_headers(&sample.header) {
                    headers.insert(name, value);
                }
                black_box(headers);
            }),
        ),
        (
            "codec::decode of the envelope (receive side)",
            Box::new(|| {
                black_box(codec::decode(black_box(&wire)).expect("decode"));
            }),
        ),
    ];
    println!(
        "{count} calls per round, {rounds} rounds, median round; envelope of {} bytes",
        wire.len()
    );
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    for _ in 0..rounds {
        for (index, (_, step)) in steps.iter().enumerate() {
            let started = Instant::now();
            for _ in 0..count {
                step();
            }
            times[index].push(started.elapsed().as_secs_f64() * 1e9 / count as f64);
        }
    }
    println!("| step | ns per call |");
    println!("|---|---:|");
    for ((name, _), samples) in steps.iter().zip(times) {
        println!("| {name} | {:.0} |", median(samples));
    }
}
