//! Test support shared by every natsbridge test suite.
//!
//! - [`NatsServer`] starts a real `nats-server` with JetStream on a free
//!   loopback port and a temporary store directory, and stops it on drop.
//! - [`NatsCluster`] starts several of them joined by routes into one
//!   cluster with clustered JetStream (distinct `server_name` and stores).
//! - [`FileServerHandle`] runs the natsbridge file server in process on a free
//!   loopback port over a temporary directory, and stops it on drop.
//! - [`FaultServer`] is a scripted HTTP server that misbehaves on cue (errors,
//!   redirects, lying lengths, delays, dropped connections) and records what
//!   it was sent; [`closed_port`] gives a port nothing listens on.
//!
//! Suites written in other languages (Python, Node, C, Julia, MicroPython) get
//! the same servers through the `nb-testenv` binary, which prints their URLs
//! as one JSON line.
//!
//! Everything here panics with a readable message on failure: it is test code,
//! and a panic is how a test fails.

#![warn(missing_docs)]

mod auth;
mod certs;
mod cluster;
mod fault;
mod fileserver;
mod plik;

pub use auth::{NkeyUser, OperatorSetup};
pub use certs::{CertSet, TestCerts};
pub use cluster::{NatsCluster, NatsClusterBuilder};
pub use fault::{FaultServer, RecordedRequest, Reply, closed_port, pattern};
pub use fileserver::{FileServerBuilder, FileServerHandle};
pub use plik::PlikServer;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to start listening before the harness gives up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

const INSTALL_HINT: &str = "nats-server was not found. Install it with `apt-get install -y nats-server` \
     (Debian/Ubuntu), or put a nats-server binary on PATH, or set NATS_SERVER_BIN to its path.";

/// Configuration for a [`NatsServer`]; build with [`NatsServer::builder`].
#[derive(Debug, Clone, Default)]
pub struct NatsServerBuilder {
    max_payload: Option<usize>,
    no_jetstream: bool,
    token: Option<String>,
    user_password: Option<(String, String)>,
    port: Option<u16>,
    store_dir: Option<PathBuf>,
    extra_config: String,
    kill_with_parent: bool,
    websocket: bool,
    websocket_port: Option<u16>,
    tls: Option<TlsConfig>,
    nkey_users: Vec<String>,
    operator: Option<String>,
}

/// The server side of TLS: its certificate and key, and the CA its clients'
/// certificates must chain to when it verifies them (mutual TLS).
#[derive(Debug, Clone)]
struct TlsConfig {
    cert: PathBuf,
    key: PathBuf,
    verify_clients_with: Option<PathBuf>,
}

impl NatsServerBuilder {
    /// Sets the server's `max_payload` (bytes); the default is nats-server's 1 MiB.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = Some(bytes);
        self
    }

    /// Starts the server without JetStream.
    pub fn without_jetstream(mut self) -> Self {
        self.no_jetstream = true;
        self
    }

    /// Requires clients to authenticate with this token.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Requires clients to authenticate with this user and password.
    pub fn user_password(mut self, user: &str, password: &str) -> Self {
        self.user_password = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Requires TLS, presenting `certs.server_cert` (valid for 127.0.0.1 and
    /// localhost); clients trust `certs.ca`.
    pub fn tls(mut self, certs: &CertSet) -> Self {
        self.tls = Some(TlsConfig {
            cert: certs.server_cert.clone(),
            key: certs.server_key.clone(),
            verify_clients_with: None,
        });
        self
    }

    /// Requires mutual TLS: as [`NatsServerBuilder::tls`], and every client
    /// must present a certificate signed by `certs.ca` (`verify: true`).
    pub fn mutual_tls(mut self, certs: &CertSet) -> Self {
        self.tls = Some(TlsConfig {
            cert: certs.server_cert.clone(),
            key: certs.server_key.clone(),
            verify_clients_with: Some(certs.ca.clone()),
        });
        self
    }

    /// Requires clients to authenticate with an nkey; accepts this user's
    /// public key (repeatable).
    pub fn nkey_user(mut self, public_key: &str) -> Self {
        self.nkey_users.push(public_key.to_owned());
        self
    }

    /// Runs in operator mode (decentralized JWT auth): clients authenticate
    /// with the setup's `.creds` file.
    pub fn operator(mut self, setup: &OperatorSetup) -> Self {
        self.operator = Some(setup.server_config());
        self
    }

    /// Listens on this port instead of a free one (used to restart a server in place).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Keeps JetStream data in this directory instead of a fresh temporary one.
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store_dir = Some(dir.into());
        self
    }

    /// Also listens for NATS over WebSocket (no TLS) on a free loopback port,
    /// for browser clients: see [`NatsServer::websocket_url`].
    pub fn websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// Appends raw lines to the generated server configuration.
    pub fn extra_config(mut self, config: &str) -> Self {
        self.extra_config.push_str(config);
        self.extra_config.push('\n');
        self
    }

    /// Has the kernel kill the server when the thread that started it exits
    /// (Linux `PR_SET_PDEATHSIG`), so a harness killed with SIGKILL leaves no
    /// server behind. Only for a process's main thread: a test thread that
    /// exits would take the server with it.
    pub fn kill_with_parent(mut self) -> Self {
        self.kill_with_parent = true;
        self
    }

    /// Starts the server and waits until it accepts connections.
    ///
    /// # Panics
    /// When nats-server is missing (the message says how to install it) or does
    /// not start listening within 15 s (the message includes its log).
    pub fn start(self) -> NatsServer {
        NatsServer::start_with(self)
    }
}

