//! Mutations: byte-level ones for any input, and structure-aware ones for
//! JSON envelopes, Arrow IPC streams and URLs, so that most mutants get past
//! the first parser and reach the checks behind it.

use fastrand::Rng;
use serde_json::{Map, Number, Value};

use natsbridge::encoding::{base64_decode, base64_encode, sha256_hex};

const INTERESTING_U8: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'9', b'-',
    b'e', b'.', b'/', b'@', b'%', b'=', 0xc3, 0xed, 0xf4,
];

const INTERESTING_I64: &[i64] = &[
    0,
    1,
    -1,
    2,
    7,
    8,
    16,
    64,
    127,
    128,
    255,
    256,
    4096,
    65535,
    65536,
    i32::MAX as i64,
    i32::MIN as i64,
    1 << 31,
    1 << 32,
    (1 << 24) - 1,
    1 << 24,
    1 << 40,
    i64::MAX,
    i64::MIN,
];

/// One random byte-level mutation (bit flips, interesting bytes and
/// integers, inserts, deletes, duplicated or spliced ranges, truncation).
pub fn bytes(rng: &mut Rng, input: &[u8], others: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.usize(..4);
    for _ in 0..rounds {
        byte_step(rng, &mut out, others);
    }
    out.truncate(max_len);
    out
}

