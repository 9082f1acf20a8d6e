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

/// An envelope being written: the header is serialized once, up front, so
/// the transport rule works with its exact length and the same bytes become
/// the start of the message. Use [`plan`] on it, then [`EnvelopeWriter::finish`].
#[derive(Debug)]
pub struct EnvelopeWriter {
    header: EnvelopeHeader,
    out: Vec<u8>,
}

impl EnvelopeWriter {
    /// Serializes `header`.
    pub fn new(header: EnvelopeHeader) -> EnvelopeWriter {
        let mut out = Vec::with_capacity(1024);
        write_header_fields(&mut out, &header);
        out.extend_from_slice(b",\"payloads\":[");
        EnvelopeWriter { header, out }
    }

    /// The envelope's fields.
    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    /// Bytes of the whole NATS message besides the payload objects: the
    /// header block and the envelope around `count` payloads.
    fn fixed_len(&self, count: usize) -> usize {
        self.out.len() + "]}".len() + count.saturating_sub(1) + nats_headers_len(&self.header)
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

    /// Writes the payloads and returns the finished envelope. `parts[i]`
    /// holds the data of `infos[i]`; direct parts are base64-encoded straight
    /// into the output buffer (the only copy of the payload a send makes
    /// besides what NATS writes to the socket).
    pub fn finish(self, infos: Vec<PayloadInfo>, parts: &[PartData<'_>]) -> SentEnvelope {
        debug_assert_eq!(infos.len(), parts.len());
        let EnvelopeWriter { header, mut out } = self;
        let data_len: usize = parts
            .iter()
            .map(|part| match part {
                PartData::Direct(bytes) => crate::encoding::base64_len(bytes.len()),
                PartData::Link(url) => url.len() + 8,
            })
            .sum();
        // Room for the payload objects (their exact length is not needed here).
        out.reserve(infos.len() * 320 + data_len + 2);
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
            write_json(&mut out, &info.metadata);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        SentEnvelope {
            header,
            payloads: infos,
            stream_sequence: None,
            data,
            wire: Bytes::from(out),
        }
    }
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

fn write_json_str(out: &mut Vec<u8>, text: &str) {
    // Envelope strings (ids, names, subjects) rarely need escaping: copy
    // them in one go and leave the escaping to serde_json when they do.
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        write_json(out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
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

fn write_header_fields(out: &mut Vec<u8>, header: &EnvelopeHeader) {
    out.extend_from_slice(b"{\"version\":");
    write_u64(out, u64::from(header.version));
    for (name, value) in header.string_fields() {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        write_json_str(out, value);
    }
    out.extend_from_slice(b",\"metadata\":");
    write_json(out, &header.metadata);
}

fn write_payload_fields(out: &mut Vec<u8>, info: &PayloadInfo) {
    out.extend_from_slice(b"{\"id\":");
    write_json_str(out, &info.id);
    out.extend_from_slice(b",\"dataname\":");
    write_json_str(out, &info.dataname);
    out.extend_from_slice(b",\"type\":");
    write_json_str(out, info.payload_type.as_str());
    out.extend_from_slice(match info.transport {
        Transport::Direct => b",\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":",
        Transport::Link => b",\"transport\":\"link\",\"encoding\":\"url\",\"size\":",
    });
    write_u64(out, info.size);
    if let Some(sha) = &info.sha256 {
        out.extend_from_slice(b",\"sha256\":");
        write_json_str(out, sha);
    }
}

/// Length of `text` as a JSON string, quotes included, escaped the way
/// serde_json escapes: `"` and `\` and the control characters, nothing else.
fn json_str_len(text: &str) -> usize {
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
    let metadata = if info.metadata.is_empty() {
        2
    } else {
        serde_json::to_vec(&info.metadata).map_or(2, |json| json.len())
    };
    FIXED.len()
        + json_str_len(&info.id)
        + json_str_len(&info.dataname)
        + json_str_len(info.payload_type.as_str())
        + info
            .size
            .checked_ilog10()
            .map_or(1, |digits| digits as usize + 1)
        + 66
        + metadata
}
