//! Python values <-> JSON values, for `dictionary` payloads, metadata and
//! tables given as rows or columns.
//!
//! The accepted values are those `json.dumps` accepts without options:
//! dict (keys str, int, float, bool or None, written as strings), list,
//! tuple, str, int, float, bool and None. Unlike `json.dumps`, NaN and the
//! infinities are refused, since they are not JSON and other languages'
//! parsers reject them.

use std::borrow::Cow;
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Past this depth a value is refused: it is either absurd or contains itself.
const MAX_DEPTH: usize = 256;

/// Why a value has no JSON form; `path` says where inside it.
#[derive(Debug)]
pub struct NotJson {
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for NotJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{} (at {})", self.reason, self.path)
        }
    }
}

/// Converts a Python value to JSON.
pub fn to_json(value: &Bound<'_, PyAny>) -> Result<Value, NotJson> {
    let mut path = Vec::new();
    convert(value, &mut path, 0)
}

enum Step {
    Key(String),
    Index(usize),
}

fn render(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(key) => text.push_str(&format!("[{key:?}]")),
            Step::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

fn fail(path: &[Step], reason: String) -> NotJson {
    NotJson {
        path: render(path),
        reason,
    }
}

// In the limited API from CPython 3.10 on, and exported by every CPython 3
// (only 3.9's limited API lacks it): called only where the running
// interpreter is 3.10+, so the abi3 wheel still loads and works on 3.9.
unsafe extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::ffi::c_char;
}

/// The UTF-8 of a str: borrowed from the str's cached UTF-8 (no copy, no
/// temporary `bytes`) on CPython 3.10+, an owned copy on 3.9 (pyo3's
/// `to_cow`, through a temporary `bytes`). `UnicodeEncodeError` for lone
/// surrogates, as `str.encode` gives.
pub fn utf8<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    static BORROWS: OnceLock<bool> = OnceLock::new();
    if !*BORROWS.get_or_init(|| text.py().version_info() >= (3, 10)) {
        return text.to_cow();
    }
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `text` is a str (its type says so) and the GIL is held; the
    // returned buffer belongs to the str and lives as long as it, which the
    // borrow of `text` ensures.
    let data = unsafe { PyUnicode_AsUTF8AndSize(text.as_ptr(), &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(text.py()));
    }
    // SAFETY: CPython wrote `size` bytes of valid UTF-8 at `data`.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) };
    Ok(Cow::Borrowed(unsafe {
        std::str::from_utf8_unchecked(bytes)
    }))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .qualname()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

fn convert(value: &Bound<'_, PyAny>, path: &mut Vec<Step>, depth: usize) -> Result<Value, NotJson> {
    if depth > MAX_DEPTH {
        return Err(fail(
            path,
            format!("the value is nested more than {MAX_DEPTH} levels deep (or contains itself)"),
        ));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return utf8(text)
            .map(|s| Value::String(s.into_owned()))
            .map_err(|_| {
                fail(
                    path,
                    "a str holds lone surrogates, which UTF-8 cannot encode".into(),
                )
            });
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is an int.
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(number) = value.extract::<i64>() {
            return Ok(Value::from(number));
        }
        if let Ok(number) = value.extract::<u64>() {
            return Ok(Value::from(number));
        }
        return Err(fail(
            path,
            format!(
                "the integer {value} does not fit in 64 bits, which JSON readers in other languages need"
            ),
        ));
    }
    if let Ok(number) = value.cast::<PyFloat>() {
        let number = number.value();
        return Number::from_f64(number).map(Value::Number).ok_or_else(|| {
            fail(
                path,
                format!("{number} is not a JSON number (NaN and infinities have no JSON form)"),
            )
        });
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::new();
        for (key, item) in dict.iter() {
            let key = key_string(&key).ok_or_else(|| {
                fail(
                    path,
                    format!(
                        "a dict key of type {} cannot be a JSON object key",
                        type_name(&key)
                    ),
                )
            })?;
            path.push(Step::Key(key.clone()));
            let item = convert(&item, path, depth + 1)?;
            path.pop();
            map.insert(key, item);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = value.cast::<PyList>() {
        let mut items = Vec::with_capacity(list.len());
        for (index, item) in list.iter().enumerate() {
            path.push(Step::Index(index));
            items.push(convert(&item, path, depth + 1)?);
            path.pop();
        }
        return Ok(Value::Array(items));
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        let mut items = Vec::with_capacity(tuple.len());
        for (index, item) in tuple.iter().enumerate() {
            path.push(Step::Index(index));
            items.push(convert(&item, path, depth + 1)?);
            path.pop();
        }
        return Ok(Value::Array(items));
    }
    Err(fail(
        path,
        format!(
            "a value of type {} is not JSON-serializable",
            type_name(value)
        ),
    ))
}

/// A dict key as `json.dumps` writes it.
fn key_string(key: &Bound<'_, PyAny>) -> Option<String> {
    if let Ok(text) = key.cast::<PyString>() {
        return utf8(text).ok().map(Cow::into_owned);
    }
    if key.is_none() {
        return Some("null".to_owned());
    }
    if let Ok(flag) = key.cast::<PyBool>() {
        return Some(if flag.is_true() { "true" } else { "false" }.to_owned());
    }
    if key.is_instance_of::<PyInt>() || key.is_instance_of::<PyFloat>() {
        return key.repr().ok().map(|repr| repr.to_string());
    }
    None
}

/// Converts a JSON value to the Python value `json.loads` would give.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                int.into_pyobject(py)?.into_any()
            } else if let Some(int) = number.as_u64() {
                int.into_pyobject(py)?.into_any()
            } else {
                number
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
            }
        }
        Value::String(text) => PyString::new(py, text).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => to_py_dict(py, map)?.into_any(),
    })
}

/// Converts a JSON object to a Python dict.
pub fn to_py_dict<'py>(py: Python<'py>, map: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, item) in map {
        dict.set_item(key, to_py(py, item)?)?;
    }
    Ok(dict)
}
