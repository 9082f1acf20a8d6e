//! [`Subscription`]: a stream of decoded envelopes from one NATS
//! subscription, and [`SubscriptionHandle`], a cloneable way to stop it from
//! another task or thread. Every front end (Python, Node, C) uses this one
//! type, so the rules below hold the same everywhere.
//!
//! # How it keeps every message
//!
//! Each subscription has a *pump*: a task that owns the NATS subscriber,
//! takes messages in arrival order, decodes them (links downloaded) and puts
//! the results, still in arrival order, into a channel. `next` only receives
//! from that channel, and receiving from a tokio channel is cancel-safe: a
//! `next` whose future is dropped at any point (a `select!` against a timer,
//! `tokio::time::timeout`, an asyncio or JS cancellation in a binding) has
//! taken nothing, and the result it was waiting for stays in the channel for
//! the next call. Nothing is decoded inside `next`, so there is no await
//! point at which a half-handled message could be lost.
//!
//! `next_batch` waits (cancel-safely) for the first result and then takes
//! only results that are already there, without awaiting again, so it is
//! cancel-safe too.
//!
//! By default the pump decodes one message at a time. With
//! [`Subscription::concurrent_receives`] it decodes up to `n` at once (useful
//! when envelopes carry link payloads from slow stores: one slow link no
//! longer holds up the messages behind it); results are still delivered in
//! arrival order. The channel holds up to [`RESULTS_AHEAD`] decoded results,
//! so a reader that is a little behind takes them without a wake-up each
//! (a one-result channel cost two context switches per message). Of those, at
//! most one holds link payloads downloaded into memory (a heavy result waits
//! in the pump until the one before it was taken), so memory stays bounded by
//! one large envelope, as before. The pump holds at most `n` messages
//! (decoding or decoded) beyond the channel, so a slow consumer leaves
//! messages in the NATS client's buffer (`subscription_capacity`), as before.
//!
//! # A slow consumer is reported, never silent
//!
//! When a reader falls so far behind that the NATS client's buffer for the
//! subscription (`subscription_capacity` messages) is full, the client drops
//! the next messages: NATS itself is at-most-once. The subscription counts
//! them ([`Subscription::dropped_messages`], a lower bound) and yields one
//! [`ErrorKind::Connection`] error saying how many were dropped (a *slow
//! consumer* error, [`is_slow_consumer`]) among its results, then goes on.
//! Use JetStream ([`crate::jetstream`]) where no message may be lost.
//!
//! # The rule after unsubscribe
//!
//! - [`SubscriptionHandle::unsubscribe`] ends the subscription at once: a
//!   pending `next` and every later one return `None`; results already
//!   received but not yet taken (up to [`RESULTS_AHEAD`]) are dropped (as `unsubscribe` in nats.py and
//!   nats.js). Decodes in progress are cancelled.
//! - [`SubscriptionHandle::drain`] unsubscribes at the server, then delivers
//!   everything the server had already sent, then ends (`None`), as `drain`
//!   in nats.py and nats.js.
//! - [`Subscription::unsubscribe_after`] lets the server end the subscription
//!   after `n` more messages; those are delivered, then `None`.
//! - Closing the bridge ends the subscription: `next` returns `None`.
//!
//! A panic while decoding a message (a bug) yields an
//! [`ErrorKind::Internal`] error for that message and the subscription goes
//! on; a panic of the pump itself yields one `Internal` error, then the end.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt as _, Stream, StreamExt as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use crate::bridge::Bridge;
use crate::envelope::ReceivedEnvelope;
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;

/// One result of a subscription: a decoded envelope or the error its message gave.
type Item = Result<ReceivedEnvelope>;

/// How many decoded results the channel between the pump and the reader
/// holds (see the module documentation).
pub const RESULTS_AHEAD: usize = 64;

/// A result in the channel, with the permit a heavy one holds until it is
/// taken (see [`is_heavy`]).
type Handed = (Item, Option<OwnedSemaphorePermit>);

