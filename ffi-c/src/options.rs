//! Option objects: `nb_connect_options`, `nb_send_options` and
//! `nb_receive_options`, each a handle with one setter per core option.
//!
//! Each handle holds the core's options as a plain value and setters map
//! one-to-one onto the core's by-value builders (`ConnectOptions`,
//! `SendOptions`, `ReceiveOptions`); defaults are the core's. Handles rather
//! than a C struct let options be added without breaking the ABI.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use natsbridge::{ConnectOptions, ReceiveOptions, SendOptions};
use serde_json::{Map, Value};

use crate::args;
use crate::error::{boundary, invalid, nb_error, nb_status};
use crate::handlers::{
    DownloadCallback, InFlight, UploadCallback, nb_download_handler, nb_upload_handler,
};

/// How to connect: credentials, TLS, timeouts and the default claim-check
/// store. Create with `nb_connect_options_new`, free with
/// `nb_connect_options_free`. Not thread-safe while being modified; once set
/// up it may be passed to `nb_client_connect` from any thread.
pub struct nb_connect_options {
    /// The core options, servers unset: `nb_client_connect` sets them.
    options: ConnectOptions,
}

impl nb_connect_options {
    /// These options connecting to `servers`.
    pub(crate) fn with_servers(&self, servers: &str) -> ConnectOptions {
        self.options.clone().servers(servers)
    }
}

/// Options of sends (`nb_client_send`, `nb_client_request`,
/// `nb_client_reply`): every smartsend option, with the core's defaults.
/// Create with `nb_send_options_new`, free with `nb_send_options_free`.
/// Not thread-safe while being modified; once set up, one options object may
/// be used by concurrent calls on any threads.
pub struct nb_send_options {
    options: SendOptions,
    upload: Option<UploadCallback>,
}

impl nb_send_options {
    /// The core options for one call; a registered upload handler becomes a
    /// store whose callbacks are counted in `inflight`.
    pub(crate) fn for_call(&self, inflight: &Arc<InFlight>) -> SendOptions {
        let options = self.options.clone();
        match self.upload {
            Some(callback) => {
                let base = options.get_fileserver_url().unwrap_or("").to_owned();
                options.store(callback.store(base, inflight.clone()))
            }
            None => options,
        }
    }
}

/// The core options of an optional `nb_send_options` argument.
///
/// # Safety
/// `options` is NULL or a live `nb_send_options`.
pub(crate) unsafe fn send_options(
    options: *const nb_send_options,
    inflight: &Arc<InFlight>,
) -> SendOptions {
    // SAFETY: per the contract.
    match unsafe { options.as_ref() } {
        Some(options) => options.for_call(inflight),
        None => SendOptions::new(),
    }
}

/// Options of receives (`nb_client_receive`, subscriptions, the reply of
/// `nb_client_request`): download retries, limits, the link allow-list, and
/// an optional download handler. Create with `nb_receive_options_new`, free
/// with `nb_receive_options_free`. Not thread-safe while being modified; once
/// set up it may be used by concurrent calls on any threads. A subscription
/// copies the options it is given, so they may be freed right after.
pub struct nb_receive_options {
    options: ReceiveOptions,
    download: Option<DownloadCallback>,
}

impl nb_receive_options {
    /// The core options for one call or subscription; a registered download
    /// handler becomes a fetcher whose callbacks are counted in `inflight`.
    pub(crate) fn for_call(&self, inflight: &Arc<InFlight>) -> ReceiveOptions {
        let options = self.options.clone();
        match self.download {
            Some(callback) => options.fetcher(callback.fetcher(inflight.clone())),
            None => options,
        }
    }
}

/// The core options of an optional `nb_receive_options` argument.
///
/// # Safety
/// `options` is NULL or a live `nb_receive_options`.
pub(crate) unsafe fn receive_options(
    options: *const nb_receive_options,
    inflight: &Arc<InFlight>,
) -> ReceiveOptions {
    // SAFETY: per the contract.
    match unsafe { options.as_ref() } {
        Some(options) => options.for_call(inflight),
        None => ReceiveOptions::new(),
    }
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A JSON object given as text (envelope or payload metadata).
pub(crate) fn json_object(text: &str, name: &str) -> natsbridge::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(invalid(format!(
            "{name} must be a JSON object, not {}",
            match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            }
        ))),
        Err(err) => Err(invalid(format!("{name} is not valid JSON: {err}"))),
    }
}

