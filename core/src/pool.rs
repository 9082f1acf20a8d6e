//! The function-style API of the original design, `smartsend(nats_url, ...)`
//! and `smartreceive(msg, ...)`, over a process-wide pool of bridges keyed
//! by URL: the first call to a URL connects, every later one reuses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::OnceCell;

use crate::bridge::{Bridge, ConnectOptions};
use crate::codec::{self, Content};
use crate::envelope::{ReceivedEnvelope, SentEnvelope};
use crate::error::Result;
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::Payload;

type Slot = Arc<OnceCell<Bridge>>;

fn slots() -> &'static Mutex<HashMap<String, Slot>> {
    static POOL: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// The pooled bridge for `nats_url`, connecting on first use. Concurrent
/// first calls share one connection attempt; a failed attempt is not cached,
/// and a closed bridge is replaced.
pub async fn bridge_for(nats_url: &str) -> Result<Bridge> {
    loop {
        let slot = {
            let mut map = slots().lock().unwrap_or_else(|poison| poison.into_inner());
            map.entry(nats_url.to_owned()).or_default().clone()
        };
        let bridge = slot
            .get_or_try_init(|| ConnectOptions::new(nats_url).connect())
            .await?
            .clone();
        if !bridge.is_closed() {
            return Ok(bridge);
        }
        let mut map = slots().lock().unwrap_or_else(|poison| poison.into_inner());
        if map
            .get(nats_url)
            .is_some_and(|current| Arc::ptr_eq(current, &slot))
        {
            map.remove(nats_url);
        }
    }
}

/// Sends `payloads` on `subject` through the pooled connection to
/// `nats_url` (see [`Bridge::smartsend`]).
///
/// ```no_run
/// # async fn demo() -> natsbridge::Result<()> {
/// use natsbridge::{Payload, SendOptions};
/// let sent = natsbridge::smartsend(
///     "nats://localhost:4222",
///     "/chat/room1",
///     vec![Payload::text("message", "Hello World")],
///     &SendOptions::new(),
/// ).await?;
/// # Ok(()) }
/// ```
pub async fn smartsend(
    nats_url: &str,
    subject: &str,
    payloads: Vec<Payload>,
    options: &SendOptions,
) -> Result<SentEnvelope> {
    bridge_for(nats_url)
        .await?
        .smartsend(subject, payloads, options)
        .await
}

/// Decodes a message body. Direct payloads need no connection; for
/// `nats-object://` links the pooled connection to `nats_url` is used, or,
/// when it is `None`, to `$NATS_URL` or `nats://localhost:4222`
/// ([`ConnectOptions::resolve_nats_url`](crate::ConnectOptions::resolve_nats_url)).
/// Never to the envelope's `broker_url`: a connection is never derived from
/// what a sender wrote (SECURITY.md).
pub async fn smartreceive(
    body: &[u8],
    nats_url: Option<&str>,
    options: &ReceiveOptions,
) -> Result<ReceivedEnvelope> {
    let decoded = codec::decode(body)?;
    let needs_nats = decoded.payloads.iter().any(|p| {
        matches!(&p.content, Content::Link(url) if url.starts_with(crate::store::NATS_OBJECT_SCHEME))
    });
    let bridge = if needs_nats {
        let url = crate::ConnectOptions::resolve_nats_url(nats_url);
        Some(bridge_for(&url).await?)
    } else {
        None
    };
    crate::bridge::resolve_links(bridge.as_ref(), decoded, options).await
}
