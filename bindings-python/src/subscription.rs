//! `Subscription`: envelopes arriving on a subject, for `for` and
//! `async for`.
//!
//! One wait at a time takes from the core subscription, which sits behind an
//! async mutex. Two rules keep every message:
//!
//! - A cancelled `__anext__` (for example under `asyncio.wait_for`) never
//!   swallows a message. Its task stops waiting as soon as the asyncio future
//!   is done; a message it had already taken is handed over on the loop
//!   thread, and if the future was cancelled meanwhile the decoded step goes
//!   to a stash that the next wait takes first. The task keeps the lock until
//!   the hand-over ran, so the order of messages is kept.
//! - `unsubscribe` / `unsubscribe_after` interrupt a wait that holds the
//!   lock (the wait lets go and takes it again afterwards), so they never
//!   hang behind an idle `async for`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use natsbridge::{ErrorKind, ReceiveOptions, ReceivedEnvelope};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::{OwnedMutexGuard, oneshot, watch};

use crate::bridge::{ReceivedOut, timeout_arg};
use crate::error::NbError;
use crate::runtime::{wait_nb, wait_short, wait_sized};

/// One step of a subscription: an envelope, the error its message gave, or
/// the end. (Moved a few times per message, never stored in bulk: boxing
/// would cost more than the copies.)
#[allow(clippy::large_enum_variant)]
enum Step {
    Envelope(natsbridge::Result<ReceivedEnvelope>),
    End,
}

type Locked = OwnedMutexGuard<natsbridge::Subscription>;

/// What a wait found under the lock.
#[allow(clippy::large_enum_variant)]
enum Found {
    /// A step a cancelled wait had taken and decoded.
    Stashed(Step),
    /// The next raw message, `None` at the end.
    Message(Option<natsbridge::async_nats::Message>),
}

struct Shared {
    subscription: Arc<tokio::sync::Mutex<natsbridge::Subscription>>,
    /// Steps taken by waits whose asyncio future was cancelled first; only
    /// filled and emptied under the subscription lock.
    stash: Mutex<VecDeque<Step>>,
    /// How many unsubscribe calls are under way: waits let go of the lock
    /// while this is above zero.
    control: watch::Sender<usize>,
    /// To decode messages taken raw.
    bridge: natsbridge::Bridge,
    options: ReceiveOptions,
}

impl Shared {
    fn pop_stash(&self) -> Option<Step> {
        self.stash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    fn push_stash(&self, step: Step) {
        self.stash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(step);
    }

    /// Locks the subscription and finds the next step, letting go of the
    /// lock while an unsubscribe call needs it. Cancel-safe: dropped before
    /// it returns, it has taken nothing.
    async fn find(self: &Arc<Self>) -> (Locked, Found) {
        let mut control = self.control.subscribe();
        loop {
            // Both waits below only fail once `self.control` is dropped,
            // which cannot happen while `self` is borrowed.
            let _ = control.wait_for(|busy| *busy == 0).await;
            let mut locked = self.subscription.clone().lock_owned().await;
            if let Some(step) = self.pop_stash() {
                return (locked, Found::Stashed(step));
            }
            tokio::select! {
                biased;
                message = locked.next_message() => return (locked, Found::Message(message)),
                _ = control.wait_for(|busy| *busy > 0) => {}
            }
        }
    }

    /// Runs `operation` on the subscription, interrupting any wait.
    async fn control<T>(
        self: &Arc<Self>,
        operation: impl AsyncFnOnce(&mut natsbridge::Subscription) -> T,
    ) -> T {
        /// Counts one control call for as long as it lives, including when
        /// it is dropped half-way (Ctrl-C during a blocking unsubscribe).
        struct Busy<'a>(&'a watch::Sender<usize>);
        impl Drop for Busy<'_> {
            fn drop(&mut self) {
                self.0.send_modify(|busy| *busy -= 1);
            }
        }
        self.control.send_modify(|busy| *busy += 1);
        let _busy = Busy(&self.control);
        let mut locked = self.subscription.lock().await;
        operation(&mut locked).await
    }

    async fn decode(&self, message: natsbridge::async_nats::Message) -> Step {
        Step::Envelope(self.bridge.smartreceive(&message, &self.options).await)
    }
}

