//! The envelope: the JSON object one NATS message carries (wire-v1 section 2),
//! as sent ([`SentEnvelope`]) and as received ([`ReceivedEnvelope`]).

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::payload::{PayloadInfo, PayloadValue, ReceivedPayload};

/// The wire version this implementation writes and the newest it reads.
pub const WIRE_VERSION: u32 = 1;

/// The `Content-Type` header senders set.
pub const CONTENT_TYPE: &str = "application/vnd.natsbridge.envelope+json";

/// The envelope's fields other than `payloads` (wire-v1 section 2).
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeHeader {
    /// Wire version (1).
    pub version: u32,
    /// Tracing id, carried unchanged through replies.
    pub correlation_id: String,
    /// Unique per message; also the `Nats-Msg-Id` header.
    pub msg_id: String,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// The subject the envelope was published to.
    pub send_to: String,
    /// Free text: chat, command, response, telemetry, ...
    pub msg_purpose: String,
    /// The sender's name.
    pub sender_name: String,
    /// The sender's id, stable per process.
    pub sender_id: String,
    /// The intended receiver's name; empty means broadcast.
    pub receiver_name: String,
    /// The intended receiver's id; empty means broadcast.
    pub receiver_id: String,
    /// The subject the receiver should answer on.
    pub reply_to: String,
    /// In a reply: the `msg_id` being answered.
    pub reply_to_msg_id: String,
    /// The NATS URL the sender used, without credentials.
    pub broker_url: String,
    /// Free-form, application-defined.
    pub metadata: Map<String, Value>,
}

impl EnvelopeHeader {
    /// The header's fields as JSON object entries, in wire order.
    pub fn to_json_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("version".into(), Value::from(self.version));
        for (key, value) in self.string_fields() {
            map.insert(key.into(), Value::from(value));
        }
        map.insert("metadata".into(), Value::Object(self.metadata.clone()));
        map
    }

    /// The string fields with their wire names, in wire order.
    pub fn string_fields(&self) -> [(&'static str, &str); 12] {
        [
            ("correlation_id", &self.correlation_id),
            ("msg_id", &self.msg_id),
            ("timestamp", &self.timestamp),
            ("send_to", &self.send_to),
            ("msg_purpose", &self.msg_purpose),
            ("sender_name", &self.sender_name),
            ("sender_id", &self.sender_id),
            ("receiver_name", &self.receiver_name),
            ("receiver_id", &self.receiver_id),
            ("reply_to", &self.reply_to),
            ("reply_to_msg_id", &self.reply_to_msg_id),
            ("broker_url", &self.broker_url),
        ]
    }
}

/// This process's `sender_id`: a UUIDv4 drawn once.
pub fn process_sender_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(new_uuid)
}

/// A new random UUIDv4 in its hyphenated form.
pub fn new_uuid() -> String {
    // Written into a stack buffer and copied once: `to_string` goes through
    // the formatter and grows its String.
    let mut text = uuid::Uuid::encode_buffer();
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// Where a sent payload's `data` is.
#[derive(Debug, Clone)]
pub(crate) enum SentData {
    /// Base64 text at this byte range of the wire bytes.
    Direct(std::ops::Range<usize>),
    /// The link URL.
    Link(String),
}

/// An envelope as it was published: its fields, its payloads' descriptions
/// and the exact bytes that went out.
#[derive(Debug, Clone)]
pub struct SentEnvelope {
    /// The envelope's fields.
    pub header: EnvelopeHeader,
    /// Each payload's description, in order.
    pub payloads: Vec<PayloadInfo>,
    /// The JetStream stream sequence, when published with acknowledgement.
    pub stream_sequence: Option<u64>,
    pub(crate) data: Vec<SentData>,
    pub(crate) wire: Bytes,
}

impl SentEnvelope {
    /// The NATS message body that was published (the envelope's JSON).
    pub fn wire_bytes(&self) -> &Bytes {
        &self.wire
    }

    /// The `data` field of payload `index`: base64 for direct payloads, the
    /// URL for link payloads. Borrowed from the wire bytes, not copied.
    ///
    /// # Panics
    /// When `index` is out of range.
    pub fn payload_data(&self, index: usize) -> &str {
        match &self.data[index] {
            // The range was recorded around base64 text we wrote: ASCII.
            SentData::Direct(range) => std::str::from_utf8(&self.wire[range.clone()]).unwrap_or(""),
            SentData::Link(url) => url,
        }
    }

    /// [`SentEnvelope::payload_data`] as bytes that share the wire buffer
    /// (a direct payload's base64 is not copied; a link's URL is). Always
    /// UTF-8.
    ///
    /// # Panics
    /// When `index` is out of range.
    pub fn payload_data_shared(&self, index: usize) -> Bytes {
        match &self.data[index] {
            SentData::Direct(range) => self.wire.slice(range.clone()),
            SentData::Link(url) => Bytes::copy_from_slice(url.as_bytes()),
        }
    }

    /// The envelope as a JSON value, exactly as published.
    pub fn to_json(&self) -> Value {
        let mut map = self.header.to_json_map();
        let payloads = self
            .payloads
            .iter()
            .enumerate()
            .map(|(index, info)| {
                let mut object = info_to_json(info);
                object.insert("data".into(), Value::from(self.payload_data(index)));
                Value::Object(object)
            })
            .collect();
        map.insert("payloads".into(), Value::Array(payloads));
        Value::Object(map)
    }
}

/// A payload description as a JSON object, without `data`.
pub fn info_to_json(info: &PayloadInfo) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("id".into(), Value::from(info.id.clone()));
    object.insert("dataname".into(), Value::from(info.dataname.clone()));
    object.insert("type".into(), Value::from(info.payload_type.as_str()));
    object.insert("transport".into(), Value::from(info.transport.as_str()));
    object.insert("encoding".into(), Value::from(info.transport.encoding()));
    object.insert("size".into(), Value::from(info.size));
    if let Some(sha) = &info.sha256 {
        object.insert("sha256".into(), Value::from(sha.clone()));
    }
    object.insert("metadata".into(), Value::Object(info.metadata.clone()));
    object
}

