//! The Python API over the core's [`natsbridge::Bridge`]: the long-lived
//! `Bridge` and its `Subscription`, and the original design's function
//! style, `smartsend` / `smartreceive`, over the core's connection pool.
//!
//! Every operation has a blocking form (GIL released, Ctrl-C honoured) and
//! an asyncio form (`asend`, `arequest`, ..., `async for` on subscriptions)
//! that never blocks the event loop; see `runtime.rs`.

use std::time::Duration;

use bytes::Bytes;
use natsbridge::schema::Scope;
use natsbridge::{ConnectOptions, ErrorKind, ReceiveOptions, ReceivedEnvelope, SentEnvelope};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::durable::PyDurableSubscription;
use crate::envelope;
use crate::error::nb_error;
use crate::options::{
    connect_options, consumer_options, count_param, receive_options, send_options, text_param,
};
use crate::payload::{bytes_from_py, bytes_of_py_bytes, payloads_from_py, work_bytes};
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
            // One copy, as before: the UTF-8 `bytes`, read in place.
            body: bytes_of_py_bytes(text.encode_utf8()?),
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
/// through the pooled connection to `nats_url` (default: `$NATS_URL`, else
/// `nats://localhost:4222`), and returns the envelope as sent.
///
/// Send keywords (the option schema, docs/options.md; durations are
/// milliseconds, sizes bytes; `None` means the default):
///
/// - `size_threshold` (int, bytes; default 1000000): Payloads of at least this many serialized bytes travel by link (claim-check).
/// - `correlation_id` (str; default a new UUID per message): The id that ties a conversation together across messages.
/// - `msg_id` (str; default a new UUID per message): The message id; JetStream drops a resend with the same id.
/// - `msg_purpose` (str; default 'chat'): What the message is for (chat, command, telemetry; replies are response).
/// - `sender_name` (str; default 'NATSBridge'): Who sends.
/// - `sender_id` (str; default a UUID drawn once per process): The sender's id.
/// - `receiver_name` (str; default ''): Who should receive (empty: broadcast).
/// - `receiver_id` (str; default ''): The receiver's id (empty: broadcast).
/// - `reply_to` (str; default ''): The subject the receiver should answer on (empty: none).
/// - `reply_to_msg_id` (str; default ''): In a reply: the msg_id being answered.
/// - `metadata` (dict; default unset): The envelope's free-form metadata object.
/// - `jetstream` (bool; default False): Publish through JetStream and wait for the stream's acknowledgement.
/// - `direct_sha256` (bool; default False): Also write sha256 for direct payloads (link payloads always carry it).
/// - `fileserver_url` (str; default the connection's fileserver_url, else the JetStream Object Store): The HTTP file server link payloads are uploaded to (PUT <url>/<payload id>/<dataname>).
/// - `fileserver_token` (str; default the connection's fileserver_token): The bearer token for uploads to fileserver_url.
/// - `fileserver_upload_handler` (callable; default unset): Uploads a link payload and returns its URL, replacing the built-in stores: (fileserver_url, dataname, bytes) -> url.
#[pyfunction]
#[pyo3(signature = (subject, data, nats_url = None, **options))]
pub fn smartsend<'py>(
    py: Python<'py>,
    subject: &str,
    data: &Bound<'py, PyAny>,
    nats_url: Option<&Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let nats_url = text_param(Scope::Connect, "nats_url", nats_url)?;
    let payloads = payloads_from_py(data)?;
    let options = send_options("smartsend", options)?;
    let url = ConnectOptions::resolve_nats_url(nats_url.as_deref());
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
    nats_url: Option<&Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let nats_url = text_param(Scope::Connect, "nats_url", nats_url)?;
    let payloads = payloads_from_py(data)?;
    let options = send_options("asmartsend", options)?;
    let url = ConnectOptions::resolve_nats_url(nats_url.as_deref());
    runtime::awaitable_nb(py, async move {
        natsbridge::smartsend(&url, &subject, payloads, &options)
            .await
            .map(SentOut)
    })
}

