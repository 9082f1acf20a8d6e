//! [`Bridge`]: one long-lived NATS connection and everything done over it:
//! smartsend, smartreceive, subscribe, request and reply.
//!
//! The bridge is the I/O shell around the sans-I/O [`codec`](crate::codec):
//! it reads file payloads, uploads link payloads to a claim-check store,
//! publishes, and fetches link payloads on receive. It is cheap to clone
//! (an `Arc` inside) and safe to share between tasks and threads.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::try_join_all;

use crate::codec::{self, EnvelopeWriter, PartData};
use crate::envelope::{ReceivedEnvelope, SentEnvelope};
use crate::error::{Error, ErrorKind, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::{Body, Payload, PayloadInfo, serialize_body};
use crate::store::{ClaimCheckStore, HashingReader, UploadBody};
use crate::subscription::Subscription;
use crate::transport::Transport;

/// How to connect a [`Bridge`]: servers, credentials, TLS and defaults for
/// the claim-check stores.
///
/// ```no_run
/// # async fn demo() -> natsbridge::Result<()> {
/// use natsbridge::ConnectOptions;
/// let bridge = ConnectOptions::new("nats://n1:4222,nats://n2:4222")
///     .user_password("alice", "s3cret")
///     .name("telemetry-ingest")
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub(crate) servers: String,
    name: Option<String>,
    token: Option<String>,
    user_password: Option<(String, String)>,
    credentials_file: Option<PathBuf>,
    nkey_seed: Option<String>,
    tls_root_certificates: Vec<PathBuf>,
    tls_client_certificate: Option<(PathBuf, PathBuf)>,
    require_tls: bool,
    connect_timeout: Duration,
    request_timeout: Duration,
    subscription_capacity: Option<usize>,
    pub(crate) fileserver_url: Option<String>,
    pub(crate) fileserver_token: Option<String>,
    pub(crate) object_store_bucket: String,
    pub(crate) object_store_ttl: Duration,
}

