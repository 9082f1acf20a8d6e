//! The `natsbridge` command end to end, against a real nats-server and file
//! server: send/listen, --save-dir safety, request/respond, the demo, errors.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use natsbridge_testkit::{FileServerHandle, NatsServer, closed_port};
use serde_json::Value;

fn natsbridge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_natsbridge"))
}

/// Starts `natsbridge listen` and waits for its "listening" status line, so
/// what is sent next is not missed.
fn listen(args: &[&str]) -> Child {
    let mut child = natsbridge()
        .arg("listen")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run natsbridge listen");
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = ready_tx.send(());
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("listen did not start");
    child
}

fn finish(child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the listener did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("run natsbridge");
    assert!(
        output.status.success(),
        "natsbridge failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn send_and_listen_round_trip_every_flag_kind() {
    let server = NatsServer::start();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("avatar.png");
    std::fs::write(&image, [0x89, b'P', b'N', b'G']).unwrap();
    let listener = listen(&["/chat/room1", "-s", &server.url(), "--count", "1", "--json"]);
    let sent = run(natsbridge().args([
        "send",
        "/chat/room1",
        "-s",
        &server.url(),
        "--text",
        "message=Hello World",
        "--json-payload",
        r#"config={"update_interval": 60}"#,
        "--file",
        image.to_str().unwrap(),
        "--correlation-id",
        "cli-1",
        "--json",
    ]));
    let sent: Value = serde_json::from_slice(&sent.stdout).unwrap();
    let output = finish(listener);
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(got["msg_id"], sent["msg_id"]);
    assert_eq!(got["correlation_id"], "cli-1");
    let payloads = got["payloads"].as_array().unwrap();
    assert_eq!(payloads[0]["value"], "Hello World");
    assert_eq!(payloads[1]["value"]["update_interval"], 60);
    assert_eq!(payloads[2]["dataname"], "avatar.png");
    assert_eq!(payloads[2]["type"], "image");
    assert_eq!(payloads[2]["value"], "iVBORw==");
}

#[test]
fn save_dir_keeps_hostile_datanames_inside() {
    let server = NatsServer::start();
    let files = FileServerHandle::start();
    let work = tempfile::tempdir().unwrap();
    let save = work.path().join("inbox");
    let big = work.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 1_500_000]).unwrap();
    let listener = listen(&[
        "s",
        "-s",
        &server.url(),
        "--count",
        "1",
        "--save-dir",
        save.to_str().unwrap(),
    ]);
    run(natsbridge().args([
        "send",
        "s",
        "-s",
        &server.url(),
        "--text",
        "../../escape.txt=gotcha",
        "--file",
        big.to_str().unwrap(),
        "--fileserver-url",
        &files.url(),
    ]));
    let output = finish(listener);
    assert!(output.status.success());
    assert!(
        !work.path().join("escape.txt").exists()
            && !save.parent().unwrap().join("escape.txt").exists()
    );
    let mut names: Vec<String> = std::fs::read_dir(&save)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().any(|n| n == "___.._escape.txt"), "{names:?}");
    let linked = names
        .iter()
        .find(|n| *n == "big.bin")
        .expect("the link payload was streamed to the dir under its dataname");
    assert_eq!(std::fs::read(save.join(linked)).unwrap().len(), 1_500_000);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("saved to"), "{stdout}");
}

#[test]
fn request_and_respond() {
    let server = NatsServer::start();
    let mut responder = natsbridge()
        .args([
            "respond",
            "/device/command",
            "-s",
            &server.url(),
            "--count",
            "1",
        ])
        .args([
            "--json-payload",
            r#"data={"sensor_id": "sensor-001", "value": 42.5}"#,
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = responder.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.contains("answering requests") {
            break;
        }
    }
    let output = run(natsbridge().args([
        "request",
        "/device/command",
        "-s",
        &server.url(),
        "--json-payload",
        r#"command={"action": "read_sensor"}"#,
        "--json",
        "--timeout",
        "10",
    ]));
    let reply: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reply["msg_purpose"], "response");
    assert_eq!(reply["payloads"][0]["value"]["value"], 42.5);
    assert!(responder.wait().unwrap().success());
}

