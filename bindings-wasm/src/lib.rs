//! natsbridge in the browser: the core's sans-I/O codec compiled to
//! WebAssembly, exported through wasm-bindgen.
//!
//! The JavaScript layer (`bindings-node/browser/`) does the I/O a page can
//! do (NATS over WebSocket, `fetch`, the Object Store through `@nats-io/obj`)
//! and converts values at the border; every rule of the wire format lives
//! here, in the same Rust code every other front end runs: envelope fields
//! and their defaults, serialization by type, the transport rule against
//! `max_payload`, base64, `size` and `sha256` checks, Arrow IPC validation,
//! and the error kinds (each thrown `Error` carries the core's `code`).
//!
//! A send is [`Outgoing`]: add payloads, [`Outgoing::plan`], upload the link
//! payloads, [`Outgoing::set_link`], [`Outgoing::finish`]. A receive is
//! [`decode`], then [`Incoming::confirm_digest`] for each payload waiting for
//! the page's SHA-256 (WebCrypto, native) and [`Incoming::finish_link`] for
//! each fetched link payload.

mod error;
mod link;
mod names;

use bytes::Bytes;
use natsbridge::codec::{self, EnvelopeOptions, EnvelopeWriter, PartData};
use natsbridge::payload::{Body, safe_file_name};
use natsbridge::{Error, ErrorKind, Payload, PayloadInfo, PayloadValue, Table, Transport};
use serde::Deserialize;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use error::JsResult;
pub use error::to_js_error;

/// The natsbridge version, shared by every front end.
#[wasm_bindgen]
pub fn version() -> String {
    natsbridge::VERSION.to_owned()
}

/// The option schema of the core (`natsbridge::schema::to_json()`, what
/// `docs/options.json` holds) as a JS object `{ options: [{ name, camel,
/// scope, kind, unit, default, doc }, ...] }`: the ESM layer checks option
/// objects against it and takes its defaults from it.
#[wasm_bindgen(js_name = optionSchema)]
pub fn option_schema() -> JsResult<JsValue> {
    js_sys::JSON::parse(&natsbridge::schema::to_json()).map_err(|_| {
        to_js_error(Error::new(
            ErrorKind::Internal,
            "the option schema is not JSON",
        ))
    })
}

/// The envelope fields a send may set, camelCase as the Node package names them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct HeaderOptions {
    correlation_id: Option<String>,
    msg_id: Option<String>,
    msg_purpose: Option<String>,
    sender_name: Option<String>,
    sender_id: Option<String>,
    receiver_name: Option<String>,
    receiver_id: Option<String>,
    reply_to: Option<String>,
    reply_to_msg_id: Option<String>,
    metadata: Option<Map<String, Value>>,
    size_threshold: Option<f64>,
    direct_sha256: Option<bool>,
}

impl HeaderOptions {
    /// The core's send options, and whether direct payloads get a sha256.
    fn parse(json: &str) -> Result<(EnvelopeOptions, bool), Error> {
        let parsed: HeaderOptions = if json.trim().is_empty() {
            HeaderOptions::default()
        } else {
            serde_json::from_str(json).map_err(|err| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("bad send options: {err}"),
                )
            })?
        };
        let mut options = EnvelopeOptions {
            correlation_id: parsed.correlation_id,
            msg_id: parsed.msg_id,
            msg_purpose: parsed.msg_purpose,
            sender_id: parsed.sender_id,
            ..EnvelopeOptions::default()
        };
        if let Some(v) = parsed.sender_name {
            options.sender_name = v;
        }
        if let Some(v) = parsed.receiver_name {
            options.receiver_name = v;
        }
        if let Some(v) = parsed.receiver_id {
            options.receiver_id = v;
        }
        if let Some(v) = parsed.reply_to {
            options.reply_to = v;
        }
        if let Some(v) = parsed.reply_to_msg_id {
            options.reply_to_msg_id = v;
        }
        if let Some(v) = parsed.metadata {
            options.metadata = v;
        }
        if let Some(v) = parsed.size_threshold {
            if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("option sizeThreshold takes a whole number of bytes >= 0, got {v}"),
                ));
            }
            options.size_threshold = v as usize;
        }
        let direct_sha256 = parsed.direct_sha256.unwrap_or(false);
        options.direct_sha256 = direct_sha256;
        Ok((options, direct_sha256))
    }
}