/// True for a result holding link payloads downloaded into memory: up to
/// `max_envelope_download_size` bytes, so only one waits in the channel at a
/// time. Direct payloads are bounded by the server's `max_payload`; links
/// saved to files hold only their paths.
fn is_heavy(item: &Item) -> bool {
    item.as_ref().is_ok_and(|envelope| {
        envelope.payloads.iter().any(|payload| {
            payload.info.transport == crate::Transport::Link
                && !matches!(payload.value, crate::PayloadValue::File(_))
        })
    })
}

/// A taken result's place in the subscription's memory bound (see
/// [`Subscription::next_held`]): for a heavy result, the one permit the pump
/// needs to hand over another; nothing for the rest. Dropping it gives the
/// place back.
#[derive(Debug)]
pub struct HeldPlace(Option<OwnedSemaphorePermit>);

impl HeldPlace {
    /// True when this is a heavy result's place (link payloads in memory).
    pub fn is_heavy(&self) -> bool {
        self.0.is_some()
    }
}

/// The start of the message of a slow consumer error.
const SLOW_CONSUMER: &str = "slow consumer: ";

/// True for the error a [`Subscription`] yields when the NATS client dropped
/// messages because the reader fell behind (see the module documentation).
pub fn is_slow_consumer(error: &Error) -> bool {
    error.kind() == ErrorKind::Connection && error.message().starts_with(SLOW_CONSUMER)
}

/// Messages the NATS client dropped, per subscription id: filled by the
/// connection's event callback, read by each subscription's pump.
#[derive(Debug, Default)]
pub(crate) struct SlowConsumers {
    by_sid: Mutex<HashMap<u64, watch::Sender<u64>>>,
}

impl SlowConsumers {
    /// Counts one dropped message of subscription `sid`.
    pub(crate) fn record(&self, sid: u64) {
        self.counter(sid, |counter| counter.send_modify(|dropped| *dropped += 1));
    }

    /// The count of subscription `sid`, to watch.
    fn watch(&self, sid: u64) -> watch::Receiver<u64> {
        self.counter(sid, watch::Sender::subscribe)
    }

    fn forget(&self, sid: u64) {
        self.by_sid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&sid);
    }

    fn counter<T>(&self, sid: u64, use_it: impl FnOnce(&watch::Sender<u64>) -> T) -> T {
        let mut by_sid = self
            .by_sid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        use_it(by_sid.entry(sid).or_insert_with(|| watch::Sender::new(0)))
    }
}

/// The client's id of a subscriber. async-nats keeps it private; its `Debug`
/// output (`Subscriber { sid: 3, .. }`) is the only place it shows. The
/// fault tests (`core/tests/faults.rs`) fail if that ever changes.
fn subscriber_sid(subscriber: &async_nats::Subscriber) -> Option<u64> {
    let debug = format!("{subscriber:?}");
    let rest = &debug[debug.find("sid: ")? + "sid: ".len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Where a subscription is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Unsubscribed at the server; delivering what had arrived.
    Draining,
    /// Ended at once: nothing more is delivered.
    Unsubscribed,
}

/// What a [`SubscriptionHandle`] asks the pump to do; each answers with the
/// outcome of the request to the server.
enum Command {
    Unsubscribe(oneshot::Sender<Result<()>>),
    Drain(oneshot::Sender<Result<()>>),
    UnsubscribeAfter(u64, oneshot::Sender<Result<()>>),
}

/// Shared by the subscription, its handles and its pump.
#[derive(Debug)]
struct Control {
    state: watch::Sender<State>,
    commands: mpsc::UnboundedSender<Command>,
    concurrency: watch::Sender<usize>,
}

/// A cloneable, `Send + Sync` handle that stops a [`Subscription`] from any
/// task or thread, also while another task waits in `next`. Made by
/// [`Subscription::stop_handle`].
///
/// ```no_run
/// # async fn demo(bridge: natsbridge::Bridge) -> natsbridge::Result<()> {
/// let mut sub = bridge.subscribe("sensors.>", natsbridge::ReceiveOptions::new()).await?;
/// let stop = sub.stop_handle();
/// tokio::spawn(async move {
///     tokio::time::sleep(std::time::Duration::from_secs(60)).await;
///     let _ = stop.unsubscribe().await; // the loop below ends at once
/// });
/// while let Some(received) = sub.next().await {
///     println!("{:?}", received.map(|envelope| envelope.payloads.len()));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SubscriptionHandle {
    control: Arc<Control>,
}

