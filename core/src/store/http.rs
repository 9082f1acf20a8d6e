//! Link payloads over plain HTTP: uploads by PUT to a file server
//! ([`HttpStore`]), downloads by GET with retries, backoff, a size cap,
//! streaming hashing and the URL policy of [`super::policy`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt as _;
use futures::future::BoxFuture;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use url::Url;

use super::limits::permanent;
use super::policy::{check_http_url, check_resolved, resolver};
use super::{Attempt, Backoff, ClaimCheckStore, DownloadSink, Fetched, Sink, UploadBody};
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;
use crate::payload::{PayloadInfo, safe_file_name};

/// Characters kept as they are in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one URL path segment.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// The process-wide HTTP client: no automatic redirects (each hop is checked
/// by hand), refused addresses filtered at DNS resolution, and no proxy from
/// the environment (`HTTP_PROXY` and friends would get host names unresolved,
/// past the address rules).
///
/// reqwest takes the connect timeout and the trusted roots per client, so
/// there is one client per `(allow_private, connect_timeout, roots)` for the
/// process (uploads use the default connect timeout); applications use one
/// or two settings. `roots` are the PEM CA files of the bridge's
/// `tls_ca_file`, trusted besides the built-in web roots.
pub(crate) fn client(
    allow_private: bool,
    connect_timeout: Duration,
    roots: &[PathBuf],
) -> Result<reqwest::Client> {
    type Key = (bool, Duration, Vec<PathBuf>);
    static CLIENTS: OnceLock<Mutex<HashMap<Key, reqwest::Client>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let mut clients = clients.lock().unwrap_or_else(|poison| poison.into_inner());
    let key = (allow_private, connect_timeout, roots.to_vec());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let client = with_roots(client_builder(connect_timeout), roots)?
        .dns_resolver(resolver(allow_private))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    clients.insert(key, client.clone());
    Ok(client)
}

/// Adds every certificate of each PEM file in `roots` to the trusted roots.
fn with_roots(
    mut builder: reqwest::ClientBuilder,
    roots: &[PathBuf],
) -> Result<reqwest::ClientBuilder> {
    for path in roots {
        let pem = std::fs::read(path).map_err(|err| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot read the CA file {} (tls_ca_file)", path.display()),
            )
            .with_source(err)
        })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the CA file {} (tls_ca_file) holds no PEM certificate",
                    path.display()
                ),
            )
            .with_source(err)
        })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

/// The connect timeout of uploads (and of downloads unless the receive
/// options set `download_connect_timeout`).
pub(crate) fn default_connect_timeout() -> Duration {
    Duration::from_millis(crate::schema::DEFAULT_DOWNLOAD_CONNECT_TIMEOUT_MS)
}

fn client_builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("natsbridge/", env!("CARGO_PKG_VERSION")))
}

/// A client sending every request through the explicit `proxy` of the
/// receive options, one per proxy URL and connect timeout for the process.
/// The proxy's own address is the receiver's choice and is not filtered; the
/// targets are resolved and checked by [`check_resolved`] before each request.
fn proxied_client(
    proxy: &str,
    connect_timeout: Duration,
    roots: &[PathBuf],
) -> Result<reqwest::Client> {
    type Key = (String, Duration, Vec<PathBuf>);
    static CLIENTS: OnceLock<Mutex<HashMap<Key, reqwest::Client>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let mut clients = clients.lock().unwrap_or_else(|poison| poison.into_inner());
    let key = (proxy.to_owned(), connect_timeout, roots.to_vec());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let invalid = |err: reqwest::Error| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid proxy {proxy:?}: {err}"),
        )
    };
    let client = with_roots(client_builder(connect_timeout), roots)?
        .proxy(reqwest::Proxy::all(proxy).map_err(invalid)?)
        .build()
        .map_err(invalid)?;
    clients.insert(key, client.clone());
    Ok(client)
}

/// Uploads link payloads with HTTP PUT to `<base>/<payload id>/<dataname>`;
/// the same URL is the download URL, so any static HTTP server that serves
/// the uploaded files works for receivers.
#[derive(Debug, Clone)]
pub struct HttpStore {
    base: String,
    token: Option<String>,
    roots: Vec<PathBuf>,
}