fn parse_metadata(json: Option<String>) -> Result<Map<String, Value>, Error> {
    match json.as_deref() {
        None | Some("") => Ok(Map::new()),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(Error::new(
                ErrorKind::InvalidArgument,
                "a payload's metadata must be a plain object",
            )),
        },
    }
}

/// An envelope being built for a send.
#[wasm_bindgen]
pub struct Outgoing {
    writer: Option<EnvelopeWriter>,
    options: EnvelopeOptions,
    direct_sha256: bool,
    infos: Vec<PayloadInfo>,
    bodies: Vec<Bytes>,
    links: Vec<Option<String>>,
}

#[wasm_bindgen]
impl Outgoing {
    /// Starts an envelope on `subject` (checked) with the header options
    /// `options_json` (camelCase, as JSON text) and `broker_url` (its
    /// credentials are stripped).
    #[wasm_bindgen(constructor)]
    pub fn new(subject: &str, options_json: &str, broker_url: &str) -> JsResult<Outgoing> {
        let run = || -> Result<Outgoing, Error> {
            codec::validate_subject(subject)?;
            let (options, direct_sha256) = HeaderOptions::parse(options_json)?;
            let header =
                codec::new_header(subject, &options, &codec::strip_credentials(broker_url));
            Ok(Outgoing {
                writer: Some(EnvelopeWriter::new(header)),
                options,
                direct_sha256,
                infos: Vec::new(),
                bodies: Vec::new(),
                links: Vec::new(),
            })
        };
        run().map_err(to_js_error)
    }

    fn add(&mut self, payload: Result<Payload, Error>, metadata: Option<String>) -> JsResult<()> {
        let run = || -> Result<(), Error> {
            let payload = payload?.with_metadata(parse_metadata(metadata)?);
            let (mut infos, mut bodies) = codec::serialize_all(vec![payload], self.direct_sha256)?;
            self.infos.append(&mut infos);
            self.bodies.append(&mut bodies);
            self.links.push(None);
            Ok(())
        };
        run().map_err(to_js_error)
    }

    /// Adds a payload whose data is a string (`text`; other types refuse it).
    #[wasm_bindgen(js_name = addString)]
    pub fn add_string(
        &mut self,
        dataname: String,
        payload_type: &str,
        text: String,
        metadata: Option<String>,
    ) -> JsResult<()> {
        self.add(
            Payload::new(dataname, payload_type, Body::Text(text)),
            metadata,
        )
    }

    /// Adds a payload whose data is a JSON value, given as JSON text
    /// (`dictionary`; other types refuse it).
    #[wasm_bindgen(js_name = addJson)]
    pub fn add_json(
        &mut self,
        dataname: String,
        payload_type: &str,
        json: &str,
        metadata: Option<String>,
    ) -> JsResult<()> {
        let value = serde_json::from_str::<Value>(json).map_err(|err| {
            Error::new(
                ErrorKind::Serialization,
                format!("payload '{dataname}' is not a JSON value: {err}"),
            )
            .with_dataname(dataname.clone())
        });
        let payload =
            value.and_then(|value| Payload::new(dataname, payload_type, Body::Json(value)));
        self.add(payload, metadata)
    }

    /// Adds a payload whose data is bytes (the binary-like types, or Arrow
    /// IPC stream bytes for `table`, which are validated).
    #[wasm_bindgen(js_name = addBytes)]
    pub fn add_bytes(
        &mut self,
        dataname: String,
        payload_type: &str,
        bytes: Vec<u8>,
        metadata: Option<String>,
    ) -> JsResult<()> {
        self.add(
            Payload::new(dataname, payload_type, Body::Bytes(Bytes::from(bytes))),
            metadata,
        )
    }