impl SubscriptionHandle {
    /// Ends the subscription at once: a pending `next` and every later one
    /// return `None`, and results not yet taken are dropped. Then tells the
    /// server; an error means only that the server could not be told (the
    /// connection is gone, which ends the subscription anyway). Calling it
    /// again, or after the subscription ended, does nothing.
    pub async fn unsubscribe(&self) -> Result<()> {
        if self.control.state.send_replace(State::Unsubscribed) == State::Unsubscribed {
            return Ok(());
        }
        self.command(Command::Unsubscribe).await
    }

    /// Unsubscribes at the server, then lets the subscription deliver what
    /// the server had already sent, then end. Returns once the server was
    /// told; does nothing after `unsubscribe`, a first `drain`, or the end.
    pub async fn drain(&self) -> Result<()> {
        let started = self.control.state.send_if_modified(|state| {
            let open = *state == State::Open;
            if open {
                *state = State::Draining;
            }
            open
        });
        if !started {
            return Ok(());
        }
        self.command(Command::Drain).await
    }

    /// Lets the server end the subscription after `messages` more messages
    /// (auto-unsubscribe); those are delivered, then `next` returns `None`.
    pub async fn unsubscribe_after(&self, messages: u64) -> Result<()> {
        if self.is_unsubscribed() {
            return Ok(());
        }
        self.command(|reply| Command::UnsubscribeAfter(messages, reply))
            .await
    }

    /// True once [`SubscriptionHandle::unsubscribe`] was called.
    pub fn is_unsubscribed(&self) -> bool {
        *self.control.state.borrow() == State::Unsubscribed
    }

    async fn command(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<()>>) -> Command,
    ) -> Result<()> {
        let (reply, outcome) = oneshot::channel();
        if self.control.commands.send(make(reply)).is_err() {
            // The pump is gone: the subscription has ended already.
            return Ok(());
        }
        outcome.await.unwrap_or(Ok(()))
    }
}

