//! Delivery by notification, for callers that cannot run code on a library
//! thread (Julia 1.5 crashes when a `@cfunction` runs on a foreign thread).
//!
//! Instead of calling the caller back, the library queues the item
//! (a received envelope, a handler request) and calls a *notify function*
//! with the caller's argument. The notify function has the signature of
//! libuv's `uv_async_send(uv_async_t *)`, so a Julia caller passes
//! `cglobal(:uv_async_send)` and the handle of a `Base.AsyncCondition`; the
//! caller's event loop then wakes up on its own thread and pops the items
//! with calls that never block.
//!
//! - Subscriptions: `nb_client_subscribe_notify` queues every decoded
//!   envelope (or decoding error); `nb_notify_subscription_pop` takes them.
//! - Upload and download handlers: `nb_send_options_set_upload_queue` and
//!   `nb_receive_options_set_download_queue` register a handler whose library
//!   thread queues an `nb_handler_request`, notifies, and blocks until the
//!   caller answers it with `nb_handler_respond` (or drops it).
//!
//! Nothing here decides anything about messages: the items are what the
//! existing callback functions produce.

use std::collections::VecDeque;
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Mutex;
use std::sync::mpsc::{SyncSender, sync_channel};

use natsbridge::{Error, ErrorKind};

use crate::args;
use crate::client::nb_client;
use crate::envelope::nb_envelope;
use crate::error::{
    NB_ERR_CLOSED, NB_OK, boundary, invalid, nb_error, nb_error_code, nb_error_dataname,
    nb_error_message, nb_status,
};
use crate::handlers::{nb_buffer, nb_buffer_append};
use crate::options::{
    nb_receive_options, nb_receive_options_set_download_handler, nb_send_options,
    nb_send_options_set_upload_handler,
};
use crate::subscription::{
    nb_client_queue_subscribe_callback, nb_client_subscribe_callback, nb_subscription,
    nb_subscription_free,
};

/// Wakes the caller up after the library queued an item: called with the
/// `notify_arg` given at registration, from a library thread, possibly
/// concurrently with itself. Its signature is libuv's `uv_async_send`; the
/// return value is ignored. It must not block and must not call natsbridge.
pub type nb_notify_fn = Option<unsafe extern "C" fn(notify_arg: *mut c_void) -> c_int>;

/// The caller's notify function and its argument.
#[derive(Clone, Copy)]
pub(crate) struct Notifier {
    func: unsafe extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
}
// SAFETY: the header requires the notify function to be callable with its
// argument from any thread.
unsafe impl Send for Notifier {}
// SAFETY: as above.
unsafe impl Sync for Notifier {}

impl Notifier {
    pub(crate) fn new(func: nb_notify_fn, arg: *mut c_void) -> natsbridge::Result<Notifier> {
        let func = func.ok_or_else(|| invalid("notify is NULL"))?;
        Ok(Notifier { func, arg })
    }

    pub(crate) fn notify(&self) {
        // SAFETY: a notify function valid with `arg` from any thread, per
        // the registration's contract; its result means nothing to us.
        let _ = unsafe { (self.func)(self.arg) };
    }
}

/// A queue shared by the library thread that fills it and the caller that
/// empties it.
struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    notifier: Notifier,
}

impl<T> Queue<T> {
    fn new(notifier: Notifier) -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            notifier,
        }
    }

    fn push(&self, item: T) {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(item);
        self.notifier.notify();
    }

    fn pop(&self) -> Option<T> {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }
}

// ---------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------

/// What a notify subscription queued.
enum Delivery {
    Envelope(Box<nb_envelope>),
    Error(Error),
}

/// A subscription that queues its messages and notifies instead of calling
/// back. Made by `nb_client_subscribe_notify`; freed with
/// `nb_notify_subscription_free`, which unsubscribes.
pub struct nb_notify_subscription {
    inner: *mut nb_subscription,
    /// Boxed so that its address, the callback's `user_data`, never moves.
    queue: Box<Queue<Delivery>>,
}

