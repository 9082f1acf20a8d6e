//! A 100 MB payload through each claim-check store, sender and receiver in
//! separate processes (so each one's peak RSS is its own), beside the raw
//! ceiling measured in the same run: `curl` PUT + GET of the same file
//! against the same file server.
//!
//! For each store (HTTP file server, JetStream Object Store) and each mode
//! (in memory: the sender holds the payload as bytes, the receiver gets
//! bytes; streaming: the sender passes a file path, the receiver writes to a
//! save_dir) it reports end-to-end MB/s (send start to verified receipt) and
//! the peak RSS of both processes above their baseline after connecting.
//!
//! Run: `cargo run --release -p natsbridge-bench --bin bench-link [SIZE_MB]`

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use natsbridge::{Bridge, Payload, PayloadType, PayloadValue, ReceiveOptions, SendOptions};
use natsbridge_bench::{current_rss, mb, mb_per_s, median, peak_rss, reset_peak_rss};
use natsbridge_testkit::{FileServerHandle, NatsServer};
use serde_json::{Value, json};

/// mimalloc: glibc's allocator serializes on arena locks when a buffer is
/// allocated on one thread and freed on another, which is the path of every
/// published message (caller thread -> connection task).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("send") => child_send(&args[1..]),
        Some("receive") => child_receive(&args[1..]),
        _ => orchestrate(args.first().and_then(|a| a.parse().ok()).unwrap_or(100)),
    }
}

fn arg<'a>(args: &'a [String], name: &str) -> &'a str {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("missing {name}"))
}

fn report(value: Value) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "RESULT {value}").expect("stdout");
    stdout.flush().expect("flush");
}

/// Sends one payload: `--nats URL --subject S --file PATH --mode memory|file [--fileserver-url U]`.
fn child_send(args: &[String]) {
    let runtime = natsbridge::runtime::global();
    runtime.block_on(async {
        let bridge = Bridge::connect(arg(args, "--nats")).await.expect("connect");
        let path = PathBuf::from(arg(args, "--file"));
        let mut options = SendOptions::new();
        if let Some(i) = args.iter().position(|a| a == "--fileserver-url") {
            options = options.fileserver_url(&args[i + 1]);
        }
        let in_memory = arg(args, "--mode") == "memory";
        // The baseline is taken before the payload is loaded, so the peak
        // above it counts the caller's own copy of the payload too.
        reset_peak_rss();
        let baseline = current_rss();
        let payload = if in_memory {
            let bytes = std::fs::read(&path).expect("read the payload");
            Payload::bytes("payload", PayloadType::Binary, bytes)
        } else {
            Payload::file("payload", PayloadType::Binary, &path)
        };
        let started = now_ms();
        let sent = bridge
            .smartsend(arg(args, "--subject"), vec![payload], &options)
            .await
            .expect("smartsend");
        bridge.flush().await.expect("flush");
        report(json!({
            "start_ms": started, "done_ms": now_ms(), "peak_rss": peak_rss(), "baseline_rss": baseline,
            "url": sent.payload_data(0),
        }));
    });
}