/// Envelopes arriving on a subject. A message that is not a valid envelope
/// yields an error and the subscription goes on; it ends only when it is
/// unsubscribed, drained or the bridge closes (see the module documentation
/// for the exact rule). Every `next*` method is cancel-safe.
///
/// ```no_run
/// # async fn demo(bridge: natsbridge::Bridge) -> natsbridge::Result<()> {
/// let mut sub = bridge.subscribe("sensors.>", natsbridge::ReceiveOptions::new()).await?;
/// while let Some(received) = sub.next().await {
///     match received {
///         Ok(envelope) => println!("{} payloads from {}", envelope.payloads.len(), envelope.header.sender_name),
///         Err(err) => eprintln!("skipped a bad message: {err}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Subscription {
    bridge: Bridge,
    results: mpsc::Receiver<Handed>,
    dropped: watch::Receiver<u64>,
    handle: SubscriptionHandle,
    state: watch::Receiver<State>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("bridge", &self.bridge)
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Starts the pump of `subscriber` on the shared runtime
    /// ([`crate::runtime::global`]), where the connection's task runs: a
    /// message goes from the connection task to the pump without crossing
    /// runtimes (no wake-up of another runtime's thread), and the
    /// subscription does not end with a runtime that only awaited
    /// `subscribe` (a binding's, a test's).
    pub(crate) fn new(
        bridge: Bridge,
        subscriber: async_nats::Subscriber,
        options: ReceiveOptions,
    ) -> Subscription {
        // Up to RESULTS_AHEAD small results (one heavy at most) wait in the
        // channel: a reader takes what arrived without a wake-up per message,
        // and a slow consumer still holds messages in the NATS buffer.
        let (results, receiver) = mpsc::channel(RESULTS_AHEAD);
        let (commands, command_receiver) = mpsc::unbounded_channel();
        let control = Arc::new(Control {
            state: watch::Sender::new(State::Open),
            commands,
            concurrency: watch::Sender::new(1),
        });
        let sid = subscriber_sid(&subscriber);
        let slow_consumers = bridge.inner.slow_consumers.clone();
        let dropped = match sid {
            Some(sid) => slow_consumers.watch(sid),
            // Never observed: nothing to count.
            None => watch::Sender::new(0).subscribe(),
        };
        let pump = Pump {
            subscriber,
            dropped: dropped.clone(),
            reported: 0,
            bridge: bridge.clone(),
            options: Arc::new(options),
            results: results.clone(),
            heavy: Arc::new(Semaphore::new(1)),
            commands: command_receiver,
            concurrency: control.concurrency.subscribe(),
        };
        crate::runtime::global().spawn(async move {
            if let Err(panic) = AssertUnwindSafe(pump.run()).catch_unwind().await {
                let _ = results.try_send((Err(internal("the subscription's pump", panic)), None));
            }
            if let Some(sid) = sid {
                slow_consumers.forget(sid);
            }
        });
        Subscription {
            bridge,
            results: receiver,
            dropped,
            state: control.state.subscribe(),
            handle: SubscriptionHandle { control },
        }
    }

    /// Decodes up to `n` envelopes at once (at least 1; the default is 1).
    /// Results still come in arrival order; a slow link then delays only the
    /// messages behind it by what it takes beyond the others, not by its whole
    /// time each. Takes effect for the next message the subscription takes.
    pub fn concurrent_receives(self, n: usize) -> Subscription {
        self.set_concurrent_receives(n);
        self
    }

    /// [`Subscription::concurrent_receives`] on a subscription in use.
    pub fn set_concurrent_receives(&self, n: usize) {
        self.handle.control.concurrency.send_replace(n.max(1));
    }

    /// How many messages the NATS client dropped for this subscription so
    /// far because its buffer (`subscription_capacity`) was full: a slow
    /// consumer. Each increase is also reported by one error among the
    /// results ([`is_slow_consumer`]). A lower bound: async-nats reports each
    /// drop as an event on a queue of 128 that itself drops when a burst
    /// overflows it, so the first drop of a burst is always reported but not
    /// always every one.
    pub fn dropped_messages(&self) -> u64 {
        *self.dropped.borrow()
    }

    /// A cloneable handle that stops this subscription from anywhere.
    pub fn stop_handle(&self) -> SubscriptionHandle {
        self.handle.clone()
    }

    fn ended_at_once(&self) -> bool {
        *self.state.borrow() == State::Unsubscribed || self.bridge.is_closed()
    }

    /// The next envelope (or the error its message gave); `None` once the
    /// subscription has ended. Cancel-safe: dropped before it returns, it has
    /// taken nothing.
    pub async fn next(&mut self) -> Option<Item> {
        // A heavy result's place is given back as it is taken.
        self.next_held().await.map(|(item, _place)| item)
    }

    /// [`Subscription::next`] for a reader that queues what it takes (a
    /// binding handing results on to another thread): the result comes with
    /// its place in the subscription's memory bound, held until the
    /// [`HeldPlace`] is dropped. While a heavy result's place is held the
    /// pump hands over no other heavy result, so the reader's queue and the
    /// channel together still hold one at most. Cancel-safe.
    pub async fn next_held(&mut self) -> Option<(Item, HeldPlace)> {
        if self.ended_at_once() {
            return None;
        }
        let mut state = self.state.clone();
        let handed = tokio::select! {
            biased;
            _ = state.wait_for(|state| *state == State::Unsubscribed) => None,
            handed = self.results.recv() => handed,
        };
        handed
            .filter(|_| !self.bridge.is_closed())
            .map(|(item, permit)| (item, HeldPlace(permit)))
    }

    /// The next envelope, waiting at most `timeout`: `Ok(None)` when the
    /// subscription ended, a [`ErrorKind::Timeout`] error when nothing came,
    /// the message's error when it could not be decoded. Cancel-safe.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<ReceivedEnvelope>> {
        match tokio::time::timeout(timeout, self.next()).await {
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("no message within {timeout:?}"),
            )),
            Ok(None) => Ok(None),
            Ok(Some(item)) => item.map(Some),
        }
    }

    /// Up to `max` results (at least 1) in arrival order: waits for the first
    /// (at most `timeout`, when given: then a [`ErrorKind::Timeout`] error),
    /// then adds only results that are already decoded, never waiting for
    /// more. An empty batch means the subscription has ended. Cancel-safe:
    /// after the first result is taken it does not await again.
    pub async fn next_batch(&mut self, max: usize, timeout: Option<Duration>) -> Result<Vec<Item>> {
        let first = match timeout {
            Some(limit) => tokio::time::timeout(limit, self.next())
                .await
                .map_err(|_| {
                    Error::new(ErrorKind::Timeout, format!("no message within {limit:?}"))
                })?,
            None => self.next().await,
        };
        let Some(first) = first else {
            return Ok(Vec::new());
        };
        let mut batch = vec![first];
        while batch.len() < max.max(1) && !self.ended_at_once() {
            match self.results.try_recv() {
                Ok((item, _permit)) => batch.push(item),
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    /// Ends the subscription at once; see [`SubscriptionHandle::unsubscribe`].
    pub async fn unsubscribe(&self) -> Result<()> {
        self.handle.unsubscribe().await
    }

    /// Delivers what had arrived, then ends; see [`SubscriptionHandle::drain`].
    pub async fn drain(&self) -> Result<()> {
        self.handle.drain().await
    }

    /// Lets the server end the subscription after `messages` more messages
    /// (auto-unsubscribe); those are delivered, then `next` returns `None`.
    pub async fn unsubscribe_after(&self, messages: u64) -> Result<()> {
        self.handle.unsubscribe_after(messages).await
    }

    /// The subscription as a `Stream` of decoded envelopes.
    pub fn into_stream(self) -> impl Stream<Item = Item> + Send {
        futures::stream::unfold(self, |mut sub| async move {
            let item = sub.next().await?;
            Some((item, sub))
        })
    }
}

/// The error for a caught panic.
fn internal(what: &str, panic: Box<dyn std::any::Any + Send>) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!(
            "{what} panicked (a bug in natsbridge; please report it): {}",
            crate::error::panic_message(panic.as_ref())
        ),
    )
}

