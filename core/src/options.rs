//! Options of `smartsend` and `smartreceive`, as by-value builders (the
//! client layer, feature `client`).
//!
//! Names and defaults follow the original NATSBridge API (`size_threshold`,
//! `msg_purpose`, `max_retries`, ...), so bindings map their keyword
//! arguments straight onto these setters. The envelope's header fields are
//! the codec's [`EnvelopeOptions`]; [`SendOptions`] adds where link payloads
//! go and how the message is published, and [`ReceiveOptions`] is all I/O
//! (retries, delays, time-outs, caps, origins, tokens, fetcher).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

pub use crate::codec::{DEFAULT_SIZE_THRESHOLD, EnvelopeOptions};
use crate::store::{ClaimCheckStore, LinkFetcher};

/// Options of one send.
///
/// ```
/// use natsbridge::SendOptions;
/// let options = SendOptions::new()
///     .msg_purpose("command")
///     .reply_to("/device/response")
///     .size_threshold(500_000);
/// assert_eq!(options.get_size_threshold(), 500_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    pub(crate) envelope: EnvelopeOptions,
    pub(crate) jetstream: bool,
    pub(crate) fileserver_url: Option<String>,
    pub(crate) fileserver_token: Option<String>,
    pub(crate) store: Option<Arc<dyn ClaimCheckStore>>,
}

impl From<EnvelopeOptions> for SendOptions {
    /// These envelope fields, published on core NATS, with the default store.
    fn from(envelope: EnvelopeOptions) -> SendOptions {
        SendOptions {
            envelope,
            ..SendOptions::default()
        }
    }
}

impl SendOptions {
    /// The defaults of the original design: threshold 1,000,000 bytes,
    /// purpose `chat`, sender `NATSBridge`, broadcast, no reply subject.
    pub fn new() -> SendOptions {
        SendOptions::default()
    }

    /// Payloads whose serialized size is at or above `bytes` go by link.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().size_threshold(64 * 1024);
    /// ```
    pub fn size_threshold(mut self, bytes: usize) -> SendOptions {
        self.envelope.size_threshold = bytes;
        self
    }

    /// Uses this correlation id instead of a new UUID.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().correlation_id("order-1234");
    /// ```
    pub fn correlation_id(mut self, id: impl Into<String>) -> SendOptions {
        self.envelope.correlation_id = Some(id.into());
        self
    }

    /// Uses this message id instead of a new UUID; a resend with the same id
    /// is dropped by JetStream's de-duplication.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().msg_id("reading-2026-11-25T10:00");
    /// ```
    pub fn msg_id(mut self, id: impl Into<String>) -> SendOptions {
        self.envelope.msg_id = Some(id.into());
        self
    }

    /// Sets `msg_purpose` (default `chat`; `response` for replies).
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().msg_purpose("telemetry");
    /// ```
    pub fn msg_purpose(mut self, purpose: impl Into<String>) -> SendOptions {
        self.envelope.msg_purpose = Some(purpose.into());
        self
    }

    /// Sets `sender_name` (default `NATSBridge`).
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().sender_name("sensor-7");
    /// ```
    pub fn sender_name(mut self, name: impl Into<String>) -> SendOptions {
        self.envelope.sender_name = name.into();
        self
    }

    /// Sets `sender_id` (default: a UUID drawn once per process).
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().sender_id("7c1d1f9e-0000-4000-8000-000000000001");
    /// ```
    pub fn sender_id(mut self, id: impl Into<String>) -> SendOptions {
        self.envelope.sender_id = Some(id.into());
        self
    }

    /// Sets `receiver_name` (empty = broadcast).
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().receiver_name("dashboard");
    /// ```
    pub fn receiver_name(mut self, name: impl Into<String>) -> SendOptions {
        self.envelope.receiver_name = name.into();
        self
    }

    /// Sets `receiver_id` (empty = broadcast).
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().receiver_id("b1946ac9-2cc3-4c3a-8f3a-5f9d1b6e0a11");
    /// ```
    pub fn receiver_id(mut self, id: impl Into<String>) -> SendOptions {
        self.envelope.receiver_id = id.into();
        self
    }

    /// Sets `reply_to`, the subject the receiver should answer on.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().reply_to("/device/response");
    /// ```
    pub fn reply_to(mut self, subject: impl Into<String>) -> SendOptions {
        self.envelope.reply_to = subject.into();
        self
    }