    /// Adds a table given as JSON text: an array of row objects or an
    /// object of column arrays (only `table` takes it).
    #[wasm_bindgen(js_name = addTableJson)]
    pub fn add_table_json(
        &mut self,
        dataname: String,
        payload_type: &str,
        json: &str,
        metadata: Option<String>,
    ) -> JsResult<()> {
        let table = serde_json::from_str::<Value>(json)
            .map_err(|err| {
                Error::new(
                    ErrorKind::Serialization,
                    format!("payload '{dataname}': {err}"),
                )
            })
            .and_then(|value| match value {
                Value::Array(rows) => Table::from_json_rows(&rows),
                Value::Object(columns) => Table::from_json_columns(&columns),
                _ => Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "payload '{dataname}': a table is an array of rows or an object of columns"
                    ),
                )),
            })
            .map_err(|err| err.with_dataname(dataname.clone()));
        let payload =
            table.and_then(|table| Payload::new(dataname, payload_type, Body::Table(table)));
        self.add(payload, metadata)
    }

    /// Number of payloads added.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.infos.len()
    }

    /// The payload id of payload `index` (links are named after it).
    #[wasm_bindgen(js_name = payloadId)]
    pub fn payload_id(&self, index: usize) -> String {
        self.infos
            .get(index)
            .map(|i| i.id.clone())
            .unwrap_or_default()
    }

    /// The dataname of payload `index`.
    pub fn dataname(&self, index: usize) -> String {
        self.infos
            .get(index)
            .map(|i| i.dataname.clone())
            .unwrap_or_default()
    }

    /// The serialized bytes of payload `index` (what a link uploads).
    pub fn body(&self, index: usize) -> Vec<u8> {
        self.bodies
            .get(index)
            .map(|b| b.to_vec())
            .unwrap_or_default()
    }

    /// Applies the transport rule (wire-v1 section 5) against the server's
    /// `max_payload`. `store` says which claim-check store a link would go
    /// to: `""` none, `"fileserver:<base url>"`, `"object:<bucket>"`, or
    /// `"handler"` (a caller's upload function). Returns one byte per
    /// payload, 1 for link, 0 for direct. Throws `PAYLOAD_TOO_LARGE` when a
    /// payload must go by link and `store` is empty. Link payloads get
    /// their sha256 here.
    pub fn plan(&mut self, max_payload: f64, store: &str) -> JsResult<Vec<u8>> {
        let writer = self.writer.as_ref().ok_or_else(finished)?;
        let store = StoreKind::parse(store);
        let threshold = self.options.size_threshold;
        let max_payload = if max_payload.is_finite() && max_payload > 0.0 {
            max_payload as usize
        } else {
            usize::MAX
        };
        let limits = writer.limits(self.infos.len(), threshold, max_payload);
        codec::plan(&mut self.infos, limits, store.is_some(), |info| {
            store.as_ref().map_or(0, |s| s.url_len(info) + 2)
        })
        .map_err(to_js_error)?;
        let mut plan = Vec::with_capacity(self.infos.len());
        for (info, body) in self.infos.iter_mut().zip(&self.bodies) {
            match info.transport {
                Transport::Link => {
                    if info.sha256.is_none() {
                        info.sha256 = Some(codec::sha256_hex(body));
                    }
                    plan.push(1);
                }
                Transport::Direct => plan.push(0),
            }
        }
        Ok(plan)
    }

    /// The URL payload `index` gets in `store` (`fileserver:<base>` or
    /// `object:<bucket>`): the file server's `<base>/<id>/<safe dataname>`
    /// or `nats-object://<bucket>/<id>`, as the core's stores name them.
    #[wasm_bindgen(js_name = linkUrl)]
    pub fn link_url(&self, index: usize, store: &str) -> String {
        match (StoreKind::parse(store), self.infos.get(index)) {
            (Some(kind), Some(info)) => kind.url_for(info),
            _ => String::new(),
        }
    }

    /// Records where payload `index` was uploaded.
    #[wasm_bindgen(js_name = setLink)]
    pub fn set_link(&mut self, index: usize, url: String) -> JsResult<()> {
        match self.links.get_mut(index) {
            Some(slot) => {
                *slot = Some(url);
                Ok(())
            }
            None => Err(to_js_error(Error::new(
                ErrorKind::InvalidArgument,
                format!("no payload #{index}"),
            ))),
        }
    }

    /// Writes the envelope. Every link payload must have its URL.
    pub fn finish(&mut self) -> JsResult<Sent> {
        let writer = self.writer.take().ok_or_else(finished)?;
        let mut parts = Vec::with_capacity(self.infos.len());
        for (index, info) in self.infos.iter().enumerate() {
            match info.transport {
                Transport::Direct => parts.push(PartData::Direct(&self.bodies[index])),
                Transport::Link => match &self.links[index] {
                    Some(url) => parts.push(PartData::Link(url)),
                    None => {
                        return Err(to_js_error(Error::new(
                            ErrorKind::Upload,
                            format!("payload '{}' goes by link but has no URL", info.dataname),
                        )));
                    }
                },
            }
        }
        let sent = writer.finish(std::mem::take(&mut self.infos), &parts);
        Ok(Sent {
            msg_id: sent.header.msg_id.clone(),
            json: names::sent_to_js_json(&sent.to_json()),
            wire: sent.wire_bytes().clone(),
        })
    }
}

