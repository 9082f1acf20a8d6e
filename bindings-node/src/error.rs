//! Errors across the Node border: every natsbridge [`Error`] becomes a JS
//! `Error` whose `code` is the kind's stable name ([`ErrorKind::code`]), whose
//! message ends with the cause chain as indented "Caused by:" lines (as
//! lancedb's `nodejs/src/error.rs` does), and whose `cause` is the error a JS
//! handler threw, when one did.
//!
//! Conversions of the caller's arguments fail with natsbridge errors too
//! (`INVALID_ARGUMENT`, `SERIALIZATION`, ...), so every bad input reaches JS
//! the same way: a rejected promise with a `code`.

use napi::bindgen_prelude::{JsError, JsObjectValue, Unknown};
use napi::{Env, JsValue};
use napi_derive::napi;
use natsbridge::{Error, ErrorKind};

/// An error thrown (or a rejection) by a JS handler, carried through the core
/// as the `source` of its `HANDLER` error so the original JS value can become
/// `err.cause`.
pub(crate) struct JsCallbackError(pub(crate) napi::Error);

impl std::fmt::Display for JsCallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.reason.is_empty() {
            f.write_str("the handler threw a value that is not an Error")
        } else {
            f.write_str(&self.0.reason)
        }
    }
}

impl std::fmt::Debug for JsCallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsCallbackError({:?})", self.0.reason)
    }
}

impl std::error::Error for JsCallbackError {}

/// An `INVALID_ARGUMENT` error: the caller passed something unusable.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// Maps a napi conversion failure (wrong JS type for an option, ...) to
/// `INVALID_ARGUMENT`, naming what was being read.
pub(crate) fn invalid_napi(what: &str, err: napi::Error) -> Error {
    invalid(format!("{what}: {}", err.reason))
}

/// The message a JS error shows: the error's own message, then each cause on
/// its own "Caused by:" line, indented one step further than the previous one.
/// A cause whose text the message already contains (the core often folds its
/// causes into the message it wraps them with) is not repeated.
pub(crate) fn message_with_causes(err: &Error) -> String {
    let mut message = err.message().to_owned();
    let mut cause = std::error::Error::source(err);
    let mut indent = 2;
    while let Some(source) = cause {
        let text = source.to_string();
        if !message.contains(&text) {
            let line = format!("Caused by: {text}");
            for part in line.lines() {
                message.push('\n');
                message.push_str(&" ".repeat(indent));
                message.push_str(part);
            }
            indent += 2;
        }
        cause = source.source();
    }
    message
}

/// The first JS handler error in `err`'s cause chain, shared (not copied) so
/// JS sees the very object the handler threw.
fn handler_cause(err: &Error) -> Option<napi::Error> {
    let mut cause = std::error::Error::source(err);
    while let Some(source) = cause {
        if let Some(js) = source.downcast_ref::<JsCallbackError>() {
            return js.0.try_clone().ok();
        }
        cause = source.source();
    }
    None
}

/// Builds the JS `Error` for `err` (on the JS thread) and wraps it so that a
/// promise rejected with the result rejects with exactly that object.
pub(crate) fn to_js(env: &Env, err: &Error) -> napi::Error {
    build(
        env,
        err.kind().code(),
        &message_with_causes(err),
        err.dataname(),
        handler_cause(err),
    )
}

/// Builds the JS `Error` for a bug caught at the border (a panic): code
/// `INTERNAL`, the core's [`ErrorKind::Internal`].
pub(crate) fn internal(env: &Env, message: &str) -> napi::Error {
    build(env, ErrorKind::Internal.code(), message, None, None)
}

/// One row of the core's error table, as JS sees it.
#[napi(object)]
pub struct ErrorKindInfo {
    /// The stable `err.code` (`"INTEGRITY"`).
    pub code: String,
    /// The CamelCase kind name (`"Integrity"`).
    pub name: String,
    /// The C ABI's number for the kind.
    pub c_code: i32,
    /// True when trying again later may succeed.
    pub transient: bool,
}

/// Every error kind of the core's one table, in table order: the values
/// `err.code` can take.
#[napi(catch_unwind)]
pub fn error_kinds() -> Vec<ErrorKindInfo> {
    ErrorKind::ALL
        .iter()
        .map(|kind| ErrorKindInfo {
            code: kind.code().to_owned(),
            name: kind.name().to_owned(),
            c_code: kind.c_code(),
            transient: kind.is_transient(),
        })
        .collect()
}

/// Throws the JS error the border builds for a core error of kind `code`
/// (for the test that every kind round-trips); an unknown code throws
/// `INVALID_ARGUMENT`.
#[napi(catch_unwind, skip_typescript, js_name = "_throwErrorOfKind")]
pub fn throw_error_of_kind(env: Env, code: String) -> napi::Result<()> {
    let err = match ErrorKind::from_code(&code) {
        Some(kind) => Error::new(kind, format!("an error of kind {code}")).with_dataname("probe"),
        None => invalid(format!("no error kind has the code {code:?}")),
    };
    Err(to_js(&env, &err))
}

fn build(
    env: &Env,
    code: &str,
    message: &str,
    dataname: Option<&str>,
    cause: Option<napi::Error>,
) -> napi::Error {
    let mut error = napi::Error::<String>::new(code.to_owned(), message);
    error.cause = cause.map(Box::new);
    // SAFETY: `env` is the live environment of the JS thread we are on.
    let raw = unsafe { JsError::from(error).into_value(env.raw()) };
    if raw.is_null() {
        // The environment is tearing down; nothing can receive the error.
        return napi::Error::new(napi::Status::GenericFailure, message);
    }
    // SAFETY: `raw` was just created in `env`.
    let value = unsafe { Unknown::from_raw_unchecked(env.raw(), raw) };
    if let Some(dataname) = dataname
        && let Ok(mut object) = value.coerce_to_object()
    {
        let _ = object.set_named_property("dataname", dataname);
    }
    // An `Error` made from a JS value keeps a reference to it; rejecting with
    // it hands JS the object itself rather than a rebuilt one.
    napi::Error::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_indented_lines() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Error::new(ErrorKind::Io, "cannot read payload 'a'").with_source(io);
        assert_eq!(
            message_with_causes(&err),
            "cannot read payload 'a'\n  Caused by: no such file"
        );
        let folded = Error::new(ErrorKind::Io, "cannot read payload 'a': no such file")
            .with_source(std::io::Error::other("no such file"));
        assert_eq!(
            message_with_causes(&folded),
            "cannot read payload 'a': no such file"
        );
    }
}
