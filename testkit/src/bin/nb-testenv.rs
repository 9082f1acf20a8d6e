//! `nb-testenv`: starts the servers every natsbridge test suite needs and
//! prints where they are, so suites in any language share one harness.
//!
//! Prints exactly one JSON line on stdout once everything accepts connections:
//! `{"nats_url":"nats://127.0.0.1:PORT","nats_port":PORT,"store_dir":"..."}`
//! then keeps the servers up until its stdin reaches end-of-file (the parent
//! closed the pipe or exited) or it gets SIGTERM/SIGINT, and removes them.
//!
//! Options: `--max-payload BYTES`, `--no-jetstream`, `--token TOKEN`.

use std::io::{Read, Write};

use natsbridge_testkit::NatsServer;

fn main() {
    let mut builder = NatsServer::builder().kill_with_parent();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-payload" => {
                let value = args.next().and_then(|v| v.parse().ok());
                builder = builder.max_payload(value.unwrap_or_else(|| usage("--max-payload needs a number of bytes")));
            }
            "--no-jetstream" => builder = builder.without_jetstream(),
            "--token" => {
                let token = args.next().unwrap_or_else(|| usage("--token needs a value"));
                builder = builder.token(&token);
            }
            other => usage(&format!("unknown option {other}")),
        }
    }
    let nats = builder.start();
    let line = serde_json::json!({
        "nats_url": nats.url(),
        "nats_port": nats.port(),
        "store_dir": nats.store_dir(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").expect("write to stdout");
    stdout.flush().expect("flush stdout");
    drop(stdout);

    // Block until the parent closes our stdin; dropping `nats` stops the server.
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin().lock();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    drop(nats);
}

fn usage(problem: &str) -> ! {
    eprintln!("nb-testenv: {problem}\nusage: nb-testenv [--max-payload BYTES] [--no-jetstream] [--token TOKEN]");
    std::process::exit(2);
}