fn finished() -> JsValue {
    to_js_error(Error::new(
        ErrorKind::InvalidArgument,
        "this envelope was already written",
    ))
}

/// Where link payloads go.
enum StoreKind {
    FileServer(String),
    Object(String),
    Handler,
}

impl StoreKind {
    fn parse(store: &str) -> Option<StoreKind> {
        if let Some(base) = store.strip_prefix("fileserver:") {
            Some(StoreKind::FileServer(base.trim_end_matches('/').to_owned()))
        } else if let Some(bucket) = store.strip_prefix("object:") {
            Some(StoreKind::Object(bucket.to_owned()))
        } else if store == "handler" {
            Some(StoreKind::Handler)
        } else {
            None
        }
    }

    fn url_for(&self, info: &PayloadInfo) -> String {
        match self {
            StoreKind::FileServer(base) => format!(
                "{base}/{}/{}",
                link::encode_segment(&info.id),
                link::encode_segment(&safe_file_name(&info.dataname))
            ),
            StoreKind::Object(bucket) => {
                format!("nats-object://{bucket}/{}", link::encode_segment(&info.id))
            }
            StoreKind::Handler => String::new(),
        }
    }

    fn url_len(&self, info: &PayloadInfo) -> usize {
        match self {
            // A caller's handler may return any URL: allow long presigned ones.
            StoreKind::Handler => 2048,
            other => other.url_for(info).len(),
        }
    }
}

/// An envelope as written: its bytes to publish and its description.
#[wasm_bindgen]
pub struct Sent {
    msg_id: String,
    json: String,
    wire: Bytes,
}

#[wasm_bindgen]
impl Sent {
    /// The message body to publish.
    pub fn wire(&self) -> Vec<u8> {
        self.wire.to_vec()
    }

    /// The `Nats-Msg-Id` header value.
    #[wasm_bindgen(getter, js_name = msgId)]
    pub fn msg_id(&self) -> String {
        self.msg_id.clone()
    }

    /// The envelope as sent, camelCase, as JSON text.
    pub fn json(&self) -> String {
        self.json.clone()
    }
}

/// The `Content-Type` header senders set.
#[wasm_bindgen(js_name = contentType)]
pub fn content_type() -> String {
    natsbridge::envelope::CONTENT_TYPE.to_owned()
}

/// Checks a subject to subscribe to (wildcards allowed as whole tokens).
#[wasm_bindgen(js_name = validateSubscribeSubject)]
pub fn validate_subscribe_subject(subject: &str) -> JsResult<()> {
    codec::validate_subscribe_subject(subject).map_err(to_js_error)
}

/// Checks a subject to publish on.
#[wasm_bindgen(js_name = validateSubject)]
pub fn validate_subject(subject: &str) -> JsResult<()> {
    codec::validate_subject(subject).map_err(to_js_error)
}

/// Removes credentials from a server URL list, for `brokerUrl`.
#[wasm_bindgen(js_name = stripCredentials)]
pub fn strip_credentials(urls: &str) -> String {
    codec::strip_credentials(urls).into_owned()
}

/// A received envelope, decoded and with its direct payloads verified (or
/// waiting for the page's digest, see [`Incoming::confirm_digest`]).
#[wasm_bindgen]
pub struct Incoming {
    header: natsbridge::EnvelopeHeader,
    infos: Vec<PayloadInfo>,
    contents: Vec<Content>,
}

enum Content {
    Value(PayloadValue),
    /// Size checked; waiting for the SHA-256 the page computes.
    Digest(Bytes),
    Link(String),
}