/// A core error rebuilt from an `nb_error` (its code, message, dataname).
fn error_copy(error: &nb_error) -> Error {
    // SAFETY: a live error; the strings are read before it goes away.
    let (code, message, dataname) = unsafe {
        let dataname = nb_error_dataname(error);
        (
            nb_error_code(error),
            std::ffi::CStr::from_ptr(nb_error_message(error))
                .to_string_lossy()
                .into_owned(),
            (!dataname.is_null()).then(|| {
                std::ffi::CStr::from_ptr(dataname)
                    .to_string_lossy()
                    .into_owned()
            }),
        )
    };
    let kind = ErrorKind::ALL
        .iter()
        .copied()
        .find(|kind| kind.c_code() == code)
        .unwrap_or(ErrorKind::InvalidArgument);
    let error = Error::new(kind, message);
    match dataname {
        Some(name) => error.with_dataname(name),
        None => error,
    }
}

/// The message callback of a notify subscription: copies the item into the
/// queue and notifies.
unsafe extern "C" fn queue_delivery(
    user_data: *mut c_void,
    envelope: *const nb_envelope,
    error: *const nb_error,
) {
    // SAFETY: `user_data` is the subscription's queue, alive until the
    // inner subscription is freed (which waits for this callback).
    let queue = unsafe { &*user_data.cast::<Queue<Delivery>>() };
    // A panic must not unwind into the subscription thread's caller.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: exactly one of the two is non-NULL and live during the call.
        if let Some(envelope) = unsafe { envelope.as_ref() } {
            let copy = nb_envelope::new(envelope.envelope.clone());
            queue.push(Delivery::Envelope(Box::new(copy)));
        } else if let Some(error) = unsafe { error.as_ref() } {
            queue.push(Delivery::Error(error_copy(error)));
        }
    }));
}

/// Subscribes to `subject` (wildcards allowed), as a member of queue group
/// `group` unless it is NULL, and queues every message instead of calling
/// back: after queueing, the library calls `notify(notify_arg)` from its own
/// thread (see `nb_notify_fn`); the caller then takes the messages with
/// `nb_notify_subscription_pop` on its own thread. `options` (may be NULL)
/// are copied.
///
/// `notify` and `notify_arg` must stay valid until
/// `nb_notify_subscription_free` returns; after it returns `notify` is never
/// called again. On success writes the subscription to `*out_subscription`.
/// Blocks until the server has the subscription, as `nb_client_subscribe`.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_subscribe_notify(
    client: *const nb_client,
    subject: *const c_char,
    group: *const c_char,
    options: *const nb_receive_options,
    notify: nb_notify_fn,
    notify_arg: *mut c_void,
    out_subscription: *mut *mut nb_notify_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    let mut subscribe_error: *mut nb_error = std::ptr::null_mut();
    let status = boundary(out_error, || {
        args::out_param(out_subscription, "out_subscription")?;
        let queue = Box::new(Queue::new(Notifier::new(notify, notify_arg)?));
        let user_data = std::ptr::from_ref::<Queue<Delivery>>(&queue)
            .cast_mut()
            .cast();
        let mut inner: *mut nb_subscription = std::ptr::null_mut();
        // SAFETY: arguments per this function's contract; the queue outlives
        // the inner subscription (freed first in nb_notify_subscription_free).
        let status = unsafe {
            if group.is_null() {
                nb_client_subscribe_callback(
                    client,
                    subject,
                    options,
                    Some(queue_delivery),
                    user_data,
                    &mut inner,
                    &mut subscribe_error,
                )
            } else {
                nb_client_queue_subscribe_callback(
                    client,
                    subject,
                    group,
                    options,
                    Some(queue_delivery),
                    user_data,
                    &mut inner,
                    &mut subscribe_error,
                )
            }
        };
        if status != NB_OK {
            return Ok(());
        }
        let subscription = Box::new(nb_notify_subscription { inner, queue });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_subscription, Box::into_raw(subscription)) };
        Ok(())
    });
    if !subscribe_error.is_null() {
        // Hand the inner call's error on as this call's.
        // SAFETY: a live error made by the inner call.
        let code = unsafe { nb_error_code(subscribe_error) };
        if out_error.is_null() {
            // SAFETY: made by the inner call, freed once.
            unsafe { crate::error::nb_error_free(subscribe_error) };
        } else {
            // SAFETY: the caller's storage for one error pointer.
            unsafe { out_error.write(subscribe_error) };
        }
        return code;
    }
    status
}

