//! `nb_client`: one NATS connection and the calls made over it (send,
//! receive, request, reply, flush, close), each a blocking call on the
//! core's shared runtime.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use natsbridge::runtime;
use natsbridge::{Bridge, ConnectOptions};

use crate::args;
use crate::envelope::nb_envelope;
use crate::error::{boundary, nb_error, nb_status};
use crate::handlers::InFlight;
use crate::options::{
    nb_connect_options, nb_receive_options, nb_send_options, receive_options, send_options,
};
use crate::payload::{self, nb_send_payload};

/// How long `nb_client_free` waits for pending messages to reach the server.
const FREE_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to NATS. Thread-safe: every `nb_client_*` call may be made
/// on one client from several threads at once (except `nb_client_free`,
/// which must be the last call). Created by `nb_client_connect`, released
/// with `nb_client_free`.
pub struct nb_client {
    pub(crate) bridge: Bridge,
}

/// Runs `body` with a fresh count of the handler callbacks it starts, then
/// waits for any of them still running (a callback abandoned by the call
/// still holds the caller's `user_data`).
fn counting_callbacks<T>(body: impl FnOnce(&Arc<InFlight>) -> T) -> T {
    let inflight = InFlight::new();
    let result = body(&inflight);
    inflight.wait_idle();
    result
}

/// Connects to NATS. `servers` is one URL (`nats://host:4222`) or several
/// separated by commas (a cluster). When `servers` is NULL or empty, the
/// options' `nats_url` is used, else `$NATS_URL`, else
/// `nats://localhost:4222` (the core resolves it). Credentials in a URL
/// (`nats://user:pass@host`, `nats://token@host`) are used and never written
/// into envelopes. `options` may be NULL for the defaults; it is not
/// retained.
///
/// On success writes a new client to `*out_client` (free with
/// `nb_client_free`). Fails within the connect timeout with
/// `NB_ERR_CONNECTION` (unreachable), `NB_ERR_AUTH` or `NB_ERR_TIMEOUT`.
/// Blocks the calling thread; must not be called from inside a handler
/// callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_connect(
    servers: *const c_char,
    options: *const nb_connect_options,
    out_client: *mut *mut nb_client,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a NUL-terminated string; NULL or live options.
        let servers = unsafe { args::optional_text(servers, "servers") }?;
        let options = unsafe { options.as_ref() };
        args::out_param(out_client, "out_client")?;
        let connect = match options {
            Some(options) => options.with_servers(servers),
            None => ConnectOptions::new(ConnectOptions::resolve_nats_url(servers)),
        };
        let bridge = runtime::block_on(connect.connect())??;
        let handle = Box::into_raw(Box::new(nb_client { bridge }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_client, handle) };
        Ok(())
    })
}

/// Sends `payloads` (an array of `payload_count` descriptors) as one
/// envelope on `subject`: serializes them, sends large ones by link through
/// the claim-check store, and publishes. If anything fails before
/// publishing, nothing is published. `options` may be NULL for the defaults.
///
/// On success, when `out_envelope_json` is not NULL, writes the envelope as
/// published (its exact JSON text) there; the caller frees it with
/// `nb_string_free`. Blocks until published (and acknowledged, with
/// JetStream). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_send(
    client: *const nb_client,
    subject: *const c_char,
    payloads: *const nb_send_payload,
    payload_count: usize,
    options: *const nb_send_options,
    out_envelope_json: *mut *mut c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles, strings and descriptors per the header.
        let client = unsafe { args::required(client, "client") }?;
        let subject = unsafe { args::text(subject, "subject") }?;
        let payloads = unsafe { payload::from_c(payloads, payload_count) }?;
        let sent = counting_callbacks(|inflight| {
            // SAFETY: NULL or live options.
            let options = unsafe { send_options(options, inflight) };
            runtime::block_on(client.bridge.smartsend(subject, payloads, &options))
        })??;
        if !out_envelope_json.is_null() {
            let json = String::from_utf8_lossy(sent.wire_bytes()).into_owned();
            // SAFETY: non-NULL, writable per the header.
            unsafe { args::write(out_envelope_json, args::owned_string(json)) };
        }
        Ok(())
    })
}