impl ConnectOptions {
    /// Options for `servers`: one NATS URL, or several separated by commas
    /// (a cluster; the client fails over between them). Credentials in a URL
    /// (`nats://user:pass@host`, `nats://token@host`) are used and never
    /// written into envelopes.
    pub fn new(servers: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            servers: servers.into(),
            name: None,
            token: None,
            user_password: None,
            credentials_file: None,
            nkey_seed: None,
            tls_root_certificates: Vec::new(),
            tls_client_certificate: None,
            require_tls: false,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            subscription_capacity: None,
            fileserver_url: None,
            fileserver_token: None,
            object_store_bucket: "natsbridge".to_owned(),
            object_store_ttl: Duration::from_secs(24 * 3600),
        }
    }

    /// The connection name the server shows in its monitoring.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").name("ingest");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> ConnectOptions {
        self.name = Some(name.into());
        self
    }

    /// Authenticates with a token.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").token("s3cret");
    /// ```
    pub fn token(mut self, token: impl Into<String>) -> ConnectOptions {
        self.token = Some(token.into());
        self
    }

    /// Authenticates with a user and password.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").user_password("alice", "pw");
    /// ```
    pub fn user_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> ConnectOptions {
        self.user_password = Some((user.into(), password.into()));
        self
    }

    /// Authenticates with a `.creds` file (JWT and nkey seed).
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").credentials_file("/etc/nats/app.creds");
    /// ```
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> ConnectOptions {
        self.credentials_file = Some(path.into());
        self
    }

    /// Authenticates with an nkey seed (`SU...`).
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").nkey("SUAM...");
    /// ```
    pub fn nkey(mut self, seed: impl Into<String>) -> ConnectOptions {
        self.nkey_seed = Some(seed.into());
        self
    }

    /// Trusts the CA certificates in this PEM file for TLS.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("tls://localhost:4222").tls_ca_file("ca.pem");
    /// ```
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> ConnectOptions {
        self.tls_root_certificates.push(path.into());
        self
    }

    /// Presents this client certificate and key (PEM) for mutual TLS.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("tls://localhost:4222")
    ///     .tls_client_cert("client.pem", "client-key.pem");
    /// ```
    pub fn tls_client_cert(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> ConnectOptions {
        self.tls_client_certificate = Some((cert.into(), key.into()));
        self
    }

    /// Refuses to connect without TLS.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").require_tls(true);
    /// ```
    pub fn require_tls(mut self, required: bool) -> ConnectOptions {
        self.require_tls = required;
        self
    }

    /// How long connecting may take before it fails (default 5 s).
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222")
    ///     .connect_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> ConnectOptions {
        self.connect_timeout = timeout;
        self
    }

    /// How long [`Bridge::request`] waits for a reply by default (10 s).
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222")
    ///     .request_timeout(std::time::Duration::from_secs(30));
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> ConnectOptions {
        self.request_timeout = timeout;
        self
    }

    /// How many messages a subscription buffers before the server marks the
    /// client a slow consumer (async-nats' default is 65,536).
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").subscription_capacity(1024);
    /// ```
    pub fn subscription_capacity(mut self, messages: usize) -> ConnectOptions {
        self.subscription_capacity = Some(messages);
        self
    }

    /// The default HTTP file server for link payloads of this bridge's sends
    /// (a send's own `fileserver_url` wins).
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222")
    ///     .fileserver_url("http://127.0.0.1:8080");
    /// ```
    pub fn fileserver_url(mut self, url: impl Into<String>) -> ConnectOptions {
        self.fileserver_url = Some(url.into());
        self
    }

    /// The bearer token for uploads to the default file server.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222")
    ///     .fileserver_url("http://127.0.0.1:8080")
    ///     .fileserver_token("s3cret");
    /// ```
    pub fn fileserver_token(mut self, token: impl Into<String>) -> ConnectOptions {
        self.fileserver_token = Some(token.into());
        self
    }

    /// The JetStream Object Store bucket for link payloads (default `natsbridge`).
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222").object_store_bucket("big-files");
    /// ```
    pub fn object_store_bucket(mut self, bucket: impl Into<String>) -> ConnectOptions {
        self.object_store_bucket = bucket.into();
        self
    }

    /// How long objects stay in the bucket when natsbridge creates it
    /// (default 24 h), so stored payloads do not pile up.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222")
    ///     .object_store_ttl(std::time::Duration::from_secs(3600));
    /// ```
    pub fn object_store_ttl(mut self, ttl: Duration) -> ConnectOptions {
        self.object_store_ttl = ttl;
        self
    }

    /// Connects. Fails within the connect timeout with
    /// [`ErrorKind::Connection`] (unreachable), [`ErrorKind::Auth`]
    /// (credentials refused) or [`ErrorKind::Timeout`].
    pub async fn connect(self) -> Result<Bridge> {
        Bridge::connect_with(self).await
    }

    async fn to_async_nats(&self) -> Result<async_nats::ConnectOptions> {
        // async-nats ignores credentials in server URLs; take them from the
        // first URL that has some, unless they were given explicitly.
        let from_url = self.servers.split(',').find_map(url_credentials);
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(self.request_timeout))
            // Subjects are validated by natsbridge, which allows `/chat/room1`.
            .require_tls(self.require_tls);
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        let explicit = self.token.is_some()
            || self.user_password.is_some()
            || self.nkey_seed.is_some()
            || self.credentials_file.is_some();
        match from_url {
            Some(UrlCredentials::Token(token)) if !explicit => options = options.token(token),
            Some(UrlCredentials::UserPassword(user, password)) if !explicit => {
                options = options.user_and_password(user, password)
            }
            _ => {}
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some((user, password)) = &self.user_password {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(seed) = &self.nkey_seed {
            options = options.nkey(seed.clone());
        }
        if let Some(path) = &self.credentials_file {
            options = options.credentials_file(path).await.map_err(|err| {
                Error::new(
                    ErrorKind::Auth,
                    format!("cannot read the credentials file {}", path.display()),
                )
                .with_source(err)
            })?;
        }
        for ca in &self.tls_root_certificates {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client_certificate {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(capacity) = self.subscription_capacity {
            options = options.subscription_capacity(capacity);
        }
        Ok(options)
    }
}

enum UrlCredentials {
    Token(String),
    UserPassword(String, String),
}

/// The credentials in a server URL's userinfo (`user:pass@` or `token@`), decoded.
fn url_credentials(server: &str) -> Option<UrlCredentials> {
    let server = server.trim();
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some(match userinfo.split_once(':') {
        Some((user, password)) => UrlCredentials::UserPassword(decode(user), decode(password)),
        None => UrlCredentials::Token(decode(userinfo)),
    })
}

pub(crate) struct Inner {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: async_nats::jetstream::Context,
    pub(crate) broker_url: String,
    pub(crate) options: ConnectOptions,
    pub(crate) stores: crate::store::Stores,
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

/// One payload on its way out: its description and where its bytes are.
enum Source {
    Memory(Bytes),
    File(PathBuf),
}

impl Bridge {
    /// Connects to `servers` (one URL or a comma-separated list) with default options.
    pub async fn connect(servers: &str) -> Result<Bridge> {
        ConnectOptions::new(servers).connect().await
    }

    /// Connects with `options`.
    pub async fn connect_with(options: ConnectOptions) -> Result<Bridge> {
        let servers: Vec<String> = options
            .servers
            .split(',')
            .map(|s| codec::strip_credentials(s.trim()))
            .filter(|s| !s.is_empty())
            .collect();
        if servers.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "no NATS server URL given",
            ));
        }
        let broker_url = codec::strip_credentials(&options.servers);
        let nats_options = options.to_async_nats().await?;
        let timeout = options.connect_timeout;
        // Connect on the shared runtime: the connection's task lives there,
        // not on a caller's runtime that may end first.
        let connecting = crate::runtime::spawn(async move {
            let addrs: Vec<async_nats::ServerAddr> = servers
                .iter()
                .map(|s| s.parse())
                .collect::<std::result::Result<_, _>>()
                .map_err(|err: std::io::Error| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("invalid NATS URL: {err}"),
                    )
                })?;
            tokio::time::timeout(
                timeout + Duration::from_millis(500),
                nats_options.connect(addrs),
            )
            .await
            .map_err(|_| Error::new(ErrorKind::Timeout, "connecting timed out"))?
            .map_err(connect_error)
        });
        let client = connecting.await?.map_err(|err| {
            let message = format!(
                "cannot connect to NATS at {broker_url}: {}",
                err.full_message()
            );
            Error::new(err.kind(), message)
        })?;
        let jetstream = async_nats::jetstream::new(client.clone());
        Ok(Bridge {
            inner: Arc::new(Inner {
                client,
                jetstream,
                broker_url,
                stores: crate::store::Stores::default(),
                options,
                closed: AtomicBool::new(false),
            }),
        })
    }

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
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.client.drain().await.map_err(|err| {
            Error::new(ErrorKind::Connection, "closing the connection failed").with_source(err)
        })
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
        client.flush().await.map_err(|e| failed(e.into()))?;
        let timeout = self.inner.options.request_timeout;
        let echoed = tokio::time::timeout(timeout, echo.next()).await;
        let _ = echo.unsubscribe().await;
        match echoed {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::new(
                ErrorKind::Connection,
                "the connection closed during a flush",
            )),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("the server did not answer a flush within {timeout:?}"),
            )),
        }
    }

    /// Sends `payloads` as one envelope on `subject` (wire-v1): serializes
    /// them, picks each one's transport, uploads link payloads (concurrently)
    /// to the claim-check store, and publishes with the `Nats-Msg-Id` header.
    /// Returns the envelope as sent. If anything fails before publishing,
    /// nothing is published.
    pub async fn smartsend(
        &self,
        subject: &str,
        payloads: Vec<Payload>,
        options: &SendOptions,
    ) -> Result<SentEnvelope> {
        let mut sent = self.build(subject, payloads, options).await?;
        sent.stream_sequence = self
            .publish(subject, None, &sent, options.jetstream)
            .await?;
        Ok(sent)
    }

    /// Everything a send does short of publishing: serialize, choose
    /// transports, read and upload what must be, encode.
    async fn build(
        &self,
        subject: &str,
        payloads: Vec<Payload>,
        options: &SendOptions,
    ) -> Result<SentEnvelope> {
        self.check_open()?;
        codec::validate_subject(subject)?;
        let writer =
            EnvelopeWriter::new(codec::new_header(subject, options, &self.inner.broker_url));
        let (mut infos, sources) = describe(payloads).await?;
        let max_payload = self.max_payload();
        // Cheap first: most messages are small and need no store at all.
        let fits_direct = codec::plan(
            &writer,
            &mut infos,
            options.size_threshold,
            max_payload,
            false,
            |_| 0,
        );
        let store = match fits_direct {
            Ok(_) => None,
            Err(err) if err.kind() != ErrorKind::PayloadTooLarge => return Err(err),
            Err(too_large) => {
                let Some(store) = self.store_for(options).await? else {
                    return Err(too_large);
                };
                codec::plan(
                    &writer,
                    &mut infos,
                    options.size_threshold,
                    max_payload,
                    true,
                    |info| store.url_len_hint(info) + 2,
                )?;
                Some(store)
            }
        };
        let mut parts: Vec<Option<Part>> = Vec::with_capacity(infos.len());
        let mut uploads = Vec::new();
        for (index, (info, source)) in infos.iter_mut().zip(sources).enumerate() {
            match (info.transport, source) {
                (Transport::Direct, Source::Memory(bytes)) => {
                    if options.direct_sha256 {
                        info.sha256 = Some(codec::sha256_hex(&bytes));
                    }
                    parts.push(Some(Part::Direct(bytes)));
                }
                (Transport::Direct, Source::File(path)) => {
                    let bytes = read_small_file(&path, info).await?;
                    if options.direct_sha256 {
                        info.sha256 = Some(codec::sha256_hex(&bytes));
                    }
                    parts.push(Some(Part::Direct(bytes)));
                }
                (Transport::Link, source) => {
                    // Link payloads always carry their digest: upload_one
                    // hashes while the upload runs.
                    parts.push(None);
                    uploads.push((index, source));
                }
            }
        }
        if let Some(store) = &store {
            let results =
                try_join_all(uploads.into_iter().map(|(index, source)| {
                    upload_one(store.as_ref(), &infos[index], index, source)
                }))
                .await?;
            for (index, url, sha) in results {
                if let Some(sha) = sha {
                    infos[index].sha256 = Some(sha);
                }
                parts[index] = Some(Part::Link(url));
            }
        }
        let wire_parts: Vec<PartData<'_>> = parts
            .iter()
            .map(|part| match part {
                Some(Part::Direct(bytes)) => PartData::Direct(bytes),
                Some(Part::Link(url)) => PartData::Link(url),
                None => PartData::Link(""),
            })
            .collect();
        let sent = writer.finish(infos, &wire_parts);
        let total = sent.wire_bytes().len() + codec::nats_headers_len(&sent.header);
        if total > max_payload {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "the envelope is {total} bytes after upload (the store returned longer URLs \
                     than it announced); the server's max_payload is {max_payload} bytes"
                ),
            ));
        }
        Ok(sent)
    }

    /// Publishes an encoded envelope with natsbridge's headers.
    pub(crate) async fn publish(
        &self,
        subject: &str,
        nats_reply: Option<&str>,
        sent: &SentEnvelope,
        jetstream: bool,
    ) -> Result<Option<u64>> {
        let mut headers = HeaderMap::new();
        for (name, value) in codec::nats_headers(&sent.header) {
            headers.insert(name, value);
        }
        let body = sent.wire_bytes().clone();
        if jetstream {
            let ack = self
                .inner
                .jetstream
                .publish_with_headers(subject.to_owned(), headers, body)
                .await
                .map_err(|err| jetstream_publish_error(subject, err))?
                .await
                .map_err(|err| jetstream_publish_error(subject, err))?;
            return Ok(Some(ack.sequence));
        }
        let client = &self.inner.client;
        let result = match nats_reply {
            Some(reply) => {
                client
                    .publish_with_reply_and_headers(
                        subject.to_owned(),
                        reply.to_owned(),
                        headers,
                        body,
                    )
                    .await
            }
            None => {
                client
                    .publish_with_headers(subject.to_owned(), headers, body)
                    .await
            }
        };
        result.map_err(|err| {
            Error::new(
                ErrorKind::Publish,
                format!("publishing to {subject:?} failed"),
            )
            .with_source(err)
        })?;
        Ok(None)
    }

    /// Decodes a received NATS message: verifies every payload and downloads
    /// link payloads (with retries and backoff, per `options`).
    pub async fn smartreceive(
        &self,
        message: &async_nats::Message,
        options: &ReceiveOptions,
    ) -> Result<ReceivedEnvelope> {
        let mut envelope = self.smartreceive_bytes(&message.payload, options).await?;
        envelope.subject = Some(message.subject.to_string());
        envelope.nats_reply = message.reply.as_ref().map(|r| r.to_string());
        Ok(envelope)
    }

    /// Decodes an envelope from the bytes of a message body.
    pub async fn smartreceive_bytes(
        &self,
        body: &[u8],
        options: &ReceiveOptions,
    ) -> Result<ReceivedEnvelope> {
        let decoded = codec::decode(body)?;
        resolve_links(Some(self), decoded, options).await
    }

    /// Subscribes to `subject` (wildcards allowed). Each item of the
    /// subscription is one decoded envelope, or the error that message gave.
    /// Returns once the server has the subscription (a round trip, see
    /// [`Bridge::flush`]), so whatever anyone publishes afterwards reaches it.
    pub async fn subscribe(&self, subject: &str, options: ReceiveOptions) -> Result<Subscription> {
        self.check_open()?;
        codec::validate_subscribe_subject(subject)?;
        let subscriber = self
            .inner
            .client
            .subscribe(subject.to_owned())
            .await
            .map_err(|err| {
                Error::new(
                    ErrorKind::Connection,
                    format!("cannot subscribe to {subject:?}"),
                )
                .with_source(err)
            })?;
        self.flush().await?;
        Ok(Subscription::new(self.clone(), subscriber, options))
    }

    /// Subscribes as a member of queue group `group`: each message goes to
    /// one member of the group. Returns once the server has the subscription.
    pub async fn queue_subscribe(
        &self,
        subject: &str,
        group: &str,
        options: ReceiveOptions,
    ) -> Result<Subscription> {
        self.check_open()?;
        codec::validate_subscribe_subject(subject)?;
        if group.is_empty() || group.chars().any(char::is_whitespace) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid queue group {group:?}: it must be non-empty without whitespace"),
            ));
        }
        let subscriber = self
            .inner
            .client
            .queue_subscribe(subject.to_owned(), group.to_owned())
            .await
            .map_err(|err| {
                Error::new(
                    ErrorKind::Connection,
                    format!("cannot subscribe to {subject:?}"),
                )
                .with_source(err)
            })?;
        self.flush().await?;
        Ok(Subscription::new(self.clone(), subscriber, options))
    }

    /// Sends a request and waits up to `timeout` (default: the connect
    /// options' request timeout) for the reply envelope. The request's
    /// `reply_to` is a fresh inbox unless `options` sets one; the reply may
    /// come from any natsbridge implementation or from a plain NATS responder
    /// answering the message's reply subject.
    pub async fn request(
        &self,
        subject: &str,
        payloads: Vec<Payload>,
        options: &SendOptions,
        timeout: Option<Duration>,
        receive: &ReceiveOptions,
    ) -> Result<ReceivedEnvelope> {
        self.check_open()?;
        let inbox = self.inner.client.new_inbox();
        let mut replies = self
            .inner
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|err| {
                Error::new(ErrorKind::Connection, "cannot subscribe to the reply inbox")
                    .with_source(err)
            })?;
        let mut options = options.clone();
        let listen_on = if options.reply_to.is_empty() {
            options.reply_to = inbox.clone();
            inbox.clone()
        } else {
            options.reply_to.clone()
        };
        let mut other_inbox = if listen_on != inbox {
            Some(
                self.inner
                    .client
                    .subscribe(listen_on.clone())
                    .await
                    .map_err(|err| {
                        Error::new(ErrorKind::Connection, "cannot subscribe to reply_to")
                            .with_source(err)
                    })?,
            )
        } else {
            None
        };
        // The inbox also goes on the NATS message itself, so a responder that
        // only looks at the message's reply subject can answer too.
        let sent = self.build(subject, payloads, &options).await?;
        self.publish(subject, Some(&inbox), &sent, false).await?;
        let timeout = timeout.unwrap_or(self.inner.options.request_timeout);
        let wait = async {
            loop {
                let message = match &mut other_inbox {
                    Some(other) => tokio::select! {
                        m = replies.next() => m,
                        m = other.next() => m,
                    },
                    None => replies.next().await,
                };
                let Some(message) = message else {
                    return Err(Error::new(
                        ErrorKind::Closed,
                        "the connection closed while waiting for a reply",
                    ));
                };
                if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                    return Err(Error::new(
                        ErrorKind::NoResponders,
                        format!("no subscriber is listening on {subject:?}"),
                    ));
                }
                let reply = self.smartreceive(&message, receive).await?;
                // On a shared reply_to subject, skip replies to other requests.
                if other_inbox.is_some()
                    && !reply.header.reply_to_msg_id.is_empty()
                    && reply.header.reply_to_msg_id != sent.header.msg_id
                {
                    continue;
                }
                return Ok(reply);
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("no reply to the request on {subject:?} within {timeout:?}"),
            )
        })?
    }

    /// Answers a received envelope (wire-v1 section 6): publishes to its
    /// `reply_to`, or to the NATS reply inbox of its message, with
    /// `reply_to_msg_id` set to its `msg_id` and its `correlation_id`.
    /// `msg_purpose` is `response` unless `options` sets one.
    pub async fn reply(
        &self,
        request: &ReceivedEnvelope,
        payloads: Vec<Payload>,
        options: &SendOptions,
    ) -> Result<SentEnvelope> {
        let Some(subject) = request.reply_subject() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "message {} has neither reply_to nor a NATS reply subject; there is nowhere to reply",
                    request.header.msg_id
                ),
            ));
        };
        let mut options = options
            .clone()
            .reply_to_msg_id(request.header.msg_id.clone())
            .correlation_id(request.header.correlation_id.clone());
        if options.msg_purpose.is_none() {
            options = options.msg_purpose("response");
        }
        let subject = subject.to_owned();
        self.smartsend(&subject, payloads, &options).await
    }
}

