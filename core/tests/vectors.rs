//! The shared wire vectors (`docs/vectors/*.json`, described in
//! `docs/vectors/README.md`) through the sans-I/O codec: no server. Direct
//! payloads are decoded and verified by `codec::decode`; a link payload's
//! bytes come from the vector's `links` table and go through
//! `codec::finish_link`, the same verify-and-deserialize step the client runs
//! after a download.
//!
//! Vectors marked `"since"` (a rule added by a later issue) run like every
//! other, in their own test so that a failure names the issue that brings the
//! rule.

use std::path::{Path, PathBuf};

use natsbridge::codec::{self, Content};
use natsbridge::{Error, PayloadValue};
use serde_json::{Map, Value, json};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors")
}

fn load_vectors() -> Vec<Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("docs/vectors exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    let vectors: Vec<Value> = paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("readable vector file");
            serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()))
        })
        .collect();
    assert!(vectors.len() >= 30, "only {} vectors found", vectors.len());
    vectors
}

fn b64(text: &str) -> Vec<u8> {
    base64_simd::STANDARD
        .decode_to_vec(text.as_bytes())
        .expect("the vector's base64 is valid")
}

fn envelope_bytes(vector: &Value) -> Vec<u8> {
    if let Some(text) = vector["envelope"].as_str() {
        text.as_bytes().to_vec()
    } else {
        b64(vector["envelope_base64"]
            .as_str()
            .expect("a vector has envelope or envelope_base64"))
    }
}

fn arrow_type_name(data_type: &arrow_schema::DataType) -> String {
    use arrow_schema::DataType;
    match data_type {
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::Boolean => "bool".into(),
        other => format!("{other}"),
    }
}

/// The decoded value in the vectors' notation (`{"text": ..}`, `{"json": ..}`,
/// `{"base64": ..}`, `{"table": ..}`).
fn value_view(value: &PayloadValue) -> Value {
    match value {
        PayloadValue::Text(text) => json!({ "text": text }),
        PayloadValue::Dictionary(value) => json!({ "json": value }),
        PayloadValue::Bytes(bytes) => {
            json!({ "base64": base64_simd::STANDARD.encode_to_string(bytes) })
        }
        PayloadValue::Table(table) => {
            let schema: Vec<Value> = table
                .schema()
                .fields()
                .iter()
                .map(|field| json!({"name": field.name(), "type": arrow_type_name(field.data_type())}))
                .collect();
            let columns = table.to_json_columns().expect("JSON-able columns");
            // The IPC bytes are the payload's bytes as received.
            json!({ "table": {
                "schema": schema,
                "columns": columns,
                "num_rows": table.num_rows(),
                "ipc_base64": base64_simd::STANDARD.encode_to_string(table.ipc_bytes()),
            }})
        }
        PayloadValue::File(path) => json!({ "file": path }),
    }
}

/// Runs one vector; `Err` describes how the result differs from `expect`.
fn run(vector: &Value) -> Result<(), String> {
    let expect = &vector["expect"];
    let links = vector["links"].as_object().cloned().unwrap_or_default();
    let outcome = decode_fully(&envelope_bytes(vector), &links);
    match (expect.get("error").and_then(Value::as_str), outcome) {
        (Some(code), Err(err)) if err.kind().code() == code => Ok(()),
        (Some(code), Err(err)) => Err(format!(
            "expected error {code}, got {} ({})",
            err.kind().code(),
            err.full_message()
        )),
        (Some(code), Ok(got)) => Err(format!("expected error {code}, decoded {got}")),
        (None, Err(err)) => Err(format!(
            "expected a decoded envelope, got error {} ({})",
            err.kind().code(),
            err.full_message()
        )),
        (None, Ok(got)) => {
            if &got == expect {
                Ok(())
            } else {
                Err(format!(
                    "decoded\n{}\nexpected\n{}",
                    serde_json::to_string_pretty(&got).unwrap_or_default(),
                    serde_json::to_string_pretty(expect).unwrap_or_default()
                ))
            }
        }
    }
}

/// Decodes an envelope and finishes its link payloads from `links`, giving
/// the decoded view in the vectors' `expect` notation.
fn decode_fully(bytes: &[u8], links: &Map<String, Value>) -> Result<Value, Error> {
    let decoded = codec::decode(bytes)?;
    let header = &decoded.header;
    let header_view = json!({
        "version": header.version,
        "correlation_id": header.correlation_id,
        "msg_id": header.msg_id,
        "timestamp": header.timestamp,
        "send_to": header.send_to,
        "msg_purpose": header.msg_purpose,
        "sender_name": header.sender_name,
        "sender_id": header.sender_id,
        "receiver_name": header.receiver_name,
        "receiver_id": header.receiver_id,
        "reply_to": header.reply_to,
        "reply_to_msg_id": header.reply_to_msg_id,
        "broker_url": header.broker_url,
        "metadata": header.metadata,
    });
    let mut payloads = Vec::new();
    for payload in decoded.payloads {
        let info = &payload.info;
        let mut view = json!({
            "dataname": info.dataname,
            "type": info.payload_type.as_str(),
            "transport": info.transport.to_string(),
            "size": info.size,
            "sha256": info.sha256,
            "metadata": info.metadata,
        });
        let value = match payload.content {
            Content::Ready(value) => value,
            Content::Link(url) => {
                let served = links.get(&url).and_then(Value::as_str).ok_or_else(|| {
                    Error::new(
                        natsbridge::ErrorKind::Download,
                        format!("the vector serves no bytes for {url}"),
                    )
                })?;
                view["url"] = json!(url);
                codec::finish_link(info, b64(served).into())?
            }
        };
        payloads.push((view, value));
    }
    Ok(json!({
        "header": header_view,
        "payloads": payloads.into_iter().map(|(mut view, value)| {
            view["value"] = value_view(&value);
            view
        }).collect::<Vec<_>>(),
    }))
}

fn run_all(pending: bool) {
    let vectors: Vec<Value> = load_vectors()
        .into_iter()
        .filter(|vector| vector.get("since").is_some() == pending)
        .collect();
    assert!(!vectors.is_empty());
    let mut failures = Vec::new();
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap_or("?");
        if let Err(why) = run(vector) {
            let since = vector["since"]
                .as_str()
                .map(|issue| format!(" [since {issue}: a rule this core does not implement yet]"))
                .unwrap_or_default();
            failures.push(format!("vector {name}{since}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn every_vector_decodes_as_expected() {
    run_all(false);
}

/// The vectors of rules added after this core's wire-v1 reading (their
/// `since` names the issue): until that issue lands here, this test fails and
/// says which vector and why.
#[test]
fn vectors_of_later_issues() {
    run_all(true);
}

#[test]
fn every_error_code_in_the_vectors_is_a_core_error_code() {
    let codes: Vec<&str> = natsbridge::ErrorKind::ALL
        .iter()
        .map(|kind| kind.code())
        .collect();
    for vector in load_vectors() {
        if let Some(code) = vector["expect"].get("error") {
            let code = code.as_str().expect("error codes are strings");
            assert!(
                codes.contains(&code),
                "{}: unknown code {code}",
                vector["name"]
            );
        }
    }
}
