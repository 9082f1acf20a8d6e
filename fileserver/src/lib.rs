//! The natsbridge claim-check file server, behind `natsbridge fileserver`.
//!
//! A small HTTP/1.1 server over one directory, made for the link transport
//! (wire spec section 5): a sender uploads a large payload with
//! `PUT /<payload id>/<url-encoded dataname>` and puts the returned URL in the
//! envelope; every receiver downloads it with a plain `GET`.
//!
//! | request | effect | answers |
//! |---|---|---|
//! | `PUT /<path>` | stores the body at `DIR/<path>` | 201, download URL in `Location` and in the body |
//! | `GET /<path>` | streams the file; one `Range` honoured | 200 / 206 / 416 / 404 |
//! | `HEAD /<path>` | as GET without the body | 200 / 404 |
//! | `DELETE /<path>` | removes the file | 204 / 404 |
//!
//! Guarantees:
//! - **Streaming**: bodies go to and from disk in chunks; a request never holds
//!   a whole file in memory.
//! - **Atomic uploads**: an upload is written to a temporary file beside its
//!   target and moved into place once complete, so a half-written upload is
//!   never served.
//! - **No overwrite** (unless [`Config::allow_overwrite`]): a PUT to a path
//!   that holds a file answers 409, so no client, with or without the token,
//!   can replace a payload another sender already published; of two uploads
//!   racing to one new path the first to finish wins whole and the other gets
//!   409. With `allow_overwrite` the last to finish wins whole.
//! - **No escape from DIR**: each path segment is percent-decoded and refused
//!   (400) if empty, `.`, `..`, or containing `/`, `\` or NUL.
//! - **Bearer token** ([`Config::token`]): required for PUT and DELETE only.
//!   **GET and HEAD stay public** on purpose: receivers fetch links with a plain
//!   GET and never hold the sender's credentials, so anyone who can reach the
//!   server and knows a URL can read that file. The payload id (a random UUID)
//!   in the path is what keeps URLs unguessable.
//! - **Upload limit** ([`Config::max_upload`], default
//!   [`DEFAULT_MAX_UPLOAD`], 1 GiB like the receivers' download cap): 413 when
//!   `Content-Length` is over it (before reading the body), or as soon as a
//!   chunked body grows past it (the partial file is deleted).
//! - **Timeouts and a connection limit**: a request head must arrive within
//!   [`Config::header_read_timeout`], a connection on which no byte moves for
//!   [`Config::idle_timeout`] is closed (a stalled upload is deleted), and at
//!   most [`Config::max_connections`] are served at once (the next get 503).
//! - **No anonymous writes from the network**: [`FileServer::bind`] refuses a
//!   non-loopback address without a token unless
//!   [`Config::allow_public_without_token`] says so: without a token, anyone
//!   who can reach the server can store and delete files.
//! - **TTL** ([`Config::ttl`]): a file older than the TTL (measured from the end
//!   of its upload) answers 404 at once and is deleted by a background sweep
//!   every [`Config::cleanup_interval`], which also removes emptied directories.
//!
//! The directory's own contents are trusted: uploads can only create regular
//! files and directories, but a symlink the operator puts there is followed.
//!
//! Every request is logged through `tracing` as one line with its method,
//! status, body bytes and milliseconds (for downloads, the bytes the
//! response carries, logged when it starts). The path is a read capability
//! (whoever knows it can download the payload), so it is logged only at
//! DEBUG level, in a second line.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use natsbridge_fileserver::{Config, FileServer};
//!
//! let mut config = Config::new("/var/lib/natsbridge", "127.0.0.1:8080".parse().unwrap());
//! config.token = Some("s3cret".into());
//! config.ttl = Some(std::time::Duration::from_secs(24 * 3600));
//! let server = FileServer::bind(config).await?;
//! println!("serving on {}", server.url());
//! server.serve().await
//! # }
//! ```

#![warn(missing_docs)]

mod cleanup;
mod conn;
mod cors;
mod handler;
mod path;
mod range;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::conn::Limits;

use crate::handler::ServerState;

/// How often expired files are swept when [`Config::cleanup_interval`] is not
/// changed.
pub const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

/// The upload cap when [`Config::max_upload`] is not changed: 1 GiB, the
/// receivers' default download cap (`DEFAULT_MAX_DOWNLOAD_SIZE` in the core).
pub const DEFAULT_MAX_UPLOAD: u64 = 1 << 30;

