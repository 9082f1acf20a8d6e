//! Keyword arguments onto the core's options, by the option schema
//! (`natsbridge::schema`, published as `docs/options.json`): a keyword is an
//! option of a call when the schema has it, under its snake_case name, in
//! the call's scope. Its value is converted by the option's kind and passed
//! to the core by name (`SendOptions::set`, `ReceiveOptions::set`,
//! `ConnectOptions::set`), so an option added to the schema is accepted here
//! without an edit. Durations are whole milliseconds, sizes bytes.
//!
//! `None` means "not given" for every option: the core's default applies.
//! A keyword the schema lacks is a `TypeError` (Python's convention for an
//! unexpected keyword argument); a value of the wrong kind is the core's
//! `InvalidArgumentError` naming the option. Handlers
//! (`fileserver_upload_handler`, `fileserver_download_handler`) are
//! callables: they go through `store.rs`, never by value.

use natsbridge::schema::{self, Kind, OptionSpec, OptionValue, Scope};
use natsbridge::{ConnectOptions, ErrorKind, ReceiveOptions, SendOptions};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::error::{NbError, nb_error};
use crate::payload::{metadata_from_py, path_from_py};
use crate::store;

fn unexpected(function: &str, key: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{function}() got an unexpected keyword argument '{key}'"
    ))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .qualname()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

/// The option `key` of `scope`, by its snake_case name only (the camelCase
/// name is JavaScript's).
pub fn find(scope: Scope, key: &str) -> Option<&'static OptionSpec> {
    schema::find(scope, key).filter(|spec| spec.name == key)
}

/// `InvalidArgument` for a value that is not of the option's kind; the value
/// itself is never shown (it may be a secret), only its type.
fn wrong_kind(spec: &OptionSpec, value: &Bound<'_, PyAny>) -> PyErr {
    nb_error(
        ErrorKind::InvalidArgument,
        format!(
            "option {} takes {}, got a {}",
            spec.name,
            spec.kind.expected(),
            type_name(value)
        ),
    )
    .into()
}

fn text(spec: &OptionSpec, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(wrong_kind(spec, value)),
    }
}

/// A Python value as a value of the option `spec`'s kind: a real `bool`; a
/// whole `int` >= 0 (not a bool, not a float) for counts, bytes and
/// milliseconds; a `str` (or, for paths, an `os.PathLike`) for text; one
/// `str` or a list/tuple of them for lists; a dict or a list of
/// `(origin, token)` pairs for token maps; a dict (JSON-able) for objects.
pub fn option_value(spec: &OptionSpec, value: &Bound<'_, PyAny>) -> PyResult<OptionValue> {
    Ok(match spec.kind {
        Kind::Bool => match value.cast::<PyBool>() {
            Ok(b) => OptionValue::Bool(b.is_true()),
            Err(_) => return Err(wrong_kind(spec, value)),
        },
        Kind::Count | Kind::Bytes | Kind::Millis => {
            if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
                return Err(wrong_kind(spec, value));
            }
            match value.extract::<u64>() {
                Ok(n) => OptionValue::Number(n),
                Err(_) => {
                    return Err(nb_error(
                        ErrorKind::InvalidArgument,
                        format!(
                            "option {} takes {}, got {}",
                            spec.name,
                            spec.kind.expected(),
                            value.str()?
                        ),
                    )
                    .into());
                }
            }
        }
        Kind::Text | Kind::Secret | Kind::Url => OptionValue::Text(text(spec, value)?),
        Kind::Path => match path_from_py(value)? {
            Some(path) => OptionValue::Text(path.into_os_string().into_string().map_err(|_| {
                PyErr::from(nb_error(
                    ErrorKind::InvalidArgument,
                    format!("option {}: the path is not valid UTF-8", spec.name),
                ))
            })?),
            None => OptionValue::Text(text(spec, value)?),
        },
        Kind::TextList => {
            if value.is_instance_of::<PyString>() {
                OptionValue::Text(text(spec, value)?)
            } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
                OptionValue::TextList(
                    value
                        .try_iter()?
                        .map(|item| text(spec, &item?))
                        .collect::<PyResult<_>>()?,
                )
            } else {
                return Err(wrong_kind(spec, value));
            }
        }
        Kind::TokenMap => {
            let pairs = if let Ok(dict) = value.cast::<PyDict>() {
                dict.iter()
                    .map(|(k, v)| Ok((text(spec, &k)?, text(spec, &v)?)))
                    .collect::<PyResult<_>>()?
            } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
                value
                    .try_iter()?
                    .map(|item| {
                        let item = item?;
                        let pair = item
                            .cast::<PyTuple>()
                            .map_err(|_| wrong_kind(spec, &item))?;
                        if pair.len() != 2 {
                            return Err(wrong_kind(spec, &item));
                        }
                        Ok((
                            text(spec, &pair.get_item(0)?)?,
                            text(spec, &pair.get_item(1)?)?,
                        ))
                    })
                    .collect::<PyResult<_>>()?
            } else {
                return Err(wrong_kind(spec, value));
            };
            OptionValue::TokenMap(pairs)
        }
        Kind::Object => {
            if !value.is_instance_of::<PyDict>() {
                return Err(wrong_kind(spec, value));
            }
            OptionValue::Object(metadata_from_py(value, "the envelope")?)
        }
        Kind::Callback => {
            // Handlers never travel by value; the callers below route them.
            return Err(NbError(natsbridge::Error::new(
                ErrorKind::InvalidArgument,
                format!("option {} is a function", spec.name),
            ))
            .into());
        }
    })
}

