//! The soak (issue 19, item 5): N small envelopes and L 1 MB link payloads
//! (every N/L-th envelope carries one, stored in the JetStream Object Store)
//! through one sending Bridge, while two receivers (each its own Bridge, one
//! queue group) decode them, links downloaded and verified.
//!
//! It reports throughput, p50/p99 latency (send call to decoded envelope,
//! small and link envelopes apart), the process's peak RSS, loss (every
//! envelope must arrive exactly once, with its content) and whether memory
//! stays flat (RSS after the first tenth of the run against after the last).
//! The sender keeps at most WINDOW envelopes in flight, so a receiver never
//! falls behind far enough to be a slow consumer: the soak measures a
//! sustained rate, not how deep the buffers are.
//!
//! Run: `cargo run --release -p natsbridge-bench --bin bench-soak [N=1000000] [LINKS=1000] [LINK_BYTES=1000000]`
//!
//! Exits non-zero when anything is lost, duplicated or corrupted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use natsbridge::{
    ConnectOptions, Payload, PayloadType, ReceiveOptions, ReceivedEnvelope, SendOptions,
};
use natsbridge_bench::{current_rss, mb, mb_per_s, peak_rss};
use natsbridge_testkit::NatsServer;
use tokio::sync::Semaphore;

/// mimalloc, as every binary natsbridge ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Envelopes in flight at most (sent, not yet decoded).
const WINDOW: usize = 20_000;
const SUBJECT: &str = "soak.envelopes";
const RECEIVERS: usize = 2;

fn main() {
    natsbridge::runtime::global().block_on(run());
}

/// What every receiver shares: one slot per envelope, latencies, counters.
struct Tally {
    started: Instant,
    /// How many times each envelope arrived.
    seen: Vec<AtomicU8>,
    /// Microseconds from the send call to the decoded envelope, per envelope.
    latency_us: Vec<AtomicU64>,
    received: AtomicU64,
    bad: AtomicU64,
    window: Semaphore,
}

