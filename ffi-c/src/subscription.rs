//! Subscriptions for C: pull (`nb_subscription_next` with a timeout) or push
//! (a callback called on a thread the subscription owns).
//!
//! The callback thread is a plain OS thread, not a runtime thread, so a
//! callback may make any blocking natsbridge call, such as answering a
//! request with `nb_client_reply`.
//!
//! Both are the core's [`Subscription`]: a timed-out `nb_subscription_next`
//! loses no message, and `nb_subscription_unsubscribe` /
//! `nb_subscription_drain` follow the core's one rule (unsubscribe ends at
//! once and drops what was buffered; drain delivers what had arrived, then
//! ends), from any thread, also while another thread waits in
//! `nb_subscription_next`.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use natsbridge::{Error, ErrorKind, ReceiveOptions, Subscription, SubscriptionHandle, runtime};

use crate::args;
use crate::client::nb_client;
use crate::envelope::nb_envelope;
use crate::error::{boundary, invalid, nb_error, nb_status};
use crate::handlers::InFlight;
use crate::options::{nb_receive_options, receive_options};

/// The message of the `NB_ERR_CLOSED` error that ends a subscription.
pub(crate) const ENDED: &str =
    "the subscription ended: unsubscribed, drained, or its client was closed";

/// Called for every message of a callback subscription, on a thread the
/// subscription owns, one message at a time.
///
/// Exactly one of `envelope` and `error` is non-NULL. `envelope` is a
/// decoded message; `error` reports a message that could not be decoded
/// (the subscription goes on) or, with code `NB_ERR_CLOSED`, the end of the
/// subscription (the last call): its client closed, or
/// `nb_subscription_unsubscribe` / `nb_subscription_drain` ended it. After
/// `nb_subscription_free` no call comes, not even that one. Both are owned by
/// the library and valid only until the callback returns: copy what you
/// need. The callback may call any natsbridge function, including
/// `nb_client_reply` with `envelope` and `nb_subscription_free` on its own
/// subscription.
pub type nb_message_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        envelope: *const nb_envelope,
        error: *const nb_error,
    ),
>;

/// A subscription to a subject. Made by `nb_client_subscribe` (pull),
/// `nb_client_subscribe_callback` (push) or their queue-group forms; freed
/// with `nb_subscription_free`, which unsubscribes.
pub struct nb_subscription {
    mode: Mode,
    /// Stops the subscription from any thread.
    stop: SubscriptionHandle,
    /// Download callbacks of the subscription's options still running.
    inflight: Arc<InFlight>,
}

enum Mode {
    Pull(Mutex<Subscription>),
    Push {
        /// Set by `nb_subscription_free`: the end is then not reported.
        freeing: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
        thread_id: ThreadId,
    },
}

/// The caller's callback and `user_data`, moved to the callback thread.
struct Callback {
    func: unsafe extern "C" fn(*mut c_void, *const nb_envelope, *const nb_error),
    user_data: *mut c_void,
}
// SAFETY: the header requires user_data to be usable from the subscription's
// thread.
unsafe impl Send for Callback {}

impl Callback {
    fn deliver(&self, item: natsbridge::Result<natsbridge::ReceivedEnvelope>) {
        match item {
            Ok(envelope) => {
                let envelope = nb_envelope::new(envelope);
                // SAFETY: the registered callback; the envelope lives until it returns.
                unsafe { (self.func)(self.user_data, &envelope, std::ptr::null()) };
            }
            Err(err) => {
                let error = nb_error::from_core(&err);
                // SAFETY: as above, for the error.
                unsafe { (self.func)(self.user_data, std::ptr::null(), &error) };
            }
        }
    }
}

/// Opens a core subscription (plain or queue group) and waits until the
/// server has it: a C caller expects that once the call returns, messages
/// any client publishes reach the subscription.
fn open(
    client: &nb_client,
    subject: &str,
    group: Option<&str>,
    options: ReceiveOptions,
) -> natsbridge::Result<Subscription> {
    let bridge = &client.bridge;
    runtime::block_on(async {
        let subscription = match group {
            Some(group) => bridge.queue_subscribe(subject, group, options).await?,
            None => bridge.subscribe(subject, options).await?,
        };
        // The server answers the flush's PING after it processed the SUB.
        bridge.flush().await?;
        Ok(subscription)
    })?
}

/// [`open`] with a copy of the caller's receive options (NULL: the
/// defaults), and the tracker of their download callbacks still running.
///
/// # Safety
/// `options` is NULL or live.
pub(crate) unsafe fn open_with(
    client: &nb_client,
    subject: &str,
    group: Option<&str>,
    options: *const nb_receive_options,
) -> natsbridge::Result<(Subscription, Arc<InFlight>)> {
    let inflight = InFlight::new();
    // SAFETY: NULL or live options, per the contract; copied.
    let options = unsafe { receive_options(options, &inflight) };
    let subscription = open(client, subject, group, options)?;
    Ok((subscription, inflight))
}

