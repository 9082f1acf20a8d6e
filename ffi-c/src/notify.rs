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
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use natsbridge::{
    Error, ErrorKind, HeldPlace, ReceivedEnvelope, Subscription, SubscriptionHandle, runtime,
};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::args;
use crate::client::nb_client;
use crate::envelope::nb_envelope;
use crate::error::{NB_ERR_CLOSED, NB_OK, boundary, invalid, nb_error, nb_status};
use crate::handlers::InFlight;
use crate::handlers::{nb_buffer, nb_buffer_append};
use crate::options::{
    nb_receive_options, nb_receive_options_set_download_handler, nb_send_options,
    nb_send_options_set_upload_handler,
};
use crate::subscription::{ENDED, open_with};

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

/// How many decoded envelopes a notify subscription queues for its caller
/// before it takes no more from the core's subscription (which then holds
/// up to as many again in its channel, and the rest in the NATS client's
/// buffer, where the slow-consumer limit applies).
const QUEUED_AHEAD: usize = natsbridge::RESULTS_AHEAD;

/// A full queue wakes its delivery task again only once the caller has taken
/// it down to this many: the task then refills it in one burst. Waking it
/// on every pop would cost a thread wake-up per message whenever the caller
/// is the slower side (a caller working through a backlog).
const REFILL_AT: usize = QUEUED_AHEAD / 2;

/// What a notify subscription queued: an envelope with its place in the
/// core's memory bound (a heavy one keeps the next heavy one back until the
/// caller takes it), or an error. The envelope's C strings are made when the
/// caller takes it, on the caller's thread, which also frees them.
enum Delivery {
    Envelope(Box<ReceivedEnvelope>, HeldPlace),
    Error(Error),
}

/// A notify subscription's queue, filled by its delivery task and emptied by
/// the caller.
struct Deliveries {
    state: Mutex<DeliveryState>,
    notifier: Notifier,
    /// Woken when the caller has taken the queue down to [`REFILL_AT`] or
    /// frees the subscription.
    room: Notify,
}

struct DeliveryState {
    items: VecDeque<Delivery>,
    /// Set by `nb_notify_subscription_free`: nothing is queued or notified after.
    closed: bool,
}

impl Deliveries {
    fn lock(&self) -> std::sync::MutexGuard<'_, DeliveryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item` and notifies the caller, unless the subscription is
    /// being freed (`false`). Notifies under the lock, so no notification
    /// comes after [`Deliveries::close`] returns.
    fn push(&self, item: Delivery) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.items.push_back(item);
        self.notifier.notify();
        true
    }

    /// Whether the queue has room for one more; `None` once closed.
    fn has_room(&self) -> Option<bool> {
        let state = self.lock();
        (!state.closed).then_some(state.items.len() < QUEUED_AHEAD)
    }

    fn pop(&self) -> Option<Delivery> {
        let (item, left) = {
            let mut state = self.lock();
            (state.items.pop_front(), state.items.len())
        };
        // Below the mark every pop notifies: a no-op while the task is not
        // waiting (the permit is already stored), so it cannot miss one.
        if item.is_some() && left <= REFILL_AT {
            self.room.notify_one();
        }
        item
    }

    /// Drops what is queued; nothing is queued or notified after it returns.
    fn close(&self) {
        let dropped = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.items)
        };
        drop(dropped);
        self.room.notify_one();
    }
}

/// Reports a panic of the delivery task as the subscription's last item,
/// so that a caller waiting for the next message is not left waiting.
struct PanicReport(Arc<Deliveries>);

impl Drop for PanicReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.push(Delivery::Error(Error::new(
                ErrorKind::Internal,
                "the notify subscription's delivery task panicked (a bug in natsbridge; please report it)",
            )));
        }
    }
}

