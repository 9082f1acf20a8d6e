//! [`Bridge`]: one long-lived NATS connection and everything done over it:
//! smartsend, smartreceive, subscribe, request and reply.
//!
//! The bridge is the I/O shell around the sans-I/O [`codec`](crate::codec):
//! it reads file payloads, uploads link payloads to a claim-check store,
//! publishes, and fetches link payloads on receive. It is cheap to clone
//! (an `Arc` inside) and safe to share between tasks and threads.
//!
//! Its files, each owning one concern: `connect.rs` (connect options and
//! connecting), `send.rs` (smartsend: describe, plan, upload, publish),
//! `receive.rs` (smartreceive, subscribe, fetching links) and `request.rs`
//! (request and reply). This file holds the [`Bridge`] handle itself and its
//! lifecycle (accessors, close, flush).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::StreamExt as _;

use crate::error::{Error, ErrorKind, Result};

mod connect;
mod receive;
mod request;
mod send;

pub use connect::ConnectOptions;
pub(crate) use receive::resolve_links;

pub(crate) struct Inner {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: async_nats::jetstream::Context,
    pub(crate) broker_url: String,
    pub(crate) options: ConnectOptions,
    pub(crate) stores: crate::store::Stores,
    /// Messages the client dropped per subscription (slow consumers).
    pub(crate) slow_consumers: Arc<crate::subscription::SlowConsumers>,
    closed: AtomicBool,
}

/// A long-lived connection to NATS that every natsbridge call reuses.
///
/// ```no_run
/// # async fn demo() -> natsbridge::Result<()> {
/// use natsbridge::{Bridge, Payload, ReceiveOptions, SendOptions};
/// let bridge = Bridge::connect("nats://localhost:4222").await?;
/// let mut inbox = bridge.subscribe("/chat/room1", ReceiveOptions::new()).await?;
/// bridge.smartsend("/chat/room1", vec![Payload::text("message", "hi")], &SendOptions::new()).await?;
/// let envelope = inbox.next().await.expect("subscription open")?;
/// assert_eq!(envelope.payloads[0].value.as_text(), Some("hi"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Bridge {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("broker_url", &self.inner.broker_url)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Bridge {
    /// The underlying async-nats client, for anything natsbridge does not wrap.
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    /// The server URL(s) without credentials, as written into `broker_url`.
    pub fn broker_url(&self) -> &str {
        &self.inner.broker_url
    }

    /// The connect options the bridge was made with.
    pub fn options(&self) -> &ConnectOptions {
        &self.inner.options
    }

    /// The largest message the server accepts (its `max_payload`).
    pub fn max_payload(&self) -> usize {
        self.inner.client.max_payload()
    }

    /// True when `other` is this bridge or a clone of it (one connection).
    pub fn same_connection(&self, other: &Bridge) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// True once [`Bridge::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the bridge is closed"));
        }
        Ok(())
    }

    /// Flushes what was published and closes the connection. Later calls on
    /// this bridge or its clones fail with [`ErrorKind::Closed`].
    ///
    /// While connected, returns once the server has everything published
    /// before (one round trip, at most `request_timeout`): async-nats' drain
    /// only queues its request, and a process that exits right after
    /// `close` would otherwise lose what was still in the write buffer.
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let connected =
            self.inner.client.connection_state() == async_nats::connection::State::Connected;
        let flushed = if connected {
            self.round_trip().await
        } else {
            Ok(())
        };
        let drained = self.inner.client.drain().await.map_err(|err| {
            Error::new(ErrorKind::Connection, "closing the connection failed").with_source(err)
        });
        flushed.and(drained)
    }

    /// Waits until the server has processed everything sent on this
    /// connection so far: publishes, and subscriptions (after `flush`, a
    /// message another client publishes reaches a subscription made before).
    ///
    /// async-nats' own flush only waits for the socket write, so this makes
    /// a round trip through the server: an empty message to a fresh
    /// `_INBOX.` subject comes back only after the server has handled
    /// everything sent before it. (A subscriber to `>` sees that message.)
    pub async fn flush(&self) -> Result<()> {
        self.check_open()?;
        self.round_trip().await
    }

    /// The round trip of [`Bridge::flush`], bounded by `request_timeout`.
    async fn round_trip(&self) -> Result<()> {
        let client = &self.inner.client;
        let failed = |err: Box<dyn std::error::Error + Send + Sync>| {
            Error::new(ErrorKind::Connection, "flushing to the server failed").with_source(err)
        };
        let inbox = client.new_inbox();
        let mut echo = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| failed(e.into()))?;
        client
            .publish(inbox, Bytes::new())
            .await
            .map_err(|e| failed(e.into()))?;
        let timeout = self.inner.options.request_timeout;
        // async-nats' flush waits for a reconnect when the connection is
        // down: bounded with the echo.
        let echoed = tokio::time::timeout(timeout, async {
            client.flush().await.map_err(|e| failed(e.into()))?;
            Ok::<_, Error>(echo.next().await)
        })
        .await;
        let _ = echo.unsubscribe().await;
        match echoed {
            Ok(Ok(Some(_))) => Ok(()),
            Ok(Ok(None)) => Err(Error::new(
                ErrorKind::Connection,
                "the connection closed during a flush",
            )),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("the server did not answer a flush within {timeout:?}"),
            )),
        }
    }
}
