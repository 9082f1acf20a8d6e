//! Receiving: parsing and checking an envelope ([`decode`]), verifying
//! payload digests, and turning fetched link bytes into values.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::encoding::{base64_decode, sha256_hex};
use crate::envelope::{EnvelopeHeader, WIRE_VERSION};
use crate::error::{Error, ErrorKind, Result};
use crate::payload::{PayloadInfo, PayloadType, PayloadValue, deserialize};
use crate::transport::Transport;

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

/// The envelope object; `P` is how `payloads` is read: as one array of
/// payload objects (the one-pass parse of a well-formed message), or as raw
/// JSON (the step-by-step parse that names what is wrong).
#[derive(Deserialize)]
struct WireEnvelope<P> {
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
    payloads: Option<P>,
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
    let (header, payloads) = parse_envelope(message, |index, wire| {
        let (info, data) = check_payload(index, wire)?;
        let content = match info.transport {
            Transport::Link => Content::Link(data.into_owned()),
            Transport::Direct => {
                let bytes = direct_bytes(&info, &data)?;
                Content::Ready(finish_link(&info, bytes)?)
            }
        };
        Ok(DecodedPayload { info, content })
    })?;
    Ok(DecodedEnvelope { header, payloads })
}

/// A received envelope whose large direct payloads wait for a digest the
/// caller computes ([`decode_deferred`]).
#[derive(Debug, Clone)]
pub struct DeferredEnvelope {
    /// The envelope's fields.
    pub header: EnvelopeHeader,
    /// The payloads, in order.
    pub payloads: Vec<DeferredPayload>,
}

/// One payload of a [`DeferredEnvelope`].
#[derive(Debug, Clone)]
pub struct DeferredPayload {
    /// Its description.
    pub info: PayloadInfo,
    /// Its value, its bytes waiting for their digest, or the URL to fetch.
    pub content: Deferred,
}

/// A payload's content after [`decode_deferred`].
#[derive(Debug, Clone)]
pub enum Deferred {
    /// Decoded and verified, as [`decode`] gives it.
    Ready(PayloadValue),
    /// A direct payload that declares a `sha256`: base64-decoded and its
    /// size checked, not yet hashed nor deserialized. Hash the bytes and
    /// pass the digest to [`finish_digest`], which compares and decodes.
    Digest(Bytes),
    /// A link payload: fetch the URL, then call [`finish_link`] (or hash
    /// the bytes and call [`finish_digest`]).
    Link(String),
}

/// [`decode`] for a caller with a faster SHA-256 of its own (a browser's
/// WebCrypto): every check is the same, except that a direct payload of at
/// least `digest_min_size` bytes that declares a `sha256` is left as
/// [`Deferred::Digest`] for the caller to hash; [`finish_digest`] then
/// compares the digest (the codec still decides: a mismatch is
/// [`ErrorKind::Integrity`]) and deserializes. Smaller payloads, where
/// handing the bytes out costs more than hashing them, are hashed here.
pub fn decode_deferred(message: &[u8], digest_min_size: usize) -> Result<DeferredEnvelope> {
    let (header, payloads) = parse_envelope(message, |index, wire| {
        let (info, data) = check_payload(index, wire)?;
        let content = match info.transport {
            Transport::Link => Deferred::Link(data.into_owned()),
            Transport::Direct => {
                let bytes = direct_bytes(&info, &data)?;
                if info.sha256.is_some() && bytes.len() >= digest_min_size {
                    check_size(&info, &bytes)?;
                    Deferred::Digest(bytes)
                } else {
                    Deferred::Ready(finish_link(&info, bytes)?)
                }
            }
        };
        Ok(DeferredPayload { info, content })
    })?;
    Ok(DeferredEnvelope { header, payloads })
}

/// Verifies a payload's serialized bytes against its `size` and against
/// `digest`, the SHA-256 the caller computed of exactly these bytes (32
/// bytes), then turns them into the value its type calls for, as
/// [`finish_link`] does. A payload that declares no `sha256` has nothing to
/// compare the digest with: only its size is checked.
pub fn finish_digest(info: &PayloadInfo, bytes: Bytes, digest: &[u8]) -> Result<PayloadValue> {
    check_size(info, &bytes)?;
    if digest.len() != 32 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "the SHA-256 digest given for payload '{}' is {} bytes, not 32",
                info.dataname,
                digest.len()
            ),
        )
        .with_dataname(info.dataname.clone()));
    }
    if let Some(expected) = &info.sha256 {
        let actual = hex::encode(digest);
        if &actual != expected {
            return Err(sha_mismatch(info, &actual));
        }
    }
    deserialize(info, bytes)
}

