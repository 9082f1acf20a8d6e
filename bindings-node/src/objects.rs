//! Envelope objects for JS, built by two small JS functions.
//!
//! The objects `#[napi(object)]` makes are built property by property from
//! Rust: each property name is turned into a V8 string and looked up again
//! for every object. A received envelope with one payload has about 30 of
//! them, which the profile showed as a large part of the JS thread's time
//! per message. Here Rust makes only the values and hands them to a JS
//! function in one call; the function returns an object literal, which V8
//! creates from a template with the names already in place.
//!
//! The objects are exactly what `#[napi(object)]` makes of the structs in
//! [`crate::envelope`] and [`crate::payload`] (same properties, same order:
//! a `None` field is absent, and an optional field comes after the others),
//! which stay the types `index.d.ts` is generated from.

use std::cell::RefCell;
use std::ptr;

use napi::bindgen_prelude::ToNapiValue;
use napi::{Env, sys};

use crate::json;
use crate::payload::ReceivedData;
use crate::promise::napi_status as status;

/// Evaluated once per JS thread; returns the functions, in [`Maker`]'s order.
const MAKERS: &str = r"(function () {
  'use strict'
  function payload(id, dataname, type, transport, encoding, size, data, metadata, sha256) {
    const p = { id, dataname, type, transport, encoding, size, data, metadata }
    if (sha256 !== undefined) p.sha256 = sha256
    return p
  }
  function received(version, correlationId, msgId, timestamp, sendTo, msgPurpose, senderName, senderId,
                    receiverName, receiverId, replyTo, replyToMsgId, brokerUrl, metadata, payloads,
                    subject, natsReply) {
    const e = { version, correlationId, msgId, timestamp, sendTo, msgPurpose, senderName, senderId,
                receiverName, receiverId, replyTo, replyToMsgId, brokerUrl, metadata, payloads }
    if (subject !== undefined) e.subject = subject
    if (natsReply !== undefined) e.natsReply = natsReply
    return e
  }
  function sent(version, correlationId, msgId, timestamp, sendTo, msgPurpose, senderName, senderId,
                receiverName, receiverId, replyTo, replyToMsgId, brokerUrl, metadata, payloads,
                streamSequence) {
    const e = { version, correlationId, msgId, timestamp, sendTo, msgPurpose, senderName, senderId,
                receiverName, receiverId, replyTo, replyToMsgId, brokerUrl, metadata, payloads }
    if (streamSequence !== undefined) e.streamSequence = streamSequence
    return e
  }
  return [payload, received, sent]
})()";

#[derive(Clone, Copy)]
enum Maker {
    Payload = 0,
    Received = 1,
    Sent = 2,
}

thread_local! {
    /// The environment the functions belong to, and references to them.
    static MADE: RefCell<Option<(sys::napi_env, [sys::napi_ref; 3])>> = const { RefCell::new(None) };
}

/// The maker function `which`, made on first use in this environment.
///
/// # Safety
/// On the JS thread of `env`.
unsafe fn maker(env: sys::napi_env, which: Maker) -> napi::Result<sys::napi_value> {
    let refs = MADE.with(|made| -> napi::Result<[sys::napi_ref; 3]> {
        if let Some((made_env, refs)) = *made.borrow()
            && made_env == env
        {
            return Ok(refs);
        }
        let mut refs = [ptr::null_mut(); 3];
        // SAFETY: Node-API calls on the JS thread of `env`.
        unsafe {
            let mut source = ptr::null_mut();
            status(
                sys::napi_create_string_utf8(
                    env,
                    MAKERS.as_ptr().cast(),
                    MAKERS.len() as isize,
                    &mut source,
                ),
                "making the envelope builders",
            )?;
            let mut array = ptr::null_mut();
            status(
                sys::napi_run_script(env, source, &mut array),
                "making the envelope builders",
            )?;
            for (index, slot) in refs.iter_mut().enumerate() {
                let mut function = ptr::null_mut();
                status(
                    sys::napi_get_element(env, array, index as u32, &mut function),
                    "making the envelope builders",
                )?;
                status(
                    sys::napi_create_reference(env, function, 1, slot),
                    "making the envelope builders",
                )?;
            }
        }
        *made.borrow_mut() = Some((env, refs));
        Ok(refs)
    })?;
    let mut function = ptr::null_mut();
    // SAFETY: a reference made above in this environment.
    status(
        unsafe { sys::napi_get_reference_value(env, refs[which as usize], &mut function) },
        "reading an envelope builder",
    )?;
    Ok(function)
}

/// Calls maker `which` with `args`.
///
/// # Safety
/// On the JS thread of `env`; `args` are values of `env`.
unsafe fn make(
    env: sys::napi_env,
    which: Maker,
    args: &[sys::napi_value],
) -> napi::Result<sys::napi_value> {
    // SAFETY: per this function's contract.
    unsafe {
        let function = maker(env, which)?;
        let mut this = ptr::null_mut();
        status(
            sys::napi_get_undefined(env, &mut this),
            "building an envelope",
        )?;
        let mut result = ptr::null_mut();
        status(
            sys::napi_call_function(env, this, function, args.len(), args.as_ptr(), &mut result),
            "building an envelope",
        )?;
        Ok(result)
    }
}

