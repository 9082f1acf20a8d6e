//! Envelopes across the Python border: the envelope as sent (a plain dict,
//! exactly the published JSON) and as received (a dict of the envelope's
//! fields whose `"payloads"` is a list of `(dataname, value, type)` tuples).

use natsbridge::{EnvelopeHeader, ErrorKind, ReceivedEnvelope, ReplyTarget, SentEnvelope};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::error::nb_error;
use crate::json;
use crate::payload;

/// A received envelope: a `dict` of the envelope's fields (wire-v1 section
/// 2) with `"payloads"` as a list of `(dataname, value, type)` tuples. Two
/// attributes say where the NATS message came from: `subject` and
/// `nats_reply` (its reply inbox), both `None` when unknown (decoded from
/// bare bytes).
#[pyclass(name = "ReceivedEnvelope", module = "natsbridge", extends = PyDict, frozen)]
pub struct PyReceivedEnvelope {
    subject: Option<String>,
    nats_reply: Option<String>,
}

#[pymethods]
impl PyReceivedEnvelope {
    #[new]
    #[pyo3(signature = (*args, subject = None, nats_reply = None, **kwargs))]
    fn new(
        args: &Bound<'_, PyAny>,
        subject: Option<String>,
        nats_reply: Option<String>,
        kwargs: Option<&Bound<'_, PyAny>>,
    ) -> Self {
        // dict's own __init__ fills the items from args and kwargs.
        let _ = (args, kwargs);
        PyReceivedEnvelope {
            subject,
            nats_reply,
        }
    }

    /// The NATS subject the message arrived on, if known.
    #[getter]
    fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The NATS reply subject of the message (a request's inbox), if any.
    #[getter]
    fn nats_reply(&self) -> Option<&str> {
        self.nats_reply.as_deref()
    }
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
    let object = Bound::new(
        py,
        PyReceivedEnvelope {
            subject: envelope.subject,
            nats_reply: envelope.nats_reply,
        },
    )?;
    let dict = object.cast::<PyDict>()?;
    put_header(dict, &envelope.header)?;
    let payloads = PyList::empty(py);
    for received in envelope.payloads {
        payloads.append(payload::received_to_py(py, received)?)?;
    }
    dict.set_item(pyo3::intern!(py, "payloads"), payloads)?;
    Ok(object.into_any())
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
    let nats_reply = match request.cast::<PyReceivedEnvelope>() {
        Ok(received) => received.get().nats_reply.clone(),
        Err(_) => None,
    };
    Ok(ReplyTarget::from_fields(
        &field("reply_to")?,
        nats_reply.as_deref(),
        field("msg_id")?,
        field("correlation_id")?,
    ))
}
