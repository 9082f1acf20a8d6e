//! The option schema: every option of a connection, a send, a receive and a
//! subscription, written once.
//!
//! Each row gives the canonical snake_case name (Python, Julia, C setters,
//! CLI flags in kebab-case), the camelCase name (JavaScript), the scope, the
//! kind of value, the unit, the default and a one-line doc. The core's own
//! defaults are the constants below (the option types' `Default`s use them),
//! the client layer applies an option by name (`SendOptions::set`,
//! `ReceiveOptions::set`, `ConnectOptions::set`), and every front end either
//! passes its keywords through those by-name setters or is checked against
//! this table by a parity test that fails when it lacks an option, names it
//! differently or documents another default or unit. The table is published
//! as `docs/options.json` and `docs/options.md` (generated from here, checked
//! for drift by `core/tests/schema.rs`).
//!
//! **Units.** Every duration is a whole number of **milliseconds** in every
//! front end (the original design's `base_delay` / `max_delay` are
//! milliseconds; the others follow them). Every size is a number of bytes.
//!
//! This module is part of the sans-I/O layer: it reads no environment, no
//! file and no socket ([`resolve_nats_url`] takes the environment's value as
//! an argument).

/// The NATS server used when a caller gives none and `$NATS_URL` is unset.
pub const DEFAULT_NATS_URL: &str = "nats://localhost:4222";
/// The environment variable read for the NATS server (as the `nats` CLI does).
pub const NATS_URL_ENV: &str = "NATS_URL";
/// `msg_purpose` when none is given.
pub const DEFAULT_MSG_PURPOSE: &str = "chat";
/// `sender_name` when none is given.
pub const DEFAULT_SENDER_NAME: &str = "NATSBridge";
pub use crate::codec::DEFAULT_SIZE_THRESHOLD;
/// Retries of a failed download.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// The first retry delay of a download, in milliseconds.
pub const DEFAULT_BASE_DELAY_MS: u64 = 100;
/// The longest retry delay of a download, in milliseconds.
pub const DEFAULT_MAX_DELAY_MS: u64 = 5_000;
/// The time one download attempt may take, in milliseconds.
pub const DEFAULT_DOWNLOAD_TIMEOUT_MS: u64 = 30_000;
/// The time an HTTP(S) download may take to connect, in milliseconds.
pub const DEFAULT_DOWNLOAD_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// The most time the link payloads of one envelope may take together, in
/// milliseconds: two full download attempts. It bounds what one hostile link
/// (a server that accepts and never answers) costs a receiver, which the
/// retries alone would let grow to `download_timeout x (max_retries + 1)`
/// plus the delays (over three minutes by default).
pub const DEFAULT_ENVELOPE_TIMEOUT_MS: u64 = 60_000;
/// The largest link payload a receiver downloads: 1 GiB.
pub const DEFAULT_MAX_DOWNLOAD_SIZE: u64 = 1 << 30;
/// The most link payloads one received envelope may carry.
pub const DEFAULT_MAX_LINK_PAYLOADS: usize = 256;
/// How many link payloads of one envelope are downloaded at once.
pub const DEFAULT_MAX_CONCURRENT_DOWNLOADS: usize = 4;
/// How many times `max_download_size` the link payloads of one envelope may
/// declare together, unless `max_envelope_download_size` is set.
pub const ENVELOPE_DOWNLOAD_FACTOR: u64 = 4;
pub use crate::table::DEFAULT_MAX_TABLE_ROWS;
/// How long connecting may take, in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How long a request waits for its reply (and a JetStream publish for its
/// acknowledgement), in milliseconds.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// The JetStream Object Store bucket link payloads go to.
pub const DEFAULT_OBJECT_STORE_BUCKET: &str = "natsbridge";
/// How long objects are kept in that bucket, in milliseconds (24 hours).
pub const DEFAULT_OBJECT_STORE_TTL_MS: u64 = 24 * 3600 * 1000;
/// How many envelopes one subscription decodes at once.
pub const DEFAULT_CONCURRENT_RECEIVES: usize = 1;
/// How many servers keep a copy of a stream or bucket natsbridge creates.
pub const DEFAULT_JETSTREAM_REPLICAS: u64 = 1;
/// Where a new JetStream consumer starts.
pub const DEFAULT_DELIVER: &str = "all";
/// How long a JetStream consumer waits for an acknowledgement, in milliseconds.
pub const DEFAULT_ACK_WAIT_MS: u64 = 30_000;
/// How many times a JetStream consumer natsbridge creates delivers one message at most.
pub const DEFAULT_MAX_DELIVER: u64 = 10;