/// A received envelope with every payload decoded and verified.
#[derive(Debug, Clone)]
pub struct ReceivedEnvelope {
    /// The envelope's fields.
    pub header: EnvelopeHeader,
    /// The payloads, in order.
    pub payloads: Vec<ReceivedPayload>,
    /// The subject the message arrived on, when it came from NATS.
    pub subject: Option<String>,
    /// The NATS reply subject of the message (a request's inbox), if any.
    pub nats_reply: Option<String>,
}

impl ReceivedEnvelope {
    /// The first payload with this dataname.
    pub fn payload(&self, dataname: &str) -> Option<&ReceivedPayload> {
        self.payloads.iter().find(|p| p.info.dataname == dataname)
    }

    /// Where a reply to this envelope goes (wire-v1 section 6): the NATS
    /// reply subject of its message, else its `reply_to`
    /// ([`choose_reply_subject`]). `None` when there is nowhere to reply.
    /// The subject is not checked yet: [`check_reply_subject`] (which
    /// `Bridge::reply` applies) refuses system subjects and subjects outside
    /// the responder's allow-list.
    pub fn reply_subject(&self) -> Option<&str> {
        let subject = choose_reply_subject(&self.header.reply_to, self.nats_reply.as_deref());
        (!subject.is_empty()).then_some(subject)
    }

    /// The envelope as JSON, each payload's value in its JSON form: text as a
    /// string, dictionary as its value, table and bytes as base64 (with
    /// `"value_encoding": "base64"`), files as their path. For logs and the CLI.
    pub fn to_json(&self) -> Value {
        let mut map = self.header.to_json_map();
        let payloads = self
            .payloads
            .iter()
            .map(|payload| {
                let mut object = info_to_json(&payload.info);
                let base64 = |bytes: &[u8]| Value::from(crate::encoding::base64_encode(bytes));
                let (value, encoding) = match &payload.value {
                    PayloadValue::Text(text) => (Value::from(text.clone()), None),
                    PayloadValue::Dictionary(value) => (value.clone(), None),
                    PayloadValue::Table(table) => (base64(table.ipc_bytes()), Some("base64")),
                    PayloadValue::Bytes(bytes) => (base64(bytes), Some("base64")),
                    PayloadValue::File(path) => (
                        Value::from(path.to_string_lossy().into_owned()),
                        Some("path"),
                    ),
                };
                object.insert("value".into(), value);
                if let Some(encoding) = encoding {
                    object.insert("value_encoding".into(), Value::from(encoding));
                }
                Value::Object(object)
            })
            .collect();
        map.insert("payloads".into(), Value::Array(payloads));
        Value::Object(map)
    }
}

/// Whether `subject` is a NATS system subject (`$JS.`, `$KV.`, `$O.`,
/// `$SYS.`, `$SRV.`, ...): every subject starting with `$`. A reply is never
/// published to one (wire-v1 section 6).
///
/// ```
/// assert!(natsbridge::envelope::is_system_subject("$JS.API.STREAM.PURGE.ORDERS"));
/// assert!(!natsbridge::envelope::is_system_subject("_INBOX.abc"));
/// ```
pub fn is_system_subject(subject: &str) -> bool {
    subject.starts_with('$')
}