impl HttpStore {
    /// A store for the file server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: impl Into<String>) -> Result<HttpStore> {
        let base = base.into();
        let parsed = Url::parse(&base).map_err(|err| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid fileserver_url {base:?}: {err}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("fileserver_url {base:?} must be an http or https URL"),
            ));
        }
        Ok(HttpStore {
            base: base.trim_end_matches('/').to_owned(),
            token: None,
            roots: Vec::new(),
        })
    }

    /// Sends `Authorization: Bearer <token>` with every upload.
    pub fn with_token(mut self, token: impl Into<String>) -> HttpStore {
        self.token = Some(token.into());
        self
    }

    /// Trusts the CAs in these PEM files (besides the built-in web roots)
    /// for an `https` file server: the bridge's `tls_ca_file`.
    pub fn with_root_certificates(mut self, roots: Vec<PathBuf>) -> HttpStore {
        self.roots = roots;
        self
    }

    /// The URL a payload is uploaded to and downloaded from. The dataname is
    /// made a safe file name first (no `/`, no leading dots), so even a static
    /// server that decodes `%2F` cannot be walked out of its directory.
    pub fn url_for(&self, info: &PayloadInfo) -> String {
        format!(
            "{}/{}/{}",
            self.base,
            encode_segment(&info.id),
            encode_segment(&safe_file_name(&info.dataname))
        )
    }

    async fn put_once(
        &self,
        url: &str,
        body: reqwest::Body,
        len: u64,
    ) -> std::result::Result<(), Attempt> {
        let mut request = client(true, default_connect_timeout(), &self.roots)
            .map_err(Attempt::Fatal)?
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|err| Attempt::from_transport(ErrorKind::Upload, url, err))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let detail = response.text().await.unwrap_or_default();
        let detail = detail.trim();
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                " (the file server wants a token: set the fileserver token)"
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                " (the file server's upload limit is lower than this payload)"
            }
            _ => "",
        };
        let err = Error::new(
            ErrorKind::Upload,
            format!(
                "the file server answered {status} to PUT {url}{hint}{}{detail}",
                if detail.is_empty() { "" } else { ": " }
            ),
        );
        Err(if retryable_status(status) {
            Attempt::Retry(err)
        } else {
            Attempt::Fatal(err)
        })
    }
}

impl ClaimCheckStore for HttpStore {
    fn upload<'a>(
        &'a self,
        info: &'a PayloadInfo,
        body: UploadBody,
    ) -> BoxFuture<'a, Result<String>> {
        let store = self.clone();
        let url = self.url_for(info);
        Box::pin(async move {
            // Run on the shared runtime so pooled connections outlive the caller's runtime.
            crate::runtime::spawn(async move {
                match body {
                    UploadBody::Bytes(bytes) => {
                        // In-memory bodies can be sent again: retry transient failures.
                        let backoff =
                            Backoff::new(3, Duration::from_millis(100), Duration::from_secs(2));
                        let len = bytes.len() as u64;
                        backoff
                            .run(|_| store.put_once(&url, reqwest::Body::from(bytes.clone()), len))
                            .await?;
                    }
                    UploadBody::Tracked { bytes, progress } => {
                        let backoff =
                            Backoff::new(3, Duration::from_millis(100), Duration::from_secs(2));
                        let len = bytes.len() as u64;
                        backoff
                            .run(|_| {
                                let chunks = progress.chunks(bytes.clone(), 256 * 1024);
                                store.put_once(&url, reqwest::Body::wrap_stream(chunks), len)
                            })
                            .await?;
                    }
                    UploadBody::Stream { reader, len } => {
                        let stream =
                            tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
                        store
                            .put_once(&url, reqwest::Body::wrap_stream(stream), len)
                            .await
                            .map_err(Attempt::into_error)?;
                    }
                }
                Ok(url)
            })
            .await?
        })
    }

    fn url_len_hint(&self, info: &PayloadInfo) -> usize {
        self.url_for(info).len()
    }
}

impl Attempt {
    /// Classifies a reqwest error: refused addresses are fatal, anything on
    /// the way to the server (connect, timeout, reset) may pass.
    fn from_transport(kind: ErrorKind, url: &str, err: reqwest::Error) -> Attempt {
        if let Some(refusal) = refusal_in(&err) {
            return Attempt::Fatal(Error::new(ErrorKind::UrlNotAllowed, refusal));
        }
        let what = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        Attempt::Retry(Error::new(kind, format!("request to {url} {what}")).with_source(err))
    }
}

