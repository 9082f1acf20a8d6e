//! Option objects, read by name against the core's option schema
//! ([`natsbridge::schema`]): every key of a caller's object must be the
//! camelCase name of an option of that call's scopes (or one of the call's
//! own arguments, such as `timeout` of `request`); its value is converted by
//! the option's kind and handed to the core's by-name setters
//! (`SendOptions::set`, `ReceiveOptions::set`, `ConnectOptions::set`). No
//! default is applied here: an option not given is not passed, so the core's
//! default applies. A new row of the schema is taken with no edit here.
//!
//! **Units.** Durations are whole milliseconds and sizes bytes, as in every
//! front end.
//!
//! The `#[napi(object)]` structs below only declare the option objects'
//! types for the generated `index.d.ts` (each field's doc is the schema's
//! doc line, unit and default; `__test__/options.test.mjs` checks them
//! against `docs/options.json`). Values are never read through them.

use std::collections::HashMap;
use std::time::Duration;

use napi::bindgen_prelude::{FromNapiValue, Function, JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use natsbridge::Error;
use natsbridge::schema::{self, Kind, OptionSpec, OptionValue, Scope};

use crate::error::{invalid, invalid_napi};
use crate::handlers::{self, DownloadArgs, UploadArgs};
use crate::json;

/// Options of a connection (`Bridge.connect`).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct ConnectOptions {
    /// The NATS server: one URL or several separated by commas (a cluster). Credentials in a
    /// URL are used, never written into envelopes. Default: $NATS_URL, else
    /// nats://localhost:4222.
    pub nats_url: Option<String>,
    /// The connection name the server shows in its monitoring. Default: unset.
    pub name: Option<String>,
    /// Authenticate with this token. Default: unset.
    pub token: Option<String>,
    /// Authenticate as this user; needs password. Default: unset.
    pub user: Option<String>,
    /// The password of user; needs user. Default: unset.
    pub password: Option<String>,
    /// Authenticate with this .creds file (JWT and nkey seed). Default: unset.
    pub credentials_file: Option<String>,
    /// Authenticate with this nkey seed (SU...). Default: unset.
    pub nkey: Option<String>,
    /// Trust the server certificates signed by this CA file (PEM): NATS, and https file servers for uploads and link downloads. Default: unset.
    pub tls_ca_file: Option<String>,
    /// Present this client certificate (PEM) for mutual TLS; needs tls_client_key. Default:
    /// unset.
    pub tls_client_cert: Option<String>,
    /// The private key (PEM) of tls_client_cert; needs tls_client_cert. Default: unset.
    pub tls_client_key: Option<String>,
    /// Refuse to talk to the server without TLS. Default: false.
    pub require_tls: Option<bool>,
    /// How long connecting may take. Unit: ms. Default: 5000 ms.
    pub connect_timeout: Option<f64>,
    /// How long a request waits for its reply, and a JetStream publish for its acknowledgement.
    /// Unit: ms. Default: 10000 ms.
    pub request_timeout: Option<f64>,
    /// How many messages a subscription buffers before the server treats it as a slow consumer.
    /// Default: async-nats' default (65,536 messages).
    pub subscription_capacity: Option<f64>,
    /// The HTTP file server every send of this connection uploads link payloads to (a send's
    /// own fileserver_url wins); unset: the JetStream Object Store. Default: unset.
    pub fileserver_url: Option<String>,
    /// The bearer token for uploads to fileserver_url. Default: unset.
    pub fileserver_token: Option<String>,
    /// The JetStream Object Store bucket link payloads go to when no file server is set.
    /// Default: "natsbridge".
    pub object_store_bucket: Option<String>,
    /// How long objects are kept in that bucket (used when the bucket is created). Unit: ms.
    /// Default: 86400000 ms.
    pub object_store_ttl: Option<f64>,
    /// How many servers keep a copy of a stream (ensure_stream) or the Object Store bucket when
    /// this connection creates them; a single server takes 1, a cluster up to 5. Default: 1.
    pub jetstream_replicas: Option<f64>,
    /// When set, replies go only to subjects starting with one of these prefixes (e.g. _INBOX.);
    /// $-prefixed system subjects are refused either way. Default: unset.
    #[napi(ts_type = "string | Array<string>")]
    pub reply_subject_prefixes: Option<Vec<String>>,
}

