//! Sends that never block the caller's thread: `nb_client_send_notify`
//! starts a send and reports its completion through the notify mechanism of
//! `notify.rs` (a function with the signature of libuv's `uv_async_send`),
//! for hosts whose thread must not block (Julia's event loop).
//!
//! The send is polled once on the caller's thread, inside the core's
//! runtime: a send that needs no I/O wait (serialize, encode, hand the
//! message to the connection) completes right there, with no thread hop and
//! no notification. Otherwise it moves to the core's runtime and, when it
//! completes, the library calls `notify(notify_arg)` once from its own
//! thread; the caller then reads the outcome with `nb_pending_send_result`,
//! which never blocks. Nothing here decides anything about messages: the
//! send is the core's `Bridge::smartsend`, as for `nb_client_send`.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use natsbridge::{Error, ErrorKind, SentEnvelope, runtime};
use tokio::task::AbortHandle;

use crate::args;
use crate::client::nb_client;
use crate::envelope::nb_string_view;
use crate::error::{boundary, nb_error, nb_status};
use crate::handlers::InFlight;
use crate::notify::{Notifier, nb_notify_fn};
use crate::options::{nb_send_options, send_options};
use crate::payload::{self, nb_send_payload};

/// What a pending send shares with the task that completes it.
struct State {
    /// The send's outcome, once it has completed.
    outcome: Option<natsbridge::Result<SentEnvelope>>,
    /// Whom to wake on completion; cleared by `nb_pending_send_free`, so no
    /// notification comes after it returns.
    notifier: Option<Notifier>,
    /// The send's task has ended (completed or cancelled) and its handler
    /// callbacks have returned.
    finished: bool,
}

struct Shared {
    state: Mutex<State>,
    finished: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the outcome and wakes the caller (unless it freed the send).
    fn complete(&self, outcome: natsbridge::Result<SentEnvelope>) {
        let mut state = self.lock();
        state.outcome = Some(outcome);
        state.finished = true;
        // Notified under the lock: nb_pending_send_free, which clears the
        // notifier under the same lock, returns only after this call.
        if let Some(notifier) = state.notifier.take() {
            notifier.notify();
        }
        self.finished.notify_all();
    }
}

/// A send started by `nb_client_send_notify`: its outcome once it has
/// completed. Read with `nb_pending_send_result`; release with
/// `nb_pending_send_free` (which cancels it if it has not completed). May be
/// read from any thread.
pub struct nb_pending_send {
    shared: Arc<Shared>,
    /// The send's task on the core's runtime; None when it completed within
    /// `nb_client_send_notify`.
    task: Option<AbortHandle>,
    /// Handler callbacks the send started.
    inflight: Arc<InFlight>,
}

