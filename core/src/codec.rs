//! The sans-I/O codec: everything between a caller's payloads and the bytes
//! of a NATS message, and back, without sockets, files or an async runtime.
//!
//! Sending is three steps so that the I/O layer can upload link payloads in
//! between: [`new_header`] fills the envelope fields, [`plan`] applies the
//! transport rule to the payload descriptions, and [`encode`] writes the
//! envelope once the link URLs are known. [`encode_direct`] does all three
//! for in-memory payloads that need no store. Receiving is [`decode`], which
//! verifies direct payloads and leaves link payloads as [`Content::Link`] for
//! the I/O layer to fetch and pass to [`finish_link`].
//!
//! This is what every binding shares, what the fuzz targets call, and what a
//! WebAssembly build compiles.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::envelope::{
    CONTENT_TYPE, EnvelopeHeader, SentData, SentEnvelope, WIRE_VERSION, new_uuid, process_sender_id,
};
use crate::error::{Error, ErrorKind, Result};
use crate::options::SendOptions;
use crate::payload::{
    Payload, PayloadInfo, PayloadType, PayloadValue, deserialize, serialize_body,
};
use crate::transport::{Limits, Sizing, Transport, choose_transports};

/// The name of the header that carries `msg_id` for JetStream de-duplication.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Base64 of `bytes`, standard alphabet with padding (SIMD where the CPU has it).
pub fn base64_encode(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Decodes standard base64; padding may be present or not, since some
/// senders strip it. Anything else (other alphabets, whitespace) is an error.
pub fn base64_decode(text: &[u8]) -> std::result::Result<Vec<u8>, base64_simd::Error> {
    if text.len().is_multiple_of(4) {
        base64_simd::STANDARD.decode_to_vec(text)
    } else {
        base64_simd::STANDARD_NO_PAD.decode_to_vec(text)
    }
}

/// Checks a subject to publish on. Subjects are used exactly as given:
/// `/chat/room1` is one valid token. Refused: empty, whitespace or control
/// characters, empty tokens (`a..b`, leading or trailing `.`), wildcards.
///
/// ```
/// use natsbridge::codec::validate_subject;
/// assert!(validate_subject("/chat/room1").is_ok());
/// assert!(validate_subject("sensors.temp").is_ok());
/// assert!(validate_subject("bad subject").is_err());
/// assert!(validate_subject("").is_err());
/// ```
pub fn validate_subject(subject: &str) -> Result<()> {
    validate_subject_for(subject, false)
}

/// Checks a subject to subscribe to: like [`validate_subject`], but the
/// wildcards `*` and `>` are allowed as whole tokens.
pub fn validate_subscribe_subject(subject: &str) -> Result<()> {
    validate_subject_for(subject, true)
}

fn validate_subject_for(subject: &str, wildcards: bool) -> Result<()> {
    let problem = if subject.is_empty() {
        Some("it is empty")
    } else if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains whitespace or control characters")
    } else if subject.split('.').any(str::is_empty) {
        Some("it has an empty token (leading, trailing or doubled '.')")
    } else if subject.split('.').any(|token| {
        let is_wildcard = token == "*" || token == ">";
        (token.contains('*') || token.contains('>')) && !(wildcards && is_wildcard)
    }) {
        Some(if wildcards {
            "'*' and '>' are only allowed as whole tokens"
        } else {
            "wildcards ('*', '>') are not allowed when publishing"
        })
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid subject {subject:?}: {problem}"),
        )),
        None => Ok(()),
    }
}

