//! Option objects: `nb_connect_options`, `nb_send_options` and
//! `nb_receive_options`, each a handle with one setter per option of the
//! core's option schema (`natsbridge::schema`, `docs/options.md`):
//! `nb_<scope>_options_set_<name>` (`_ms` for milliseconds, `_json` for a
//! JSON object, `add_<singular>` for lists and token maps), and one generic
//! `nb_<scope>_options_set_json(options, name, json)` that sets any option
//! of the schema by name (also ones added later).
//!
//! Each handle holds the core's options as a plain value; setters go through
//! the core's by-name `set` (or its by-value builders for file paths, which
//! need not be UTF-8); defaults are the core's. Handles rather than a C
//! struct let options be added without breaking the ABI. The parity test in
//! `tests.rs` checks the header against `docs/options.json`.

use std::ffi::{CString, c_char, c_void};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use natsbridge::schema::{self, OptionValue, Scope};
use natsbridge::{ConnectOptions, ReceiveOptions, SendOptions};
use serde_json::{Map, Value};

use crate::args;
use crate::error::{boundary, invalid, nb_error, nb_status, to_cstring, value_boundary};
use crate::handlers::{
    DownloadCallback, InFlight, UploadCallback, nb_download_handler, nb_upload_handler,
};

/// How to connect: credentials, TLS, timeouts and the default claim-check
/// store. Create with `nb_connect_options_new`, free with
/// `nb_connect_options_free`. Not thread-safe while being modified; once set
/// up it may be passed to `nb_client_connect` from any thread.
pub struct nb_connect_options {
    /// The core options; `nb_client_connect` resolves the servers.
    options: ConnectOptions,
}

impl nb_connect_options {
    /// These options connecting to `servers` when given (non-empty), else
    /// to their `nats_url`, else `$NATS_URL` or the default
    /// (`ConnectOptions::resolve_nats_url`).
    pub(crate) fn with_servers(&self, servers: Option<&str>) -> ConnectOptions {
        let given = servers
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(self.options.get_servers());
        let url = ConnectOptions::resolve_nats_url(Some(given));
        self.options.clone().servers(url)
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

// ---------------------------------------------------------------- by name

/// An options handle whose core options are set by schema name.
pub(crate) trait ByName {
    /// The schema scope of these options.
    const SCOPE: Scope;
    /// Sets option `name` of [`ByName::SCOPE`] through the core's `set`; on
    /// an error the options are unchanged.
    fn set_by_name(&mut self, name: &str, value: OptionValue) -> natsbridge::Result<()>;
}

impl ByName for nb_connect_options {
    const SCOPE: Scope = Scope::Connect;
    fn set_by_name(&mut self, name: &str, value: OptionValue) -> natsbridge::Result<()> {
        // async-nats cannot make a subscription channel of capacity 0.
        if schema::lookup(Scope::Connect, name)?.name == "subscription_capacity"
            && value == OptionValue::Number(0)
        {
            return Err(invalid("subscription_capacity must be at least 1"));
        }
        self.options = self.options.clone().set(name, value)?;
        Ok(())
    }
}

impl ByName for nb_send_options {
    const SCOPE: Scope = Scope::Send;
    fn set_by_name(&mut self, name: &str, value: OptionValue) -> natsbridge::Result<()> {
        self.options = self.options.clone().set(name, value)?;
        Ok(())
    }
}

impl ByName for nb_receive_options {
    const SCOPE: Scope = Scope::Receive;
    fn set_by_name(&mut self, name: &str, value: OptionValue) -> natsbridge::Result<()> {
        self.options = self.options.clone().set(name, value)?;
        Ok(())
    }
}

/// Sets option `name` of `options` to the value `value` makes (after the
/// handle's NULL check), inside the panic boundary.
pub(crate) fn set_value<T: ByName>(
    options: *mut T,
    out_error: *mut *mut nb_error,
    name: &str,
    value: impl FnOnce() -> natsbridge::Result<OptionValue>,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live handle, not used concurrently (documented).
        let options = unsafe { args::required_mut(options, "options") }?;
        options.set_by_name(name, value()?)
    })
}