/// Options of a send (`smartsend`, `Bridge.send`, `Bridge.reply`, `Bridge.request`).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct SendOptions<'a> {
    /// Payloads of at least this many serialized bytes travel by link (claim-check). Unit:
    /// bytes. Default: 1000000 bytes.
    pub size_threshold: Option<f64>,
    /// The id that ties a conversation together across messages. Default: a new UUID per
    /// message.
    pub correlation_id: Option<String>,
    /// The message id; JetStream drops a resend with the same id. Default: a new UUID per
    /// message.
    pub msg_id: Option<String>,
    /// What the message is for (chat, command, telemetry; replies are response). Default:
    /// "chat".
    pub msg_purpose: Option<String>,
    /// Who sends. Default: "NATSBridge".
    pub sender_name: Option<String>,
    /// The sender's id. Default: a UUID drawn once per process.
    pub sender_id: Option<String>,
    /// Who should receive (empty: broadcast). Default: "".
    pub receiver_name: Option<String>,
    /// The receiver's id (empty: broadcast). Default: "".
    pub receiver_id: Option<String>,
    /// The subject the receiver should answer on (empty: none). Default: "".
    pub reply_to: Option<String>,
    /// In a reply: the msg_id being answered. Default: "".
    pub reply_to_msg_id: Option<String>,
    /// The envelope's free-form metadata object. Default: unset.
    #[napi(ts_type = "Record<string, unknown>")]
    pub metadata: Option<Unknown<'a>>,
    /// Publish through JetStream and wait for the stream's acknowledgement. Default: false.
    pub jetstream: Option<bool>,
    /// Also write sha256 for direct payloads (link payloads always carry it). Default: false.
    pub direct_sha256: Option<bool>,
    /// The HTTP file server link payloads are uploaded to (PUT <url>/<payload id>/<dataname>).
    /// Default: the connection's fileserver_url, else the JetStream Object Store.
    pub fileserver_url: Option<String>,
    /// The bearer token for uploads to fileserver_url. Default: the connection's
    /// fileserver_token.
    pub fileserver_token: Option<String>,
    /// Uploads a link payload and returns its URL, replacing the built-in stores:
    /// (fileserver_url, dataname, bytes) -> url. Default: unset.
    #[napi(
        ts_type = "(fileserverUrl: string, dataname: string, data: Buffer) => string | Promise<string>"
    )]
    pub fileserver_upload_handler: Option<Function<'a, UploadArgs, Unknown<'static>>>,
}

