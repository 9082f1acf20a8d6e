//! JetStream consumers for C: `nb_consume_options` (the schema's `consume`
//! scope), `nb_client_durable_subscribe`, `nb_durable_subscription` (pull
//! with a timeout) and `nb_jetstream_message` (the received envelope, its
//! stream sequence and delivery count, ack / nak / term).
//!
//! Every rule is the core's [`natsbridge::jetstream`]: where a consumer
//! starts, what a message that cannot be decoded does (settled there:
//! terminated when it can never succeed, redelivered later when it may),
//! progress acks while links download. This module converts and catches.

use std::ffi::c_char;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natsbridge::jetstream::{ConsumerOptions, DurableSubscription, JetStreamAck};
use natsbridge::schema::{OptionValue, Scope};
use natsbridge::{Error, ErrorKind, runtime};

use crate::args;
use crate::client::nb_client;
use crate::envelope::nb_envelope;
use crate::error::{boundary, nb_error, nb_status, value_boundary};
use crate::handlers::InFlight;
use crate::options::{
    ByName, nb_receive_options, receive_options, set_json, set_value, text_value,
};

// ---------------------------------------------------------------- options

/// Options of a JetStream consumer (`nb_client_durable_subscribe`): the
/// stream, the durable name, where to start, the filter subject, the ack
/// wait and the delivery limit, with the core's defaults. Create with
/// `nb_consume_options_new`, free with `nb_consume_options_free`. Not
/// thread-safe while being modified; a subscription copies them.
pub struct nb_consume_options {
    options: ConsumerOptions,
}

impl ByName for nb_consume_options {
    const SCOPE: Scope = Scope::Consume;
    fn set_by_name(&mut self, name: &str, value: OptionValue) -> natsbridge::Result<()> {
        self.options = self.options.clone().set(name, value)?;
        Ok(())
    }
}

/// Creates consumer options with the core's defaults (an ephemeral consumer
/// delivering from the start of the stream, ack wait 30000 ms, at most 10
/// deliveries of one message); the stream must be set
/// (`nb_consume_options_set_stream`) before subscribing.
///
/// On success writes a new handle to `*out_options`; the caller frees it with
/// `nb_consume_options_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_new(
    out_options: *mut *mut nb_consume_options,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_options, "out_options")?;
        let options = Box::new(nb_consume_options {
            options: ConsumerOptions::ephemeral(),
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_options, Box::into_raw(options)) };
        Ok(())
    })
}

/// Releases consumer options. NULL is accepted and ignored. Subscriptions
/// made with them keep their own copy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_free(options: *mut nb_consume_options) {
    if !options.is_null() {
        // SAFETY: a handle from nb_consume_options_new, freed once.
        drop(unsafe { Box::from_raw(options) });
    }
}

/// Sets any consumer option by its schema name (`docs/options.md`, scope
/// `consume`; snake_case or camelCase) to a value given as JSON text, as
/// `nb_connect_options_set_json` does for connect options (durations in
/// milliseconds). Unknown names, values of the wrong kind and bad values
/// (`deliver` "soon", `ack_wait` 0, an empty name) are
/// `NB_ERR_INVALID_ARGUMENT`; the options are then unchanged. Both strings
/// are copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_set_json(
    options: *mut nb_consume_options,
    name: *const c_char,
    json: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_json(options, name, json, out_error)
}

/// Option `stream`: the JetStream stream to consume (required; unset by
/// default). `name` is copied; an empty one is `NB_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_set_stream(
    options: *mut nb_consume_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "stream", || unsafe {
        text_value(name, "name")
    })
}

/// Option `durable`: the durable consumer's name (unset by default: an
/// ephemeral consumer). The server keeps a durable consumer's position, so a
/// later subscription with the same name gets what was not acknowledged.
/// `name` is copied; an empty one is `NB_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_set_durable(
    options: *mut nb_consume_options,
    name: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "durable", || unsafe {
        text_value(name, "name")
    })
}