/// Takes the next queued message of a notify subscription without waiting.
///
/// Returns `NB_OK` and writes the envelope to `*out_envelope` (free with
/// `nb_envelope_free`), or NULL when nothing is queued (wait for the next
/// notification). A message that could not be decoded fails with its
/// decoding error (the next call takes the next message); `NB_ERR_CLOSED`
/// means the subscription ended (its client closed), and every later call
/// fails the same way. Use one subscription from one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_notify_subscription_pop(
    subscription: *const nb_notify_subscription,
    out_envelope: *mut *mut nb_envelope,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live subscription, per the contract.
        let subscription = unsafe { args::required(subscription, "subscription") }?;
        args::out_param(out_envelope, "out_envelope")?;
        let queue = &subscription.queue;
        match queue.pop() {
            None => {
                // SAFETY: checked non-NULL above.
                unsafe { args::write(out_envelope, std::ptr::null_mut()) };
                Ok(())
            }
            Some(Delivery::Envelope(envelope)) => {
                // SAFETY: as above.
                unsafe { args::write(out_envelope, Box::into_raw(envelope)) };
                Ok(())
            }
            Some(Delivery::Error(err)) => {
                if err.kind().c_code() == NB_ERR_CLOSED {
                    // The end stays queued: every later pop reports it too.
                    let again = Error::new(ErrorKind::Closed, err.full_message());
                    queue
                        .items
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_front(Delivery::Error(again));
                }
                Err(err)
            }
        }
    })
}

/// Unsubscribes and releases a notify subscription with the messages still
/// queued. NULL is accepted and ignored. Once it returns, `notify` is never
/// called again for it, so its `notify_arg` may be released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_notify_subscription_free(subscription: *mut nb_notify_subscription) {
    if subscription.is_null() {
        return;
    }
    crate::error::value_boundary((), || {
        // SAFETY: a pointer from Box::into_raw in nb_client_subscribe_notify,
        // freed once.
        let subscription = unsafe { Box::from_raw(subscription) };
        // SAFETY: the inner subscription, freed once; this waits for a running
        // callback, after which the queue is no longer used.
        unsafe { nb_subscription_free(subscription.inner) };
        drop(subscription);
    })
}

// ---------------------------------------------------------------------------
// Handler requests
// ---------------------------------------------------------------------------

/// The answer to a handler request: bytes, or an error message.
type Answer = Result<Vec<u8>, String>;

/// Upload and download handler calls waiting for the caller, who is told by
/// a notification. Create with `nb_handler_queue_new`, attach to options with
/// `nb_send_options_set_upload_queue` / `nb_receive_options_set_download_queue`,
/// free with `nb_handler_queue_free`. Thread-safe.
pub struct nb_handler_queue {
    queue: Queue<Box<nb_handler_request>>,
}

