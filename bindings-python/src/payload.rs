//! Payloads across the Python border: `(dataname, data, type)` tuples in,
//! `(dataname, value, type)` tuples out.
//!
//! The core decides whether a type and a value fit ([`Payload::new`]); this
//! module only turns Python values into the core's [`Body`] variants:
//! str -> text, JSON-able values -> dictionary, tables (see `table.rs`),
//! bytes-like and `os.PathLike` for the binary-like types (a path is
//! streamed by the core).
//!
//! Copies: incoming `bytes` are not copied; the core's `Bytes` keeps the
//! Python object alive and reads its buffer in place. `bytearray` and
//! `memoryview` are copied once (they may change while the GIL is
//! released): a `memoryview` through `memoryview.tobytes()`, because the
//! buffer protocol (`PyObject_GetBuffer`) is in the limited API only from
//! CPython 3.11 and the extension is built for 3.9's (abi3). Outgoing binary
//! payloads are copied once into a new `bytes`.

use std::path::PathBuf;

use bytes::Bytes;
use natsbridge::{Body, ErrorKind, Payload, PayloadType, PayloadValue, ReceivedPayload};
use pyo3::exceptions::PyBufferError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyMemoryView, PyString, PyTuple};

use crate::error::{NbError, nb_error};
use crate::json;
use crate::table;

/// Keeps a Python `bytes` alive for as long as the core holds its buffer.
struct PyBytesOwner {
    _object: Py<PyBytes>,
    start: usize,
    len: usize,
}

impl AsRef<[u8]> for PyBytesOwner {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `bytes` objects are immutable and their buffer does not
        // move for the object's lifetime, which `_object` extends; reading
        // it needs no GIL.
        unsafe { std::slice::from_raw_parts(self.start as *const u8, self.len) }
    }
}

/// A `bytes` object as the core's `Bytes`, without a copy.
pub fn bytes_of_py_bytes(bytes: Bound<'_, PyBytes>) -> Bytes {
    let slice = bytes.as_bytes();
    let owner = PyBytesOwner {
        start: slice.as_ptr() as usize,
        len: slice.len(),
        _object: bytes.unbind(),
    };
    Bytes::from_owner(owner)
}

/// The bytes of a bytes-like value (`bytes` without a copy; `bytearray` and
/// `memoryview` copied once), or `None` for other values.
pub fn bytes_from_py(value: &Bound<'_, PyAny>) -> PyResult<Option<Bytes>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Some(bytes_of_py_bytes(bytes.clone())));
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Ok(Some(Bytes::from(array.to_vec())));
    }
    if value.is_instance_of::<PyMemoryView>() {
        // Byte-sized unsigned items only, as the buffer protocol's `u8` view
        // took them before: a view of other items is not a byte string.
        let format: String = value
            .getattr(pyo3::intern!(value.py(), "format"))?
            .extract()?;
        let item = format.trim_start_matches(['@', '=', '<', '>', '!']);
        if !(matches!(item, "B" | "c") && format.len() <= item.len() + 1) {
            return Err(PyBufferError::new_err(
                "buffer contents are not compatible with u8",
            ));
        }
        let copy = value
            .call_method0(pyo3::intern!(value.py(), "tobytes"))?
            .cast_into::<PyBytes>()?;
        return Ok(Some(bytes_of_py_bytes(copy)));
    }
    Ok(None)
}

/// The path of an `os.PathLike` value (not of a plain str, which is text).
pub fn path_from_py(value: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    if value.is_instance_of::<PyString>() || !value.hasattr("__fspath__")? {
        return Ok(None);
    }
    Ok(Some(value.extract::<PathBuf>()?))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .qualname()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

/// Builds the core payload of one `(dataname, data, type)` tuple; a fourth
/// item, if present, is the payload's metadata dict.
pub fn payload_from_py(item: &Bound<'_, PyAny>) -> PyResult<Payload> {
    let parts = item.cast::<PyTuple>().map_err(|_| {
        nb_error(
            ErrorKind::InvalidArgument,
            format!(
                "each payload is a (dataname, data, type) tuple, got a {}",
                type_name(item)
            ),
        )
    })?;
    if !(3..=4).contains(&parts.len()) {
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            format!(
                "each payload is a (dataname, data, type) tuple (optionally with a metadata dict), \
                 got {} items",
                parts.len()
            ),
        )
        .into());
    }
    let dataname: String = parts.get_item(0)?.extract().map_err(|_| {
        nb_error(
            ErrorKind::InvalidArgument,
            "a payload's dataname must be a str",
        )
    })?;
    let type_name_str: String = parts.get_item(2)?.extract().map_err(|_| {
        nb_error(
            ErrorKind::InvalidArgument,
            format!("payload '{dataname}': its type must be a str such as \"text\""),
        )
    })?;
    let data = parts.get_item(1)?;
    let payload_type: PayloadType = type_name_str
        .parse()
        .map_err(|err: natsbridge::Error| NbError(err.with_dataname(dataname.clone())))?;
    let body = body_from_py(&dataname, &payload_type, &data)?;
    let mut payload = Payload::new(dataname.clone(), &type_name_str, body)
        .map_err(|err| NbError(err.with_dataname(dataname.clone())))?;
    if parts.len() == 4 {
        let metadata = parts.get_item(3)?;
        if !metadata.is_none() {
            payload = payload.with_metadata(metadata_from_py(&metadata, &dataname)?);
        }
    }
    Ok(payload)
}

