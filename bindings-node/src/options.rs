//! Options objects, mapped straight onto the core's builders
//! ([`natsbridge::SendOptions`], [`natsbridge::ReceiveOptions`],
//! [`natsbridge::ConnectOptions`]). Names follow the original design's JS API
//! (`sizeThreshold`, `msgPurpose`, `maxRetries`, ...); durations are numbers
//! of milliseconds, as everywhere in JS.

use std::collections::HashMap;
use std::time::Duration;

use napi::bindgen_prelude::{FromNapiValue, Function, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use natsbridge::Error;

use crate::error::{invalid, invalid_napi};
use crate::handlers::{self, DownloadArgs, UploadArgs};
use crate::json;

/// The default NATS server of the original design.
pub(crate) const DEFAULT_NATS_URL: &str = "nats://localhost:4222";

/// Options of a send (`smartsend`, `Bridge.send`, `Bridge.reply`, `Bridge.request`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct SendOptions<'a> {
    /// HTTP file server for link payloads: PUT `<fileserverUrl>/<id>/<dataname>`.
    /// Without it (and without an upload handler), link payloads go to the
    /// JetStream Object Store of the NATS server.
    pub fileserver_url: Option<String>,
    /// Bearer token for uploads to `fileserverUrl`.
    pub fileserver_token: Option<String>,
    /// Uploads a link payload and returns its URL; replaces the built-in stores.
    #[napi(
        ts_type = "(fileserverUrl: string, dataname: string, data: Buffer) => string | Promise<string>"
    )]
    pub fileserver_upload_handler: Option<Function<'a, UploadArgs, Unknown<'static>>>,
    /// Payloads of at least this many serialized bytes go by link (default 1,000,000).
    pub size_threshold: Option<f64>,
    /// Tracing id (default: a new UUID).
    pub correlation_id: Option<String>,
    /// Message id (default: a new UUID); JetStream drops a resend with the same id.
    pub msg_id: Option<String>,
    /// Default `chat` (`response` for replies).
    pub msg_purpose: Option<String>,
    /// Default `NATSBridge`.
    pub sender_name: Option<String>,
    /// Default: a UUID drawn once per process.
    pub sender_id: Option<String>,
    /// Empty means broadcast.
    pub receiver_name: Option<String>,
    /// Empty means broadcast.
    pub receiver_id: Option<String>,
    /// The subject the receiver should answer on.
    pub reply_to: Option<String>,
    /// In a reply: the `msgId` being answered.
    pub reply_to_msg_id: Option<String>,
    /// The envelope's free-form `metadata` object.
    #[napi(ts_type = "Record<string, unknown>")]
    pub metadata: Option<Unknown<'a>>,
    /// Publish through JetStream and wait for the stream's acknowledgement.
    pub jetstream: Option<bool>,
}

/// Options of a receive: how link payloads are fetched and checked.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ReceiveOptions<'a> {
    /// Fetches a link payload instead of the built-in HTTP / Object Store fetch.
    #[napi(
        ts_type = "(url: string, maxRetries: number, baseDelay: number, maxDelay: number) => Buffer | Uint8Array | Promise<Buffer | Uint8Array>"
    )]
    pub fileserver_download_handler: Option<Function<'a, DownloadArgs, Unknown<'static>>>,
    /// Retries of a failed download (default 5).
    pub max_retries: Option<u32>,
    /// First retry delay in ms (default 100); doubles each try, with jitter.
    pub base_delay: Option<f64>,
    /// Longest retry delay in ms (default 5000).
    pub max_delay: Option<f64>,
    /// Time one download attempt may take, in ms (default 30000): the whole
    /// HTTP request, or the wait for each Object Store chunk.
    pub request_timeout: Option<f64>,
    /// Largest link payload downloaded, in bytes (default 1 GiB).
    pub max_download_size: Option<f64>,
    /// When set, only links to these origins (`scheme://host[:port]`) are fetched.
    pub allowed_origins: Option<Vec<String>>,
    /// Whether links may point at private and loopback addresses (default true).
    pub allow_private_addresses: Option<bool>,
    /// Write link payloads into this directory; they arrive as `{path}`.
    pub save_dir: Option<String>,
    /// Bearer tokens sent only to these exact origins: `{ origin: token }`.
    pub store_tokens: Option<HashMap<String, String>>,
}

/// The NATS server of the function-style API (`smartsend`, `smartreceive`):
/// one pooled connection per URL, made on first use.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct NatsUrlOption {
    /// Default `nats://localhost:4222`. For `smartreceive` it is only needed
    /// for `nats-object://` links (default: the envelope's `brokerUrl`).
    pub nats_url: Option<String>,
}