/// The subject a reply goes to (wire-v1 section 6): the NATS reply subject
/// of the request's message when it has one that is not a system subject
/// (the requester's connection set it, and a `$JS.ACK.` subject of a
/// JetStream delivery is not an answer address), else the envelope's
/// `reply_to`; empty when there is neither. When the only candidate is a
/// system subject it is returned, so [`check_reply_subject`] refuses it by
/// name.
///
/// ```
/// use natsbridge::envelope::choose_reply_subject;
/// assert_eq!(choose_reply_subject("orders.replies", Some("_INBOX.1")), "_INBOX.1");
/// assert_eq!(choose_reply_subject("orders.replies", None), "orders.replies");
/// assert_eq!(choose_reply_subject("orders.replies", Some("$JS.ACK.S.C.1.2.3.4.5")), "orders.replies");
/// assert_eq!(choose_reply_subject("", Some("")), "");
/// ```
pub fn choose_reply_subject<'a>(reply_to: &'a str, nats_reply: Option<&'a str>) -> &'a str {
    let candidates = [nats_reply.unwrap_or_default(), reply_to];
    let mut given = candidates.into_iter().filter(|s| !s.is_empty());
    let first = given.clone().next().unwrap_or_default();
    given.find(|s| !is_system_subject(s)).unwrap_or(first)
}

/// Refuses a reply subject a responder must not publish to (wire-v1
/// section 6): a system subject (`$`-prefixed: the JetStream, KV, Object
/// Store and system APIs, which a requester could otherwise make the
/// responder call with the responder's permissions), and, when
/// `allowed_prefixes` is not empty (the connect option
/// `reply_subject_prefixes`), a subject that starts with none of them.
/// The error is `InvalidArgument` naming the subject: the reply target the
/// caller passed to `reply` is unusable, as an empty one is.
///
/// ```
/// use natsbridge::envelope::check_reply_subject;
/// assert!(check_reply_subject("_INBOX.abc", &[]).is_ok());
/// let err = check_reply_subject("$JS.API.STREAM.PURGE.X", &[]).unwrap_err();
/// assert_eq!(err.kind(), natsbridge::ErrorKind::InvalidArgument);
/// assert!(err.message().contains("$JS.API.STREAM.PURGE.X"));
/// let only = ["_INBOX.".to_owned(), "replies.".to_owned()];
/// assert!(check_reply_subject("replies.7", &only).is_ok());
/// assert!(check_reply_subject("orders.delete", &only).is_err());
/// ```
pub fn check_reply_subject(subject: &str, allowed_prefixes: &[String]) -> crate::Result<()> {
    use crate::{Error, ErrorKind};
    if is_system_subject(subject) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "refusing to reply on {subject:?}: replies are never published to system \
                 subjects ($-prefixed), which a requester could use to make this responder \
                 call the JetStream or system API"
            ),
        ));
    }
    if !allowed_prefixes.is_empty()
        && !allowed_prefixes
            .iter()
            .any(|prefix| subject.starts_with(prefix.as_str()))
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "refusing to reply on {subject:?}: it starts with none of this connection's \
                 reply_subject_prefixes ({})",
                allowed_prefixes.join(", ")
            ),
        ));
    }
    Ok(())
}

/// What a reply needs to know about the message it answers (wire-v1
/// section 6): the subject to publish on, and the request's `msg_id` and
/// `correlation_id`, which the reply carries as `reply_to_msg_id` and
/// `correlation_id`. Built from a [`ReceivedEnvelope`] (`From`), or from the
/// raw fields a front end holds ([`ReplyTarget::from_fields`]), so no binding
/// has to rebuild a whole envelope to answer one.
///
/// An empty `subject` means there is nowhere to reply; `Bridge::reply` then
/// fails with `InvalidArgument`, as it does for a subject that
/// [`check_reply_subject`] refuses.
///
/// ```
/// use natsbridge::ReplyTarget;
/// let target = ReplyTarget::from_fields("", Some("_INBOX.abc"), "m-1", "c-1");
/// assert_eq!(target.subject, "_INBOX.abc");
/// // The NATS reply subject wins over the body's reply_to.
/// let target = ReplyTarget::from_fields("/device/response", Some("_INBOX.abc"), "m-1", "c-1");
/// assert_eq!(target.subject, "_INBOX.abc");
/// let target = ReplyTarget::from_fields("/device/response", None, "m-1", "c-1");
/// assert_eq!(target.subject, "/device/response");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyTarget {
    /// The subject the reply is published on (empty: nowhere to reply).
    pub subject: String,
    /// The request's `msg_id` (the reply's `reply_to_msg_id`).
    pub msg_id: String,
    /// The request's `correlation_id` (the reply's `correlation_id`).
    pub correlation_id: String,
}

