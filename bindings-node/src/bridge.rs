//! `Bridge`: one long-lived NATS connection (the core's [`natsbridge::Bridge`])
//! with `send`, `subscribe`, `request`, `reply`, `receive`, `flush` and
//! `close`; and `Subscription`, the envelopes arriving on a subject.
//!
//! After `close()`, every call rejects with code `CLOSED` and subscriptions
//! end. Nothing here holds the event loop open: only pending promises do, so
//! a program whose work is done exits by itself.

use std::sync::Arc;
use std::time::Duration;

use napi::Env;
use napi::bindgen_prelude::{Null, PromiseRaw, ToNapiValue, Unknown};
use napi_derive::napi;
use natsbridge::{Error, ErrorKind};

use crate::envelope::reply_target;
use crate::message::{incoming, string_arg};
use crate::objects::{ReceivedObject, SentObject};
use crate::options::{self, is_nullish};
use crate::payload::payloads_from_js;
use crate::promise::{offload_if_large, run, run_waiting};

/// A long-lived connection to NATS that every call reuses.
///
/// ```js
/// const bridge = await Bridge.connect('nats://localhost:4222')
/// const sub = await bridge.subscribe('/chat/room1')
/// await bridge.send('/chat/room1', [{ dataname: 'message', data: 'hi', type: 'text' }])
/// for await (const envelope of sub) { console.log(envelope.payloads[0].data); break }
/// await bridge.close()
/// ```
#[napi]
pub struct Bridge {
    inner: natsbridge::Bridge,
}