/// Option `deliver`: where a new consumer starts (default "all"): `all`,
/// `new`, `last`, `last_ack` (resume an existing durable consumer after its
/// last acknowledged message), a stream sequence number (`"42"`) or an RFC
/// 3339 time with its offset. Anything else is `NB_ERR_INVALID_ARGUMENT`.
/// `from` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_set_deliver(
    options: *mut nb_consume_options,
    from: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "deliver", || unsafe {
        text_value(from, "from")
    })
}

/// Option `filter_subject`: only messages whose subject matches `subject`
/// (wildcards allowed) are delivered (unset by default: every subject of
/// the stream). `subject` is copied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_set_filter_subject(
    options: *mut nb_consume_options,
    subject: *const c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    // SAFETY: a NUL-terminated string per the header.
    set_value(options, out_error, "filter_subject", || unsafe {
        text_value(subject, "subject")
    })
}

/// Option `ack_wait`: how long the server waits for an acknowledgement
/// before delivering a message again, in milliseconds (default 30000 ms;
/// 0 is `NB_ERR_INVALID_ARGUMENT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_set_ack_wait_ms(
    options: *mut nb_consume_options,
    wait_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "ack_wait", || {
        Ok(OptionValue::Number(wait_ms))
    })
}

/// Option `max_deliver`: how many times one message is delivered at most
/// (default 10; 0: no limit).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_consume_options_set_max_deliver(
    options: *mut nb_consume_options,
    times: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    set_value(options, out_error, "max_deliver", || {
        Ok(OptionValue::Number(times))
    })
}

// ---------------------------------------------------------------- subscription

/// A JetStream consumer's decoded envelopes, pulled with
/// `nb_durable_subscription_next`. Made by `nb_client_durable_subscribe`,
/// freed with `nb_durable_subscription_free`.
pub struct nb_durable_subscription {
    subscription: Mutex<DurableSubscription>,
    /// `true` once `nb_durable_subscription_stop` was called.
    stopped: tokio::sync::watch::Sender<bool>,
    /// Download callbacks of the receive options still running.
    inflight: Arc<InFlight>,
}

/// A message of a JetStream consumer: its decoded envelope, its stream
/// sequence and delivery count, and what settles it. Made by
/// `nb_durable_subscription_next`, freed with `nb_jetstream_message_free`
/// (which does not settle it: a message neither acknowledged nor
/// terminated is delivered again after the consumer's ack wait).
/// Thread-safe, except `nb_jetstream_message_take_envelope` (see there).
pub struct nb_jetstream_message {
    envelope: Mutex<Option<Box<nb_envelope>>>,
    ack: JetStreamAck,
}

fn closed() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the durable subscription was stopped (nb_durable_subscription_stop)",
    )
}

/// Opens a JetStream consumer on the stream `consume` names (option
/// `stream`, required: `NB_ERR_INVALID_ARGUMENT` when unset) and writes it
/// to `*out_subscription` (free with `nb_durable_subscription_free`).
/// `subject` (may be NULL) is the consumer's filter subject, replacing the
/// options' `filter_subject`; `receive` (may be NULL) says how link payloads
/// are fetched. Both option objects are copied.
///
/// With option `durable`, the consumer is made on first use and found again
/// later: a subscription with the same name resumes where the last one
/// left, and gets again what was delivered but not acknowledged (after the
/// ack wait). Fails with `NB_ERR_JETSTREAM` when the stream does not exist
/// (or `deliver` is `last_ack` and the durable consumer does not),
/// `NB_ERR_INVALID_ARGUMENT` for options that do not go together
/// (`last_ack` without a durable name). Blocks. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_client_durable_subscribe(
    client: *const nb_client,
    subject: *const c_char,
    consume: *const nb_consume_options,
    receive: *const nb_receive_options,
    out_subscription: *mut *mut nb_durable_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or live handles and strings per the header.
        let client = unsafe { args::required(client, "client") }?;
        let subject = unsafe { args::optional_text(subject, "subject") }?;
        let consume = unsafe { consume.as_ref() };
        args::out_param(out_subscription, "out_subscription")?;
        let inflight = InFlight::new();
        // SAFETY: NULL or live options; copied.
        let receive = unsafe { receive_options(receive, &inflight) };
        let mut options = consume
            .map(|c| c.options.clone())
            .unwrap_or_else(ConsumerOptions::ephemeral)
            .receive_options(receive);
        if let Some(subject) = subject {
            options = options.set("filter_subject", OptionValue::Text(subject.to_owned()))?;
        }
        let subscription = runtime::block_on(client.bridge.consume(options))??;
        let handle = Box::into_raw(Box::new(nb_durable_subscription {
            subscription: Mutex::new(subscription),
            stopped: tokio::sync::watch::Sender::new(false),
            inflight,
        }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_subscription, handle) };
        Ok(())
    })
}