    /// Sets `reply_to_msg_id`, the `msg_id` this message answers.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().reply_to_msg_id("9a1e0c7e-1111-4222-8333-444455556666");
    /// ```
    pub fn reply_to_msg_id(mut self, msg_id: impl Into<String>) -> SendOptions {
        self.envelope.reply_to_msg_id = msg_id.into();
        self
    }

    /// Sets the envelope's `metadata` object.
    ///
    /// ```
    /// let mut meta = serde_json::Map::new();
    /// meta.insert("site".into(), "plant-2".into());
    /// let options = natsbridge::SendOptions::new().metadata(meta);
    /// ```
    pub fn metadata(mut self, metadata: Map<String, Value>) -> SendOptions {
        self.envelope.metadata = metadata;
        self
    }

    /// Publishes through JetStream and waits for the stream's acknowledgement;
    /// fails when no stream captures the subject.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().jetstream(true);
    /// ```
    pub fn jetstream(mut self, enabled: bool) -> SendOptions {
        self.jetstream = enabled;
        self
    }

    /// Also writes `sha256` for direct payloads (link payloads always have
    /// it). Off by default: wire v1 makes it optional for direct payloads,
    /// whose bytes NATS carries over TCP (and TLS) inside the envelope, and
    /// hashing costs as much as the rest of a small send.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().direct_sha256(true);
    /// ```
    pub fn direct_sha256(mut self, enabled: bool) -> SendOptions {
        self.envelope.direct_sha256 = enabled;
        self
    }

    /// Uploads link payloads to this HTTP file server (PUT
    /// `<url>/<payload id>/<dataname>`) instead of the JetStream Object Store.
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new().fileserver_url("http://127.0.0.1:8080");
    /// ```
    pub fn fileserver_url(mut self, url: impl Into<String>) -> SendOptions {
        self.fileserver_url = Some(url.into());
        self
    }

    /// Sends `Authorization: Bearer <token>` with uploads to the file server
    /// (for a `natsbridge fileserver --token`).
    ///
    /// ```
    /// let options = natsbridge::SendOptions::new()
    ///     .fileserver_url("http://127.0.0.1:8080")
    ///     .fileserver_token("s3cret");
    /// ```
    pub fn fileserver_token(mut self, token: impl Into<String>) -> SendOptions {
        self.fileserver_token = Some(token.into());
        self
    }

    /// Uses this claim-check store for link payloads (a custom upload
    /// handler, plik, ...), overriding `fileserver_url` and the default store.
    pub fn store(mut self, store: Arc<dyn ClaimCheckStore>) -> SendOptions {
        self.store = Some(store);
        self
    }

    /// The envelope's header fields (what the codec sees of these options).
    pub fn envelope_options(&self) -> &EnvelopeOptions {
        &self.envelope
    }

    /// The link threshold in bytes.
    pub fn get_size_threshold(&self) -> usize {
        self.envelope.size_threshold
    }

    /// Whether sends wait for a JetStream acknowledgement.
    pub fn get_jetstream(&self) -> bool {
        self.jetstream
    }

    /// The configured file server URL, if any.
    pub fn get_fileserver_url(&self) -> Option<&str> {
        self.fileserver_url.as_deref()
    }
}

/// Options of one receive: how link payloads are fetched and checked.
///
/// ```
/// use std::time::Duration;
/// let options = natsbridge::ReceiveOptions::new()
///     .max_retries(3)
///     .base_delay(Duration::from_millis(50))
///     .allowed_origin("http://127.0.0.1:8080");
/// ```
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    pub(crate) max_retries: u32,
    pub(crate) base_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_download_size: u64,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) allow_private_addresses: bool,
    pub(crate) save_dir: Option<std::path::PathBuf>,
    pub(crate) bearer_tokens: Vec<(String, String)>,
    pub(crate) fetcher: Option<Arc<dyn LinkFetcher>>,
    pub(crate) limits: ReceiveLimits,
}

/// The default cap on one downloaded payload: 1 GiB.
pub const DEFAULT_MAX_DOWNLOAD_SIZE: u64 = 1 << 30;

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(5000),
            request_timeout: Duration::from_secs(30),
            max_download_size: DEFAULT_MAX_DOWNLOAD_SIZE,
            allowed_origins: Vec::new(),
            allow_private_addresses: true,
            save_dir: None,
            bearer_tokens: Vec::new(),
            fetcher: None,
            limits: ReceiveLimits::default(),
        }
    }
}