/// Which call an option belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A connection (`Bridge(...)`, `Bridge.connect`, the pooled connection
    /// of the function-style API).
    Connect,
    /// One send (`smartsend`, `request`, `reply`).
    Send,
    /// One receive (`smartreceive`, a subscription, the reply of `request`).
    Receive,
    /// A subscription itself (`subscribe`).
    Subscribe,
    /// A JetStream consumer (`durable_subscribe`).
    Consume,
}

impl Scope {
    /// Every scope, in table order.
    pub const ALL: [Scope; 5] = [
        Scope::Connect,
        Scope::Send,
        Scope::Receive,
        Scope::Subscribe,
        Scope::Consume,
    ];

    /// `connect`, `send`, `receive`, `subscribe` or `consume`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Connect => "connect",
            Scope::Send => "send",
            Scope::Receive => "receive",
            Scope::Subscribe => "subscribe",
            Scope::Consume => "consume",
        }
    }
}

/// The kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// true or false.
    Bool,
    /// A whole number without a unit (a count).
    Count,
    /// A whole number of bytes.
    Bytes,
    /// A whole number of milliseconds.
    Millis,
    /// A string.
    Text,
    /// A string that is a secret: never printed, logged or written into an envelope.
    Secret,
    /// A URL.
    Url,
    /// A file-system path.
    Path,
    /// Several strings (a front end may also take one).
    TextList,
    /// A map from an origin (`scheme://host[:port]`) to a secret token.
    TokenMap,
    /// A JSON object.
    Object,
    /// A function of the caller's language (upload and download handlers).
    Callback,
}

impl Kind {
    /// The kind's name in `docs/options.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Count => "count",
            Kind::Bytes => "bytes",
            Kind::Millis => "milliseconds",
            Kind::Text => "string",
            Kind::Secret => "secret",
            Kind::Url => "url",
            Kind::Path => "path",
            Kind::TextList => "strings",
            Kind::TokenMap => "token_map",
            Kind::Object => "object",
            Kind::Callback => "callback",
        }
    }

    /// The unit of a number of this kind (`bytes`, `ms`), if it has one.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            Kind::Bytes => Some("bytes"),
            Kind::Millis => Some("ms"),
            _ => None,
        }
    }
}

/// An option's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// Not set: the behaviour of an unset option is the row's doc.
    Unset,
    /// Computed from other options or per message; `default_doc` says how.
    Derived(&'static str),
    /// This boolean.
    Bool(bool),
    /// This number (in the kind's unit).
    Number(u64),
    /// This string.
    Text(&'static str),
}

/// One option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSpec {
    /// The canonical snake_case name.
    pub name: &'static str,
    /// The camelCase name (JavaScript).
    pub camel: &'static str,
    /// The call it belongs to.
    pub scope: Scope,
    /// The kind of value.
    pub kind: Kind,
    /// The default.
    pub default: DefaultValue,
    /// One line for every front end's documentation.
    pub doc: &'static str,
}

macro_rules! options {
    ($( $scope:ident $name:literal / $camel:literal : $kind:ident = $default:expr ; $doc:literal )*) => {
        /// Every option, grouped by scope.
        pub const OPTIONS: &[OptionSpec] = &[
            $( OptionSpec {
                name: $name,
                camel: $camel,
                scope: Scope::$scope,
                kind: Kind::$kind,
                default: $default,
                doc: $doc,
            }, )*
        ];
    };
}

use DefaultValue::{Bool, Derived, Number, Text, Unset};