/// Waits up to `timeout_ms` milliseconds for the next message of the
/// consumer and writes it to `*out_message` (free with
/// `nb_jetstream_message_free`; settle it first with
/// `nb_jetstream_message_ack`, `_nak` or `_term`).
///
/// Fails with `NB_ERR_TIMEOUT` when none came in time (a message whose link
/// payloads were still downloading then is not lost: unacknowledged, it is
/// delivered again after the ack wait), `NB_ERR_CLOSED` once
/// `nb_durable_subscription_stop` was called or the consumer ended, or with
/// the error of a message that is not a valid envelope (the library has
/// settled that message: terminated when it can never succeed, delivered
/// again later when it may; the next call gets the next one). Calls on one
/// subscription from several threads are serialized. Blocks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_durable_subscription_next(
    subscription: *const nb_durable_subscription,
    timeout_ms: u64,
    out_message: *mut *mut nb_jetstream_message,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live subscription.
        let subscription = unsafe { args::required(subscription, "subscription") }?;
        args::out_param(out_message, "out_message")?;
        let mut stopped = subscription.stopped.subscribe();
        if *stopped.borrow() {
            return Err(closed());
        }
        let mut consumer = subscription
            .subscription
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let next = runtime::block_on(async {
            tokio::select! {
                next = consumer.next_timeout(Duration::from_millis(timeout_ms)) => next,
                _ = stopped.wait_for(|stop| *stop) => Err(closed()),
            }
        })?;
        let message = next?.ok_or_else(|| {
            Error::new(
                ErrorKind::Closed,
                "the JetStream consumer ended (its client was closed)",
            )
        })?;
        let (envelope, ack) = message.into_parts();
        let handle = Box::into_raw(Box::new(nb_jetstream_message {
            envelope: Mutex::new(Some(Box::new(nb_envelope::new(envelope)))),
            ack,
        }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_message, handle) };
        Ok(())
    })
}

/// Stops the subscription: a `nb_durable_subscription_next` waiting on
/// another thread, and every later one, fails with `NB_ERR_CLOSED`.
/// Messages already taken can still be settled. Calling it again does
/// nothing. The subscription must still be freed. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_durable_subscription_stop(
    subscription: *const nb_durable_subscription,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live subscription.
        let subscription = unsafe { args::required(subscription, "subscription") }?;
        subscription.stopped.send_replace(true);
        Ok(())
    })
}

/// Stops pulling and releases the subscription. NULL is accepted and
/// ignored. The durable consumer stays on the server: messages delivered
/// but not acknowledged come again, after the ack wait, to the next
/// subscription with the same durable name. Messages taken from it stay
/// valid (and can be settled) until freed. Waits for download callbacks the
/// subscription started. Must not race with `nb_durable_subscription_next`
/// on the same subscription (stop a waiting thread with
/// `nb_durable_subscription_stop` first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_durable_subscription_free(subscription: *mut nb_durable_subscription) {
    if subscription.is_null() {
        return;
    }
    // SAFETY: a handle this library returned, freed once.
    let subscription = unsafe { Box::from_raw(subscription) };
    value_boundary((), move || {
        let nb_durable_subscription {
            subscription,
            inflight,
            ..
        } = *subscription;
        // Dropping the pull stream needs the runtime's context (its tasks).
        let _guard = runtime::global().enter();
        drop(subscription);
        drop(_guard);
        inflight.wait_idle();
    });
}

// ---------------------------------------------------------------- messages

