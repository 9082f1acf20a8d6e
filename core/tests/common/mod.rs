//! Shared set-up for the core's integration tests: a real nats-server per
//! test (from natsbridge-testkit) and a bridge connected to it.

#![allow(dead_code)]

use std::time::Duration;

use natsbridge::{Bridge, ReceiveOptions, ReceivedEnvelope, Subscription};
pub use natsbridge_testkit::NatsServer;

/// Generous bound for anything that should take milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// A fresh JetStream-enabled server and a bridge connected to it.
pub async fn server_and_bridge() -> (NatsServer, Bridge) {
    let server = NatsServer::start();
    let bridge = Bridge::connect(&server.url())
        .await
        .expect("connect to the test server");
    (server, bridge)
}

/// Subscribes and flushes, so the subscription is active before anything is published.
pub async fn subscribe(bridge: &Bridge, subject: &str) -> Subscription {
    let sub = bridge
        .subscribe(subject, ReceiveOptions::new())
        .await
        .expect("subscribe");
    bridge.flush().await.expect("flush");
    sub
}

/// The next envelope, failing the test after [`WAIT`].
pub async fn next(sub: &mut Subscription) -> ReceivedEnvelope {
    sub.next_timeout(WAIT)
        .await
        .expect("a message in time")
        .expect("subscription open")
}

/// Deterministic pseudo-random bytes (so a corrupted byte shows).
pub fn pattern(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}
