//! The envelope header: the fields a sender chooses ([`EnvelopeOptions`]),
//! how a new header is filled from them, and the NATS headers that travel
//! with it.

use serde_json::{Map, Value};

use crate::clock;
use crate::envelope::{CONTENT_TYPE, EnvelopeHeader, WIRE_VERSION, new_uuid, process_sender_id};

/// The default size at or above which a payload travels by link (1,000,000 bytes).
pub const DEFAULT_SIZE_THRESHOLD: usize = 1_000_000;

/// The envelope's header fields a sender chooses, and the two choices the
/// codec makes per payload (`size_threshold`, `direct_sha256`): everything
/// [`new_header`], [`plan`] and [`encode_direct`] need, and nothing about
/// stores, sockets or time-outs (those are the client's `SendOptions`).
///
/// `None` and empty strings take the wire defaults of the original design:
/// new UUIDs for `correlation_id` and `msg_id`, purpose `chat`, the
/// process's sender id, broadcast, no reply subject.
///
/// ```
/// use natsbridge::codec::{self, EnvelopeOptions};
/// let options = EnvelopeOptions { msg_purpose: Some("command".into()), ..EnvelopeOptions::default() };
/// let header = codec::new_header("/device/cmd", &options, "nats://localhost:4222");
/// assert_eq!(header.msg_purpose, "command");
/// assert_eq!(header.sender_name, "NATSBridge");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeOptions {
    /// Payloads whose serialized size is at or above this many bytes go by link.
    pub size_threshold: usize,
    /// `correlation_id`; `None` draws a new UUID per message.
    pub correlation_id: Option<String>,
    /// `msg_id`; `None` draws a new UUID per message.
    pub msg_id: Option<String>,
    /// `msg_purpose`; `None` is `chat`.
    pub msg_purpose: Option<String>,
    /// `sender_name` (default `NATSBridge`).
    pub sender_name: String,
    /// `sender_id`; `None` is a UUID drawn once per process.
    pub sender_id: Option<String>,
    /// `receiver_name` (empty = broadcast).
    pub receiver_name: String,
    /// `receiver_id` (empty = broadcast).
    pub receiver_id: String,
    /// `reply_to`, the subject the receiver should answer on (empty = none).
    pub reply_to: String,
    /// `reply_to_msg_id`, the `msg_id` this message answers (empty = none).
    pub reply_to_msg_id: String,
    /// The envelope's `metadata` object.
    pub metadata: Map<String, Value>,
    /// Also write `sha256` for direct payloads (link payloads always have it).
    pub direct_sha256: bool,
}

impl Default for EnvelopeOptions {
    fn default() -> Self {
        EnvelopeOptions {
            size_threshold: DEFAULT_SIZE_THRESHOLD,
            correlation_id: None,
            msg_id: None,
            msg_purpose: None,
            sender_name: "NATSBridge".to_owned(),
            sender_id: None,
            receiver_name: String::new(),
            receiver_id: String::new(),
            reply_to: String::new(),
            reply_to_msg_id: String::new(),
            metadata: Map::new(),
            direct_sha256: false,
        }
    }
}

/// The name of the header that carries `msg_id` for JetStream de-duplication.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Fills the envelope fields for a new message on `subject`. `broker_url`
/// is written as given: pass it through [`strip_credentials`] first.
pub fn new_header(subject: &str, options: &EnvelopeOptions, broker_url: &str) -> EnvelopeHeader {
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