// ---------------------------------------------------------------- connect

/// Creates connect options with the core's defaults (connect timeout 5 s,
/// request timeout 10 s, Object Store bucket `natsbridge` with a 24 h TTL).
///
/// On success writes a new handle to `*out_options`; the caller frees it with
/// `nb_connect_options_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_new(
    out_options: *mut *mut nb_connect_options,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_options, "out_options")?;
        let options = Box::new(nb_connect_options {
            options: ConnectOptions::default(),
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_options, Box::into_raw(options)) };
        Ok(())
    })
}

/// Releases connect options. NULL is accepted and ignored. Clients already
/// connected with them are not affected.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_free(options: *mut nb_connect_options) {
    if !options.is_null() {
        // SAFETY: a handle from nb_connect_options_new, freed once.
        drop(unsafe { Box::from_raw(options) });
    }
}

/// Applies one connect setting: `set` checks its arguments, then updates
/// the options with [`update`]; on an error the options are unchanged.
fn connect_setting(
    options: *mut nb_connect_options,
    out_error: *mut *mut nb_error,
    set: impl FnOnce(&mut ConnectOptions) -> natsbridge::Result<()>,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live handle, not used concurrently (documented).
        let options = unsafe { args::required_mut(options, "options") }?;
        set(&mut options.options)
    })
}

/// Replaces `options` with `with(options)` (the core builder is by value).
fn update(options: &mut ConnectOptions, with: impl FnOnce(ConnectOptions) -> ConnectOptions) {
    *options = with(std::mem::take(options));
}

/// Sets the connection name the server shows in its monitoring.
/// `name` is copied. Returns `NB_ERR_INVALID_ARGUMENT` for NULL or non-UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_name(
    options: *mut nb_connect_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let name = unsafe { args::text(name, "name") }?.to_owned();
        update(o, |o| o.name(name));
        Ok(())
    })
}

/// Authenticates with a token. `token` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_token(
    options: *mut nb_connect_options,
    token: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let token = unsafe { args::text(token, "token") }?.to_owned();
        update(o, |o| o.token(token));
        Ok(())
    })
}

/// Authenticates with a user name and password. Both are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_user_password(
    options: *mut nb_connect_options,
    user: *const c_char,
    password: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: NUL-terminated strings per the header.
        let user = unsafe { args::text(user, "user") }?.to_owned();
        let password = unsafe { args::text(password, "password") }?.to_owned();
        update(o, |o| o.user_password(user, password));
        Ok(())
    })
}

/// Authenticates with a NATS `.creds` file (JWT and nkey seed), read when
/// connecting. `path` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_credentials_file(
    options: *mut nb_connect_options,
    path: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let path = unsafe { args::path(path, "path") }?;
        update(o, |o| o.credentials_file(path));
        Ok(())
    })
}

/// Authenticates with an nkey seed (`SU...`). `seed` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_nkey(
    options: *mut nb_connect_options,
    seed: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let seed = unsafe { args::text(seed, "seed") }?.to_owned();
        update(o, |o| o.nkey(seed));
        Ok(())
    })
}

/// Trusts the CA certificates in this PEM file for TLS (may be called
/// several times). `path` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_add_tls_ca_file(
    options: *mut nb_connect_options,
    path: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let path = unsafe { args::path(path, "path") }?;
        update(o, |o| o.tls_ca_file(path));
        Ok(())
    })
}

/// Presents this client certificate and key (PEM files) for mutual TLS.
/// Both paths are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_tls_client_cert(
    options: *mut nb_connect_options,
    cert_path: *const c_char,
    key_path: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: NUL-terminated strings per the header.
        let cert: PathBuf = unsafe { args::path(cert_path, "cert_path") }?;
        let key: PathBuf = unsafe { args::path(key_path, "key_path") }?;
        update(o, |o| o.tls_client_cert(cert, key));
        Ok(())
    })
}

/// Refuses to connect without TLS when `required` is true.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_require_tls(
    options: *mut nb_connect_options,
    required: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        update(o, |o| o.require_tls(required));
        Ok(())
    })
}