/// Parses the envelope's JSON and header fields and hands each payload
/// object to `payload` (with its index), in order.
fn parse_envelope<'a, P>(
    message: &'a [u8],
    mut payload: impl FnMut(usize, WirePayload<'a>) -> Result<P>,
) -> Result<(EnvelopeHeader, Vec<P>)> {
    // A well-formed envelope is parsed in one pass. When that fails, the
    // step-by-step parse below finds the error to report (the version before
    // the payloads, "payloads" that is not an array, which payload object is
    // malformed): the same result for every input, at the cost of a second
    // parse of bad input only.
    let (header, wire_payloads) =
        match serde_json::from_slice::<WireEnvelope<Vec<WirePayload<'a>>>>(message) {
            Ok(wire) => match header_of(wire)? {
                (header, Some(payloads)) => (header, payloads),
                (_, None) => return Err(malformed("the envelope has no \"payloads\" field")),
            },
            Err(_) => parse_envelope_stepwise(message)?,
        };
    let payloads = wire_payloads
        .into_iter()
        .enumerate()
        .map(|(index, wire)| payload(index, wire))
        .collect::<Result<Vec<_>>>()?;
    Ok((header, payloads))
}

/// [`parse_envelope`]'s JSON one step at a time: the JSON, the version, then
/// the payloads array, then each payload object.
fn parse_envelope_stepwise(message: &[u8]) -> Result<(EnvelopeHeader, Vec<WirePayload<'_>>)> {
    let wire: WireEnvelope<&RawValue> = serde_json::from_slice(message).map_err(|err| {
        malformed(format!(
            "the message is not a natsbridge envelope: invalid JSON ({err})"
        ))
        .with_source(err)
    })?;
    let (header, raw_payloads) = header_of(wire)?;
    let raw_payloads = match raw_payloads {
        None => return Err(malformed("the envelope has no \"payloads\" field")),
        Some(raw) if !raw.get().trim_start().starts_with('[') => {
            return Err(malformed(format!(
                "the envelope's \"payloads\" is not an array (it is {})",
                truncate_for_message(raw.get())
            )));
        }
        Some(raw) => raw,
    };
    let wire_payloads = serde_json::from_str(raw_payloads.get()).map_err(|err| {
        malformed(format!("a payload object is malformed: {err}")).with_source(err)
    })?;
    Ok((header, wire_payloads))
}

/// Checks the envelope's version and fills its header; hands back the
/// payloads as they were read.
fn header_of<P>(wire: WireEnvelope<P>) -> Result<(EnvelopeHeader, Option<P>)> {
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
    Ok((header, wire.payloads))
}

/// How an error names a payload: `payload 'name'`, or `payload #index`
/// when it has no name.
struct PayloadLabel<'a> {
    index: usize,
    dataname: &'a str,
}

impl std::fmt::Display for PayloadLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.dataname.is_empty() {
            write!(f, "payload #{}", self.index)
        } else {
            write!(f, "payload '{}'", self.dataname)
        }
    }
}

/// Checks one payload object's fields (wire-v1 section 3): its description
/// and its `data` field, not decoded yet.
fn check_payload(index: usize, wire: WirePayload<'_>) -> Result<(PayloadInfo, Cow<'_, str>)> {
    let dataname = wire.dataname.unwrap_or_default();
    // Written into a message only when there is an error to report.
    let label = PayloadLabel {
        index,
        dataname: &dataname,
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
    Ok((info, data))
}

/// The bytes of a direct payload's base64 `data`.
fn direct_bytes(info: &PayloadInfo, data: &str) -> Result<Bytes> {
    base64_decode(data.as_bytes())
        .map(Bytes::from)
        .map_err(|err| {
            Error::new(
                ErrorKind::InvalidBase64,
                format!(
                    "payload '{}': data is not valid base64 ({err})",
                    info.dataname
                ),
            )
            .with_dataname(info.dataname.clone())
            .with_source(err)
        })
}

/// Checks `bytes` against the payload's `size` and `sha256`, failing with
/// [`ErrorKind::Integrity`] on a mismatch.
pub fn verify(info: &PayloadInfo, bytes: &[u8]) -> Result<()> {
    check_size(info, bytes)?;
    if let Some(expected) = &info.sha256 {
        let actual = sha256_hex(bytes);
        if &actual != expected {
            return Err(sha_mismatch(info, &actual));
        }
    }
    Ok(())
}

/// Checks `bytes` against the payload's `size` ([`ErrorKind::Integrity`]).
fn check_size(info: &PayloadInfo, bytes: &[u8]) -> Result<()> {
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
