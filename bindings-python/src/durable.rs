//! `DurableSubscription` and `JetStreamMessage`: a JetStream consumer's
//! decoded envelopes, to acknowledge, over the core's
//! [`natsbridge::jetstream::DurableSubscription`].
//!
//! The settling rules (what a failed decode does to its message, progress
//! acks while links download, redelivery) are the core's; this module only
//! converts. One wait at a time takes from the core (an async mutex). A wait
//! that is cancelled (a timeout, a cancelled task) after the server handed
//! out a message loses nothing: the message was not acknowledged, so the
//! server delivers it again after `ack_wait`.

use std::sync::Arc;
use std::time::Duration;

use natsbridge::jetstream::{DurableSubscription, JetStreamAck, JetStreamMessage};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use crate::bridge::{ReceivedOut, timeout_arg};
use crate::error::NbError;
use crate::runtime::{self, wait_nb};

type Shared = Arc<tokio::sync::Mutex<DurableSubscription>>;

async fn next_step(
    shared: Shared,
    limit: Option<Duration>,
) -> natsbridge::Result<Option<JetStreamMessage>> {
    let mut subscription = shared.lock().await;
    match limit {
        Some(limit) => subscription.next_timeout(limit).await,
        None => subscription.next().await.transpose(),
    }
}

/// A message of a JetStream consumer as Python gets it.
pub struct MessageOut(pub JetStreamMessage);

impl<'py> IntoPyObject<'py> for MessageOut {
    type Target = PyJetStreamMessage;
    type Output = Bound<'py, PyJetStreamMessage>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyJetStreamMessage>> {
        let (envelope, message) = self.0.into_parts();
        let (stream_sequence, delivery_count) = (message.stream_sequence, message.delivered);
        let message = Arc::new(message);
        let envelope = ReceivedOut(envelope).into_pyobject(py)?.unbind();
        Bound::new(
            py,
            PyJetStreamMessage {
                envelope,
                stream_sequence,
                delivery_count,
                message,
            },
        )
    }
}

/// Decoded envelopes of a JetStream consumer (`Bridge.durable_subscribe`):
/// iterate it (`for message in sub`, `async for message in sub`) or call
/// `next(timeout)`. Each item is a `JetStreamMessage` to `ack()`, `nak()` or
/// `term()`. A message that is not a valid envelope raises its natsbridge
/// error from that step (the core has already settled it: terminated when
/// it can never succeed, redelivered later when it may); iterating again
/// continues. A message neither acknowledged nor terminated comes again
/// after `ack_wait`, to this or the next subscriber with the same durable
/// name.
#[pyclass(name = "DurableSubscription", module = "natsbridge", frozen)]
pub struct PyDurableSubscription {
    shared: Shared,
}

impl PyDurableSubscription {
    pub fn new(subscription: DurableSubscription) -> PyDurableSubscription {
        PyDurableSubscription {
            shared: Arc::new(tokio::sync::Mutex::new(subscription)),
        }
    }
}

#[pymethods]
impl PyDurableSubscription {
    /// The next message, waiting at most `timeout` seconds if given (then
    /// raising `NatsTimeoutError`); `None` once the consumer has ended.
    #[pyo3(signature = (timeout = None))]
    fn next<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyJetStreamMessage>>> {
        let limit = timeout_arg(timeout)?;
        let step = wait_nb(py, next_step(self.shared.clone(), limit))?;
        step.map(|message| MessageOut(message).into_pyobject(py))
            .transpose()
    }

    /// `next` as an awaitable.
    #[pyo3(signature = (timeout = None))]
    fn anext<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let limit = timeout_arg(timeout)?;
        let shared = self.shared.clone();
        runtime::awaitable_nb(py, async move {
            Ok(next_step(shared, limit).await?.map(MessageOut))
        })
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyJetStreamMessage>>> {
        self.next(py, None)
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        runtime::awaitable(py, async move {
            match next_step(shared, None).await {
                Ok(Some(message)) => Ok(MessageOut(message)),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(err) => Err(NbError(err).into()),
            }
        })
    }
}

/// One message of a JetStream consumer: the decoded `envelope` (as
/// `smartreceive` returns it), its `stream_sequence` and `delivery_count`
/// (1 the first time), and how to settle it: `ack()` (done, never again),
/// `nak(delay_ms=None)` (deliver again, after `delay_ms` if given), `term()`
/// (never again, not processed); `aack`, `anak`, `aterm` as awaitables.
#[pyclass(name = "JetStreamMessage", module = "natsbridge", frozen)]
pub struct PyJetStreamMessage {
    /// The decoded envelope.
    #[pyo3(get)]
    envelope: Py<PyAny>,
    /// The message's sequence number in its stream.
    #[pyo3(get)]
    stream_sequence: u64,
    /// How many times the message has been delivered (1 the first time).
    #[pyo3(get)]
    delivery_count: i64,
    message: Arc<JetStreamAck>,
}

fn delay(delay_ms: Option<u64>) -> Option<Duration> {
    delay_ms.map(Duration::from_millis)
}

#[pymethods]
impl PyJetStreamMessage {
    /// Acknowledges the message and waits for the server to confirm it.
    fn ack(&self, py: Python<'_>) -> PyResult<()> {
        let message = self.message.clone();
        wait_nb(py, async move { message.ack().await })
    }

    /// Asks for the message again, after `delay_ms` milliseconds if given.
    #[pyo3(signature = (delay_ms = None))]
    fn nak(&self, py: Python<'_>, delay_ms: Option<u64>) -> PyResult<()> {
        let message = self.message.clone();
        wait_nb(py, async move { message.nak(delay(delay_ms)).await })
    }

    /// Stops redelivery of the message without processing it.
    fn term(&self, py: Python<'_>) -> PyResult<()> {
        let message = self.message.clone();
        wait_nb(py, async move { message.term().await })
    }

    /// `ack` as an awaitable.
    fn aack<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let message = self.message.clone();
        runtime::awaitable_nb(py, async move { message.ack().await })
    }

    /// `nak` as an awaitable.
    #[pyo3(signature = (delay_ms = None))]
    fn anak<'py>(&self, py: Python<'py>, delay_ms: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        let message = self.message.clone();
        runtime::awaitable_nb(py, async move { message.nak(delay(delay_ms)).await })
    }

    /// `term` as an awaitable.
    fn aterm<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let message = self.message.clone();
        runtime::awaitable_nb(py, async move { message.term().await })
    }

    fn __repr__(&self) -> String {
        format!(
            "JetStreamMessage(stream_sequence={}, delivery_count={})",
            self.stream_sequence, self.delivery_count
        )
    }
}