/// One call of an upload or download handler, waiting for its answer. Taken
/// with `nb_handler_queue_pop`; read with the `nb_handler_request_*`
/// accessors; answered (and released) with `nb_handler_respond`, or released
/// unanswered with `nb_handler_request_free` (the call then fails). The
/// library thread that made it stays blocked until then.
pub struct nb_handler_request {
    kind: i32,
    url: CString,
    dataname: Option<CString>,
    /// The payload bytes of an upload: the library's, valid while the
    /// blocked library thread waits for this request's answer.
    data: *const u8,
    len: usize,
    max_retries: u32,
    base_delay_ms: u64,
    max_delay_ms: u64,
    reply: Option<SyncSender<Answer>>,
}
// SAFETY: `data` points at bytes that stay valid and unchanged while the
// request exists (the library thread owning them waits for its answer).
unsafe impl Send for nb_handler_request {}

/// `nb_handler_request_kind` of an upload request.
pub const NB_HANDLER_UPLOAD: i32 = 1;
/// `nb_handler_request_kind` of a download request.
pub const NB_HANDLER_DOWNLOAD: i32 = 2;

/// Queues a request, notifies, and blocks until it is answered.
fn ask(queue: &nb_handler_queue, mut request: nb_handler_request) -> Answer {
    let (sender, receiver) = sync_channel(1);
    request.reply = Some(sender);
    queue.queue.push(Box::new(request));
    receiver
        .recv()
        .unwrap_or_else(|_| Err("the handler request was released without an answer".to_owned()))
}

/// Writes an answer into a handler's buffer and gives its status.
fn answer_into(answer: Answer, out: *mut nb_buffer) -> nb_status {
    let (status, bytes) = match answer {
        Ok(bytes) => (NB_OK, bytes),
        Err(message) => (crate::error::NB_ERR_HANDLER, message.into_bytes()),
    };
    // SAFETY: the buffer of the running callback; bytes live for the call.
    let appended =
        unsafe { nb_buffer_append(out, bytes.as_ptr(), bytes.len(), std::ptr::null_mut()) };
    if appended != NB_OK { appended } else { status }
}

unsafe extern "C" fn queue_upload(
    user_data: *mut c_void,
    fileserver_url: *const c_char,
    dataname: *const c_char,
    data: *const u8,
    len: usize,
    out_url: *mut nb_buffer,
) -> nb_status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the queue registered with the options, alive as long as
        // they are (the registration's contract); strings live for the call.
        let (queue, url, name) = unsafe {
            (
                &*user_data.cast::<nb_handler_queue>(),
                std::ffi::CStr::from_ptr(fileserver_url).to_owned(),
                std::ffi::CStr::from_ptr(dataname).to_owned(),
            )
        };
        let answer = ask(
            queue,
            nb_handler_request {
                kind: NB_HANDLER_UPLOAD,
                url,
                dataname: Some(name),
                data,
                len,
                max_retries: 0,
                base_delay_ms: 0,
                max_delay_ms: 0,
                reply: None,
            },
        );
        answer_into(answer, out_url)
    }))
    .unwrap_or(crate::error::NB_ERR_INTERNAL)
}

unsafe extern "C" fn queue_download(
    user_data: *mut c_void,
    url: *const c_char,
    max_retries: u32,
    base_delay_ms: u64,
    max_delay_ms: u64,
    out_bytes: *mut nb_buffer,
) -> nb_status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: as in queue_upload.
        let (queue, url) = unsafe {
            (
                &*user_data.cast::<nb_handler_queue>(),
                std::ffi::CStr::from_ptr(url).to_owned(),
            )
        };
        let answer = ask(
            queue,
            nb_handler_request {
                kind: NB_HANDLER_DOWNLOAD,
                url,
                dataname: None,
                data: std::ptr::null(),
                len: 0,
                max_retries,
                base_delay_ms,
                max_delay_ms,
                reply: None,
            },
        );
        answer_into(answer, out_bytes)
    }))
    .unwrap_or(crate::error::NB_ERR_INTERNAL)
}

