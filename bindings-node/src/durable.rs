//! JetStream consumers: `DurableSubscription` (`Bridge.durableSubscribe`)
//! and `JetStreamMessage`, over the core's
//! [`natsbridge::jetstream::DurableSubscription`].
//!
//! The settling rules (what a failed decode does to its message, progress
//! acks while links download, redelivery) are the core's; this module only
//! converts. One `next()` at a time takes from the core (an async mutex). A
//! `next()` that times out after the server handed out a message loses
//! nothing: the message was not acknowledged, so the server delivers it
//! again after `ackWait`.

use std::sync::Arc;
use std::time::Duration;

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use natsbridge::jetstream::{JetStreamAck, JetStreamMessage as CoreMessage};

use crate::bridge::timeout_from;
use crate::envelope::ReceivedEnvelope;
use crate::promise::run;

type Shared = Arc<tokio::sync::Mutex<Option<natsbridge::jetstream::DurableSubscription>>>;

/// Decoded envelopes of a JetStream consumer (`Bridge.durableSubscribe`):
/// iterate it with `for await`, or call `next()`. Each item is a
/// `JetStreamMessage` to `ack()`, `nak()` or `term()`. A message that is not
/// a valid envelope makes `next()` reject with its error (natsbridge has
/// already settled it: terminated when it can never succeed, delivered
/// again later when it may); the subscription goes on. A message neither
/// acknowledged nor terminated comes again after `ackWait`, to this or the
/// next subscription with the same durable name.
#[napi]
pub struct DurableSubscription {
    inner: Shared,
    /// `true` once `unsubscribe()` was called: ends a waiting `next()`.
    stopped: tokio::sync::watch::Sender<bool>,
}

impl DurableSubscription {
    pub(crate) fn new(subscription: natsbridge::jetstream::DurableSubscription) -> Self {
        DurableSubscription {
            inner: Arc::new(tokio::sync::Mutex::new(Some(subscription))),
            stopped: tokio::sync::watch::Sender::new(false),
        }
    }
}

#[napi]
impl DurableSubscription {
    /// The next message, or `null` once the subscription has ended
    /// (`unsubscribe()`, or the bridge closed). With `timeoutMs`, rejects
    /// with code `TIMEOUT` when none arrives in time.
    #[napi(
        catch_unwind,
        ts_args_type = "timeoutMs?: number",
        ts_return_type = "Promise<JetStreamMessage | null>"
    )]
    pub fn next<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, Option<JetStreamMessage>>> {
        let timeout = timeout_from(timeout_ms);
        let inner = self.inner.clone();
        let mut stopped = self.stopped.subscribe();
        run(
            env,
            async move {
                let timeout = timeout?;
                let step = async {
                    let mut guard = inner.lock().await;
                    let Some(subscription) = guard.as_mut() else {
                        return Ok(None);
                    };
                    match timeout {
                        Some(timeout) => subscription.next_timeout(timeout).await,
                        None => subscription.next().await.transpose(),
                    }
                };
                tokio::select! {
                    step = step => step,
                    _ = stopped.wait_for(|stop| *stop) => Ok(None),
                }
            },
            |_, message| Ok(message.map(JetStreamMessage::new)),
        )
    }

    /// Stops pulling: a pending and every later `next()` resolves to
    /// `null`. The durable consumer stays on the server: what was delivered
    /// but not acknowledged comes again, after `ackWait`, to the next
    /// subscription with the same durable name. Messages already taken can
    /// still be settled.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn unsubscribe<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.stopped.send_replace(true);
        let inner = self.inner.clone();
        run(
            env,
            async move {
                let subscription = inner.lock().await.take();
                // The pull stream's task lives on the core's runtime.
                let _ = natsbridge::runtime::spawn(async move { drop(subscription) }).await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}

/// One message of a JetStream consumer: its decoded `envelope` (as
/// `receive()` returns it), its `streamSequence` and `deliveryCount` (1 the
/// first time), and how to settle it: `ack()` (done, never again),
/// `nak(delayMs?)` (deliver again, after `delayMs` if given), `term()`
/// (never again, not processed).
#[napi]
pub struct JetStreamMessage {
    envelope: Option<natsbridge::ReceivedEnvelope>,
    settle: Arc<JetStreamAck>,
}

impl JetStreamMessage {
    fn new(message: CoreMessage) -> JetStreamMessage {
        let (envelope, settle) = message.into_parts();
        JetStreamMessage {
            envelope: Some(envelope),
            settle: Arc::new(settle),
        }
    }
}

#[napi]
impl JetStreamMessage {
    /// The message's sequence number in its stream.
    #[napi(getter)]
    pub fn stream_sequence(&self) -> f64 {
        self.settle.stream_sequence as f64
    }

    /// How many times the message has been delivered (1 the first time).
    #[napi(getter)]
    pub fn delivery_count(&self) -> f64 {
        self.settle.delivered as f64
    }

    /// The envelope, once: `binding.js` moves it to the `envelope` property.
    #[napi(skip_typescript)]
    pub fn take_envelope(&mut self) -> Option<ReceivedEnvelope> {
        self.envelope.take().map(ReceivedEnvelope::new)
    }

    /// Acknowledges the message; resolves once the server confirmed it.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn ack<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let settle = self.settle.clone();
        run(env, async move { settle.ack().await }, |_, ()| Ok(()))
    }

    /// Asks for the message again, after `delayMs` milliseconds if given.
    #[napi(
        catch_unwind,
        ts_args_type = "delayMs?: number",
        ts_return_type = "Promise<void>"
    )]
    pub fn nak<'env>(
        &self,
        env: &'env Env,
        delay_ms: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let delay: natsbridge::Result<Option<Duration>> = timeout_from(delay_ms).map_err(|_| {
            crate::error::invalid(format!(
                "delayMs must be a number of milliseconds >= 0, got {}",
                delay_ms.unwrap_or(f64::NAN)
            ))
        });
        let settle = self.settle.clone();
        run(env, async move { settle.nak(delay?).await }, |_, ()| Ok(()))
    }

    /// Stops redelivery of the message without processing it.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn term<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let settle = self.settle.clone();
        run(env, async move { settle.term().await }, |_, ()| Ok(()))
    }
}
