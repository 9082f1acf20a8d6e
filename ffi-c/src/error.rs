//! Status codes, the `nb_error` object, and the panic boundary every
//! exported function goes through.
//!
//! A C caller sees one number per failure kind, the core's
//! [`ErrorKind::c_code`] from the core's one error table; the constants
//! below repeat those numbers as literals because cbindgen can only copy
//! literals into the header. Tests check that every kind has its
//! `NB_ERR_<CODE>` constant with its number, and that the header has no
//! `NB_ERR_` constant the table does not know. Numbers are never reused.

use std::any::Any;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use natsbridge::{Error, ErrorKind};

/// The result of a natsbridge call: `NB_OK` (0) on success, otherwise one of
/// the `NB_ERR_*` codes. Codes are stable: a number is never given to
/// another kind of failure.
pub type nb_status = i32;

/// Success.
pub const NB_OK: nb_status = 0;
/// An unusable argument: a NULL pointer, a string that is not UTF-8, an empty
/// or malformed subject, an empty dataname, data that does not fit the
/// payload type, a bad option.
pub const NB_ERR_INVALID_ARGUMENT: nb_status = 1;
/// A payload type string that wire v1 does not define.
pub const NB_ERR_UNKNOWN_TYPE: nb_status = 2;
/// A value cannot be serialized (a dictionary payload that is not JSON, a
/// table that cannot be written as Arrow IPC).
pub const NB_ERR_SERIALIZATION: nb_status = 3;
/// A received message is not a wire-v1 envelope.
pub const NB_ERR_MALFORMED_ENVELOPE: nb_status = 4;
/// The envelope's version is newer than this library reads.
pub const NB_ERR_UNSUPPORTED_VERSION: nb_status = 5;
/// A direct payload's data is not valid base64.
pub const NB_ERR_INVALID_BASE64: nb_status = 6;
/// A payload's bytes do not match its declared size or sha256.
pub const NB_ERR_INTEGRITY: nb_status = 7;
/// A text payload is not valid UTF-8.
pub const NB_ERR_INVALID_UTF8: nb_status = 8;
/// A received dictionary payload is not valid JSON.
pub const NB_ERR_INVALID_JSON: nb_status = 9;
/// A table payload is not an Arrow IPC stream.
pub const NB_ERR_INVALID_TABLE: nb_status = 10;
/// A payload must travel by link but no claim-check store is available, or
/// the envelope cannot fit the server's max_payload.
pub const NB_ERR_PAYLOAD_TOO_LARGE: nb_status = 11;
/// The NATS server could not be reached or the connection was lost.
pub const NB_ERR_CONNECTION: nb_status = 12;
/// The NATS server refused the credentials.
pub const NB_ERR_AUTH: nb_status = 13;
/// Publishing to NATS failed.
pub const NB_ERR_PUBLISH: nb_status = 14;
/// A request, download, connect or wait did not finish in time.
pub const NB_ERR_TIMEOUT: nb_status = 15;
/// A request found no subscriber on its subject.
pub const NB_ERR_NO_RESPONDERS: nb_status = 16;
/// A JetStream operation failed.
pub const NB_ERR_JETSTREAM: nb_status = 17;
/// A link URL uses a scheme or address the receiver refuses to fetch.
pub const NB_ERR_URL_NOT_ALLOWED: nb_status = 18;
/// Downloading a link payload failed.
pub const NB_ERR_DOWNLOAD: nb_status = 19;
/// Uploading a link payload to the claim-check store failed.
pub const NB_ERR_UPLOAD: nb_status = 20;
/// An upload or download handler callback reported a failure.
pub const NB_ERR_HANDLER: nb_status = 21;
/// A local file could not be read or written.
pub const NB_ERR_IO: nb_status = 22;
/// The client or subscription is closed (or the subscription ended).
pub const NB_ERR_CLOSED: nb_status = 23;
/// A bug inside natsbridge: a Rust panic caught at the C boundary or in a
/// background task, a broken invariant. The call had no effect that can be
/// relied on; please report it.
pub const NB_ERR_INTERNAL: nb_status = 1000;

/// Details of a failed call: its status code, a message for people, and the
/// dataname of the payload it concerns (if any).
///
/// Created by the library and handed to the caller through an
/// `nb_error **out_error` parameter; the caller owns it and releases it with
/// `nb_error_free`. Immutable, so it may be read from any thread.
pub struct nb_error {
    code: nb_status,
    message: CString,
    dataname: Option<CString>,
}

impl nb_error {
    /// The C form of a core error: its code, its full message (with causes).
    pub(crate) fn from_core(err: &Error) -> nb_error {
        nb_error {
            code: err.kind().c_code(),
            message: to_cstring(&err.full_message()),
            dataname: err.dataname().map(to_cstring),
        }
    }

    fn from_panic(payload: Box<dyn Any + Send>) -> nb_error {
        let detail = natsbridge::error::panic_message(payload.as_ref());
        nb_error {
            code: ErrorKind::Internal.c_code(),
            message: to_cstring(&format!(
                "internal error in natsbridge (a caught panic: {detail}); please report it"
            )),
            dataname: None,
        }
    }
}

/// A `CString` from text that may hold NUL characters: the text is cut at
/// the first one, since a C string cannot carry it.
pub(crate) fn to_cstring(text: &str) -> CString {
    let end = text.find('\0').unwrap_or(text.len());
    CString::new(&text[..end]).unwrap_or_default()
}