options! {
    // ---- a connection ------------------------------------------------------
    Connect "nats_url" / "natsUrl": Url = Derived("$NATS_URL, else nats://localhost:4222");
        "The NATS server: one URL or several separated by commas (a cluster). Credentials in a URL are used, never written into envelopes."
    Connect "name" / "name": Text = Unset;
        "The connection name the server shows in its monitoring."
    Connect "token" / "token": Secret = Unset;
        "Authenticate with this token."
    Connect "user" / "user": Text = Unset;
        "Authenticate as this user; needs password."
    Connect "password" / "password": Secret = Unset;
        "The password of user; needs user."
    Connect "credentials_file" / "credentialsFile": Path = Unset;
        "Authenticate with this .creds file (JWT and nkey seed)."
    Connect "nkey" / "nkey": Secret = Unset;
        "Authenticate with this nkey seed (SU...)."
    Connect "tls_ca_file" / "tlsCaFile": Path = Unset;
        "Trust the server certificates signed by this CA file (PEM): NATS, and https file servers for uploads and link downloads."
    Connect "tls_client_cert" / "tlsClientCert": Path = Unset;
        "Present this client certificate (PEM) for mutual TLS; needs tls_client_key."
    Connect "tls_client_key" / "tlsClientKey": Path = Unset;
        "The private key (PEM) of tls_client_cert; needs tls_client_cert."
    Connect "require_tls" / "requireTls": Bool = Bool(false);
        "Refuse to talk to the server without TLS."
    Connect "connect_timeout" / "connectTimeout": Millis = Number(DEFAULT_CONNECT_TIMEOUT_MS);
        "How long connecting may take."
    Connect "request_timeout" / "requestTimeout": Millis = Number(DEFAULT_REQUEST_TIMEOUT_MS);
        "How long a request waits for its reply, and a JetStream publish for its acknowledgement."
    Connect "subscription_capacity" / "subscriptionCapacity": Count = Derived("async-nats' default (65,536 messages)");
        "How many messages a subscription buffers before the server treats it as a slow consumer."
    Connect "fileserver_url" / "fileserverUrl": Url = Unset;
        "The HTTP file server every send of this connection uploads link payloads to (a send's own fileserver_url wins); unset: the JetStream Object Store."
    Connect "fileserver_token" / "fileserverToken": Secret = Unset;
        "The bearer token for uploads to fileserver_url."
    Connect "object_store_bucket" / "objectStoreBucket": Text = Text(DEFAULT_OBJECT_STORE_BUCKET);
        "The JetStream Object Store bucket link payloads go to when no file server is set."
    Connect "object_store_ttl" / "objectStoreTtl": Millis = Number(DEFAULT_OBJECT_STORE_TTL_MS);
        "How long objects are kept in that bucket (used when the bucket is created)."
    Connect "jetstream_replicas" / "jetstreamReplicas": Count = Number(DEFAULT_JETSTREAM_REPLICAS);
        "How many servers keep a copy of a stream (ensure_stream) or the Object Store bucket when this connection creates them; a single server takes 1, a cluster up to 5."
    Connect "reply_subject_prefixes" / "replySubjectPrefixes": TextList = Unset;
        "When set, replies go only to subjects starting with one of these prefixes (e.g. _INBOX.); $-prefixed system subjects are refused either way."

    // ---- one send ----------------------------------------------------------
    Send "size_threshold" / "sizeThreshold": Bytes = Number(DEFAULT_SIZE_THRESHOLD as u64);
        "Payloads of at least this many serialized bytes travel by link (claim-check)."
    Send "correlation_id" / "correlationId": Text = Derived("a new UUID per message");
        "The id that ties a conversation together across messages."
    Send "msg_id" / "msgId": Text = Derived("a new UUID per message");
        "The message id; JetStream drops a resend with the same id."
    Send "msg_purpose" / "msgPurpose": Text = Text(DEFAULT_MSG_PURPOSE);
        "What the message is for (chat, command, telemetry; replies are response)."
    Send "sender_name" / "senderName": Text = Text(DEFAULT_SENDER_NAME);
        "Who sends."
    Send "sender_id" / "senderId": Text = Derived("a UUID drawn once per process");
        "The sender's id."
    Send "receiver_name" / "receiverName": Text = Text("");
        "Who should receive (empty: broadcast)."
    Send "receiver_id" / "receiverId": Text = Text("");
        "The receiver's id (empty: broadcast)."
    Send "reply_to" / "replyTo": Text = Text("");
        "The subject the receiver should answer on (empty: none)."
    Send "reply_to_msg_id" / "replyToMsgId": Text = Text("");
        "In a reply: the msg_id being answered."
    Send "metadata" / "metadata": Object = Unset;
        "The envelope's free-form metadata object."
    Send "jetstream" / "jetstream": Bool = Bool(false);
        "Publish through JetStream and wait for the stream's acknowledgement."
    Send "direct_sha256" / "directSha256": Bool = Bool(false);
        "Also write sha256 for direct payloads (link payloads always carry it)."
    Send "fileserver_url" / "fileserverUrl": Url = Derived("the connection's fileserver_url, else the JetStream Object Store");
        "The HTTP file server link payloads are uploaded to (PUT <url>/<payload id>/<dataname>)."
    Send "fileserver_token" / "fileserverToken": Secret = Derived("the connection's fileserver_token");
        "The bearer token for uploads to fileserver_url."
    Send "fileserver_upload_handler" / "fileserverUploadHandler": Callback = Unset;
        "Uploads a link payload and returns its URL, replacing the built-in stores: (fileserver_url, dataname, bytes) -> url."

    // ---- one receive -------------------------------------------------------
    Receive "max_retries" / "maxRetries": Count = Number(DEFAULT_MAX_RETRIES as u64);
        "Retries of a failed download (connection errors, time-outs, 5xx and 429 only)."
    Receive "base_delay" / "baseDelay": Millis = Number(DEFAULT_BASE_DELAY_MS);
        "The first retry delay; each next one doubles, with jitter."
    Receive "max_delay" / "maxDelay": Millis = Number(DEFAULT_MAX_DELAY_MS);
        "The longest delay between two tries."
    Receive "download_timeout" / "downloadTimeout": Millis = Number(DEFAULT_DOWNLOAD_TIMEOUT_MS);
        "The time one download attempt may take (HTTP: the whole request; Object Store: the wait for each chunk)."
    Receive "download_connect_timeout" / "downloadConnectTimeout": Millis = Number(DEFAULT_DOWNLOAD_CONNECT_TIMEOUT_MS);
        "The time an HTTP(S) download may take to connect to a link's server (TCP and TLS), within download_timeout."
    Receive "envelope_timeout" / "envelopeTimeout": Millis = Number(DEFAULT_ENVELOPE_TIMEOUT_MS);
        "The most time the link payloads of one envelope may take together, retries included; past it the envelope fails with TIMEOUT naming the payload."
    Receive "max_download_size" / "maxDownloadSize": Bytes = Number(DEFAULT_MAX_DOWNLOAD_SIZE);
        "The largest link payload that is downloaded."
    Receive "max_envelope_download_size" / "maxEnvelopeDownloadSize": Bytes = Derived("4 x max_download_size");
        "The most bytes the link payloads of one envelope may declare together."
    Receive "max_link_payloads" / "maxLinkPayloads": Count = Number(DEFAULT_MAX_LINK_PAYLOADS as u64);
        "The most link payloads one envelope may carry."
    Receive "max_concurrent_downloads" / "maxConcurrentDownloads": Count = Number(DEFAULT_MAX_CONCURRENT_DOWNLOADS as u64);
        "How many link payloads of one envelope are downloaded at once."
    Receive "max_table_rows" / "maxTableRows": Count = Number(DEFAULT_MAX_TABLE_ROWS);
        "The most rows a received table may have."
    Receive "allowed_origins" / "allowedOrigins": TextList = Unset;
        "When set, only links to these origins (scheme://host[:port]) are fetched."
    Receive "allow_private_addresses" / "allowPrivateAddresses": Bool = Bool(true);
        "Whether links may point at private and loopback addresses (link-local and metadata addresses are refused either way)."
    Receive "store_tokens" / "storeTokens": TokenMap = Unset;
        "Bearer tokens sent only when fetching links of exactly these origins."
    Receive "save_dir" / "saveDir": Path = Unset;
        "Write link payloads into this directory (streamed) and deliver them as file paths."
    Receive "proxy" / "proxy": Url = Unset;
        "Send HTTP(S) downloads through this proxy; proxies from the environment are never used."
    Receive "handler_timeout" / "handlerTimeout": Millis = Derived("download_timeout x (max_retries + 1) + max_delay x max_retries");
        "The longest one call of fileserver_download_handler may take (envelope_timeout still bounds the whole envelope)."
    Receive "fileserver_download_handler" / "fileserverDownloadHandler": Callback = Unset;
        "Fetches a link payload instead of the built-in fetch: (url, max_retries, base_delay, max_delay) -> bytes."

    // ---- a subscription ----------------------------------------------------
    Subscribe "queue" / "queue": Text = Unset;
        "Join this queue group: each message goes to one member."
    Subscribe "concurrent_receives" / "concurrentReceives": Count = Number(DEFAULT_CONCURRENT_RECEIVES as u64);
        "How many envelopes are decoded (and their links fetched) at once; they are still delivered in arrival order."

    // ---- a JetStream consumer (durable_subscribe) --------------------------
    Consume "stream" / "stream": Text = Unset;
        "The JetStream stream to consume (required)."
    Consume "durable" / "durable": Text = Unset;
        "The durable consumer's name: the server keeps its position, so a restart with the same name gets what was not acknowledged; unset: an ephemeral consumer."
    Consume "deliver" / "deliver": Text = Text(DEFAULT_DELIVER);
        "Where a new consumer starts: all, new, last, last_ack (resume an existing durable consumer after its last acknowledged message), a stream sequence number, or an RFC 3339 time."
    Consume "filter_subject" / "filterSubject": Text = Unset;
        "Only deliver messages whose subject matches this one (wildcards allowed); unset: every subject of the stream."
    Consume "ack_wait" / "ackWait": Millis = Number(DEFAULT_ACK_WAIT_MS);
        "How long the server waits for an acknowledgement before delivering a message again."
    Consume "max_deliver" / "maxDeliver": Count = Number(DEFAULT_MAX_DELIVER);
        "How many times one message is delivered at most (0: no limit)."
}