/// Polls `future` once on this thread, inside the core's runtime.
fn poll_now<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    let _runtime = natsbridge::runtime::global().enter();
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Completes asyncio `future` with `step`.
fn settle(py: Python<'_>, future: &Bound<'_, PyAny>, step: Step) -> PyResult<()> {
    let outcome = match step {
        Step::Envelope(Ok(envelope)) => ReceivedOut(envelope).into_pyobject(py),
        Step::Envelope(Err(err)) => Err(NbError(err).into()),
        Step::End => Err(PyStopAsyncIteration::new_err(())),
    };
    match outcome {
        Ok(value) => future.call_method1("set_result", (value,))?,
        Err(err) => future.call_method1("set_exception", (err.into_value(py),))?,
    };
    Ok(())
}

/// Done-callback of an `__anext__` future: tells its task to stop waiting.
#[pyclass(frozen)]
struct WakeOnDone(Mutex<Option<oneshot::Sender<()>>>);

#[pymethods]
impl WakeOnDone {
    fn __call__(&self, _future: &Bound<'_, PyAny>) {
        if let Some(sender) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = sender.send(());
        }
    }
}

/// Completes an `__anext__` future on its loop's thread with the oldest
/// stashed step; when another wait took that step first, waits again for
/// this future. When the future was cancelled meanwhile, the step stays in
/// the stash for the next wait.
#[pyclass(frozen)]
struct Handover {
    future: Py<PyAny>,
    event_loop: Py<PyAny>,
    shared: Arc<Shared>,
}

#[pymethods]
impl Handover {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let future = self.future.bind(py);
        if future.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        match self.shared.pop_stash() {
            Some(step) => settle(py, future, step),
            None => wait_for_step(future, self.event_loop.bind(py), &self.shared),
        }
    }
}

/// Spawns the task that completes `future` with the next step. The task
/// stops as soon as the future is done (cancelled) unless it has already
/// taken a message; a taken step goes through the stash to a [`Handover`],
/// so that no step is lost and none overtakes another.
fn wait_for_step(
    future: &Bound<'_, PyAny>,
    event_loop: &Bound<'_, PyAny>,
    shared: &Arc<Shared>,
) -> PyResult<()> {
    let (stop, mut stopped) = oneshot::channel();
    future.call_method1("add_done_callback", (WakeOnDone(Mutex::new(Some(stop))),))?;
    let handover = Handover {
        future: future.clone().unbind(),
        event_loop: event_loop.clone().unbind(),
        shared: shared.clone(),
    };
    let shared = shared.clone();
    natsbridge::runtime::global().spawn(async move {
        let (locked, found) = tokio::select! {
            biased;
            // Done (cancelled) or gone before anything was taken.
            _ = &mut stopped => return,
            found = shared.find() => found,
        };
        let step = match found {
            Found::Stashed(step) => step,
            Found::Message(None) => Step::End,
            Found::Message(Some(message)) => shared.decode(message).await,
        };
        hand_over(step, locked, handover);
    });
    Ok(())
}

/// Stashes `step` while still holding the lock (so it keeps its place in
/// line), lets go, and schedules `handover` on the loop. If the loop is
/// closed the step stays stashed for whoever waits next.
fn hand_over(step: Step, locked: Locked, handover: Handover) {
    handover.shared.push_stash(step);
    drop(locked);
    Python::attach(|py| {
        let event_loop = handover.event_loop.clone_ref(py);
        let _ = event_loop.call_method1(py, "call_soon_threadsafe", (handover,));
    });
}

/// Envelopes arriving on a subject: iterate it (`for envelope in sub`) or
/// `async for envelope in sub`. Each item is a received envelope (as
/// `smartreceive` returns). A message that is not a valid envelope raises
/// its natsbridge error from that step of the iteration; the subscription
/// itself goes on, and iterating again continues with the next message. It
/// ends when unsubscribed or when its bridge closes. A wait that times out
/// or is cancelled loses no message.
#[pyclass(name = "Subscription", module = "natsbridge", frozen)]
pub struct PySubscription {
    shared: Arc<Shared>,
}