/// The keywords given a value (`None` is "not given").
fn given<'py>(kwargs: Option<&Bound<'py, PyDict>>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let Some(kwargs) = kwargs else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(kwargs.len());
    for (key, value) in kwargs.iter() {
        if !value.is_none() {
            out.push((key.extract()?, value));
        }
    }
    Ok(out)
}

/// Sets `value` on `options` through the core's by-name setter.
fn set<O>(
    options: O,
    spec: &OptionSpec,
    value: &Bound<'_, PyAny>,
    setter: fn(O, &str, OptionValue) -> natsbridge::Result<O>,
) -> PyResult<O> {
    let value = option_value(spec, value)?;
    setter(options, spec.name, value).map_err(|err| NbError(err).into())
}

/// The send options of `function`'s keywords (every send option of the
/// schema; `fileserver_upload_handler` becomes the send's store).
pub fn send_options(function: &str, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<SendOptions> {
    let mut options = SendOptions::new();
    let mut handler = None;
    let mut fileserver_url = None;
    for (key, value) in given(kwargs)? {
        let spec = find(Scope::Send, &key).ok_or_else(|| unexpected(function, &key))?;
        if spec.kind == Kind::Callback {
            handler = Some(value);
        } else {
            if spec.name == "fileserver_url" {
                // An upload handler is called with it (the plik server, ...).
                fileserver_url = Some(text(spec, &value)?);
            }
            options = set(options, spec, &value, SendOptions::set)?;
        }
    }
    if let Some(handler) = handler {
        options = options.store(store::upload_store(&handler, fileserver_url)?);
    }
    Ok(options)
}

/// The receive options of `function`'s keywords (every receive option of
/// the schema; `fileserver_download_handler` becomes the receive's fetcher).
/// `skip` names keywords the caller takes itself.
pub fn receive_options(
    function: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
    skip: &[&str],
) -> PyResult<ReceiveOptions> {
    let mut options = ReceiveOptions::new();
    for (key, value) in given(kwargs)? {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let spec = find(Scope::Receive, &key).ok_or_else(|| unexpected(function, &key))?;
        options = if spec.kind == Kind::Callback {
            options.fetcher(store::download_fetcher(&value)?)
        } else {
            set(options, spec, &value, ReceiveOptions::set)?
        };
    }
    Ok(options)
}

/// The connect options of `Bridge(nats_url, **options)`: `nats_url`, else
/// `$NATS_URL`, else the default, as the core resolves it
/// (`ConnectOptions::resolve_nats_url`), and every other connect option of
/// the schema. Options that go together (`user` and `password`,
/// `tls_client_cert` and `tls_client_key`) are checked by the core.
pub fn connect_options(
    function: &str,
    nats_url: Option<&str>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<ConnectOptions> {
    let mut options = ConnectOptions::new(ConnectOptions::resolve_nats_url(nats_url));
    for (key, value) in given(kwargs)? {
        let spec = find(Scope::Connect, &key).ok_or_else(|| unexpected(function, &key))?;
        options = set(options, spec, &value, ConnectOptions::set)?;
    }
    Ok(options)
}

/// The option `name` of `scope` taken as a named parameter of a call
/// (`nats_url`, `queue`, `concurrent_receives`), checked by its kind like a
/// keyword; `None` when not given.
fn param(
    scope: Scope,
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<(&'static OptionSpec, OptionValue)>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let spec = find(scope, name).ok_or_else(|| {
        PyErr::from(nb_error(
            ErrorKind::Internal,
            format!("{name} is not a {} option of the schema", scope.as_str()),
        ))
    })?;
    Ok(Some((spec, option_value(spec, value)?)))
}

/// A text option taken as a named parameter (`nats_url`, `queue`).
pub fn text_param(
    scope: Scope,
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<String>> {
    Ok(match param(scope, name, value)? {
        Some((_, OptionValue::Text(s))) => Some(s),
        Some((spec, _)) => return Err(wrong_kind(spec, value.expect("given"))),
        None => None,
    })
}

/// A count option taken as a named parameter (`concurrent_receives`).
pub fn count_param(
    scope: Scope,
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<usize>> {
    Ok(match param(scope, name, value)? {
        Some((_, OptionValue::Number(n))) => Some(usize::try_from(n).map_err(|_| {
            PyErr::from(nb_error(
                ErrorKind::InvalidArgument,
                format!("option {name}: {n} is too large"),
            ))
        })?),
        Some((spec, _)) => return Err(wrong_kind(spec, value.expect("given"))),
        None => None,
    })
}

/// The consumer options of `durable_subscribe` (scope `consume` of the
/// schema): each given parameter applied by name by the core
/// (`ConsumerOptions::set`). `deliver` also takes an `int` (a stream
/// sequence) or a `datetime` (its `isoformat()`, which must carry an
/// offset), converted here to the text the option reads.
pub fn consumer_options(
    given: &[(&str, Option<&Bound<'_, PyAny>>)],
    receive: ReceiveOptions,
) -> PyResult<natsbridge::jetstream::ConsumerOptions> {
    let mut options = natsbridge::jetstream::ConsumerOptions::ephemeral().receive_options(receive);
    for (name, value) in given {
        let Some(value) = value.filter(|v| !v.is_none()) else {
            continue;
        };
        let spec = find(Scope::Consume, name).ok_or_else(|| {
            PyErr::from(nb_error(
                ErrorKind::Internal,
                format!("{name} is not a consume option of the schema"),
            ))
        })?;
        let converted = if spec.name == "deliver"
            && value.is_instance_of::<PyInt>()
            && !value.is_instance_of::<PyBool>()
        {
            OptionValue::Text(value.str()?.to_cow()?.into_owned())
        } else if spec.name == "deliver" && value.hasattr("isoformat")? {
            OptionValue::Text(value.call_method0("isoformat")?.extract::<String>()?)
        } else {
            option_value(spec, value)?
        };
        options = options
            .set(spec.name, converted)
            .map_err(|err| PyErr::from(NbError(err)))?;
    }
    Ok(options)
}