/// Options of a receive (`smartreceive`, `Bridge.receive`, `Bridge.subscribe`,
/// the reply of `Bridge.request`): how link payloads are fetched and checked.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct ReceiveOptions<'a> {
    /// Retries of a failed download (connection errors, time-outs, 5xx and 429 only). Default:
    /// 5.
    pub max_retries: Option<f64>,
    /// The first retry delay; each next one doubles, with jitter. Unit: ms. Default: 100 ms.
    pub base_delay: Option<f64>,
    /// The longest delay between two tries. Unit: ms. Default: 5000 ms.
    pub max_delay: Option<f64>,
    /// The time one download attempt may take (HTTP: the whole request; Object Store: the wait
    /// for each chunk). Unit: ms. Default: 30000 ms.
    pub download_timeout: Option<f64>,
    /// The time an HTTP(S) download may take to connect to a link's server (TCP and TLS), within
    /// download_timeout. Unit: ms. Default: 5000 ms.
    pub download_connect_timeout: Option<f64>,
    /// The most time the link payloads of one envelope may take together, retries included; past
    /// it the envelope fails with TIMEOUT naming the payload. Unit: ms. Default: 60000 ms.
    pub envelope_timeout: Option<f64>,
    /// The largest link payload that is downloaded. Unit: bytes. Default: 1073741824 bytes.
    pub max_download_size: Option<f64>,
    /// The most bytes the link payloads of one envelope may declare together. Unit: bytes.
    /// Default: 4 x max_download_size.
    pub max_envelope_download_size: Option<f64>,
    /// The most link payloads one envelope may carry. Default: 256.
    pub max_link_payloads: Option<f64>,
    /// How many link payloads of one envelope are downloaded at once. Default: 4.
    pub max_concurrent_downloads: Option<f64>,
    /// The most rows a received table may have. Default: 16777216.
    pub max_table_rows: Option<f64>,
    /// When set, only links to these origins (scheme://host[:port]) are fetched. Default:
    /// unset.
    #[napi(ts_type = "string | Array<string>")]
    pub allowed_origins: Option<Unknown<'a>>,
    /// Whether links may point at private and loopback addresses (link-local and metadata
    /// addresses are refused either way). Default: true.
    pub allow_private_addresses: Option<bool>,
    /// Bearer tokens sent only when fetching links of exactly these origins. Default: unset.
    #[napi(ts_type = "Record<string, string>")]
    pub store_tokens: Option<HashMap<String, String>>,
    /// Write link payloads into this directory (streamed) and deliver them as file paths.
    /// Default: unset.
    pub save_dir: Option<String>,
    /// Send HTTP(S) downloads through this proxy; proxies from the environment are never used.
    /// Default: unset.
    pub proxy: Option<String>,
    /// The longest one call of fileserver_download_handler may take (envelope_timeout still
    /// bounds the whole envelope). Unit: ms. Default: download_timeout x (max_retries + 1) +
    /// max_delay x max_retries.
    pub handler_timeout: Option<f64>,
    /// Fetches a link payload instead of the built-in fetch: (url, max_retries, base_delay,
    /// max_delay) -> bytes. Default: unset.
    #[napi(
        ts_type = "(url: string, maxRetries: number, baseDelay: number, maxDelay: number) => Buffer | Uint8Array | Promise<Buffer | Uint8Array>"
    )]
    pub fileserver_download_handler: Option<Function<'a, DownloadArgs, Unknown<'static>>>,
}

/// Options of a subscription (`Bridge.subscribe`).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct SubscribeOptions {
    /// Join this queue group: each message goes to one member. Default: unset.
    pub queue: Option<String>,
    /// How many envelopes are decoded (and their links fetched) at once; they are still
    /// delivered in arrival order. Default: 1.
    pub concurrent_receives: Option<f64>,
}

/// Options of a JetStream consumer (`Bridge.durableSubscribe`).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct ConsumeOptions {
    /// The JetStream stream to consume (required). Default: unset.
    pub stream: Option<String>,
    /// The durable consumer's name: the server keeps its position, so a restart with the same
    /// name gets what was not acknowledged; unset: an ephemeral consumer. Default: unset.
    pub durable: Option<String>,
    /// Where a new consumer starts: all, new, last, last_ack (resume an existing durable
    /// consumer after its last acknowledged message), a stream sequence number, or an RFC 3339
    /// time. Default: "all".
    #[napi(ts_type = "string | number | Date")]
    pub deliver: Option<String>,
    /// Only deliver messages whose subject matches this one (wildcards allowed); unset: every
    /// subject of the stream. Default: unset.
    pub filter_subject: Option<String>,
    /// How long the server waits for an acknowledgement before delivering a message again.
    /// Unit: ms. Default: 30000 ms.
    pub ack_wait: Option<f64>,
    /// How many times one message is delivered at most (0: no limit). Default: 10.
    pub max_deliver: Option<f64>,
}

/// The own argument of `Bridge.ensureStream` (not an option of the schema).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct EnsureStreamOptions {
    /// How many servers keep a copy of the stream (1 on a single server, up
    /// to 5 in a cluster). Default: the connection's jetstreamReplicas.
    pub replicas: Option<f64>,
}

/// The NATS server of the function-style API (`smartsend`, `smartreceive`):
/// one pooled connection per URL, made on first use (the other connect
/// options need a `Bridge`).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct NatsUrlOption {
    /// The NATS server: one URL or several separated by commas (a cluster). Credentials in a
    /// URL are used, never written into envelopes. Default: $NATS_URL, else
    /// nats://localhost:4222.
    pub nats_url: Option<String>,
}

/// The own argument of `Bridge.request` (not an option of the schema).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // a type declaration for index.d.ts: values are read by name
pub struct RequestOptions {
    /// How long this request waits for its reply, in ms. Default: the
    /// connection's requestTimeout.
    pub timeout: Option<f64>,
}