/// The option `name` (snake_case or camelCase) of `scope`.
///
/// ```
/// use natsbridge::schema::{self, Kind, Scope};
/// let spec = schema::find(Scope::Receive, "baseDelay").unwrap();
/// assert_eq!((spec.name, spec.kind), ("base_delay", Kind::Millis));
/// assert!(schema::find(Scope::Send, "base_delay").is_none());
/// ```
pub fn find(scope: Scope, name: &str) -> Option<&'static OptionSpec> {
    OPTIONS
        .iter()
        .find(|o| o.scope == scope && (o.name == name || o.camel == name))
}

/// The options of `scope`, in table order.
pub fn of(scope: Scope) -> impl Iterator<Item = &'static OptionSpec> {
    OPTIONS.iter().filter(move |o| o.scope == scope)
}

/// The NATS server to use: `given` when it is non-empty, else the value of
/// `$NATS_URL` (passed in as `env`) when non-empty, else
/// [`DEFAULT_NATS_URL`]. Every front end resolves a missing URL this way
/// (the client layer's `ConnectOptions::resolve_nats_url` reads the
/// environment and calls this).
///
/// ```
/// use natsbridge::schema::resolve_nats_url;
/// assert_eq!(resolve_nats_url(Some("nats://a:1"), Some("nats://b:2")), "nats://a:1");
/// assert_eq!(resolve_nats_url(None, Some("nats://b:2")), "nats://b:2");
/// assert_eq!(resolve_nats_url(Some(""), None), "nats://localhost:4222");
/// ```
pub fn resolve_nats_url(given: Option<&str>, env: Option<&str>) -> String {
    [given, env]
        .into_iter()
        .flatten()
        .find(|url| !url.trim().is_empty())
        .unwrap_or(DEFAULT_NATS_URL)
        .to_owned()
}

