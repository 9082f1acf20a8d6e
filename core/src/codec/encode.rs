//! Sending: payload descriptions, the transport rule applied to them
//! ([`plan`]), and writing the envelope's bytes ([`EnvelopeWriter`]).

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::encoding::sha256_hex;
use crate::envelope::{EnvelopeHeader, SentData, SentEnvelope, new_uuid};
use crate::error::{Error, ErrorKind, Result};
use crate::payload::{Payload, PayloadInfo, PayloadType, serialize_body};
use crate::transport::{Limits, Sizing, Transport, choose_transports};

use super::header::{EnvelopeOptions, nats_headers_len, new_header};
use super::subject::{strip_credentials, validate_subject};

/// Checks a payload description the caller made: a non-empty dataname.
pub fn validate_dataname(dataname: &str) -> Result<()> {
    if dataname.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "a payload has an empty dataname; every payload needs a name",
        ));
    }
    Ok(())
}

/// A new payload description, transport still to be chosen by [`plan`].
pub fn new_info(
    dataname: String,
    payload_type: PayloadType,
    size: u64,
    metadata: Map<String, Value>,
) -> PayloadInfo {
    PayloadInfo {
        id: new_uuid(),
        dataname,
        payload_type,
        transport: Transport::Direct,
        size,
        sha256: None,
        metadata,
    }
}

/// An envelope being written. The header's length is known up front, so the
/// transport rule works with the envelope's exact size; [`EnvelopeWriter::finish`]
/// then writes the whole message once into one buffer of exactly its size.
/// Use [`plan`] on it, then [`EnvelopeWriter::finish`].
#[derive(Debug)]
pub struct EnvelopeWriter {
    header: EnvelopeHeader,
    /// Bytes of `{"version":...,"metadata":{...},"payloads":[`.
    header_len: usize,
    /// Bit `i` set: `header.string_fields()[i]` needs JSON escaping
    /// (measured once in `new`, so `finish` does not scan the strings again).
    escapes: u16,
}

impl EnvelopeWriter {
    /// Measures `header` (nothing is written until [`EnvelopeWriter::finish`]).
    pub fn new(header: EnvelopeHeader) -> EnvelopeWriter {
        let (fields_len, escapes) = header_fields_len(&header);
        EnvelopeWriter {
            header,
            header_len: fields_len + PAYLOADS_KEY.len(),
            escapes,
        }
    }

    /// The envelope's fields.
    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    /// Bytes of the whole NATS message besides the payload objects: the
    /// header block and the envelope around `count` payloads.
    fn fixed_len(&self, count: usize) -> usize {
        self.header_len + "]}".len() + count.saturating_sub(1) + nats_headers_len(&self.header)
    }

    /// The [`Limits`] for [`plan`]: this envelope with `count` payloads, its
    /// NATS headers, `size_threshold` and the server's `max_payload`.
    pub fn limits(&self, count: usize, size_threshold: usize, max_payload: usize) -> Limits {
        Limits {
            size_threshold,
            max_payload,
            fixed_overhead: self.fixed_len(count),
        }
    }