/// What the option object of one call may hold.
pub(crate) struct Call {
    /// The call, for error messages (`Bridge.send`).
    name: &'static str,
    /// The schema scopes whose options it takes.
    scopes: &'static [Scope],
    /// Whether it takes the connect option `natsUrl` alone (the
    /// function-style API's pooled connection).
    nats_url: bool,
    /// The call's own arguments that are not options of the schema.
    extra: &'static [&'static str],
}

/// `smartsend(subject, payloads, options)`.
pub(crate) const SMARTSEND: Call = Call {
    name: "smartsend",
    scopes: &[Scope::Send],
    nats_url: true,
    extra: &[],
};
/// `smartreceive(msg, options)`.
pub(crate) const SMARTRECEIVE: Call = Call {
    name: "smartreceive",
    scopes: &[Scope::Receive],
    nats_url: true,
    extra: &[],
};
/// `Bridge.connect(natsUrl, options)`.
pub(crate) const CONNECT: Call = Call {
    name: "Bridge.connect",
    scopes: &[Scope::Connect],
    nats_url: false,
    extra: &[],
};
/// `Bridge.send(subject, payloads, options)`.
pub(crate) const SEND: Call = Call {
    name: "Bridge.send",
    scopes: &[Scope::Send],
    nats_url: false,
    extra: &[],
};
/// `Bridge.reply(request, payloads, options)`.
pub(crate) const REPLY: Call = Call {
    name: "Bridge.reply",
    scopes: &[Scope::Send],
    nats_url: false,
    extra: &[],
};
/// `Bridge.request(subject, payloads, options)`.
pub(crate) const REQUEST: Call = Call {
    name: "Bridge.request",
    scopes: &[Scope::Send, Scope::Receive],
    nats_url: false,
    extra: &["timeout"],
};
/// `Bridge.subscribe(subject, options)`.
pub(crate) const SUBSCRIBE: Call = Call {
    name: "Bridge.subscribe",
    scopes: &[Scope::Receive, Scope::Subscribe],
    nats_url: false,
    extra: &[],
};
/// `Bridge.durableSubscribe(subject, options)`.
pub(crate) const DURABLE_SUBSCRIBE: Call = Call {
    name: "Bridge.durableSubscribe",
    scopes: &[Scope::Consume, Scope::Receive],
    nats_url: false,
    extra: &[],
};
/// `Bridge.ensureStream(name, subjects, options)`.
pub(crate) const ENSURE_STREAM: Call = Call {
    name: "Bridge.ensureStream",
    scopes: &[],
    nats_url: false,
    extra: &["replicas"],
};
/// `Bridge.receive(msg, options)`.
pub(crate) const RECEIVE: Call = Call {
    name: "Bridge.receive",
    scopes: &[Scope::Receive],
    nats_url: false,
    extra: &[],
};

impl Call {
    fn takes(&self, spec: &OptionSpec) -> bool {
        self.scopes.contains(&spec.scope)
            || (self.nats_url && spec.scope == Scope::Connect && spec.name == "nats_url")
    }

    /// The option called `key` (camelCase) of this call.
    fn find(&self, key: &str) -> Option<&'static OptionSpec> {
        schema::OPTIONS
            .iter()
            .find(|o| o.camel == key && self.takes(o))
    }

    /// `INVALID_ARGUMENT` for a key that is no option of this call, listing
    /// the known ones (and saying where the key belongs, when it is an
    /// option of another call or a snake_case name).
    fn unknown(&self, key: &str) -> Error {
        let mut known: Vec<&str> = schema::OPTIONS
            .iter()
            .filter(|o| self.takes(o))
            .map(|o| o.camel)
            .collect();
        known.extend(self.extra);
        let hint = if let Some(o) = schema::OPTIONS
            .iter()
            .find(|o| o.name == key && o.camel != key && self.takes(o))
        {
            format!(" (JavaScript names are camelCase: '{}')", o.camel)
        } else if let Some(o) = schema::OPTIONS.iter().find(|o| o.camel == key) {
            format!(" ('{key}' is a {} option)", o.scope.as_str())
        } else {
            String::new()
        };
        invalid(format!(
            "unknown option '{key}' of {}{hint}; known: {}",
            self.name,
            known.join(", ")
        ))
    }
}