/// Direct payloads from this size on that declare a `sha256` are hashed by
/// the page (WebCrypto, native code with the CPU's SHA instructions) instead
/// of the `sha2` crate in wasm; below it, handing the bytes out and awaiting
/// the host's promise costs more than hashing here. Measured in
/// `benchmarks/browser/RESULTS.md`.
const HOST_DIGEST_MIN_SIZE: usize = 16 * 1024;

/// Parses an envelope and decodes and checks its direct payloads (size,
/// sha256 when present, UTF-8, JSON, Arrow IPC). Payloads of at least
/// `HOST_DIGEST_MIN_SIZE` bytes that declare a sha256 come back with kind
/// `digest`: hash [`Incoming::digest_view`] with `crypto.subtle.digest`
/// and pass the result to [`Incoming::confirm_digest`], which compares it
/// and decodes the payload; with `host_digest` false (a page without
/// `crypto.subtle`: not a secure context) the codec hashes every payload
/// itself. Throws an `Error` with the kind's `code` (`MALFORMED_ENVELOPE`,
/// `INTEGRITY`, ...).
#[wasm_bindgen]
pub fn decode(message: &[u8], host_digest: bool) -> JsResult<Incoming> {
    let min_size = if host_digest {
        HOST_DIGEST_MIN_SIZE
    } else {
        usize::MAX
    };
    let decoded = codec::decode_deferred(message, min_size).map_err(to_js_error)?;
    let mut infos = Vec::with_capacity(decoded.payloads.len());
    let mut contents = Vec::with_capacity(decoded.payloads.len());
    for payload in decoded.payloads {
        infos.push(payload.info);
        contents.push(match payload.content {
            codec::Deferred::Ready(value) => Content::Value(value),
            codec::Deferred::Digest(bytes) => Content::Digest(bytes),
            codec::Deferred::Link(url) => Content::Link(url),
        });
    }
    Ok(Incoming {
        header: decoded.header,
        infos,
        contents,
    })
}

fn kind_of(value: &PayloadValue) -> &'static str {
    match value {
        PayloadValue::Text(_) => "text",
        PayloadValue::Dictionary(_) => "json",
        PayloadValue::Table(_) => "table",
        _ => "bytes",
    }
}

#[wasm_bindgen]
impl Incoming {
    /// The header (camelCase) and each payload's description, with a `kind`
    /// per payload saying which accessor holds its value: `text`, `json`,
    /// `table`, `bytes`, `digest` (call `confirmDigest` first) or `link`
    /// (call `finishLink` first). JSON text.
    pub fn describe(&self) -> String {
        names::incoming_to_js_json(&self.header, &self.infos, |index| {
            match &self.contents[index] {
                Content::Link(_) => "link",
                Content::Digest(_) => "digest",
                Content::Value(value) => kind_of(value),
            }
        })
    }

    /// The bytes of payload `index` waiting for their digest, as a view of
    /// the module's memory (no copy): valid only until the next call into
    /// the module, so hand it straight to `crypto.subtle.digest`, which
    /// copies its input before it returns. Empty for any other payload.
    #[wasm_bindgen(js_name = digestView)]
    pub fn digest_view(&self, index: usize) -> js_sys::Uint8Array {
        match self.contents.get(index) {
            // SAFETY: the view is read by the caller before wasm memory can
            // grow or this buffer be freed (the doc above; the ESM layer
            // passes it to crypto.subtle.digest at once).
            Some(Content::Digest(bytes)) => unsafe { js_sys::Uint8Array::view(bytes) },
            _ => js_sys::Uint8Array::new_with_length(0),
        }
    }

