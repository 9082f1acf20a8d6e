//! Connecting: [`ConnectOptions`] (servers, credentials, TLS, time-outs,
//! claim-check store defaults), how they map onto async-nats, and
//! [`Bridge::connect`] / [`Bridge::connect_with`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::codec;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{not_by_value, to_usize};
use crate::schema::{self, OptionValue, Scope};

use super::{Bridge, Inner};

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
///
/// Its `Debug` output shows the servers without credentials and secrets
/// (token, password, nkey seed, file server token) as `<redacted>`.
#[derive(Clone)]
pub struct ConnectOptions {
    pub(crate) servers: String,
    pub(crate) name: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) credentials_file: Option<PathBuf>,
    pub(crate) nkey_seed: Option<String>,
    pub(crate) tls_root_certificates: Vec<PathBuf>,
    pub(crate) tls_client_cert: Option<PathBuf>,
    pub(crate) tls_client_key: Option<PathBuf>,
    pub(crate) require_tls: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) subscription_capacity: Option<usize>,
    pub(crate) fileserver_url: Option<String>,
    pub(crate) fileserver_token: Option<String>,
    pub(crate) object_store_bucket: String,
    pub(crate) object_store_ttl: Duration,
    pub(crate) jetstream_replicas: usize,
    pub(crate) reply_subject_prefixes: Vec<String>,
}

/// Secrets never reach a log through `{:?}`: a set secret prints as
/// `<redacted>`, and the servers without the credentials of their URLs.
///
/// ```
/// let options = natsbridge::ConnectOptions::new("nats://alice:pw-1@127.0.0.1:4222")
///     .token("tok-2")
///     .nkey("SUAM-seed-3");
/// let shown = format!("{options:?}");
/// assert!(!shown.contains("pw-1") && !shown.contains("tok-2") && !shown.contains("seed-3"));
/// ```
impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn redacted(secret: &Option<String>) -> Option<&'static str> {
            secret.as_ref().map(|_| "<redacted>")
        }
        f.debug_struct("ConnectOptions")
            .field("servers", &codec::strip_credentials(&self.servers))
            .field("name", &self.name)
            .field("token", &redacted(&self.token))
            .field("user", &self.user)
            .field("password", &redacted(&self.password))
            .field("credentials_file", &self.credentials_file)
            .field("nkey_seed", &redacted(&self.nkey_seed))
            .field("tls_root_certificates", &self.tls_root_certificates)
            .field("tls_client_cert", &self.tls_client_cert)
            .field("tls_client_key", &self.tls_client_key)
            .field("require_tls", &self.require_tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("subscription_capacity", &self.subscription_capacity)
            .field(
                "fileserver_url",
                &self.fileserver_url.as_deref().map(codec::strip_credentials),
            )
            .field("fileserver_token", &redacted(&self.fileserver_token))
            .field("object_store_bucket", &self.object_store_bucket)
            .field("object_store_ttl", &self.object_store_ttl)
            .field("reply_subject_prefixes", &self.reply_subject_prefixes)
            .finish()
    }
}

/// The defaults of every option, and no servers yet: connecting without
/// setting them ([`ConnectOptions::servers`]) fails with `InvalidArgument`.
impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            servers: String::new(),
            name: None,
            token: None,
            user: None,
            password: None,
            credentials_file: None,
            nkey_seed: None,
            tls_root_certificates: Vec::new(),
            tls_client_cert: None,
            tls_client_key: None,
            require_tls: false,
            connect_timeout: Duration::from_millis(schema::DEFAULT_CONNECT_TIMEOUT_MS),
            request_timeout: Duration::from_millis(schema::DEFAULT_REQUEST_TIMEOUT_MS),
            subscription_capacity: None,
            fileserver_url: None,
            fileserver_token: None,
            object_store_bucket: schema::DEFAULT_OBJECT_STORE_BUCKET.to_owned(),
            object_store_ttl: Duration::from_millis(schema::DEFAULT_OBJECT_STORE_TTL_MS),
            jetstream_replicas: schema::DEFAULT_JETSTREAM_REPLICAS as usize,
            reply_subject_prefixes: Vec::new(),
        }
    }
}

