//! Envelopes across the Python border: the envelope as sent (a plain dict,
//! exactly the published JSON) and as received (a dict of the envelope's
//! fields whose `"payloads"` is a list of `(dataname, value, type)` tuples).

use natsbridge::{EnvelopeHeader, ErrorKind, ReceivedEnvelope, ReplyTarget, SentEnvelope};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use crate::error::nb_error;
use crate::json;
use crate::payload;

/// `natsbridge.ReceivedEnvelope` and `dict.__new__`, looked up once.
///
/// The class is pure Python (`python/natsbridge/_envelope.py`): under the
/// limited API (the abi3 wheel) a native class can subclass `dict` only from
/// CPython 3.12 on. Envelopes are made with `dict.__new__(cls)`, without
/// calling the class's `__init__` (a Python frame per message), then filled
/// and given the two slots `_subject` and `_nats_reply`.
struct EnvelopeClass {
    class: Py<PyType>,
    dict_new: Py<PyAny>,
}

static ENVELOPE_CLASS: PyOnceLock<EnvelopeClass> = PyOnceLock::new();

fn envelope_class(py: Python<'_>) -> PyResult<&EnvelopeClass> {
    ENVELOPE_CLASS.get_or_try_init(py, || {
        let class = py
            .import("natsbridge._envelope")?
            .getattr("ReceivedEnvelope")?
            .cast_into::<PyType>()?;
        Ok(EnvelopeClass {
            class: class.unbind(),
            dict_new: py.get_type::<PyDict>().getattr("__new__")?.unbind(),
        })
    })
}

/// The `natsbridge.ReceivedEnvelope` class, for the module to export.
pub fn received_envelope_class(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    Ok(envelope_class(py)?.class.bind(py).clone())
}

fn put_header(dict: &Bound<'_, PyDict>, header: &EnvelopeHeader) -> PyResult<()> {
    let py = dict.py();
    dict.set_item(pyo3::intern!(py, "version"), header.version)?;
    for (key, value) in header.string_fields() {
        dict.set_item(PyString::intern(py, key), value)?;
    }
    dict.set_item(
        pyo3::intern!(py, "metadata"),
        json::to_py_dict(py, &header.metadata)?,
    )?;
    Ok(())
}

/// The envelope as sent, as the dict of its JSON.
pub fn sent_to_py<'py>(py: Python<'py>, sent: &SentEnvelope) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    put_header(&dict, &sent.header)?;
    let payloads = PyList::empty(py);
    for (index, info) in sent.payloads.iter().enumerate() {
        let item = PyDict::new(py);
        item.set_item(pyo3::intern!(py, "id"), &info.id)?;
        item.set_item(pyo3::intern!(py, "dataname"), &info.dataname)?;
        item.set_item(pyo3::intern!(py, "type"), info.payload_type.as_str())?;
        item.set_item(pyo3::intern!(py, "transport"), info.transport.as_str())?;
        item.set_item(pyo3::intern!(py, "encoding"), info.transport.encoding())?;
        item.set_item(pyo3::intern!(py, "size"), info.size)?;
        if let Some(sha) = &info.sha256 {
            item.set_item(pyo3::intern!(py, "sha256"), sha)?;
        }
        item.set_item(pyo3::intern!(py, "data"), sent.payload_data(index))?;
        item.set_item(
            pyo3::intern!(py, "metadata"),
            json::to_py_dict(py, &info.metadata)?,
        )?;
        payloads.append(item)?;
    }
    dict.set_item(pyo3::intern!(py, "payloads"), payloads)?;
    Ok(dict)
}

/// The received envelope as a `natsbridge.ReceivedEnvelope` dict.
pub fn received_to_py(py: Python<'_>, envelope: ReceivedEnvelope) -> PyResult<Bound<'_, PyAny>> {
    let class = envelope_class(py)?;
    let object = class.dict_new.bind(py).call1((class.class.bind(py),))?;
    object.setattr(pyo3::intern!(py, "_subject"), envelope.subject)?;
    object.setattr(pyo3::intern!(py, "_nats_reply"), envelope.nats_reply)?;
    let dict = object.cast::<PyDict>()?;
    put_header(dict, &envelope.header)?;
    let payloads = PyList::empty(py);
    for received in envelope.payloads {
        payloads.append(payload::received_to_py(py, received)?)?;
    }
    dict.set_item(pyo3::intern!(py, "payloads"), payloads)?;
    Ok(object)
}

/// The part of a received envelope a reply needs (wire-v1 section 6), read
/// back from the dict a receive returned, or from any mapping with the
/// envelope's fields.
pub fn request_from_py(request: &Bound<'_, PyAny>) -> PyResult<ReplyTarget> {
    let field = |key: &str| -> PyResult<String> {
        match request.get_item(key) {
            Ok(value) if !value.is_none() => value.extract::<String>().map_err(|_| {
                nb_error(
                    ErrorKind::InvalidArgument,
                    format!("the request's {key:?} field must be a str"),
                )
                .into()
            }),
            _ => Ok(String::new()),
        }
    };
    if request.get_item("msg_id").is_err() {
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            "reply() takes the received envelope (a dict with msg_id, correlation_id and reply_to)",
        )
        .into());
    }
    let nats_reply =
        if request.is_instance(envelope_class(request.py())?.class.bind(request.py()))? {
            request
                .getattr(pyo3::intern!(request.py(), "nats_reply"))?
                .extract::<Option<String>>()?
        } else {
            None
        };
    Ok(ReplyTarget::from_fields(
        &field("reply_to")?,
        nats_reply.as_deref(),
        field("msg_id")?,
        field("correlation_id")?,
    ))
}