#[napi]
impl Bridge {
    /// Connects to `natsUrl` (several URLs separated by commas for a
    /// cluster); without it, to `options.natsUrl`, else `$NATS_URL`, else
    /// `nats://localhost:4222` (the core resolves it).
    #[napi(
        catch_unwind,
        ts_args_type = "natsUrl?: string | null, options?: ConnectOptions",
        ts_return_type = "Promise<Bridge>"
    )]
    pub fn connect<'env>(
        env: &'env Env,
        nats_url: Option<Unknown<'_>>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Bridge>> {
        let prepared = (|| {
            let given = options::read(env, options.as_ref(), &options::CONNECT)?;
            let positional = match &nats_url {
                Some(url) if !is_nullish(url) => Some(string_arg(env, url, "natsUrl")?),
                _ => None,
            };
            let url = match (positional, given.nats_url()?) {
                (Some(a), Some(b)) if a != b => {
                    return Err(crate::error::invalid(
                        "natsUrl given twice (as the first argument and in options), differently",
                    ));
                }
                (a, b) => a.or(b),
            };
            given.connect(natsbridge::ConnectOptions::resolve_nats_url(url.as_deref()))
        })();
        run(env, async move { prepared?.connect().await }, |_, inner| {
            Ok(Bridge { inner })
        })
    }

    /// Sends `payloads` as one envelope on `subject`; resolves to the envelope as sent.
    #[napi(
        catch_unwind,
        ts_args_type = "subject: string, payloads: Array<PayloadInput>, options?: SendOptions",
        ts_return_type = "Promise<SentEnvelope>"
    )]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        subject: Unknown<'_>,
        payloads: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, SentObject>> {
        let prepared = (|| {
            let subject = string_arg(env, &subject, "subject")?;
            let payloads = payloads_from_js(env, payloads)?;
            let options = options::read(env, options.as_ref(), &options::SEND)?.send()?;
            Ok::<_, Error>((subject, payloads, options))
        })();
        let bridge = self.inner.clone();
        run(
            env,
            async move {
                let (subject, payloads, options) = prepared?;
                offload_if_large(payloads.bytes).await;
                let payloads = payloads.build()?;
                bridge.smartsend(&subject, payloads, &options).await
            },
            |_, sent| Ok(SentObject(sent)),
        )
    }

    /// Subscribes to `subject` (wildcards allowed). With `queue`, joins that
    /// queue group. The subscription is an async iterator of envelopes.
    #[napi(
        catch_unwind,
        ts_args_type = "subject: string, options?: ReceiveOptions & SubscribeOptions",
        ts_return_type = "Promise<Subscription>"
    )]
    pub fn subscribe<'env>(
        &self,
        env: &'env Env,
        subject: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Subscription>> {
        let prepared = (|| {
            let subject = string_arg(env, &subject, "subject")?;
            let given = options::read(env, options.as_ref(), &options::SUBSCRIBE)?;
            let (queue, concurrency) = given.subscribe()?;
            Ok::<_, Error>((subject, given.receive()?, queue, concurrency))
        })();
        let bridge = self.inner.clone();
        run(
            env,
            async move {
                let (subject, receive, queue, concurrency) = prepared?;
                let subscription = match queue {
                    Some(group) => bridge.queue_subscribe(&subject, &group, receive).await?,
                    None => bridge.subscribe(&subject, receive).await?,
                };
                Ok(match concurrency {
                    Some(n) => subscription.concurrent_receives(n),
                    None => subscription,
                })
            },
            |_, subscription| {
                Ok(Subscription {
                    stop: subscription.stop_handle(),
                    inner: Arc::new(tokio::sync::Mutex::new(subscription)),
                })
            },
        )
    }

    /// Consumes a JetStream stream: a consumer on `options.stream`
    /// (required) delivering the messages whose subject matches `subject`
    /// (wildcards allowed; `null`: every subject of the stream), each to
    /// acknowledge. With `durable`, the server keeps the consumer's position:
    /// a later subscription with the same name gets what was not
    /// acknowledged. `deliver` also takes a stream sequence (a number) or a
    /// `Date`. Receive options say how link payloads are fetched.
    #[napi(
        catch_unwind,
        ts_args_type = "subject?: string | null, options?: ConsumeOptions & ReceiveOptions",
        ts_return_type = "Promise<DurableSubscription>"
    )]
    pub fn durable_subscribe<'env>(
        &self,
        env: &'env Env,
        subject: Option<Unknown<'_>>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, crate::durable::DurableSubscription>> {
        let prepared = (|| {
            let subject = match &subject {
                Some(subject) if !is_nullish(subject) => Some(string_arg(env, subject, "subject")?),
                _ => None,
            };
            let given = options::read(env, options.as_ref(), &options::DURABLE_SUBSCRIBE)?;
            given.consume(subject, given.receive()?)
        })();
        let bridge = self.inner.clone();
        run(
            env,
            async move {
                let options = prepared?;
                // On the core's runtime: the consumer's pull task lives there.
                natsbridge::runtime::spawn(async move { bridge.consume(options).await }).await?
            },
            |_, subscription| Ok(crate::durable::DurableSubscription::new(subscription)),
        )
    }

    /// Creates the JetStream stream `name` capturing `subjects` (one subject
    /// or an array) unless it exists (for sends with `jetstream: true` and
    /// `durableSubscribe`), kept by `replicas` servers (default: the
    /// connection's `jetstreamReplicas`, 1 unless set).
    #[napi(
        catch_unwind,
        ts_args_type = "name: string, subjects: string | Array<string>, options?: EnsureStreamOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn ensure_stream<'env>(
        &self,
        env: &'env Env,
        name: Unknown<'_>,
        subjects: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let prepared = (|| {
            let name = string_arg(env, &name, "name")?;
            let subjects = options::string_list(env, &subjects, "subjects")?;
            let given = options::read(env, options.as_ref(), &options::ENSURE_STREAM)?;
            Ok::<_, Error>((name, subjects, given.replicas()?))
        })();
        let bridge = self.inner.clone();
        run(
            env,
            async move {
                let (name, subjects, replicas) = prepared?;
                let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
                match replicas {
                    Some(n) => bridge.ensure_stream_replicated(&name, &subjects, n).await,
                    None => bridge.ensure_stream(&name, &subjects).await,
                }
            },
            |_, ()| Ok(()),
        )
    }

    /// Sends a request and resolves to the reply envelope. Options are those
    /// of `send` and of a receive, plus `timeout` (ms).
    #[napi(
        catch_unwind,
        ts_args_type = "subject: string, payloads: Array<PayloadInput>, options?: SendOptions & ReceiveOptions & RequestOptions",
        ts_return_type = "Promise<ReceivedEnvelope>"
    )]
    pub fn request<'env>(
        &self,
        env: &'env Env,
        subject: Unknown<'_>,
        payloads: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, ReceivedObject>> {
        let prepared = (|| {
            let subject = string_arg(env, &subject, "subject")?;
            let payloads = payloads_from_js(env, payloads)?;
            let given = options::read(env, options.as_ref(), &options::REQUEST)?;
            let (send, receive) = (given.send()?, given.receive()?);
            let timeout = given.request_timeout()?;
            Ok::<_, Error>((subject, payloads, send, receive, timeout))
        })();
        let bridge = self.inner.clone();
        run(
            env,
            async move {
                let (subject, payloads, send, receive, timeout) = prepared?;
                offload_if_large(payloads.bytes).await;
                let payloads = payloads.build()?;
                bridge
                    .request(&subject, payloads, &send, timeout, &receive)
                    .await
            },
            |_, reply| Ok(ReceivedObject(reply)),
        )
    }

    /// Answers `request` (an envelope this process received): publishes on
    /// its `replyTo`, or its NATS reply inbox, with `replyToMsgId` set to its
    /// `msgId` and its `correlationId`.
    #[napi(
        catch_unwind,
        ts_args_type = "request: ReceivedEnvelope, payloads: Array<PayloadInput>, options?: SendOptions",
        ts_return_type = "Promise<SentEnvelope>"
    )]
    pub fn reply<'env>(
        &self,
        env: &'env Env,
        request: Unknown<'_>,
        payloads: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, SentObject>> {
        let prepared = (|| {
            let request = reply_target(env, request)?;
            let payloads = payloads_from_js(env, payloads)?;
            let options = options::read(env, options.as_ref(), &options::REPLY)?.send()?;
            Ok::<_, Error>((request, payloads, options))
        })();
        let bridge = self.inner.clone();
        run(
            env,
            async move {
                let (request, payloads, options) = prepared?;
                offload_if_large(payloads.bytes).await;
                let payloads = payloads.build()?;
                bridge.reply(request, payloads, &options).await
            },
            |_, sent| Ok(SentObject(sent)),
        )
    }

    /// Decodes a message received some other way (a nats.js subscription, a
    /// stored body), fetching `nats-object://` links over this connection.
    #[napi(
        catch_unwind,
        ts_args_type = "msg: Buffer | Uint8Array | string | { data: Uint8Array }, options?: ReceiveOptions",
        ts_return_type = "Promise<ReceivedEnvelope>"
    )]
    pub fn receive<'env>(
        &self,
        env: &'env Env,
        msg: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, ReceivedObject>> {
        let prepared = (|| {
            let message = incoming(env, &msg)?;
            let options = options::read(env, options.as_ref(), &options::RECEIVE)?.receive()?;
            Ok::<_, Error>((message, options))
        })();
        let bridge = self.inner.clone();
        run(
            env,
            async move {
                let (message, options) = prepared?;
                if bridge.is_closed() {
                    return Err(closed());
                }
                offload_if_large(message.body.len()).await;
                let mut envelope = bridge.smartreceive_bytes(&message.body, &options).await?;
                envelope.subject = message.subject;
                envelope.nats_reply = message.reply;
                Ok(envelope)
            },
            |_, envelope| Ok(ReceivedObject(envelope)),
        )
    }

    /// Resolves once everything published so far has been written to the server.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn flush<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let bridge = self.inner.clone();
        run(env, async move { bridge.flush().await }, |_, ()| Ok(()))
    }

    /// Flushes and closes the connection. Later calls reject with code
    /// `CLOSED`; subscriptions end. Closing twice is harmless.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let bridge = self.inner.clone();
        run(env, async move { bridge.close().await }, |_, ()| Ok(()))
    }

    /// True once `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The server URL(s) without credentials, as written into `brokerUrl`.
    #[napi(getter)]
    pub fn broker_url(&self) -> String {
        self.inner.broker_url().to_owned()
    }

    /// The largest message the server accepts, in bytes.
    #[napi(getter)]
    pub fn max_payload(&self) -> f64 {
        self.inner.max_payload() as f64
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the bridge is closed")
}