/// Shared body of the subscribe functions.
///
/// # Safety
/// Pointers per the header of the exported functions.
#[allow(clippy::too_many_arguments)]
unsafe fn subscribe(
    client: *const nb_client,
    subject: *const c_char,
    group: *const c_char,
    grouped: bool,
    options: *const nb_receive_options,
    callback: nb_message_callback,
    user_data: *mut c_void,
    pushed: bool,
    out_subscription: *mut *mut nb_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles and strings per the header.
        let client = unsafe { args::required(client, "client") }?;
        let subject = unsafe { args::text(subject, "subject") }?;
        let group = if grouped {
            Some(unsafe { args::text(group, "group") }?)
        } else {
            None
        };
        args::out_param(out_subscription, "out_subscription")?;
        let callback = if pushed {
            let func = callback.ok_or_else(|| invalid("callback is NULL"))?;
            Some(Callback { func, user_data })
        } else {
            None
        };
        // SAFETY: NULL or live options.
        let (subscription, inflight) = unsafe { open_with(client, subject, group, options) }?;
        let stop = subscription.stop_handle();
        let mode = match callback {
            None => Mode::Pull(Mutex::new(subscription)),
            Some(callback) => start_thread(subscription, callback)?,
        };
        let handle = Box::into_raw(Box::new(nb_subscription {
            mode,
            stop,
            inflight,
        }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_subscription, handle) };
        Ok(())
    })
}

/// Starts the thread that delivers a push subscription's messages.
fn start_thread(mut subscription: Subscription, callback: Callback) -> natsbridge::Result<Mode> {
    let freeing = Arc::new(AtomicBool::new(false));
    let freed = freeing.clone();
    let thread = std::thread::Builder::new()
        .name("natsbridge-subscription".to_owned())
        .spawn(move || {
            // block_on refuses only inside a runtime, which this plain
            // thread never is; treat that like the end.
            while let Ok(Some(item)) = runtime::block_on(subscription.next()) {
                if freed.load(Ordering::Acquire) {
                    return;
                }
                callback.deliver(item);
            }
            if !freed.load(Ordering::Acquire) {
                callback.deliver(Err(Error::new(ErrorKind::Closed, ENDED)));
            }
        })
        .map_err(|err| {
            Error::new(
                ErrorKind::Io,
                "cannot start the subscription's callback thread",
            )
            .with_source(err)
        })?;
    Ok(Mode::Push {
        freeing,
        thread_id: thread.thread().id(),
        thread: Some(thread),
    })
}

/// Subscribes to `subject` (wildcards `*` and `>` allowed) for pulling
/// messages with `nb_subscription_next`. `options` (may be NULL) are copied.
///
/// On success writes the subscription to `*out_subscription` (free with
/// `nb_subscription_free`). Blocks until the server has the subscription, so
/// every message published after this returns, by any client, reaches it;
/// they are buffered until pulled. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_subscribe(
    client: *const nb_client,
    subject: *const c_char,
    options: *const nb_receive_options,
    out_subscription: *mut *mut nb_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: pointers per the header.
    unsafe {
        subscribe(
            client,
            subject,
            std::ptr::null(),
            false,
            options,
            None,
            std::ptr::null_mut(),
            false,
            out_subscription,
            out_error,
        )
    }
}

/// As `nb_client_subscribe`, as a member of queue group `group`: each
/// message goes to one member of the group.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_queue_subscribe(
    client: *const nb_client,
    subject: *const c_char,
    group: *const c_char,
    options: *const nb_receive_options,
    out_subscription: *mut *mut nb_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: pointers per the header.
    unsafe {
        subscribe(
            client,
            subject,
            group,
            true,
            options,
            None,
            std::ptr::null_mut(),
            false,
            out_subscription,
            out_error,
        )
    }
}

/// Subscribes to `subject` and calls `callback(user_data, envelope, error)`
/// for every message, on a thread the subscription owns (see
/// `nb_message_callback`). `options` (may be NULL) are copied.
///
/// `user_data` must stay valid, and be usable from that thread, until
/// `nb_subscription_free` returns; after it returns the callback is never
/// called again. On success writes the subscription to `*out_subscription`.
/// Blocks until the server has the subscription, as `nb_client_subscribe`.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_subscribe_callback(
    client: *const nb_client,
    subject: *const c_char,
    options: *const nb_receive_options,
    callback: nb_message_callback,
    user_data: *mut c_void,
    out_subscription: *mut *mut nb_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: pointers per the header.
    unsafe {
        subscribe(
            client,
            subject,
            std::ptr::null(),
            false,
            options,
            callback,
            user_data,
            true,
            out_subscription,
            out_error,
        )
    }
}