/// A value for an option set by name ([`OptionSpec::check`] fits it to the
/// option's kind). Front ends convert their language's value to one of
/// these by the option's [`Kind`] and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// A `bool` option's value.
    Bool(bool),
    /// A count, a number of bytes or of milliseconds.
    Number(u64),
    /// A string, secret, URL or path.
    Text(String),
    /// Several strings.
    TextList(Vec<String>),
    /// `(origin, token)` pairs.
    TokenMap(Vec<(String, String)>),
    /// A JSON object.
    Object(serde_json::Map<String, serde_json::Value>),
}

impl OptionValue {
    /// A JSON value as an option value of `kind`: what a front end that holds
    /// JSON (C, the browser) passes. Numbers must be whole and non-negative.
    ///
    /// ```
    /// use natsbridge::schema::{Kind, OptionValue};
    /// let value = OptionValue::from_json(Kind::Millis, &serde_json::json!(250)).unwrap();
    /// assert_eq!(value, OptionValue::Number(250));
    /// assert!(OptionValue::from_json(Kind::Millis, &serde_json::json!(-1)).is_err());
    /// ```
    pub fn from_json(kind: Kind, value: &serde_json::Value) -> crate::Result<OptionValue> {
        use serde_json::Value;
        let wrong = || {
            crate::Error::new(
                crate::ErrorKind::InvalidArgument,
                format!("expected {}, got {value}", kind.expected()),
            )
        };
        Ok(match (kind, value) {
            (Kind::Bool, Value::Bool(b)) => OptionValue::Bool(*b),
            (Kind::Count | Kind::Bytes | Kind::Millis, Value::Number(n)) => {
                OptionValue::Number(n.as_u64().ok_or_else(wrong)?)
            }
            (
                Kind::Text | Kind::Secret | Kind::Url | Kind::Path | Kind::TextList,
                Value::String(s),
            ) => OptionValue::Text(s.clone()),
            (Kind::TextList, Value::Array(items)) => OptionValue::TextList(
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
                    .collect::<crate::Result<_>>()?,
            ),
            (Kind::TokenMap, Value::Object(map)) => OptionValue::TokenMap(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), v.as_str().ok_or_else(wrong)?.to_owned())))
                    .collect::<crate::Result<_>>()?,
            ),
            (Kind::Object, Value::Object(map)) => OptionValue::Object(map.clone()),
            _ => return Err(wrong()),
        })
    }
}

