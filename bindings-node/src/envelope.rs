//! Envelopes across the border. JS sees the wire fields in camelCase
//! (`correlation_id` is `correlationId`, `reply_to_msg_id` is
//! `replyToMsgId`, ...), the JS convention the original design's JS API
//! used for its options; the wire itself stays snake_case.

use napi::bindgen_prelude::{FromNapiValue, Object, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use natsbridge::Error;

use crate::error::{invalid, invalid_napi};
use crate::json::JsonValue;
use crate::payload::{ReceivedPayload, SentPayload};

// The object itself is built by `crate::objects::SentObject`; this struct is
// the type `index.d.ts` declares. (`//`: these lines stay out of index.d.ts.)
/// An envelope as it was published (wire-v1 section 2, camelCase).
#[napi(object, object_from_js = false)]
pub struct SentEnvelope {
    pub version: u32,
    pub correlation_id: String,
    pub msg_id: String,
    pub timestamp: String,
    pub send_to: String,
    pub msg_purpose: String,
    pub sender_name: String,
    pub sender_id: String,
    pub receiver_name: String,
    pub receiver_id: String,
    pub reply_to: String,
    pub reply_to_msg_id: String,
    pub broker_url: String,
    #[napi(ts_type = "Record<string, any>")]
    pub metadata: JsonValue,
    pub payloads: Vec<SentPayload>,
    /// The JetStream stream sequence, when sent with `jetstream: true`.
    pub stream_sequence: Option<f64>,
}

// `crate::objects::ReceivedObject` builds the same object faster (the Bridge,
// `smartreceive`); `ReceivedEnvelope::new` remains for JetStream messages.
/// A received envelope with every payload decoded and verified (camelCase).
#[napi(object, object_from_js = false)]
pub struct ReceivedEnvelope {
    pub version: u32,
    pub correlation_id: String,
    pub msg_id: String,
    pub timestamp: String,
    pub send_to: String,
    pub msg_purpose: String,
    pub sender_name: String,
    pub sender_id: String,
    pub receiver_name: String,
    pub receiver_id: String,
    pub reply_to: String,
    pub reply_to_msg_id: String,
    pub broker_url: String,
    #[napi(ts_type = "Record<string, any>")]
    pub metadata: JsonValue,
    pub payloads: Vec<ReceivedPayload>,
    /// The subject the message arrived on, when known (not a wire field).
    pub subject: Option<String>,
    /// The NATS reply subject of the message (a request's inbox), when it had
    /// one (not a wire field); `Bridge.reply` answers there when `replyTo` is empty.
    pub nats_reply: Option<String>,
}

impl ReceivedEnvelope {
    pub(crate) fn new(received: natsbridge::ReceivedEnvelope) -> ReceivedEnvelope {
        let natsbridge::ReceivedEnvelope {
            header: h,
            payloads,
            subject,
            nats_reply,
        } = received;
        ReceivedEnvelope {
            version: h.version,
            correlation_id: h.correlation_id,
            msg_id: h.msg_id,
            timestamp: h.timestamp,
            send_to: h.send_to,
            msg_purpose: h.msg_purpose,
            sender_name: h.sender_name,
            sender_id: h.sender_id,
            receiver_name: h.receiver_name,
            receiver_id: h.receiver_id,
            reply_to: h.reply_to,
            reply_to_msg_id: h.reply_to_msg_id,
            broker_url: h.broker_url,
            metadata: JsonValue(serde_json::Value::Object(h.metadata)),
            payloads: payloads.into_iter().map(ReceivedPayload::new).collect(),
            subject,
            nats_reply,
        }
    }
}

/// What a reply needs of the request it answers, read back from the JS
/// envelope the caller received: `msgId`, `correlationId`, `replyTo` and
/// `natsReply`.
pub(crate) fn reply_target(
    env: &Env,
    request: Unknown<'_>,
) -> Result<natsbridge::ReplyTarget, Error> {
    if request.get_type().ok() != Some(ValueType::Object) {
        return Err(invalid(
            "reply needs the received envelope it answers (an object with msgId and replyTo)",
        ));
    }
    // SAFETY: an object of this environment.
    let object = unsafe { Object::from_napi_value(env.raw(), request.raw()) }
        .map_err(|err| invalid_napi("request", err))?;
    let field = |name: &str| -> Result<String, Error> {
        object
            .get::<String>(name)
            .map(Option::unwrap_or_default)
            .map_err(|err| invalid_napi(&format!("request.{name}"), err))
    };
    let nats_reply = field("natsReply")?;
    Ok(natsbridge::ReplyTarget::from_fields(
        &field("replyTo")?,
        Some(nats_reply.as_str()),
        field("msgId")?,
        field("correlationId")?,
    ))
}