/// A string argument as a text value.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string.
pub(crate) unsafe fn text_value(ptr: *const c_char, arg: &str) -> natsbridge::Result<OptionValue> {
    // SAFETY: per the contract.
    Ok(OptionValue::Text(
        unsafe { args::text(ptr, arg) }?.to_owned(),
    ))
}

/// The body of `nb_<scope>_options_set_json`: option `name` (snake_case or
/// camelCase) of the handle's scope, its value the JSON text `json`,
/// converted by the option's kind (`OptionValue::from_json`).
pub(crate) fn set_json<T: ByName>(
    options: *mut T,
    name: *const c_char,
    json: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live handle, not used concurrently (documented);
        // NULL or NUL-terminated strings per the header.
        let options = unsafe { args::required_mut(options, "options") }?;
        let name = unsafe { args::text(name, "name") }?;
        let json = unsafe { args::text(json, "json") }?;
        let spec = schema::lookup(T::SCOPE, name)?;
        if spec.kind == schema::Kind::Callback {
            return Err(invalid(format!(
                "option {} is a function: set it with nb_send_options_set_upload_handler \
                 or nb_receive_options_set_download_handler",
                spec.name
            )));
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|err| invalid(format!("option {}: not valid JSON: {err}", spec.name)))?;
        let value = OptionValue::from_json(spec.kind, &value)
            .map_err(|err| invalid(format!("option {}: {}", spec.name, err.message())))?;
        options.set_by_name(spec.name, value)
    })
}

/// Every option of natsbridge (connect, send, receive, subscribe, consume) as JSON
/// text: the core's option schema, the same document as `docs/options.json`
/// (each option's `name`, `camel`, `scope`, `kind`, `unit`, `default` and
/// `doc`). What a binding over this ABI reads to know its options by name;
/// any of them is set with `nb_<scope>_options_set_json`. Static: never free
/// it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn nb_option_schema_json() -> *const c_char {
    static SCHEMA: OnceLock<CString> = OnceLock::new();
    value_boundary(std::ptr::null(), || {
        SCHEMA
            .get_or_init(|| to_cstring(&schema::to_json()))
            .as_ptr()
    })
}

// ---------------------------------------------------------------- connect

/// Creates connect options with the core's defaults (see each setter and
/// `docs/options.md`: connect timeout 5000 ms, request timeout 10000 ms,
/// Object Store bucket `natsbridge` with a TTL of 86400000 ms).
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

/// Sets any connect option by its schema name (`docs/options.md`;
/// snake_case or camelCase) to a value given as JSON text: a number for
/// counts, bytes and milliseconds (durations are always milliseconds), `true`
/// or `false`, a string, an array of strings, or an object (metadata; origin
/// to token for token maps). Options added to the schema later are accepted
/// too. Fails with `NB_ERR_INVALID_ARGUMENT` for an unknown name (the message
/// lists the known ones), JSON that is not valid, or a value of the wrong
/// kind (the message names the option); the options are then unchanged.
/// Both strings are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_json(
    options: *mut nb_connect_options,
    name: *const c_char,
    json: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_json(options, name, json, out_error)
}

/// Option `nats_url`: the NATS server, one URL or several separated by
/// commas (a cluster); default: $NATS_URL, else nats://localhost:4222.
/// The `servers` argument of `nb_client_connect` wins when not NULL.
/// Credentials in a URL are used, never written into envelopes. `url` is
/// copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_nats_url(
    options: *mut nb_connect_options,
    url: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "nats_url", || unsafe {
        text_value(url, "url")
    })
}

/// Option `name`: the connection name the server shows in its monitoring
/// (unset by default). `name` is copied. Returns `NB_ERR_INVALID_ARGUMENT`
/// for NULL or non-UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_name(
    options: *mut nb_connect_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "name", || unsafe {
        text_value(name, "name")
    })
}

/// Option `token`: authenticate with this token (unset by default).
/// `token` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_token(
    options: *mut nb_connect_options,
    token: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "token", || unsafe {
        text_value(token, "token")
    })
}