/// The message's decoded envelope, owned by the message: valid until
/// `nb_jetstream_message_free` (read it with the `nb_envelope_*`
/// accessors; do not free it). NULL for a NULL message or once taken with
/// `nb_jetstream_message_take_envelope`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_envelope(
    message: *const nb_jetstream_message,
) -> *const nb_envelope {
    value_boundary(std::ptr::null(), || {
        // SAFETY: NULL or a live message.
        let Some(message) = (unsafe { message.as_ref() }) else {
            return std::ptr::null();
        };
        let envelope = message.envelope.lock().unwrap_or_else(|p| p.into_inner());
        envelope
            .as_deref()
            .map_or(std::ptr::null(), |e| e as *const nb_envelope)
    })
}

/// Moves the message's envelope out to the caller, who frees it with
/// `nb_envelope_free` (for a binding that keeps the envelope longer than
/// the message). The message can still be settled; later calls return
/// NULL, as does `nb_jetstream_message_envelope`. Must not race with
/// `nb_jetstream_message_envelope` users of the same message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_take_envelope(
    message: *mut nb_jetstream_message,
) -> *mut nb_envelope {
    value_boundary(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live message.
        let Some(message) = (unsafe { message.as_ref() }) else {
            return std::ptr::null_mut();
        };
        let mut envelope = message.envelope.lock().unwrap_or_else(|p| p.into_inner());
        envelope.take().map_or(std::ptr::null_mut(), Box::into_raw)
    })
}

/// The message's sequence number in its stream (from 1); 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_stream_sequence(
    message: *const nb_jetstream_message,
) -> u64 {
    // SAFETY: NULL or a live message.
    value_boundary(0, || {
        unsafe { message.as_ref() }.map_or(0, |m| m.ack.stream_sequence)
    })
}

/// How many times the message has been delivered (1 the first time); 0 for
/// NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_delivery_count(
    message: *const nb_jetstream_message,
) -> u64 {
    value_boundary(0, || {
        // SAFETY: NULL or a live message.
        unsafe { message.as_ref() }.map_or(0, |m| u64::try_from(m.ack.delivered).unwrap_or(0))
    })
}

/// How a message is settled.
enum Settle {
    Ack,
    Nak(Option<Duration>),
    Term,
}

/// Settles a message on the shared runtime.
fn settle(
    message: *const nb_jetstream_message,
    out_error: *mut *mut nb_error,
    how: Settle,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live message.
        let message = unsafe { args::required(message, "message") }?;
        let ack = &message.ack;
        runtime::block_on(async move {
            match how {
                Settle::Ack => ack.ack().await,
                Settle::Nak(delay) => ack.nak(delay).await,
                Settle::Term => ack.term().await,
            }
        })?
    })
}

/// Acknowledges the message and waits for the server to confirm it: once
/// this returns `NB_OK`, no subscription with this durable name gets the
/// message again. Fails with `NB_ERR_JETSTREAM` (not confirmed). Blocks.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_ack(
    message: *const nb_jetstream_message,
    out_error: *mut *mut nb_error,
) -> nb_status {
    settle(message, out_error, Settle::Ack)
}

/// Asks for the message to be delivered again, after `delay_ms`
/// milliseconds (0: at once). Blocks until it is sent. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_nak(
    message: *const nb_jetstream_message,
    delay_ms: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    let delay = (delay_ms > 0).then(|| Duration::from_millis(delay_ms));
    settle(message, out_error, Settle::Nak(delay))
}

/// Stops redelivery of the message without processing it. Blocks until it
/// is sent. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_term(
    message: *const nb_jetstream_message,
    out_error: *mut *mut nb_error,
) -> nb_status {
    settle(message, out_error, Settle::Term)
}

/// Releases a message and its envelope (unless taken). NULL is accepted and
/// ignored. Does not settle it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_jetstream_message_free(message: *mut nb_jetstream_message) {
    if !message.is_null() {
        // SAFETY: a handle this library returned, freed once.
        let message = unsafe { Box::from_raw(message) };
        value_boundary((), move || drop(message));
    }
}