impl ConnectOptions {
    /// Options for `servers`: one NATS URL, or several separated by commas
    /// (a cluster; the client fails over between them). Credentials in a URL
    /// (`nats://user:pass@host`, `nats://token@host`) are used and never
    /// written into envelopes.
    pub fn new(servers: impl Into<String>) -> ConnectOptions {
        ConnectOptions::default().servers(servers)
    }

    /// Sets the servers: one NATS URL, or several separated by commas. A
    /// handle (a C options object, a binding's options) can hold
    /// [`ConnectOptions::default()`] and set the servers last.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::default()
    ///     .name("ingest")
    ///     .servers("nats://n1:4222,nats://n2:4222");
    /// assert_eq!(options.get_servers(), "nats://n1:4222,nats://n2:4222");
    /// ```
    pub fn servers(mut self, servers: impl Into<String>) -> ConnectOptions {
        self.servers = servers.into();
        self
    }

    /// The servers as given (credentials included).
    pub fn get_servers(&self) -> &str {
        &self.servers
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
        self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> ConnectOptions {
        self.user(user).password(password)
    }

    /// Authenticates as this user; connecting fails with `InvalidArgument`
    /// unless [`ConnectOptions::password`] is set too.
    pub fn user(mut self, user: impl Into<String>) -> ConnectOptions {
        self.user = Some(user.into());
        self
    }

    /// The password of [`ConnectOptions::user`]; connecting fails with
    /// `InvalidArgument` unless the user is set too.
    pub fn password(mut self, password: impl Into<String>) -> ConnectOptions {
        self.password = Some(password.into());
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
        self.tls_client_cert = Some(cert.into());
        self.tls_client_key = Some(key.into());
        self
    }

    /// The client certificate alone (option `tls_client_cert`); connecting
    /// fails with `InvalidArgument` unless its key is set too
    /// ([`ConnectOptions::tls_client_key`]).
    pub fn tls_client_cert_file(mut self, cert: impl Into<PathBuf>) -> ConnectOptions {
        self.tls_client_cert = Some(cert.into());
        self
    }

    /// The private key of the client certificate (option `tls_client_key`).
    pub fn tls_client_key(mut self, key: impl Into<PathBuf>) -> ConnectOptions {
        self.tls_client_key = Some(key.into());
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

    /// How many servers keep a copy of a stream ([`Bridge::ensure_stream`])
    /// or the Object Store bucket when this connection creates them (default
    /// 1; a cluster takes up to 5). 0 is refused when creating.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://n1:4222,nats://n2:4222").jetstream_replicas(3);
    /// ```
    pub fn jetstream_replicas(mut self, replicas: usize) -> ConnectOptions {
        self.jetstream_replicas = replicas;
        self
    }

    /// Adds a prefix to the reply allow-list (option
    /// `reply_subject_prefixes`). Once the list is non-empty, [`Bridge::reply`]
    /// publishes only to subjects starting with one of its prefixes (plain
    /// string prefixes: end one with `.` to match whole tokens) and refuses
    /// any other with `InvalidArgument`. `$`-prefixed system subjects are
    /// refused whatever the list says, so a `$` prefix, like an empty one, is
    /// refused at connect.
    ///
    /// ```
    /// let options = natsbridge::ConnectOptions::new("nats://localhost:4222")
    ///     .reply_subject_prefix("_INBOX.")
    ///     .reply_subject_prefix("device.responses.");
    /// assert_eq!(options.get_reply_subject_prefixes(), ["_INBOX.", "device.responses."]);
    /// ```
    pub fn reply_subject_prefix(mut self, prefix: impl Into<String>) -> ConnectOptions {
        self.reply_subject_prefixes.push(prefix.into());
        self
    }

    /// The reply allow-list (empty: any subject but system subjects).
    pub fn get_reply_subject_prefixes(&self) -> &[String] {
        &self.reply_subject_prefixes
    }

    /// The NATS server to use when a caller may give none: `given` if
    /// non-empty, else `$NATS_URL` if non-empty, else
    /// `nats://localhost:4222` ([`schema::resolve_nats_url`]). Every front
    /// end resolves a missing URL through this one function.
    pub fn resolve_nats_url(given: Option<&str>) -> String {
        let env = std::env::var(schema::NATS_URL_ENV).ok();
        schema::resolve_nats_url(given, env.as_deref())
    }

    /// Sets the connect option `name` (snake_case or camelCase, see
    /// [`crate::schema`]) to `value`; durations are milliseconds.
    ///
    /// ```
    /// use natsbridge::{ConnectOptions, schema::OptionValue};
    /// let options = ConnectOptions::default()
    ///     .set("natsUrl", OptionValue::Text("nats://127.0.0.1:4222".into()))?
    ///     .set("connect_timeout", OptionValue::Number(2000))?;
    /// assert_eq!(options.get_servers(), "nats://127.0.0.1:4222");
    /// # Ok::<(), natsbridge::Error>(())
    /// ```
    pub fn set(self, name: &str, value: OptionValue) -> Result<ConnectOptions> {
        use OptionValue::*;
        let spec = schema::lookup(Scope::Connect, name)?;
        let ms = Duration::from_millis;
        Ok(match (spec.name, spec.check(value)?) {
            ("nats_url", Text(s)) => self.servers(s),
            ("name", Text(s)) => self.name(s),
            ("token", Text(s)) => self.token(s),
            ("user", Text(s)) => self.user(s),
            ("password", Text(s)) => self.password(s),
            ("credentials_file", Text(s)) => self.credentials_file(s),
            ("nkey", Text(s)) => self.nkey(s),
            ("tls_ca_file", Text(s)) => self.tls_ca_file(s),
            ("tls_client_cert", Text(s)) => self.tls_client_cert_file(s),
            ("tls_client_key", Text(s)) => self.tls_client_key(s),
            ("require_tls", Bool(b)) => self.require_tls(b),
            ("connect_timeout", Number(n)) => self.connect_timeout(ms(n)),
            ("request_timeout", Number(n)) => self.request_timeout(ms(n)),
            ("subscription_capacity", Number(n)) => {
                self.subscription_capacity(to_usize(spec.name, n)?)
            }
            ("fileserver_url", Text(s)) => self.fileserver_url(s),
            ("fileserver_token", Text(s)) => self.fileserver_token(s),
            ("object_store_bucket", Text(s)) => self.object_store_bucket(s),
            ("object_store_ttl", Number(n)) => self.object_store_ttl(ms(n)),
            ("jetstream_replicas", Number(0)) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "option jetstream_replicas must be at least 1",
                ));
            }
            ("jetstream_replicas", Number(n)) => self.jetstream_replicas(to_usize(spec.name, n)?),
            ("reply_subject_prefixes", TextList(prefixes)) => prefixes
                .into_iter()
                .fold(self, |options, prefix| options.reply_subject_prefix(prefix)),
            _ => return Err(not_by_value(spec)),
        })
    }

    /// Connects. Fails within the connect timeout with
    /// [`ErrorKind::Connection`] (unreachable), [`ErrorKind::Auth`]
    /// (credentials refused) or [`ErrorKind::Timeout`].
    pub async fn connect(self) -> Result<Bridge> {
        Bridge::connect_with(self).await
    }

    async fn to_async_nats(&self) -> Result<async_nats::ConnectOptions> {
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(self.request_timeout))
            // Subjects are validated by natsbridge, which allows `/chat/room1`.
            .require_tls(self.require_tls);
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        let user_password = match (&self.user, &self.password) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "user and password go together: set both or neither",
                ));
            }
        };
        let client_cert = match (&self.tls_client_cert, &self.tls_client_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "tls_client_cert and tls_client_key go together: set both or neither",
                ));
            }
        };
        if let Some(bad) = self
            .reply_subject_prefixes
            .iter()
            .find(|prefix| prefix.is_empty() || crate::envelope::is_system_subject(prefix))
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "reply_subject_prefixes: {bad:?} cannot be allowed (an empty prefix would \
                     allow everything, and $-prefixed system subjects are never replied to)"
                ),
            ));
        }
        let explicit = self.token.is_some()
            || user_password.is_some()
            || self.nkey_seed.is_some()
            || self.credentials_file.is_some();
        // Credentials given as options win; URL ones are only read without them.
        let from_url = if explicit {
            None
        } else {
            list_credentials(&self.servers)?
        };
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
        if let Some((user, password)) = user_password {
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
        if let Some((cert, key)) = client_cert {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(capacity) = self.subscription_capacity {
            options = options.subscription_capacity(capacity);
        }
        Ok(options)
    }
}