/// Decodes a received message: returns a dict of the envelope's fields whose
/// `"payloads"` is a list of `(dataname, data, type)` tuples. Link payloads
/// are downloaded, or fetched by `fileserver_download_handler(url,
/// max_retries, base_delay, max_delay) -> bytes` (delays in ms).
/// `nats-object://` links are read over the pooled connection to the
/// keyword `nats_url` (default: `$NATS_URL`, else `nats://localhost:4222`;
/// never the envelope's `broker_url`).
///
/// Receive keywords (the option schema, docs/options.md; durations are
/// milliseconds, sizes bytes; `None` means the default):
///
/// - `max_retries` (int; default 5): Retries of a failed download (connection errors, time-outs, 5xx and 429 only).
/// - `base_delay` (int, ms; default 100): The first retry delay; each next one doubles, with jitter.
/// - `max_delay` (int, ms; default 5000): The longest delay between two tries.
/// - `download_timeout` (int, ms; default 30000): The time one download attempt may take (HTTP: the whole request; Object Store: the wait for each chunk).
/// - `download_connect_timeout` (int, ms; default 5000): The time an HTTP(S) download may take to connect to a link's server (TCP and TLS), within download_timeout.
/// - `envelope_timeout` (int, ms; default 60000): The most time the link payloads of one envelope may take together, retries included; past it the envelope fails with TIMEOUT naming the payload.
/// - `max_download_size` (int, bytes; default 1073741824): The largest link payload that is downloaded.
/// - `max_envelope_download_size` (int, bytes; default 4 x max_download_size): The most bytes the link payloads of one envelope may declare together.
/// - `max_link_payloads` (int; default 256): The most link payloads one envelope may carry.
/// - `max_concurrent_downloads` (int; default 4): How many link payloads of one envelope are downloaded at once.
/// - `max_table_rows` (int; default 16777216): The most rows a received table may have.
/// - `allowed_origins` (str | list[str]; default unset): When set, only links to these origins (scheme://host[:port]) are fetched.
/// - `allow_private_addresses` (bool; default True): Whether links may point at private and loopback addresses (link-local and metadata addresses are refused either way).
/// - `store_tokens` (dict[str, str]; default unset): Bearer tokens sent only when fetching links of exactly these origins.
/// - `save_dir` (str | PathLike; default unset): Write link payloads into this directory (streamed) and deliver them as file paths.
/// - `proxy` (str; default unset): Send HTTP(S) downloads through this proxy; proxies from the environment are never used.
/// - `handler_timeout` (int, ms; default download_timeout x (max_retries + 1) + max_delay x max_retries): The longest one call of fileserver_download_handler may take (envelope_timeout still bounds the whole envelope).
/// - `fileserver_download_handler` (callable; default unset): Fetches a link payload instead of the built-in fetch: (url, max_retries, base_delay, max_delay) -> bytes.
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
    let given_url = options.map(|o| o.get_item("nats_url")).transpose()?;
    let nats_url = text_param(Scope::Connect, "nats_url", given_url.flatten().as_ref())?;
    Ok((message, nats_url, receive))
}

