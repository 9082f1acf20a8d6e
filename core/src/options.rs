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
use crate::schema::{self, OptionValue, Scope};
pub use crate::schema::{
    DEFAULT_MAX_CONCURRENT_DOWNLOADS, DEFAULT_MAX_DOWNLOAD_SIZE, DEFAULT_MAX_LINK_PAYLOADS,
    DEFAULT_MAX_TABLE_ROWS, ENVELOPE_DOWNLOAD_FACTOR,
};
use crate::store::{ClaimCheckStore, LinkFetcher, Progress};
use crate::{Error, ErrorKind, Result};

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
    pub(crate) progress: Option<Progress>,
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

    /// Calls `progress` as link payloads upload (bytes so far and the
    /// payload's size); direct payloads have no transfer of their own.
    ///
    /// ```
    /// use natsbridge::store::Progress;
    /// let options = natsbridge::SendOptions::new()
    ///     .progress(Progress::new(|p| eprintln!("{} {}/{}", p.dataname, p.done, p.total)));
    /// ```
    pub fn progress(mut self, progress: Progress) -> SendOptions {
        self.progress = Some(progress);
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
    pub(crate) download_timeout: Duration,
    pub(crate) max_download_size: u64,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) allow_private_addresses: bool,
    pub(crate) save_dir: Option<std::path::PathBuf>,
    pub(crate) bearer_tokens: Vec<(String, String)>,
    pub(crate) fetcher: Option<Arc<dyn LinkFetcher>>,
    pub(crate) limits: ReceiveLimits,
    pub(crate) progress: Option<Progress>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            max_retries: schema::DEFAULT_MAX_RETRIES,
            base_delay: Duration::from_millis(schema::DEFAULT_BASE_DELAY_MS),
            max_delay: Duration::from_millis(schema::DEFAULT_MAX_DELAY_MS),
            download_timeout: Duration::from_millis(schema::DEFAULT_DOWNLOAD_TIMEOUT_MS),
            max_download_size: DEFAULT_MAX_DOWNLOAD_SIZE,
            allowed_origins: Vec::new(),
            allow_private_addresses: true,
            save_dir: None,
            bearer_tokens: Vec::new(),
            fetcher: None,
            limits: ReceiveLimits::default(),
            progress: None,
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
    /// Option `download_timeout` of the schema.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new().download_timeout(std::time::Duration::from_secs(5));
    /// ```
    pub fn download_timeout(mut self, timeout: Duration) -> ReceiveOptions {
        self.download_timeout = timeout;
        self
    }

    /// The old name of [`ReceiveOptions::download_timeout`].
    #[deprecated(note = "renamed download_timeout (option schema)")]
    pub fn request_timeout(self, timeout: Duration) -> ReceiveOptions {
        self.download_timeout(timeout)
    }

    /// The time one download attempt may take.
    pub fn get_download_timeout(&self) -> Duration {
        self.download_timeout
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

    /// Calls `progress` as link payloads download (bytes so far and the
    /// payload's size). Not called for a custom [`ReceiveOptions::fetcher`].
    ///
    /// ```
    /// use natsbridge::store::Progress;
    /// let options = natsbridge::ReceiveOptions::new()
    ///     .progress(Progress::new(|p| eprintln!("{} {}/{}", p.dataname, p.done, p.total)));
    /// ```
    pub fn progress(mut self, progress: Progress) -> ReceiveOptions {
        self.progress = Some(progress);
        self
    }
}