/// The options a caller gave to one call, each checked to be an option of
/// that call; `undefined` and `null` values count as not given.
pub(crate) struct Given<'env> {
    env: &'env Env,
    options: Vec<(&'static OptionSpec, Unknown<'env>)>,
    extra: Vec<(&'static str, Unknown<'env>)>,
}

/// Reads the option object of `call` (`undefined` or `null`: no options).
pub(crate) fn read<'env>(
    env: &'env Env,
    value: Option<&Unknown<'env>>,
    call: &Call,
) -> Result<Given<'env>, Error> {
    let mut given = Given {
        env,
        options: Vec::new(),
        extra: Vec::new(),
    };
    let Some(value) = value.filter(|v| !is_nullish(v)) else {
        return Ok(given);
    };
    if value.get_type().map_err(|e| invalid_napi("options", e))? != ValueType::Object {
        return Err(invalid(format!(
            "the options of {} must be an object",
            call.name
        )));
    }
    // SAFETY: checked to be an object of this environment.
    let object = unsafe { Object::from_napi_value(env.raw(), value.raw()) }
        .map_err(|e| invalid_napi("options", e))?;
    for key in own_keys(env, value).map_err(|e| invalid_napi("options", e))? {
        let item: Unknown<'env> = object
            .get_named_property(&key)
            .map_err(|e| invalid_napi(&format!("option {key}"), e))?;
        if let Some(spec) = call.find(&key) {
            if !is_nullish(&item) {
                given.options.push((spec, item));
            }
        } else if let Some(extra) = call.extra.iter().find(|extra| **extra == key) {
            if !is_nullish(&item) {
                given.extra.push((extra, item));
            }
        } else {
            return Err(call.unknown(&key));
        }
    }
    Ok(given)
}

/// `Object.keys(value)`: the object's own enumerable string keys, in the
/// same order. One Node-API call: looking `Object.keys` up on the global
/// object and calling it cost more than the rest of reading the options of a
/// small send.
fn own_keys(env: &Env, value: &Unknown<'_>) -> napi::Result<Vec<String>> {
    use napi::sys::{KeyCollectionMode, KeyConversion, KeyFilter};
    let mut keys = std::ptr::null_mut();
    // SAFETY: `value` is an object of this environment, on its JS thread.
    let status = unsafe {
        napi::sys::napi_get_all_property_names(
            env.raw(),
            value.raw(),
            KeyCollectionMode::own_only,
            KeyFilter::enumerable | KeyFilter::skip_symbols,
            KeyConversion::numbers_to_strings,
            &mut keys,
        )
    };
    crate::promise::napi_status(status, "cannot list the keys of the options")?;
    // SAFETY: an array of strings (numbers converted) of this environment.
    unsafe { Vec::<String>::from_napi_value(env.raw(), keys) }
}

/// What a JS value is, for error messages (never the value of a secret).
fn describe(spec: &OptionSpec, env: &Env, value: &Unknown<'_>) -> String {
    match value.get_type() {
        Ok(ValueType::Number) if spec.kind != Kind::Secret => {
            // SAFETY: checked to be a number of this environment.
            match unsafe { f64::from_napi_value(env.raw(), value.raw()) } {
                Ok(n) => n.to_string(),
                Err(_) => "a number".to_owned(),
            }
        }
        Ok(ValueType::Boolean) if spec.kind != Kind::Secret => {
            // SAFETY: checked to be a boolean of this environment.
            match unsafe { bool::from_napi_value(env.raw(), value.raw()) } {
                Ok(b) => b.to_string(),
                Err(_) => "a boolean".to_owned(),
            }
        }
        Ok(ValueType::Number) => "a number".to_owned(),
        Ok(ValueType::Boolean) => "a boolean".to_owned(),
        Ok(ValueType::String) => "a string".to_owned(),
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => "an array".to_owned(),
        Ok(ValueType::Object) => "an object".to_owned(),
        Ok(ValueType::Function) => "a function".to_owned(),
        Ok(ValueType::Symbol) => "a symbol".to_owned(),
        Ok(ValueType::BigInt) => "a bigint".to_owned(),
        _ => "a value of another type".to_owned(),
    }
}

