//! The Python API over the core's [`natsbridge::Bridge`]: the long-lived
//! `Bridge` and its `Subscription`, and the original design's function
//! style, `smartsend` / `smartreceive`, over the core's connection pool.
//!
//! Every operation has a blocking form (GIL released, Ctrl-C honoured) and
//! an asyncio form (`asend`, `arequest`, ..., `async for` on subscriptions)
//! that never blocks the event loop; see `runtime.rs`.

use std::time::Duration;

use bytes::Bytes;
use natsbridge::{ErrorKind, ReceiveOptions, ReceivedEnvelope, SentEnvelope};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::envelope;
use crate::error::nb_error;
use crate::options::{connect_options, default_nats_url, receive_options, send_options};
use crate::payload::{bytes_from_py, payloads_from_py, work_bytes};
use crate::runtime::{self, wait_nb, wait_sized};
use crate::subscription::PySubscription;

/// A sent envelope on its way to Python (as the dict of its JSON).
pub struct SentOut(pub SentEnvelope);

impl<'py> IntoPyObject<'py> for SentOut {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        envelope::sent_to_py(py, &self.0).map(Bound::into_any)
    }
}

/// A received envelope on its way to Python.
pub struct ReceivedOut(pub ReceivedEnvelope);

impl<'py> IntoPyObject<'py> for ReceivedOut {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        envelope::received_to_py(py, self.0)
    }
}

/// A received message's body and, when it came from NATS, its subject and
/// reply subject.
struct Message {
    body: Bytes,
    subject: Option<String>,
    reply: Option<String>,
}

/// Reads `msg`: bytes, bytearray, memoryview, str, or any object with
/// `.data` (a nats-py `Msg`, whose `.subject` and `.reply` are kept too).
fn message_from_py(msg: &Bound<'_, PyAny>) -> PyResult<Message> {
    if let Some(body) = bytes_from_py(msg)? {
        return Ok(Message {
            body,
            subject: None,
            reply: None,
        });
    }
    if let Ok(text) = msg.cast::<PyString>() {
        return Ok(Message {
            body: Bytes::copy_from_slice(text.to_str()?.as_bytes()),
            subject: None,
            reply: None,
        });
    }
    if let Some(data) = msg.getattr_opt("data")? {
        let mut message = message_from_py(&data)?;
        let text_attr = |name: &str| -> PyResult<Option<String>> {
            Ok(match msg.getattr_opt(name)? {
                Some(value) if value.is_instance_of::<PyString>() => {
                    Some(value.extract::<String>()?).filter(|s| !s.is_empty())
                }
                _ => None,
            })
        };
        message.subject = text_attr("subject")?;
        message.reply = text_attr("reply")?;
        return Ok(message);
    }
    Err(PyTypeError::new_err(format!(
        "smartreceive takes the message body (bytes, bytearray, memoryview or str) or a message \
         object with .data (a nats-py Msg), got a {}",
        msg.get_type().qualname()?
    )))
}

fn with_origin(mut envelope: ReceivedEnvelope, message: &Message) -> ReceivedEnvelope {
    if envelope.subject.is_none() {
        envelope.subject = message.subject.clone();
    }
    if envelope.nats_reply.is_none() {
        envelope.nats_reply = message.reply.clone();
    }
    envelope
}

/// Sends `data` (a list of `(dataname, data, type)` tuples) on `subject`
/// through the pooled connection to `nats_url`, and returns the envelope as
/// sent. Keywords as in the original design: `fileserver_url`,
/// `fileserver_upload_handler`, `size_threshold`, `correlation_id`,
/// `msg_purpose`, `sender_name`, `receiver_name`, `receiver_id`,
/// `reply_to`, `reply_to_msg_id`, `metadata`.
#[pyfunction]
#[pyo3(signature = (subject, data, nats_url = None, **options))]
pub fn smartsend<'py>(
    py: Python<'py>,
    subject: &str,
    data: &Bound<'py, PyAny>,
    nats_url: Option<String>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let payloads = payloads_from_py(data)?;
    let options = send_options("smartsend", options)?;
    let url = default_nats_url(nats_url);
    let work = work_bytes(&payloads);
    let sent = wait_sized(
        py,
        work,
        natsbridge::smartsend(&url, subject, payloads, &options),
    )?;
    SentOut(sent).into_pyobject(py)
}