impl Tally {
    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Checks one decoded envelope against what was sent and records it.
    fn record(&self, envelope: &ReceivedEnvelope, link_bytes: usize) {
        let text = envelope.payloads[0].value.as_text().unwrap_or_default();
        let parsed = text.split_once(' ').and_then(|(index, sent_us)| {
            Some((index.parse::<usize>().ok()?, sent_us.parse::<u64>().ok()?))
        });
        let Some((index, sent_us)) = parsed.filter(|(index, _)| *index < self.seen.len()) else {
            self.bad.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Some(link) = envelope.payloads.get(1) {
            // The core verified size and sha256; check it is this envelope's payload.
            let ok = link.value.as_bytes().is_some_and(|bytes| {
                bytes.len() == link_bytes && bytes[..8] == (index as u64).to_le_bytes()
            });
            if !ok {
                self.bad.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_us[index].store(self.now_us().saturating_sub(sent_us), Ordering::Relaxed);
        self.seen[index].fetch_add(1, Ordering::Relaxed);
        self.received.fetch_add(1, Ordering::Relaxed);
        self.window.add_permits(1);
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank] as f64 / 1000.0
}

async fn run() {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let links: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let link_bytes: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let link_every = total
        .checked_div(links)
        .map_or(usize::MAX, |every| every.max(1));
    let server = NatsServer::start();
    println!(
        "soak: {total} envelopes, {links} with a {} link payload (Object Store), {RECEIVERS} \
         receivers in a queue group, window {WINDOW}",
        mb(link_bytes as u64)
    );

    let connect = || {
        ConnectOptions::new(server.url())
            .object_store_bucket("soak")
            .connect()
    };
    let sender = connect().await.expect("connect the sender");
    let tally = Arc::new(Tally {
        started: Instant::now(),
        seen: (0..total).map(|_| AtomicU8::new(0)).collect(),
        latency_us: (0..total).map(|_| AtomicU64::new(0)).collect(),
        received: AtomicU64::new(0),
        bad: AtomicU64::new(0),
        window: Semaphore::new(WINDOW),
    });
    let mut receivers = Vec::new();
    for _ in 0..RECEIVERS {
        let bridge = connect().await.expect("connect a receiver");
        let mut sub = bridge
            .queue_subscribe(SUBJECT, "soak", ReceiveOptions::new())
            .await
            .expect("subscribe")
            .concurrent_receives(4);
        let tally = tally.clone();
        receivers.push((
            bridge,
            tokio::spawn(async move {
                let mut errors = 0u64;
                while let Some(item) = sub.next().await {
                    match item {
                        Ok(envelope) => tally.record(&envelope, link_bytes),
                        Err(err) => {
                            errors += 1;
                            if errors <= 5 {
                                eprintln!("receive error: {err}");
                            }
                        }
                    }
                }
                errors
            }),
        ));
    }
    sender.flush().await.expect("flush");

    let options = SendOptions::new().size_threshold(64 * 1024);
    let mut blob = vec![0u8; link_bytes.max(8)];
    for (i, byte) in blob.iter_mut().enumerate() {
        *byte = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    let baseline_rss = current_rss();
    let mut tenth_rss = Vec::new();
    let mut send_errors = 0u64;
    let started = Instant::now();
    for index in 0..total {
        tally.window.acquire().await.expect("window").forget();
        let mut payloads = vec![Payload::text("n", format!("{index} {}", tally.now_us()))];
        let with_link = index % link_every == link_every - 1;
        if with_link {
            let mut data = blob.clone();
            data[..8].copy_from_slice(&(index as u64).to_le_bytes());
            payloads.push(Payload::bytes("blob", PayloadType::Binary, data));
        }
        if let Err(err) = sender.smartsend(SUBJECT, payloads, &options).await {
            send_errors += 1;
            eprintln!("send {index} failed: {err}");
            tally.window.add_permits(1);
        }
        if (index + 1) % (total / 10).max(1) == 0 {
            tenth_rss.push(current_rss());
        }
    }
    sender.flush().await.expect("flush");
    let sent_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while tally.received.load(Ordering::Relaxed) < (total as u64 - send_errors)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let mut receive_errors = 0;
    for (bridge, task) in receivers {
        bridge.close().await.expect("close a receiver");
        receive_errors += task.await.expect("a receiver task");
    }

    let (mut missing, mut duplicated) = (0u64, 0u64);
    let (mut small, mut large) = (Vec::new(), Vec::new());
    for index in 0..total {
        match tally.seen[index].load(Ordering::Relaxed) {
            0 => missing += 1,
            1 => {}
            _ => duplicated += 1,
        }
        let latency = tally.latency_us[index].load(Ordering::Relaxed);
        if index % link_every == link_every - 1 {
            large.push(latency);
        } else {
            small.push(latency);
        }
    }
    small.sort_unstable();
    large.sort_unstable();
    let bad = tally.bad.load(Ordering::Relaxed);
    let link_total = (large.len() * link_bytes) as u64;
    let first = tenth_rss.first().copied().unwrap_or(0);
    let last = tenth_rss.last().copied().unwrap_or(0);
    let growth = last as f64 / first.max(1) as f64 - 1.0;

    println!("| what | value |\n|---|---:|");
    println!(
        "| envelopes sent / decoded | {total} / {} |",
        tally.received.load(Ordering::Relaxed)
    );
    println!("| lost / duplicated / corrupted | {missing} / {duplicated} / {bad} |");
    println!("| send errors / receive errors | {send_errors} / {receive_errors} |");
    println!(
        "| wall time (send start to last decode) | {:.1} s |",
        took.as_secs_f64()
    );
    println!("| send loop | {:.1} s |", sent_in.as_secs_f64());
    println!(
        "| throughput | {:.0} envelopes/s |",
        total as f64 / took.as_secs_f64()
    );
    println!(
        "| link payload throughput | {:.0} MB/s ({}) |",
        mb_per_s(link_total, took),
        mb(link_total)
    );
    println!(
        "| latency, small envelopes p50 / p99 | {:.2} / {:.2} ms |",
        percentile(&small, 0.50),
        percentile(&small, 0.99)
    );
    println!(
        "| latency, link envelopes p50 / p99 | {:.2} / {:.2} ms |",
        percentile(&large, 0.50),
        percentile(&large, 0.99)
    );
    println!("| RSS before sending | {} |", mb(baseline_rss));
    println!("| peak RSS (VmHWM) | {} |", mb(peak_rss()));
    println!(
        "| RSS after each tenth | {} |",
        tenth_rss
            .iter()
            .map(|r| format!("{:.0}", *r as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| RSS growth, first to last tenth | {:+.1}% |",
        growth * 100.0
    );
    let lossless = missing == 0 && duplicated == 0 && bad == 0 && send_errors == 0;
    println!(
        "zero loss: {}; memory flat (within 10%): {}",
        if lossless { "yes" } else { "NO" },
        if growth.abs() <= 0.10 { "yes" } else { "NO" }
    );
    if !lossless {
        std::process::exit(1);
    }
}
