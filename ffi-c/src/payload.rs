//! Payloads to send, described by C: `nb_send_payload`, converted into the
//! core's `Payload` (which checks that type and data fit together).

use std::ffi::c_char;
use std::str::FromStr as _;

use bytes::Bytes;
use natsbridge::{Body, Error, ErrorKind, Payload, PayloadType};

use crate::args;
use crate::error::invalid;
use crate::options::json_object;
use crate::table::nb_table;

/// One payload to send. Give exactly one source of data: `data`/`len`, or
/// `file_path`, or `table`. Zero-initialise the struct and set what you use,
/// e.g. `nb_send_payload p = {.dataname = "msg", .type = "text",
/// .data = (const uint8_t *)"hi", .len = 2};`.
///
/// Everything is read during the call that takes the descriptor and copied
/// as needed; none of the pointers needs to outlive that call.
#[repr(C)]
pub struct nb_send_payload {
    /// The payload's name; non-empty UTF-8. Required.
    pub dataname: *const c_char,
    /// `text`, `dictionary`, `table`, `image`, `audio`, `video` or `binary`;
    /// anything else fails with `NB_ERR_UNKNOWN_TYPE`. Required.
    pub r#type: *const c_char,
    /// The value as bytes, interpreted per type: text as UTF-8 (no NUL
    /// needed; else `NB_ERR_INVALID_UTF8`); dictionary as JSON text of any
    /// JSON value (else `NB_ERR_SERIALIZATION`); table as Arrow IPC stream
    /// bytes (else `NB_ERR_INVALID_TABLE`); the other types as raw bytes.
    /// May be NULL when `len` is 0.
    pub data: *const u8,
    /// Number of bytes at `data`.
    pub len: usize,
    /// Instead of `data`: a file whose contents are the payload (for table,
    /// image, audio, video and binary). Large files going by link are
    /// streamed to the store, never loaded whole. NULL when unused.
    pub file_path: *const c_char,
    /// Instead of `data`: a table (type must be `table`). Not consumed; the
    /// caller still frees it. NULL when unused.
    pub table: *const nb_table,
    /// The payload's metadata as a JSON object text, or NULL for `{}`.
    pub metadata_json: *const c_char,
}

/// Converts descriptors to core payloads, in order.
///
/// # Safety
/// `payloads` is NULL or points to `count` descriptors whose pointers follow
/// the rules documented on `nb_send_payload`.
pub(crate) unsafe fn from_c(
    payloads: *const nb_send_payload,
    count: usize,
) -> natsbridge::Result<Vec<Payload>> {
    // SAFETY: per the contract.
    let descriptors = unsafe { args::slice(payloads, count, "payloads") }?;
    descriptors
        .iter()
        .enumerate()
        // SAFETY: per the contract.
        .map(|(index, descriptor)| unsafe { one(index, descriptor) })
        .collect()
}

/// A descriptor member's label in an error message: `payloads[0].dataname`.
struct Field {
    index: usize,
    name: &'static str,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "payloads[{}].{}", self.index, self.name)
    }
}

/// # Safety
/// As for [`from_c`].
unsafe fn one(index: usize, descriptor: &nb_send_payload) -> natsbridge::Result<Payload> {
    // Labels for errors, formatted only when one is reported.
    let field = |name: &'static str| Field { index, name };
    // SAFETY: NULL or NUL-terminated strings per the contract.
    let dataname = unsafe { args::text(descriptor.dataname, field("dataname")) }?;
    let type_name = unsafe { args::text(descriptor.r#type, field("type")) }?;
    let sources = [
        !descriptor.data.is_null() || descriptor.len > 0,
        !descriptor.file_path.is_null(),
        !descriptor.table.is_null(),
    ];
    if sources.iter().filter(|&&given| given).count() > 1 {
        return Err(invalid(format!(
            "payload '{dataname}' gives more than one of data, file_path and table"
        ))
        .with_dataname(dataname));
    }
    let body = if !descriptor.file_path.is_null() {
        // SAFETY: a NUL-terminated string per the contract.
        Body::File(unsafe { args::path(descriptor.file_path, field("file_path")) }?)
    } else if !descriptor.table.is_null() {
        // SAFETY: a live table per the contract.
        Body::Table(unsafe { &*descriptor.table }.table.clone())
    } else {
        // SAFETY: `len` readable bytes per the contract.
        let bytes = unsafe { args::bytes(descriptor.data, descriptor.len, field("data")) }?;
        body_from_bytes(dataname, type_name, bytes)?
    };
    let mut payload = Payload::new(dataname, type_name, body)?;
    // SAFETY: NULL or a NUL-terminated string per the contract.
    if let Some(json) =
        unsafe { args::optional_text(descriptor.metadata_json, field("metadata_json")) }?
    {
        let metadata = json_object(json, &format!("metadata of payload '{dataname}'"))
            .map_err(|err| err.with_dataname(dataname))?;
        payload = payload.with_metadata(metadata);
    }
    Ok(payload)
}

/// The body C bytes stand for, by the payload's type: the C form of what
/// other languages pass as a string, a JSON value or bytes.
fn body_from_bytes(dataname: &str, type_name: &str, bytes: &[u8]) -> natsbridge::Result<Body> {
    let payload_type =
        PayloadType::from_str(type_name).map_err(|err: Error| err.with_dataname(dataname))?;
    Ok(match payload_type {
        PayloadType::Text => Body::Text(String::from_utf8(bytes.to_vec()).map_err(|err| {
            Error::new(
                ErrorKind::InvalidUtf8,
                format!("text payload '{dataname}' is not valid UTF-8"),
            )
            .with_dataname(dataname)
            .with_source(err)
        })?),
        PayloadType::Dictionary => Body::Json(serde_json::from_slice(bytes).map_err(|err| {
            Error::new(
                ErrorKind::Serialization,
                format!("dictionary payload '{dataname}' is not valid JSON text"),
            )
            .with_dataname(dataname)
            .with_source(err)
        })?),
        _ => Body::Bytes(Bytes::copy_from_slice(bytes)),
    })
}