/// How long a client may take to send a request head, by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may stay without a byte read or written, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many connections are served at once, by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Settings for a [`FileServer`]. Its `Debug` output hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The directory files are stored in; created if missing.
    pub dir: PathBuf,
    /// The address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// When set, PUT and DELETE need `Authorization: Bearer <token>`; GET and
    /// HEAD never need it (see the crate documentation).
    pub token: Option<String>,
    /// Uploads larger than this many bytes are refused with 413 (default
    /// [`DEFAULT_MAX_UPLOAD`]); `None` accepts any size.
    pub max_upload: Option<u64>,
    /// Whether a PUT may replace an existing file (default `false`: 409).
    pub allow_overwrite: bool,
    /// Whether to serve on a non-loopback address without a token (default
    /// `false`: [`FileServer::bind`] refuses).
    pub allow_public_without_token: bool,
    /// A request head (request line and headers) must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection without a byte read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones are answered 503 and closed.
    pub max_connections: usize,
    /// When set, files older than this are treated as gone and deleted.
    pub ttl: Option<Duration>,
    /// How often the TTL sweep runs; only used when `ttl` is set.
    pub cleanup_interval: Duration,
    /// Origins (`scheme://host[:port]`, or `*`) whose pages may use the
    /// server through `fetch` (CORS, preflight for PUT); empty: no CORS.
    pub cors_origins: Vec<String>,
    /// A directory served read-only under `/app/` (a web page and its scripts).
    pub static_dir: Option<PathBuf>,
    /// When set, the server speaks https only, with this certificate chain
    /// and key (PEM); [`FileServer::url`] starts with `https://`.
    pub tls: Option<TlsFiles>,
}

/// The certificate chain and private key (PEM files) of an https file server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate, then any intermediates.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Config {
    /// A configuration serving `dir` on `addr` with no token, the default
    /// upload limit, timeouts and connection limit, no overwrite, no TTL and
    /// the default clean-up interval.
    ///
    /// ```
    /// let config = natsbridge_fileserver::Config::new("/tmp/files", "127.0.0.1:0".parse().unwrap());
    /// assert_eq!(config.cleanup_interval, natsbridge_fileserver::DEFAULT_CLEANUP_INTERVAL);
    /// ```
    pub fn new(dir: impl Into<PathBuf>, addr: SocketAddr) -> Config {
        Config {
            dir: dir.into(),
            addr,
            token: None,
            max_upload: Some(DEFAULT_MAX_UPLOAD),
            allow_overwrite: false,
            allow_public_without_token: false,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            ttl: None,
            cleanup_interval: DEFAULT_CLEANUP_INTERVAL,
            cors_origins: Vec::new(),
            static_dir: None,
            tls: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("dir", &self.dir)
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_upload", &self.max_upload)
            .field("allow_overwrite", &self.allow_overwrite)
            .field(
                "allow_public_without_token",
                &self.allow_public_without_token,
            )
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("ttl", &self.ttl)
            .field("cleanup_interval", &self.cleanup_interval)
            .field("cors_origins", &self.cors_origins)
            .field("static_dir", &self.static_dir)
            .field("tls", &self.tls)
            .finish()
    }
}

/// A file server bound to its address, ready to [`serve`](FileServer::serve).
#[derive(Debug)]
pub struct FileServer {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    state: Arc<ServerState>,
    cleanup_interval: Duration,
    cors_origins: Vec<String>,
    static_dir: Option<PathBuf>,
    limits: Limits,
    tls: Option<conn::Tls>,
}