/// `smartsend` as an awaitable.
#[pyfunction]
#[pyo3(signature = (subject, data, nats_url = None, **options))]
pub fn asmartsend<'py>(
    py: Python<'py>,
    subject: String,
    data: &Bound<'py, PyAny>,
    nats_url: Option<String>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let payloads = payloads_from_py(data)?;
    let options = send_options("asmartsend", options)?;
    let url = default_nats_url(nats_url);
    runtime::awaitable_nb(py, async move {
        natsbridge::smartsend(&url, &subject, payloads, &options)
            .await
            .map(SentOut)
    })
}

/// Decodes a received message: returns a dict of the envelope's fields whose
/// `"payloads"` is a list of `(dataname, data, type)` tuples. Link payloads
/// are downloaded (with `max_retries`, `base_delay` and `max_delay` in ms),
/// or fetched by `fileserver_download_handler(url, max_retries, base_delay,
/// max_delay) -> bytes`. `nats-object://` links are read from `nats_url`, or
/// from the envelope's `broker_url` when it is not given.
#[pyfunction]
#[pyo3(signature = (msg, fileserver_download_handler = None, **options))]
pub fn smartreceive<'py>(
    py: Python<'py>,
    msg: &Bound<'py, PyAny>,
    fileserver_download_handler: Option<&Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (message, nats_url, receive) =
        receive_args("smartreceive", msg, fileserver_download_handler, options)?;
    let envelope = wait_sized(
        py,
        message.body.len(),
        natsbridge::smartreceive(&message.body, nats_url.as_deref(), &receive),
    )?;
    ReceivedOut(with_origin(envelope, &message)).into_pyobject(py)
}

/// `smartreceive` as an awaitable.
#[pyfunction]
#[pyo3(signature = (msg, fileserver_download_handler = None, **options))]
pub fn asmartreceive<'py>(
    py: Python<'py>,
    msg: &Bound<'py, PyAny>,
    fileserver_download_handler: Option<&Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (message, nats_url, receive) =
        receive_args("asmartreceive", msg, fileserver_download_handler, options)?;
    runtime::awaitable_nb(py, async move {
        natsbridge::smartreceive(&message.body, nats_url.as_deref(), &receive)
            .await
            .map(|envelope| ReceivedOut(with_origin(envelope, &message)))
    })
}

fn receive_args(
    function: &str,
    msg: &Bound<'_, PyAny>,
    handler: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Message, Option<String>, ReceiveOptions)> {
    let message = message_from_py(msg)?;
    let mut receive = receive_options(function, options, &["nats_url"])?;
    if let Some(handler) = handler.filter(|h| !h.is_none()) {
        receive = receive.fetcher(crate::store::download_fetcher(handler)?);
    }
    let nats_url = match options
        .map(|o| o.get_item("nats_url"))
        .transpose()?
        .flatten()
    {
        Some(url) if !url.is_none() => Some(url.extract::<String>()?),
        _ => None,
    };
    Ok((message, nats_url, receive))
}

/// A long-lived connection to NATS.
///
/// ```python
/// with natsbridge.Bridge("nats://localhost:4222") as bridge:
///     for envelope in bridge.subscribe("/chat/room1"):
///         ...
/// ```
///
/// Thread-safe: share one bridge between threads. In asyncio code create it
/// with `await Bridge.aconnect(...)` and use the `a`-prefixed methods.
#[pyclass(name = "Bridge", module = "natsbridge", frozen)]
pub struct PyBridge {
    bridge: natsbridge::Bridge,
}

