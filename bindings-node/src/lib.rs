//! # natsbridge for Node
//!
//! The napi-rs addon behind the npm package `natsbridge`. It converts values
//! and errors at the border and nothing else: the wire format, transport
//! choice, claim-check stores, retries and limits all live in the core crate
//! (`core/`). `index.js` loads this addon and adds what needs apache-arrow
//! (tables to and from Arrow IPC bytes) and async iteration of subscriptions.
//!
//! - [`pool`]: the original design's `smartsend` / `smartreceive` functions;
//! - [`bridge`]: the `Bridge` class (a long-lived connection) and `Subscription`;
//! - [`durable`]: JetStream consumers (`DurableSubscription`, `JetStreamMessage`);
//! - [`payload`], [`envelope`], [`objects`], [`options`], [`message`], [`bytes`], [`json`]:
//!   conversions of values;
//! - [`handlers`]: JS upload / download handlers as core claim-check stores;
//! - [`error`]: natsbridge errors as JS `Error`s with a stable `code`;
//! - [`promise`]: how core futures become JS promises;
//! - [`waiting`]: futures that only wait, kept on the JS thread.

#![deny(clippy::all)]

pub mod bridge;
pub mod bytes;
pub mod durable;
pub mod envelope;
pub mod error;
pub mod handlers;
pub mod json;
pub mod message;
pub mod objects;
pub mod options;
pub mod payload;
pub mod pool;
pub mod promise;
pub mod waiting;

/// mimalloc: glibc's allocator serializes on arena locks when a buffer is
/// allocated on one thread and freed on another, which is the path of every
/// published message (caller thread -> connection task).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
