//! The harness itself: the nats-server wrapper, the in-process file server and
//! the `nb-testenv` binary start, serve, and clean up after themselves.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use natsbridge_testkit::{FileServerHandle, NatsServer};

/// Upper bound for any wait in these tests.
const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn refuses(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
}

/// The first line a NATS server sends is its INFO.
fn nats_info(port: u16) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to nats-server");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("read INFO");
    line
}

/// A synchronous face on reqwest: these tests are plain `#[test]`s, so the
/// servers' own threads and runtimes are all that run besides the test.
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// Status and body of an HTTP response.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Http {
    fn new() -> Http {
        Http {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(DEADLINE)
                .build()
                .unwrap(),
        }
    }

    fn send(&self, method: &str, url: &str, token: Option<&str>, body: &[u8]) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, url).body(body.to_vec());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.runtime.block_on(async {
            let response = request.send().await.expect("HTTP request");
            let status = response.status().as_u16();
            let body = response.bytes().await.expect("HTTP body").to_vec();
            Answer { status, body }
        })
    }
}

#[test]
fn nats_server_starts_restarts_and_stops() {
    let mut nats = NatsServer::start();
    assert!(nats.url().starts_with("nats://127.0.0.1:"));
    let info = nats_info(nats.port());
    assert!(info.starts_with("INFO "), "{info}");
    assert!(info.contains("\"jetstream\":true"), "{info}");
    assert!(nats.store_dir().is_dir());

    let port = nats.port();
    nats.restart();
    assert_eq!(nats.port(), port, "restart keeps the port");
    assert!(nats_info(port).starts_with("INFO "));

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    drop(nats);
    wait_until("nats-server stops listening", || refuses(addr));
}

#[test]
fn nats_server_options_reach_the_server() {
    let nats = NatsServer::builder()
        .max_payload(4096)
        .without_jetstream()
        .start();
    let info = nats_info(nats.port());
    assert!(info.contains("\"max_payload\":4096"), "{info}");
    assert!(!info.contains("\"jetstream\":true"), "{info}");
}

#[test]
fn file_server_handle_serves_its_directory_and_cleans_up() {
    let server = FileServerHandle::start();
    let dir = server.dir().to_path_buf();
    let addr = server.addr();
    assert_eq!(server.url(), format!("http://127.0.0.1:{}", server.port()));
    let client = Http::new();

    let put = client.send(
        "PUT",
        &format!("{}/id/name", server.url()),
        None,
        b"payload",
    );
    assert_eq!(put.status, 201);
    assert_eq!(
        String::from_utf8(put.body).unwrap(),
        format!("{}/id/name", server.url())
    );
    assert_eq!(std::fs::read(dir.join("id/name")).unwrap(), b"payload");
    let get = client.send("GET", &format!("{}/id/name", server.url()), None, b"");
    assert_eq!((get.status, get.body.as_slice()), (200, &b"payload"[..]));

    drop(server);
    assert!(refuses(addr), "the listener is closed once drop returns");
    assert!(!dir.exists(), "the directory is removed");
}

#[test]
fn file_server_handle_applies_its_options() {
    let server = FileServerHandle::builder()
        .token("t0ken")
        .max_upload(10)
        .ttl(Duration::from_millis(500))
        .cleanup_interval(Duration::from_millis(100))
        .start();
    assert_eq!(server.token(), Some("t0ken"));
    let client = Http::new();
    let url = format!("{}/o/file", server.url());

    assert_eq!(client.send("PUT", &url, None, b"small").status, 401);
    assert_eq!(
        client
            .send("PUT", &url, Some("t0ken"), b"more than ten bytes")
            .status,
        413
    );
    assert_eq!(
        client.send("PUT", &url, Some("t0ken"), b"small").status,
        201
    );
    assert!(server.dir().join("o/file").exists());
    wait_until("the file expires and is swept", || {
        !server.dir().join("o").exists()
    });
    assert_eq!(client.send("GET", &url, None, b"").status, 404);
}