/// Removes credentials (`user:pass@`, `token@`) from each URL of a
/// comma-separated server list, for the envelope's `broker_url`, log lines
/// and error messages.
///
/// Everything up to the last `@` is taken as credentials, even when it holds
/// a `/`, `?` or `#` (a password typed without percent-encoding): a secret
/// must never be echoed, and NATS URLs have no path that could hold an `@`.
///
/// ```
/// use natsbridge::codec::strip_credentials;
/// assert_eq!(strip_credentials("nats://alice:s3cret@host:4222"), "nats://host:4222");
/// assert_eq!(strip_credentials("tok@host:4222, nats://b:4222"), "host:4222,nats://b:4222");
/// assert_eq!(strip_credentials("nats://alice:pa/ss?#@host"), "nats://host");
/// ```
pub fn strip_credentials(urls: &str) -> String {
    urls.split(',')
        .map(|url| {
            let url = url.trim();
            let (scheme, rest) = match url.find("://") {
                Some(index) => url.split_at(index + 3),
                None => ("", url),
            };
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}{host}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Fills the envelope fields for a new message on `subject`. `broker_url`
/// is written as given: pass it through [`strip_credentials`] first.
pub fn new_header(subject: &str, options: &SendOptions, broker_url: &str) -> EnvelopeHeader {
    EnvelopeHeader {
        version: WIRE_VERSION,
        correlation_id: options.correlation_id.clone().unwrap_or_else(new_uuid),
        msg_id: options.msg_id.clone().unwrap_or_else(new_uuid),
        timestamp: clock::now_rfc3339_millis(),
        send_to: subject.to_owned(),
        msg_purpose: options
            .msg_purpose
            .clone()
            .unwrap_or_else(|| "chat".to_owned()),
        sender_name: options.sender_name.clone(),
        sender_id: options
            .sender_id
            .clone()
            .unwrap_or_else(|| process_sender_id().to_owned()),
        receiver_name: options.receiver_name.clone(),
        receiver_id: options.receiver_id.clone(),
        reply_to: options.reply_to.clone(),
        reply_to_msg_id: options.reply_to_msg_id.clone(),
        broker_url: broker_url.to_owned(),
        metadata: options.metadata.clone(),
    }
}

/// The NATS headers a sender sets, as `(name, value)` pairs.
pub fn nats_headers(header: &EnvelopeHeader) -> [(&'static str, &str); 2] {
    [
        (MSG_ID_HEADER, &header.msg_id),
        ("Content-Type", CONTENT_TYPE),
    ]
}

/// Bytes the NATS header block takes on the wire (counted by the server
/// against `max_payload`): `NATS/1.0\r\n`, one `Name: value\r\n` each, `\r\n`.
pub fn nats_headers_len(header: &EnvelopeHeader) -> usize {
    nats_headers(header)
        .iter()
        .map(|(name, value)| name.len() + 2 + value.len() + 2)
        .sum::<usize>()
        + 12
}

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

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
                PartData::Direct(bytes) => crate::transport::base64_len(bytes.len()),
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
                    base64_simd::STANDARD.encode_append(bytes, &mut out);
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
/// message and records each choice in `infos[i].transport`.
///
/// `link_data_len(info)` tells how long the link URL of a payload would be
/// (an upper bound is fine). Returns the planned message length, an upper
/// bound of the final one (every payload is counted with a sha256). Fails
/// with [`ErrorKind::PayloadTooLarge`] when a payload must go by link and
/// `store_available` is false; the message names the payload and the limit.
pub fn plan(
    writer: &EnvelopeWriter,
    infos: &mut [PayloadInfo],
    size_threshold: usize,
    max_payload: usize,
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
    let limits = Limits {
        size_threshold,
        max_payload,
        fixed_overhead: writer.fixed_len(infos.len()),
    };
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
/// use natsbridge::{codec, Payload, SendOptions};
/// let sent = codec::encode_direct(
///     "/chat/room1",
///     vec![Payload::text("message", "Hello World")],
///     &SendOptions::new(),
///     "nats://localhost:4222",
///     1 << 20,
/// ).unwrap();
/// let back = codec::decode(sent.wire_bytes()).unwrap();
/// assert_eq!(back.header.msg_id, sent.header.msg_id);
/// ```
pub fn encode_direct(
    subject: &str,
    payloads: Vec<Payload>,
    options: &SendOptions,
    broker_url: &str,
    max_payload: usize,
) -> Result<SentEnvelope> {
    validate_subject(subject)?;
    let writer = EnvelopeWriter::new(new_header(subject, options, &strip_credentials(broker_url)));
    let (mut infos, bodies) = serialize_all(payloads, options.direct_sha256)?;
    plan(
        &writer,
        &mut infos,
        options.size_threshold,
        max_payload,
        false,
        |_| 0,
    )?;
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

/// A received envelope before its link payloads are fetched.
#[derive(Debug, Clone)]
pub struct DecodedEnvelope {
    /// The envelope's fields.
    pub header: EnvelopeHeader,
    /// The payloads, in order.
    pub payloads: Vec<DecodedPayload>,
}

/// One payload of a [`DecodedEnvelope`].
#[derive(Debug, Clone)]
pub struct DecodedPayload {
    /// Its description.
    pub info: PayloadInfo,
    /// Its value, or the URL to fetch it from.
    pub content: Content,
}

/// A decoded payload's content.
#[derive(Debug, Clone)]
pub enum Content {
    /// A direct payload, decoded and verified.
    Ready(PayloadValue),
    /// A link payload: fetch the URL, then call [`finish_link`].
    Link(String),
}

#[derive(Deserialize)]
struct WireEnvelope<'a> {
    version: Option<Value>,
    correlation_id: Option<String>,
    msg_id: Option<String>,
    timestamp: Option<String>,
    send_to: Option<String>,
    msg_purpose: Option<String>,
    sender_name: Option<String>,
    sender_id: Option<String>,
    receiver_name: Option<String>,
    receiver_id: Option<String>,
    reply_to: Option<String>,
    reply_to_msg_id: Option<String>,
    broker_url: Option<String>,
    metadata: Option<Map<String, Value>>,
    #[serde(borrow)]
    payloads: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WirePayload<'a> {
    id: Option<String>,
    dataname: Option<String>,
    #[serde(rename = "type")]
    payload_type: Option<String>,
    transport: Option<String>,
    encoding: Option<String>,
    size: Option<Value>,
    sha256: Option<String>,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
    metadata: Option<Map<String, Value>>,
}

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::MalformedEnvelope, message)
}

/// Parses an envelope and decodes and verifies its direct payloads; link
/// payloads come back as [`Content::Link`]. Every way the input can be wrong
/// is a distinct [`ErrorKind`]; nothing here panics or allocates more than
/// the input's size, whatever `size` fields declare.
pub fn decode(message: &[u8]) -> Result<DecodedEnvelope> {
    let wire: WireEnvelope<'_> = serde_json::from_slice(message).map_err(|err| {
        malformed(format!(
            "the message is not a natsbridge envelope: invalid JSON ({err})"
        ))
        .with_source(err)
    })?;
    let version = match &wire.version {
        None => 1,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.fract() == 0.0 && v >= 1.0 => v as u64,
            _ => {
                return Err(malformed(format!(
                    "envelope version {n} is not a wire version"
                )));
            }
        },
        Some(other) => {
            return Err(malformed(format!(
                "envelope version {other} is not a number"
            )));
        }
    };
    if version > u64::from(WIRE_VERSION) {
        return Err(Error::new(
            ErrorKind::UnsupportedVersion,
            format!(
                "envelope version {version} is newer than this natsbridge reads (wire version \
                 {WIRE_VERSION}); upgrade the receiver"
            ),
        ));
    }
    let raw_payloads = match wire.payloads {
        None => return Err(malformed("the envelope has no \"payloads\" field")),
        Some(raw) if !raw.get().trim_start().starts_with('[') => {
            return Err(malformed(format!(
                "the envelope's \"payloads\" is not an array (it is {})",
                truncate_for_message(raw.get())
            )));
        }
        Some(raw) => raw,
    };
    let wire_payloads: Vec<WirePayload<'_>> =
        serde_json::from_str(raw_payloads.get()).map_err(|err| {
            malformed(format!("a payload object is malformed: {err}")).with_source(err)
        })?;
    let header = EnvelopeHeader {
        version: version as u32,
        correlation_id: wire.correlation_id.unwrap_or_default(),
        msg_id: wire.msg_id.unwrap_or_default(),
        timestamp: wire.timestamp.unwrap_or_default(),
        send_to: wire.send_to.unwrap_or_default(),
        msg_purpose: wire.msg_purpose.unwrap_or_default(),
        sender_name: wire.sender_name.unwrap_or_default(),
        sender_id: wire.sender_id.unwrap_or_default(),
        receiver_name: wire.receiver_name.unwrap_or_default(),
        receiver_id: wire.receiver_id.unwrap_or_default(),
        reply_to: wire.reply_to.unwrap_or_default(),
        reply_to_msg_id: wire.reply_to_msg_id.unwrap_or_default(),
        broker_url: wire.broker_url.unwrap_or_default(),
        metadata: wire.metadata.unwrap_or_default(),
    };
    let payloads = wire_payloads
        .into_iter()
        .enumerate()
        .map(|(index, payload)| decode_payload(index, payload))
        .collect::<Result<Vec<_>>>()?;
    Ok(DecodedEnvelope { header, payloads })
}