/// A running `nats-server` process, stopped and cleaned up on drop.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    websocket_port: Option<u16>,
    work_dir: tempfile::TempDir,
    store_dir: PathBuf,
    config: NatsServerBuilder,
}

impl NatsServer {
    /// Starts a JetStream-enabled server on a free loopback port.
    pub fn start() -> NatsServer {
        NatsServerBuilder::default().start()
    }

    /// Returns a builder for a server with non-default settings.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
    }

    /// The client URL, `nats://127.0.0.1:<port>`, without credentials.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The WebSocket URL, `ws://127.0.0.1:<port>`, when started with
    /// [`NatsServerBuilder::websocket`].
    pub fn websocket_url(&self) -> Option<String> {
        self.websocket_port
            .map(|port| format!("ws://127.0.0.1:{port}"))
    }

    /// The JetStream store directory (survives [`NatsServer::restart`]).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Kills the server process (SIGKILL) without cleaning up its store.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, then starts it again on the same port with
    /// the same JetStream store.
    pub fn restart(&mut self) {
        self.kill();
        let mut config = self
            .config
            .clone()
            .port(self.port)
            .store_dir(self.store_dir.clone());
        config.websocket_port = self.websocket_port;
        let (child, port, websocket_port) = spawn(&config, self.work_dir.path(), &self.store_dir);
        self.child = Some(child);
        self.port = port;
        self.websocket_port = websocket_port;
    }

    fn start_with(config: NatsServerBuilder) -> NatsServer {
        let work_dir = tempfile::Builder::new()
            .prefix("natsbridge-nats-")
            .tempdir()
            .expect("create a temporary directory for nats-server");
        let store_dir = config
            .store_dir
            .clone()
            .unwrap_or_else(|| work_dir.path().join("jetstream"));
        let (child, port, websocket_port) = spawn(&config, work_dir.path(), &store_dir);
        NatsServer {
            child: Some(child),
            port,
            websocket_port,
            work_dir,
            store_dir,
            config,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn nats_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

/// Writes a config file, starts nats-server, and returns it with its port once
/// it accepts TCP connections.
fn spawn(
    config: &NatsServerBuilder,
    work_dir: &Path,
    store_dir: &Path,
) -> (Child, u16, Option<u16>) {
    let ports_dir = work_dir.join("ports");
    let _ = std::fs::remove_dir_all(&ports_dir);
    std::fs::create_dir_all(&ports_dir).expect("create the ports directory");
    let port = config.port.map(i64::from).unwrap_or(-1);
    let mut conf = format!(
        "listen: \"127.0.0.1:{port}\"\nports_file_dir: {}\n",
        json_string(&ports_dir)
    );
    if !config.no_jetstream {
        conf.push_str(&format!(
            "jetstream {{\n  store_dir: {}\n}}\n",
            json_string(store_dir)
        ));
    }
    if let Some(max_payload) = config.max_payload {
        conf.push_str(&format!("max_payload: {max_payload}\n"));
    }
    match (&config.token, &config.user_password) {
        (Some(token), _) => conf.push_str(&format!(
            "authorization {{\n  token: {}\n}}\n",
            serde_json::Value::String(token.clone())
        )),
        (None, Some((user, password))) => conf.push_str(&format!(
            "authorization {{\n  user: {}\n  password: {}\n}}\n",
            serde_json::Value::String(user.clone()),
            serde_json::Value::String(password.clone())
        )),
        (None, None) => {}
    }
    if !config.nkey_users.is_empty() {
        let users: Vec<String> = config
            .nkey_users
            .iter()
            .map(|key| format!("    {{ nkey: {} }}", serde_json::Value::String(key.clone())))
            .collect();
        conf.push_str(&format!(
            "authorization {{\n  users: [\n{}\n  ]\n}}\n",
            users.join("\n")
        ));
    }
    if let Some(operator) = &config.operator {
        conf.push_str(operator);
    }
    if let Some(tls) = &config.tls {
        conf.push_str(&format!(
            "tls {{\n  cert_file: {}\n  key_file: {}\n  timeout: 2\n",
            json_string(&tls.cert),
            json_string(&tls.key)
        ));
        if let Some(ca) = &tls.verify_clients_with {
            conf.push_str(&format!("  ca_file: {}\n  verify: true\n", json_string(ca)));
        }
        conf.push_str("}\n");
    }
    if config.websocket {
        let port = config.websocket_port.map(i64::from).unwrap_or(-1);
        conf.push_str(&format!(
            "websocket {{\n  host: 127.0.0.1\n  port: {port}\n  no_tls: true\n}}\n"
        ));
    }
    conf.push_str(&config.extra_config);
    let conf_path = work_dir.join("nats-server.conf");
    std::fs::write(&conf_path, conf).expect("write the nats-server config");
    let log_path = work_dir.join("nats-server.log");

    let bin = nats_server_bin();
    let mut command = Command::new(&bin);
    if config.kill_with_parent {
        set_parent_death_signal(&mut command);
    }
    let mut child = command
        .arg("-c")
        .arg(&conf_path)
        .arg("-l")
        .arg(&log_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("could not run {}: {err}. {INSTALL_HINT}", bin.display()));

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("poll nats-server") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!(
                "nats-server exited with {status} before listening.\nstderr: {stderr}\nlog: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        if let Some(port) = read_port(&ports_dir, "nats") {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let websocket_port = read_port(&ports_dir, "websocket");
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && jetstream_ready(config, &log_path)
                && (!config.websocket || websocket_port.is_some())
            {
                return (child, port, websocket_port.filter(|_| config.websocket));
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "nats-server did not start listening within {START_TIMEOUT:?}.\nlog: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server opens its client port before JetStream has finished recovering
/// its store; wait for the log line that says it is ready.
fn jetstream_ready(config: &NatsServerBuilder, log_path: &Path) -> bool {
    config.no_jetstream
        || std::fs::File::open(log_path)
            .map(|file| {
                BufReader::new(file)
                    .lines()
                    .map_while(Result::ok)
                    .any(|line| line.contains("Server is ready"))
            })
            .unwrap_or(false)
}

/// Reads the port of a listener (`nats`, `websocket`) from the `*.ports`
/// file nats-server writes into `ports_file_dir` once it listens.
fn read_port(ports_dir: &Path, listener: &str) -> Option<u16> {
    let entry = std::fs::read_dir(ports_dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| entry.path().extension().is_some_and(|ext| ext == "ports"))?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let ports: serde_json::Value = serde_json::from_str(&text).ok()?;
    let client = ports.get(listener)?.as_array()?.first()?.as_str()?;
    client.rsplit(':').next()?.parse().ok()
}

fn json_string(path: &Path) -> String {
    serde_json::Value::String(path.to_string_lossy().into_owned()).to_string()
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_command: &mut Command) {}
