//! Payloads across the border: the caller's `{dataname, data, type}` objects
//! become core [`Payload`]s, and sent or received payloads become plain JS
//! objects.
//!
//! Which core body a JS value becomes (wire-v1 section 4):
//! - `dictionary`: any value, through `JSON.stringify`;
//! - `table`: Arrow IPC stream bytes (what `index.js` makes of an
//!   apache-arrow `Table`), an array of row objects, or an object of column
//!   arrays (the core builds the Arrow table from either), or `{path}`;
//! - every other type: a string, bytes (Buffer, typed array, DataView,
//!   ArrayBuffer), or `{path}` for a file streamed from disk.
//!
//! The core then checks that the body fits the type; nothing here knows about
//! transports or sizes.

use std::path::PathBuf;

use bytes::Bytes;
use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Object, ToNapiValue, TypeName, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use natsbridge::{Body, Error, Payload, PayloadType, PayloadValue, Table};

use crate::bytes::{bytes_of, to_buffer};
use crate::error::{invalid, invalid_napi};
use crate::json::{self, JsonValue};

/// One payload to send, as the original design's JS API takes it.
#[napi(object, object_to_js = false)]
pub struct PayloadInput<'a> {
    /// The caller's name for the payload; non-empty.
    pub dataname: String,
    /// The data; what it may be depends on `type` (see the package README).
    #[napi(
        ts_type = "string | Buffer | Uint8Array | ArrayBuffer | Table | Array<Record<string, unknown>> | Record<string, unknown[]> | { path: string } | unknown"
    )]
    pub data: Unknown<'a>,
    /// `text`, `dictionary`, `table`, `image`, `audio`, `video` or `binary`.
    #[napi(js_name = "type")]
    pub payload_type: String,
    /// Free-form hints (`content_type`, `filename`, ...) sent with the payload.
    #[napi(ts_type = "Record<string, unknown>")]
    pub metadata: Option<Unknown<'a>>,
}

/// The caller's payloads, read from JS but not yet built by the core, so
/// that checking Arrow bytes or building a table from rows can happen off the
/// JS thread (see [`crate::promise`]).
pub(crate) struct Payloads {
    specs: Vec<PayloadSpec>,
    /// About how many bytes the send will serialize (`usize::MAX` when a file
    /// is involved): what decides whether it may run on the JS thread.
    pub(crate) bytes: usize,
}

impl Payloads {
    /// The core's payloads: checks each body against its type.
    pub(crate) fn build(self) -> Result<Vec<Payload>, Error> {
        self.specs.into_iter().map(PayloadSpec::build).collect()
    }
}

struct PayloadSpec {
    dataname: String,
    type_name: String,
    data: Data,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

enum Data {
    Body(Body),
    Rows(Vec<serde_json::Value>),
    Columns(serde_json::Map<String, serde_json::Value>),
}

impl PayloadSpec {
    fn size(&self) -> usize {
        match &self.data {
            Data::Body(body) => body_size(body),
            Data::Rows(rows) => rows.iter().map(json_size).sum(),
            Data::Columns(columns) => columns.values().map(json_size).sum(),
        }
    }

    fn build(self) -> Result<Payload, Error> {
        let what = format!("payload '{}'", self.dataname);
        let body = match self.data {
            Data::Body(body) => body,
            Data::Rows(rows) => Table::from_json_rows(&rows)
                .map(Body::Table)
                .map_err(|err| label(err, &what))?,
            Data::Columns(columns) => Table::from_json_columns(&columns)
                .map(Body::Table)
                .map_err(|err| label(err, &what))?,
        };
        let mut payload = Payload::new(self.dataname.clone(), &self.type_name, body)
            .map_err(|err| err.with_dataname(self.dataname))?;
        if let Some(metadata) = self.metadata {
            payload = payload.with_metadata(metadata);
        }
        Ok(payload)
    }
}

/// Reads the caller's payload array.
pub(crate) fn payloads_from_js(env: &Env, payloads: Unknown<'_>) -> Result<Payloads, Error> {
    let not_array = || invalid("payloads must be an array of {dataname, data, type} objects");
    if !payloads.is_array().map_err(|_| not_array())? {
        return Err(not_array());
    }
    // SAFETY: checked to be an array of this environment.
    let array = unsafe { Object::from_napi_value(env.raw(), payloads.raw()) }
        .map_err(|err| invalid_napi("payloads", err))?;
    let length = array
        .get_array_length()
        .map_err(|err| invalid_napi("payloads", err))?;
    let mut bytes = 0usize;
    let specs = (0..length)
        .map(|index| {
            let element: Unknown<'_> = array
                .get_element(index)
                .map_err(|err| invalid_napi(&format!("payloads[{index}]"), err))?;
            if element.get_type().ok() != Some(ValueType::Object) {
                return Err(invalid(format!(
                    "payloads[{index}] must be an object {{dataname, data, type}}"
                )));
            }
            // SAFETY: an object of this environment.
            let input = unsafe { PayloadInput::from_napi_value(env.raw(), element.raw()) }
                .map_err(|err| invalid_napi(&format!("payloads[{index}]"), err))?;
            let spec = payload_from_js(env, input)?;
            bytes = bytes.saturating_add(spec.size());
            Ok(spec)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Payloads { specs, bytes })
}

/// Bytes a body serializes to, near enough to decide where to do the work.
fn body_size(body: &Body) -> usize {
    match body {
        Body::Text(text) => text.len(),
        // Written once more by the core; about as long as its JSON text.
        Body::Json(value) => json_size(value),
        Body::Table(table) => table.ipc_bytes().len(),
        Body::Bytes(bytes) => bytes.len(),
        Body::File(_) => usize::MAX,
    }
}

fn json_size(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => items.iter().map(json_size).sum::<usize>() + items.len() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 4 + json_size(v))
                .sum::<usize>()
                + 2
        }
    }
}