fn decode_payload(index: usize, wire: WirePayload<'_>) -> Result<DecodedPayload> {
    let dataname = wire.dataname.unwrap_or_default();
    let label = if dataname.is_empty() {
        format!("payload #{index}")
    } else {
        format!("payload '{dataname}'")
    };
    let missing = |field: &str| {
        malformed(format!("{label} has no \"{field}\" field")).with_dataname(dataname.clone())
    };
    if dataname.is_empty() {
        return Err(malformed(format!(
            "{label} has a missing or empty \"dataname\" (wire-v1 section 3)"
        )));
    }
    let payload_type = PayloadType::from_wire(&wire.payload_type.ok_or_else(|| missing("type"))?);
    let transport: Transport = wire
        .transport
        .ok_or_else(|| missing("transport"))?
        .parse()
        .map_err(|err: Error| malformed(format!("{label}: {}", err.message())))?;
    if let Some(encoding) = &wire.encoding
        && encoding != transport.encoding()
    {
        return Err(malformed(format!(
            "{label} has transport {transport} but encoding {encoding:?} (expected {:?})",
            transport.encoding()
        ))
        .with_dataname(dataname));
    }
    let size = match wire.size.ok_or_else(|| missing("size"))? {
        Value::Number(n) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        other => {
            return Err(
                malformed(format!("{label} has size {other}, not a byte count"))
                    .with_dataname(dataname),
            );
        }
    };
    let sha256 = match wire.sha256 {
        Some(sha) if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(sha.to_ascii_lowercase())
        }
        Some(sha) => {
            return Err(malformed(format!(
                "{label} has sha256 {:?}, not 64 hex digits",
                truncate_for_message(&sha)
            ))
            .with_dataname(dataname));
        }
        None if transport == Transport::Link => return Err(missing("sha256")),
        None => None,
    };
    let data = wire.data.ok_or_else(|| missing("data"))?;
    let info = PayloadInfo {
        id: wire.id.unwrap_or_default(),
        dataname,
        payload_type,
        transport,
        size,
        sha256,
        metadata: wire.metadata.unwrap_or_default(),
    };
    let content = match transport {
        Transport::Link => Content::Link(data.into_owned()),
        Transport::Direct => {
            let bytes = base64_decode(data.as_bytes()).map_err(|err| {
                Error::new(
                    ErrorKind::InvalidBase64,
                    format!("{label}: data is not valid base64 ({err})"),
                )
                .with_dataname(info.dataname.clone())
                .with_source(err)
            })?;
            Content::Ready(finish_link(&info, Bytes::from(bytes))?)
        }
    };
    Ok(DecodedPayload { info, content })
}

