//! The messages `smartreceive` accepts: the envelope's bytes as a Buffer /
//! Uint8Array / ArrayBuffer, its JSON text as a string, or a message object
//! of the `nats` npm client (its `data`, plus `subject` and `reply`), so
//! programs that already use nats.js keep their client.

use bytes::Bytes;
use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Unknown};
use napi::{Env, JsValue, ValueType};
use natsbridge::Error;

use crate::bytes::bytes_of;
use crate::error::{invalid, invalid_napi};

/// A received message's body and, when it came as a nats.js message, where it
/// arrived and where to reply.
pub(crate) struct IncomingMessage {
    pub(crate) body: Bytes,
    pub(crate) subject: Option<String>,
    pub(crate) reply: Option<String>,
}

/// Reads a string argument.
pub(crate) fn string_arg(env: &Env, value: &Unknown<'_>, what: &str) -> Result<String, Error> {
    if value.get_type().ok() != Some(ValueType::String) {
        return Err(invalid(format!("{what} must be a string")));
    }
    // SAFETY: a string of this environment.
    unsafe { String::from_napi_value(env.raw(), value.raw()) }
        .map_err(|err| invalid_napi(what, err))
}

fn optional_string(env: &Env, value: Option<Unknown<'_>>) -> Option<String> {
    let value = value?;
    string_arg(env, &value, "").ok().filter(|s| !s.is_empty())
}

/// Reads the `msg` argument of `smartreceive`.
pub(crate) fn incoming(env: &Env, msg: &Unknown<'_>) -> Result<IncomingMessage, Error> {
    let plain = |body: Bytes| IncomingMessage {
        body,
        subject: None,
        reply: None,
    };
    if msg.get_type().ok() == Some(ValueType::String) {
        return Ok(plain(Bytes::from(string_arg(env, msg, "msg")?)));
    }
    if let Some(body) = bytes_of(msg).map_err(|err| invalid_napi("msg", err))? {
        return Ok(plain(body));
    }
    let not_a_message = || {
        invalid(
            "msg must be a Buffer, Uint8Array or string holding the envelope, \
             or a nats.js message (an object with `data`)",
        )
    };
    if msg.get_type().ok() != Some(ValueType::Object) {
        return Err(not_a_message());
    }
    let object = msg.coerce_to_object().map_err(|_| not_a_message())?;
    let data: Unknown<'_> = object
        .get_named_property("data")
        .map_err(|_| not_a_message())?;
    let body = bytes_of(&data)
        .map_err(|err| invalid_napi("msg.data", err))?
        .ok_or_else(not_a_message)?;
    Ok(IncomingMessage {
        body,
        subject: optional_string(env, object.get_named_property("subject").ok()),
        reply: optional_string(env, object.get_named_property("reply").ok()),
    })
}
