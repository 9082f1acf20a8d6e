//! `nb-testenv`: starts the servers every natsbridge test suite needs and
//! prints where they are, so suites in any language share one harness.
//!
//! Prints exactly one JSON line on stdout once everything accepts connections:
//! `{"nats_url":"nats://127.0.0.1:PORT","nats_port":PORT,"store_dir":"...",
//! "fileserver_url":"http://127.0.0.1:PORT","fileserver_dir":"..."}`
//! (the two file server fields are `null` with `--no-fileserver`), then keeps
//! the servers up until its stdin reaches end-of-file (the parent closed the
//! pipe or exited) or it gets SIGTERM/SIGINT, and removes them.
//!
//! Options: `--max-payload BYTES`, `--no-jetstream`, `--token TOKEN` (for
//! NATS), `--no-fileserver`, `--fileserver-token TOKEN` (required for PUT and
//! DELETE on the file server; GET stays public), `--websocket` (NATS also
//! over WebSocket, for browsers: the line gains `"ws_url":"ws://127.0.0.1:PORT"`,
//! `null` without it), `--cors-origin ORIGIN` (repeatable: the file server
//! answers CORS for pages of that origin, or `*`), `--static-dir DIR` (the
//! file server also serves DIR read-only under `/app/`).
//!
//! TLS and authentication (issue 19 item 3): `--tls` (NATS requires TLS with
//! a certificate of a CA made at start), `--mtls` (also requires a client
//! certificate from that CA), `--fileserver-tls` (the file server speaks
//! https with the same server certificate), `--user USER --password PW`,
//! `--nkey` (a user nkey is generated and required), `--creds` (operator mode:
//! an operator/account/user JWT setup signed with nkeys, `resolver: MEMORY`).
//! The line then also carries, `null` when not made: `tls_ca`,
//! `tls_client_cert`, `tls_client_key` (trusted), `tls_untrusted_ca`,
//! `tls_untrusted_client_cert`, `tls_untrusted_client_key` (a second CA
//! nobody trusts), `nkey_seed` and `stranger_nkey_seed` (a seed the server
//! does not accept), `creds_file` and `foreign_creds_file` (a user of an
//! account the server does not know).

use std::io::{Read, Write};

use natsbridge_testkit::{FileServerHandle, NatsServer, NkeyUser, OperatorSetup, TestCerts};
use tokio::signal::unix::{Signal, SignalKind, signal};

const USAGE: &str = "usage: nb-testenv [--max-payload BYTES] [--no-jetstream] [--token TOKEN] \
     [--no-fileserver] [--fileserver-token TOKEN] [--websocket] [--cors-origin ORIGIN]... \
     [--static-dir DIR] [--tls] [--mtls] [--fileserver-tls] [--user USER --password PW] \
     [--nkey] [--creds]";