fn unsubscribe_failed(err: impl Into<crate::error::BoxError>) -> Error {
    Error::new(ErrorKind::Connection, "unsubscribing failed").with_source(err)
}

/// The task behind a subscription: takes, decodes, and hands over in order.
struct Pump {
    subscriber: async_nats::Subscriber,
    /// Messages the client dropped for this subscription, and how many of
    /// them were already reported.
    dropped: watch::Receiver<u64>,
    reported: u64,
    bridge: Bridge,
    options: Arc<ReceiveOptions>,
    results: mpsc::Sender<Handed>,
    /// One permit: held by the heavy result in the channel, if any.
    heavy: Arc<Semaphore>,
    commands: mpsc::UnboundedReceiver<Command>,
    concurrency: watch::Receiver<usize>,
}

impl Pump {
    async fn run(mut self) {
        let mut decoding: FuturesOrdered<BoxFuture<'static, Item>> = FuturesOrdered::new();
        // Decoded results, oldest first, waiting for room in the channel.
        let mut decoded: VecDeque<Item> = VecDeque::new();
        // The heavy-result permit, taken for the heavy result at the front.
        let mut held: Option<OwnedSemaphorePermit> = None;
        let mut taking = true;
        let mut concurrency_alive = true;
        let mut dropped_alive = true;
        loop {
            if !taking && decoding.is_empty() && decoded.is_empty() {
                return;
            }
            let room = decoding.len() + decoded.len() < (*self.concurrency.borrow()).max(1);
            let front_heavy = decoded.front().is_some_and(is_heavy);
            let sendable = !decoded.is_empty() && (!front_heavy || held.is_some());
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    // Every handle is gone, so is the subscription.
                    None => return,
                    Some(Command::Unsubscribe(reply)) => {
                        let outcome = self.subscriber.unsubscribe().await.map_err(unsubscribe_failed);
                        let _ = reply.send(outcome);
                        return;
                    }
                    Some(Command::Drain(reply)) => {
                        // The server removes the subscription after a round
                        // trip; the subscriber then yields what came and ends.
                        let outcome = self.subscriber.drain().await.map_err(unsubscribe_failed);
                        let _ = reply.send(outcome);
                    }
                    Some(Command::UnsubscribeAfter(messages, reply)) => {
                        let outcome = self
                            .subscriber
                            .unsubscribe_after(messages)
                            .await
                            .map_err(unsubscribe_failed);
                        let _ = reply.send(outcome);
                    }
                },
                // The subscription was dropped: nobody will take anything.
                () = self.results.closed() => return,
                permit = self.heavy.clone().acquire_owned(), if front_heavy && held.is_none() => match permit {
                    Ok(permit) => held = Some(permit),
                    // Never closed.
                    Err(_) => return,
                },
                permit = self.results.reserve(), if sendable => match permit {
                    Ok(permit) => {
                        let item = decoded.pop_front().expect("checked by the guard");
                        let heavy = if front_heavy { held.take() } else { None };
                        permit.send((item, heavy));
                    }
                    Err(_) => return,
                },
                Some(item) = decoding.next(), if !decoding.is_empty() => decoded.push_back(item),
                changed = self.dropped.changed(), if dropped_alive => match changed {
                    Ok(()) => {
                        let total = *self.dropped.borrow_and_update();
                        if total > self.reported {
                            decoded.push_back(Err(self.slow_consumer(total)));
                            self.reported = total;
                        }
                    }
                    Err(_) => dropped_alive = false,
                },
                message = self.subscriber.next(), if taking && room => match message {
                    Some(_) if self.bridge.is_closed() => taking = false,
                    Some(message) => decoding.push_back(self.decode(message)),
                    None => taking = false,
                },
                changed = self.concurrency.changed(), if concurrency_alive => {
                    concurrency_alive = changed.is_ok();
                }
            }
        }
    }

    /// The error that reports messages dropped since the last report.
    fn slow_consumer(&self, total: u64) -> Error {
        let capacity = self
            .bridge
            .inner
            .options
            .subscription_capacity
            .map_or_else(|| "65536 (the default)".to_owned(), |n| n.to_string());
        Error::new(
            ErrorKind::Connection,
            format!(
                "{SLOW_CONSUMER}the NATS client dropped at least {} message(s) of this \
                 subscription (at least {total} in all) because its buffer of subscription_capacity = {capacity} \
                 messages was full; read faster, raise subscription_capacity, or use \
                 JetStream where no message may be lost",
                total - self.reported
            ),
        )
    }

    fn decode(&self, message: async_nats::Message) -> BoxFuture<'static, Item> {
        let bridge = self.bridge.clone();
        let options = self.options.clone();
        Box::pin(async move {
            AssertUnwindSafe(bridge.smartreceive(&message, &options))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(internal("decoding a message", panic)))
        })
    }
}