/// The JS value of option `spec` as the core's [`OptionValue`], by the
/// option's kind; `INVALID_ARGUMENT` naming the option otherwise.
fn option_value(env: &Env, spec: &OptionSpec, value: &Unknown<'_>) -> Result<OptionValue, Error> {
    let wrong = || {
        invalid(format!(
            "option {} takes {}, got {}",
            spec.camel,
            spec.kind.expected(),
            describe(spec, env, value)
        ))
    };
    let ty = value.get_type().map_err(|_| wrong())?;
    let raw = (env.raw(), value.raw());
    // SAFETY (every `from_napi_value` below): the value's type was checked
    // first, and it is a value of this environment.
    let string = || unsafe { String::from_napi_value(raw.0, raw.1) }.map_err(|_| wrong());
    Ok(match (spec.kind, ty) {
        (Kind::Bool, ValueType::Boolean) => {
            OptionValue::Bool(unsafe { bool::from_napi_value(raw.0, raw.1) }.map_err(|_| wrong())?)
        }
        (Kind::Count | Kind::Bytes | Kind::Millis, ValueType::Number) => {
            let n = unsafe { f64::from_napi_value(raw.0, raw.1) }.map_err(|_| wrong())?;
            if !n.is_finite() || n < 0.0 || n.fract() != 0.0 || n > MAX_SAFE_INTEGER {
                return Err(wrong());
            }
            OptionValue::Number(n as u64)
        }
        (Kind::Text | Kind::Secret | Kind::Url | Kind::Path, ValueType::String) => {
            OptionValue::Text(string()?)
        }
        (Kind::TextList, ValueType::String) => OptionValue::TextList(vec![string()?]),
        (Kind::TextList, ValueType::Object) if value.is_array().unwrap_or(false) => {
            OptionValue::TextList(
                unsafe { Vec::<String>::from_napi_value(raw.0, raw.1) }.map_err(|_| wrong())?,
            )
        }
        (Kind::TokenMap, ValueType::Object) if !value.is_array().unwrap_or(true) => {
            let map = unsafe { HashMap::<String, String>::from_napi_value(raw.0, raw.1) }
                .map_err(|_| wrong())?;
            OptionValue::TokenMap(map.into_iter().collect())
        }
        (Kind::Object, ValueType::Object) => {
            // SAFETY: a value of this environment.
            let item = unsafe { Unknown::from_napi_value(raw.0, raw.1) }.map_err(|_| wrong())?;
            OptionValue::Object(json::to_object(
                env,
                item,
                &format!("option {}", spec.camel),
            )?)
        }
        _ => return Err(wrong()),
    })
}

/// The largest whole number a JS number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A JS function given for a callback option.
fn function<'env, Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Return: FromNapiValue>(
    env: &Env,
    spec: &OptionSpec,
    value: &Unknown<'env>,
) -> Result<Function<'env, Args, Return>, Error> {
    if value.get_type().ok() != Some(ValueType::Function) {
        return Err(invalid(format!(
            "option {} takes {}, got {}",
            spec.camel,
            spec.kind.expected(),
            describe(spec, env, value)
        )));
    }
    // SAFETY: checked to be a function of this environment.
    unsafe { Function::from_napi_value(env.raw(), value.raw()) }
        .map_err(|e| invalid_napi(spec.camel, e))
}

impl<'env> Given<'env> {
    fn of(&self, scope: Scope) -> impl Iterator<Item = &(&'static OptionSpec, Unknown<'env>)> {
        self.options
            .iter()
            .filter(move |(spec, _)| spec.scope == scope)
    }

    /// The core's send options.
    pub(crate) fn send(&self) -> Result<natsbridge::SendOptions, Error> {
        let mut options = natsbridge::SendOptions::new();
        let mut upload = None;
        for (spec, value) in self.of(Scope::Send) {
            if spec.kind == Kind::Callback {
                upload = Some((spec, value));
            } else {
                options = options.set(spec.name, option_value(self.env, spec, value)?)?;
            }
        }
        if let Some((spec, value)) = upload {
            let handler = function::<UploadArgs, Unknown<'static>>(self.env, spec, value)?;
            let base = options.get_fileserver_url().unwrap_or_default().to_owned();
            options = options.store(handlers::upload_store(&handler, base)?);
        }
        Ok(options)
    }

