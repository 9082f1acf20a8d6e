//! The seed corpus: the shared wire vectors' envelopes, payloads of every
//! type (tables of many Arrow types made with `natsbridge::TableBuilder`),
//! and the URLs of the policy tests. `natsbridge-fuzz seed` writes them to
//! `corpus/<target>/`; they are committed with the entries fuzzing added.

use std::path::Path;
use std::sync::Arc;

use natsbridge::codec::{EnvelopeOptions, encode_direct};
use natsbridge::encoding::base64_decode;
use natsbridge::{Payload, PayloadType, Table, TableBuilder};
use serde_json::{Value, json};

use crate::targets::payload::TYPES;

/// Seeds per target: `(target, name, bytes)`.
pub fn all(root: &Path) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, envelope) in vector_envelopes(&root.join("../docs/vectors")) {
        seeds.push(("envelope", format!("vector-{name}"), envelope));
    }
    let tables = tables();
    let payloads = vec![
        Payload::text("t", "héllo"),
        Payload::dictionary("d", json!({"k": [1, 2.5, null, true, "s"], "n": {"x": {}}})),
        Payload::bytes("b", PayloadType::Binary, vec![0u8, 1, 2, 255]),
        Payload::table("tb", tables[0].1.clone()),
    ];
    let options = EnvelopeOptions {
        direct_sha256: true,
        ..EnvelopeOptions::default()
    };
    let sent = encode_direct(
        "/fuzz/seed",
        payloads,
        &options,
        "nats://localhost:4222",
        1 << 20,
    )
    .expect("the seed envelope encodes");
    seeds.push((
        "envelope",
        "encoded-every-type".into(),
        sent.wire_bytes().to_vec(),
    ));

    let selector = |name: &str| TYPES.iter().position(|t| *t == name).unwrap_or(0) as u8;
    let with = |name: &str, body: &[u8]| {
        let mut input = vec![selector(name)];
        input.extend_from_slice(body);
        input
    };
    seeds.push((
        "payload",
        "text".into(),
        with("text", "héllo wörld".as_bytes()),
    ));
    seeds.push((
        "payload",
        "text-bad-utf8".into(),
        with("text", &[0xc3, 0x28]),
    ));
    for (i, doc) in [
        json!({"a": [1, -2, 3.5e10, null, true, "x"], "b": {"c": []}}),
        json!([[[[[]]]]]),
        json!("just a string"),
        json!(18446744073709551615u64),
    ]
    .iter()
    .enumerate()
    {
        seeds.push((
            "payload",
            format!("dictionary-{i}"),
            with("dictionary", doc.to_string().as_bytes()),
        ));
    }
    seeds.push((
        "payload",
        "binary".into(),
        with("binary", &[0, 1, 2, 3, 255]),
    ));
    seeds.push((
        "payload",
        "unknown-type".into(),
        with("hologram", b"\x00\xff"),
    ));
    for (name, table) in &tables {
        seeds.push((
            "payload",
            format!("table-{name}"),
            with("table", table.ipc_bytes()),
        ));
        seeds.push(("table_json", name.to_string(), table.ipc_bytes().to_vec()));
    }

    for (i, url) in [
        "\u{1}http://127.0.0.1:8080/a",
        "\u{1}http://10.1.2.3/x",
        "\u{0}http://10.1.2.3/x",
        "\u{1}http://169.254.169.254/latest/meta-data/",
        "\u{1}http://[fe80::1]/x",
        "\u{1}http://[::ffff:169.254.169.254]/x",
        "\u{1}http://0.0.0.0/x",
        "\u{1}http://[fd00:ec2::254]/x",
        "\u{0}http://[64:ff9b::a9fe:a9fe]/x",
        "\u{0}https://files.example.com/x\nhttps://files.example.com:443/",
        "\u{1}http://u:p@127.0.0.1:8080/a\nhttp://127.0.0.1:8080",
        "\u{1}file:///etc/passwd",
        "\u{1}not a url",
        "\u{2}nats-object://natsbridge/abc%20d",
        "\u{6}nats-object://archive/x\nnats-object://archive",
        "\u{0}nats-object://bucket",
        "\u{1}memory://store/key",
    ]
    .iter()
    .enumerate()
    {
        seeds.push(("url_policy", format!("policy-{i}"), url.as_bytes().to_vec()));
    }
    seeds
}