fn payload_from_js(env: &Env, input: PayloadInput<'_>) -> Result<PayloadSpec, Error> {
    let PayloadInput {
        dataname,
        data,
        payload_type,
        metadata,
    } = input;
    let what = format!("payload '{dataname}'");
    // The type first: an unknown type is reported as such, whatever the data.
    let kind: PayloadType = payload_type
        .parse()
        .map_err(|err: Error| err.with_dataname(dataname.clone()))?;
    let data = match kind {
        PayloadType::Dictionary => Data::Body(Body::Json(json::to_value(env, data, &what)?)),
        PayloadType::Table => table_data(env, data, &what)?,
        _ => Data::Body(plain_body(env, data, &what)?),
    };
    let metadata = match metadata.filter(|m| !is_nullish(m)) {
        Some(metadata) => Some(json::to_object(
            env,
            metadata,
            &format!("{what}'s metadata"),
        )?),
        None => None,
    };
    Ok(PayloadSpec {
        dataname,
        type_name: payload_type,
        data,
        metadata,
    })
}

fn is_nullish(value: &Unknown<'_>) -> bool {
    matches!(value.get_type(), Ok(ValueType::Undefined | ValueType::Null))
}

/// `{path: '...'}`: a file whose contents are the payload.
fn file_path(value: &Unknown<'_>) -> Option<PathBuf> {
    if value.get_type().ok()? != ValueType::Object {
        return None;
    }
    let object = value.coerce_to_object().ok()?;
    let path: Unknown<'_> = object.get_named_property("path").ok()?;
    if path.get_type().ok()? != ValueType::String {
        return None;
    }
    // SAFETY: a string of this environment.
    let path = unsafe { String::from_napi_value(path.value().env, path.raw()) }.ok()?;
    Some(PathBuf::from(path))
}

fn bytes_or_invalid(value: &Unknown<'_>, what: &str) -> Result<Option<Bytes>, Error> {
    bytes_of(value).map_err(|err| invalid_napi(what, err))
}

fn plain_body(env: &Env, data: Unknown<'_>, what: &str) -> Result<Body, Error> {
    if data.get_type().ok() == Some(ValueType::String) {
        // SAFETY: a string of this environment.
        let text = unsafe { String::from_napi_value(env.raw(), data.raw()) }
            .map_err(|err| invalid_napi(what, err))?;
        return Ok(Body::Text(text));
    }
    if let Some(bytes) = bytes_or_invalid(&data, what)? {
        return Ok(Body::Bytes(bytes));
    }
    if let Some(path) = file_path(&data) {
        return Ok(Body::File(path));
    }
    Err(invalid(format!(
        "{what}: its data is {}; give a string, a Buffer / Uint8Array, or {{path}} for a file",
        describe(&data)
    )))
}