    /// The core's receive options.
    pub(crate) fn receive(&self) -> Result<natsbridge::ReceiveOptions, Error> {
        let mut options = natsbridge::ReceiveOptions::new();
        for (spec, value) in self.of(Scope::Receive) {
            if spec.kind == Kind::Callback {
                let handler = function::<DownloadArgs, Unknown<'static>>(self.env, spec, value)?;
                options = options.fetcher(handlers::download_fetcher(&handler)?);
            } else {
                options = options.set(spec.name, option_value(self.env, spec, value)?)?;
            }
        }
        Ok(options)
    }

    /// The `natsUrl` option, when given.
    pub(crate) fn nats_url(&self) -> Result<Option<String>, Error> {
        for (spec, value) in self.of(Scope::Connect) {
            if spec.name == "nats_url" {
                return match option_value(self.env, spec, value)? {
                    OptionValue::Text(url) => Ok(Some(url)),
                    _ => Err(invalid("natsUrl must be a string")),
                };
            }
        }
        Ok(None)
    }

    /// The core's connect options for `servers` (`natsUrl` is resolved by
    /// the caller: [`natsbridge::ConnectOptions::resolve_nats_url`]).
    pub(crate) fn connect(&self, servers: String) -> Result<natsbridge::ConnectOptions, Error> {
        let mut options = natsbridge::ConnectOptions::default();
        for (spec, value) in self.of(Scope::Connect) {
            if spec.name != "nats_url" {
                options = options.set(spec.name, option_value(self.env, spec, value)?)?;
            }
        }
        Ok(options.servers(servers))
    }