    /// Writes the envelope and returns it. `parts[i]` holds the data of
    /// `infos[i]`; direct parts are base64-encoded straight into the output
    /// buffer (the only copy of the payload a send makes besides what NATS
    /// writes to the socket). The buffer is allocated once, at its exact size.
    pub fn finish(self, infos: Vec<PayloadInfo>, parts: &[PartData<'_>]) -> SentEnvelope {
        debug_assert_eq!(infos.len(), parts.len());
        let EnvelopeWriter {
            header,
            header_len,
            escapes,
        } = self;
        let total = envelope_len(header_len, &infos, parts);
        let mut out = Vec::with_capacity(total);
        write_header_fields(&mut out, &header, escapes);
        out.extend_from_slice(PAYLOADS_KEY);
        let mut data = Vec::with_capacity(parts.len());
        for (index, (info, part)) in infos.iter().zip(parts).enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_payload_fields(&mut out, info);
            out.extend_from_slice(b",\"data\":");
            match part {
                PartData::Direct(bytes) => {
                    out.push(b'"');
                    let start = out.len();
                    crate::encoding::base64_encode_append(bytes, &mut out);
                    data.push(SentData::Direct(start..out.len()));
                    out.push(b'"');
                }
                PartData::Link(url) => {
                    write_json_str(&mut out, url);
                    data.push(SentData::Link((*url).to_owned()));
                }
            }
            out.extend_from_slice(b",\"metadata\":");
            write_map(&mut out, &info.metadata);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        debug_assert_eq!(out.len(), total, "envelope_len must be exact");
        SentEnvelope {
            header,
            payloads: infos,
            stream_sequence: None,
            data,
            wire: Bytes::from(out),
        }
    }
}

const PAYLOADS_KEY: &[u8] = b",\"payloads\":[";

/// Exact length of the envelope [`EnvelopeWriter::finish`] writes, given the
/// length of everything before the first payload object.
fn envelope_len(header_len: usize, infos: &[PayloadInfo], parts: &[PartData<'_>]) -> usize {
    let objects: usize = infos
        .iter()
        .zip(parts)
        .map(|(info, part)| {
            let data = match part {
                PartData::Direct(bytes) => crate::encoding::base64_len(bytes.len()) + 2,
                PartData::Link(url) => json_str_len(url),
            };
            payload_fields_len(info)
                + ",\"data\":".len()
                + data
                + ",\"metadata\":".len()
                + json_len(&info.metadata)
                + 1
        })
        .sum();
    header_len + objects + infos.len().saturating_sub(1) + "]}".len()
}

/// Applies the transport rule (wire-v1 section 5) to the payloads of a
/// message and records each choice in `infos[i].transport`. `limits` comes
/// from [`EnvelopeWriter::limits`] (the envelope's own bytes count).
///
/// `link_data_len(info)` tells how long the link URL of a payload would be
/// (an upper bound is fine). Returns the planned message length, an upper
/// bound of the final one (every payload is counted with a sha256). Fails
/// with [`ErrorKind::PayloadTooLarge`] when a payload must go by link and
/// `store_available` is false; the message names the payload and the limit.
pub fn plan(
    infos: &mut [PayloadInfo],
    limits: Limits,
    store_available: bool,
    link_data_len: impl Fn(&PayloadInfo) -> usize,
) -> Result<usize> {
    let sizings: Vec<Sizing> = infos
        .iter()
        .map(|info| Sizing {
            size: usize::try_from(info.size).unwrap_or(usize::MAX),
            overhead: payload_object_len(info),
            link_data_len: link_data_len(info),
        })
        .collect();
    let Limits {
        size_threshold,
        max_payload,
        ..
    } = limits;
    let (transports, total) = choose_transports(&sizings, limits)?;
    if !store_available
        && let Some((info, _)) = infos
            .iter()
            .zip(&transports)
            .find(|(_, t)| **t == Transport::Link)
    {
        let why = if info.size as usize >= size_threshold {
            format!("the size_threshold is {size_threshold} bytes")
        } else {
            format!("its base64 does not fit in the server's max_payload of {max_payload} bytes")
        };
        return Err(Error::new(
            ErrorKind::PayloadTooLarge,
            format!(
                "payload '{}' is {} bytes and must travel by link ({why}), but no \
                     claim-check store is configured: pass fileserver_url, a custom upload \
                     handler, or connect to a server with JetStream",
                info.dataname, info.size
            ),
        )
        .with_dataname(info.dataname.clone()));
    }
    for (info, transport) in infos.iter_mut().zip(transports) {
        info.transport = transport;
    }
    Ok(total)
}

/// The data of one payload for [`EnvelopeWriter::finish`].
#[derive(Debug, Clone, Copy)]
pub enum PartData<'a> {
    /// Serialized bytes, to be base64-encoded into the envelope.
    Direct(&'a [u8]),
    /// The link URL.
    Link(&'a str),
}

/// Builds a whole message from in-memory payloads without any I/O: fills the
/// header, serializes, applies the transport rule and encodes. Fails with
/// [`ErrorKind::PayloadTooLarge`] if a payload would need a claim-check store.
///
/// ```
/// use natsbridge::{codec, Payload};
/// let sent = codec::encode_direct(
///     "/chat/room1",
///     vec![Payload::text("message", "Hello World")],
///     &codec::EnvelopeOptions::default(),
///     "nats://localhost:4222",
///     1 << 20,
/// ).unwrap();
/// let back = codec::decode(sent.wire_bytes()).unwrap();
/// assert_eq!(back.header.msg_id, sent.header.msg_id);
/// ```
pub fn encode_direct(
    subject: &str,
    payloads: Vec<Payload>,
    options: &EnvelopeOptions,
    broker_url: &str,
    max_payload: usize,
) -> Result<SentEnvelope> {
    validate_subject(subject)?;
    let writer = EnvelopeWriter::new(new_header(subject, options, &strip_credentials(broker_url)));
    let (mut infos, bodies) = serialize_all(payloads, options.direct_sha256)?;
    let limits = writer.limits(infos.len(), options.size_threshold, max_payload);
    plan(&mut infos, limits, false, |_| 0)?;
    let parts: Vec<PartData<'_>> = bodies.iter().map(|b| PartData::Direct(b)).collect();
    Ok(writer.finish(infos, &parts))
}

/// Serializes in-memory payloads, checking datanames, and describes them,
/// with a sha256 when `with_sha256`. File payloads are refused: they need
/// the I/O layer.
pub fn serialize_all(
    payloads: Vec<Payload>,
    with_sha256: bool,
) -> Result<(Vec<PayloadInfo>, Vec<Bytes>)> {
    let mut infos = Vec::with_capacity(payloads.len());
    let mut bodies = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let (dataname, payload_type, body, metadata) = payload.into_parts();
        validate_dataname(&dataname)?;
        let bytes = serialize_body(&dataname, body)?;
        let mut info = new_info(dataname, payload_type, bytes.len() as u64, metadata);
        if with_sha256 {
            info.sha256 = Some(sha256_hex(&bytes));
        }
        infos.push(info);
        bodies.push(bytes);
    }
    Ok((infos, bodies))
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a Map or str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes a metadata object (most are empty: no serializer for those).
fn write_map(out: &mut Vec<u8>, map: &Map<String, Value>) {
    if map.is_empty() {
        out.extend_from_slice(b"{}");
    } else {
        write_json(out, map);
    }
}

/// Length of a metadata object's JSON as [`write_map`] writes it, counted
/// without allocating.
fn json_len(map: &Map<String, Value>) -> usize {
    if map.is_empty() {
        return 2;
    }
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, map);
    count.0
}

fn write_json_str(out: &mut Vec<u8>, text: &str) {
    write_json_str_known(out, text, needs_escape(text));
}

/// [`write_json_str`] when the caller already knows whether `text` needs
/// escaping.
fn write_json_str_known(out: &mut Vec<u8>, text: &str, escape: bool) {
    // Envelope strings (ids, names, subjects) rarely need escaping: copy
    // them in one go and leave the escaping to serde_json when they do.
    if escape {
        write_json(out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// True when `text` has a byte JSON escapes (`"`, `\\`, control
/// characters). Eight bytes at a time with word arithmetic (a byte-wise
/// loop was 12-23 % of an envelope's build in `perf`): the strings are
/// short and almost never need escaping.
fn needs_escape(text: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `word` below `n` (n <= 128) sets a high bit (the classic
    // "has less" test; exact about whether one exists).
    let has_less = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGH != 0;
    let (words, rest) = text.as_bytes().as_chunks::<8>();
    for word in words {
        let word = u64::from_le_bytes(*word);
        if has_less(word, 0x20)
            || has_less(word ^ (ONES * u64::from(b'"')), 1)
            || has_less(word ^ (ONES * u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    rest.iter()
        .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

/// Appends the decimal digits of `value`.
fn write_u64(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut rest = value;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn write_header_fields(out: &mut Vec<u8>, header: &EnvelopeHeader, escapes: u16) {
    out.extend_from_slice(b"{\"version\":");
    write_u64(out, u64::from(header.version));
    for (index, (name, value)) in header.string_fields().into_iter().enumerate() {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        write_json_str_known(out, value, escapes & (1 << index) != 0);
    }
    out.extend_from_slice(b",\"metadata\":");
    write_map(out, &header.metadata);
}

/// Length of what [`write_header_fields`] writes, and which string fields
/// need escaping (bit `i` for `string_fields()[i]`).
fn header_fields_len(header: &EnvelopeHeader) -> (usize, u16) {
    let mut len = "{\"version\":".len()
        + decimal_len(u64::from(header.version))
        + ",\"metadata\":".len()
        + json_len(&header.metadata);
    let mut escapes = 0u16;
    for (index, (name, value)) in header.string_fields().into_iter().enumerate() {
        let escape = needs_escape(value);
        escapes |= u16::from(escape) << index;
        len += ",\"\":".len() + name.len() + json_str_len_known(value, escape);
    }
    (len, escapes)
}

/// Number of decimal digits of `value`.
fn decimal_len(value: u64) -> usize {
    value
        .checked_ilog10()
        .map_or(1, |digits| digits as usize + 1)
}

const DIRECT_FIELDS: &[u8] = b",\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":";
const LINK_FIELDS: &[u8] = b",\"transport\":\"link\",\"encoding\":\"url\",\"size\":";

fn write_payload_fields(out: &mut Vec<u8>, info: &PayloadInfo) {
    out.extend_from_slice(b"{\"id\":");
    write_json_str(out, &info.id);
    out.extend_from_slice(b",\"dataname\":");
    write_json_str(out, &info.dataname);
    out.extend_from_slice(b",\"type\":");
    write_json_str(out, info.payload_type.as_str());
    out.extend_from_slice(match info.transport {
        Transport::Direct => DIRECT_FIELDS,
        Transport::Link => LINK_FIELDS,
    });
    write_u64(out, info.size);
    if let Some(sha) = &info.sha256 {
        out.extend_from_slice(b",\"sha256\":");
        write_json_str(out, sha);
    }
}

/// Length of what [`write_payload_fields`] writes.
fn payload_fields_len(info: &PayloadInfo) -> usize {
    "{\"id\":".len()
        + json_str_len(&info.id)
        + ",\"dataname\":".len()
        + json_str_len(&info.dataname)
        + ",\"type\":".len()
        + json_str_len(info.payload_type.as_str())
        + match info.transport {
            Transport::Direct => DIRECT_FIELDS.len(),
            Transport::Link => LINK_FIELDS.len(),
        }
        + decimal_len(info.size)
        + info
            .sha256
            .as_ref()
            .map_or(0, |sha| ",\"sha256\":".len() + json_str_len(sha))
}

/// Length of `text` as a JSON string, quotes included, escaped the way
/// serde_json escapes: `"` and `\` and the control characters, nothing else.
fn json_str_len(text: &str) -> usize {
    json_str_len_known(text, needs_escape(text))
}

/// [`json_str_len`] when the caller already knows whether `text` needs escaping.
fn json_str_len_known(text: &str, escape: bool) -> usize {
    if !escape {
        return text.len() + 2;
    }
    2 + text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Length of a payload's JSON object with empty `data`, in its longest form
/// (direct, with a sha256), computed without writing it.
fn payload_object_len(info: &PayloadInfo) -> usize {
    const FIXED: &str = r#"{"id":,"dataname":,"type":,"transport":"direct","encoding":"base64","size":,"sha256":,"data":"","metadata":}"#;
    let metadata = json_len(&info.metadata);
    FIXED.len()
        + json_str_len(&info.id)
        + json_str_len(&info.dataname)
        + json_str_len(info.payload_type.as_str())
        + decimal_len(info.size)
        + 66
        + metadata
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The word-at-a-time scan agrees with the byte-wise rule for every
    /// ASCII byte at every position of a word and of the tail, and for
    /// multi-byte UTF-8 (high bytes never need escaping).
    #[test]
    fn needs_escape_matches_the_bytewise_rule() {
        let reference = |text: &str| {
            text.bytes()
                .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\')
        };
        for byte in 0u8..0x80 {
            for position in 0..19 {
                let mut bytes = vec![b'a'; 19];
                bytes[position] = byte;
                let text = std::str::from_utf8(&bytes).unwrap();
                assert_eq!(
                    needs_escape(text),
                    reference(text),
                    "{byte:#x} at {position}"
                );
            }
        }
        for text in [
            "",
            "é日本\u{7f}\u{80}ÿ€€€€€€",
            "\u{1f600}\u{1f600}\n",
            "ab\"",
            "12345678\\",
        ] {
            assert_eq!(needs_escape(text), reference(text), "{text:?}");
        }
    }

    /// `finish` allocates its buffer from `envelope_len`: the count must be
    /// exact for every kind of field (escapes, metadata, links, sha256).
    #[test]
    fn envelope_len_is_exact() {
        let mut metadata = Map::new();
        metadata.insert("k\"ey".into(), json!({"n": [1, 2.5, null], "s": "v\u{1}é"}));
        let options = EnvelopeOptions {
            msg_purpose: Some("tele\"metry\n".into()),
            sender_name: "n\\ame\u{7}".into(),
            reply_to: "r.x".into(),
            metadata: metadata.clone(),
            ..EnvelopeOptions::default()
        };
        for count in 0..3 {
            let writer = EnvelopeWriter::new(new_header("/s ub\"j", &options, "nats://h:1"));
            let header_len = writer.header_len;
            let mut infos = Vec::new();
            let bodies: Vec<Vec<u8>> = (0..count).map(|n| vec![7u8; n * 1000 + 1]).collect();
            let mut parts = Vec::new();
            for (n, body) in bodies.iter().enumerate() {
                let mut info = new_info(
                    format!("d\"{n}\t"),
                    PayloadType::Binary,
                    body.len() as u64,
                    if n == 0 { metadata.clone() } else { Map::new() },
                );
                if n == 1 {
                    info.transport = Transport::Link;
                    info.sha256 = Some(sha256_hex(body));
                    parts.push(PartData::Link("http://h/\"x\"\n"));
                } else {
                    parts.push(PartData::Direct(body));
                }
                infos.push(info);
            }
            let expected = envelope_len(header_len, &infos, &parts);
            let sent = writer.finish(infos, &parts);
            assert_eq!(sent.wire_bytes().len(), expected, "{count} payloads");
            let back: Value = serde_json::from_slice(sent.wire_bytes()).unwrap();
            assert_eq!(back, sent.to_json());
        }
    }
}