/// The message of a [`super::policy::FilteringResolver`] refusal inside a reqwest error.
fn refusal_in(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
            && io.to_string().starts_with("refusing")
        {
            return Some(io.to_string());
        }
        cause = current.source();
    }
    None
}

fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// Downloads `url` with retries and backoff, following redirects by hand
/// (each hop re-checked), capping the size, and verifying `size` and
/// `sha256` while streaming. `roots`: CA files trusted for `https` besides
/// the built-in web roots (the receiving bridge's `tls_ca_file`).
pub(crate) async fn fetch(
    url: Url,
    info: PayloadInfo,
    options: ReceiveOptions,
    sink: Sink,
    roots: Vec<PathBuf>,
) -> Result<Fetched> {
    let backoff = Backoff::new(options.max_retries, options.base_delay, options.max_delay);
    let label = info.dataname.clone();
    // Cancelled with the caller (an envelope past its envelope_timeout), so
    // a hostile link does not keep a download retrying in the background.
    crate::runtime::spawn_cancellable(async move {
        backoff
            .run(|_| fetch_once(&url, &info, &options, &sink, &roots))
            .await
            .map_err(|err| err.with_dataname(label))
    })
    .await?
}

const MAX_REDIRECTS: usize = 5;

async fn fetch_once(
    url: &Url,
    info: &PayloadInfo,
    options: &ReceiveOptions,
    sink: &Sink,
    roots: &[PathBuf],
) -> std::result::Result<Fetched, Attempt> {
    let connect_timeout = options.limits.download_connect_timeout;
    let client = match &options.limits.proxy {
        Some(proxy) => proxied_client(proxy, connect_timeout, roots).map_err(Attempt::Fatal)?,
        None => client(options.allow_private_addresses, connect_timeout, roots)
            .map_err(Attempt::Fatal)?,
    };
    let proxied = options.limits.proxy.is_some();
    let mut current = url.clone();
    let mut hops = 0;
    let response = loop {
        check_http_url(&current, options).map_err(Attempt::Fatal)?;
        if proxied {
            // The proxy resolves the host itself: check what it will reach first.
            check_resolved(&current, options.allow_private_addresses)
                .await
                .map_err(Attempt::Fatal)?;
        }
        let mut request = client
            .get(current.clone())
            .timeout(options.download_timeout);
        if let Some(token) = options.bearer_token_for(&current) {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|err| Attempt::from_transport(ErrorKind::Download, current.as_str(), err))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| current.join(value).ok());
            let Some(next) = location else {
                return Err(Attempt::Fatal(Error::new(
                    ErrorKind::Download,
                    format!("{current} answered {status} without a usable Location"),
                )));
            };
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(Attempt::Fatal(Error::new(
                    ErrorKind::Download,
                    format!("more than {MAX_REDIRECTS} redirects fetching {url}"),
                )));
            }
            current = next;
            continue;
        }
        if !status.is_success() {
            let err = Error::new(
                ErrorKind::Download,
                format!(
                    "fetching payload '{}' from {current} failed: HTTP {status}",
                    info.dataname
                ),
            );
            return Err(if retryable_status(status) {
                Attempt::Retry(err)
            } else {
                Attempt::Fatal(permanent(err))
            });
        }
        break response;
    };
    if let Some(length) = response.content_length()
        && length != info.size
    {
        return Err(Attempt::Fatal(Error::new(
            ErrorKind::Integrity,
            format!(
                "payload '{}' declares size {} but {current} sends {length} bytes",
                info.dataname, info.size
            ),
        )));
    }
    let mut sink = DownloadSink::new(info, sink, current.as_str())
        .await
        .map_err(Attempt::Fatal)?
        .with_progress(options.progress.as_ref());
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| {
            Attempt::Retry(
                Error::new(
                    ErrorKind::Download,
                    format!("the download of payload '{}' broke off", info.dataname),
                )
                .with_source(err),
            )
        })?;
        sink.write(chunk).await.map_err(Attempt::Fatal)?;
    }
    sink.finish().await.map_err(Attempt::Fatal)
}