impl ReplyTarget {
    /// A reply on `subject` to the message `msg_id` of `correlation_id`.
    pub fn new(
        subject: impl Into<String>,
        msg_id: impl Into<String>,
        correlation_id: impl Into<String>,
    ) -> ReplyTarget {
        ReplyTarget {
            subject: subject.into(),
            msg_id: msg_id.into(),
            correlation_id: correlation_id.into(),
        }
    }

    /// From the request's raw fields, choosing the subject as wire-v1
    /// section 6 says ([`choose_reply_subject`]): the NATS reply subject
    /// (inbox) of its message, else its `reply_to`.
    pub fn from_fields(
        reply_to: &str,
        nats_reply: Option<&str>,
        msg_id: impl Into<String>,
        correlation_id: impl Into<String>,
    ) -> ReplyTarget {
        ReplyTarget::new(
            choose_reply_subject(reply_to, nats_reply),
            msg_id,
            correlation_id,
        )
    }
}

impl From<&ReceivedEnvelope> for ReplyTarget {
    fn from(request: &ReceivedEnvelope) -> ReplyTarget {
        ReplyTarget::new(
            request.reply_subject().unwrap_or_default(),
            request.header.msg_id.clone(),
            request.header.correlation_id.clone(),
        )
    }
}

impl From<ReceivedEnvelope> for ReplyTarget {
    fn from(request: ReceivedEnvelope) -> ReplyTarget {
        ReplyTarget::from(&request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(reply_to: &str, nats_reply: Option<&str>) -> ReceivedEnvelope {
        let header = EnvelopeHeader {
            version: WIRE_VERSION,
            correlation_id: "c-1".into(),
            msg_id: "m-1".into(),
            timestamp: String::new(),
            send_to: "cmd".into(),
            msg_purpose: "chat".into(),
            sender_name: String::new(),
            sender_id: String::new(),
            receiver_name: String::new(),
            receiver_id: String::new(),
            reply_to: reply_to.into(),
            reply_to_msg_id: String::new(),
            broker_url: String::new(),
            metadata: Map::new(),
        };
        ReceivedEnvelope {
            header,
            payloads: Vec::new(),
            subject: Some("cmd".into()),
            nats_reply: nats_reply.map(str::to_owned),
        }
    }

    #[test]
    fn reply_target_follows_section_6() {
        let to = |r, n| ReplyTarget::from(&received(r, n));
        // The NATS reply subject wins over the body's reply_to.
        assert_eq!(
            to("resp", Some("_INBOX.1")),
            ReplyTarget::new("_INBOX.1", "m-1", "c-1")
        );
        assert_eq!(to("resp", None).subject, "resp");
        assert_eq!(to("resp", Some("")).subject, "resp");
        assert_eq!(to("", Some("_INBOX.1")).subject, "_INBOX.1");
        // A system subject is never preferred; alone, it is returned to be refused.
        assert_eq!(to("resp", Some("$JS.ACK.S.C.1.1.1.1.0")).subject, "resp");
        assert_eq!(
            to("", Some("$JS.API.STREAM.PURGE.X")).subject,
            "$JS.API.STREAM.PURGE.X"
        );
        assert_eq!(
            to("$JS.API.STREAM.PURGE.X", Some("$KV.b.k")).subject,
            "$KV.b.k"
        );
        assert_eq!(to("", Some("")).subject, "");
        assert_eq!(to("", None).subject, "");
        assert_eq!(
            ReplyTarget::from_fields("", None, "m", "c"),
            ReplyTarget::new("", "m", "c")
        );
    }

    #[test]
    fn system_subjects_and_subjects_outside_the_allow_list_are_refused() {
        for subject in [
            "$JS.API.STREAM.PURGE.X",
            "$KV.config.k",
            "$O.b.C.x",
            "$SYS.REQ.SERVER.PING",
            "$",
        ] {
            let err = check_reply_subject(subject, &[]).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
            assert!(err.message().contains(subject), "{}", err.message());
            // An allow-list cannot let one through either.
            assert!(check_reply_subject(subject, &["$".to_owned()]).is_err());
        }
        assert!(check_reply_subject("JS.API.x", &[]).is_ok());
        let only = vec!["_INBOX.".to_owned()];
        assert!(check_reply_subject("_INBOX.x.y", &only).is_ok());
        let err = check_reply_subject("orders.delete", &only).unwrap_err();
        assert!(err.message().contains("orders.delete") && err.message().contains("_INBOX."));
    }
}