/// A metadata dict as a JSON object.
pub fn metadata_from_py(
    value: &Bound<'_, PyAny>,
    owner: &str,
) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    if !value.is_instance_of::<PyDict>() {
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            format!(
                "metadata of {owner} must be a dict, got a {}",
                type_name(value)
            ),
        )
        .into());
    }
    match json::to_json(value) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => unreachable!("a dict converts to a JSON object"),
        Err(err) => Err(nb_error(
            ErrorKind::Serialization,
            format!("metadata of {owner} is not JSON: {err}"),
        )
        .into()),
    }
}

fn body_from_py(
    dataname: &str,
    payload_type: &PayloadType,
    data: &Bound<'_, PyAny>,
) -> PyResult<Body> {
    let unusable = |wants: &str| {
        nb_error(
            ErrorKind::InvalidArgument,
            format!(
                "payload '{dataname}' has type '{payload_type}' but its data is a {}; \
                 {payload_type} payloads take {wants}",
                type_name(data)
            ),
        )
        .0
        .with_dataname(dataname)
    };
    match payload_type {
        PayloadType::Dictionary => json::to_json(data).map(Body::Json).map_err(|err| {
            NbError(
                natsbridge::Error::new(
                    ErrorKind::Serialization,
                    format!("payload '{dataname}' cannot be serialized as JSON: {err}"),
                )
                .with_dataname(dataname),
            )
            .into()
        }),
        PayloadType::Table => match table::table_body(data) {
            Ok(Some(body)) => Ok(body),
            Ok(None) => Err(NbError(unusable(
                "a pyarrow Table or RecordBatch, a pandas or polars DataFrame, an object with \
                 __arrow_c_stream__, a dict of column lists, a list of row dicts, Arrow IPC \
                 stream bytes or a file path",
            ))
            .into()),
            Err(err) => Err(label(err, dataname)),
        },
        _ => {
            if let Ok(text) = data.cast::<PyString>() {
                return Ok(Body::Text(json::utf8(text)?.into_owned()));
            }
            if let Some(bytes) = bytes_from_py(data)? {
                return Ok(Body::Bytes(bytes));
            }
            if let Some(path) = path_from_py(data)? {
                return Ok(Body::File(path));
            }
            let wants = if *payload_type == PayloadType::Text {
                "a str"
            } else {
                "bytes, bytearray, memoryview or a pathlib.Path"
            };
            Err(NbError(unusable(wants)).into())
        }
    }
}

/// Adds the payload's name to an error raised while reading its table.
fn label(err: PyErr, dataname: &str) -> PyErr {
    Python::attach(|py| {
        let value = err.value(py);
        if value.getattr("dataname").is_ok_and(|d| d.is_none()) {
            let _ = value.setattr("dataname", dataname);
        }
    });
    err
}

/// Builds the core payloads of a list (or any iterable) of tuples.
pub fn payloads_from_py(data: &Bound<'_, PyAny>) -> PyResult<Vec<Payload>> {
    // A lone tuple or a string is iterable too, and would give a puzzling error.
    let single_tuple = data.cast::<PyTuple>().is_ok_and(|t| {
        t.get_item(0)
            .is_ok_and(|first| first.is_instance_of::<PyString>())
    });
    if single_tuple || data.is_instance_of::<PyString>() || data.is_instance_of::<PyBytes>() {
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            format!(
                "data is a list of (dataname, data, type) tuples, e.g. \
                 [(\"message\", \"Hello\", \"text\")], got a {}",
                type_name(data)
            ),
        )
        .into());
    }
    let mut payloads = Vec::new();
    for item in data.try_iter()? {
        payloads.push(payload_from_py(&item?)?);
    }
    Ok(payloads)
}

/// How many bytes sending `payloads` will encode, for the GIL policy of
/// `runtime::wait_sized`. Dictionaries count nothing: turning them into JSON
/// values already took the GIL for longer than writing them out will; files
/// count as large (reading them is I/O).
pub fn work_bytes(payloads: &[Payload]) -> usize {
    payloads
        .iter()
        .map(|payload| match payload.body() {
            Body::Text(text) => text.len(),
            Body::Bytes(bytes) => bytes.len(),
            Body::Table(table) => table.ipc_bytes().len(),
            Body::Json(_) => 0,
            Body::File(_) => usize::MAX / 2,
        })
        .fold(0, usize::saturating_add)
}

/// The `(dataname, value, type)` tuple of a received payload.
pub fn received_to_py<'py>(
    py: Python<'py>,
    payload: ReceivedPayload,
) -> PyResult<Bound<'py, PyTuple>> {
    let ReceivedPayload { info, value } = payload;
    let value = match value {
        PayloadValue::Text(text) => PyString::new(py, &text).into_any(),
        PayloadValue::Dictionary(value) => json::to_py(py, &value)?,
        PayloadValue::Table(table) => table::table_to_py(py, table)?,
        PayloadValue::Bytes(bytes) => PyBytes::new(py, &bytes).into_any(),
        PayloadValue::File(path) => py.import("pathlib")?.getattr("Path")?.call1((path,))?,
    };
    PyTuple::new(
        py,
        [
            PyString::new(py, &info.dataname).into_any(),
            value,
            PyString::new(py, info.payload_type.as_str()).into_any(),
        ],
    )
}