/// Starts sending `payloads` as one envelope on `subject`, as
/// `nb_client_send` does, without blocking the calling thread on I/O.
/// `options` may be NULL; the descriptors, strings and options are read (and
/// copied as needed) during this call, so they may be released as soon as it
/// returns (handler callbacks and handler queues the options name must stay
/// alive until the send has completed or is freed).
///
/// Bad arguments (NULL client or out-parameter, NULL `notify`, invalid
/// descriptors) fail right away with their error and start nothing.
/// Otherwise writes a pending send to `*out_send` (free with
/// `nb_pending_send_free`) and returns `NB_OK`; the send's own outcome,
/// success or its error, is read with `nb_pending_send_result`.
///
/// When the send completes within this call (a send that does not wait on
/// I/O: no link upload, no JetStream acknowledgement, room in the
/// connection's buffer), `nb_pending_send_result` reports it done at once and
/// `notify` is never called. Otherwise the library calls `notify(notify_arg)`
/// once, from one of its threads, when the send has completed (see
/// `nb_notify_fn`). So: read the result first, and wait for the notification
/// only when it is not done. `notify` and `notify_arg` must stay valid until
/// the send has completed or `nb_pending_send_free` has returned.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_send_notify(
    client: *const nb_client,
    subject: *const c_char,
    payloads: *const nb_send_payload,
    payload_count: usize,
    options: *const nb_send_options,
    notify: nb_notify_fn,
    notify_arg: *mut c_void,
    out_send: *mut *mut nb_pending_send,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles, strings and descriptors per the header.
        let client = unsafe { args::required(client, "client") }?;
        let subject = unsafe { args::text(subject, "subject") }?.to_owned();
        let payloads = unsafe { payload::from_c(payloads, payload_count) }?;
        args::out_param(out_send, "out_send")?;
        let notifier = Notifier::new(notify, notify_arg)?;
        let inflight = InFlight::new();
        // SAFETY: NULL or live options.
        let options = unsafe { send_options(options, &inflight) };
        let bridge = client.bridge.clone();
        let send = async move { bridge.smartsend(&subject, payloads, &options).await };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                outcome: None,
                notifier: Some(notifier),
                finished: false,
            }),
            finished: Condvar::new(),
        });

        let rt = runtime::global();
        // Timers, I/O and spawned work of the send belong to the core's
        // runtime, also while it is polled on this thread.
        let _entered = rt.enter();
        let mut send = Box::pin(send);
        let task = match send.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(outcome) if inflight.is_idle() => {
                drop(send);
                let mut state = shared.lock();
                state.outcome = Some(outcome);
                state.finished = true;
                state.notifier = None;
                None
            }
            polled => {
                // Either still running, or done while a handler callback it
                // abandoned still runs: complete once that has returned.
                let send = match polled {
                    Poll::Ready(outcome) => {
                        drop(send);
                        rt.spawn(async move { outcome })
                    }
                    Poll::Pending => rt.spawn(send),
                };
                let abort = send.abort_handle();
                let completer = shared.clone();
                let callbacks = inflight.clone();
                rt.spawn(async move {
                    let outcome = send
                        .await
                        .unwrap_or_else(|err| Err(Error::from_join(err, "a natsbridge send")));
                    if !callbacks.is_idle() {
                        let _ = tokio::task::spawn_blocking(move || callbacks.wait_idle()).await;
                    }
                    completer.complete(outcome);
                });
                Some(abort)
            }
        };
        let pending = Box::new(nb_pending_send {
            shared,
            task,
            inflight,
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_send, Box::into_raw(pending)) };
        Ok(())
    })
}

/// A copy of a failed send's error for the caller (the pending send keeps
/// the original: its outcome may be read any number of times).
fn stored_error(err: &Error) -> Error {
    let copy = Error::new(err.kind(), err.full_message());
    match err.dataname() {
        Some(name) => copy.with_dataname(name),
        None => copy,
    }
}

/// The outcome of a pending send, without blocking.
///
/// Not completed yet: writes `false` to `*out_done` and returns `NB_OK`
/// (wait for the notification). Completed: writes `true` to `*out_done`
/// and, when the pointers are not NULL, the envelope as published (its exact
/// JSON bytes, not NUL-terminated; owned by the pending send, valid until
/// `nb_pending_send_free`) to `*out_envelope` and its length to `*out_len`,
/// and returns `NB_OK`. A failed send returns its error (`NB_ERR_*`, details
/// in `*out_error`) and writes nothing; if it failed before publishing,
/// nothing was published. May be called any number of times. Fails with
/// `NB_ERR_INVALID_ARGUMENT` for a NULL `send` or `out_done`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_pending_send_result(
    send: *const nb_pending_send,
    out_done: *mut bool,
    out_envelope: *mut *const u8,
    out_len: *mut usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live pending send.
        let send = unsafe { args::required(send, "send") }?;
        args::out_param(out_done, "out_done")?;
        let state = send.shared.lock();
        match state.outcome.as_ref() {
            None => {
                // SAFETY: checked non-NULL above.
                unsafe { args::write(out_done, false) };
                Ok(())
            }
            Some(Ok(sent)) => {
                let wire = sent.wire_bytes();
                // SAFETY: each NULL or storage for one value; the bytes live
                // in the pending send's state until it is freed.
                unsafe {
                    args::write(out_done, true);
                    args::write(out_envelope, wire.as_ptr());
                    args::write(out_len, wire.len());
                }
                Ok(())
            }
            Some(Err(err)) => Err(stored_error(err)),
        }
    })
}

/// The envelope of a completed send as a JSON tree (the `nb_json` of
/// `nb_json_parse`), built from the sent envelope's fields: the same value
/// as parsing the bytes `nb_pending_send_result` gives, without parsing them
/// (for front ends that hand the envelope to their language as a map).
///
/// Writes the root to `*out_value` (free with `nb_json_free`; it does not
/// borrow from the pending send). Fails with `NB_ERR_INVALID_ARGUMENT` for a
/// NULL argument or a send that has not completed (check
/// `nb_pending_send_result` first), and with the send's own error for a
/// failed send. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_pending_send_envelope_json(
    send: *const nb_pending_send,
    out_value: *mut *mut crate::json::nb_json,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live pending send.
        let sent = unsafe { completed_for(send, out_value, "out_value") }?;
        let root = Box::new(crate::json::nb_json::from_sent(sent));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_value, Box::into_raw(root)) };
        Ok(())
    })
}