/// How long connecting may take before it fails with `NB_ERR_TIMEOUT` or
/// `NB_ERR_CONNECTION` (default 5000 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_connect_timeout_ms(
    options: *mut nb_connect_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        update(o, |o| o.connect_timeout(millis(timeout_ms)));
        Ok(())
    })
}

/// How long `nb_client_request` waits for a reply when its own timeout is 0
/// (default 10000 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_request_timeout_ms(
    options: *mut nb_connect_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        update(o, |o| o.request_timeout(millis(timeout_ms)));
        Ok(())
    })
}

/// How many messages a subscription buffers before the server marks the
/// client a slow consumer (default 65536).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_subscription_capacity(
    options: *mut nb_connect_options,
    messages: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        if messages == 0 {
            return Err(invalid("subscription capacity must be at least 1"));
        }
        update(o, |o| o.subscription_capacity(messages));
        Ok(())
    })
}

/// The default HTTP file server for link payloads of this client's sends (a
/// send's own fileserver_url wins). `url` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_fileserver_url(
    options: *mut nb_connect_options,
    url: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let url = unsafe { args::text(url, "url") }?.to_owned();
        update(o, |o| o.fileserver_url(url));
        Ok(())
    })
}

/// The bearer token sent with uploads to the default file server.
/// `token` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_fileserver_token(
    options: *mut nb_connect_options,
    token: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let token = unsafe { args::text(token, "token") }?.to_owned();
        update(o, |o| o.fileserver_token(token));
        Ok(())
    })
}

/// The JetStream Object Store bucket for link payloads when no file server
/// is configured (default `natsbridge`). `bucket` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_object_store_bucket(
    options: *mut nb_connect_options,
    bucket: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let bucket = unsafe { args::text(bucket, "bucket") }?.to_owned();
        update(o, |o| o.object_store_bucket(bucket));
        Ok(())
    })
}

/// How long objects stay in the Object Store bucket when natsbridge creates
/// it (default 86400 s).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_object_store_ttl_s(
    options: *mut nb_connect_options,
    ttl_s: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        update(o, |o| o.object_store_ttl(Duration::from_secs(ttl_s)));
        Ok(())
    })
}

// ---------------------------------------------------------------- send

/// Creates send options with the core's defaults: size_threshold 1000000
/// bytes, msg_purpose `chat`, sender_name `NATSBridge`, broadcast, no reply
/// subject, plain (non-JetStream) publish, the client's default store.
///
/// On success writes a new handle to `*out_options`; the caller frees it with
/// `nb_send_options_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_new(
    out_options: *mut *mut nb_send_options,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_options, "out_options")?;
        let options = Box::new(nb_send_options {
            options: SendOptions::new(),
            upload: None,
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_options, Box::into_raw(options)) };
        Ok(())
    })
}

/// Releases send options. NULL is accepted and ignored. Must not be called
/// while a call using them is running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_free(options: *mut nb_send_options) {
    if !options.is_null() {
        // SAFETY: a handle from nb_send_options_new, freed once.
        drop(unsafe { Box::from_raw(options) });
    }
}

/// Changes send options through the core builder.
fn send_setting(
    options: *mut nb_send_options,
    out_error: *mut *mut nb_error,
    change: impl FnOnce(SendOptions) -> natsbridge::Result<SendOptions>,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live handle, not used concurrently (documented).
        let options = unsafe { args::required_mut(options, "options") }?;
        // On failure the options stay as they were.
        options.options = change(options.options.clone())?;
        Ok(())
    })
}

/// Sets one string-valued send option.
fn send_text(
    options: *mut nb_send_options,
    value: *const c_char,
    name: &str,
    out_error: *mut *mut nb_error,
    set: impl FnOnce(SendOptions, &str) -> SendOptions,
) -> nb_status {
    send_setting(options, out_error, |o| {
        // SAFETY: NULL or a NUL-terminated string per the header.
        let value = unsafe { args::text(value, name) }?;
        Ok(set(o, value))
    })
}

/// Payloads whose serialized size is at or above `bytes` travel by link
/// (default 1000000).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_size_threshold(
    options: *mut nb_send_options,
    bytes: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_setting(options, out_error, |o| Ok(o.size_threshold(bytes)))
}

/// Uses this correlation_id instead of a new UUID. `id` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_correlation_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.correlation_id(v))
}