/// Receives one envelope: `--nats URL --subject S --mode memory|file --save-dir DIR --size N`.
fn child_receive(args: &[String]) {
    let runtime = natsbridge::runtime::global();
    runtime.block_on(async {
        let bridge = Bridge::connect(arg(args, "--nats")).await.expect("connect");
        let mut options = ReceiveOptions::new();
        if arg(args, "--mode") == "file" {
            options = options.save_dir(arg(args, "--save-dir"));
        }
        let mut sub = bridge
            .subscribe(arg(args, "--subject"), options)
            .await
            .expect("subscribe");
        bridge.flush().await.expect("flush");
        reset_peak_rss();
        let baseline = current_rss();
        println!("READY");
        let envelope = sub
            .next_timeout(Duration::from_secs(300))
            .await
            .expect("a message")
            .expect("subscription open");
        let done = now_ms();
        let size: u64 = arg(args, "--size").parse().expect("size");
        let received = match &envelope.payloads[0].value {
            PayloadValue::Bytes(bytes) => bytes.len() as u64,
            PayloadValue::File(path) => std::fs::metadata(path).expect("saved file").len(),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(received, size, "received a different size");
        report(json!({"done_ms": done, "peak_rss": peak_rss(), "baseline_rss": baseline}));
    });
}

struct Child {
    process: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Child {
    fn start(args: &[&str]) -> Child {
        let mut process = Command::new(std::env::current_exe().expect("own path"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a benchmark child");
        let stdout = process.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Child { process, lines }
    }

    fn wait_for(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(300))
                .unwrap_or_else(|_| panic!("no {prefix} line from a benchmark child"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
    }

    fn result(mut self) -> Value {
        let line = self.wait_for("RESULT ");
        let status = self.process.wait().expect("wait for the child");
        assert!(status.success(), "a benchmark child failed");
        serde_json::from_str(&line).expect("a JSON result")
    }
}

struct Run {
    mb_s: f64,
    sender_extra: u64,
    receiver_extra: u64,
}

fn one_run(
    nats: &str,
    fileserver: Option<&str>,
    mode: &str,
    file: &Path,
    size: u64,
    work: &Path,
    round: usize,
) -> Run {
    let subject = format!("bench.link.{round}");
    let save_dir = work.join(format!("save-{round}"));
    let size_text = size.to_string();
    let receiver = Child::start(&[
        "receive",
        "--nats",
        nats,
        "--subject",
        &subject,
        "--mode",
        mode,
        "--save-dir",
        save_dir.to_str().expect("utf-8 path"),
        "--size",
        &size_text,
    ]);
    receiver.wait_for("READY");
    let mut send_args = vec![
        "send",
        "--nats",
        nats,
        "--subject",
        &subject,
        "--mode",
        mode,
        "--file",
        file.to_str().expect("utf-8 path"),
    ];
    if let Some(url) = fileserver {
        send_args.extend(["--fileserver-url", url]);
    }
    let sender = Child::start(&send_args);
    let sent = sender.result();
    let received = receiver.result();
    let _ = std::fs::remove_dir_all(&save_dir);
    let took =
        received["done_ms"].as_f64().unwrap_or(0.0) - sent["start_ms"].as_f64().unwrap_or(0.0);
    let extra = |v: &Value| {
        v["peak_rss"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(v["baseline_rss"].as_u64().unwrap_or(0))
    };
    Run {
        mb_s: mb_per_s(size, Duration::from_secs_f64(took / 1000.0)),
        sender_extra: extra(&sent),
        receiver_extra: extra(&received),
    }
}

fn curl_ceiling(fileserver: &str, file: &Path, size: u64, round: usize) -> f64 {
    let url = format!("{fileserver}/raw-{round}/payload");
    let started = Instant::now();
    let put = Command::new("curl")
        .args(["-sS", "-f", "-o", "/dev/null", "-T"])
        .arg(file)
        .arg(&url)
        .status()
        .expect("curl is needed for the raw ceiling (apt-get install curl)");
    assert!(put.success(), "curl PUT failed");
    let get = Command::new("curl")
        .args(["-sS", "-f", "-o", "/dev/null", &url])
        .status()
        .expect("curl");
    assert!(get.success(), "curl GET failed");
    mb_per_s(size, started.elapsed())
}

/// The Object Store's own ceiling: raw async-nats put + get of the same
/// bytes on the same server, with the chunk size natsbridge uses.
fn object_store_ceiling(nats: &str, file: &Path, size: u64, round: usize) -> f64 {
    natsbridge::runtime::global().block_on(async {
        use tokio::io::AsyncReadExt as _;
        let client = async_nats::connect(nats).await.expect("connect");
        let max_payload = client.max_payload();
        let js = async_nats::jetstream::new(client);
        let store = match js.get_object_store("raw-ceiling").await {
            Ok(store) => store,
            Err(_) => js
                .create_object_store(async_nats::jetstream::object_store::Config {
                    bucket: "raw-ceiling".into(),
                    ..Default::default()
                })
                .await
                .expect("create the raw bucket"),
        };
        let bytes = std::fs::read(file).expect("read the payload");
        let name = format!("raw-{round}");
        let meta = async_nats::jetstream::object_store::ObjectMetadata {
            name: name.clone(),
            chunk_size: Some(max_payload.saturating_sub(4096).clamp(64 * 1024, 8 << 20)),
            ..Default::default()
        };
        let started = Instant::now();
        store
            .put(meta, &mut bytes.as_slice())
            .await
            .expect("raw put");
        let mut object = store.get(&name).await.expect("raw get");
        let mut back = Vec::with_capacity(bytes.len());
        object.read_to_end(&mut back).await.expect("raw read");
        assert_eq!(back.len(), bytes.len());
        mb_per_s(size, started.elapsed())
    })
}

fn orchestrate(size_mb: u64) {
    let size = size_mb * 1_000_000;
    let server = NatsServer::start();
    let files = FileServerHandle::start();
    let work = tempfile::tempdir().expect("a work directory");
    let file = work.path().join("payload.bin");
    {
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(&file).expect("create the payload"));
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut block = vec![0u8; 1 << 20];
        let mut written = 0;
        while written < size {
            for chunk in block.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
            }
            let n = (size - written).min(block.len() as u64) as usize;
            out.write_all(&block[..n]).expect("write the payload");
            written += n as u64;
        }
    }
    const ROUNDS: usize = 3;
    let mut round = 0;
    let ceiling = median(
        (0..ROUNDS)
            .map(|_| {
                round += 1;
                curl_ceiling(&files.url(), &file, size, round)
            })
            .collect(),
    );
    let object_ceiling = median(
        (0..ROUNDS)
            .map(|_| {
                round += 1;
                object_store_ceiling(&server.url(), &file, size, round)
            })
            .collect(),
    );
    println!(
        "payload {}; raw ceiling (curl PUT + GET, same file server): {ceiling:.0} MB/s",
        mb(size)
    );
    println!(
        "the Object Store's own ceiling (raw async-nats put + get, same server): {object_ceiling:.0} MB/s"
    );
    println!();
    println!(
        "| store | mode | MB/s | vs curl ceiling | vs the store's raw client | sender peak RSS above baseline | receiver peak RSS above baseline |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let url = files.url();
    for (store, fileserver, own_ceiling) in [
        ("HTTP file server", Some(url.as_str()), ceiling),
        ("JetStream Object Store", None, object_ceiling),
    ] {
        for mode in ["memory", "file"] {
            let runs: Vec<Run> = (0..ROUNDS)
                .map(|_| {
                    round += 1;
                    one_run(
                        &server.url(),
                        fileserver,
                        mode,
                        &file,
                        size,
                        work.path(),
                        round,
                    )
                })
                .collect();
            let rate = median(runs.iter().map(|r| r.mb_s).collect());
            let sender = runs.iter().map(|r| r.sender_extra).max().unwrap_or(0);
            let receiver = runs.iter().map(|r| r.receiver_extra).max().unwrap_or(0);
            let mode_name = if mode == "memory" {
                "in memory"
            } else {
                "streamed file"
            };
            println!(
                "| {store} | {mode_name} | {rate:.0} | {:.2} | {:.2} | {} | {} |",
                rate / ceiling,
                rate / own_ceiling,
                mb(sender),
                mb(receiver)
            );
        }
    }
    println!();
    println!(
        "targets: >= 0.70x the raw ceiling; peak RSS above baseline (the payload's own copy \
         included) at most 1.5x the payload ({}) in memory, under 64 MB streamed",
        mb(size * 3 / 2)
    );
}