#[test]
fn the_demo_runs_with_either_store() {
    let server = NatsServer::start();
    let files = FileServerHandle::start();
    for extra in [vec![], vec!["--fileserver-url".to_owned(), files.url()]] {
        let output = run(natsbridge()
            .args(["demo", "-s", &server.url()])
            .args(&extra));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("demo OK"), "{stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("large_document") && stdout.contains("link"),
            "{stdout}"
        );
    }
}

#[test]
fn errors_are_one_clear_line_and_a_failure_status() {
    let output = natsbridge()
        .args([
            "send",
            "s",
            "-s",
            &format!("nats://127.0.0.1:{}", closed_port()),
            "--text",
            "a=b",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to NATS") && stderr.contains("[CONNECTION]"),
        "{stderr}"
    );

    let server = NatsServer::start();
    let output = natsbridge()
        .args(["send", "bad subject", "-s", &server.url(), "--text", "a=b"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("[INVALID_ARGUMENT]"));
    let output = natsbridge()
        .args(["send", "s", "-s", &server.url()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to send"));
    let output = natsbridge()
        .args(["send", "s", "-s", &server.url(), "--text", "novalue"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("NAME=VALUE"));
}

/// Starts `natsbridge <command>` and forwards every stderr line, after
/// waiting for the line containing `ready`.
fn spawn_logged(
    command: &str,
    args: &[&str],
    ready: &str,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = natsbridge()
        .arg(command)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run natsbridge");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("natsbridge {command} did not print {ready:?}"));
        if line.contains(ready) {
            break;
        }
    }
    (child, rx)
}

/// Waits (10 s at most) for a line containing `wanted`; returns it.
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(wanted) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {wanted:?} within 10 s; got {seen:#?}"),
        }
    }
}

fn drain(lines: &std::sync::mpsc::Receiver<String>) -> String {
    std::thread::sleep(Duration::from_millis(100));
    lines.try_iter().collect::<Vec<_>>().join("\n")
}

/// Issue 16 item 4: a request the responder cannot answer (here: nowhere to
/// reply) is logged and skipped; the next one is answered.
#[test]
fn respond_keeps_serving_after_a_request_it_cannot_answer() {
    let server = NatsServer::start();
    let (responder, lines) = spawn_logged(
        "respond",
        &[
            "/svc",
            "-s",
            &server.url(),
            "--count",
            "1",
            "--text",
            "answer=42",
        ],
        "answering requests",
    );
    // A plain message: no reply_to, no NATS reply subject.
    run(natsbridge().args(["send", "/svc", "-s", &server.url(), "--text", "q=1"]));
    let output = run(natsbridge().args([
        "request",
        "/svc",
        "-s",
        &server.url(),
        "--text",
        "q=2",
        "--json",
        "--timeout",
        "10",
    ]));
    let reply: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reply["payloads"][0]["value"], "42");
    let output = finish(responder);
    assert!(output.status.success());
    let log = drain(&lines);
    assert!(
        log.contains("cannot answer") && log.contains("nowhere to reply"),
        "{log}"
    );
}

/// Issue 16 item 1: a request naming a system subject (`$JS.API...`) or a
/// subject outside `--reply-subject-prefixes` as its reply_to is refused,
/// logged with the subject, and skipped; the next request is answered.
#[test]
fn respond_refuses_system_and_unlisted_reply_subjects_and_goes_on() {
    let server = NatsServer::start();
    let (responder, lines) = spawn_logged(
        "respond",
        &[
            "/svc",
            "-s",
            &server.url(),
            "--count",
            "1",
            "--reply-subject-prefixes",
            "_INBOX.",
            "--text",
            "answer=42",
        ],
        "answering requests",
    );
    for reply_to in ["$JS.API.STREAM.PURGE.X", "orders.delete"] {
        run(natsbridge().args([
            "send",
            "/svc",
            "-s",
            &server.url(),
            "--reply-to",
            reply_to,
            "--text",
            "q=1",
        ]));
        let line = wait_for_line(&lines, reply_to);
        assert!(line.contains("cannot answer"), "{line}");
    }
    let output = run(natsbridge().args([
        "request",
        "/svc",
        "-s",
        &server.url(),
        "--text",
        "q=2",
        "--json",
        "--timeout",
        "10",
    ]));
    let reply: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reply["payloads"][0]["value"], "42");
    assert!(finish(responder).status.success());
}