enum Part {
    Direct(Bytes),
    Link(String),
}

/// Serializes in-memory payloads and sizes file payloads.
async fn describe(payloads: Vec<Payload>) -> Result<(Vec<PayloadInfo>, Vec<Source>)> {
    let mut infos = Vec::with_capacity(payloads.len());
    let mut sources = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let (dataname, payload_type, body, metadata) = payload.into_parts();
        codec::validate_dataname(&dataname)?;
        match body {
            Body::File(path) => {
                let size = tokio::fs::metadata(&path)
                    .await
                    .map_err(|err| file_error(&dataname, &path, err))?
                    .len();
                infos.push(codec::new_info(dataname, payload_type, size, metadata));
                sources.push(Source::File(path));
            }
            body => {
                let bytes = serialize_body(&dataname, body)?;
                infos.push(codec::new_info(
                    dataname,
                    payload_type,
                    bytes.len() as u64,
                    metadata,
                ));
                sources.push(Source::Memory(bytes));
            }
        }
    }
    Ok((infos, sources))
}

fn file_error(dataname: &str, path: &std::path::Path, err: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!(
            "cannot read payload '{dataname}' from {}: {err}",
            path.display()
        ),
    )
    .with_dataname(dataname)
    .with_source(err)
}

async fn read_small_file(path: &std::path::Path, info: &PayloadInfo) -> Result<Bytes> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|err| file_error(&info.dataname, path, err))?;
    if bytes.len() as u64 != info.size {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "payload '{}': {} changed size while being sent ({} bytes, then {})",
                info.dataname,
                path.display(),
                info.size,
                bytes.len()
            ),
        )
        .with_dataname(info.dataname.clone()));
    }
    Ok(Bytes::from(bytes))
}