impl Kind {
    /// What a value of this kind must be, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Bool => "true or false",
            Kind::Count => "a whole number >= 0",
            Kind::Bytes => "a whole number of bytes >= 0",
            Kind::Millis => "a whole number of milliseconds >= 0",
            Kind::Text => "a string",
            Kind::Secret => "a string (a secret)",
            Kind::Url => "a URL string",
            Kind::Path => "a path string",
            Kind::TextList => "a string or a list of strings",
            Kind::TokenMap => "a map of origin to token strings",
            Kind::Object => "a JSON object",
            Kind::Callback => "a function",
        }
    }
}

impl OptionSpec {
    /// `value` fitted to this option's kind (one string for a list becomes a
    /// list of one), or `InvalidArgument` naming the option and what it takes.
    /// Callbacks are never set by value: each front end passes its handlers
    /// through its own handler machinery.
    pub fn check(&self, value: OptionValue) -> crate::Result<OptionValue> {
        let ok = match (self.kind, &value) {
            (Kind::Bool, OptionValue::Bool(_)) => true,
            (Kind::Count | Kind::Bytes | Kind::Millis, OptionValue::Number(_)) => true,
            (Kind::Text | Kind::Secret | Kind::Url | Kind::Path, OptionValue::Text(_)) => true,
            (Kind::TextList, OptionValue::TextList(_)) => true,
            (Kind::TextList, OptionValue::Text(one)) => {
                return Ok(OptionValue::TextList(vec![one.clone()]));
            }
            (Kind::TokenMap, OptionValue::TokenMap(_)) => true,
            (Kind::Object, OptionValue::Object(_)) => true,
            _ => false,
        };
        if ok {
            return Ok(value);
        }
        let shown = match (&value, self.kind) {
            (_, Kind::Secret) | (OptionValue::TokenMap(_), _) => "a value".to_owned(),
            (OptionValue::Bool(b), _) => b.to_string(),
            (OptionValue::Number(n), _) => n.to_string(),
            (OptionValue::Text(_), _) => "a string".to_owned(),
            (OptionValue::TextList(_), _) => "a list of strings".to_owned(),
            (OptionValue::Object(_), _) => "an object".to_owned(),
        };
        Err(crate::Error::new(
            crate::ErrorKind::InvalidArgument,
            format!(
                "option {} takes {}, got {shown}",
                self.name,
                self.kind.expected()
            ),
        ))
    }
}

/// The option `name` of `scope`, or `InvalidArgument` listing the known ones.
pub fn lookup(scope: Scope, name: &str) -> crate::Result<&'static OptionSpec> {
    find(scope, name).ok_or_else(|| {
        let known: Vec<&str> = of(scope).map(|o| o.name).collect();
        crate::Error::new(
            crate::ErrorKind::InvalidArgument,
            format!(
                "unknown {} option '{name}'; the {} options are: {}",
                scope.as_str(),
                scope.as_str(),
                known.join(", ")
            ),
        )
    })
}

