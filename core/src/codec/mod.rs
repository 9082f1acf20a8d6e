//! The sans-I/O codec: everything between a caller's payloads and the bytes
//! of a NATS message, and back, without sockets, files or an async runtime.
//!
//! Sending is three steps so that the I/O layer can upload link payloads in
//! between: [`new_header`] fills the envelope fields, [`plan`] applies the
//! transport rule to the payload descriptions, and [`EnvelopeWriter::finish`] writes the
//! envelope once the link URLs are known. [`encode_direct`] does all three
//! for in-memory payloads that need no store. Receiving is [`decode`], which
//! verifies direct payloads and leaves link payloads as [`Content::Link`] for
//! the I/O layer to fetch and pass to [`finish_link`].
//!
//! This is what every binding shares, what fuzzing should target, and what a
//! WebAssembly build compiles.
//!
//! Its files, each owning one concern (everything is re-exported here, so
//! paths are `codec::<item>`): `subject.rs` (subject and server-URL rules),
//! `header.rs` (the envelope header and [`EnvelopeOptions`]), `encode.rs`
//! (payload descriptions, the transport plan, writing the bytes) and
//! `decode.rs` (parsing, verification, finishing link payloads).

mod decode;
mod encode;
mod header;
mod subject;

pub use decode::*;
pub use encode::*;
pub use header::*;
pub use subject::*;