/// The sent envelope of a completed, successful pending send; views into it
/// stay valid until `nb_pending_send_free` (the outcome is written once and
/// never moved out; every view points into its heap-allocated strings and
/// wire bytes).
fn sent_envelope(send: &nb_pending_send) -> Option<&SentEnvelope> {
    let state = send.shared.lock();
    let sent = match state.outcome.as_ref() {
        Some(Ok(sent)) => std::ptr::from_ref(sent),
        _ => return None,
    };
    drop(state);
    // SAFETY: the outcome is set once, under the lock, and then neither
    // replaced nor dropped before the pending send itself (which `send`
    // borrows), so the reference outlives the guard.
    Some(unsafe { &*sent })
}

/// One payload of a completed send, as `nb_pending_send_payload` writes it:
/// its description and its `data` member exactly as published. Views into
/// the pending send, valid until `nb_pending_send_free`, not NUL-terminated.
#[repr(C)]
pub struct nb_sent_payload_view {
    /// The payload's UUID.
    pub id: nb_string_view,
    /// The caller's name for the payload.
    pub dataname: nb_string_view,
    /// The wire type (`text`, `dictionary`, `table`, ...).
    pub r#type: nb_string_view,
    /// `direct` or `link`.
    pub transport: nb_string_view,
    /// The `encoding` member: `base64` for direct payloads, `url` for links.
    pub encoding: nb_string_view,
    /// The `data` member: the base64 text of a direct payload, the URL of a
    /// link.
    pub data: nb_string_view,
    /// Lowercase hex SHA-256 of the serialized payload; `{NULL, 0}` when the
    /// envelope carries none.
    pub sha256: nb_string_view,
    /// Length in bytes of the serialized payload.
    pub size: u64,
    /// The payload's metadata object is not empty (read it with
    /// `nb_pending_send_envelope_json`).
    pub has_metadata: bool,
}

/// Every header string of a completed send's envelope at once, in the order
/// of `nb_envelope_header_strings` (`correlation_id`, `msg_id`, `timestamp`,
/// `send_to`, `msg_purpose`, `sender_name`, `sender_id`, `receiver_name`,
/// `receiver_id`, `reply_to`, `reply_to_msg_id`, `broker_url`): writes the
/// first `capacity` to `out` (not NUL-terminated; valid until
/// `nb_pending_send_free`) and returns how many there are (12). Returns 0,
/// and writes nothing, for a NULL send or one that has not completed or has
/// failed (`nb_pending_send_result` says which). See
/// `nb_pending_send_envelope`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_pending_send_header_strings(
    send: *const nb_pending_send,
    out: *mut nb_string_view,
    capacity: usize,
) -> usize {
    crate::error::value_boundary(0, || {
        // SAFETY: NULL or a live pending send.
        let Some(sent) = unsafe { send.as_ref() }.and_then(sent_envelope) else {
            return 0;
        };
        let fields = sent.header.string_fields();
        if !out.is_null() {
            for (index, (_, value)) in fields.iter().take(capacity).enumerate() {
                // SAFETY: the caller's storage for `capacity` views; index < capacity.
                unsafe { out.add(index).write(nb_string_view::of(value)) };
            }
        }
        fields.len()
    })
}

/// The envelope-level facts of a completed send, as `nb_pending_send_envelope`
/// writes them.
#[repr(C)]
pub struct nb_sent_envelope_view {
    /// The wire version of the envelope (1).
    pub version: u32,
    /// The number of payloads (`nb_pending_send_payload` reads each).
    pub payload_count: usize,
    /// The envelope-level `metadata` object is not empty (read it with
    /// `nb_pending_send_envelope_json`).
    pub has_metadata: bool,
}

/// The sent envelope, or the error for a send that failed or has not
/// completed.
fn completed(send: &nb_pending_send) -> natsbridge::Result<&SentEnvelope> {
    sent_envelope(send).ok_or_else(|| match send.shared.lock().outcome.as_ref() {
        Some(Err(err)) => stored_error(err),
        _ => Error::new(
            ErrorKind::InvalidArgument,
            "the send has not completed (nb_pending_send_result reports when it has)",
        ),
    })
}