    /// Compares the SHA-256 `digest` the page computed of
    /// [`Incoming::digest_view`] with the payload's declared `sha256`
    /// (`INTEGRITY` on a mismatch, decided by the codec) and decodes the
    /// payload. Returns its kind, as [`Incoming::finish_link`] does.
    #[wasm_bindgen(js_name = confirmDigest)]
    pub fn confirm_digest(&mut self, index: usize, digest: &[u8]) -> JsResult<String> {
        let info = self.info(index)?;
        let bytes = match self.contents.get(index) {
            Some(Content::Digest(bytes)) => bytes.clone(),
            _ => {
                return Err(to_js_error(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("payload #{index} is not waiting for a digest"),
                )));
            }
        };
        let value = codec::finish_digest(info, bytes, digest).map_err(to_js_error)?;
        let kind = kind_of(&value);
        self.contents[index] = Content::Value(value);
        Ok(kind.to_owned())
    }

    /// The string of a `text` payload (decoded straight from the module's
    /// memory, no copy on the Rust side).
    pub fn text(&self, index: usize) -> js_sys::JsString {
        match self.contents.get(index) {
            Some(Content::Value(PayloadValue::Text(text))) => js_sys::JsString::from(text.as_str()),
            _ => js_sys::JsString::from(""),
        }
    }

    /// The JSON text of a `dictionary` payload.
    #[wasm_bindgen(js_name = jsonText)]
    pub fn json_text(&self, index: usize) -> String {
        match self.contents.get(index) {
            Some(Content::Value(PayloadValue::Dictionary(value))) => value.to_string(),
            _ => String::new(),
        }
    }

    /// The bytes of a binary-like payload, or the Arrow IPC stream of a
    /// `table` (validated): one copy, from the module's memory into a new
    /// `Uint8Array` the page owns.
    pub fn bytes(&self, index: usize) -> js_sys::Uint8Array {
        match self.contents.get(index) {
            Some(Content::Value(PayloadValue::Bytes(bytes))) => {
                js_sys::Uint8Array::from(&bytes[..])
            }
            Some(Content::Value(PayloadValue::Table(table))) => {
                js_sys::Uint8Array::from(&table.ipc_bytes()[..])
            }
            _ => js_sys::Uint8Array::new_with_length(0),
        }
    }

    /// The URL of a link payload not fetched yet.
    #[wasm_bindgen(js_name = linkUrl)]
    pub fn link_url(&self, index: usize) -> String {
        match self.contents.get(index) {
            Some(Content::Link(url)) => url.clone(),
            _ => String::new(),
        }
    }

    /// Checks link payload `index` before anything is fetched: its URL
    /// against the scheme rule and the receiver's policy
    /// (`policy_json`: `allowedOrigins`, `allowPrivateAddresses`), and its
    /// declared size against `maxDownloadSize`. Returns `http` or `object`.
    #[wasm_bindgen(js_name = checkLink)]
    pub fn check_link(&self, index: usize, policy_json: &str) -> JsResult<String> {
        let info = self.info(index)?;
        let url = self.link_url(index);
        link::check(&url, info, policy_json)
            .map(|target| target.to_owned())
            .map_err(|err| to_js_error(err.with_dataname(info.dataname.clone())))
    }

    /// Verifies fetched bytes of link payload `index` against its `size` and
    /// `sha256` and decodes them; afterwards the value is in the accessor
    /// `describe()` names.
    #[wasm_bindgen(js_name = finishLink)]
    pub fn finish_link(&mut self, index: usize, bytes: Vec<u8>) -> JsResult<String> {
        let info = self.info(index)?;
        let value = codec::finish_link(info, Bytes::from(bytes)).map_err(to_js_error)?;
        let kind = kind_of(&value);
        self.contents[index] = Content::Value(value);
        Ok(kind.to_owned())
    }

    /// [`Incoming::finish_link`] with the SHA-256 `digest` the page computed
    /// of `bytes` (WebCrypto): the codec compares it with the declared
    /// `sha256` instead of hashing in wasm, checks the size and decodes.
    #[wasm_bindgen(js_name = finishLinkDigest)]
    pub fn finish_link_digest(
        &mut self,
        index: usize,
        bytes: Vec<u8>,
        digest: &[u8],
    ) -> JsResult<String> {
        let info = self.info(index)?;
        if !matches!(self.contents.get(index), Some(Content::Link(_))) {
            return Err(to_js_error(Error::new(
                ErrorKind::InvalidArgument,
                format!("payload #{index} is not a link payload"),
            )));
        }
        let value = codec::finish_digest(info, Bytes::from(bytes), digest).map_err(to_js_error)?;
        let kind = kind_of(&value);
        self.contents[index] = Content::Value(value);
        Ok(kind.to_owned())
    }

    fn info(&self, index: usize) -> JsResult<&PayloadInfo> {
        self.infos.get(index).ok_or_else(|| {
            to_js_error(Error::new(
                ErrorKind::InvalidArgument,
                format!("no payload #{index}"),
            ))
        })
    }
}