fn byte_step(rng: &mut Rng, out: &mut Vec<u8>, others: &[Vec<u8>]) {
    let len = out.len();
    match rng.u8(..11) {
        0 if len > 0 => {
            let at = rng.usize(..len);
            out[at] ^= 1 << rng.u8(..8);
        }
        1 if len > 0 => {
            let at = rng.usize(..len);
            out[at] = rng.u8(..);
        }
        2 if len > 0 => {
            let at = rng.usize(..len);
            out[at] = INTERESTING_U8[rng.usize(..INTERESTING_U8.len())];
        }
        3 => {
            let at = rng.usize(..=len);
            let count = 1 + rng.usize(..8);
            let fill: Vec<u8> = (0..count).map(|_| rng.u8(..)).collect();
            out.splice(at..at, fill);
        }
        4 if len > 0 => {
            let at = rng.usize(..len);
            let count = 1 + rng.usize(..(len - at).min(64));
            out.drain(at..at + count);
        }
        5 if len > 0 => {
            // Duplicate a range (repeated keys, repeated messages).
            let at = rng.usize(..len);
            let count = 1 + rng.usize(..(len - at).min(256));
            let chunk = out[at..at + count].to_vec();
            let to = rng.usize(..=len);
            out.splice(to..to, chunk);
        }
        6 if !others.is_empty() => {
            let other = &others[rng.usize(..others.len())];
            if !other.is_empty() {
                let from = rng.usize(..other.len());
                let count = 1 + rng.usize(..(other.len() - from).min(512));
                let to = rng.usize(..=len);
                out.splice(to..to, other[from..from + count].iter().copied());
            }
        }
        7 if len >= 4 => {
            let at = rng.usize(..=len - 4);
            let value = INTERESTING_I64[rng.usize(..INTERESTING_I64.len())] as i32;
            out[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        8 if len >= 8 => {
            let at = rng.usize(..=len - 8);
            let value = INTERESTING_I64[rng.usize(..INTERESTING_I64.len())];
            out[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        9 if len > 0 => out.truncate(rng.usize(..len)),
        _ => {
            let at = rng.usize(..=len);
            out.insert(at, INTERESTING_U8[rng.usize(..INTERESTING_U8.len())]);
        }
    }
}

/// Arrow IPC aware: rewrites 4- and 8-byte little-endian fields at aligned
/// offsets (lengths, offsets, row counts, buffer sizes in the flatbuffer
/// headers and the continuation lengths), drops or repeats whole messages,
/// cuts the stream at message boundaries.
pub fn arrow(rng: &mut Rng, input: &[u8], others: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut out = input.to_vec();
    // Message starts: the continuation marker 0xFFFFFFFF.
    let starts: Vec<usize> = out
        .windows(4)
        .enumerate()
        .filter(|(at, w)| at % 8 == 0 && *w == [0xff; 4])
        .map(|(at, _)| at)
        .collect();
    match rng.u8(..8) {
        0 | 1 if out.len() >= 8 => {
            let at = rng.usize(..out.len() / 4) * 4;
            let value = INTERESTING_I64[rng.usize(..INTERESTING_I64.len())] as i32;
            let value = if rng.bool() {
                value
            } else {
                i32::from_le_bytes(out[at..at + 4].try_into().unwrap_or([0; 4]))
                    .wrapping_add(rng.i32(-16..=16))
            };
            out[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        2 if out.len() >= 16 => {
            let at = rng.usize(..out.len() / 8 - 1) * 8;
            let value = INTERESTING_I64[rng.usize(..INTERESTING_I64.len())];
            out[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        3 if !starts.is_empty() => {
            // A continuation length.
            let at = starts[rng.usize(..starts.len())] + 4;
            if at + 4 <= out.len() {
                let value = INTERESTING_I64[rng.usize(..INTERESTING_I64.len())] as i32;
                out[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
        4 if starts.len() >= 2 => {
            // Drop or repeat one whole message.
            let i = rng.usize(..starts.len() - 1);
            let (from, to) = (starts[i], starts[i + 1]);
            if rng.bool() {
                out.drain(from..to);
            } else {
                let chunk = out[from..to].to_vec();
                out.splice(to..to, chunk);
            }
        }
        5 if !starts.is_empty() => out.truncate(starts[rng.usize(..starts.len())]),
        6 if out.len() > 8 => {
            // Flip bytes in a message header.
            let base = if starts.is_empty() {
                0
            } else {
                starts[rng.usize(..starts.len())]
            };
            for _ in 0..1 + rng.usize(..4) {
                let at = (base + 8 + rng.usize(..64)).min(out.len() - 1);
                out[at] = rng.u8(..);
            }
        }
        _ => return bytes(rng, input, others, max_len),
    }
    out.truncate(max_len);
    out
}

/// A mutated JSON document when `input` parses, else a byte-level mutant.
/// `data` strings of direct payloads are decoded, mutated as bytes (as Arrow
/// for tables) and re-encoded, mostly with a matching `size` and `sha256`
/// so the mutant gets past verification to deserialization.
pub fn json(rng: &mut Rng, input: &[u8], others: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(input) else {
        return bytes(rng, input, others, max_len);
    };
    if rng.u8(..10) == 0 {
        return bytes(rng, input, others, max_len);
    }
    // Payload-data mutation first: it is what reaches the deserializers.
    if rng.u8(..3) == 0
        && let Some(payloads) = value.get_mut("payloads").and_then(Value::as_array_mut)
        && !payloads.is_empty()
    {
        let at = rng.usize(..payloads.len());
        mutate_payload_data(rng, &mut payloads[at], others);
    } else {
        let mut paths = Vec::new();
        collect_paths(&value, &mut Vec::new(), &mut paths);
        if !paths.is_empty() {
            let path = &paths[rng.usize(..paths.len())];
            mutate_at(rng, &mut value, path, others);
        }
    }
    let mut out = serde_json::to_vec(&value).unwrap_or_else(|_| input.to_vec());
    if rng.u8(..6) == 0 {
        duplicate_key(rng, &mut out);
    }
    out.truncate(max_len);
    out
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn collect_paths(value: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                at.push(Step::Key(key.clone()));
                collect_paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                at.push(Step::Index(index));
                collect_paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut here = value;
    for step in path {
        here = match step {
            Step::Key(key) => here.get_mut(key.as_str())?,
            Step::Index(index) => here.get_mut(*index)?,
        };
    }
    Some(here)
}

const FIELD_VALUES: &[&str] = &[
    "text",
    "dictionary",
    "table",
    "image",
    "audio",
    "video",
    "binary",
    "hologram",
    "direct",
    "link",
    "base64",
    "url",
    "",
    "http://127.0.0.1:1/x",
    "nats-object://natsbridge/x",
    "https://169.254.169.254/latest",
];

fn interesting_value(rng: &mut Rng) -> Value {
    match rng.u8(..12) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => Value::from(INTERESTING_I64[rng.usize(..INTERESTING_I64.len())]),
        3 => Value::from(u64::MAX),
        4 => Number::from_f64([0.5, -0.0, 1e300, -1.5, 1.0][rng.usize(..5)])
            .map_or(Value::Null, Value::Number),
        5 => Value::from(FIELD_VALUES[rng.usize(..FIELD_VALUES.len())]),
        6 => Value::Array(vec![]),
        7 => Value::Object(Map::new()),
        8 => Value::from("A".repeat(rng.usize(..100))),
        9 => Value::from("\u{0}\u{ffff}é\u{202e}"),
        10 => Value::from("a".repeat(64)),
        _ => Value::from("0".repeat(63) + "g"),
    }
}

fn mutate_at(rng: &mut Rng, root: &mut Value, path: &[Step], others: &[Vec<u8>]) {
    // Removal and duplication happen on the parent.
    if let Some((last, parent_path)) = path.split_last()
        && rng.u8(..4) == 0
        && let Some(parent) = node(root, parent_path)
    {
        match (parent, last) {
            (Value::Object(map), Step::Key(key)) => {
                map.remove(key);
            }
            (Value::Array(items), Step::Index(index)) if *index < items.len() => {
                if rng.bool() {
                    items.remove(*index);
                } else if items.len() < 64 {
                    let copy = items[*index].clone();
                    items.insert(*index, copy);
                }
            }
            _ => {}
        }
        return;
    }
    let Some(target) = node(root, path) else {
        return;
    };
    match target {
        Value::Number(n) => {
            *target = match rng.u8(..3) {
                0 => interesting_value(rng),
                _ => {
                    let base = n.as_i64().unwrap_or(0);
                    Value::from(base.wrapping_add(rng.i64(-3..=3)))
                }
            }
        }
        Value::String(text) => {
            if rng.u8(..4) == 0 {
                *target = interesting_value(rng);
            } else {
                let mutated = bytes(rng, text.as_bytes(), others, 4096);
                *text = String::from_utf8_lossy(&mutated).into_owned();
            }
        }
        Value::Object(map) => {
            let key = FIELD_VALUES[rng.usize(..FIELD_VALUES.len())].to_owned();
            if rng.bool() {
                map.insert(key, interesting_value(rng));
            } else {
                for known in ["size", "sha256", "data", "version", "payloads", "type"] {
                    if rng.u8(..6) == 0 {
                        map.insert(known.to_owned(), interesting_value(rng));
                    }
                }
            }
        }
        _ => *target = interesting_value(rng),
    }
}

fn mutate_payload_data(rng: &mut Rng, payload: &mut Value, others: &[Vec<u8>]) {
    let Some(object) = payload.as_object_mut() else {
        return;
    };
    let is_table = object.get("type").and_then(Value::as_str) == Some("table");
    let data = object
        .get("data")
        .and_then(Value::as_str)
        .and_then(|text| base64_decode(text.as_bytes()).ok())
        .unwrap_or_default();
    let mutated = if is_table {
        arrow(rng, &data, &[], 1 << 20)
    } else if rng.bool() {
        // JSON inside JSON (dictionary payloads).
        json(rng, &data, &[], 1 << 20)
    } else {
        bytes(rng, &data, others, 1 << 20)
    };
    object.insert("data".into(), Value::from(base64_encode(&mutated)));
    if rng.u8(..5) != 0 {
        object.insert("size".into(), Value::from(mutated.len()));
        if object.contains_key("sha256") || rng.bool() {
            object.insert("sha256".into(), Value::from(sha256_hex(&mutated)));
        }
    }
}

/// Writes one `"key":value,` of an object a second time (serde_json would
/// never produce that; a hostile sender can).
fn duplicate_key(rng: &mut Rng, out: &mut Vec<u8>) {
    let keys: Vec<usize> = out
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == b"{\"")
        .map(|(at, _)| at + 1)
        .collect();
    if keys.is_empty() {
        return;
    }
    let start = keys[rng.usize(..keys.len())];
    // The first member ends at the first ',' at nesting depth 0.
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    for at in start..out.len() {
        let b = out[at];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return,
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => {
                let member = out[start..=at].to_vec();
                out.splice(start..start, member);
                return;
            }
            _ => {}
        }
    }
}

/// URL-aware: swaps the host for one of the forms a URL parser may read as
/// a refused address (decimal, octal, hex, short, IPv6 embeddings, zone ids,
/// percent-encoding), adds credentials or `@` confusion, changes the scheme,
/// port or the bucket of a `nats-object` link.
pub fn url(rng: &mut Rng, input: &str) -> String {
    const SCHEMES: &[&str] = &[
        "http://",
        "https://",
        "HTTP://",
        "nats-object://",
        "file://",
        "ftp://",
        "http:/",
        "http:\\\\",
        "ws://",
        "memory://",
        "",
    ];
    const HOSTS: &[&str] = &[
        "169.254.169.254",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "127.1",
        "0",
        "0.0.0.0",
        "[::]",
        "[::1]",
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        "[0:0:0:0:0:ffff:7f00:1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:a9fe:a9fe::]",
        "[fe80::1%25eth0]",
        "[fd00:ec2::254]",
        "%31%36%39.254.169.254",
        "169.254.169.254.",
        "localhost",
        "files.example.com",
        "xn--nxasmq6b",
        "100.100.100.200",
        "10.0.0.1",
        "192.168.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "8.8.8.8",
        "[2606:4700::1111]",
        "①②⑦.0.0.1",
        "exa mple.com",
        "[::ffff:0:a9fe:a9fe]",
        "[::169.254.169.254]",
    ];
    let (scheme, rest) = match input.find("://") {
        Some(at) => (&input[..at + 3], &input[at + 3..]),
        None => ("http://", input),
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/x"),
    };
    let mut scheme = scheme.to_owned();
    let mut authority = authority.to_owned();
    let mut path = path.to_owned();
    for _ in 0..1 + rng.usize(..3) {
        match rng.u8(..8) {
            0 => scheme = SCHEMES[rng.usize(..SCHEMES.len())].to_owned(),
            1 | 2 => authority = HOSTS[rng.usize(..HOSTS.len())].to_owned(),
            3 => {
                authority = format!(
                    "{authority}:{}",
                    [0u32, 80, 443, 65535, 65536][rng.usize(..5)]
                )
            }
            4 => {
                authority = format!(
                    "{}@{}",
                    ["user:pw", "files.example.com", "", ":"][rng.usize(..4)],
                    authority
                )
            }
            5 => {
                path = ["", "/", "/../..", "/%2e%2e/x", "?a=b", "#f", "/a b"][rng.usize(..7)]
                    .to_owned()
            }
            6 => {
                let text = format!("{scheme}{authority}{path}");
                let mutated = bytes(rng, text.as_bytes(), &[], 512);
                return String::from_utf8_lossy(&mutated).into_owned();
            }
            _ => {
                let at = rng.usize(..=authority.len());
                let at = (at..=authority.len())
                    .find(|i| authority.is_char_boundary(*i))
                    .unwrap_or(authority.len());
                authority.insert(at, ['\t', '\n', '.', '%', '\\'][rng.usize(..5)]);
            }
        }
    }
    format!("{scheme}{authority}{path}")
}
