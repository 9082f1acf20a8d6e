//! [`FileServerHandle`]: the natsbridge file server, in process, on a free
//! loopback port over a fresh temporary directory.
//!
//! The server runs on its own thread with its own tokio runtime, so tests may
//! use it from synchronous code or from any runtime (including a
//! current-thread `#[tokio::test]` that blocks), and dropping the handle stops
//! it whatever the test's runtime is doing.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use natsbridge_fileserver::{Config, FileServer, TlsFiles};

/// How long the server gets to bind before the harness gives up.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long requests still in progress get to finish when the handle drops;
/// after that the server is stopped regardless, so a stuck client cannot
/// hang a test's teardown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Configuration for a [`FileServerHandle`]; build with
/// [`FileServerHandle::builder`].
#[derive(Debug, Clone, Default)]
pub struct FileServerBuilder {
    token: Option<String>,
    max_upload: Option<u64>,
    ttl: Option<Duration>,
    cleanup_interval: Option<Duration>,
    cors_origins: Vec<String>,
    static_dir: Option<std::path::PathBuf>,
    tls: Option<TlsFiles>,
}

impl FileServerBuilder {
    /// Requires `Authorization: Bearer <token>` for PUT and DELETE (GET stays
    /// public).
    ///
    /// ```
    /// let server = natsbridge_testkit::FileServerHandle::builder().token("s3cret").start();
    /// assert_eq!(server.token(), Some("s3cret"));
    /// ```
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Refuses uploads larger than `bytes` with 413.
    ///
    /// ```
    /// let server = natsbridge_testkit::FileServerHandle::builder().max_upload(1024).start();
    /// ```
    pub fn max_upload(mut self, bytes: u64) -> Self {
        self.max_upload = Some(bytes);
        self
    }

    /// Expires files this long after their upload.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = natsbridge_testkit::FileServerHandle::builder()
    ///     .ttl(Duration::from_secs(1))
    ///     .cleanup_interval(Duration::from_millis(100))
    ///     .start();
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// How often expired files are deleted (the server's default is 60 s).
    /// Expired files answer 404 at once either way; this only bounds how long
    /// they stay on disk.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = natsbridge_testkit::FileServerHandle::builder()
    ///     .ttl(Duration::from_secs(3600))
    ///     .cleanup_interval(Duration::from_secs(1))
    ///     .start();
    /// ```
    pub fn cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = Some(interval);
        self
    }

    /// Answers CORS for pages of `origin` (`http://host:port`, or `*`), so a
    /// browser test page can PUT and GET through `fetch`.
    ///
    /// ```
    /// let server = natsbridge_testkit::FileServerHandle::builder().cors_origin("*").start();
    /// ```
    pub fn cors_origin(mut self, origin: &str) -> Self {
        self.cors_origins.push(origin.to_owned());
        self
    }

    /// Serves `dir` read-only under `/app/` (a test page and its scripts).
    pub fn static_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.static_dir = Some(dir.into());
        self
    }

    /// Serves https only, with `certs.server_cert` (valid for 127.0.0.1 and
    /// localhost): the URL starts with `https://`, and clients trust
    /// `certs.ca`.
    pub fn tls(mut self, certs: &crate::CertSet) -> Self {
        self.tls = Some(TlsFiles {
            cert: certs.server_cert.clone(),
            key: certs.server_key.clone(),
        });
        self
    }

    /// Starts the server and returns once it accepts connections.
    ///
    /// # Panics
    /// When the server cannot bind or the configuration is refused.
    pub fn start(self) -> FileServerHandle {
        FileServerHandle::start_with(self)
    }
}

/// A running natsbridge file server, stopped (gracefully, then joined) and
/// its directory removed on drop.
pub struct FileServerHandle {
    addr: SocketAddr,
    url: String,
    token: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    builder: FileServerBuilder,
    // Declared last: removed only after the server thread has stopped.
    dir: tempfile::TempDir,
}

impl FileServerHandle {
    /// Starts a server with no token, no upload limit and no TTL.
    pub fn start() -> FileServerHandle {
        FileServerBuilder::default().start()
    }

    /// Returns a builder for a server with a token, an upload limit or a TTL.
    pub fn builder() -> FileServerBuilder {
        FileServerBuilder::default()
    }