/// Option `user`: authenticate as this user (unset by default); needs
/// `nb_connect_options_set_password` too: connecting with one of them
/// without the other fails with `NB_ERR_INVALID_ARGUMENT`. `user` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_user(
    options: *mut nb_connect_options,
    user: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "user", || unsafe {
        text_value(user, "user")
    })
}

/// Option `password`: the password of `user` (unset by default); needs
/// `nb_connect_options_set_user` too (see there). `password` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_password(
    options: *mut nb_connect_options,
    password: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "password", || unsafe {
        text_value(password, "password")
    })
}

/// Options `user` and `password` in one call (a convenience, kept from
/// before the option schema: the same as `nb_connect_options_set_user`
/// then `nb_connect_options_set_password`). Both are copied; NULL for
/// either is `NB_ERR_INVALID_ARGUMENT` and leaves the options unchanged.
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

/// Option `credentials_file`: authenticate with this NATS `.creds` file
/// (JWT and nkey seed), read when connecting (unset by default). `path` is
/// copied.
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

/// Option `nkey`: authenticate with this nkey seed (`SU...`; unset by
/// default). `seed` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_nkey(
    options: *mut nb_connect_options,
    seed: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "nkey", || unsafe {
        text_value(seed, "seed")
    })
}

/// Option `tls_ca_file`: trust the server certificates signed by the CA in
/// this PEM file (unset by default). Calling it again trusts one more file.
/// `path` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_tls_ca_file(
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

/// Option `reply_subject_prefixes` (unset by default): adds a prefix (e.g.
/// `_INBOX.`) to the allow-list of reply subjects; once the list is
/// non-empty, replies go only to subjects starting with a listed prefix.
/// `$`-prefixed system subjects are refused either way. `prefix` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_add_reply_subject_prefix(
    options: *mut nb_connect_options,
    prefix: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "reply_subject_prefixes", || unsafe {
        text_value(prefix, "prefix")
    })
}

/// The older name of `nb_connect_options_set_tls_ca_file` (the same
/// function; kept for existing callers).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_add_tls_ca_file(
    options: *mut nb_connect_options,
    path: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: the same contract.
    unsafe { nb_connect_options_set_tls_ca_file(options, path, out_error) }
}

/// Option `tls_client_cert`: present this client certificate (PEM) for
/// mutual TLS (unset by default); needs `tls_client_key`. `key_path` may be
/// NULL: then set the key with `nb_connect_options_set_tls_client_key`
/// (this function took both paths before the option schema, and still
/// does). Connecting with a certificate and no key, or a key and no
/// certificate, fails with `NB_ERR_INVALID_ARGUMENT`. The paths are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_tls_client_cert(
    options: *mut nb_connect_options,
    cert_path: *const c_char,
    key_path: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: NUL-terminated strings (the key NULL or one) per the header.
        let cert: PathBuf = unsafe { args::path(cert_path, "cert_path") }?;
        let key: Option<PathBuf> = if key_path.is_null() {
            None
        } else {
            Some(unsafe { args::path(key_path, "key_path") }?)
        };
        update(o, |o| match key {
            Some(key) => o.tls_client_cert(cert, key),
            None => o.tls_client_cert_file(cert),
        });
        Ok(())
    })
}

/// Option `tls_client_key`: the private key (PEM) of `tls_client_cert`
/// (unset by default); needs `tls_client_cert`. `path` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_tls_client_key(
    options: *mut nb_connect_options,
    path: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    connect_setting(options, out_error, |o| {
        // SAFETY: a NUL-terminated string per the header.
        let path = unsafe { args::path(path, "path") }?;
        update(o, |o| o.tls_client_key(path));
        Ok(())
    })
}

/// Option `require_tls`: refuse to talk to the server without TLS when
/// `required` is true (default false).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_require_tls(
    options: *mut nb_connect_options,
    required: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "require_tls", || {
        Ok(OptionValue::Bool(required))
    })
}

/// Option `connect_timeout`: how long connecting may take before it fails
/// with `NB_ERR_TIMEOUT` or `NB_ERR_CONNECTION`, in milliseconds (default
/// 5000 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_connect_timeout_ms(
    options: *mut nb_connect_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "connect_timeout", || {
        Ok(OptionValue::Number(timeout_ms))
    })
}