impl PySubscription {
    pub fn new(
        bridge: natsbridge::Bridge,
        subscription: natsbridge::Subscription,
        options: ReceiveOptions,
    ) -> PySubscription {
        PySubscription {
            shared: Arc::new(Shared {
                subscription: Arc::new(tokio::sync::Mutex::new(subscription)),
                stash: Mutex::new(VecDeque::new()),
                control: watch::Sender::new(0),
                bridge,
                options,
            }),
        }
    }
}

#[pymethods]
impl PySubscription {
    /// The next envelope, waiting at most `timeout` seconds if given (then
    /// raising `TimeoutError`, natsbridge's subclass of the built-in);
    /// `None` once the subscription has ended.
    #[pyo3(signature = (timeout = None))]
    fn next<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        // The message is taken raw and decoded in a second step, so that the
        // GIL policy can depend on its size (runtime::wait_sized).
        let shared = self.shared.clone();
        let finding = async move { shared.find().await.1 };
        let found = match timeout_arg(timeout)? {
            Some(limit) => wait_short(py, async move {
                tokio::time::timeout(limit, finding).await.map_err(|_| {
                    natsbridge::Error::new(
                        ErrorKind::Timeout,
                        format!("no message within {limit:?}"),
                    )
                })
            })?
            .map_err(NbError)?,
            None => wait_short(py, finding)?,
        };
        let envelope = match found {
            Found::Message(None) | Found::Stashed(Step::End) => return Ok(None),
            Found::Stashed(Step::Envelope(result)) => result.map_err(NbError)?,
            Found::Message(Some(message)) => {
                let shared = &self.shared;
                wait_sized(
                    py,
                    message.payload.len(),
                    shared.bridge.smartreceive(&message, &shared.options),
                )?
            }
        };
        ReceivedOut(envelope).into_pyobject(py).map(Some)
    }

    /// Stops the subscription; iteration then ends.
    fn unsubscribe(&self, py: Python<'_>) -> PyResult<()> {
        let shared = self.shared.clone();
        wait_nb(py, async move {
            shared
                .control(async |subscription: &mut natsbridge::Subscription| {
                    subscription.unsubscribe().await
                })
                .await
        })
    }

    /// Ends the subscription after `messages` more messages.
    fn unsubscribe_after(&self, py: Python<'_>, messages: u64) -> PyResult<()> {
        let shared = self.shared.clone();
        wait_nb(py, async move {
            shared
                .control(async |subscription: &mut natsbridge::Subscription| {
                    subscription.unsubscribe_after(messages).await
                })
                .await
        })
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.next(py, None)
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// An asyncio future of the next step. Already done when a step is at
    /// hand (no thread hop); otherwise a task on the core's runtime waits for
    /// it (see the module documentation for cancellation).
    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
        let future = event_loop.call_method0("create_future")?;
        let shared = &self.shared;

        // At hand: nobody else waits, nothing interrupts, and the message is
        // already here (decoding may still need I/O: links).
        if *shared.control.borrow() == 0 {
            let at_hand = {
                let mut finding = pin!(shared.find());
                poll_now(finding.as_mut())
            };
            if let Poll::Ready((locked, found)) = at_hand {
                let message = match found {
                    Found::Stashed(step) => {
                        drop(locked);
                        settle(py, &future, step)?;
                        return Ok(future);
                    }
                    Found::Message(None) => {
                        drop(locked);
                        settle(py, &future, Step::End)?;
                        return Ok(future);
                    }
                    Found::Message(Some(message)) => message,
                };
                let mut decoding = Box::pin({
                    let shared = shared.clone();
                    async move { shared.decode(message).await }
                });
                if let Poll::Ready(step) = poll_now(decoding.as_mut()) {
                    drop(locked);
                    settle(py, &future, step)?;
                    return Ok(future);
                }
                // Taken: finish and hand over even if cancelled meanwhile.
                let handover = Handover {
                    future: future.clone().unbind(),
                    event_loop: event_loop.unbind(),
                    shared: shared.clone(),
                };
                natsbridge::runtime::global().spawn(async move {
                    let step = decoding.await;
                    hand_over(step, locked, handover);
                });
                return Ok(future);
            }
        }

        wait_for_step(&future, &event_loop, shared)?;
        Ok(future)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        // Unsubscribing fails only when the connection is already gone, which
        // has ended the subscription anyway.
        let _ = self.unsubscribe(py);
        false
    }
}