/// Creates a handler queue: each handler call queues an `nb_handler_request`
/// and then calls `notify(notify_arg)` from a library thread (see
/// `nb_notify_fn`).
///
/// On success writes the queue to `*out_queue` (free with
/// `nb_handler_queue_free`). `notify` and `notify_arg` must stay valid until
/// then.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_queue_new(
    notify: nb_notify_fn,
    notify_arg: *mut c_void,
    out_queue: *mut *mut nb_handler_queue,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_queue, "out_queue")?;
        let queue = Box::new(nb_handler_queue {
            queue: Queue::new(Notifier::new(notify, notify_arg)?),
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_queue, Box::into_raw(queue)) };
        Ok(())
    })
}

/// Releases a handler queue. NULL is accepted and ignored. Requests still
/// queued are released unanswered (their calls fail with `NB_ERR_HANDLER`).
/// Must not be called while options it is attached to are in use, nor
/// before they are freed or given another handler.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_queue_free(queue: *mut nb_handler_queue) {
    if !queue.is_null() {
        // SAFETY: a pointer from Box::into_raw in nb_handler_queue_new, freed once.
        crate::error::value_boundary((), || drop(unsafe { Box::from_raw(queue) }));
    }
}

/// Takes the next waiting handler request without blocking; NULL when none
/// waits. The request belongs to the caller until it is answered with
/// `nb_handler_respond` or released with `nb_handler_request_free`.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_queue_pop(
    queue: *const nb_handler_queue,
) -> *mut nb_handler_request {
    crate::error::value_boundary(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live queue.
        match unsafe { queue.as_ref() } {
            Some(queue) => queue
                .queue
                .pop()
                .map_or(std::ptr::null_mut(), Box::into_raw),
            None => std::ptr::null_mut(),
        }
    })
}

/// Stores link payloads by queueing `NB_HANDLER_UPLOAD` requests on `queue`
/// (answered with the payload's URL) instead of a built-in store; it
/// overrides fileserver_url and the client's default store, as
/// `nb_send_options_set_upload_handler` does. `queue` must stay alive as long
/// as these options (or calls using them) exist.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_send_options_set_upload_queue(
    options: *mut nb_send_options,
    queue: *const nb_handler_queue,
    out_error: *mut *mut nb_error,
) -> nb_status {
    if queue.is_null() {
        return boundary(out_error, || Err(invalid("queue is NULL")));
    }
    // SAFETY: per this function's contract; the queue is the user_data.
    unsafe {
        nb_send_options_set_upload_handler(
            options,
            Some(queue_upload),
            queue.cast_mut().cast(),
            out_error,
        )
    }
}

/// Fetches link payloads by queueing `NB_HANDLER_DOWNLOAD` requests on
/// `queue` (answered with the payload's bytes) instead of the built-in
/// fetchers. `queue` must stay alive as long as these options, calls using
/// them, or subscriptions made with them exist.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_receive_options_set_download_queue(
    options: *mut nb_receive_options,
    queue: *const nb_handler_queue,
    out_error: *mut *mut nb_error,
) -> nb_status {
    if queue.is_null() {
        return boundary(out_error, || Err(invalid("queue is NULL")));
    }
    // SAFETY: as above.
    unsafe {
        nb_receive_options_set_download_handler(
            options,
            Some(queue_download),
            queue.cast_mut().cast(),
            out_error,
        )
    }
}

/// `NB_HANDLER_UPLOAD` or `NB_HANDLER_DOWNLOAD`; 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_request_kind(request: *const nb_handler_request) -> i32 {
    // SAFETY: NULL or a live request.
    unsafe { request.as_ref() }.map_or(0, |r| r.kind)
}

/// An upload's `fileserver_url` (`""` when none was set), or a download's
/// link URL. Owned by the request; NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_request_url(
    request: *const nb_handler_request,
) -> *const c_char {
    // SAFETY: NULL or a live request.
    unsafe { request.as_ref() }.map_or(std::ptr::null(), |r| r.url.as_ptr())
}

/// An upload's dataname; NULL for a download or NULL. Owned by the request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_request_dataname(
    request: *const nb_handler_request,
) -> *const c_char {
    // SAFETY: NULL or a live request.
    unsafe { request.as_ref() }
        .and_then(|r| r.dataname.as_ref())
        .map_or(std::ptr::null(), |name| name.as_ptr())
}