#[pymethods]
impl PyBridge {
    /// Connects to `nats_url` (one URL or several, comma-separated; default
    /// `$NATS_URL` or `nats://localhost:4222`). Keywords: `name`, `token`,
    /// `user` and `password`, `credentials_file`, `nkey`, `tls_ca_file`,
    /// `tls_client_cert` (cert, key), `require_tls`, `connect_timeout` and
    /// `request_timeout` (s), `subscription_capacity`, `fileserver_url`,
    /// `fileserver_token`, `object_store_bucket`, `object_store_ttl` (s).
    #[new]
    #[pyo3(signature = (nats_url = None, **options))]
    fn new(
        py: Python<'_>,
        nats_url: Option<String>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let options = connect_options(nats_url, options)?;
        let bridge = wait_nb(py, options.connect())?;
        Ok(PyBridge { bridge })
    }

    /// Connects without blocking the event loop: `await Bridge.aconnect(...)`.
    #[staticmethod]
    #[pyo3(signature = (nats_url = None, **options))]
    fn aconnect<'py>(
        py: Python<'py>,
        nats_url: Option<String>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = connect_options(nats_url, options)?;
        runtime::awaitable_nb(py, async move {
            options.connect().await.map(|bridge| PyBridge { bridge })
        })
    }

    /// The server URL(s), without credentials.
    #[getter]
    fn broker_url(&self) -> &str {
        self.bridge.broker_url()
    }

    /// The largest message the server accepts.
    #[getter]
    fn max_payload(&self) -> usize {
        self.bridge.max_payload()
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.bridge.is_closed()
    }

    /// Sends `data` on `subject` and returns the envelope as sent; keywords
    /// as for `smartsend`.
    #[pyo3(signature = (subject, data, **options))]
    fn send<'py>(
        &self,
        py: Python<'py>,
        subject: &str,
        data: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let payloads = payloads_from_py(data)?;
        let options = send_options("send", options)?;
        let work = work_bytes(&payloads);
        let sent = wait_sized(py, work, self.bridge.smartsend(subject, payloads, &options))?;
        SentOut(sent).into_pyobject(py)
    }

    /// `send` as an awaitable.
    #[pyo3(signature = (subject, data, **options))]
    fn asend<'py>(
        &self,
        py: Python<'py>,
        subject: String,
        data: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let payloads = payloads_from_py(data)?;
        let options = send_options("asend", options)?;
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move {
            bridge
                .smartsend(&subject, payloads, &options)
                .await
                .map(SentOut)
        })
    }

    /// Decodes a message body with this bridge's connection (for
    /// `nats-object://` links); keywords as for `smartreceive`.
    #[pyo3(signature = (msg, **options))]
    fn receive<'py>(
        &self,
        py: Python<'py>,
        msg: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let message = message_from_py(msg)?;
        let receive = receive_options("receive", options, &[])?;
        let envelope = wait_sized(
            py,
            message.body.len(),
            self.bridge.smartreceive_bytes(&message.body, &receive),
        )?;
        ReceivedOut(with_origin(envelope, &message)).into_pyobject(py)
    }

    /// Subscribes to `subject` (wildcards allowed), as a member of queue
    /// group `queue` if given. Receive keywords as for `smartreceive`;
    /// `concurrent_receives` (default 1) envelopes are decoded at once, still
    /// delivered in arrival order.
    #[pyo3(signature = (subject, queue = None, concurrent_receives = 1, **options))]
    fn subscribe(
        &self,
        py: Python<'_>,
        subject: &str,
        queue: Option<&str>,
        concurrent_receives: usize,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PySubscription> {
        let receive = receive_options("subscribe", options, &[])?;
        let subscription = match queue {
            Some(group) => wait_nb(py, self.bridge.queue_subscribe(subject, group, receive))?,
            None => wait_nb(py, self.bridge.subscribe(subject, receive))?,
        };
        Ok(PySubscription::new(
            subscription.concurrent_receives(concurrent_receives),
        ))
    }

    /// `subscribe` as an awaitable.
    #[pyo3(signature = (subject, queue = None, concurrent_receives = 1, **options))]
    fn asubscribe<'py>(
        &self,
        py: Python<'py>,
        subject: String,
        queue: Option<String>,
        concurrent_receives: usize,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let receive = receive_options("asubscribe", options, &[])?;
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move {
            let subscription = match queue {
                Some(group) => bridge.queue_subscribe(&subject, &group, receive).await?,
                None => bridge.subscribe(&subject, receive).await?,
            };
            Ok(PySubscription::new(
                subscription.concurrent_receives(concurrent_receives),
            ))
        })
    }

    /// Sends a request and waits up to `timeout` seconds (default: the
    /// bridge's `request_timeout`) for the reply, which is returned as a
    /// received envelope. Send keywords as for `send`; receive keywords for
    /// the reply go in `receive_options` (a dict).
    #[pyo3(signature = (subject, data, timeout = None, receive_options = None, **options))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        subject: &str,
        data: &Bound<'py, PyAny>,
        timeout: Option<f64>,
        receive_options: Option<&Bound<'py, PyDict>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let payloads = payloads_from_py(data)?;
        let send = send_options("request", options)?;
        let receive = crate::options::receive_options("request", receive_options, &[])?;
        let timeout = timeout_arg(timeout)?;
        let work = work_bytes(&payloads);
        let reply = wait_sized(
            py,
            work,
            self.bridge
                .request(subject, payloads, &send, timeout, &receive),
        )?;
        ReceivedOut(reply).into_pyobject(py)
    }

    /// `request` as an awaitable.
    #[pyo3(signature = (subject, data, timeout = None, receive_options = None, **options))]
    fn arequest<'py>(
        &self,
        py: Python<'py>,
        subject: String,
        data: &Bound<'py, PyAny>,
        timeout: Option<f64>,
        receive_options: Option<&Bound<'py, PyDict>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let payloads = payloads_from_py(data)?;
        let send = send_options("arequest", options)?;
        let receive = crate::options::receive_options("arequest", receive_options, &[])?;
        let timeout = timeout_arg(timeout)?;
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move {
            bridge
                .request(&subject, payloads, &send, timeout, &receive)
                .await
                .map(ReceivedOut)
        })
    }

    /// Answers a received envelope (wire-v1 section 6): publishes to its
    /// `reply_to`, or to its NATS reply inbox, with `reply_to_msg_id` and
    /// `correlation_id` taken from it. Returns the envelope as sent.
    #[pyo3(signature = (request, data, **options))]
    fn reply<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        data: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = envelope::request_from_py(request)?;
        let payloads = payloads_from_py(data)?;
        let options = send_options("reply", options)?;
        let work = work_bytes(&payloads);
        let sent = wait_sized(py, work, self.bridge.reply(request, payloads, &options))?;
        SentOut(sent).into_pyobject(py)
    }

    /// `reply` as an awaitable.
    #[pyo3(signature = (request, data, **options))]
    fn areply<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        data: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = envelope::request_from_py(request)?;
        let payloads = payloads_from_py(data)?;
        let options = send_options("areply", options)?;
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move {
            bridge.reply(request, payloads, &options).await.map(SentOut)
        })
    }

    /// Creates the JetStream stream `name` capturing `subjects` if it does
    /// not exist (for sends with `jetstream=True`).
    fn ensure_stream(&self, py: Python<'_>, name: &str, subjects: Vec<String>) -> PyResult<()> {
        let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
        wait_nb(py, self.bridge.ensure_stream(name, &subjects))
    }

    /// Waits until everything published so far has reached the server.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        wait_nb(py, self.bridge.flush())
    }

    /// Flushes and closes the connection; later calls raise `ClosedError`.
    /// Calling it again does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        wait_nb(py, self.bridge.close())
    }

    /// `close` as an awaitable.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move { bridge.close().await })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.unbind();
        runtime::awaitable(py, async move { Ok(this) })
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move { bridge.close().await.map(|()| false) })
    }

    fn __repr__(&self) -> String {
        format!(
            "natsbridge.Bridge({:?}{})",
            self.bridge.broker_url(),
            if self.bridge.is_closed() {
                ", closed"
            } else {
                ""
            }
        )
    }
}

pub(crate) fn timeout_arg(timeout: Option<f64>) -> PyResult<Option<Duration>> {
    timeout
        .map(|secs| {
            Duration::try_from_secs_f64(secs).map_err(|_| {
                nb_error(
                    ErrorKind::InvalidArgument,
                    format!("timeout must be a non-negative number of seconds, got {secs}"),
                )
                .into()
            })
        })
        .transpose()
}