/// Decodes an envelope from the body of a NATS message (`data`, `len`; not
/// retained): checks it, verifies every payload's size and sha256, and
/// downloads link payloads (HTTP links, or `nats-object://` links over this
/// client's connection). `options` may be NULL for the defaults.
///
/// On success writes a new envelope to `*out_envelope` (free with
/// `nb_envelope_free`). Bad input fails with `NB_ERR_MALFORMED_ENVELOPE`,
/// `NB_ERR_UNSUPPORTED_VERSION`, `NB_ERR_INVALID_BASE64`, `NB_ERR_INTEGRITY`,
/// ...; failed downloads with `NB_ERR_DOWNLOAD` or `NB_ERR_URL_NOT_ALLOWED`.
/// Blocks while downloading. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_receive(
    client: *const nb_client,
    data: *const u8,
    len: usize,
    options: *const nb_receive_options,
    out_envelope: *mut *mut nb_envelope,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live client; `len` readable bytes per the header.
        let client = unsafe { args::required(client, "client") }?;
        let body = unsafe { args::bytes(data, len, "data") }?;
        args::out_param(out_envelope, "out_envelope")?;
        let envelope = counting_callbacks(|inflight| {
            // SAFETY: NULL or live options.
            let options = unsafe { receive_options(options, inflight) };
            runtime::block_on(client.bridge.smartreceive_bytes(body, &options))
        })??;
        let handle = Box::into_raw(Box::new(nb_envelope::new(envelope)));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_envelope, handle) };
        Ok(())
    })
}

/// Sends a request and waits for the reply envelope. The request's
/// `reply_to` is a fresh inbox unless `send_options` sets one. `timeout_ms`
/// 0 means the client's request timeout (10 s unless set with
/// `nb_connect_options_set_request_timeout_ms`). Either options pointer may
/// be NULL; `receive_options` apply to decoding the reply.
///
/// On success writes the reply to `*out_reply` (free with
/// `nb_envelope_free`). Fails with `NB_ERR_TIMEOUT` when no reply comes in
/// time and `NB_ERR_NO_RESPONDERS` when nobody listens on `subject`.
/// Blocks. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_request(
    client: *const nb_client,
    subject: *const c_char,
    payloads: *const nb_send_payload,
    payload_count: usize,
    send_options: *const nb_send_options,
    timeout_ms: u64,
    receive_options: *const nb_receive_options,
    out_reply: *mut *mut nb_envelope,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles, strings and descriptors per the header.
        let client = unsafe { args::required(client, "client") }?;
        let subject = unsafe { args::text(subject, "subject") }?;
        let payloads = unsafe { payload::from_c(payloads, payload_count) }?;
        args::out_param(out_reply, "out_reply")?;
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
        let reply = counting_callbacks(|inflight| {
            // SAFETY: NULL or live options.
            let send = unsafe { crate::options::send_options(send_options, inflight) };
            let receive = unsafe { crate::options::receive_options(receive_options, inflight) };
            runtime::block_on(
                client
                    .bridge
                    .request(subject, payloads, &send, timeout, &receive),
            )
        })??;
        let handle = Box::into_raw(Box::new(nb_envelope::new(reply)));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_reply, handle) };
        Ok(())
    })
}

/// Answers a received envelope (wire-v1 section 6): publishes `payloads` to
/// the NATS reply inbox of the request's message, or else to its
/// `reply_to`, with `reply_to_msg_id` set to the request's `msg_id` and its
/// `correlation_id`; `msg_purpose` is `response` unless `options` sets one.
/// `options` may be NULL.
///
/// On success, when `out_envelope_json` is not NULL, writes the reply as
/// published there (free with `nb_string_free`). Fails with
/// `NB_ERR_INVALID_ARGUMENT` when the request has nowhere to reply to, or
/// when the subject is a `$`-prefixed system subject or outside the
/// connection's `reply_subject_prefixes` (nothing is published).
/// May be called from a subscription callback. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_reply(
    client: *const nb_client,
    request: *const nb_envelope,
    payloads: *const nb_send_payload,
    payload_count: usize,
    options: *const nb_send_options,
    out_envelope_json: *mut *mut c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles and descriptors per the header.
        let client = unsafe { args::required(client, "client") }?;
        let request = unsafe { args::required(request, "request") }?;
        let payloads = unsafe { payload::from_c(payloads, payload_count) }?;
        let sent = counting_callbacks(|inflight| {
            // SAFETY: NULL or live options.
            let options = unsafe { send_options(options, inflight) };
            runtime::block_on(client.bridge.reply(&request.envelope, payloads, &options))
        })??;
        if !out_envelope_json.is_null() {
            let json = String::from_utf8_lossy(sent.wire_bytes()).into_owned();
            // SAFETY: non-NULL, writable per the header.
            unsafe { args::write(out_envelope_json, args::owned_string(json)) };
        }
        Ok(())
    })
}

