//! Payload decoding: `natsbridge::codec::finish_link` on arbitrary payload
//! bytes with a matching size and sha256 (what a fetched link, or a direct
//! payload after base64, goes through), and for tables what the receive path
//! then does: `Table::check_logical_size`. The JSON-shaped conversions have
//! their own target (`table_json`), with a per-cell budget.
//!
//! Input: the first byte picks the payload type, the rest are its bytes.

use bytes::Bytes;
use natsbridge::codec::finish_link;
use natsbridge::encoding::sha256_hex;
use natsbridge::table::DEFAULT_MAX_TABLE_ROWS;
use natsbridge::{PayloadInfo, PayloadType, PayloadValue, Transport};

use crate::harness::{Target, error_signature};
use crate::mutate;

/// The payload types the first input byte selects (modulo their count).
pub const TYPES: &[&str] = &["text", "dictionary", "table", "binary", "hologram"];

/// The target.
pub fn target() -> Target {
    Target {
        name: "payload",
        run,
        bytes_per_input_byte: 64,
        mutate,
        max_len: 1 << 20,
    }
}

fn mutate(rng: &mut fastrand::Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let (selector, body) = input.split_first().map_or((2, &[][..]), |(s, b)| (*s, b));
    let selector = if rng.u8(..20) == 0 {
        rng.u8(..)
    } else {
        selector
    };
    let body = match TYPES[usize::from(selector) % TYPES.len()] {
        "table" => mutate::arrow(rng, body, others, 1 << 20),
        "dictionary" => mutate::json(rng, body, others, 1 << 20),
        _ => mutate::bytes(rng, body, others, 1 << 20),
    };
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(selector);
    out.extend_from_slice(&body);
    out
}

/// Decodes one payload and, for tables, checks and converts it.
pub fn run(input: &[u8]) -> String {
    let Some((selector, body)) = input.split_first() else {
        return "empty".to_owned();
    };
    let name = TYPES[usize::from(*selector) % TYPES.len()];
    let info = PayloadInfo {
        id: String::new(),
        dataname: "p".to_owned(),
        payload_type: PayloadType::from_wire(name),
        transport: Transport::Link,
        size: body.len() as u64,
        sha256: Some(sha256_hex(body)),
        metadata: Default::default(),
    };
    let value = match finish_link(&info, Bytes::copy_from_slice(body)) {
        Ok(value) => value,
        Err(err) => return format!("{name}:{}", error_signature(&err)),
    };
    match value {
        PayloadValue::Text(text) => {
            assert_eq!(text.as_bytes(), body, "text changed in decoding");
            "text:ok".to_owned()
        }
        PayloadValue::Dictionary(value) => {
            // Not compared after a round trip: serde_json's float parsing is
            // not correctly rounded without its `float_roundtrip` feature.
            let again = serde_json::to_vec(&value).expect("a decoded JSON value serializes");
            serde_json::from_slice::<serde_json::Value>(&again).expect("serialized JSON parses");
            format!("dictionary:ok:{}", json_kind(&value))
        }
        PayloadValue::Bytes(bytes) => {
            assert_eq!(bytes.as_ref(), body, "bytes changed in decoding");
            format!("{name}:ok")
        }
        PayloadValue::Table(table) => {
            assert_eq!(table.ipc_bytes().as_ref(), body, "IPC bytes changed");
            let mut signature = format!("table:ok:{}", table.num_columns().min(4));
            let mut types: Vec<String> = table
                .schema()
                .fields()
                .iter()
                .map(|field| {
                    format!("{:?}", field.data_type())
                        .chars()
                        .take(12)
                        .collect()
                })
                .collect();
            types.sort();
            types.dedup();
            signature.push_str(&types.join(","));
            match table.check_logical_size(DEFAULT_MAX_TABLE_ROWS) {
                Ok(()) => signature.push_str(":plausible"),
                Err(err) => signature.push_str(&format!(":{}", error_signature(&err))),
            }
            signature
        }
        PayloadValue::File(path) => panic!("decoding wrote a file: {path:?}"),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}