/// Envelopes arriving on a subject, in order. Iterate it with `for await`,
/// or call `next()`. A message that is not a valid envelope makes `next()`
/// reject with that message's error; the subscription itself goes on.
///
/// The core's [`natsbridge::Subscription`] keeps every message and its
/// order; `unsubscribe()` ends it at once (a pending and every later
/// `next()` resolve to `null`, what had arrived but was not taken is
/// dropped), `drain()` delivers what had arrived, then ends; as nats.js.
#[napi]
pub struct Subscription {
    /// One `next` at a time takes from the core, so results keep their order.
    inner: Arc<tokio::sync::Mutex<natsbridge::Subscription>>,
    /// Ends a `next()` that is waiting (and holds the lock).
    stop: natsbridge::SubscriptionHandle,
}

#[napi]
impl Subscription {
    /// The next envelope, or `null` once the subscription has ended
    /// (unsubscribed, drained, or the bridge closed). With `timeoutMs`,
    /// rejects with code `TIMEOUT` when nothing arrives in time.
    #[napi(
        catch_unwind,
        ts_args_type = "timeoutMs?: number",
        ts_return_type = "Promise<ReceivedEnvelope | null>"
    )]
    pub fn next<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, Option<ReceivedObject>>> {
        let timeout = timeout_from(timeout_ms);
        let inner = self.inner.clone();
        let work = async move {
            let timeout = timeout?;
            let mut subscription = inner.lock().await;
            match timeout {
                Some(timeout) => subscription.next_timeout(timeout).await,
                None => subscription.next().await.transpose(),
            }
        };
        let to_js = |_: &Env, envelope: Option<_>| Ok(envelope.map(ReceivedObject));
        run_waiting(env, work, to_js)
    }

    /// The results of every message already decoded (at least one, at most
    /// `max`), waiting for the first like `next()`: what `binding.js`
    /// iterates, so a burst of messages costs one promise. Each item is an
    /// envelope or the Error of a message that failed to decode; the array
    /// ends with `null` once the subscription has ended.
    #[napi(catch_unwind, skip_typescript)]
    pub fn next_batch<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
        max: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Batch>> {
        let timeout = timeout_from(timeout_ms);
        let max = max.unwrap_or(64).max(1) as usize;
        let inner = self.inner.clone();
        let work = async move {
            let timeout = timeout?;
            let items = inner.lock().await.next_batch(max, timeout).await?;
            Ok(Batch {
                ended: items.is_empty(),
                items,
            })
        };
        let to_js = |_: &Env, batch| Ok(batch);
        run_waiting(env, work, to_js)
    }

    /// Ends the subscription at once: a pending and every later `next()`
    /// resolves to `null`; what had arrived but was not taken is dropped.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn unsubscribe<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let stop = self.stop.clone();
        run(env, async move { stop.unsubscribe().await }, |_, ()| Ok(()))
    }

    /// Unsubscribes at the server, then delivers what had already arrived,
    /// then ends (`next()` resolves to `null`).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn drain<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let stop = self.stop.clone();
        run(env, async move { stop.drain().await }, |_, ()| Ok(()))
    }
}