/// Creates the JetStream stream `name` capturing the `subject_count`
/// subjects in `subjects`, unless a stream of that name exists; needed before
/// sends with `nb_send_options_set_jetstream`. Fails with
/// `NB_ERR_JETSTREAM` when the server has no JetStream or refuses. Blocks.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_ensure_stream(
    client: *const nb_client,
    name: *const c_char,
    subjects: *const *const c_char,
    subject_count: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles and strings per the header.
        let client = unsafe { args::required(client, "client") }?;
        let name = unsafe { args::text(name, "name") }?;
        let pointers = unsafe { args::slice(subjects, subject_count, "subjects") }?;
        let subjects = pointers
            .iter()
            .enumerate()
            // SAFETY: NUL-terminated strings per the header.
            .map(|(i, &s)| unsafe { args::text(s, format_args!("subjects[{i}]")) })
            .collect::<natsbridge::Result<Vec<&str>>>()?;
        runtime::block_on(client.bridge.ensure_stream(name, &subjects))?
    })
}

/// As `nb_client_ensure_stream`, kept by `replicas` servers (1 on a single
/// server, up to 5 in a cluster) instead of the connection's
/// `jetstream_replicas` option. 0 is `NB_ERR_INVALID_ARGUMENT`; more than
/// the cluster has is refused by the server (`NB_ERR_JETSTREAM`). Blocks.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_ensure_stream_replicated(
    client: *const nb_client,
    name: *const c_char,
    subjects: *const *const c_char,
    subject_count: usize,
    replicas: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles and strings per the header.
        let client = unsafe { args::required(client, "client") }?;
        let name = unsafe { args::text(name, "name") }?;
        let pointers = unsafe { args::slice(subjects, subject_count, "subjects") }?;
        let subjects = pointers
            .iter()
            .enumerate()
            // SAFETY: NUL-terminated strings per the header.
            .map(|(i, &s)| unsafe { args::text(s, format_args!("subjects[{i}]")) })
            .collect::<natsbridge::Result<Vec<&str>>>()?;
        runtime::block_on(
            client
                .bridge
                .ensure_stream_replicated(name, &subjects, replicas),
        )?
    })
}

/// Waits until everything published so far has reached the server.
/// Blocks. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_flush(
    client: *const nb_client,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live client.
        let client = unsafe { args::required(client, "client") }?;
        runtime::block_on(client.bridge.flush())?
    })
}

/// Flushes what was published and closes the connection. Later calls on
/// this client fail with `NB_ERR_CLOSED`, and its subscriptions end (a
/// callback subscription's callback gets one final `NB_ERR_CLOSED` error).
/// Closing twice is not an error. The client must still be freed with
/// `nb_client_free`. Blocks. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_close(
    client: *const nb_client,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live client.
        let client = unsafe { args::required(client, "client") }?;
        runtime::block_on(client.bridge.close())?
    })
}

/// The largest message the server accepts (its `max_payload`, in bytes);
/// 0 for a NULL client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_max_payload(client: *const nb_client) -> usize {
    crate::error::value_boundary(0, || {
        // SAFETY: NULL or a live client.
        unsafe { client.as_ref() }.map_or(0, |c| c.bridge.max_payload())
    })
}

/// Closes the client unless it is closed already (waiting at most 5 s for
/// pending messages to reach the server) and releases it. NULL is accepted
/// and ignored. Must be the last call on this client: no other thread may be
/// using it, so free callback subscriptions whose callbacks use the client
/// first. Its subscriptions end but must still be freed with
/// `nb_subscription_free`; envelopes received through it stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_free(client: *mut nb_client) {
    if client.is_null() {
        return;
    }
    // SAFETY: a handle from nb_client_connect, freed once.
    let client = unsafe { Box::from_raw(client) };
    crate::error::value_boundary((), move || {
        let bridge = client.bridge.clone();
        // Fails (and is skipped) on a runtime thread, e.g. inside a handler
        // callback; the connection then ends when its last user drops it.
        let _ = runtime::block_on(async move {
            tokio::time::timeout(FREE_FLUSH_TIMEOUT, bridge.close()).await
        });
        drop(client);
    });
}