/// Checks a buffer against a declared size and lowercase hex sha256 (empty
/// for none), throwing `INTEGRITY` on a mismatch.
#[wasm_bindgen(js_name = verifyBytes)]
pub fn verify_bytes(dataname: String, bytes: &[u8], size: f64, sha256: &str) -> JsResult<()> {
    let info = PayloadInfo {
        id: String::new(),
        dataname,
        payload_type: natsbridge::PayloadType::Binary,
        transport: Transport::Link,
        size: size as u64,
        sha256: (!sha256.is_empty()).then(|| sha256.to_ascii_lowercase()),
        metadata: Map::new(),
    };
    codec::verify(&info, bytes).map_err(to_js_error)
}

/// Lowercase hex SHA-256.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    codec::sha256_hex(bytes)
}

/// The delay before retry `retry` (from 0) of a download, in ms: the
/// core's backoff, `min(maxDelay, baseDelay * 2^retry)` drawn uniformly from
/// its upper half (`jitter` is a uniform number in [0, 1)).
#[wasm_bindgen(js_name = backoffDelay)]
pub fn backoff_delay(retry: u32, base_delay: f64, max_delay: f64, jitter: f64) -> f64 {
    link::backoff_delay(retry, base_delay, max_delay, jitter)
}

/// Whether an HTTP status is worth retrying (5xx and 429; not other 4xx).
#[wasm_bindgen(js_name = retryableStatus)]
pub fn retryable_status(status: u16) -> bool {
    link::retryable_status(status)
}

/// A typed natsbridge error, for the JS layer's own failures (a socket
/// closed, a fetch failed): `code` is one of the core's kind codes.
#[wasm_bindgen(js_name = makeError)]
pub fn make_error(code: &str, message: &str, dataname: Option<String>) -> JsValue {
    let kind = ErrorKind::ALL
        .into_iter()
        .find(|kind| kind.code() == code)
        .unwrap_or(ErrorKind::InvalidArgument);
    let mut err = Error::new(kind, message);
    if let Some(name) = dataname {
        err = err.with_dataname(name);
    }
    to_js_error(err)
}

/// Checks a URL a download was redirected to against the receiver's policy
/// (`policy_json` as for [`Incoming::check_link`]). Returns `http`.
#[wasm_bindgen(js_name = checkUrl)]
pub fn check_url(url: &str, dataname: String, policy_json: &str) -> JsResult<String> {
    let info = PayloadInfo {
        id: String::new(),
        dataname: dataname.clone(),
        payload_type: natsbridge::PayloadType::Binary,
        transport: Transport::Link,
        size: 0,
        sha256: None,
        metadata: Map::new(),
    };
    link::check(url, &info, policy_json)
        .map(str::to_owned)
        .map_err(|err| to_js_error(err.with_dataname(dataname)))
}

/// Where a reply to a received envelope goes (wire-v1 section 6), by the
/// core's rule: the NATS reply subject of its message, else its `replyTo`
/// (`natsbridge::envelope::choose_reply_subject`), checked like
/// `Bridge::reply` checks it (`check_reply_subject`): a `$`-prefixed system
/// subject, or one outside `prefixes` (the connect option
/// `replySubjectPrefixes`; empty or absent: any other subject), throws
/// `INVALID_ARGUMENT` naming it, as does having nowhere to reply.
#[wasm_bindgen(js_name = replySubject)]
pub fn reply_subject(
    msg_id: &str,
    reply_to: &str,
    nats_reply: Option<String>,
    prefixes: Option<Vec<String>>,
) -> JsResult<String> {
    let subject = natsbridge::envelope::choose_reply_subject(reply_to, nats_reply.as_deref());
    if subject.is_empty() {
        return Err(to_js_error(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "message {msg_id} has neither replyTo nor a NATS reply subject; there is nowhere to reply"
            ),
        )));
    }
    natsbridge::envelope::check_reply_subject(subject, prefixes.as_deref().unwrap_or_default())
        .map_err(|err| {
            let message = format!("cannot answer message {msg_id}: {}", err.message());
            to_js_error(Error::new(err.kind(), message))
        })?;
    Ok(subject.to_owned())
}