impl ReceiveOptions {
    /// The defaults of the original design: 5 retries, 100 ms base delay,
    /// 5000 ms maximum delay; plus a 1 GiB download cap.
    pub fn new() -> ReceiveOptions {
        ReceiveOptions::default()
    }

    /// How many times a failed download is retried (connection errors,
    /// timeouts, 5xx and 429 only).
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().max_retries(2);
    /// ```
    pub fn max_retries(mut self, retries: u32) -> ReceiveOptions {
        self.max_retries = retries;
        self
    }

    /// The first retry delay; each next one doubles, with jitter.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().base_delay(std::time::Duration::from_millis(20));
    /// ```
    pub fn base_delay(mut self, delay: Duration) -> ReceiveOptions {
        self.base_delay = delay;
        self
    }

    /// The longest delay between two tries.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().max_delay(std::time::Duration::from_secs(2));
    /// ```
    pub fn max_delay(mut self, delay: Duration) -> ReceiveOptions {
        self.max_delay = delay;
        self
    }

    /// The time one download attempt may take before it counts as failed
    /// (HTTP: the whole request; the Object Store: the wait for each chunk).
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().request_timeout(std::time::Duration::from_secs(5));
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> ReceiveOptions {
        self.request_timeout = timeout;
        self
    }

    /// The largest link payload that will be downloaded, in bytes.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().max_download_size(100 << 20);
    /// ```
    pub fn max_download_size(mut self, bytes: u64) -> ReceiveOptions {
        self.max_download_size = bytes;
        self
    }

    /// Adds an origin (`scheme://host[:port]`) to the allow-list. Once the
    /// list is non-empty, only links to listed origins are fetched.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().allowed_origin("https://files.example.com");
    /// ```
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> ReceiveOptions {
        self.allowed_origins.push(origin.into());
        self
    }

    /// Whether links may point at private and loopback addresses (default
    /// true, so a file server on the LAN works). Link-local and cloud-metadata
    /// addresses are refused either way.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().allow_private_addresses(false);
    /// ```
    pub fn allow_private_addresses(mut self, allow: bool) -> ReceiveOptions {
        self.allow_private_addresses = allow;
        self
    }

    /// Writes link payloads into this directory (streamed, constant memory)
    /// and delivers them as file paths instead of bytes.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().save_dir("/tmp/incoming");
    /// ```
    pub fn save_dir(mut self, dir: impl Into<std::path::PathBuf>) -> ReceiveOptions {
        self.save_dir = Some(dir.into());
        self
    }

    /// Sends `Authorization: Bearer <token>` when fetching links whose origin
    /// is exactly `origin` (a private file server). Links to any other host,
    /// and redirects away from `origin`, never see the token.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().store_token("https://files.example.com", "s3cret");
    /// ```
    pub fn store_token(
        mut self,
        origin: impl Into<String>,
        token: impl Into<String>,
    ) -> ReceiveOptions {
        self.bearer_tokens.push((origin.into(), token.into()));
        self
    }

    /// The token configured for `url`'s origin, if any.
    pub(crate) fn bearer_token_for(&self, url: &url::Url) -> Option<&str> {
        let origin = url.origin().ascii_serialization();
        self.bearer_tokens.iter().find_map(|(allowed, token)| {
            let allowed = url::Url::parse(allowed)
                .ok()?
                .origin()
                .ascii_serialization();
            (allowed == origin).then_some(token.as_str())
        })
    }

    /// Fetches link payloads with this handler instead of the built-in one.
    pub fn fetcher(mut self, fetcher: Arc<dyn LinkFetcher>) -> ReceiveOptions {
        self.fetcher = Some(fetcher);
        self
    }
}

// ---------------------------------------------------------------------------
// Receive limits (issue 16: what one untrusted envelope may make a receiver
// do). One block, so the option schema can take it over as it is.
// ---------------------------------------------------------------------------

/// The default cap on link payloads in one envelope.
pub const DEFAULT_MAX_LINK_PAYLOADS: usize = 256;

/// The default number of link payloads of one envelope downloaded at once.
pub const DEFAULT_MAX_CONCURRENT_DOWNLOADS: usize = 4;