#[derive(PartialEq)]
enum UrlCredentials {
    Token(String),
    UserPassword(String, String),
}

/// The credentials written in the server URLs. async-nats ignores them and
/// authenticates to every server of the list (and every server it discovers)
/// with one set, so one set is all a list may carry: the same in every URL,
/// or in none. Credentials written in some URLs only, or different ones,
/// would be sent to servers they were not written for, so they are refused.
fn list_credentials(servers: &str) -> Result<Option<UrlCredentials>> {
    let mut found = servers
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(url_credentials);
    let first = found.next().flatten();
    if found.all(|other| other == first) {
        return Ok(first);
    }
    Err(Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "the server list {} has credentials in some URLs only, or different ones; they would \
             be sent to every server of the list: write the same credentials in every URL, or \
             pass them as a token or user and password option",
            codec::strip_credentials(servers)
        ),
    ))
}

/// The credentials in a server URL's userinfo (`user:pass@` or `token@`),
/// decoded; everything before the last `@` counts, as in
/// [`codec::strip_credentials`].
fn url_credentials(server: &str) -> Option<UrlCredentials> {
    let server = server.trim();
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    let (userinfo, _) = rest.rsplit_once('@')?;
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
            .map(|s| codec::strip_credentials(s.trim()).into_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if servers.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "no NATS server URL given",
            ));
        }
        let broker_url = codec::strip_credentials(&options.servers).into_owned();
        // The client drops a message when a subscription's buffer
        // (`subscription_capacity`) is full and says so only as an event:
        // count it for that subscription, which reports it to its reader.
        let slow_consumers = Arc::new(crate::subscription::SlowConsumers::default());
        let recorder = slow_consumers.clone();
        let nats_options = options.to_async_nats().await?.event_callback(move |event| {
            if let async_nats::Event::SlowConsumer(sid) = event {
                recorder.record(sid);
            }
            std::future::ready(())
        });
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
                slow_consumers,
                options,
                closed: AtomicBool::new(false),
            }),
        })
    }
}

fn connect_error(err: async_nats::ConnectError) -> Error {
    use async_nats::ConnectErrorKind as K;
    let (kind, hint) = match err.kind() {
        K::Authentication | K::AuthorizationViolation => {
            (ErrorKind::Auth, "the server refused the credentials")
        }
        K::TimedOut => (ErrorKind::Timeout, "the connection attempt timed out"),
        K::Tls => (ErrorKind::Connection, "the TLS handshake failed"),
        // rustls reports a refused certificate, a TLS alert from the server
        // (a missing or untrusted client certificate) or a peer that does not
        // speak TLS as an I/O error of kind InvalidData.
        K::Io if is_invalid_data(&err) => (
            ErrorKind::Connection,
            "the TLS handshake failed: check tls_ca_file, the client certificate \
             and that the server speaks TLS",
        ),
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

/// Whether an I/O error of kind `InvalidData` (how rustls reports TLS
/// failures) is in `err`'s source chain.
fn is_invalid_data(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if current
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
        {
            return true;
        }
        cause = current.source();
    }
    false
}