pub(crate) fn timeout_from(timeout_ms: Option<f64>) -> Result<Option<Duration>, Error> {
    timeout_ms
        .map(|ms| {
            if ms.is_finite() && ms >= 0.0 {
                Ok(Duration::from_secs_f64(ms / 1000.0))
            } else {
                Err(crate::error::invalid(format!(
                    "timeoutMs must be a number of milliseconds >= 0, got {ms}"
                )))
            }
        })
        .transpose()
}

/// Results taken in one go (envelopes and errors, in arrival order), then
/// the end of the subscription when it ended.
pub struct Batch {
    items: Vec<natsbridge::Result<natsbridge::ReceivedEnvelope>>,
    ended: bool,
}

impl ToNapiValue for Batch {
    unsafe fn to_napi_value(
        raw_env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let length = val.items.len() + usize::from(val.ended);
        let mut items = env.create_array(length as u32)?;
        for (index, item) in val.items.into_iter().enumerate() {
            match item {
                Ok(envelope) => items.set(index as u32, ReceivedObject(envelope))?,
                Err(err) => items.set(index as u32, crate::error::to_js(&env, &err))?,
            }
        }
        if val.ended {
            items.set(length as u32 - 1, Null)?;
        }
        // SAFETY: an array of this environment.
        unsafe { ToNapiValue::to_napi_value(raw_env, items) }
    }
}