/// How many times `max_download_size` the link payloads of one envelope may
/// declare together, unless `max_envelope_download_size` is set.
pub const ENVELOPE_DOWNLOAD_FACTOR: u64 = 4;
pub use crate::table::DEFAULT_MAX_TABLE_ROWS;

/// The receive limits; defaults in [`ReceiveLimits::default`].
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) struct ReceiveLimits {
    pub(crate) max_link_payloads: usize,
    pub(crate) max_envelope_download_size: Option<u64>,
    pub(crate) max_concurrent_downloads: usize,
    pub(crate) max_table_rows: u64,
    pub(crate) handler_timeout: Option<Duration>,
    pub(crate) proxy: Option<String>,
}

impl Default for ReceiveLimits {
    fn default() -> Self {
        ReceiveLimits {
            max_link_payloads: DEFAULT_MAX_LINK_PAYLOADS,
            max_envelope_download_size: None,
            max_concurrent_downloads: DEFAULT_MAX_CONCURRENT_DOWNLOADS,
            max_table_rows: DEFAULT_MAX_TABLE_ROWS,
            handler_timeout: None,
            proxy: None,
        }
    }
}

impl ReceiveOptions {
    /// The most link payloads one envelope may carry (default 256); an
    /// envelope with more is refused before anything is fetched.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().max_link_payloads(16);
    /// ```
    pub fn max_link_payloads(mut self, count: usize) -> ReceiveOptions {
        self.limits.max_link_payloads = count;
        self
    }

    /// The most bytes the link payloads of one envelope may declare together
    /// (default: 4 × `max_download_size`); an envelope declaring more is
    /// refused before anything is fetched.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().max_envelope_download_size(2 << 30);
    /// ```
    pub fn max_envelope_download_size(mut self, bytes: u64) -> ReceiveOptions {
        self.limits.max_envelope_download_size = Some(bytes);
        self
    }

    /// How many link payloads of one envelope are downloaded at once
    /// (default 4; 0 counts as 1).
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().max_concurrent_downloads(2);
    /// ```
    pub fn max_concurrent_downloads(mut self, count: usize) -> ReceiveOptions {
        self.limits.max_concurrent_downloads = count;
        self
    }

    /// The most rows a received table may have (default 16,777,216). Tables
    /// whose rows times columns are implausible for their size in bytes
    /// (more than eight cells per byte and more than this cap) are refused too.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().max_table_rows(1_000_000);
    /// ```
    pub fn max_table_rows(mut self, rows: u64) -> ReceiveOptions {
        self.limits.max_table_rows = rows;
        self
    }

    /// The longest a custom download handler ([`ReceiveOptions::fetcher`])
    /// may take for one payload (default: `request_timeout × (max_retries +
    /// 1) + max_delay × max_retries`, the bound of a built-in download).
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().handler_timeout(std::time::Duration::from_secs(60));
    /// ```
    pub fn handler_timeout(mut self, timeout: Duration) -> ReceiveOptions {
        self.limits.handler_timeout = Some(timeout);
        self
    }

    /// Sends HTTP(S) downloads through this proxy (`http://host:port`).
    /// Proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
    /// `ALL_PROXY`) are never used; with this one, each link's host is still
    /// resolved and checked here before the request goes to the proxy.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().proxy("http://proxy.internal:3128");
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> ReceiveOptions {
        self.limits.proxy = Some(url.into());
        self
    }

    /// The largest link payload that will be downloaded, in bytes; a custom
    /// [`LinkFetcher`](crate::store::LinkFetcher) should not fetch more.
    pub fn get_max_download_size(&self) -> u64 {
        self.max_download_size
    }

    /// The most bytes the link payloads of one envelope may declare together.
    pub fn get_max_envelope_download_size(&self) -> u64 {
        self.limits.max_envelope_download_size.unwrap_or_else(|| {
            self.max_download_size
                .saturating_mul(ENVELOPE_DOWNLOAD_FACTOR)
        })
    }

    /// The most rows a received table may have.
    pub fn get_max_table_rows(&self) -> u64 {
        self.limits.max_table_rows
    }

    /// The longest one call of a custom download handler may take.
    pub fn get_handler_timeout(&self) -> Duration {
        self.limits.handler_timeout.unwrap_or_else(|| {
            self.request_timeout
                .saturating_mul(self.max_retries.saturating_add(1))
                .saturating_add(self.max_delay.saturating_mul(self.max_retries))
        })
    }
}