/// Uploads one link payload; file payloads are streamed and hashed on the way.
async fn upload_one(
    store: &dyn ClaimCheckStore,
    info: &PayloadInfo,
    index: usize,
    source: Source,
) -> Result<(usize, String, Option<String>)> {
    let label = |err: Error| {
        let message = format!(
            "uploading payload '{}' failed: {}",
            info.dataname,
            err.full_message()
        );
        Error::new(err.kind(), message)
            .with_dataname(info.dataname.clone())
            .with_source(err)
    };
    match source {
        Source::Memory(bytes) => {
            // Hash on a blocking thread while the upload runs: the digest is
            // needed only for the envelope, after the upload.
            let hashing = tokio::task::spawn_blocking({
                let bytes = bytes.clone();
                move || codec::sha256_hex(&bytes)
            });
            let url = store
                .upload(info, UploadBody::Bytes(bytes))
                .await
                .map_err(label)?;
            let sha = hashing.await.map_err(|err| {
                Error::new(ErrorKind::Closed, "hashing a payload was cancelled").with_source(err)
            })?;
            Ok((index, url, Some(sha)))
        }
        Source::File(path) => {
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|err| file_error(&info.dataname, &path, err))?;
            let (reader, hash) = HashingReader::new(file);
            let body = UploadBody::Stream {
                reader: Box::pin(reader),
                len: info.size,
            };
            let url = store.upload(info, body).await.map_err(label)?;
            let (sha, read) = hash.finish();
            if read != info.size {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "payload '{}': {} changed size while being sent ({} bytes, then {read})",
                        info.dataname,
                        path.display(),
                        info.size
                    ),
                )
                .with_dataname(info.dataname.clone()));
            }
            Ok((index, url, Some(sha)))
        }
    }
}