    /// The base URL, `http://127.0.0.1:<port>` (`https://` with
    /// [`FileServerBuilder::tls`]); upload with
    /// `PUT <url>/<id>/<name>`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The directory the server stores files in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The bearer token PUT and DELETE need, if one was set.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Stops the server (as a drop does) but keeps its directory, so
    /// [`FileServerHandle::restart`] serves the same files on the same port.
    /// Connections are refused while it is stopped. Does nothing when stopped.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the file server thread panicked");
        }
    }

    /// Stops the server if it runs, then starts it again on the same port
    /// over the same directory.
    ///
    /// ```
    /// let mut server = natsbridge_testkit::FileServerHandle::start();
    /// let port = server.port();
    /// server.stop();
    /// assert!(std::net::TcpStream::connect(server.addr()).is_err());
    /// server.restart();
    /// assert_eq!(server.port(), port);
    /// assert!(std::net::TcpStream::connect(server.addr()).is_ok());
    /// ```
    pub fn restart(&mut self) {
        self.stop();
        let (addr, url, shutdown, thread) = spawn_server(&self.builder, self.dir.path(), self.addr);
        self.addr = addr;
        self.url = url;
        self.shutdown = Some(shutdown);
        self.thread = Some(thread);
    }

    fn start_with(builder: FileServerBuilder) -> FileServerHandle {
        let dir = tempfile::Builder::new()
            .prefix("natsbridge-files-")
            .tempdir()
            .expect("create a temporary directory for the file server");
        let (addr, url, shutdown, thread) =
            spawn_server(&builder, dir.path(), SocketAddr::from(([127, 0, 0, 1], 0)));
        FileServerHandle {
            addr,
            url,
            token: builder.token.clone(),
            shutdown: Some(shutdown),
            thread: Some(thread),
            builder,
            dir,
        }
    }
}

type Spawned = (
    SocketAddr,
    String,
    tokio::sync::oneshot::Sender<()>,
    JoinHandle<()>,
);

/// Starts the server thread over `dir` on `addr` (port 0: a free one) and
/// waits until it listens.
fn spawn_server(builder: &FileServerBuilder, dir: &Path, addr: SocketAddr) -> Spawned {
    let mut config = Config::new(dir, addr);
    config.token = builder.token.clone();
    config.max_upload = builder.max_upload;
    config.ttl = builder.ttl;
    config.cors_origins = builder.cors_origins.clone();
    config.static_dir = builder.static_dir.clone();
    config.tls = builder.tls.clone();
    if let Some(interval) = builder.cleanup_interval {
        config.cleanup_interval = interval;
    }

    let (ready_tx, ready_rx) = mpsc::channel();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("nb-fileserver".into())
        .spawn(move || run(config, ready_tx, shutdown_rx))
        .expect("spawn the file server thread");
    let (addr, url) = match ready_rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(ready)) => ready,
        Ok(Err(err)) => panic!("the file server did not start: {err}"),
        Err(_) => panic!("the file server did not start within {START_TIMEOUT:?}"),
    };
    (addr, url, shutdown_tx, thread)
}

impl Drop for FileServerHandle {
    fn drop(&mut self) {
        // A panic on the server thread should fail the test, but not turn
        // an unwinding test's drop into an abort (stop checks `panicking`).
        self.stop();
    }
}

type Ready = Result<(SocketAddr, String), std::io::Error>;

/// The server thread: bind, report, serve until told to stop.
fn run(config: Config, ready: mpsc::Sender<Ready>, shutdown: tokio::sync::oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("nb-fileserver-worker")
        .enable_all()
        .build()
        .expect("build the file server's tokio runtime");
    let server = match runtime.block_on(FileServer::bind(config)) {
        Ok(server) => server,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let _ = ready.send(Ok((server.local_addr(), server.url())));
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve_with_shutdown(async {
            let _ = stop_rx.await;
        }));
        // A dropped handle without a send also means stop.
        let _ = shutdown.await;
        let _ = stop_tx.send(());
        match tokio::time::timeout(SHUTDOWN_GRACE, serving).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => eprintln!("natsbridge-testkit: the file server failed: {err}"),
            Ok(Err(err)) => eprintln!("natsbridge-testkit: the file server task failed: {err}"),
            Err(_) => eprintln!(
                "natsbridge-testkit: file server requests still running after {SHUTDOWN_GRACE:?}; stopping anyway"
            ),
        }
    });
    // Dropping the runtime would wait for blocking-pool disk work without
    // limit; bound that wait too.
    runtime.shutdown_timeout(Duration::from_secs(1));
}
