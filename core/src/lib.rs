//! # natsbridge
//!
//! Multi-payload messages over NATS, readable from Rust, C, Python, Node,
//! Julia and MicroPython alike. One call, `smartsend`, sends a list of
//! `(dataname, data, type)` payloads as one JSON envelope (wire format v1);
//! `smartreceive` turns a received message back into typed values. Small
//! payloads travel base64 inside the envelope; large ones go to a claim-check
//! store (an HTTP file server or the JetStream Object Store) and only their
//! URL travels.
//!
//! The crate has two layers:
//! - the sans-I/O codec, always built: [`codec`] (with the envelope's header
//!   fields, [`codec::EnvelopeOptions`]), [`encoding`], [`envelope`],
//!   [`payload`], [`table`], [`transport`], [`error`];
//! - the async client (feature `client`, on by default): [`Bridge`], the
//!   function-style [`smartsend`] / [`smartreceive`], subscriptions,
//!   request/reply, JetStream, the claim-check [`store`]s, and the send and
//!   receive [`options`] (stores, fetching, retries, time-outs).
//!
//! ```no_run
//! # async fn demo() -> natsbridge::Result<()> {
//! use natsbridge::{Bridge, Payload, SendOptions};
//! let bridge = Bridge::connect("nats://localhost:4222").await?;
//! let sent = bridge
//!     .smartsend("/chat/room1", vec![Payload::text("message", "Hello World")], &SendOptions::new())
//!     .await?;
//! println!("sent {}", sent.header.msg_id);
//! # Ok(()) }
//! ```

pub mod clock;
pub mod codec;
pub mod encoding;
pub mod envelope;
pub mod error;
pub mod payload;
pub mod schema;
pub mod table;
pub mod transport;

#[cfg(feature = "client")]
mod bridge;
#[cfg(feature = "client")]
pub mod jetstream;
#[cfg(feature = "client")]
pub mod options;
#[cfg(feature = "client")]
mod pool;
#[cfg(feature = "client")]
pub mod runtime;
#[cfg(feature = "client")]
pub mod store;
#[cfg(feature = "client")]
mod subscription;

pub use envelope::{EnvelopeHeader, ReceivedEnvelope, ReplyTarget, SentEnvelope};
pub use error::{Error, ErrorKind, Result};
pub use payload::{Body, Payload, PayloadInfo, PayloadType, PayloadValue, ReceivedPayload};
pub use table::{Table, TableBuilder};
pub use transport::Transport;

/// The async-nats crate natsbridge is built on (its `Message` appears in this API).
#[cfg(feature = "client")]
pub use async_nats;
#[cfg(feature = "client")]
pub use bridge::{Bridge, ConnectOptions};
#[cfg(feature = "client")]
pub use options::{ReceiveOptions, SendOptions};
#[cfg(feature = "client")]
pub use pool::{bridge_for as pool_bridge, smartreceive, smartsend};
#[cfg(feature = "client")]
pub use subscription::{
    HeldPlace, RESULTS_AHEAD, Subscription, SubscriptionHandle, is_slow_consumer,
};

/// The natsbridge version, shared by every binding.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