impl FileServer {
    /// Checks the configuration, creates the directory if needed and binds the
    /// listening socket, so [`local_addr`](FileServer::local_addr) is known
    /// before serving starts.
    ///
    /// # Errors
    /// `InvalidInput` for an empty token, a zero TTL, clean-up interval,
    /// timeout or connection limit, or a non-loopback address without a token
    /// (unless [`Config::allow_public_without_token`]); otherwise the I/O
    /// error from creating the directory or binding.
    pub async fn bind(config: Config) -> io::Result<FileServer> {
        let invalid =
            |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()));
        if config.token.as_deref() == Some("") {
            return invalid("the file server token must not be empty");
        }
        if config.ttl == Some(Duration::ZERO) {
            return invalid("the file server TTL must be greater than zero");
        }
        if config.cleanup_interval.is_zero() {
            return invalid("the file server clean-up interval must be greater than zero");
        }
        if config.header_read_timeout.is_zero() || config.idle_timeout.is_zero() {
            return invalid("the file server timeouts must be greater than zero");
        }
        if config.max_connections == 0 {
            return invalid("the file server connection limit must be at least 1");
        }
        if config.token.is_none()
            && !config.addr.ip().is_loopback()
            && !config.allow_public_without_token
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "refusing to serve on {} without a token: anyone who can reach that \
                     address could store and delete files. Set a token (--token or \
                     NATSBRIDGE_FILESERVER_TOKEN), listen on 127.0.0.1, or pass \
                     --allow-public-without-token",
                    config.addr
                ),
            ));
        }
        tokio::fs::create_dir_all(&config.dir)
            .await
            .map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!(
                        "cannot create the file server directory {}: {err}",
                        config.dir.display()
                    ),
                )
            })?;
        // Canonical, so the sweep and every request work below one real path
        // whatever the working directory or symlinks in DIR's own path.
        let root = tokio::fs::canonicalize(&config.dir).await?;
        let tls = config.tls.as_ref().map(conn::Tls::load).transpose()?;
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("cannot listen on {}: {err}", config.addr),
                )
            })?;
        let local_addr = listener.local_addr()?;
        let state = ServerState {
            root,
            token: config.token,
            max_upload: config.max_upload,
            allow_overwrite: config.allow_overwrite,
            ttl: config.ttl,
            base_url: base_url(local_addr, tls.is_some()),
        };
        Ok(FileServer {
            listener,
            local_addr,
            state: Arc::new(state),
            cleanup_interval: config.cleanup_interval,
            cors_origins: config.cors_origins,
            static_dir: config.static_dir,
            limits: Limits {
                header_read_timeout: config.header_read_timeout,
                idle_timeout: config.idle_timeout,
                max_connections: config.max_connections,
            },
            tls,
        })
    }

    /// The address the server listens on (with the real port when bound to 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base URL, e.g. `http://127.0.0.1:8080`; a wildcard bind address is
    /// given as the loopback address of the same family.
    pub fn url(&self) -> String {
        self.state.base_url.clone()
    }

    /// Serves requests until the returned future is dropped. Failed accepts
    /// (e.g. out of file descriptors) are retried, not returned.
    pub async fn serve(self) -> io::Result<()> {
        self.serve_with_shutdown(std::future::pending()).await
    }

    /// Serves requests until `signal` completes, then stops accepting
    /// connections and returns once the requests in progress have finished.
    pub async fn serve_with_shutdown(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let cleanup = self.state.ttl.map(|ttl| {
            tokio::spawn(cleanup::run(
                self.state.root.clone(),
                ttl,
                self.cleanup_interval,
            ))
        });
        tracing::info!(
            url = %self.state.base_url,
            dir = %self.state.root.display(),
            token = self.state.token.is_some(),
            max_upload = ?self.state.max_upload,
            allow_overwrite = self.state.allow_overwrite,
            ttl_s = ?self.state.ttl.map(|ttl| ttl.as_secs_f64()),
            max_connections = self.limits.max_connections,
            "natsbridge file server listening"
        );
        if self.state.token.is_none() && !self.local_addr.ip().is_loopback() {
            tracing::warn!(
                addr = %self.local_addr,
                "serving a non-loopback address WITHOUT a token: anyone who can reach it can \
                 store and delete files"
            );
        }
        let router = Router::new()
            .fallback(handler::handle)
            .with_state(self.state);
        let router = cors::wrap(router, &self.cors_origins, self.static_dir.as_deref());
        let result = conn::serve(self.listener, router, self.limits, self.tls, signal).await;
        if let Some(cleanup) = cleanup {
            cleanup.abort();
        }
        tracing::info!("natsbridge file server stopped");
        result
    }
}

fn base_url(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token() {
        let mut config = Config::new("/srv", "127.0.0.1:0".parse().unwrap());
        config.token = Some("hunter2".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn wildcard_binds_are_reported_as_loopback() {
        assert_eq!(
            base_url("0.0.0.0:80".parse().unwrap(), false),
            "http://127.0.0.1:80"
        );
        assert_eq!(
            base_url("[::]:81".parse().unwrap(), false),
            "http://[::1]:81"
        );
        assert_eq!(
            base_url("10.1.2.3:82".parse().unwrap(), true),
            "https://10.1.2.3:82"
        );
    }
}