fn vector_envelopes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(vector) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some(envelope) = vector["envelope"].as_str() {
            out.push((name, envelope.as_bytes().to_vec()));
        } else if let Some(encoded) = vector["envelope_base64"].as_str()
            && let Ok(bytes) = base64_decode(encoded.as_bytes())
        {
            out.push((name, bytes));
        }
    }
    out
}

/// Valid tables of the Arrow types the JSON conversions handle, and a few they refuse.
pub fn tables() -> Vec<(&'static str, Table)> {
    use arrow_array::types::Int8Type;
    use arrow_array::{
        ArrayRef, BinaryArray, Date32Array, DictionaryArray, Float32Array, Int8Array,
        LargeStringArray, ListArray, NullArray, TimestampMillisecondArray, UInt64Array,
    };
    let mut tables = Vec::new();
    let mixed = Table::from_json_rows(
        json!([
            {"id": 1, "name": "Alice", "score": 95.5, "active": true},
            {"id": 2, "name": null, "score": 88, "active": false},
            {"id": null, "name": "Cy", "score": null, "active": null}
        ])
        .as_array()
        .expect("rows"),
    )
    .expect("mixed table");
    tables.push(("mixed", mixed));
    tables.push((
        "empty",
        TableBuilder::new()
            .int64("a", vec![])
            .and_then(TableBuilder::finish)
            .expect("empty"),
    ));
    tables.push((
        "no-columns",
        TableBuilder::new().finish().expect("no columns"),
    ));
    let column = |name: &str, array: ArrayRef| {
        TableBuilder::new()
            .column(name, array)
            .and_then(TableBuilder::finish)
            .expect("one-column table")
    };
    tables.push(("null", column("n", Arc::new(NullArray::new(5)))));
    tables.push((
        "float32",
        column(
            "f",
            Arc::new(Float32Array::from(vec![Some(1.5), None, Some(f32::NAN)])),
        ),
    ));
    tables.push((
        "int8",
        column(
            "i",
            Arc::new(Int8Array::from(vec![Some(-128), None, Some(127)])),
        ),
    ));
    tables.push((
        "uint64",
        column("u", Arc::new(UInt64Array::from(vec![u64::MAX, 0]))),
    ));
    tables.push((
        "large-utf8",
        column("s", Arc::new(LargeStringArray::from(vec![Some("é"), None]))),
    ));
    tables.push((
        "binary",
        column(
            "b",
            Arc::new(BinaryArray::from(vec![Some(&b"\x00\xff"[..]), None])),
        ),
    ));
    tables.push((
        "date32",
        column(
            "d",
            Arc::new(Date32Array::from(vec![Some(0), Some(-719_528), None])),
        ),
    ));
    tables.push((
        "timestamp",
        column(
            "t",
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(0),
                Some(i64::MAX),
                None,
            ])),
        ),
    ));
    let dictionary: DictionaryArray<Int8Type> = vec!["a", "b", "a"].into_iter().collect();
    tables.push(("dictionary", column("k", Arc::new(dictionary))));
    let list = ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![
        Some(vec![Some(1), None]),
        None,
    ]);
    tables.push(("list", column("l", Arc::new(list))));
    let ints: Vec<Option<i64>> = (0..1000).map(|i| (i % 7 != 0).then_some(i)).collect();
    tables.push((
        "thousand-rows",
        TableBuilder::new()
            .int64("x", ints)
            .and_then(TableBuilder::finish)
            .expect("thousand rows"),
    ));
    tables
}