/// An error of kind [`ErrorKind::InvalidArgument`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// Runs the body of an exported function: catches panics, converts the
/// outcome to a status code and hands error details to `out_error`.
///
/// `body` writes its out-parameters itself, last, once nothing can fail any
/// more; so out-parameters are written only on success.
pub(crate) fn boundary<F>(out_error: *mut *mut nb_error, body: F) -> nb_status
where
    F: FnOnce() -> Result<(), Error>,
{
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return NB_OK,
        Ok(Err(err)) => nb_error::from_core(&err),
        Err(panic) => nb_error::from_panic(panic),
    };
    let code = error.code;
    if !out_error.is_null() {
        // SAFETY: the caller passes NULL or a pointer to writable storage
        // for one `nb_error *` (documented on every function).
        unsafe { out_error.write(Box::into_raw(Box::new(error))) };
    }
    code
}

/// Runs the body of an exported function that returns a plain value, with
/// `fallback` in place of a panic.
pub(crate) fn value_boundary<T, F>(fallback: T, body: F) -> T
where
    F: FnOnce() -> T,
{
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The code of an error.
///
/// Returns `NB_OK` (0) when `error` is NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_error_code(error: *const nb_error) -> nb_status {
    // SAFETY: NULL or a live error from this library.
    unsafe { error.as_ref() }.map_or(NB_OK, |error| error.code)
}

/// The message of an error, with its chain of causes (`"msg: cause: cause"`).
///
/// The string is owned by `error` and valid until `nb_error_free(error)`.
/// Never NULL: a NULL `error` gives `""`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_error_message(error: *const nb_error) -> *const c_char {
    // SAFETY: NULL or a live error from this library.
    match unsafe { error.as_ref() } {
        Some(error) => error.message.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// The dataname of the payload the error concerns, or NULL when it concerns
/// no particular payload (or `error` is NULL).
///
/// The string is owned by `error` and valid until `nb_error_free(error)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_error_dataname(error: *const nb_error) -> *const c_char {
    // SAFETY: NULL or a live error from this library.
    unsafe { error.as_ref() }
        .and_then(|error| error.dataname.as_ref())
        .map_or(std::ptr::null(), |name| name.as_ptr())
}

/// Releases an error. NULL is accepted and ignored. After this call the
/// error and every string obtained from it are gone.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_error_free(error: *mut nb_error) {
    if !error.is_null() {
        // SAFETY: a pointer this library returned from Box::into_raw, freed once.
        drop(unsafe { Box::from_raw(error) });
    }
}

/// The stable upper-case name of a status code: `"OK"`, `"INVALID_ARGUMENT"`,
/// ..., `"INTERNAL"`, or `"UNKNOWN"` for a number that is not a code.
///
/// The string is static: never free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn nb_status_name(status: nb_status) -> *const c_char {
    static NAMES: OnceLock<Vec<(nb_status, CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ErrorKind::ALL
            .iter()
            .map(|kind| (kind.c_code(), to_cstring(kind.code())))
            .collect()
    });
    let name: &CStr = match status {
        NB_OK => c"OK",
        code => names
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(c"UNKNOWN", |(_, name)| name.as_c_str()),
    };
    name.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_is_the_core_kind() {
        assert_eq!(NB_ERR_INTERNAL, ErrorKind::Internal.c_code());
        assert_eq!(NB_ERR_INTEGRITY, ErrorKind::Integrity.c_code());
    }

    #[test]
    fn status_names_come_from_the_core() {
        let name = |code| {
            // SAFETY: nb_status_name returns a static C string.
            unsafe { CStr::from_ptr(nb_status_name(code)) }
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(name(NB_OK), "OK");
        assert_eq!(name(NB_ERR_INTEGRITY), "INTEGRITY");
        assert_eq!(name(NB_ERR_CLOSED), "CLOSED");
        assert_eq!(name(NB_ERR_INTERNAL), "INTERNAL");
        assert_eq!(name(-5), "UNKNOWN");
    }

    #[test]
    fn boundary_converts_panics_and_errors() {
        let mut error: *mut nb_error = std::ptr::null_mut();
        let status = boundary(&mut error, || panic!("boom"));
        assert_eq!(status, NB_ERR_INTERNAL);
        // SAFETY: boundary wrote a live error.
        let message = unsafe { CStr::from_ptr(nb_error_message(error)) };
        assert!(message.to_str().unwrap().contains("boom"));
        // SAFETY: freed once.
        unsafe { nb_error_free(error) };

        let mut error: *mut nb_error = std::ptr::null_mut();
        let status = boundary(&mut error, || {
            Err(Error::new(ErrorKind::Integrity, "bad\0tail").with_dataname("pic"))
        });
        assert_eq!(status, NB_ERR_INTEGRITY);
        // SAFETY: boundary wrote a live error.
        unsafe {
            assert_eq!(nb_error_code(error), NB_ERR_INTEGRITY);
            assert_eq!(CStr::from_ptr(nb_error_message(error)).to_bytes(), b"bad");
            assert_eq!(CStr::from_ptr(nb_error_dataname(error)).to_bytes(), b"pic");
            nb_error_free(error);
        }

        assert_eq!(boundary(std::ptr::null_mut(), || Ok(())), NB_OK);
    }
}