fn default_json(default: DefaultValue) -> serde_json::Value {
    use serde_json::Value;
    match default {
        Unset => Value::Null,
        Derived(text) => serde_json::json!({ "derived": text }),
        Bool(value) => Value::Bool(value),
        Number(value) => Value::from(value),
        Text(value) => Value::from(value),
    }
}

/// The schema as JSON: what `docs/options.json` holds, and what a front end
/// reads in its parity test.
pub fn to_json() -> String {
    let options: Vec<serde_json::Value> = OPTIONS
        .iter()
        .map(|o| {
            serde_json::json!({
                "name": o.name,
                "camel": o.camel,
                "scope": o.scope.as_str(),
                "kind": o.kind.as_str(),
                "unit": o.kind.unit(),
                "default": default_json(o.default),
                "doc": o.doc,
            })
        })
        .collect();
    let document = serde_json::json!({
        "about": "Every option of natsbridge, generated from core/src/schema.rs (do not edit; \
                  `NB_BLESS=1 cargo test -p natsbridge --test schema` rewrites it). Durations are \
                  milliseconds and sizes bytes in every front end.",
        "duration_unit": "ms",
        "size_unit": "bytes",
        "options": options,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("the schema serializes");
    text.push('\n');
    text
}

/// The schema as a Markdown page: what `docs/options.md` holds.
pub fn to_markdown() -> String {
    let mut page = String::from(
        "# Options\n\n\
         Generated from `core/src/schema.rs` (do not edit: `NB_BLESS=1 cargo test -p natsbridge \
         --test schema` rewrites it; the same table is `options.json` beside this page).\n\n\
         Every front end takes these options: Python and Julia by the snake_case name (Julia's \
         handler keywords keep the original design's camelCase), JavaScript by the camelCase name, \
         C through `nb_<scope>_options_set_<name>` (`add_` for lists), the CLI as \
         `--<kebab-name>` where it applies. **Durations are milliseconds and sizes bytes, \
         everywhere.**\n",
    );
    for scope in Scope::ALL {
        page.push_str(&format!(
            "\n## {}\n\n| name | JavaScript | kind | default | what it does |\n|---|---|---|---|---|\n",
            scope.as_str()
        ));
        for o in of(scope) {
            let default = match o.default {
                Unset => "unset".to_owned(),
                Derived(text) => text.to_owned(),
                Bool(value) => format!("`{value}`"),
                Number(value) => match o.kind.unit() {
                    Some(unit) => format!("`{value}` {unit}"),
                    None => format!("`{value}`"),
                },
                Text(value) => format!("`{value:?}`"),
            };
            page.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} |\n",
                o.name,
                o.camel,
                o.kind.as_str(),
                default,
                o.doc.replace('|', "\\|")
            ));
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_per_scope_and_camel_case_follows_snake_case() {
        let mut seen = HashSet::new();
        for o in OPTIONS {
            assert!(
                seen.insert((o.scope, o.name)),
                "{} twice in {:?}",
                o.name,
                o.scope
            );
            let camel: String = o
                .name
                .split('_')
                .enumerate()
                .map(|(i, part)| {
                    let mut chars = part.chars();
                    match (i, chars.next()) {
                        (0, Some(first)) => first.to_string() + chars.as_str(),
                        (_, Some(first)) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                        (_, None) => String::new(),
                    }
                })
                .collect();
            // `tls_ca_file` -> `tlsCaFile`: plain camel case, no acronyms.
            assert_eq!(o.camel, camel, "camel name of {}", o.name);
            assert!(
                !o.doc.is_empty() && o.doc.ends_with('.'),
                "doc of {}",
                o.name
            );
        }
    }

    #[test]
    fn numbers_have_units_and_only_numbers_do() {
        for o in OPTIONS {
            if let Number(_) = o.default {
                assert!(
                    matches!(o.kind, Kind::Count | Kind::Bytes | Kind::Millis),
                    "{}",
                    o.name
                );
            }
            // No name may carry a unit of its own: the unit is the kind's.
            assert!(
                !o.name.ends_with("_ms") && !o.name.ends_with("_s") && !o.name.ends_with("_secs"),
                "{}",
                o.name
            );
        }
    }
}