/// JS values, one per argument of a maker.
struct Args {
    env: sys::napi_env,
    values: Vec<sys::napi_value>,
}

impl Args {
    fn new(env: sys::napi_env, capacity: usize) -> Args {
        Args {
            env,
            values: Vec::with_capacity(capacity),
        }
    }

    fn push<T: ToNapiValue>(&mut self, value: T) -> napi::Result<()> {
        // SAFETY: the environment these arguments are made in.
        self.values
            .push(unsafe { ToNapiValue::to_napi_value(self.env, value)? });
        Ok(())
    }

    /// `undefined` for `None`: the maker leaves the property out.
    fn push_option<T: ToNapiValue>(&mut self, value: Option<T>) -> napi::Result<()> {
        match value {
            Some(value) => self.push(value),
            None => {
                let mut undefined = ptr::null_mut();
                // SAFETY: as above.
                status(
                    unsafe { sys::napi_get_undefined(self.env, &mut undefined) },
                    "building an envelope",
                )?;
                self.values.push(undefined);
                Ok(())
            }
        }
    }

    fn push_header(&mut self, header: natsbridge::EnvelopeHeader) -> napi::Result<()> {
        let h = header;
        self.push(h.version)?;
        for text in [
            h.correlation_id,
            h.msg_id,
            h.timestamp,
            h.send_to,
            h.msg_purpose,
            h.sender_name,
            h.sender_id,
            h.receiver_name,
            h.receiver_id,
            h.reply_to,
            h.reply_to_msg_id,
            h.broker_url,
        ] {
            self.push(text)?;
        }
        self.push_metadata(h.metadata)
    }

    fn push_metadata(
        &mut self,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> napi::Result<()> {
        let env = Env::from_raw(self.env);
        self.values
            .push(json::parse(&env, &serde_json::Value::Object(metadata))?);
        Ok(())
    }

    /// The payloads array.
    fn push_array(&mut self, items: Vec<sys::napi_value>) -> napi::Result<()> {
        let mut array = ptr::null_mut();
        // SAFETY: Node-API calls in this environment, on its JS thread.
        unsafe {
            status(
                sys::napi_create_array_with_length(self.env, items.len(), &mut array),
                "building an envelope",
            )?;
            for (index, item) in items.into_iter().enumerate() {
                status(
                    sys::napi_set_element(self.env, array, index as u32, item),
                    "building an envelope",
                )?;
            }
        }
        self.values.push(array);
        Ok(())
    }

    fn make(self, which: Maker) -> napi::Result<sys::napi_value> {
        // SAFETY: values made in `env`, on its JS thread.
        unsafe { make(self.env, which, &self.values) }
    }
}

fn payload_info_args(
    env: sys::napi_env,
    info: natsbridge::PayloadInfo,
    data: impl ToNapiValue,
) -> napi::Result<sys::napi_value> {
    let mut args = Args::new(env, 9);
    args.push(info.id)?;
    args.push(info.dataname)?;
    args.push(info.payload_type.as_str())?;
    args.push(info.transport.as_str())?;
    args.push(info.transport.encoding())?;
    args.push(info.size as f64)?;
    args.push(data)?;
    args.push_metadata(info.metadata)?;
    args.push_option(info.sha256)?;
    args.make(Maker::Payload)
}

/// A received envelope as JS gets it (the shape of [`crate::envelope::ReceivedEnvelope`]).
pub struct ReceivedObject(pub natsbridge::ReceivedEnvelope);

impl ToNapiValue for ReceivedObject {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let natsbridge::ReceivedEnvelope {
            header,
            payloads,
            subject,
            nats_reply,
        } = val.0;
        let payloads = payloads
            .into_iter()
            .map(|payload| payload_info_args(env, payload.info, ReceivedData(payload.value)))
            .collect::<napi::Result<Vec<_>>>()?;
        let mut args = Args::new(env, 17);
        args.push_header(header)?;
        args.push_array(payloads)?;
        args.push_option(subject)?;
        args.push_option(nats_reply)?;
        args.make(Maker::Received)
    }
}

/// An envelope as sent, as JS gets it (the shape of [`crate::envelope::SentEnvelope`]).
pub struct SentObject(pub natsbridge::SentEnvelope);

impl ToNapiValue for SentObject {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let sent = val.0;
        let data: Vec<sys::napi_value> = (0..sent.payloads.len())
            // SAFETY: on the JS thread of `env`.
            .map(|index| unsafe { ToNapiValue::to_napi_value(env, sent.payload_data(index)) })
            .collect::<napi::Result<_>>()?;
        let natsbridge::SentEnvelope {
            header,
            payloads,
            stream_sequence,
            ..
        } = sent;
        let payloads = payloads
            .into_iter()
            .zip(data)
            .map(|(info, data)| payload_info_args(env, info, RawValue(data)))
            .collect::<napi::Result<Vec<_>>>()?;
        let mut args = Args::new(env, 16);
        args.push_header(header)?;
        args.push_array(payloads)?;
        args.push_option(stream_sequence.map(|s| s as f64))?;
        args.make(Maker::Sent)
    }
}

/// A JS value made already.
struct RawValue(sys::napi_value);

impl ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}