/// Fetches the link payloads of a decoded envelope (within the receive
/// limits, see `store::limits`) and assembles the received envelope.
pub(crate) async fn resolve_links(
    bridge: Option<&Bridge>,
    decoded: codec::DecodedEnvelope,
    options: &ReceiveOptions,
) -> Result<ReceivedEnvelope> {
    let payloads =
        crate::store::limits::resolve_payloads(bridge, decoded.payloads, options).await?;
    Ok(ReceivedEnvelope {
        header: decoded.header,
        payloads,
        subject: None,
        nats_reply: None,
    })
}

fn connect_error(err: async_nats::ConnectError) -> Error {
    use async_nats::ConnectErrorKind as K;
    let (kind, hint) = match err.kind() {
        K::Authentication | K::AuthorizationViolation => {
            (ErrorKind::Auth, "the server refused the credentials")
        }
        K::TimedOut => (ErrorKind::Timeout, "the connection attempt timed out"),
        K::Tls => (ErrorKind::Connection, "the TLS handshake failed"),
        K::Io => (
            ErrorKind::Connection,
            "is nats-server running and reachable?",
        ),
        K::Dns => (ErrorKind::Connection, "the host name did not resolve"),
        K::ServerParse => (ErrorKind::InvalidArgument, "the server URL is not valid"),
        _ => (ErrorKind::Connection, "the connection failed"),
    };
    Error::new(kind, format!("{err} ({hint})")).with_source(err)
}

fn jetstream_publish_error(
    subject: &str,
    err: async_nats::jetstream::context::PublishError,
) -> Error {
    use async_nats::jetstream::context::PublishErrorKind as K;
    let message = match err.kind() {
        K::StreamNotFound => format!(
            "no JetStream stream captures subject {subject:?}; create one (Bridge::ensure_stream) \
             or publish without jetstream"
        ),
        K::TimedOut => format!("JetStream did not acknowledge the message on {subject:?} in time"),
        _ => format!("JetStream publish to {subject:?} failed"),
    };
    Error::new(ErrorKind::JetStream, message).with_source(err)
}