fn table_data(env: &Env, data: Unknown<'_>, what: &str) -> Result<Data, Error> {
    if let Some(bytes) = bytes_or_invalid(&data, what)? {
        // Arrow IPC stream bytes; `Payload::new` validates them.
        return Ok(Data::Body(Body::Bytes(bytes)));
    }
    if let Some(path) = file_path(&data) {
        return Ok(Data::Body(Body::File(path)));
    }
    if data.is_array().unwrap_or(false) {
        return match json::to_value(env, data, what)? {
            serde_json::Value::Array(rows) => Ok(Data::Rows(rows)),
            _ => Err(invalid(format!("{what}: rows must be an array"))),
        };
    }
    if data.get_type().ok() == Some(ValueType::Object) {
        return Ok(Data::Columns(json::to_object(env, data, what)?));
    }
    Err(invalid(format!(
        "{what}: its data is {}; a table takes an apache-arrow Table, Arrow IPC stream bytes, \
         an array of row objects or an object of column arrays",
        describe(&data)
    )))
}

fn label(err: Error, what: &str) -> Error {
    Error::new(err.kind(), format!("{what}: {}", err.message())).with_source(err)
}

fn describe(value: &Unknown<'_>) -> &'static str {
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "a boolean",
        Ok(ValueType::Number) => "a number",
        Ok(ValueType::BigInt) => "a bigint",
        Ok(ValueType::String) => "a string",
        Ok(ValueType::Symbol) => "a symbol",
        Ok(ValueType::Function) => "a function",
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => "an array",
        Ok(ValueType::Object) => "an object",
        _ => "an unsupported value",
    }
}

/// One payload of an envelope as sent: its wire description and its `data`
/// field (base64 text for `direct`, the URL for `link`).
#[napi(object, object_from_js = false)]
pub struct SentPayload {
    pub id: String,
    pub dataname: String,
    #[napi(js_name = "type")]
    pub payload_type: String,
    /// `direct` or `link`.
    pub transport: String,
    /// `base64` (direct) or `url` (link).
    pub encoding: String,
    /// Bytes of the serialized payload, before base64.
    pub size: f64,
    pub sha256: Option<String>,
    pub data: String,
    #[napi(ts_type = "Record<string, any>")]
    pub metadata: JsonValue,
}

/// One decoded payload of a received envelope.
#[napi(object, object_from_js = false)]
pub struct ReceivedPayload {
    pub id: String,
    pub dataname: String,
    #[napi(js_name = "type")]
    pub payload_type: String,
    /// How it travelled: `direct` or `link`.
    pub transport: String,
    pub encoding: String,
    pub size: f64,
    pub sha256: Option<String>,
    /// The value: a string (`text`), any JSON value (`dictionary`), an
    /// apache-arrow `Table` (`table`), a `Buffer` (binary-like and unknown
    /// types), or `{path}` for a link payload saved to `saveDir`.
    #[napi(ts_type = "any")]
    pub data: ReceivedData,
    #[napi(ts_type = "Record<string, any>")]
    pub metadata: JsonValue,
}

impl ReceivedPayload {
    pub(crate) fn new(payload: natsbridge::ReceivedPayload) -> ReceivedPayload {
        let natsbridge::ReceivedPayload { info, value } = payload;
        ReceivedPayload {
            id: info.id,
            dataname: info.dataname,
            payload_type: info.payload_type.as_str().to_owned(),
            transport: info.transport.as_str().to_owned(),
            encoding: info.transport.encoding().to_owned(),
            size: info.size as f64,
            sha256: info.sha256,
            data: ReceivedData(value),
            metadata: JsonValue(serde_json::Value::Object(info.metadata)),
        }
    }
}

/// A received payload's value on its way to JS. Tables go as their Arrow IPC
/// bytes in a `Buffer` (no copy); `index.js` decodes them with `tableFromIPC`.
pub struct ReceivedData(pub(crate) PayloadValue);

impl ToNapiValue for ReceivedData {
    unsafe fn to_napi_value(
        raw_env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        let env = Env::from_raw(raw_env);
        match val.0 {
            // SAFETY (all arms): values created in the environment we were given.
            PayloadValue::Text(text) => unsafe { ToNapiValue::to_napi_value(raw_env, text) },
            PayloadValue::Dictionary(value) => json::parse(&env, &value),
            PayloadValue::Table(table) => {
                let ipc = table.ipc_bytes().clone();
                // Let go of the decoded batches: JS gets the bytes alone.
                drop(table);
                to_buffer(&env, ipc)
            }
            PayloadValue::Bytes(bytes) => to_buffer(&env, bytes),
            PayloadValue::File(path) => {
                let mut object = Object::new(&env)?;
                object.set("path", path.to_string_lossy().into_owned())?;
                unsafe { ToNapiValue::to_napi_value(raw_env, object) }
            }
        }
    }
}

impl TypeName for ReceivedData {
    fn type_name() -> &'static str {
        "any"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}