/// An upload's serialized payload bytes: writes their length to `*out_len`
/// (when not NULL) and returns them (NULL for a download). Owned by the
/// library, valid until the request is answered or released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_request_data(
    request: *const nb_handler_request,
    out_len: *mut usize,
) -> *const u8 {
    // SAFETY: NULL or a live request.
    let (data, len) =
        unsafe { request.as_ref() }.map_or((std::ptr::null(), 0), |r| (r.data, r.len));
    // SAFETY: NULL or storage for one size_t.
    unsafe { args::write(out_len, len) };
    data
}

/// A download's retry settings (from its receive options), each written when
/// its pointer is not NULL; zeros for an upload or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_request_retries(
    request: *const nb_handler_request,
    out_max_retries: *mut u32,
    out_base_delay_ms: *mut u64,
    out_max_delay_ms: *mut u64,
) {
    // SAFETY: NULL or a live request.
    let request = unsafe { request.as_ref() };
    let (retries, base, max) = request.map_or((0, 0, 0), |r| {
        (r.max_retries, r.base_delay_ms, r.max_delay_ms)
    });
    // SAFETY: each NULL or storage for one value.
    unsafe {
        args::write(out_max_retries, retries);
        args::write(out_base_delay_ms, base);
        args::write(out_max_delay_ms, max);
    }
}

/// Answers a handler request and releases it (in every case, also when this
/// fails). With `status` `NB_OK`, `data`/`len` are the answer: an upload's URL
/// (UTF-8, no NUL) or a download's bytes; otherwise they are an error message
/// and the handler's call fails with `NB_ERR_HANDLER` carrying it. The bytes
/// are copied. Fails with `NB_ERR_INVALID_ARGUMENT` for a NULL request, or
/// NULL `data` with a non-zero `len` (the call then fails too).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_respond(
    request: *mut nb_handler_request,
    status: nb_status,
    data: *const u8,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        if request.is_null() {
            return Err(invalid("request is NULL"));
        }
        // SAFETY: a pointer from nb_handler_queue_pop, released once.
        let mut request = unsafe { Box::from_raw(request) };
        let reply = request.reply.take();
        // SAFETY: per the contract.
        let bytes = unsafe { args::bytes(data, len, "data") }?.to_vec();
        let answer = if status == NB_OK {
            Ok(bytes)
        } else {
            Err(String::from_utf8_lossy(&bytes).into_owned())
        };
        if let Some(reply) = reply {
            // The waiting thread may be gone only if it panicked.
            let _ = reply.send(answer);
        }
        Ok(())
    })
}