fn main() {
    let mut builder = NatsServer::builder().kill_with_parent();
    let mut fileserver = Some(FileServerHandle::builder());
    let mut fileserver_token = None;
    let (mut tls, mut mtls, mut fileserver_tls, mut nkey, mut creds) =
        (false, false, false, false, false);
    let (mut user, mut password) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-payload" => {
                let value = args.next().and_then(|v| v.parse().ok());
                builder = builder.max_payload(
                    value.unwrap_or_else(|| usage("--max-payload needs a number of bytes")),
                );
            }
            "--no-jetstream" => builder = builder.without_jetstream(),
            "--token" => {
                let token = args
                    .next()
                    .unwrap_or_else(|| usage("--token needs a value"));
                builder = builder.token(&token);
            }
            "--no-fileserver" => fileserver = None,
            "--websocket" => builder = builder.websocket(),
            "--cors-origin" => {
                let origin = args
                    .next()
                    .unwrap_or_else(|| usage("--cors-origin needs an origin or '*'"));
                fileserver = fileserver.map(|b| b.cors_origin(&origin));
            }
            "--static-dir" => {
                let dir = args
                    .next()
                    .unwrap_or_else(|| usage("--static-dir needs a directory"));
                fileserver = fileserver.map(|b| b.static_dir(dir));
            }
            "--fileserver-token" => {
                let token = args
                    .next()
                    .filter(|token| !token.is_empty())
                    .unwrap_or_else(|| usage("--fileserver-token needs a non-empty value"));
                fileserver_token = Some(token);
            }
            "--tls" => tls = true,
            "--mtls" => mtls = true,
            "--fileserver-tls" => fileserver_tls = true,
            "--nkey" => nkey = true,
            "--creds" => creds = true,
            "--user" => user = Some(args.next().unwrap_or_else(|| usage("--user needs a value"))),
            "--password" => {
                password = Some(
                    args.next()
                        .unwrap_or_else(|| usage("--password needs a value")),
                )
            }
            other => usage(&format!("unknown option {other}")),
        }
    }
    if fileserver.is_none() && fileserver_token.is_some() {
        usage("--fileserver-token and --no-fileserver contradict each other");
    }
    let certs = (tls || mtls || fileserver_tls).then(TestCerts::generate);
    if let Some(certs) = &certs {
        if mtls {
            builder = builder.mutual_tls(&certs.trusted);
        } else if tls {
            builder = builder.tls(&certs.trusted);
        }
        if fileserver_tls {
            fileserver = Some(
                fileserver
                    .unwrap_or_else(|| {
                        usage("--fileserver-tls and --no-fileserver contradict each other")
                    })
                    .tls(&certs.trusted),
            );
        }
    }
    match (&user, &password) {
        (Some(user), Some(password)) => builder = builder.user_password(user, password),
        (None, None) => {}
        _ => usage("--user and --password go together"),
    }
    let nkey_user = nkey.then(NkeyUser::generate);
    let stranger = nkey.then(NkeyUser::generate);
    if let Some(user) = &nkey_user {
        builder = builder.nkey_user(user.public_key());
    }
    let creds_dir = tempfile::Builder::new()
        .prefix("natsbridge-creds-")
        .tempdir()
        .expect("create a temporary directory for credentials");
    let operator = creds.then(|| OperatorSetup::generate(creds_dir.path()));
    if let Some(operator) = &operator {
        builder = builder.operator(operator);
    }
    // Catch the signals before anything starts, so one arriving at any point
    // after this still leads to a clean stop.
    let stop = StopSignals::install();
    let nats = builder.start();
    // The file server is a thread of this process, so it ends with it: the
    // kill-with-parent guarantee needs nothing extra here.
    let fileserver = fileserver.map(|builder| match &fileserver_token {
        Some(token) => builder.token(token).start(),
        None => builder.start(),
    });
    let line = serde_json::json!({
        "nats_url": nats.url(),
        "nats_port": nats.port(),
        "ws_url": nats.websocket_url(),
        "store_dir": nats.store_dir(),
        "fileserver_url": fileserver.as_ref().map(FileServerHandle::url),
        "fileserver_dir": fileserver.as_ref().map(FileServerHandle::dir),
        "tls_ca": certs.as_ref().map(|c| &c.trusted.ca),
        "tls_client_cert": certs.as_ref().map(|c| &c.trusted.client_cert),
        "tls_client_key": certs.as_ref().map(|c| &c.trusted.client_key),
        "tls_untrusted_ca": certs.as_ref().map(|c| &c.untrusted.ca),
        "tls_untrusted_client_cert": certs.as_ref().map(|c| &c.untrusted.client_cert),
        "tls_untrusted_client_key": certs.as_ref().map(|c| &c.untrusted.client_key),
        "nkey_seed": nkey_user.as_ref().map(NkeyUser::seed),
        "stranger_nkey_seed": stranger.as_ref().map(NkeyUser::seed),
        "creds_file": operator.as_ref().map(OperatorSetup::creds_file),
        "foreign_creds_file": operator.as_ref().map(OperatorSetup::foreign_creds_file),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").expect("write to stdout");
    stdout.flush().expect("flush stdout");
    drop(stdout);

    stop.wait();
    // Dropping the handles stops the servers and removes their directories.
    drop(fileserver);
    drop(nats);
    drop(certs);
    drop(creds_dir);
}

/// SIGTERM and SIGINT, caught (rather than left to kill the process) so the
/// temporary directories are still removed.
struct StopSignals {
    runtime: tokio::runtime::Runtime,
    terminate: Signal,
    interrupt: Signal,
}

impl StopSignals {
    fn install() -> StopSignals {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime");
        let _context = runtime.enter();
        let terminate = signal(SignalKind::terminate()).expect("install a SIGTERM handler");
        let interrupt = signal(SignalKind::interrupt()).expect("install a SIGINT handler");
        StopSignals {
            runtime,
            terminate,
            interrupt,
        }
    }

    /// Blocks until stdin reaches end-of-file or a signal arrived (also one
    /// that arrived before this call).
    fn wait(mut self) {
        self.runtime.block_on(async {
            let stdin_closed = tokio::task::spawn_blocking(|| {
                let mut sink = [0u8; 256];
                let mut stdin = std::io::stdin().lock();
                while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            });
            tokio::select! {
                _ = stdin_closed => {}
                _ = self.terminate.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        });
        // The stdin reader cannot be interrupted; do not wait for it.
        self.runtime.shutdown_background();
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("nb-testenv: {problem}\n{USAGE}");
    std::process::exit(2);
}