/// Extra options of `Bridge.subscribe`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct SubscribeOptions {
    /// Join this queue group: each message goes to one member.
    pub queue: Option<String>,
    /// How many envelopes are decoded at once (default 1); they are still
    /// delivered in arrival order.
    pub concurrent_receives: Option<u32>,
}

impl SubscribeOptions {
    /// `concurrentReceives`, at least 1.
    pub fn concurrency(&self) -> Result<usize, natsbridge::Error> {
        match self.concurrent_receives {
            Some(0) => Err(crate::error::invalid(
                "concurrentReceives must be at least 1",
            )),
            Some(n) => Ok(n as usize),
            None => Ok(1),
        }
    }
}

/// Extra options of `Bridge.request`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct RequestOptions {
    /// How long to wait for the reply, in ms (default: the bridge's `requestTimeout`).
    pub timeout: Option<f64>,
}

/// How `Bridge.connect` connects.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ConnectOptions {
    /// The connection name the server shows in its monitoring.
    pub name: Option<String>,
    pub token: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// A `.creds` file (JWT and nkey seed).
    pub credentials_file: Option<String>,
    /// An nkey seed (`SU...`).
    pub nkey: Option<String>,
    /// A PEM file of CA certificates to trust.
    pub tls_ca_file: Option<String>,
    /// Client certificate (PEM) for mutual TLS; needs `tlsKeyFile`.
    pub tls_cert_file: Option<String>,
    pub tls_key_file: Option<String>,
    pub require_tls: Option<bool>,
    /// In ms (default 5000).
    pub connect_timeout: Option<f64>,
    /// Default wait of `request`, in ms (default 10000).
    pub request_timeout: Option<f64>,
    /// Messages a subscription buffers before the server sees a slow consumer.
    pub subscription_capacity: Option<u32>,
    /// Default file server of this bridge's sends.
    pub fileserver_url: Option<String>,
    pub fileserver_token: Option<String>,
    /// JetStream Object Store bucket for link payloads (default `natsbridge`).
    pub object_store_bucket: Option<String>,
    /// Lifetime of stored objects when natsbridge creates the bucket, in ms (default 24 h).
    pub object_store_ttl: Option<f64>,
}

/// Reads an options object of type `T` from an optional argument; `undefined`
/// and `null` mean "all defaults".
pub(crate) fn read<T: FromNapiValue + Default>(
    env: &Env,
    value: Option<&Unknown<'_>>,
    what: &str,
) -> Result<T, Error> {
    let Some(value) = value else {
        return Ok(T::default());
    };
    match value.get_type() {
        Ok(ValueType::Undefined | ValueType::Null) => Ok(T::default()),
        Ok(ValueType::Object) => {
            // SAFETY: an object of this environment.
            unsafe { T::from_napi_value(env.raw(), value.raw()) }
                .map_err(|err| invalid_napi(what, err))
        }
        _ => Err(invalid(format!("{what} must be an object"))),
    }
}

fn millis(value: f64, what: &str) -> Result<Duration, Error> {
    if !value.is_finite() || value < 0.0 {
        return Err(invalid(format!(
            "{what} must be a number of milliseconds >= 0, got {value}"
        )));
    }
    Ok(Duration::from_secs_f64(value / 1000.0))
}

fn count(value: f64, what: &str) -> Result<u64, Error> {
    if !value.is_finite() || value < 0.0 || value.fract() != 0.0 || value > 9_007_199_254_740_991.0
    {
        return Err(invalid(format!(
            "{what} must be a whole number >= 0, got {value}"
        )));
    }
    Ok(value as u64)
}

impl SendOptions<'_> {
    /// The core's send options. `env` is needed to serialize `metadata` and
    /// to wrap the upload handler.
    pub(crate) fn into_core(self, env: &Env) -> Result<natsbridge::SendOptions, Error> {
        let mut options = natsbridge::SendOptions::new();
        if let Some(threshold) = self.size_threshold {
            let threshold = count(threshold, "sizeThreshold")?;
            options = options.size_threshold(usize::try_from(threshold).unwrap_or(usize::MAX));
        }
        if let Some(id) = self.correlation_id {
            options = options.correlation_id(id);
        }
        if let Some(id) = self.msg_id {
            options = options.msg_id(id);
        }
        if let Some(purpose) = self.msg_purpose {
            options = options.msg_purpose(purpose);
        }
        if let Some(name) = self.sender_name {
            options = options.sender_name(name);
        }
        if let Some(id) = self.sender_id {
            options = options.sender_id(id);
        }
        if let Some(name) = self.receiver_name {
            options = options.receiver_name(name);
        }
        if let Some(id) = self.receiver_id {
            options = options.receiver_id(id);
        }
        if let Some(subject) = self.reply_to {
            options = options.reply_to(subject);
        }
        if let Some(id) = self.reply_to_msg_id {
            options = options.reply_to_msg_id(id);
        }
        if let Some(metadata) = self.metadata.filter(|m| !is_nullish(m)) {
            options = options.metadata(json::to_object(env, metadata, "metadata")?);
        }
        if let Some(jetstream) = self.jetstream {
            options = options.jetstream(jetstream);
        }
        if let Some(token) = self.fileserver_token {
            options = options.fileserver_token(token);
        }
        if let Some(handler) = &self.fileserver_upload_handler {
            let base = self.fileserver_url.clone().unwrap_or_default();
            options = options.store(handlers::upload_store(handler, base)?);
        }
        if let Some(url) = self.fileserver_url {
            options = options.fileserver_url(url);
        }
        Ok(options)
    }
}

