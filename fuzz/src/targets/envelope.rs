//! `natsbridge::codec::decode` on arbitrary bytes: a received NATS message body.

use natsbridge::codec::{Content, decode};
use natsbridge::encoding::sha256_hex;
use natsbridge::{PayloadValue, Transport};

use crate::harness::{Target, error_signature};
use crate::mutate;

/// The target.
pub fn target() -> Target {
    Target {
        name: "envelope",
        run,
        bytes_per_input_byte: 64,
        mutate: |rng, input, others| mutate::json(rng, input, others, 256 << 10),
        max_len: 256 << 10,
    }
}

/// Decodes `input`; checks that every direct payload it accepts matches its
/// declared size and digest and that link payloads stay links.
pub fn run(input: &[u8]) -> String {
    let envelope = match decode(input) {
        Ok(envelope) => envelope,
        Err(err) => return error_signature(&err),
    };
    let mut kinds: Vec<String> = Vec::new();
    for payload in &envelope.payloads {
        let info = &payload.info;
        assert!(
            !info.dataname.is_empty(),
            "an accepted payload has no dataname"
        );
        let kind = match (&payload.content, info.transport) {
            (Content::Link(_), Transport::Link) => "link".to_owned(),
            (Content::Ready(value), Transport::Direct) => {
                let serialized: Vec<u8> = match value {
                    PayloadValue::Text(text) => text.as_bytes().to_vec(),
                    PayloadValue::Dictionary(_) => Vec::new(),
                    PayloadValue::Table(table) => table.ipc_bytes().to_vec(),
                    PayloadValue::Bytes(bytes) => bytes.to_vec(),
                    PayloadValue::File(path) => panic!("decode wrote a file: {path:?}"),
                };
                if !matches!(value, PayloadValue::Dictionary(_)) {
                    assert_eq!(serialized.len() as u64, info.size, "size not verified");
                    if let Some(sha) = &info.sha256 {
                        assert_eq!(&sha256_hex(&serialized), sha, "sha256 not verified");
                    }
                }
                format!(
                    "{}:{}",
                    info.payload_type.as_str().len().min(10),
                    value_kind(value)
                )
            }
            (content, transport) => {
                panic!("transport {transport} decoded as {content:?}")
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    format!("ok:{}:{}", envelope.payloads.len().min(3), kinds.join(","))
}

fn value_kind(value: &PayloadValue) -> &'static str {
    match value {
        PayloadValue::Text(_) => "text",
        PayloadValue::Dictionary(_) => "json",
        PayloadValue::Table(_) => "table",
        PayloadValue::Bytes(_) => "bytes",
        PayloadValue::File(_) => "file",
    }
}