/// Releases a handler request without answering it: its call fails with
/// `NB_ERR_HANDLER`. NULL is accepted and ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_handler_request_free(request: *mut nb_handler_request) {
    if !request.is_null() {
        // SAFETY: a pointer from nb_handler_queue_pop, released once.
        crate::error::value_boundary((), || drop(unsafe { Box::from_raw(request) }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    unsafe extern "C" fn count(arg: *mut c_void) -> c_int {
        // SAFETY: the test passes a live AtomicUsize.
        unsafe { &*arg.cast::<AtomicUsize>() }.fetch_add(1, Ordering::SeqCst);
        0
    }

    #[test]
    fn a_request_is_answered_through_the_queue() {
        let calls = AtomicUsize::new(0);
        let mut queue: *mut nb_handler_queue = std::ptr::null_mut();
        let arg = std::ptr::from_ref(&calls).cast_mut().cast();
        // SAFETY: valid arguments; everything is freed below.
        unsafe {
            assert_eq!(
                nb_handler_queue_new(Some(count), arg, &mut queue, std::ptr::null_mut()),
                NB_OK
            );
            assert!(nb_handler_queue_pop(queue).is_null());
            let q = &*queue;
            let asker = std::thread::scope(|scope| {
                let handle = scope.spawn(|| {
                    ask(
                        q,
                        nb_handler_request {
                            kind: NB_HANDLER_DOWNLOAD,
                            url: CString::new("http://x/1").unwrap(),
                            dataname: None,
                            data: std::ptr::null(),
                            len: 0,
                            max_retries: 3,
                            base_delay_ms: 1,
                            max_delay_ms: 2,
                            reply: None,
                        },
                    )
                });
                let request = loop {
                    let request = nb_handler_queue_pop(queue);
                    if !request.is_null() {
                        break request;
                    }
                    std::thread::yield_now();
                };
                assert_eq!(nb_handler_request_kind(request), NB_HANDLER_DOWNLOAD);
                let mut retries = 0;
                nb_handler_request_retries(
                    request,
                    &mut retries,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                );
                assert_eq!(retries, 3);
                assert_eq!(
                    nb_handler_respond(request, NB_OK, b"abc".as_ptr(), 3, std::ptr::null_mut()),
                    NB_OK
                );
                handle.join().unwrap()
            });
            assert_eq!(asker, Ok(b"abc".to_vec()));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            nb_handler_queue_free(queue);
        }
    }

    #[test]
    fn a_released_request_fails_its_call() {
        let calls = AtomicUsize::new(0);
        let mut queue: *mut nb_handler_queue = std::ptr::null_mut();
        let arg = std::ptr::from_ref(&calls).cast_mut().cast();
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                nb_handler_queue_new(Some(count), arg, &mut queue, std::ptr::null_mut()),
                NB_OK
            );
            let q = &*queue;
            let answer = std::thread::scope(|scope| {
                let handle = scope.spawn(|| {
                    ask(
                        q,
                        nb_handler_request {
                            kind: NB_HANDLER_UPLOAD,
                            url: CString::new("").unwrap(),
                            dataname: Some(CString::new("doc").unwrap()),
                            data: b"xyz".as_ptr(),
                            len: 3,
                            max_retries: 0,
                            base_delay_ms: 0,
                            max_delay_ms: 0,
                            reply: None,
                        },
                    )
                });
                let request = loop {
                    let request = nb_handler_queue_pop(queue);
                    if !request.is_null() {
                        break request;
                    }
                    std::thread::yield_now();
                };
                let mut len = 0;
                let data = nb_handler_request_data(request, &mut len);
                assert_eq!(std::slice::from_raw_parts(data, len), b"xyz");
                nb_handler_request_free(request);
                handle.join().unwrap()
            });
            assert!(answer.unwrap_err().contains("without an answer"));
            assert_eq!(
                nb_handler_queue_new(None, arg, &mut queue, std::ptr::null_mut()),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
            nb_handler_queue_free(q as *const _ as *mut _);
        }
    }

    #[test]
    fn null_arguments_are_refused() {
        // SAFETY: NULLs are part of the contract.
        unsafe {
            assert_eq!(
                nb_handler_respond(
                    std::ptr::null_mut(),
                    NB_OK,
                    std::ptr::null(),
                    0,
                    std::ptr::null_mut()
                ),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
            assert_eq!(nb_handler_request_kind(std::ptr::null()), 0);
            assert!(nb_handler_request_url(std::ptr::null()).is_null());
            let mut out: *mut nb_envelope = std::ptr::null_mut();
            assert_eq!(
                nb_notify_subscription_pop(std::ptr::null(), &mut out, std::ptr::null_mut()),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
        }
    }

    #[test]
    fn copied_errors_keep_code_and_dataname() {
        let error =
            nb_error::from_core(&Error::new(ErrorKind::Integrity, "bad").with_dataname("pic"));
        let copy = error_copy(&error);
        assert_eq!(copy.kind(), ErrorKind::Integrity);
        assert_eq!(copy.dataname(), Some("pic"));
    }
}