// The byte encodings moved to the leaf `encoding` module; these old paths stay.
pub use crate::encoding::{base64_decode, base64_encode, sha256_hex};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::SentEnvelope;
    use crate::error::ErrorKind;
    use crate::payload::{Payload, PayloadType, PayloadValue};
    use crate::table::Table;
    use serde_json::json;
    use serde_json::{Map, Value};

    fn encode_one(payloads: Vec<Payload>) -> SentEnvelope {
        encode_direct(
            "/chat/room1",
            payloads,
            &EnvelopeOptions {
                direct_sha256: true,
                ..EnvelopeOptions::default()
            },
            "nats://u:p@localhost:4222",
            1 << 20,
        )
        .unwrap()
    }

    fn ready(payload: &DecodedPayload) -> &PayloadValue {
        match &payload.content {
            Content::Ready(value) => value,
            Content::Link(url) => panic!("unexpected link {url}"),
        }
    }

    #[test]
    fn every_type_round_trips() {
        let table = Table::from_json_rows(json!([{"a": 1}]).as_array().unwrap()).unwrap();
        let sent = encode_one(vec![
            Payload::text("t", "héllo"),
            Payload::dictionary("d", json!({"k": [1, 2.5, null, true]})),
            Payload::table("tb", table),
            Payload::bytes("i", PayloadType::Image, vec![0u8, 1, 2]),
            Payload::bytes("a", PayloadType::Audio, vec![3u8]),
            Payload::bytes("v", PayloadType::Video, Vec::<u8>::new()),
            Payload::bytes("b", PayloadType::Binary, vec![255u8; 1000]),
        ]);
        let back = decode(sent.wire_bytes()).unwrap();
        assert_eq!(back.header, sent.header);
        assert_eq!(back.payloads.len(), 7);
        for (got, info) in back.payloads.iter().zip(&sent.payloads) {
            assert_eq!(&got.info, info);
        }
        assert_eq!(ready(&back.payloads[0]).as_text(), Some("héllo"));
        assert_eq!(
            ready(&back.payloads[1]).as_json(),
            Some(&json!({"k": [1, 2.5, null, true]}))
        );
        assert_eq!(ready(&back.payloads[2]).as_table().unwrap().num_rows(), 1);
        assert_eq!(
            ready(&back.payloads[3]).as_bytes().unwrap().as_ref(),
            [0, 1, 2]
        );
        assert_eq!(ready(&back.payloads[5]).as_bytes().unwrap().len(), 0);
        assert_eq!(
            ready(&back.payloads[6]).as_bytes().unwrap().as_ref(),
            [255u8; 1000]
        );
    }

    #[test]
    fn a_payload_without_a_dataname_is_malformed() {
        let sent = encode_one(vec![Payload::text("t", "x")]);
        let mut json: Value = serde_json::from_slice(sent.wire_bytes()).unwrap();
        for dataname in [Some(json!("")), None] {
            match &dataname {
                Some(value) => json["payloads"][0]["dataname"] = value.clone(),
                None => {
                    json["payloads"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("dataname");
                }
            }
            let err = decode(json.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MalformedEnvelope, "{dataname:?}");
            assert!(err.message().contains("dataname"), "{}", err.message());
        }
    }

    #[test]
    fn envelope_has_every_spec_field() {
        let sent = encode_one(vec![Payload::text("message", "Hello World")]);
        let json: Value = serde_json::from_slice(sent.wire_bytes()).unwrap();
        for field in [
            "version",
            "correlation_id",
            "msg_id",
            "timestamp",
            "send_to",
            "msg_purpose",
            "sender_name",
            "sender_id",
            "receiver_name",
            "receiver_id",
            "reply_to",
            "reply_to_msg_id",
            "broker_url",
            "metadata",
            "payloads",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["broker_url"], "nats://localhost:4222");
        assert_eq!(json["send_to"], "/chat/room1");
        assert_eq!(json["msg_purpose"], "chat");
        assert_eq!(json["sender_name"], "NATSBridge");
        let payload = &json["payloads"][0];
        assert_eq!(payload["data"], "SGVsbG8gV29ybGQ=");
        assert_eq!(payload["size"], 11);
        assert_eq!(payload["encoding"], "base64");
        assert_eq!(payload["sha256"], sha256_hex(b"Hello World"));
        assert_eq!(sent.to_json(), json);
        assert_eq!(sent.payload_data(0), "SGVsbG8gV29ybGQ=");
        // Without direct_sha256 (the default) direct payloads carry no digest.
        let plain = encode_direct(
            "s",
            vec![Payload::text("m", "x")],
            &EnvelopeOptions::default(),
            "",
            1 << 20,
        )
        .unwrap();
        let json: Value = serde_json::from_slice(plain.wire_bytes()).unwrap();
        assert!(json["payloads"][0].get("sha256").is_none());
        assert_eq!(
            uuid::Uuid::parse_str(&sent.header.msg_id)
                .unwrap()
                .get_version_num(),
            4
        );
    }

    #[test]
    fn reads_the_spec_example_and_minimal_envelopes() {
        let minimal = br#"{"payloads":[{"dataname":"m","type":"text","transport":"direct",
            "size":2,"data":"aGk="}]}"#;
        let back = decode(minimal).unwrap();
        assert_eq!(back.header.version, 1);
        assert_eq!(back.header.msg_id, "");
        assert_eq!(ready(&back.payloads[0]).as_text(), Some("hi"));
        let unknown = br#"{"version":1,"future":true,"payloads":[{"dataname":"h","type":"hologram",
            "transport":"direct","encoding":"base64","size":1,"data":"/w==","x":1}]}"#;
        let back = decode(unknown).unwrap();
        assert_eq!(
            back.payloads[0].info.payload_type,
            PayloadType::Other("hologram".into())
        );
        let link = br#"{"payloads":[{"dataname":"f","type":"binary","transport":"link",
            "encoding":"url","size":5,"sha256":"AB5DF625BC76DBD4E163BED2DD888DF828F90159BB93556525C31821B6541D46",
            "data":"http://127.0.0.1:1/x"}]}"#;
        let back = decode(link).unwrap();
        assert!(
            matches!(&back.payloads[0].content, Content::Link(url) if url == "http://127.0.0.1:1/x")
        );
        assert_eq!(
            back.payloads[0].info.sha256.as_deref(),
            Some("ab5df625bc76dbd4e163bed2dd888df828f90159bb93556525c31821b6541d46")
        );
    }

    #[test]
    fn each_bad_input_has_its_kind() {
        let good = encode_one(vec![Payload::text("t", "hello")]);
        let wire = String::from_utf8(good.wire_bytes().to_vec()).unwrap();
        let cases: Vec<(String, ErrorKind)> = vec![
            (
                wire[..wire.len() / 2].to_owned(),
                ErrorKind::MalformedEnvelope,
            ),
            ("{}".into(), ErrorKind::MalformedEnvelope),
            (
                r#"{"payloads":{"a":1}}"#.into(),
                ErrorKind::MalformedEnvelope,
            ),
            (r#"{"payloads":null}"#.into(), ErrorKind::MalformedEnvelope),
            (
                r#"{"version":"1","payloads":[]}"#.into(),
                ErrorKind::MalformedEnvelope,
            ),
            (
                r#"{"version":2,"payloads":[]}"#.into(),
                ErrorKind::UnsupportedVersion,
            ),
            (
                wire.replace("aGVsbG8=", "aGVsbG8*"),
                ErrorKind::InvalidBase64,
            ),
            (
                wire.replace("\"size\":5", "\"size\":6"),
                ErrorKind::Integrity,
            ),
            (wire.replace("aGVsbG8=", "SGVsbG8="), ErrorKind::Integrity),
            (
                wire.replace("\"size\":5", "\"size\":-5"),
                ErrorKind::MalformedEnvelope,
            ),
            (
                wire.replace("\"transport\":\"direct\"", "\"transport\":\"pigeon\""),
                ErrorKind::MalformedEnvelope,
            ),
            (
                wire.replace("\"encoding\":\"base64\"", "\"encoding\":\"url\""),
                ErrorKind::MalformedEnvelope,
            ),
            ("[1,2]".into(), ErrorKind::MalformedEnvelope),
            ("".into(), ErrorKind::MalformedEnvelope),
        ];
        for (input, kind) in cases {
            let err = decode(input.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), kind, "input {input}: {err}");
        }
        let bad_utf8 = format!(
            r#"{{"payloads":[{{"dataname":"t","type":"text","transport":"direct","size":2,"data":"{}"}}]}}"#,
            base64_encode(&[0xc3, 0x28])
        );
        assert_eq!(
            decode(bad_utf8.as_bytes()).unwrap_err().kind(),
            ErrorKind::InvalidUtf8
        );
        let not_arrow = format!(
            r#"{{"payloads":[{{"dataname":"t","type":"table","transport":"direct","size":4,"data":"{}"}}]}}"#,
            base64_encode(b"nope")
        );
        assert_eq!(
            decode(not_arrow.as_bytes()).unwrap_err().kind(),
            ErrorKind::InvalidTable
        );
    }

    /// Decodes with `decode_deferred`, hashing deferred payloads as a host
    /// would (`digest` of the bytes), then `finish_digest`.
    fn decode_via_host(
        input: &[u8],
        digest: impl Fn(&[u8]) -> Vec<u8>,
    ) -> crate::error::Result<Vec<PayloadValue>> {
        let deferred = decode_deferred(input, 0)?;
        let mut values = Vec::new();
        for payload in deferred.payloads {
            values.push(match payload.content {
                Deferred::Ready(value) => value,
                Deferred::Digest(bytes) => {
                    let d = digest(&bytes);
                    finish_digest(&payload.info, bytes, &d)?
                }
                Deferred::Link(url) => panic!("unexpected link {url}"),
            });
        }
        Ok(values)
    }

    fn sha256_bytes(bytes: &[u8]) -> Vec<u8> {
        hex::decode(crate::encoding::sha256_hex(bytes)).unwrap()
    }

    #[test]
    fn deferred_digests_decide_as_decode_does() {
        let table = Table::from_json_rows(json!([{"a": 1}]).as_array().unwrap()).unwrap();
        let sent = encode_one(vec![
            Payload::text("t", "héllo"),
            Payload::dictionary("d", json!({"k": [1, 2.5]})),
            Payload::table("tb", table),
            Payload::bytes("b", PayloadType::Binary, vec![7u8; 3000]),
        ]);
        let wire = sent.wire_bytes();
        // Every payload declares a sha256, so with no minimum all are deferred.
        let deferred = decode_deferred(wire, 0).unwrap();
        assert!(
            deferred
                .payloads
                .iter()
                .all(|p| matches!(p.content, Deferred::Digest(_)))
        );
        // Only the 3000-byte one is deferred with a 1 KiB minimum.
        let kinds: Vec<bool> = decode_deferred(wire, 1024)
            .unwrap()
            .payloads
            .iter()
            .map(|p| matches!(p.content, Deferred::Digest(_)))
            .collect();
        assert_eq!(kinds, [false, false, false, true]);
        let values = decode_via_host(wire, sha256_bytes).unwrap();
        let direct = decode(wire).unwrap();
        assert_eq!(values.len(), 4);
        for (value, payload) in values.iter().zip(&direct.payloads) {
            match (value, ready(payload)) {
                (PayloadValue::Text(a), PayloadValue::Text(b)) => assert_eq!(a, b),
                (PayloadValue::Dictionary(a), PayloadValue::Dictionary(b)) => assert_eq!(a, b),
                (PayloadValue::Table(a), PayloadValue::Table(b)) => {
                    assert_eq!(a.ipc_bytes(), b.ipc_bytes());
                    assert_eq!(a.num_rows(), 1);
                }
                (PayloadValue::Bytes(a), PayloadValue::Bytes(b)) => assert_eq!(a, b),
                (a, b) => panic!("{a:?} differs from {b:?}"),
            }
        }

        // A wrong digest is an integrity error for the payload it names.
        let err = decode_via_host(wire, |_| vec![0u8; 32]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(err.dataname(), Some("t"));
        // A digest of the wrong length is the caller's bug, not the sender's.
        let err = decode_via_host(wire, |_| vec![0u8; 31]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);

        // The same bad inputs give the same kinds as decode.
        let good = String::from_utf8(
            encode_one(vec![Payload::text("t", "hello")])
                .wire_bytes()
                .to_vec(),
        )
        .unwrap();
        for (input, kind) in [
            (
                good.replace("aGVsbG8=", "aGVsbG8*"),
                ErrorKind::InvalidBase64,
            ),
            (
                good.replace("\"size\":5", "\"size\":6"),
                ErrorKind::Integrity,
            ),
            (good.replace("aGVsbG8=", "SGVsbG8="), ErrorKind::Integrity),
            ("{}".to_owned(), ErrorKind::MalformedEnvelope),
        ] {
            let err = decode_via_host(input.as_bytes(), sha256_bytes).unwrap_err();
            assert_eq!(err.kind(), kind, "input {input}: {err}");
            assert_eq!(decode(input.as_bytes()).unwrap_err().kind(), kind);
        }
        // Bad UTF-8 whose digest matches: the digest passes, the text does not.
        let bytes = [0xc3u8, 0x28];
        let bad_utf8 = format!(
            r#"{{"payloads":[{{"dataname":"t","type":"text","transport":"direct","size":2,"sha256":"{}","data":"{}"}}]}}"#,
            crate::encoding::sha256_hex(&bytes),
            base64_encode(&bytes)
        );
        let err = decode_via_host(bad_utf8.as_bytes(), sha256_bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUtf8);
    }

    #[test]
    fn huge_declared_size_does_not_allocate() {
        let input = br#"{"payloads":[{"dataname":"x","type":"binary","transport":"direct","size":1000000000000000,"data":"AAAA"}]}"#;
        assert_eq!(decode(input).unwrap_err().kind(), ErrorKind::Integrity);
    }

    #[test]
    fn bad_subjects_and_datanames_are_refused() {
        for subject in ["", "a b", "a\tb", "a..b", ".a", "a.", "a.*", "a.>", "x\r\n"] {
            assert_eq!(
                validate_subject(subject).unwrap_err().kind(),
                ErrorKind::InvalidArgument,
                "{subject:?}"
            );
        }
        for subject in ["/chat/room1", "a.b.c", "_INBOX.x", "device-1/cmd"] {
            validate_subject(subject).unwrap();
        }
        validate_subscribe_subject("a.*.>").unwrap();
        assert!(validate_subscribe_subject("a.b*").is_err());
        let err = encode_direct(
            "s",
            vec![Payload::text("", "x")],
            &EnvelopeOptions::default(),
            "",
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn planned_length_is_exact_up_to_the_sha256_fields() {
        for with_sha in [true, false] {
            let mut meta = Map::new();
            meta.insert("k".into(), json!("v\u{1}"));
            let payloads = vec![
                Payload::text("a", "x".repeat(100)),
                Payload::dictionary("b\"quoted\"\n\u{7}é", json!({"z": 1})).with_metadata(meta),
                Payload::bytes("c", PayloadType::Binary, vec![1u8; 1000]),
            ];
            let writer = EnvelopeWriter::new(new_header(
                "subject",
                &EnvelopeOptions::default(),
                "nats://h:4222",
            ));
            let header = writer.header().clone();
            let (mut infos, bodies) = serialize_all(payloads, with_sha).unwrap();
            let limits = writer.limits(infos.len(), 100_000, 1 << 20);
            let planned = plan(&mut infos, limits, false, |_| 0).unwrap();
            let parts: Vec<PartData<'_>> = bodies.iter().map(|b| PartData::Direct(b)).collect();
            let sent = writer.finish(infos, &parts);
            let actual = sent.wire_bytes().len() + nats_headers_len(&header);
            // Planning counts a sha256 field (76 bytes) for every payload.
            let unplanned_sha = if with_sha { 0 } else { 3 * 76 };
            assert_eq!(planned, actual + unplanned_sha);
        }
    }

    #[test]
    fn too_large_without_store_names_the_payload() {
        let err = encode_direct(
            "s",
            vec![Payload::bytes(
                "video",
                PayloadType::Video,
                vec![0u8; 900_000],
            )],
            &EnvelopeOptions::default(),
            "",
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
        assert!(
            err.message().contains("'video'") && err.message().contains("max_payload"),
            "{err}"
        );
        let err = encode_direct(
            "s",
            vec![Payload::bytes("big", PayloadType::Binary, vec![0u8; 2_000])],
            &EnvelopeOptions {
                size_threshold: 1000,
                ..EnvelopeOptions::default()
            },
            "",
            1 << 20,
        )
        .unwrap_err();
        assert!(err.message().contains("size_threshold"), "{err}");
    }

    #[test]
    fn credentials_never_reach_broker_url() {
        assert_eq!(strip_credentials("nats://a:b@h:1"), "nats://h:1");
        assert_eq!(strip_credentials("nats://tok@h:1/path"), "nats://h:1/path");
        assert_eq!(strip_credentials("nats://h:1"), "nats://h:1");
        assert_eq!(
            strip_credentials("tls://u:p@a:1,tls://u:p@b:2"),
            "tls://a:1,tls://b:2"
        );
        assert_eq!(strip_credentials("nats://u:p%40x@h:1"), "nats://h:1");
    }
}
