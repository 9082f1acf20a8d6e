//! Bytes across the border.
//!
//! In: any `ArrayBufferView` (Buffer, Uint8Array or another typed array,
//! DataView) or an `ArrayBuffer` is copied once into [`Bytes`]. The copy is
//! deliberate: the call is asynchronous and the caller may reuse its buffer as
//! soon as it returns.
//!
//! Out: a `Buffer` is created over the core's [`Bytes`] without copying; the
//! bytes are released when JS garbage-collects the buffer.

use std::ptr;

use bytes::Bytes;
use napi::bindgen_prelude::{BufferSlice, ToNapiValue, Unknown};
use napi::{Env, JsValue, sys};

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            napi::Status::from(status),
            format!("cannot read the bytes of {what}"),
        ))
    }
}

fn element_size(kind: sys::napi_typedarray_type) -> Option<usize> {
    use sys::TypedarrayType as T;
    Some(match kind {
        T::int8_array | T::uint8_array | T::uint8_clamped_array => 1,
        T::int16_array | T::uint16_array => 2,
        T::int32_array | T::uint32_array | T::float32_array => 4,
        T::float64_array | T::bigint64_array | T::biguint64_array => 8,
        _ => return None,
    })
}

/// A copy of the bytes of a Buffer / typed array / DataView / ArrayBuffer,
/// or `None` when `value` is none of these.
pub(crate) fn bytes_of(value: &Unknown<'_>) -> napi::Result<Option<Bytes>> {
    let env = value.value().env;
    let raw = value.raw();
    let mut data: *mut std::ffi::c_void = ptr::null_mut();
    let len;
    // SAFETY: plain Node-API queries on a value of the current environment;
    // the pointer they return is valid until we return to JS, and we copy
    // from it before that.
    unsafe {
        let mut flag = false;
        check(
            sys::napi_is_typedarray(env, raw, &mut flag),
            "a typed array",
        )?;
        if flag {
            let mut kind = 0;
            let mut length = 0;
            let mut buffer = ptr::null_mut();
            let mut offset = 0;
            check(
                sys::napi_get_typedarray_info(
                    env,
                    raw,
                    &mut kind,
                    &mut length,
                    &mut data,
                    &mut buffer,
                    &mut offset,
                ),
                "a typed array",
            )?;
            let size = element_size(kind).ok_or_else(|| {
                napi::Error::new(
                    napi::Status::InvalidArg,
                    "unsupported typed array kind; pass a Buffer or Uint8Array",
                )
            })?;
            len = length * size;
        } else {
            check(sys::napi_is_dataview(env, raw, &mut flag), "a DataView")?;
            if flag {
                let mut length = 0;
                let mut buffer = ptr::null_mut();
                let mut offset = 0;
                check(
                    sys::napi_get_dataview_info(
                        env,
                        raw,
                        &mut length,
                        &mut data,
                        &mut buffer,
                        &mut offset,
                    ),
                    "a DataView",
                )?;
                len = length;
            } else {
                check(
                    sys::napi_is_arraybuffer(env, raw, &mut flag),
                    "an ArrayBuffer",
                )?;
                if !flag {
                    return Ok(None);
                }
                let mut length = 0;
                check(
                    sys::napi_get_arraybuffer_info(env, raw, &mut data, &mut length),
                    "an ArrayBuffer",
                )?;
                len = length;
            }
        }
        if len == 0 || data.is_null() {
            return Ok(Some(Bytes::new()));
        }
        let slice = std::slice::from_raw_parts(data.cast::<u8>(), len);
        Ok(Some(Bytes::copy_from_slice(slice)))
    }
}

/// A Node `Buffer` viewing `bytes` without a copy.
pub(crate) fn to_buffer(env: &Env, bytes: Bytes) -> napi::Result<sys::napi_value> {
    if bytes.is_empty() {
        let empty = BufferSlice::copy_from(env, [])?;
        // SAFETY: converting a value of this environment.
        return unsafe { ToNapiValue::to_napi_value(env.raw(), &empty) };
    }
    let data = bytes.as_ptr().cast_mut();
    let len = bytes.len();
    // SAFETY: `data..data+len` stays valid while `bytes` (the finalize hint)
    // lives, and the finalizer drops it only when JS has let go of the buffer.
    let slice =
        unsafe { BufferSlice::from_external(env, data, len, bytes, |_, bytes| drop(bytes))? };
    // SAFETY: as above.
    unsafe { ToNapiValue::to_napi_value(env.raw(), &slice) }
}