/// Option `request_timeout`: how long `nb_client_request` waits for a reply
/// when its own timeout is 0, and a JetStream publish for its
/// acknowledgement, in milliseconds (default 10000 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_request_timeout_ms(
    options: *mut nb_connect_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "request_timeout", || {
        Ok(OptionValue::Number(timeout_ms))
    })
}

/// Option `subscription_capacity`: how many messages a subscription buffers
/// before the server treats the client as a slow consumer (default:
/// async-nats' default (65,536 messages)). 0 is `NB_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_subscription_capacity(
    options: *mut nb_connect_options,
    messages: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "subscription_capacity", || {
        Ok(OptionValue::Number(messages as u64))
    })
}

/// Option `jetstream_replicas`: how many servers keep a copy of a stream
/// (`ensure_stream`) or the Object Store bucket when this client creates
/// them (default 1; a cluster takes up to 5). 0 is `NB_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_jetstream_replicas(
    options: *mut nb_connect_options,
    replicas: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "jetstream_replicas", || {
        Ok(OptionValue::Number(replicas as u64))
    })
}

/// Option `fileserver_url`: the HTTP file server every send of this client
/// uploads link payloads to (a send's own fileserver_url wins); unset by
/// default: the JetStream Object Store. `url` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_fileserver_url(
    options: *mut nb_connect_options,
    url: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "fileserver_url", || unsafe {
        text_value(url, "url")
    })
}

/// Option `fileserver_token`: the bearer token sent with uploads to the
/// client's fileserver_url (unset by default). `token` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_fileserver_token(
    options: *mut nb_connect_options,
    token: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "fileserver_token", || unsafe {
        text_value(token, "token")
    })
}

/// Option `object_store_bucket`: the JetStream Object Store bucket link
/// payloads go to when no file server is set (default "natsbridge").
/// `bucket` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_object_store_bucket(
    options: *mut nb_connect_options,
    bucket: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "object_store_bucket", || unsafe {
        text_value(bucket, "bucket")
    })
}

/// Option `object_store_ttl`: how long objects are kept in the Object Store
/// bucket when natsbridge creates it, in milliseconds (default 86400000 ms,
/// 24 hours).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_connect_options_set_object_store_ttl_ms(
    options: *mut nb_connect_options,
    ttl_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "object_store_ttl", || {
        Ok(OptionValue::Number(ttl_ms))
    })
}

/// Deprecated: use `nb_connect_options_set_object_store_ttl_ms` (durations
/// are milliseconds everywhere). The same option in whole seconds.
#[deprecated(note = "use nb_connect_options_set_object_store_ttl_ms")]
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

/// Creates send options with the core's defaults (see each setter and
/// `docs/options.md`): size_threshold 1000000 bytes, msg_purpose `chat`, sender_name `NATSBridge`, broadcast, no reply
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

/// Sets any send option by its schema name (`docs/options.md`; snake_case or
/// camelCase) to a value given as JSON text, as `nb_connect_options_set_json`
/// does for connect options (durations in milliseconds; unknown names and
/// values of the wrong kind are `NB_ERR_INVALID_ARGUMENT`, the options then
/// unchanged). Both strings are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_json(
    options: *mut nb_send_options,
    name: *const c_char,
    json: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_json(options, name, json, out_error)
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

/// Option `size_threshold`: payloads of at least this many serialized bytes
/// travel by link (claim-check), in bytes (default 1000000 bytes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_size_threshold(
    options: *mut nb_send_options,
    bytes: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_setting(options, out_error, |o| Ok(o.size_threshold(bytes)))
}

/// Option `correlation_id`: the id that ties a conversation together
/// (default: a new UUID per message). `id` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_correlation_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.correlation_id(v))
}

/// Option `msg_id`: the message id; JetStream drops a resend with the same
/// id (default: a new UUID per message). `id` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_msg_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.msg_id(v))
}

/// Option `msg_purpose`: what the message is for (default "chat"; replies
/// default to "response"). `purpose` is copied.
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

/// Option `sender_name`: who sends (default "NATSBridge"). `name` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_sender_name(
    options: *mut nb_send_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, name, "name", out_error, |o, v| o.sender_name(v))
}

