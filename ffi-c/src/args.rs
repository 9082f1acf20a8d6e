//! Arguments crossing the border: NULL checks and conversions of C pointers,
//! C strings and byte ranges into Rust values, and strings handed out to C.
//!
//! Every check here fails with `NB_ERR_INVALID_ARGUMENT` and names the
//! parameter, so a C caller learns which argument was wrong.

use std::ffi::{CStr, CString, OsStr, c_char};
use std::fmt::Display;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

use natsbridge::Result;

use crate::error::invalid;

/// A required handle or struct argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for `'a`.
pub(crate) unsafe fn required<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: per the function's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// A required handle argument the call modifies.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` not used elsewhere during `'a`.
pub(crate) unsafe fn required_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: per the function's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// A required NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: impl Display) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|err| invalid(format!("{name} is not valid UTF-8: {err}")))
}

/// An optional NUL-terminated UTF-8 string (NULL is `None`).
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn optional_text<'a>(
    ptr: *const c_char,
    name: impl Display,
) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract.
    unsafe { text(ptr, name) }.map(Some)
}

/// A required file-system path: any bytes but NUL, not necessarily UTF-8.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string.
pub(crate) unsafe fn path(ptr: *const c_char, name: impl Display) -> Result<PathBuf> {
    if ptr.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.is_empty() {
        return Err(invalid(format!("{name} is an empty path")));
    }
    Ok(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// `len` bytes at `data`; `data` may be NULL only when `len` is 0.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes valid for `'a`.
pub(crate) unsafe fn bytes<'a>(
    data: *const u8,
    len: usize,
    name: impl Display,
) -> Result<&'a [u8]> {
    if data.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(invalid(format!("{name} is NULL but its length is {len}")));
    }
    // SAFETY: non-NULL with `len` readable bytes per the contract.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// `len` elements at `items`; `items` may be NULL only when `len` is 0.
///
/// # Safety
/// `items` is NULL or points to `len` initialised `T`s valid for `'a`.
pub(crate) unsafe fn slice<'a, T>(items: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    if items.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(invalid(format!("{name} is NULL but its count is {len}")));
    }
    // SAFETY: non-NULL with `len` elements per the contract.
    Ok(unsafe { std::slice::from_raw_parts(items, len) })
}

/// Fails when a required out-parameter is NULL; checked before any work so
/// that a call either has somewhere to put its result or does nothing.
pub(crate) fn out_param<T>(ptr: *mut T, name: &str) -> Result<()> {
    if ptr.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    Ok(())
}

/// Writes an out-parameter; a NULL `ptr` (an optional output the caller
/// does not want) drops the value, so a value that owns memory through a raw
/// pointer must not be made for a NULL `ptr`.
///
/// # Safety
/// `ptr` is NULL or valid for writing one `T`.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: per the contract. `write` does not drop what was there,
        // which is uninitialised memory or a value the caller still owns.
        unsafe { ptr.write(value) };
    }
}

/// A string handed to the caller, who frees it with `nb_string_free`.
pub(crate) fn owned_string(text: String) -> *mut c_char {
    crate::error::to_cstring(&text).into_raw()
}

/// Releases a string this library returned as `char *` (for example the
/// envelope JSON of `nb_client_send`). NULL is accepted and ignored.
///
/// Only for `char *` results documented as "free with nb_string_free";
/// `const char *` results are owned by their handle and must not be freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_string_free(string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: a pointer from CString::into_raw in this library, freed once.
        drop(unsafe { CString::from_raw(string) });
    }
}
