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