/// The delivery task, on the library's runtime: moves each result of the
/// core's subscription into the queue (no copy), while the queue has room;
/// once it is full, waits until the caller has taken it down to
/// [`REFILL_AT`].
async fn deliver(mut subscription: Subscription, queue: Arc<Deliveries>) {
    let _report = PanicReport(queue.clone());
    loop {
        loop {
            // Made before the check: a `notify_one` in between is kept.
            let room = queue.room.notified();
            match queue.has_room() {
                None => return,
                Some(true) => break,
                Some(false) => room.await,
            }
        }
        let delivery = match subscription.next_held().await {
            Some((Ok(envelope), place)) => Delivery::Envelope(Box::new(envelope), place),
            Some((Err(err), _)) => Delivery::Error(err),
            None => {
                queue.push(Delivery::Error(Error::new(ErrorKind::Closed, ENDED)));
                return;
            }
        };
        if !queue.push(delivery) {
            return;
        }
    }
}

/// A subscription that queues its messages and notifies instead of calling
/// back. Made by `nb_client_subscribe_notify`; freed with
/// `nb_notify_subscription_free`, which unsubscribes.
///
/// No thread of its own: a task on the library's runtime takes the core
/// subscription's decoded envelopes and moves them into the queue, up to 64
/// ahead of the caller.
pub struct nb_notify_subscription {
    queue: Arc<Deliveries>,
    stop: SubscriptionHandle,
    task: AbortHandle,
    /// Download callbacks of the subscription's options still running.
    inflight: Arc<InFlight>,
}

/// Subscribes to `subject` (wildcards allowed), as a member of queue group
/// `group` unless it is NULL, and queues every message instead of calling
/// back: after queueing, the library calls `notify(notify_arg)` from its own
/// thread (see `nb_notify_fn`); the caller then takes the messages with
/// `nb_notify_subscription_pop` on its own thread. Up to 64 decoded messages
/// wait in the queue; once it is full the library takes no more until the
/// caller has taken it down to 32 (the rest wait in the NATS client's
/// buffer). `options` (may be NULL) are copied.
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
    boundary(out_error, || {
        // SAFETY: NULL or live handles and strings per the header.
        let client = unsafe { args::required(client, "client") }?;
        let subject = unsafe { args::text(subject, "subject") }?;
        let group = if group.is_null() {
            None
        } else {
            // SAFETY: as above.
            Some(unsafe { args::text(group, "group") }?)
        };
        args::out_param(out_subscription, "out_subscription")?;
        let notifier = Notifier::new(notify, notify_arg)?;
        // SAFETY: NULL or live options, per the header.
        let (subscription, inflight) = unsafe { open_with(client, subject, group, options) }?;
        let queue = Arc::new(Deliveries {
            state: Mutex::new(DeliveryState {
                items: VecDeque::new(),
                closed: false,
            }),
            notifier,
            room: Notify::new(),
        });
        let stop = subscription.stop_handle();
        let task = runtime::global()
            .spawn(deliver(subscription, queue.clone()))
            .abort_handle();
        let handle = Box::into_raw(Box::new(nb_notify_subscription {
            queue,
            stop,
            task,
            inflight,
        }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_subscription, handle) };
        Ok(())
    })
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
            // Taken: its place in the memory bound is given back.
            Some(Delivery::Envelope(envelope, _place)) => {
                let envelope = Box::new(nb_envelope::new(*envelope));
                // SAFETY: as above.
                unsafe { args::write(out_envelope, Box::into_raw(envelope)) };
                Ok(())
            }
            Some(Delivery::Error(err)) => {
                if err.kind().c_code() == NB_ERR_CLOSED {
                    // The end stays queued: every later pop reports it too.
                    let again = Error::new(ErrorKind::Closed, err.full_message());
                    queue.lock().items.push_front(Delivery::Error(again));
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
        // First: nothing is queued or notified after this.
        subscription.queue.close();
        // Unsubscribing fails only when the connection is gone, which has
        // ended the subscription anyway; a C caller is never inside a
        // runtime, so block_on does not refuse.
        let _ = runtime::block_on(subscription.stop.unsubscribe());
        subscription.task.abort();
        // A download callback abandoned by the stop still holds user_data.
        subscription.inflight.wait_idle();
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
}
