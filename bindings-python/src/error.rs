//! natsbridge errors as Python exceptions: one class per [`ErrorKind`] of the
//! core, all subclasses of `NatsBridgeError`.
//!
//! The classes are made at import time from [`ErrorKind::ALL`], so a kind
//! added to the core gets its class without touching this file. Each class
//! carries its kind as class attributes (`kind`, `code`, `c_code`,
//! `transient`); each raised instance carries `dataname` (the payload it
//! concerns, or `None`) and `message`. A Python exception raised inside a
//! handler is found in the core error's cause chain and becomes the
//! `__cause__` of the raised natsbridge exception.

use natsbridge::{Error, ErrorKind};
use pyo3::exceptions::{PyConnectionError, PyException, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};

/// The exception classes, made once per process.
struct Classes {
    base: Py<PyType>,
    by_kind: Vec<(ErrorKind, Py<PyType>)>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// The Python class name of a kind: `<Name>Error` (`IntegrityError`), or
/// `Nats<Name>Error` when `<Name>Error` is a built-in (`NatsTimeoutError`,
/// `NatsConnectionError`), so that `from natsbridge import *` never replaces
/// a built-in. The second value is that built-in name, kept as an alias of
/// the class on the module (importable by name, not in `__all__`).
pub fn class_name(py: Python<'_>, kind: ErrorKind) -> (String, Option<String>) {
    let plain = format!("{}Error", kind.name());
    let shadows = py
        .import("builtins")
        .and_then(|builtins| builtins.hasattr(plain.as_str()))
        .unwrap_or(true);
    if shadows {
        (format!("Nats{plain}"), Some(plain))
    } else {
        (plain, None)
    }
}

/// A built-in exception a kind's class also derives from, so code that
/// catches `ValueError` or `TimeoutError` keeps working.
fn builtin_base(py: Python<'_>, kind: ErrorKind) -> Option<Bound<'_, PyType>> {
    match kind {
        ErrorKind::InvalidArgument | ErrorKind::UnknownType => Some(py.get_type::<PyValueError>()),
        ErrorKind::Timeout => Some(py.get_type::<PyTimeoutError>()),
        ErrorKind::Connection => Some(py.get_type::<PyConnectionError>()),
        _ => None,
    }
}

fn make_classes(py: Python<'_>) -> PyResult<Classes> {
    let attrs = PyDict::new(py);
    attrs.set_item("__module__", "natsbridge")?;
    attrs.set_item(
        "__doc__",
        "Base class of every natsbridge error.\n\n\
         Class attributes: `kind` (CamelCase kind name), `code` (stable \
         upper-snake-case code, as Node's err.code), `c_code` (the C ABI's number), \
         `transient` (True when trying again later may succeed).\n\
         Instance attributes: `message` and `dataname` (the payload concerned, or None).",
    )?;
    for (name, value) in [("kind", None::<&str>), ("code", None), ("dataname", None)] {
        attrs.set_item(name, value)?;
    }
    attrs.set_item("c_code", 0)?;
    attrs.set_item("transient", false)?;
    attrs.set_item("message", "")?;
    let base = PyErr::new_type(
        py,
        c"natsbridge.NatsBridgeError",
        None,
        Some(&py.get_type::<PyException>()),
        // new_type drops the reference it is given before the class is made
        // (pyo3 0.30), so it gets a second one and `attrs` keeps the dict alive.
        Some(attrs.clone().into_any().unbind()),
    )?;
    let type_of = py.get_type::<PyType>();
    let mut by_kind = Vec::with_capacity(ErrorKind::ALL.len());
    for kind in ErrorKind::ALL {
        let (name, _) = class_name(py, kind);
        let mut bases = vec![base.bind(py).clone().into_any()];
        if let Some(builtin) = builtin_base(py, kind) {
            bases.push(builtin.into_any());
        }
        let attrs = PyDict::new(py);
        attrs.set_item("__module__", "natsbridge")?;
        attrs.set_item(
            "__doc__",
            format!(
                "natsbridge error of kind {} (code {}).",
                kind.name(),
                kind.code()
            ),
        )?;
        attrs.set_item("kind", kind.name())?;
        attrs.set_item("code", kind.code())?;
        attrs.set_item("c_code", kind.c_code())?;
        attrs.set_item("transient", kind.is_transient())?;
        let class = type_of
            .call1((name, PyTuple::new(py, bases)?, attrs))?
            .cast_into::<PyType>()?;
        by_kind.push((kind, class.unbind()));
    }
    Ok(Classes { base, by_kind })
}

fn classes(py: Python<'_>) -> &Classes {
    CLASSES
        .get_or_try_init(py, || make_classes(py))
        .expect("natsbridge could not create its exception classes")
}

/// Adds `NatsBridgeError`, every per-kind class and the built-in-named
/// aliases to the module, plus `ERROR_CLASSES` (kind name -> class), and
/// returns the names that belong in `__all__` (not the aliases).
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<Vec<String>> {
    let py = module.py();
    let classes = CLASSES.get_or_try_init(py, || make_classes(py))?;
    module.add("NatsBridgeError", classes.base.bind(py))?;
    let mut names = vec!["NatsBridgeError".to_owned(), "ERROR_CLASSES".to_owned()];
    let by_name = PyDict::new(py);
    for (kind, class) in &classes.by_kind {
        let (name, alias) = class_name(py, *kind);
        module.add(name.as_str(), class.bind(py))?;
        if let Some(alias) = alias {
            module.add(alias.as_str(), class.bind(py))?;
        }
        by_name.set_item(kind.name(), class.bind(py))?;
        names.push(name);
    }
    module.add("ERROR_CLASSES", by_name)?;
    Ok(names)
}

/// The class raised for `kind`.
fn class_for(py: Python<'_>, kind: ErrorKind) -> Bound<'_, PyType> {
    let classes = classes(py);
    classes
        .by_kind
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&classes.base, |(_, class)| class)
        .bind(py)
        .clone()
}

/// A core error on its way to Python; `?` turns it into the right exception.
#[derive(Debug)]
pub struct NbError(pub Error);

impl From<Error> for NbError {
    fn from(err: Error) -> NbError {
        NbError(err)
    }
}

impl From<NbError> for PyErr {
    fn from(err: NbError) -> PyErr {
        Python::attach(|py| to_py_err(py, err.0))
    }
}

/// A natsbridge error made at this border (bad Python input), raised as the
/// class of `kind`.
pub fn nb_error(kind: ErrorKind, message: impl Into<String>) -> NbError {
    NbError(Error::new(kind, message))
}

/// Converts a core error into its Python exception, with `dataname`,
/// `message` and, when a Python handler's exception is in the cause chain,
/// that exception as `__cause__`.
pub fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    let class = class_for(py, err.kind());
    let text = err.full_message();
    let exception = PyErr::from_type(class, (text,));
    let value = exception.value(py);
    // Setting plain attributes on a fresh exception instance cannot fail in
    // practice; if it ever does, the exception is still raised without them.
    let _ = value.setattr("dataname", err.dataname());
    let _ = value.setattr("message", PyString::new(py, err.message()));
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(current) = cause {
        if let Some(python) = current.downcast_ref::<PyErr>() {
            exception.set_cause(py, Some(python.clone_ref(py)));
            break;
        }
        cause = current.source();
    }
    exception
}