/// The sent envelope of `send` for a call that writes to `out`: both
/// pointers checked, and the send completed successfully.
///
/// # Safety
/// `send` is NULL or a live pending send, which outlives the reference.
unsafe fn completed_for<'a, T>(
    send: *const nb_pending_send,
    out: *mut T,
    out_name: &str,
) -> natsbridge::Result<&'a SentEnvelope> {
    // SAFETY: per the contract.
    let send: &'a nb_pending_send = unsafe { args::required(send, "send") }?;
    args::out_param(out, out_name)?;
    completed(send)
}

/// The version, payload count and metadata presence of a completed send's
/// envelope, written to `*out`. With `nb_pending_send_header_strings` and
/// `nb_pending_send_payload`, a front end builds its language's value of the
/// envelope from views, with no JSON tree in between (an envelope or payload
/// with metadata is simplest read with `nb_pending_send_envelope_json`).
/// Fails with `NB_ERR_INVALID_ARGUMENT` for a NULL argument or a send that
/// has not completed, and with the send's own error for a failed send.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_pending_send_envelope(
    send: *const nb_pending_send,
    out: *mut nb_sent_envelope_view,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live pending send.
        let sent = unsafe { completed_for(send, out, "out") }?;
        let view = nb_sent_envelope_view {
            version: sent.header.version,
            payload_count: sent.payloads.len(),
            has_metadata: !sent.header.metadata.is_empty(),
        };
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out, view) };
        Ok(())
    })
}

/// Payload `index` (from 0) of a completed send's envelope, written to
/// `*out` as views (see `nb_sent_payload_view`). Fails with
/// `NB_ERR_INVALID_ARGUMENT` for a NULL argument, a send that has not
/// completed, or an index out of range, and with the send's own error for a
/// failed send. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_pending_send_payload(
    send: *const nb_pending_send,
    index: usize,
    out: *mut nb_sent_payload_view,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live pending send.
        let sent = unsafe { completed_for(send, out, "out") }?;
        let Some(info) = sent.payloads.get(index) else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "payload index {index} is out of range: the envelope has {} payload(s)",
                    sent.payloads.len()
                ),
            ));
        };
        use nb_string_view as view;
        let payload = nb_sent_payload_view {
            id: view::of(&info.id),
            dataname: view::of(&info.dataname),
            r#type: view::of(info.payload_type.as_str()),
            transport: view::of(info.transport.as_str()),
            encoding: view::of(info.transport.encoding()),
            data: view::of(sent.payload_data(index)),
            sha256: info.sha256.as_deref().map_or_else(view::absent, view::of),
            size: info.size,
            has_metadata: !info.metadata.is_empty(),
        };
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out, payload) };
        Ok(())
    })
}

/// Releases a pending send. NULL is accepted and ignored. A send that has
/// not completed is cancelled: it may or may not have been published. Waits
/// until its task has stopped and the handler callbacks it started have
/// returned (so a handler callback must not need this thread to return:
/// answer handler-queue requests before freeing, or from another thread);
/// once it returns, `notify` is never called for this send. Must not be
/// called from a handler callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_pending_send_free(send: *mut nb_pending_send) {
    if send.is_null() {
        return;
    }
    crate::error::value_boundary((), || {
        // SAFETY: a pointer from Box::into_raw in nb_client_send_notify,
        // freed once.
        let send = unsafe { Box::from_raw(send) };
        let mut state = send.shared.lock();
        state.notifier = None;
        if let Some(task) = &send.task {
            task.abort();
            while !state.finished {
                state = send
                    .shared
                    .finished
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
        drop(state);
        send.inflight.wait_idle();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_arguments_are_refused() {
        let mut out: *mut nb_pending_send = std::ptr::null_mut();
        let mut done = false;
        // SAFETY: NULLs are part of the contract.
        unsafe {
            assert_eq!(
                nb_client_send_notify(
                    std::ptr::null(),
                    c"s".as_ptr(),
                    std::ptr::null(),
                    0,
                    std::ptr::null(),
                    None,
                    std::ptr::null_mut(),
                    &mut out,
                    std::ptr::null_mut(),
                ),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
            assert!(out.is_null());
            assert_eq!(
                nb_pending_send_result(
                    std::ptr::null(),
                    &mut done,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                ),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
            nb_pending_send_free(std::ptr::null_mut());
        }
    }
}