// ---------------------------------------------------------------------------
// Receive limits (issue 16: what one untrusted envelope may make a receiver
// do). One block, so the option schema can take it over as it is.
// ---------------------------------------------------------------------------

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
    pub(crate) download_connect_timeout: Duration,
    pub(crate) envelope_timeout: Duration,
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
            download_connect_timeout: Duration::from_millis(
                schema::DEFAULT_DOWNLOAD_CONNECT_TIMEOUT_MS,
            ),
            envelope_timeout: Duration::from_millis(schema::DEFAULT_ENVELOPE_TIMEOUT_MS),
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
    /// may take for one payload (default: `download_timeout × (max_retries +
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

    /// The time an HTTP(S) download may take to connect to a link's server
    /// (TCP and TLS; default 5 s), apart from [`ReceiveOptions::download_timeout`],
    /// which bounds the whole attempt. A server that never completes the
    /// connection costs this much per attempt, not the whole download timeout.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new()
    ///     .download_connect_timeout(std::time::Duration::from_secs(2));
    /// assert_eq!(options.get_download_connect_timeout().as_millis(), 2000);
    /// ```
    pub fn download_connect_timeout(mut self, timeout: Duration) -> ReceiveOptions {
        self.limits.download_connect_timeout = timeout;
        self
    }

    /// The most time the link payloads of one envelope may take together,
    /// retries, delays and custom download handlers included (default 60 s).
    /// Past it the envelope fails with [`ErrorKind::Timeout`] naming a payload
    /// still being fetched, and its downloads are cancelled. This bounds what
    /// one link that accepts and never answers costs a receiver: without it,
    /// `download_timeout × (max_retries + 1)` plus the delays. A subscription
    /// with `concurrent_receives(n)` decodes the messages behind such a
    /// message meanwhile and delivers them (in order) as soon as it fails.
    ///
    /// ```
    /// let options = natsbridge::ReceiveOptions::new()
    ///     .envelope_timeout(std::time::Duration::from_secs(20));
    /// assert_eq!(options.get_envelope_timeout().as_secs(), 20);
    /// ```
    pub fn envelope_timeout(mut self, timeout: Duration) -> ReceiveOptions {
        self.limits.envelope_timeout = timeout;
        self
    }

    /// The time an HTTP(S) download may take to connect.
    pub fn get_download_connect_timeout(&self) -> Duration {
        self.limits.download_connect_timeout
    }

    /// The most time the link payloads of one envelope may take together.
    pub fn get_envelope_timeout(&self) -> Duration {
        self.limits.envelope_timeout
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
            self.download_timeout
                .saturating_mul(self.max_retries.saturating_add(1))
                .saturating_add(self.max_delay.saturating_mul(self.max_retries))
        })
    }
}

// ---------------------------------------------------------------------------
// Options by name (the option schema, `crate::schema`): what a front end
// calls with its keyword names, so it keeps no list of its own.
// ---------------------------------------------------------------------------

/// A number as a `usize`, or `InvalidArgument` naming the option.
pub(crate) fn to_usize(name: &str, value: u64) -> Result<usize> {
    usize::try_from(value).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("option {name}: {value} is too large"),
        )
    })
}

/// A number as a `u32`, or `InvalidArgument` naming the option.
fn to_u32(name: &str, value: u64) -> Result<u32> {
    u32::try_from(value).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("option {name}: {value} is more than {}", u32::MAX),
        )
    })
}

/// The error for an option of the schema that this type cannot set by value
/// (callbacks), or a schema row without a setter (a bug the schema tests catch).
pub(crate) fn not_by_value(spec: &schema::OptionSpec) -> Error {
    match spec.kind {
        schema::Kind::Callback => Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "option {} is a function: pass it through the front end's handler argument",
                spec.name
            ),
        ),
        _ => Error::new(
            ErrorKind::Internal,
            format!("option {} of the schema has no setter", spec.name),
        ),
    }
}