/// Option `sender_id`: the sender's id (default: a UUID drawn once per
/// process). `id` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_sender_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.sender_id(v))
}

/// Option `receiver_name`: who should receive (default "": broadcast).
/// `name` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_receiver_name(
    options: *mut nb_send_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, name, "name", out_error, |o, v| o.receiver_name(v))
}

/// Option `receiver_id`: the receiver's id (default "": broadcast). `id` is
/// copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_receiver_id(
    options: *mut nb_send_options,
    id: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, id, "id", out_error, |o, v| o.receiver_id(v))
}

/// Option `reply_to`: the subject the receiver should answer on (default "":
/// none). `subject` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_reply_to(
    options: *mut nb_send_options,
    subject: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, subject, "subject", out_error, |o, v| o.reply_to(v))
}

/// Option `reply_to_msg_id`: in a reply, the msg_id being answered (default
/// ""). `msg_id` is copied.
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

/// Option `fileserver_url`: the HTTP file server link payloads are uploaded
/// to (PUT `<url>/<payload id>/<dataname>`; default: the connection's
/// fileserver_url, else the JetStream Object Store). Also the
/// `fileserver_url` passed to an upload handler. `url` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_fileserver_url(
    options: *mut nb_send_options,
    url: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_text(options, url, "url", out_error, |o, v| o.fileserver_url(v))
}

/// Option `fileserver_token`: sends `Authorization: Bearer <token>` with
/// uploads to the file server (default: the connection's fileserver_token).
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

/// Option `metadata` (unset by default): the envelope's free-form metadata,
/// from JSON text, which must be an object
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

/// Option `direct_sha256`: also writes a `sha256` for direct payloads when
/// `enabled` (default false: wire v1 makes it optional for direct payloads;
/// link payloads always carry one).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_direct_sha256(
    options: *mut nb_send_options,
    enabled: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_setting(options, out_error, |o| Ok(o.direct_sha256(enabled)))
}

/// Option `jetstream`: publishes through JetStream and waits for the
/// stream's acknowledgement when `enabled` (default false); such sends fail with `NB_ERR_JETSTREAM` when no stream
/// captures the subject (see `nb_client_ensure_stream`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_jetstream(
    options: *mut nb_send_options,
    enabled: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    send_setting(options, out_error, |o| Ok(o.jetstream(enabled)))
}

/// Option `fileserver_upload_handler` (unset by default): stores link
/// payloads with `handler` instead of a built-in store (it
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

/// Creates receive options with the core's defaults (see each setter and
/// `docs/options.md`): 5 download retries, 100 ms base delay, 5000 ms
/// maximum delay, 30000 ms per download attempt, a 1 GiB download cap, no allow-list, private addresses allowed, payloads
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

/// Sets any receive option by its schema name (`docs/options.md`; snake_case or
/// camelCase) to a value given as JSON text, as `nb_connect_options_set_json`
/// does for connect options (durations in milliseconds; unknown names and
/// values of the wrong kind are `NB_ERR_INVALID_ARGUMENT`, the options then
/// unchanged). Both strings are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_json(
    options: *mut nb_receive_options,
    name: *const c_char,
    json: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_json(options, name, json, out_error)
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

/// Option `max_retries`: retries of a failed download (connection errors,
/// time-outs, 5xx and 429 only; default 5).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_retries(
    options: *mut nb_receive_options,
    retries: u32,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.max_retries(retries)))
}

/// Option `base_delay`: the first retry delay in milliseconds; each next one
/// doubles, with jitter (default 100 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_base_delay_ms(
    options: *mut nb_receive_options,
    delay_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.base_delay(millis(delay_ms))))
}

/// Option `max_delay`: the longest delay between two download tries, in
/// milliseconds (default 5000 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_delay_ms(
    options: *mut nb_receive_options,
    delay_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.max_delay(millis(delay_ms))))
}

/// Option `download_timeout`: how long one download attempt may take, in
/// milliseconds (default 30000 ms): the whole HTTP request, or the wait for
/// each Object Store chunk.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_download_timeout_ms(
    options: *mut nb_receive_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "download_timeout", || {
        Ok(OptionValue::Number(timeout_ms))
    })
}

