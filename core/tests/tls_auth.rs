//! TLS and authentication against nats-servers that require them (issue 19
//! item 3): a custom CA, mutual TLS, token, user/password, nkey and a
//! `.creds` file from an operator/account/user JWT setup. Each mode round
//! trips; each wrong credential, untrusted CA or missing client certificate
//! fails with a typed error within the connect timeout; no secret shows in
//! an envelope, an error or a `{:?}`.

mod common;

use std::time::{Duration, Instant};

use common::{WAIT, next, subscribe};
use natsbridge::{Bridge, ConnectOptions, Error, ErrorKind, Payload, SendOptions};
use natsbridge_testkit::{NatsServer, NkeyUser, OperatorSetup, TestCerts};

/// The connect timeout of every negative case: a failure must come before it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Sends one message through `bridge` to itself and checks it arrives whole
/// and that no `secret` is in the envelope's bytes.
async fn round_trip(bridge: &Bridge, secrets: &[&str]) {
    let mut sub = subscribe(bridge, "secure.round.trip").await;
    let sent = bridge
        .smartsend(
            "secure.round.trip",
            vec![Payload::text("greeting", "hello over a secured connection")],
            &SendOptions::new(),
        )
        .await
        .expect("send");
    let got = next(&mut sub).await;
    assert_eq!(got.header, sent.header);
    assert_eq!(
        got.payloads[0].value.as_text(),
        Some("hello over a secured connection")
    );
    let wire = String::from_utf8_lossy(sent.wire_bytes()).into_owned();
    for secret in secrets {
        assert!(
            !wire.contains(secret),
            "a secret is in the envelope: {wire}"
        );
    }
}