/// As `nb_client_subscribe_callback`, as a member of queue group `group`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_queue_subscribe_callback(
    client: *const nb_client,
    subject: *const c_char,
    group: *const c_char,
    options: *const nb_receive_options,
    callback: nb_message_callback,
    user_data: *mut c_void,
    out_subscription: *mut *mut nb_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: pointers per the header.
    unsafe {
        subscribe(
            client,
            subject,
            group,
            true,
            options,
            callback,
            user_data,
            true,
            out_subscription,
            out_error,
        )
    }
}

/// Waits up to `timeout_ms` milliseconds for the next message of a pull
/// subscription.
///
/// On success writes the decoded envelope to `*out_envelope` (free with
/// `nb_envelope_free`). Fails with `NB_ERR_TIMEOUT` when nothing arrived in
/// time (no message is lost by that: the next call gets it),
/// `NB_ERR_CLOSED` when the subscription ended (unsubscribed, drained and
/// delivered, or its client closed), `NB_ERR_INVALID_ARGUMENT` on a callback
/// subscription, or with the message's decoding error (that message is
/// skipped; the next call gets the next one). Calls on one subscription from
/// several threads are serialized.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_subscription_next(
    subscription: *const nb_subscription,
    timeout_ms: u64,
    out_envelope: *mut *mut nb_envelope,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live subscription.
        let subscription = unsafe { args::required(subscription, "subscription") }?;
        args::out_param(out_envelope, "out_envelope")?;
        let Mode::Pull(subscription) = &subscription.mode else {
            return Err(invalid(
                "nb_subscription_next on a callback subscription: its messages go to the callback",
            ));
        };
        let mut subscription = subscription.lock().unwrap_or_else(|p| p.into_inner());
        let next = runtime::block_on(subscription.next_timeout(Duration::from_millis(timeout_ms)));
        let envelope = next??.ok_or_else(|| Error::new(ErrorKind::Closed, ENDED))?;
        let handle = Box::into_raw(Box::new(nb_envelope::new(envelope)));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_envelope, handle) };
        Ok(())
    })
}

/// Ends a subscription at once: a pending `nb_subscription_next` (on another
/// thread) and every later one fail with `NB_ERR_CLOSED`, messages received
/// but not yet taken are dropped, and a callback subscription's callback gets
/// its last call (`NB_ERR_CLOSED`) and no message after it. Then tells the
/// server; fails only when that could not be done (the connection is gone,
/// which ends the subscription anyway). Calling it again does nothing. The
/// subscription must still be freed with `nb_subscription_free`.
/// Thread-safe, also while another thread waits in `nb_subscription_next`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_subscription_unsubscribe(
    subscription: *const nb_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live subscription.
        let subscription = unsafe { args::required(subscription, "subscription") }?;
        runtime::block_on(subscription.stop.unsubscribe())?
    })
}

/// Unsubscribes at the server, then lets the subscription deliver the
/// messages the server had already sent (to `nb_subscription_next` or the
/// callback), then end with `NB_ERR_CLOSED`. Returns once the server was
/// told. Does nothing after `nb_subscription_unsubscribe` or a first drain.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_subscription_drain(
    subscription: *const nb_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live subscription.
        let subscription = unsafe { args::required(subscription, "subscription") }?;
        runtime::block_on(subscription.stop.drain())?
    })
}

/// Unsubscribes and releases a subscription. NULL is accepted and ignored.
///
/// For a callback subscription, waits for a running callback to return, so
/// that once this returns the callback is never called again and its
/// `user_data` may be freed. Called from inside its own callback, it does
/// not wait (the callback is running) and the callback is not called again
/// after it returns. Elsewhere, do not call it while holding a lock the
/// callback takes: it would wait for the callback forever. Must not race
/// with `nb_subscription_next` on the same subscription (stop a waiting
/// thread with `nb_subscription_unsubscribe` first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_subscription_free(subscription: *mut nb_subscription) {
    if subscription.is_null() {
        return;
    }
    // SAFETY: a handle this library returned, freed once.
    let subscription = unsafe { Box::from_raw(subscription) };
    crate::error::value_boundary((), move || {
        let nb_subscription {
            mode,
            stop,
            inflight,
        } = *subscription;
        if let Mode::Push { freeing, .. } = &mode {
            freeing.store(true, Ordering::Release);
        }
        // Unsubscribing fails only when the connection is gone, which has
        // ended the subscription anyway; block_on cannot fail here unless
        // called from inside a runtime (a C caller never is).
        let _ = runtime::block_on(stop.unsubscribe());
        match mode {
            Mode::Pull(subscription) => drop(subscription),
            Mode::Push {
                mut thread,
                thread_id,
                ..
            } => {
                if std::thread::current().id() != thread_id
                    && let Some(thread) = thread.take()
                {
                    let _ = thread.join();
                }
            }
        }
        // A download callback abandoned by the stop still holds user_data.
        inflight.wait_idle();
    });
}
