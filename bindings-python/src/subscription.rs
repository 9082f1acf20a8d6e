//! `Subscription`: envelopes arriving on a subject, for `for` and
//! `async for`, over the core's [`natsbridge::Subscription`].
//!
//! The core keeps every message when a wait is cancelled and ends a pending
//! wait on `unsubscribe` (see `core/src/subscription.rs`). What remains here
//! is the last step across threads for asyncio: an `__anext__` future is
//! completed on its loop's thread, and when it was cancelled after its task
//! took a result from the core, that result goes to a small stash that the
//! next wait takes first. One wait at a time takes from the core (an async
//! mutex), and a taken result enters the stash before the lock is let go,
//! so results keep their order.
//!
//! After `unsubscribe` every wait ends at once and nothing buffered (in the
//! core or the stash) is delivered; after `drain` what had arrived is
//! delivered, then iteration ends; the core's one rule.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use natsbridge::{ErrorKind, ReceivedEnvelope, SubscriptionHandle};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::{OwnedMutexGuard, oneshot};

use crate::bridge::{ReceivedOut, timeout_arg};
use crate::error::NbError;
use crate::runtime::{wait_nb, wait_short};

/// One step of a subscription: an envelope or the error its message gave
/// (`Some`), or the end (`None`).
type Step = Option<natsbridge::Result<ReceivedEnvelope>>;

type Locked = OwnedMutexGuard<natsbridge::Subscription>;

struct Shared {
    subscription: Arc<tokio::sync::Mutex<natsbridge::Subscription>>,
    stop: SubscriptionHandle,
    /// Steps taken by waits whose asyncio future was cancelled first; only
    /// filled under the subscription lock.
    stash: Mutex<VecDeque<Step>>,
}

impl Shared {
    fn stash(&self) -> std::sync::MutexGuard<'_, VecDeque<Step>> {
        self.stash.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the subscription and takes the next step: a stashed one first.
    /// Cancel-safe (both awaits are): dropped before it returns, it has
    /// taken nothing.
    async fn find(self: &Arc<Self>) -> (Locked, Step) {
        let mut locked = self.subscription.clone().lock_owned().await;
        if self.stop.is_unsubscribed() {
            return (locked, None);
        }
        if let Some(step) = self.stash().pop_front() {
            return (locked, step);
        }
        let step = locked.next().await;
        (locked, step)
    }

    /// The oldest stashed step, unless unsubscribed (then the end).
    fn pop_stash(&self) -> Option<Step> {
        if self.stop.is_unsubscribed() {
            self.stash().clear();
            return Some(None);
        }
        self.stash().pop_front()
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
        Some(Ok(envelope)) => ReceivedOut(envelope).into_pyobject(py),
        Some(Err(err)) => Err(NbError(err).into()),
        None => Err(PyStopAsyncIteration::new_err(())),
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
/// stops as soon as the future is done (cancelled); a step it took goes
/// through the stash to a [`Handover`].
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
        let (locked, step) = tokio::select! {
            biased;
            // Done (cancelled) or gone before anything was taken.
            _ = &mut stopped => return,
            found = shared.find() => found,
        };
        hand_over(step, locked, handover);
    });
    Ok(())
}

/// Stashes `step` while still holding the lock (so it keeps its place in
/// line), lets go, and schedules `handover` on the loop. If the loop is
/// closed the step stays stashed for whoever waits next.
fn hand_over(step: Step, locked: Locked, handover: Handover) {
    handover.shared.stash().push_back(step);
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
/// itself goes on, and iterating again continues with the next message. A
/// wait that times out or is cancelled loses no message.
///
/// It ends when its bridge closes, after `unsubscribe()` (at once: a
/// pending and every later wait end, what had arrived but was not yet taken
/// is dropped), or after `drain()` (what had arrived is still delivered,
/// then iteration ends); as `unsubscribe` and `drain` in nats-py.
#[pyclass(name = "Subscription", module = "natsbridge", frozen)]
pub struct PySubscription {
    shared: Arc<Shared>,
}

impl PySubscription {
    pub fn new(subscription: natsbridge::Subscription) -> PySubscription {
        PySubscription {
            shared: Arc::new(Shared {
                stop: subscription.stop_handle(),
                subscription: Arc::new(tokio::sync::Mutex::new(subscription)),
                stash: Mutex::new(VecDeque::new()),
            }),
        }
    }
}

#[pymethods]
impl PySubscription {
    /// The next envelope, waiting at most `timeout` seconds if given (then
    /// raising `NatsTimeoutError`, natsbridge's subclass of the built-in
    /// `TimeoutError`); `None` once the subscription has ended.
    #[pyo3(signature = (timeout = None))]
    fn next<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let shared = self.shared.clone();
        let finding = async move { shared.find().await.1 };
        let step = match timeout_arg(timeout)? {
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
        match step {
            None => Ok(None),
            Some(received) => ReceivedOut(received.map_err(NbError)?)
                .into_pyobject(py)
                .map(Some),
        }
    }

    /// Ends the subscription at once: a pending and every later wait end
    /// (`None`, `StopIteration`, `StopAsyncIteration`), and what had arrived
    /// but was not yet taken is dropped. Calling it again does nothing.
    fn unsubscribe(&self, py: Python<'_>) -> PyResult<()> {
        let stop = self.shared.stop.clone();
        let outcome = wait_nb(py, async move { stop.unsubscribe().await });
        self.shared.stash().clear();
        outcome
    }

    /// Unsubscribes at the server, then delivers what had already arrived,
    /// then ends.
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        let stop = self.shared.stop.clone();
        wait_nb(py, async move { stop.drain().await })
    }

    /// Ends the subscription after `messages` more messages (delivered).
    fn unsubscribe_after(&self, py: Python<'_>, messages: u64) -> PyResult<()> {
        let stop = self.shared.stop.clone();
        wait_nb(py, async move { stop.unsubscribe_after(messages).await })
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
        let at_hand = {
            let mut finding = pin!(shared.find());
            poll_now(finding.as_mut())
        };
        match at_hand {
            Poll::Ready((locked, step)) => {
                drop(locked);
                settle(py, &future, step)?;
            }
            Poll::Pending => wait_for_step(&future, &event_loop, shared)?,
        }
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