/// Checks `bytes` against the payload's `size` and `sha256`, failing with
/// [`ErrorKind::Integrity`] on a mismatch.
pub fn verify(info: &PayloadInfo, bytes: &[u8]) -> Result<()> {
    if bytes.len() as u64 != info.size {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "payload '{}' declares size {} but its data is {} bytes",
                info.dataname,
                info.size,
                bytes.len()
            ),
        )
        .with_dataname(info.dataname.clone()));
    }
    if let Some(expected) = &info.sha256 {
        let actual = sha256_hex(bytes);
        if &actual != expected {
            return Err(sha_mismatch(info, &actual));
        }
    }
    Ok(())
}

/// The integrity error for a payload whose digest is `actual`.
pub fn sha_mismatch(info: &PayloadInfo, actual: &str) -> Error {
    Error::new(
        ErrorKind::Integrity,
        format!(
            "payload '{}' declares sha256 {} but its data hashes to {actual}",
            info.dataname,
            info.sha256.as_deref().unwrap_or("")
        ),
    )
    .with_dataname(info.dataname.clone())
}

/// Verifies a payload's serialized bytes (direct, or fetched for a link)
/// and turns them into the value its type calls for.
pub fn finish_link(info: &PayloadInfo, bytes: Bytes) -> Result<PayloadValue> {
    verify(info, &bytes)?;
    deserialize(info, bytes)
}

fn truncate_for_message(text: &str) -> String {
    const LIMIT: usize = 60;
    if text.len() <= LIMIT {
        return text.to_owned();
    }
    let cut = (0..=LIMIT)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}...", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;
    use serde_json::json;

    fn encode_one(payloads: Vec<Payload>) -> SentEnvelope {
        encode_direct(
            "/chat/room1",
            payloads,
            &SendOptions::new().direct_sha256(true),
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
            &SendOptions::new(),
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
            &SendOptions::new(),
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
            let writer =
                EnvelopeWriter::new(new_header("subject", &SendOptions::new(), "nats://h:4222"));
            let header = writer.header().clone();
            let (mut infos, bodies) = serialize_all(payloads, with_sha).unwrap();
            let planned = plan(&writer, &mut infos, 100_000, 1 << 20, false, |_| 0).unwrap();
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
            &SendOptions::new(),
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
            &SendOptions::new().size_threshold(1000),
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