/// A long-lived connection to NATS: `Bridge(nats_url=None, **options)`
/// connects to `nats_url` (one URL or several, comma-separated; default:
/// `$NATS_URL`, else `nats://localhost:4222`).
///
/// Connect keywords (the option schema, docs/options.md; durations are
/// milliseconds; `None` means the default):
///
/// - `name` (str; default unset): The connection name the server shows in its monitoring.
/// - `token` (str; default unset): Authenticate with this token.
/// - `user` (str; default unset): Authenticate as this user; needs password.
/// - `password` (str; default unset): The password of user; needs user.
/// - `credentials_file` (str | PathLike; default unset): Authenticate with this .creds file (JWT and nkey seed).
/// - `nkey` (str; default unset): Authenticate with this nkey seed (SU...).
/// - `tls_ca_file` (str | PathLike; default unset): Trust the server certificates signed by this CA file (PEM): NATS, and https file servers for uploads and link downloads.
/// - `tls_client_cert` (str | PathLike; default unset): Present this client certificate (PEM) for mutual TLS; needs tls_client_key.
/// - `tls_client_key` (str | PathLike; default unset): The private key (PEM) of tls_client_cert; needs tls_client_cert.
/// - `require_tls` (bool; default False): Refuse to talk to the server without TLS.
/// - `connect_timeout` (int, ms; default 5000): How long connecting may take.
/// - `request_timeout` (int, ms; default 10000): How long a request waits for its reply, and a JetStream publish for its acknowledgement.
/// - `subscription_capacity` (int; default async-nats' default (65,536 messages)): How many messages a subscription buffers before the server treats it as a slow consumer.
/// - `fileserver_url` (str; default unset): The HTTP file server every send of this connection uploads link payloads to (a send's own fileserver_url wins); unset: the JetStream Object Store.
/// - `fileserver_token` (str; default unset): The bearer token for uploads to fileserver_url.
/// - `object_store_bucket` (str; default 'natsbridge'): The JetStream Object Store bucket link payloads go to when no file server is set.
/// - `object_store_ttl` (int, ms; default 86400000): How long objects are kept in that bucket (used when the bucket is created).
/// - `jetstream_replicas` (int; default 1): How many servers keep a copy of a stream (ensure_stream) or the Object Store bucket when this connection creates them; a single server takes 1, a cluster up to 5.
/// - `reply_subject_prefixes` (str | list[str]; default unset): When set, replies go only to subjects starting with one of these prefixes (e.g. _INBOX.); $-prefixed system subjects are refused either way.
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
    /// Connects; keywords as in the class documentation.
    #[new]
    #[pyo3(signature = (nats_url = None, **options))]
    fn new(
        py: Python<'_>,
        nats_url: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let nats_url = text_param(Scope::Connect, "nats_url", nats_url)?;
        let options = connect_options("Bridge", nats_url.as_deref(), options)?;
        let bridge = wait_nb(py, options.connect())?;
        Ok(PyBridge { bridge })
    }

    /// Connects without blocking the event loop: `await Bridge.aconnect(...)`.
    #[staticmethod]
    #[pyo3(signature = (nats_url = None, **options))]
    fn aconnect<'py>(
        py: Python<'py>,
        nats_url: Option<&Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nats_url = text_param(Scope::Connect, "nats_url", nats_url)?;
        let options = connect_options("aconnect", nats_url.as_deref(), options)?;
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

    /// Subscribes to `subject` (wildcards allowed). Receive keywords as for
    /// `smartreceive` (they apply to every envelope of the subscription).
    ///
    /// Subscribe options (the option schema, docs/options.md; `None` means
    /// the default):
    ///
    /// - `queue` (str; default unset): Join this queue group: each message goes to one member.
    /// - `concurrent_receives` (int; default 1): How many envelopes are decoded (and their links fetched) at once; they are still delivered in arrival order.
    #[pyo3(signature = (subject, queue = None, concurrent_receives = None, **options))]
    fn subscribe(
        &self,
        py: Python<'_>,
        subject: &str,
        queue: Option<&Bound<'_, PyAny>>,
        concurrent_receives: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PySubscription> {
        let queue = text_param(Scope::Subscribe, "queue", queue)?;
        let concurrent = count_param(Scope::Subscribe, "concurrent_receives", concurrent_receives)?;
        let receive = receive_options("subscribe", options, &[])?;
        let subscription = match queue {
            Some(group) => wait_nb(py, self.bridge.queue_subscribe(subject, &group, receive))?,
            None => wait_nb(py, self.bridge.subscribe(subject, receive))?,
        };
        Ok(PySubscription::new(with_concurrency(
            subscription,
            concurrent,
        )))
    }

    /// `subscribe` as an awaitable.
    #[pyo3(signature = (subject, queue = None, concurrent_receives = None, **options))]
    fn asubscribe<'py>(
        &self,
        py: Python<'py>,
        subject: String,
        queue: Option<&Bound<'py, PyAny>>,
        concurrent_receives: Option<&Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let queue = text_param(Scope::Subscribe, "queue", queue)?;
        let concurrent = count_param(Scope::Subscribe, "concurrent_receives", concurrent_receives)?;
        let receive = receive_options("asubscribe", options, &[])?;
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move {
            let subscription = match queue {
                Some(group) => bridge.queue_subscribe(&subject, &group, receive).await?,
                None => bridge.subscribe(&subject, receive).await?,
            };
            Ok(PySubscription::new(with_concurrency(
                subscription,
                concurrent,
            )))
        })
    }

    /// Consumes a JetStream stream through a pull consumer with explicit
    /// acknowledgement and returns a `DurableSubscription` of
    /// `JetStreamMessage`s. `subject` (wildcards allowed) filters the
    /// stream's subjects (None: all of them). Receive keywords as for
    /// `smartreceive`.
    ///
    /// Consume options (the option schema, docs/options.md; `None` means
    /// the default):
    ///
    /// - `stream` (str; default unset): The JetStream stream to consume (required).
    /// - `durable` (str; default unset): The durable consumer's name: the server keeps its position, so a restart with the same name gets what was not acknowledged; unset: an ephemeral consumer.
    /// - `deliver` (str, int or datetime; default 'all'): Where a new consumer starts: all, new, last, last_ack (resume an existing durable consumer after its last acknowledged message), a stream sequence number, or an RFC 3339 time.
    /// - `filter_subject` (the `subject` argument; default unset): Only deliver messages whose subject matches this one (wildcards allowed); unset: every subject of the stream.
    /// - `ack_wait` (int, ms; default 30000): How long the server waits for an acknowledgement before delivering a message again.
    /// - `max_deliver` (int; default 10): How many times one message is delivered at most (0: no limit).
    #[pyo3(signature = (subject = None, stream = None, durable = None, deliver = None, ack_wait = None, max_deliver = None, **options))]
    #[allow(clippy::too_many_arguments)]
    fn durable_subscribe(
        &self,
        py: Python<'_>,
        subject: Option<&Bound<'_, PyAny>>,
        stream: Option<&Bound<'_, PyAny>>,
        durable: Option<&Bound<'_, PyAny>>,
        deliver: Option<&Bound<'_, PyAny>>,
        ack_wait: Option<&Bound<'_, PyAny>>,
        max_deliver: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyDurableSubscription> {
        let receive = receive_options("durable_subscribe", options, &[])?;
        let consumer = consumer_options(
            &[
                ("stream", stream),
                ("durable", durable),
                ("deliver", deliver),
                ("filter_subject", subject),
                ("ack_wait", ack_wait),
                ("max_deliver", max_deliver),
            ],
            receive,
        )?;
        let subscription = wait_nb(py, self.bridge.consume(consumer))?;
        Ok(PyDurableSubscription::new(subscription))
    }

    /// `durable_subscribe` as an awaitable.
    #[pyo3(signature = (subject = None, stream = None, durable = None, deliver = None, ack_wait = None, max_deliver = None, **options))]
    #[allow(clippy::too_many_arguments)]
    fn adurable_subscribe<'py>(
        &self,
        py: Python<'py>,
        subject: Option<&Bound<'py, PyAny>>,
        stream: Option<&Bound<'py, PyAny>>,
        durable: Option<&Bound<'py, PyAny>>,
        deliver: Option<&Bound<'py, PyAny>>,
        ack_wait: Option<&Bound<'py, PyAny>>,
        max_deliver: Option<&Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let receive = receive_options("adurable_subscribe", options, &[])?;
        let consumer = consumer_options(
            &[
                ("stream", stream),
                ("durable", durable),
                ("deliver", deliver),
                ("filter_subject", subject),
                ("ack_wait", ack_wait),
                ("max_deliver", max_deliver),
            ],
            receive,
        )?;
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move {
            Ok(PyDurableSubscription::new(bridge.consume(consumer).await?))
        })
    }

    /// Creates the JetStream stream `name` capturing `subjects` (one subject
    /// or a list) unless it exists (for sends with `jetstream=True` and
    /// `durable_subscribe`), kept by `replicas` servers (default: the
    /// connection's `jetstream_replicas` option, 1 unless set).
    #[pyo3(signature = (name, subjects, replicas = None))]
    fn ensure_stream(
        &self,
        py: Python<'_>,
        name: &str,
        subjects: &Bound<'_, PyAny>,
        replicas: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let subjects = subject_list(subjects)?;
        let replicas = count_param(Scope::Connect, "jetstream_replicas", replicas)?;
        let bridge = self.bridge.clone();
        let name = name.to_owned();
        wait_nb(py, async move {
            ensure(&bridge, &name, &subjects, replicas).await
        })
    }

    /// `ensure_stream` as an awaitable.
    #[pyo3(signature = (name, subjects, replicas = None))]
    fn aensure_stream<'py>(
        &self,
        py: Python<'py>,
        name: String,
        subjects: &Bound<'py, PyAny>,
        replicas: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let subjects = subject_list(subjects)?;
        let replicas = count_param(Scope::Connect, "jetstream_replicas", replicas)?;
        let bridge = self.bridge.clone();
        runtime::awaitable_nb(py, async move {
            ensure(&bridge, &name, &subjects, replicas).await
        })
    }

    /// Sends a request and waits up to `timeout` **seconds** (a float; not
    /// an option of the schema; default: the bridge's `request_timeout`
    /// option, in ms) for the reply, which is returned as a received
    /// envelope. Send keywords as for `smartsend`; receive keywords for the
    /// reply (as for `smartreceive`) go in `receive_options` (a dict).
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

/// `subscription` decoding `concurrent` envelopes at once when given (else
/// the core's default, the schema's `concurrent_receives`).
fn with_concurrency(
    subscription: natsbridge::Subscription,
    concurrent: Option<usize>,
) -> natsbridge::Subscription {
    match concurrent {
        Some(n) => subscription.concurrent_receives(n),
        None => subscription,
    }
}

/// A call's `timeout` argument: seconds (a float), not an option of the
/// schema (whose durations are milliseconds).
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

/// One subject or a list of them.
fn subject_list(subjects: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(one) = subjects.cast::<PyString>() {
        return Ok(vec![one.to_cow()?.into_owned()]);
    }
    subjects.extract::<Vec<String>>().map_err(|_| {
        nb_error(
            ErrorKind::InvalidArgument,
            "subjects takes a string or a list of strings",
        )
        .into()
    })
}

async fn ensure(
    bridge: &natsbridge::Bridge,
    name: &str,
    subjects: &[String],
    replicas: Option<usize>,
) -> natsbridge::Result<()> {
    let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
    match replicas {
        Some(replicas) => {
            bridge
                .ensure_stream_replicated(name, &subjects, replicas)
                .await
        }
        None => bridge.ensure_stream(name, &subjects).await,
    }
}