/// Issue 16 item 4: `listen` goes on when saving a message fails.
#[test]
fn listen_keeps_going_when_a_message_cannot_be_saved() {
    let server = NatsServer::start();
    let work = tempfile::tempdir().unwrap();
    let not_a_dir = work.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let (listener, lines) = spawn_logged(
        "listen",
        &[
            "s",
            "-s",
            &server.url(),
            "--count",
            "2",
            "--save-dir",
            not_a_dir.to_str().unwrap(),
        ],
        "listening on",
    );
    for text in ["a=first", "a=second"] {
        run(natsbridge().args(["send", "s", "-s", &server.url(), "--text", text]));
    }
    let output = finish(listener);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\"first\"") && stdout.contains("\"second\""),
        "{stdout}"
    );
    assert!(drain(&lines).contains("could not save"));
}

/// Issue 16 item 11: `--strict-addresses` refuses a link to a loopback file
/// server, which the default fetches.
#[test]
fn strict_addresses_refuses_loopback_links() {
    let server = NatsServer::start();
    let files = FileServerHandle::start();
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big.bin");
    std::fs::write(&big, vec![1u8; 1_100_000]).unwrap();
    let send = || {
        run(natsbridge().args([
            "send",
            "s",
            "-s",
            &server.url(),
            "--file",
            big.to_str().unwrap(),
            "--fileserver-url",
            &files.url(),
        ]))
    };
    let (strict, lines) = spawn_logged(
        "listen",
        &[
            "s",
            "-s",
            &server.url(),
            "--count",
            "1",
            "--json",
            "--strict-addresses",
        ],
        "listening on",
    );
    // The summary, not --json: a 1.1 MB value would fill the unread pipe.
    let default = listen(&["s", "-s", &server.url(), "--count", "1"]);
    send();
    let log = wait_for_line(&lines, "skipped a message");
    let output = finish(strict);
    assert!(output.status.success());
    assert!(output.stdout.is_empty(), "{:?}", output.stdout);
    assert!(
        log.contains("[URL_NOT_ALLOWED]") && log.contains("public addresses"),
        "{log}"
    );
    let output = finish(default);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("big.bin") && stdout.contains("link"),
        "{stdout}"
    );
}

/// Issue 16 item 14: `--help` never shows secrets taken from the environment.
#[test]
fn help_does_not_print_secrets_from_the_environment() {
    for command in ["listen", "send", "respond", "request", "fileserver", "demo"] {
        let output = natsbridge()
            .args([command, "--help"])
            .env("NATS_URL", "nats://alice:url-s3cret@127.0.0.1:4222")
            .env("NATS_TOKEN", "token-s3cret")
            .env("NATS_CREDS", "/secret/creds-s3cret.creds")
            .env("NATSBRIDGE_FILESERVER_TOKEN", "fs-s3cret")
            .output()
            .unwrap();
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage"), "{help}");
        assert!(
            !help.contains("s3cret"),
            "{command} --help shows a secret:\n{help}"
        );
    }
}