    /// The subscribe options: the queue group and how many envelopes are
    /// decoded at once (the core's default when not given).
    pub(crate) fn subscribe(&self) -> Result<(Option<String>, Option<usize>), Error> {
        let (mut queue, mut concurrency) = (None, None);
        for (spec, value) in self.of(Scope::Subscribe) {
            match (spec.name, option_value(self.env, spec, value)?) {
                ("queue", OptionValue::Text(group)) => queue = Some(group),
                ("concurrent_receives", OptionValue::Number(0)) => {
                    return Err(invalid("concurrentReceives must be at least 1"));
                }
                ("concurrent_receives", OptionValue::Number(n)) => {
                    concurrency = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                _ => {
                    return Err(invalid(format!(
                        "subscribe option {} is not supported",
                        spec.camel
                    )));
                }
            }
        }
        Ok((queue, concurrency))
    }

    /// The core's consumer options, with `receive` for its link payloads;
    /// `subject` (the call's first argument) is the filter subject. `deliver`
    /// also takes a stream sequence (a number) or a `Date`, converted here
    /// to the text the option reads.
    pub(crate) fn consume(
        &self,
        subject: Option<String>,
        receive: natsbridge::ReceiveOptions,
    ) -> Result<natsbridge::jetstream::ConsumerOptions, Error> {
        let mut options =
            natsbridge::jetstream::ConsumerOptions::ephemeral().receive_options(receive);
        let mut filter = None;
        for (spec, value) in self.of(Scope::Consume) {
            let converted = if spec.name == "deliver" {
                deliver_value(self.env, spec, value)?
            } else {
                option_value(self.env, spec, value)?
            };
            if spec.name == "filter_subject" {
                filter = Some(converted.clone());
            }
            options = options.set(spec.name, converted)?;
        }
        if let Some(subject) = subject {
            if let Some(OptionValue::Text(filter)) = &filter
                && *filter != subject
            {
                return Err(invalid(format!(
                    "the subject {subject:?} and option filterSubject {filter:?} differ: give one"
                )));
            }
            options = options.set("filter_subject", OptionValue::Text(subject))?;
        }
        Ok(options)
    }

    /// `replicas` of `Bridge.ensureStream`, read as the connect option
    /// `jetstreamReplicas` it overrides (a whole number).
    pub(crate) fn replicas(&self) -> Result<Option<usize>, Error> {
        let spec = schema::lookup(Scope::Connect, "jetstream_replicas")?;
        for (name, value) in &self.extra {
            if *name == "replicas" {
                return match option_value(self.env, spec, value) {
                    Ok(OptionValue::Number(n)) => {
                        Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
                    }
                    _ => Err(invalid(
                        "option replicas takes a whole number of servers (1 to 5)",
                    )),
                };
            }
        }
        Ok(None)
    }

    /// `timeout` of `Bridge.request`: milliseconds.
    pub(crate) fn request_timeout(&self) -> Result<Option<Duration>, Error> {
        for (name, value) in &self.extra {
            if *name == "timeout" {
                let n = match value.get_type() {
                    // SAFETY: checked to be a number of this environment.
                    Ok(ValueType::Number) => {
                        unsafe { f64::from_napi_value(self.env.raw(), value.raw()) }
                            .map_err(|e| invalid_napi("timeout", e))?
                    }
                    _ => f64::NAN,
                };
                if !n.is_finite() || n < 0.0 || n.fract() != 0.0 || n > MAX_SAFE_INTEGER {
                    return Err(invalid(
                        "option timeout takes a whole number of milliseconds >= 0",
                    ));
                }
                return Ok(Some(Duration::from_millis(n as u64)));
            }
        }
        Ok(None)
    }
}

/// The value of option `deliver`: its text, a stream sequence given as a
/// whole number, or a `Date` (its `toISOString()`).
fn deliver_value(env: &Env, spec: &OptionSpec, value: &Unknown<'_>) -> Result<OptionValue, Error> {
    match value.get_type() {
        Ok(ValueType::Number) => match option_value(env, spec_as_count(), value) {
            Ok(OptionValue::Number(n)) => Ok(OptionValue::Text(n.to_string())),
            _ => Err(invalid(format!(
                "option {} takes a stream sequence number (a whole number >= 1), got {}",
                spec.camel,
                describe(spec, env, value)
            ))),
        },
        Ok(ValueType::Object) if value.is_date().unwrap_or(false) => {
            // SAFETY: checked to be an object of this environment.
            let date = unsafe { Object::from_napi_value(env.raw(), value.raw()) }
                .map_err(|e| invalid_napi(spec.camel, e))?;
            // An invalid Date's time is NaN (and its toISOString throws).
            let get_time: Function<'_, (), f64> = date
                .get_named_property("getTime")
                .map_err(|e| invalid_napi(spec.camel, e))?;
            let millis = get_time
                .apply(date, ())
                .map_err(|e| invalid_napi(spec.camel, e))?;
            if !millis.is_finite() {
                return Err(invalid(format!(
                    "option {} takes a valid Date, got an invalid one",
                    spec.camel
                )));
            }
            let to_iso: Function<'_, (), String> = date
                .get_named_property("toISOString")
                .map_err(|e| invalid_napi(spec.camel, e))?;
            let text = to_iso
                .apply(date, ())
                .map_err(|e| invalid_napi(spec.camel, e))?;
            Ok(OptionValue::Text(text))
        }
        _ => option_value(env, spec, value),
    }
}

/// A count option of the schema, for reading a number by its rules.
fn spec_as_count() -> &'static OptionSpec {
    schema::OPTIONS
        .iter()
        .find(|o| o.scope == Scope::Consume && o.name == "max_deliver")
        .expect("the schema has consume option max_deliver")
}

/// A string or an array of strings (the `subjects` of `Bridge.ensureStream`).
pub(crate) fn string_list(
    env: &Env,
    value: &Unknown<'_>,
    what: &str,
) -> Result<Vec<String>, Error> {
    let raw = (env.raw(), value.raw());
    match value.get_type() {
        // SAFETY: the type was checked; a value of this environment.
        Ok(ValueType::String) => Ok(vec![
            unsafe { String::from_napi_value(raw.0, raw.1) }.map_err(|e| invalid_napi(what, e))?,
        ]),
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => {
            unsafe { Vec::<String>::from_napi_value(raw.0, raw.1) }
                .map_err(|_| invalid(format!("{what} takes a string or an array of strings")))
        }
        _ => Err(invalid(format!(
            "{what} takes a string or an array of strings"
        ))),
    }
}

pub(crate) fn is_nullish(value: &Unknown<'_>) -> bool {
    matches!(value.get_type(), Ok(ValueType::Undefined | ValueType::Null))
}