/// Uses this msg_id instead of a new UUID (JetStream drops a resend with
/// the same id). `id` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_msg_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.msg_id(v))
}

/// Sets msg_purpose (default `chat`; replies default to `response`).
/// `purpose` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_msg_purpose(
    options: *mut nb_send_options,
    purpose: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, purpose, "purpose", out_error, |o, v| {
        o.msg_purpose(v)
    })
}

/// Sets sender_name (default `NATSBridge`). `name` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_sender_name(
    options: *mut nb_send_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, name, "name", out_error, |o, v| o.sender_name(v))
}

/// Sets sender_id (default: a UUID drawn once per process). `id` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_sender_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.sender_id(v))
}

/// Sets receiver_name (empty = broadcast). `name` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_receiver_name(
    options: *mut nb_send_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, name, "name", out_error, |o, v| o.receiver_name(v))
}

/// Sets receiver_id (empty = broadcast). `id` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_receiver_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.receiver_id(v))
}

/// Sets reply_to, the subject the receiver should answer on. `subject`
/// is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_reply_to(
    options: *mut nb_send_options,
    subject: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, subject, "subject", out_error, |o, v| o.reply_to(v))
}

/// Sets reply_to_msg_id, the msg_id this message answers. `msg_id` is
/// copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_reply_to_msg_id(
    options: *mut nb_send_options,
    msg_id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, msg_id, "msg_id", out_error, |o, v| {
        o.reply_to_msg_id(v)
    })
}

/// Uploads link payloads to this HTTP file server (PUT
/// `<url>/<payload id>/<dataname>`) instead of the client's default store.
/// Also the `fileserver_url` passed to an upload handler. `url` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_fileserver_url(
    options: *mut nb_send_options,
    url: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, url, "url", out_error, |o, v| o.fileserver_url(v))
}

/// Sends `Authorization: Bearer <token>` with uploads to the file server.
/// `token` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_fileserver_token(
    options: *mut nb_send_options,
    token: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, token, "token", out_error, |o, v| {
        o.fileserver_token(v)
    })
}

/// Sets the envelope's metadata from JSON text, which must be an object
/// (`NB_ERR_INVALID_ARGUMENT` otherwise; the options are then unchanged).
/// `json` is parsed and copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_metadata_json(
    options: *mut nb_send_options,
    json: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let json = unsafe { args::text(json, "json") }?;
        Ok(o.metadata(json_object(json, "metadata")?))
    })
}

/// Also writes a `sha256` for direct payloads when `enabled` (default off:
/// wire v1 makes it optional for direct payloads; link payloads always
/// carry one).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_direct_sha256(
    options: *mut nb_send_options,
    enabled: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_setting(options, out_error, |o| Ok(o.direct_sha256(enabled)))
}

/// Publishes through JetStream and waits for the stream's acknowledgement
/// when `enabled`; such sends fail with `NB_ERR_JETSTREAM` when no stream
/// captures the subject (see `nb_client_ensure_stream`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_jetstream(
    options: *mut nb_send_options,
    enabled: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_setting(options, out_error, |o| Ok(o.jetstream(enabled)))
}

/// Stores link payloads with `handler` instead of a built-in store (it
/// overrides fileserver_url and the client's default store). A NULL
/// `handler` removes the handler.
///
/// `user_data` is passed to every call of `handler` untouched. It must stay
/// valid, and be usable from any thread, as long as these options exist.
/// When a send using these options returns, no call of `handler` it started
/// is still running. See `nb_upload_handler` for the callback's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_upload_handler(
    options: *mut nb_send_options,
    handler: nb_upload_handler,
    user_data: *mut c_void,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live handle, not used concurrently (documented).
        let options = unsafe { args::required_mut(options, "options") }?;
        options.upload = UploadCallback::new(handler, user_data);
        Ok(())
    })
}

// ---------------------------------------------------------------- receive

/// Creates receive options with the core's defaults: 5 download retries,
/// 100 ms base delay, 5000 ms maximum delay, 30 s per download attempt, a
/// 1 GiB download cap, no allow-list, private addresses allowed, payloads
/// held in memory.
///
/// On success writes a new handle to `*out_options`; the caller frees it with
/// `nb_receive_options_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_new(
    out_options: *mut *mut nb_receive_options,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_options, "out_options")?;
        let options = Box::new(nb_receive_options {
            options: ReceiveOptions::new(),
            download: None,
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_options, Box::into_raw(options)) };
        Ok(())
    })
}