/// Connects with `options`, expects `kind` before the connect timeout, and
/// checks no `secret` is in the error (message, chain or Debug).
async fn fails_fast(options: ConnectOptions, kind: ErrorKind, secrets: &[&str]) -> Error {
    let started = Instant::now();
    let result = tokio::time::timeout(WAIT, options.connect_timeout(CONNECT_TIMEOUT).connect())
        .await
        .expect("connect returned (no hang)");
    let elapsed = started.elapsed();
    let err = result.expect_err("connecting must fail");
    assert_eq!(err.kind(), kind, "{err:?}");
    assert!(
        elapsed < CONNECT_TIMEOUT,
        "failed after {elapsed:?}, not within the connect timeout {CONNECT_TIMEOUT:?}: {err:?}"
    );
    let shown = format!("{} | {err} | {err:?}", err.full_message());
    for secret in secrets {
        assert!(!shown.contains(secret), "a secret is in the error: {shown}");
    }
    err
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_custom_ca_round_trips() {
    let certs = TestCerts::generate();
    let server = NatsServer::builder()
        .without_jetstream()
        .tls(&certs.trusted)
        .start();
    let bridge = ConnectOptions::new(server.url())
        .tls_ca_file(&certs.trusted.ca)
        .require_tls(true)
        .connect()
        .await
        .expect("connect over TLS");
    round_trip(&bridge, &[]).await;
    // The same by name, as every front end sets it.
    let by_name = ConnectOptions::default()
        .set(
            "natsUrl",
            natsbridge::schema::OptionValue::Text(server.url()),
        )
        .unwrap()
        .set(
            "tls_ca_file",
            natsbridge::schema::OptionValue::Text(certs.trusted.ca.display().to_string()),
        )
        .unwrap()
        .connect()
        .await
        .expect("connect over TLS, options by name");
    round_trip(&by_name, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_server_certificate_is_a_typed_tls_error_in_time() {
    let certs = TestCerts::generate();
    let server = NatsServer::builder()
        .without_jetstream()
        .tls(&certs.trusted)
        .start();
    // Trusting only the other CA.
    let err = fails_fast(
        ConnectOptions::new(server.url()).tls_ca_file(&certs.untrusted.ca),
        ErrorKind::Connection,
        &[],
    )
    .await;
    assert!(err.full_message().contains("TLS"), "{}", err.full_message());
    // Trusting nothing but the system roots.
    let err = fails_fast(
        ConnectOptions::new(server.url()),
        ErrorKind::Connection,
        &[],
    )
    .await;
    assert!(err.full_message().contains("TLS"), "{}", err.full_message());
}

#[tokio::test(flavor = "multi_thread")]
async fn require_tls_refuses_a_server_without_tls_in_time() {
    let server = NatsServer::builder().without_jetstream().start();
    let err = fails_fast(
        ConnectOptions::new(server.url()).require_tls(true),
        ErrorKind::Connection,
        &[],
    )
    .await;
    assert!(err.full_message().contains("TLS"), "{}", err.full_message());
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_round_trips_and_refuses_missing_or_foreign_client_certs() {
    let certs = TestCerts::generate();
    let server = NatsServer::builder()
        .without_jetstream()
        .mutual_tls(&certs.trusted)
        .start();
    let bridge = ConnectOptions::new(server.url())
        .tls_ca_file(&certs.trusted.ca)
        .tls_client_cert(&certs.trusted.client_cert, &certs.trusted.client_key)
        .connect()
        .await
        .expect("connect with a client certificate");
    round_trip(&bridge, &[]).await;

    // No client certificate.
    let err = fails_fast(
        ConnectOptions::new(server.url()).tls_ca_file(&certs.trusted.ca),
        ErrorKind::Connection,
        &[],
    )
    .await;
    assert!(
        err.full_message().contains("TLS") || err.full_message().contains("certificate"),
        "{}",
        err.full_message()
    );
    // A client certificate from a CA the server does not trust.
    fails_fast(
        ConnectOptions::new(server.url())
            .tls_ca_file(&certs.trusted.ca)
            .tls_client_cert(&certs.untrusted.client_cert, &certs.untrusted.client_key),
        ErrorKind::Connection,
        &[],
    )
    .await;
    // Half a client certificate is the caller's mistake, said before any I/O.
    let err = ConnectOptions::new(server.url())
        .tls_ca_file(&certs.trusted.ca)
        .tls_client_cert_file(&certs.trusted.client_cert)
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_auth_round_trips_and_a_wrong_token_is_an_auth_error_in_time() {
    let token = "tok-9f2c-secret";
    let server = NatsServer::builder()
        .without_jetstream()
        .token(token)
        .start();
    let options = ConnectOptions::new(server.url()).token(token);
    assert!(!format!("{options:?}").contains(token), "{options:?}");
    let bridge = options.connect().await.expect("connect with the token");
    round_trip(&bridge, &[token]).await;
    assert!(!format!("{bridge:?}").contains(token));

    let wrong = "tok-wrong-7d1e";
    fails_fast(
        ConnectOptions::new(server.url()).token(wrong),
        ErrorKind::Auth,
        &[wrong, token],
    )
    .await;
    let in_url = format!("nats://{wrong}@127.0.0.1:{}", server.port());
    fails_fast(ConnectOptions::new(in_url), ErrorKind::Auth, &[wrong]).await;
    fails_fast(ConnectOptions::new(server.url()), ErrorKind::Auth, &[token]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_password_over_tls_round_trips_and_a_wrong_password_is_an_auth_error_in_time() {
    let certs = TestCerts::generate();
    let password = "pw-over-tls-51c9";
    let server = NatsServer::builder()
        .without_jetstream()
        .tls(&certs.trusted)
        .user_password("alice", password)
        .start();
    let bridge = ConnectOptions::new(server.url())
        .tls_ca_file(&certs.trusted.ca)
        .user_password("alice", password)
        .connect()
        .await
        .expect("connect with user and password over TLS");
    round_trip(&bridge, &[password]).await;

    let wrong = "pw-wrong-0a4b";
    fails_fast(
        ConnectOptions::new(server.url())
            .tls_ca_file(&certs.trusted.ca)
            .user_password("alice", wrong),
        ErrorKind::Auth,
        &[wrong, password],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nkey_auth_round_trips_and_an_unknown_nkey_is_an_auth_error_in_time() {
    let user = NkeyUser::generate();
    let server = NatsServer::builder()
        .without_jetstream()
        .nkey_user(user.public_key())
        .start();
    let options = ConnectOptions::new(server.url()).nkey(user.seed());
    assert!(!format!("{options:?}").contains(user.seed()));
    let bridge = options.connect().await.expect("connect with the nkey");
    round_trip(&bridge, &[user.seed()]).await;

    let stranger = NkeyUser::generate();
    fails_fast(
        ConnectOptions::new(server.url()).nkey(stranger.seed()),
        ErrorKind::Auth,
        &[stranger.seed(), user.seed()],
    )
    .await;
    // A seed that is not an nkey at all is refused without leaking it.
    let garbage = "SUNOTAREALSEEDATALL";
    let err = ConnectOptions::new(server.url())
        .nkey(garbage)
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Auth | ErrorKind::Connection),
        "{err:?}"
    );
    assert!(!format!("{} {err:?}", err.full_message()).contains(garbage));
}

#[tokio::test(flavor = "multi_thread")]
async fn creds_file_from_an_operator_setup_round_trips_and_a_foreign_one_is_refused_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let setup = OperatorSetup::generate(dir.path());
    let server = NatsServer::builder()
        .without_jetstream()
        .operator(&setup)
        .start();
    let creds = std::fs::read_to_string(setup.creds_file()).unwrap();
    let jwt = creds.lines().nth(1).unwrap().to_owned();
    let bridge = ConnectOptions::new(server.url())
        .credentials_file(setup.creds_file())
        .connect()
        .await
        .expect("connect with the .creds file");
    round_trip(&bridge, &[setup.user_seed(), &jwt]).await;

    // A correctly signed user of an account the server does not know.
    let foreign = std::fs::read_to_string(setup.foreign_creds_file()).unwrap();
    let foreign_seed = foreign
        .lines()
        .find(|line| line.starts_with("SU"))
        .unwrap()
        .to_owned();
    fails_fast(
        ConnectOptions::new(server.url()).credentials_file(setup.foreign_creds_file()),
        ErrorKind::Auth,
        &[&foreign_seed, setup.user_seed()],
    )
    .await;
    // No credentials at all.
    fails_fast(ConnectOptions::new(server.url()), ErrorKind::Auth, &[]).await;
    // A missing file is an Auth error naming the file, before any I/O.
    let err = ConnectOptions::new(server.url())
        .credentials_file(dir.path().join("missing.creds"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    assert!(err.full_message().contains("missing.creds"), "{err:?}");
}

/// Link payloads through an https file server whose certificate only the
/// bridge's `tls_ca_file` makes trusted: the upload and the download both
/// verify it; a receiver without the CA refuses the download.
#[tokio::test(flavor = "multi_thread")]
async fn link_payloads_go_through_an_https_file_server_trusted_by_tls_ca_file() {
    use natsbridge::{ReceiveOptions, Transport};
    use natsbridge_testkit::FileServerHandle;
    let certs = TestCerts::generate();
    let files = FileServerHandle::builder()
        .token("fs-token-3e8a")
        .tls(&certs.trusted)
        .start();
    assert!(
        files.url().starts_with("https://127.0.0.1:"),
        "{}",
        files.url()
    );
    let server = NatsServer::builder()
        .without_jetstream()
        .tls(&certs.trusted)
        .start();
    let bridge = ConnectOptions::new(server.url())
        .tls_ca_file(&certs.trusted.ca)
        .fileserver_url(files.url())
        .fileserver_token("fs-token-3e8a")
        .connect()
        .await
        .expect("connect over TLS");
    let big: Vec<u8> = common::pattern(300_000);
    let mut sub = subscribe(&bridge, "secure.links").await;
    let sent = bridge
        .smartsend(
            "secure.links",
            vec![Payload::bytes(
                "blob",
                natsbridge::PayloadType::Binary,
                big.clone(),
            )],
            &SendOptions::new().size_threshold(1000),
        )
        .await
        .expect("upload over https");
    assert_eq!(sent.payloads[0].transport, Transport::Link);
    let url = sent.payload_data(0).to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let wire = String::from_utf8_lossy(sent.wire_bytes()).into_owned();
    assert!(!wire.contains("fs-token-3e8a"), "{wire}");
    // The subscription downloads with the bridge's CA.
    let got = next(&mut sub).await;
    assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == big.as_slice());

    // A bridge that does not trust the CA refuses the download, in time.
    let plain = NatsServer::builder().without_jetstream().start();
    let untrusting = Bridge::connect(&plain.url()).await.unwrap();
    let started = Instant::now();
    let err = untrusting
        .smartreceive_bytes(sent.wire_bytes(), &ReceiveOptions::new().max_retries(0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download, "{err:?}");
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
}