impl ReceiveOptions<'_> {
    /// The core's receive options.
    pub(crate) fn into_core(self) -> Result<natsbridge::ReceiveOptions, Error> {
        let mut options = natsbridge::ReceiveOptions::new();
        if let Some(retries) = self.max_retries {
            options = options.max_retries(retries);
        }
        if let Some(delay) = self.base_delay {
            options = options.base_delay(millis(delay, "baseDelay")?);
        }
        if let Some(delay) = self.max_delay {
            options = options.max_delay(millis(delay, "maxDelay")?);
        }
        if let Some(timeout) = self.request_timeout {
            options = options.download_timeout(millis(timeout, "requestTimeout")?);
        }
        if let Some(size) = self.max_download_size {
            options = options.max_download_size(count(size, "maxDownloadSize")?);
        }
        for origin in self.allowed_origins.unwrap_or_default() {
            options = options.allowed_origin(origin);
        }
        if let Some(allow) = self.allow_private_addresses {
            options = options.allow_private_addresses(allow);
        }
        if let Some(dir) = self.save_dir {
            options = options.save_dir(dir);
        }
        for (origin, token) in self.store_tokens.unwrap_or_default() {
            options = options.store_token(origin, token);
        }
        if let Some(handler) = &self.fileserver_download_handler {
            options = options.fetcher(handlers::download_fetcher(handler)?);
        }
        Ok(options)
    }
}

impl RequestOptions {
    pub(crate) fn timeout(&self) -> Result<Option<Duration>, Error> {
        self.timeout.map(|t| millis(t, "timeout")).transpose()
    }
}

impl ConnectOptions {
    /// The core's connect options for `servers`.
    pub(crate) fn into_core(self, servers: String) -> Result<natsbridge::ConnectOptions, Error> {
        let mut options = natsbridge::ConnectOptions::new(servers);
        if let Some(name) = self.name {
            options = options.name(name);
        }
        if let Some(token) = self.token {
            options = options.token(token);
        }
        match (self.user, self.password) {
            (Some(user), password) => {
                options = options.user_password(user, password.unwrap_or_default())
            }
            (None, Some(_)) => return Err(invalid("password given without user")),
            (None, None) => {}
        }
        if let Some(path) = self.credentials_file {
            options = options.credentials_file(path);
        }
        if let Some(seed) = self.nkey {
            options = options.nkey(seed);
        }
        if let Some(path) = self.tls_ca_file {
            options = options.tls_ca_file(path);
        }
        match (self.tls_cert_file, self.tls_key_file) {
            (Some(cert), Some(key)) => options = options.tls_client_cert(cert, key),
            (None, None) => {}
            _ => return Err(invalid("tlsCertFile and tlsKeyFile go together")),
        }
        if let Some(required) = self.require_tls {
            options = options.require_tls(required);
        }
        if let Some(timeout) = self.connect_timeout {
            options = options.connect_timeout(millis(timeout, "connectTimeout")?);
        }
        if let Some(timeout) = self.request_timeout {
            options = options.request_timeout(millis(timeout, "requestTimeout")?);
        }
        if let Some(capacity) = self.subscription_capacity {
            options = options.subscription_capacity(capacity as usize);
        }
        if let Some(url) = self.fileserver_url {
            options = options.fileserver_url(url);
        }
        if let Some(token) = self.fileserver_token {
            options = options.fileserver_token(token);
        }
        if let Some(bucket) = self.object_store_bucket {
            options = options.object_store_bucket(bucket);
        }
        if let Some(ttl) = self.object_store_ttl {
            options = options.object_store_ttl(millis(ttl, "objectStoreTtl")?);
        }
        Ok(options)
    }
}

fn is_nullish(value: &Unknown<'_>) -> bool {
    matches!(value.get_type(), Ok(ValueType::Undefined | ValueType::Null))
}
