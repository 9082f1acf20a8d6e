//! natsbridge from Rust: one message with a text, a dictionary, a table, a
//! small binary and a 1.5 MB document sent, and received back.
//!
//! The document is over the default `size_threshold` (1,000,000 bytes), so it
//! travels by claim-check: to the file server at `FILESERVER_URL` when set,
//! else the JetStream Object Store of the NATS server. Everything else is
//! direct (base64 inside the envelope).
//!
//! ```sh
//! NATS_URL=nats://localhost:4222 FILESERVER_URL=http://127.0.0.1:8080 \
//!     cargo run --release -p natsbridge-example
//! ```
//!
//! Checks what arrives and exits non-zero on any difference; the last line is
//! `example ok: ...`.

use std::process::ExitCode;
use std::time::Duration;

use natsbridge::{
    Bridge, Payload, PayloadType, ReceiveOptions, SendOptions, TableBuilder, Transport,
};
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(summary) => {
            println!("example ok: {summary}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("example failed: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let nats_url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://localhost:4222".into());
    let fileserver_url = std::env::var("FILESERVER_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let subject = format!("/examples/rust/{}", std::process::id());

    let bridge = Bridge::connect(&nats_url).await?;
    let mut inbox = bridge.subscribe(&subject, ReceiveOptions::new()).await?;

    let table = TableBuilder::new()
        .int64("id", vec![Some(1), Some(2)])?
        .utf8("name", vec![Some("Alice".into()), Some("Bob".into())])?
        .finish()?;
    let document: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let config = json!({"update_interval": 60, "tags": ["a", "b"]});

    let mut options = SendOptions::new();
    if let Some(url) = &fileserver_url {
        options = options.fileserver_url(url);
    }
    let sent = bridge
        .smartsend(
            &subject,
            vec![
                Payload::text("message", "Hello World"),
                Payload::dictionary("config", config.clone()),
                Payload::table("users", table),
                Payload::bytes(
                    "thumbnail",
                    PayloadType::Image,
                    vec![0x89, b'P', b'N', b'G'],
                ),
                Payload::bytes("document", PayloadType::Binary, document.clone()),
            ],
            &options,
        )
        .await?;
    println!(
        "sent {} with {} payloads",
        sent.header.msg_id,
        sent.payloads.len()
    );

    let received = inbox
        .next_timeout(Duration::from_secs(30))
        .await?
        .ok_or("no message within 30 s")?;
    check(received.header.msg_id == sent.header.msg_id, "msg_id")?;
    let names: Vec<&str> = received.payloads.iter().map(|p| p.dataname()).collect();
    check(
        names == ["message", "config", "users", "thumbnail", "document"],
        "payload order",
    )?;
    for payload in &received.payloads {
        println!(
            "  {} ({}, {}, {} bytes)",
            payload.dataname(),
            payload.payload_type().as_str(),
            payload.info.transport,
            payload.info.size
        );
    }
    let value = |name: &str| &received.payload(name).expect("checked above").value;
    check(value("message").as_text() == Some("Hello World"), "text")?;
    check(value("config").as_json() == Some(&config), "dictionary")?;
    let users = value("users").as_table().ok_or("users is not a table")?;
    check(
        users.to_json_rows()?
            == vec![
                json!({"id": 1, "name": "Alice"}),
                json!({"id": 2, "name": "Bob"}),
            ],
        "table rows",
    )?;
    check(
        value("thumbnail").as_bytes().map(|b| b.as_ref()) == Some(&[0x89, b'P', b'N', b'G'][..]),
        "binary",
    )?;
    let doc = received.payload("document").expect("checked above");
    check(
        doc.info.transport == Transport::Link,
        "the document travels by link",
    )?;
    check(
        value("document").as_bytes().map(|b| b.as_ref()) == Some(&document[..]),
        "linked document bytes",
    )?;
    bridge.close().await?;
    let store = if fileserver_url.is_some() {
        "file server"
    } else {
        "object store"
    };
    Ok(format!("text dictionary table binary link({store})"))
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: not what was sent"))
    }
}