/// Deprecated: renamed `nb_receive_options_set_download_timeout_ms` (the
/// option schema's `download_timeout`); the same function.
#[deprecated(note = "renamed nb_receive_options_set_download_timeout_ms")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_request_timeout_ms(
    options: *mut nb_receive_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: the same contract.
    unsafe { nb_receive_options_set_download_timeout_ms(options, timeout_ms, out_error) }
}

/// Option `download_connect_timeout`: how long an HTTP(S) download may take
/// to connect to a link's server (TCP and TLS), within download_timeout, in
/// milliseconds (default 5000 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_download_connect_timeout_ms(
    options: *mut nb_receive_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "download_connect_timeout", || {
        Ok(OptionValue::Number(timeout_ms))
    })
}

/// Option `envelope_timeout`: the most time the link payloads of one
/// envelope may take together, retries included, in milliseconds (default
/// 60000 ms); past it the envelope fails with `NB_ERR_TIMEOUT` naming the
/// payload.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_envelope_timeout_ms(
    options: *mut nb_receive_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "envelope_timeout", || {
        Ok(OptionValue::Number(timeout_ms))
    })
}

/// Option `max_download_size`: the largest link payload that is downloaded,
/// in bytes (default 1073741824 bytes, 1 GiB).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_download_size(
    options: *mut nb_receive_options,
    bytes: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.max_download_size(bytes)))
}

/// Option `max_envelope_download_size`: the most bytes the link payloads of
/// one envelope may declare together, in bytes (default: 4 x
/// max_download_size).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_envelope_download_size(
    options: *mut nb_receive_options,
    bytes: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "max_envelope_download_size", || {
        Ok(OptionValue::Number(bytes))
    })
}

/// Option `max_link_payloads`: the most link payloads one envelope may carry
/// (default 256).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_link_payloads(
    options: *mut nb_receive_options,
    count: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "max_link_payloads", || {
        Ok(OptionValue::Number(count as u64))
    })
}

/// Option `max_concurrent_downloads`: how many link payloads of one envelope
/// are downloaded at once (default 4).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_concurrent_downloads(
    options: *mut nb_receive_options,
    count: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "max_concurrent_downloads", || {
        Ok(OptionValue::Number(count as u64))
    })
}

/// Option `max_table_rows`: the most rows a received table may have
/// (default 16777216).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_max_table_rows(
    options: *mut nb_receive_options,
    rows: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "max_table_rows", || {
        Ok(OptionValue::Number(rows))
    })
}

/// Option `proxy` (unset by default): sends HTTP(S) downloads through this
/// proxy URL; proxies from the environment are never used. `url` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_proxy(
    options: *mut nb_receive_options,
    url: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "proxy", || unsafe {
        text_value(url, "url")
    })
}

/// Option `handler_timeout`: the longest one call of the download handler
/// may take, in milliseconds (default: download_timeout x (max_retries + 1)
/// + max_delay x max_retries).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_handler_timeout_ms(
    options: *mut nb_receive_options,
    timeout_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "handler_timeout", || {
        Ok(OptionValue::Number(timeout_ms))
    })
}

/// Option `allowed_origins` (unset by default): adds an origin
/// (`scheme://host[:port]`) to the allow-list; once the list is non-empty
/// only links to listed origins are fetched. `origin` is copied.
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

/// Option `allow_private_addresses`: whether links may point at private and
/// loopback addresses (default true). Link-local and cloud-metadata addresses are refused either way.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_allow_private_addresses(
    options: *mut nb_receive_options,
    allow: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    receive_setting(options, out_error, |o| Ok(o.allow_private_addresses(allow)))
}

/// Option `save_dir` (unset by default): writes link payloads into
/// directory `dir` (streamed, constant memory)
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

/// Option `store_tokens` (unset by default): sends `Authorization: Bearer
/// <token>` when fetching links whose origin is exactly `origin`; never to
/// any other host. Both strings are copied.
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

/// Option `fileserver_download_handler` (unset by default): fetches link
/// payloads with `handler` instead of the built-in HTTP and Object Store
/// fetchers. A NULL `handler` removes the handler.
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