#[test]
fn file_server_handle_drop_is_bounded_with_a_stuck_client() {
    let server = FileServerHandle::start();
    let addr = server.addr();
    let mut stuck = TcpStream::connect(addr).unwrap();
    stuck
        .write_all(b"PUT /stuck/file HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npart")
        .unwrap();
    wait_until("the upload starts", || {
        std::fs::read_dir(server.dir()).is_ok_and(|mut entries| entries.next().is_some())
    });
    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(refuses(addr));
}

/// A running `nb-testenv` and the JSON line it printed.
struct TestEnv {
    child: Child,
    info: serde_json::Value,
}

impl TestEnv {
    fn start(args: &[&str]) -> TestEnv {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nb-testenv"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run nb-testenv");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(DEADLINE)
            .expect("nb-testenv prints its line in time");
        let info = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line:?}"));
        TestEnv { child, info }
    }

    fn str(&self, key: &str) -> &str {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {}", self.info))
    }

    fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "nb-testenv did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn nb_testenv_serves_nats_and_files_until_stdin_closes() {
    let mut env = TestEnv::start(&["--fileserver-token", "tok"]);
    let nats_port = env.info["nats_port"].as_u64().unwrap() as u16;
    assert_eq!(env.str("nats_url"), format!("nats://127.0.0.1:{nats_port}"));
    assert!(nats_info(nats_port).starts_with("INFO "));
    let store_dir = std::path::PathBuf::from(env.str("store_dir"));
    let files_dir = std::path::PathBuf::from(env.str("fileserver_dir"));
    let files_url = env.str("fileserver_url").to_owned();
    assert!(files_url.starts_with("http://127.0.0.1:"), "{files_url}");

    let client = Http::new();
    let url = format!("{files_url}/id/data");
    assert_eq!(
        client.send("PUT", &url, None, b"x").status,
        401,
        "the token is enforced"
    );
    assert_eq!(client.send("PUT", &url, Some("tok"), b"x").status, 201);
    assert_eq!(std::fs::read(files_dir.join("id/data")).unwrap(), b"x");
    assert_eq!(client.send("GET", &url, None, b"").body, b"x");

    drop(env.child.stdin.take());
    assert!(env.wait_for_exit().success());
    let files_addr: SocketAddr = files_url.trim_start_matches("http://").parse().unwrap();
    assert!(refuses(files_addr), "the file server stopped");
    wait_until("nats-server stops", || {
        refuses(SocketAddr::from(([127, 0, 0, 1], nats_port)))
    });
    assert!(!files_dir.exists(), "the file server directory is removed");
    assert!(!store_dir.exists(), "the JetStream store is removed");
}

#[test]
fn nb_testenv_without_fileserver_reports_null() {
    let mut env = TestEnv::start(&["--no-fileserver", "--no-jetstream"]);
    assert!(env.info["fileserver_url"].is_null(), "{}", env.info);
    assert!(env.info["fileserver_dir"].is_null(), "{}", env.info);
    assert!(env.info["nats_url"].is_string());
    drop(env.child.stdin.take());
    assert!(env.wait_for_exit().success());
}

#[test]
fn nb_testenv_cleans_up_on_sigterm() {
    let mut env = TestEnv::start(&[]);
    let files_dir = std::path::PathBuf::from(env.str("fileserver_dir"));
    assert!(files_dir.is_dir());
    let pid = env.child.id() as libc::pid_t;
    // SAFETY: signals our own child, which is still running (not yet reaped).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(env.wait_for_exit().success(), "SIGTERM is a clean stop");
    assert!(!files_dir.exists(), "the file server directory is removed");
}

#[test]
fn nb_testenv_rejects_bad_options() {
    for args in [
        &["--bogus"][..],
        &["--fileserver-token"],
        &["--no-fileserver", "--fileserver-token", "t"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nb-testenv"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}");
        assert!(stderr.contains("usage: nb-testenv"), "{args:?}: {stderr}");
    }
}