impl SendOptions {
    /// Sets the send option `name` (snake_case or camelCase, see
    /// [`crate::schema`]) to `value`; `InvalidArgument` for an unknown name
    /// (listing the known ones) or a value of the wrong kind.
    ///
    /// ```
    /// use natsbridge::{SendOptions, schema::OptionValue};
    /// let options = SendOptions::new()
    ///     .set("sizeThreshold", OptionValue::Number(4096))?
    ///     .set("msg_purpose", OptionValue::Text("command".into()))?;
    /// assert_eq!(options.get_size_threshold(), 4096);
    /// assert!(SendOptions::new().set("size_treshold", OptionValue::Number(1)).is_err());
    /// # Ok::<(), natsbridge::Error>(())
    /// ```
    pub fn set(self, name: &str, value: OptionValue) -> Result<SendOptions> {
        use OptionValue::*;
        let spec = schema::lookup(Scope::Send, name)?;
        Ok(match (spec.name, spec.check(value)?) {
            ("size_threshold", Number(n)) => self.size_threshold(to_usize(spec.name, n)?),
            ("correlation_id", Text(s)) => self.correlation_id(s),
            ("msg_id", Text(s)) => self.msg_id(s),
            ("msg_purpose", Text(s)) => self.msg_purpose(s),
            ("sender_name", Text(s)) => self.sender_name(s),
            ("sender_id", Text(s)) => self.sender_id(s),
            ("receiver_name", Text(s)) => self.receiver_name(s),
            ("receiver_id", Text(s)) => self.receiver_id(s),
            ("reply_to", Text(s)) => self.reply_to(s),
            ("reply_to_msg_id", Text(s)) => self.reply_to_msg_id(s),
            ("metadata", Object(map)) => self.metadata(map),
            ("jetstream", Bool(b)) => self.jetstream(b),
            ("direct_sha256", Bool(b)) => self.direct_sha256(b),
            ("fileserver_url", Text(s)) => self.fileserver_url(s),
            ("fileserver_token", Text(s)) => self.fileserver_token(s),
            _ => return Err(not_by_value(spec)),
        })
    }
}

impl ReceiveOptions {
    /// Sets the receive option `name` (snake_case or camelCase, see
    /// [`crate::schema`]) to `value`. Durations are milliseconds.
    ///
    /// ```
    /// use natsbridge::{ReceiveOptions, schema::OptionValue};
    /// let options = ReceiveOptions::new()
    ///     .set("base_delay", OptionValue::Number(20))?
    ///     .set("allowedOrigins", OptionValue::Text("http://127.0.0.1:8080".into()))?;
    /// assert!(ReceiveOptions::new().set("base_delay", OptionValue::Bool(true)).is_err());
    /// # Ok::<(), natsbridge::Error>(())
    /// ```
    pub fn set(self, name: &str, value: OptionValue) -> Result<ReceiveOptions> {
        use OptionValue::*;
        let spec = schema::lookup(Scope::Receive, name)?;
        let ms = Duration::from_millis;
        Ok(match (spec.name, spec.check(value)?) {
            ("max_retries", Number(n)) => self.max_retries(to_u32(spec.name, n)?),
            ("base_delay", Number(n)) => self.base_delay(ms(n)),
            ("max_delay", Number(n)) => self.max_delay(ms(n)),
            ("download_timeout", Number(n)) => self.download_timeout(ms(n)),
            ("max_download_size", Number(n)) => self.max_download_size(n),
            ("max_envelope_download_size", Number(n)) => self.max_envelope_download_size(n),
            ("max_link_payloads", Number(n)) => self.max_link_payloads(to_usize(spec.name, n)?),
            ("max_concurrent_downloads", Number(n)) => {
                self.max_concurrent_downloads(to_usize(spec.name, n)?)
            }
            ("max_table_rows", Number(n)) => self.max_table_rows(n),
            ("allowed_origins", TextList(origins)) => origins
                .into_iter()
                .fold(self, |options, origin| options.allowed_origin(origin)),
            ("allow_private_addresses", Bool(b)) => self.allow_private_addresses(b),
            ("store_tokens", TokenMap(pairs)) => {
                pairs.into_iter().fold(self, |options, (origin, token)| {
                    options.store_token(origin, token)
                })
            }
            ("save_dir", Text(dir)) => self.save_dir(dir),
            ("proxy", Text(url)) => self.proxy(url),
            ("handler_timeout", Number(n)) => self.handler_timeout(ms(n)),
            ("download_connect_timeout", Number(n)) => self.download_connect_timeout(ms(n)),
            ("envelope_timeout", Number(n)) => self.envelope_timeout(ms(n)),
            _ => return Err(not_by_value(spec)),
        })
    }
}