/// Releases receive options. NULL is accepted and ignored. Must not be
/// called while a call using them is running; subscriptions keep their own
/// copy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_free(options: *mut nb_receive_options) {
    if !options.is_null() {
        // SAFETY: a handle from nb_receive_options_new, freed once.
        drop(unsafe { Box::from_raw(options) });
    }
}

/// Changes receive options through the core builder.
fn receive_setting(
    options: *mut nb_receive_options,
    out_error: *mut *mut nb_error,
    change: impl FnOnce(ReceiveOptions) -> natsbridge::Result<ReceiveOptions>,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live handle, not used concurrently (documented).
        let options = unsafe { args::required_mut(options, "options") }?;
        // On failure the options stay as they were.
        options.options = change(options.options.clone())?;
        Ok(())
    })
}

/// How many times a failed download is retried (connection errors,
/// timeouts, 5xx and 429 only; default 5).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_retries(
    options: *mut nb_receive_options,
    retries: u32,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.max_retries(retries)))
}

/// The first retry delay in milliseconds; each next one doubles, with
/// jitter (default 100).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_base_delay_ms(
    options: *mut nb_receive_options,
    delay_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.base_delay(millis(delay_ms))))
}

/// The longest delay between two download tries in milliseconds (default 5000).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_delay_ms(
    options: *mut nb_receive_options,
    delay_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.max_delay(millis(delay_ms))))
}

/// How long one download attempt may take in milliseconds (default 30000):
/// the whole HTTP request, or the wait for each Object Store chunk.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_request_timeout_ms(
    options: *mut nb_receive_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| {
        Ok(o.download_timeout(millis(timeout_ms)))
    })
}

/// The largest link payload that will be downloaded, in bytes (default 1 GiB).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_download_size(
    options: *mut nb_receive_options,
    bytes: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.max_download_size(bytes)))
}

/// Adds an origin (`scheme://host[:port]`) to the allow-list; once the list
/// is non-empty only links to listed origins are fetched. `origin` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_add_allowed_origin(
    options: *mut nb_receive_options,
    origin: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let origin = unsafe { args::text(origin, "origin") }?;
        Ok(o.allowed_origin(origin))
    })
}

/// Whether links may point at private and loopback addresses (default
/// true). Link-local and cloud-metadata addresses are refused either way.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_allow_private_addresses(
    options: *mut nb_receive_options,
    allow: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.allow_private_addresses(allow)))
}

/// Writes link payloads into directory `dir` (streamed, constant memory)
/// instead of holding them in memory; they are then delivered as a file path
/// (`nb_payload_view.file_path`). `dir` is copied; it must exist.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_save_dir(
    options: *mut nb_receive_options,
    dir: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let dir = unsafe { args::path(dir, "dir") }?;
        Ok(o.save_dir(dir))
    })
}

/// Sends `Authorization: Bearer <token>` when fetching links whose origin is
/// exactly `origin`; never to any other host. Both strings are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_add_store_token(
    options: *mut nb_receive_options,
    origin: *const c_char,
    token: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| {
        // SAFETY: NUL-terminated strings per the header.
        let origin = unsafe { args::text(origin, "origin") }?;
        let token = unsafe { args::text(token, "token") }?;
        Ok(o.store_token(origin, token))
    })
}

/// Fetches link payloads with `handler` instead of the built-in HTTP and
/// Object Store fetchers. A NULL `handler` removes the handler.
///
/// `user_data` is passed to every call of `handler` untouched. It must stay
/// valid, and be usable from any thread, as long as these options or a
/// subscription made with them exist. When a receive or request using these
/// options returns, or a subscription made with them is freed, no call of
/// `handler` it started is still running. See `nb_download_handler`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_download_handler(
    options: *mut nb_receive_options,
    handler: nb_download_handler,
    user_data: *mut c_void,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live handle, not used concurrently (documented).
        let options = unsafe { args::required_mut(options, "options") }?;
        options.download = DownloadCallback::new(handler, user_data);
        Ok(())
    })
}