/// Issue 16 item 14: a password with `/` or `?` is not echoed when the
/// connection fails.
#[test]
fn connect_errors_do_not_echo_passwords() {
    let output = natsbridge()
        .args([
            "send",
            "s",
            "-s",
            &format!("nats://alice:pa/ss?word@127.0.0.1:{}", closed_port()),
            "--text",
            "a=b",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to NATS"), "{stderr}");
    assert!(
        !stderr.contains("pa/ss") && !stderr.contains("ss?word"),
        "{stderr}"
    );
}

/// Issue 16 item 14: `listen` escapes terminal control and bidi characters
/// from message fields, in the summary and in `--json`.
#[test]
fn listen_escapes_control_and_bidi_characters() {
    let server = NatsServer::start();
    let url = server.url();
    for json in [false, true] {
        let mut args = vec!["s", "-s", url.as_str(), "--count", "1"];
        if json {
            args.push("--json");
        }
        let listener = listen(&args);
        run(natsbridge().args([
            "send",
            "s",
            "-s",
            &server.url(),
            "--sender-name",
            "mallory\u{1b}[2J\u{9b}31m",
            "--text",
            "name\u{202e}txt.exe\r=value\u{1b}]0;title\u{7}",
        ]));
        let output = finish(listener);
        let stdout = String::from_utf8_lossy(&output.stdout);
        for raw in ['\u{1b}', '\u{9b}', '\u{202e}', '\r', '\u{7}'] {
            assert!(
                !stdout.contains(raw),
                "json={json}: raw {raw:?} printed: {stdout:?}"
            );
        }
        assert!(stdout.contains("mallory"), "{stdout}");
        if json {
            let got: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(got["sender_name"], "mallory\u{1b}[2J\u{9b}31m");
            assert_eq!(got["payloads"][0]["dataname"], "name\u{202e}txt.exe\r");
        } else {
            assert!(stdout.contains("name\\u{202e}txt.exe"), "{stdout}");
        }
    }
}

/// Link transfers report progress on stderr: plain status lines when stderr
/// is not a terminal (here a pipe), up to 100% of the payload's size, for the
/// upload of `send` and the download of `listen`; `--json` prints none.
#[test]
fn link_transfers_print_progress_lines_unless_json() {
    let server = NatsServer::start();
    let files = FileServerHandle::start();
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 300_000]).unwrap();
    let (listener, lines) = spawn_logged(
        "listen",
        &["progress.cli", "-s", &server.url(), "--count", "1"],
        "listening on",
    );
    let send = |json: bool| {
        let mut command = natsbridge();
        command.args([
            "send",
            "progress.cli",
            "-s",
            &server.url(),
            "--fileserver-url",
            &files.url(),
            "--size-threshold",
            "1000",
            "--file",
            big.to_str().unwrap(),
        ]);
        if json {
            command.arg("--json");
        }
        String::from_utf8_lossy(&run(&mut command).stderr).into_owned()
    };
    let stderr = send(false);
    assert!(
        stderr.contains("uploading big.bin: 0% (0 of 300000 bytes)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("uploading big.bin: 100% (300000 of 300000 bytes)"),
        "{stderr}"
    );
    let line = wait_for_line(&lines, "downloading big.bin: 100%");
    assert!(line.contains("(300000 of 300000 bytes)"), "{line}");
    assert!(finish(listener).status.success());
    let quiet = send(true);
    assert!(!quiet.contains("uploading"), "{quiet}");
}

/// `natsbridge send --jetstream` of one text payload; its msg_id.
fn send_js(server: &NatsServer, subject: &str, text: &str) -> String {
    let sent = run(natsbridge().args([
        "send",
        subject,
        "-s",
        &server.url(),
        "--text",
        &format!("n={text}"),
        "--jetstream",
        "--json",
    ]));
    let sent: Value = serde_json::from_slice(&sent.stdout).unwrap();
    sent["msg_id"].as_str().unwrap().to_owned()
}

/// The msg_ids a `listen --json` printed.
fn printed_ids(output: &Output) -> Vec<String> {
    serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<Value>()
        .map(|v| v.unwrap()["msg_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn listen_durable_acks_what_it_handled_and_naks_what_it_could_not() {
    let server = NatsServer::start();
    let url = server.url();
    run(natsbridge().args([
        "stream",
        "add",
        "CLIDUR",
        "--subject",
        "cli.dur.>",
        "--replicas",
        "1",
        "-s",
        &url,
    ]));
    // A single server cannot keep three copies: a typed error, exit 1.
    let three = natsbridge()
        .args([
            "stream",
            "add",
            "THREE",
            "--subject",
            "three.>",
            "--replicas",
            "3",
            "-s",
            &url,
        ])
        .output()
        .unwrap();
    assert!(!three.status.success());
    assert!(String::from_utf8_lossy(&three.stderr).contains("[JETSTREAM]"));
    let ids: Vec<String> = (0..4)
        .map(|n| send_js(&server, "cli.dur.a", &n.to_string()))
        .collect();
    let durable = |extra: &[&str]| {
        let mut args = vec![
            "cli.dur.>",
            "-s",
            &url,
            "--stream",
            "CLIDUR",
            "--durable",
            "d",
            "--json",
            "--ack-wait",
            "1000",
            "--idle-timeout",
            "3",
        ];
        args.extend_from_slice(extra);
        finish(listen(&args))
    };
    // Handled (printed) and acknowledged: 0 and 1.
    assert_eq!(printed_ids(&durable(&["--count", "2"])), ids[..2]);
    // Saving fails (the directory is a file): 2 is rejected, not printed.
    let work = tempfile::tempdir().unwrap();
    let not_a_dir = work.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let failed = durable(&["--count", "1", "--save-dir", not_a_dir.to_str().unwrap()]);
    // Not printed, and (below) not acknowledged: it comes back.
    assert!(printed_ids(&failed).is_empty());
    // The same durable name gets exactly what was not acknowledged: 2 and 3.
    let mut rest = printed_ids(&durable(&[]));
    rest.sort();
    let mut expected = ids[2..].to_vec();
    expected.sort();
    assert_eq!(rest, expected);
    // Nothing is left.
    assert!(printed_ids(&durable(&[])).is_empty());
    // deliver from a sequence with a new consumer; a bad value is refused.
    let from_three = finish(listen(&[
        "cli.dur.>",
        "-s",
        &url,
        "--stream",
        "CLIDUR",
        "--deliver",
        "3",
        "--json",
        "--count",
        "1",
    ]));
    assert_eq!(printed_ids(&from_three), ids[2..3]);
    let bad = natsbridge()
        .args([
            "listen",
            "x",
            "-s",
            &url,
            "--stream",
            "CLIDUR",
            "--deliver",
            "soon",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("[INVALID_ARGUMENT]"));
}

/// Issue 19 item 3: the CLI against servers that require TLS and an nkey,
/// or a `.creds` file: send and listen round trip; a stranger's nkey or
/// creds is `[AUTH]`, an untrusted CA `[CONNECTION]`, each within the connect
/// timeout; no secret in anything the CLI prints.
#[test]
fn tls_nkey_and_creds_round_trip_and_refusals_are_typed_and_quiet() {
    use natsbridge_testkit::{NkeyUser, OperatorSetup, TestCerts};
    let certs = TestCerts::generate();
    let user = NkeyUser::generate();
    let server = NatsServer::builder()
        .without_jetstream()
        .tls(&certs.trusted)
        .nkey_user(user.public_key())
        .start();
    let ca = certs.trusted.ca.to_str().unwrap();
    let common = [
        "-s",
        &server.url(),
        "--tls-ca-file",
        ca,
        "--nkey",
        user.seed(),
    ];
    let listener = listen(&[&["secure.cli", "--count", "1", "--json"], &common[..]].concat());
    let sent = run(natsbridge()
        .args(["send", "secure.cli", "--text", "m=over tls", "--json"])
        .args(common));
    let output = finish(listener);
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(got["payloads"][0]["value"], "over tls");
    for printed in [&sent.stdout, &sent.stderr, &output.stdout, &output.stderr] {
        let printed = String::from_utf8_lossy(printed);
        assert!(!printed.contains(user.seed()), "{printed}");
    }

    let refused = |args: &[&str], code: &str, secret: &str| {
        let started = Instant::now();
        let output = natsbridge()
            .args([
                "send",
                "secure.cli",
                "--text",
                "m=x",
                "--connect-timeout",
                "3000",
            ])
            .args(args)
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(code), "{stderr}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}: {stderr}");
        let printed = format!("{stderr}{}", String::from_utf8_lossy(&output.stdout));
        assert!(!printed.contains(secret), "{printed}");
        stderr
    };
    let stranger = NkeyUser::generate();
    refused(
        &[
            "-s",
            &server.url(),
            "--tls-ca-file",
            ca,
            "--nkey",
            stranger.seed(),
        ],
        "[AUTH]",
        stranger.seed(),
    );
    let untrusted = certs.untrusted.ca.to_str().unwrap();
    let stderr = refused(
        &[
            "-s",
            &server.url(),
            "--tls-ca-file",
            untrusted,
            "--nkey",
            user.seed(),
        ],
        "[CONNECTION]",
        user.seed(),
    );
    assert!(stderr.contains("TLS"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let setup = OperatorSetup::generate(dir.path());
    let server = NatsServer::builder()
        .without_jetstream()
        .operator(&setup)
        .start();
    let sent = run(natsbridge().args([
        "send",
        "secure.creds",
        "-s",
        &server.url(),
        "--creds",
        setup.creds_file().to_str().unwrap(),
        "--text",
        "m=with creds",
    ]));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&sent.stdout),
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(!printed.contains(setup.user_seed()), "{printed}");
    let foreign = std::fs::read_to_string(setup.foreign_creds_file()).unwrap();
    let foreign_seed = foreign.lines().find(|l| l.starts_with("SU")).unwrap();
    refused(
        &[
            "-s",
            &server.url(),
            "--creds",
            setup.foreign_creds_file().to_str().unwrap(),
        ],
        "[AUTH]",
        foreign_seed,
    );
}

/// Issue 19 item 3: `natsbridge fileserver --tls-cert --tls-key` serves
/// https; `send` uploads to it and `listen` downloads from it, both trusting
/// the harness CA through `--tls-ca-file` (over a NATS server with TLS).
#[test]
fn fileserver_over_https_carries_links_for_send_and_listen() {
    use natsbridge_testkit::TestCerts;
    let certs = TestCerts::generate();
    let files = tempfile::tempdir().unwrap();
    let mut fileserver = natsbridge()
        .args(["fileserver", "--dir", files.path().to_str().unwrap()])
        .args(["--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&certs.trusted.server_cert)
        .arg("--tls-key")
        .arg(&certs.trusted.server_key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = fileserver.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = wait_for_line(&rx, "file server on ");
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https URL in {line:?}"))
        .to_owned();

    let server = NatsServer::builder()
        .without_jetstream()
        .tls(&certs.trusted)
        .start();
    let ca = certs.trusted.ca.to_str().unwrap();
    let listener = listen(&[
        "secure.https",
        "-s",
        &server.url(),
        "--tls-ca-file",
        ca,
        "--count",
        "1",
        "--json",
    ]);
    let big = "x".repeat(50_000);
    let sent = natsbridge()
        .args([
            "send",
            "secure.https",
            "-s",
            &server.url(),
            "--tls-ca-file",
            ca,
        ])
        .args(["--fileserver-url", &url, "--size-threshold", "1000"])
        .args(["--text", &format!("big={big}"), "--json"])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let sent: Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(sent["payloads"][0]["transport"], "link", "{sent}");
    let output = finish(listener);
    let _ = fileserver.kill();
    let _ = fileserver.wait();
    let got: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "{err}: listen printed {:?} / {:?}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(got["payloads"][0]["value"], big.as_str());
}
