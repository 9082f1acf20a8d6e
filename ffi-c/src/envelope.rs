//! Received envelopes for C: `nb_envelope` and its accessors, and
//! `nb_payload_view`, a plain struct describing one payload.
//!
//! Every string and byte range an accessor returns is owned by the envelope
//! and prepared when the envelope is made, so accessors are cheap, never fail
//! on a valid handle, and their pointers stay valid until the envelope is
//! freed.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use bytes::Bytes;
use natsbridge::{PayloadValue, ReceivedEnvelope, ReceivedPayload};

use crate::args;
use crate::error::{boundary, invalid, nb_error, nb_status, to_cstring};
use crate::table::nb_table;

/// A received envelope with every payload decoded and verified. Immutable
/// and thread-safe: accessors may be called from several threads at once.
/// Made by `nb_client_receive`, `nb_client_request` and subscriptions;
/// freed with `nb_envelope_free`, which invalidates every pointer obtained
/// from it.
pub struct nb_envelope {
    pub(crate) envelope: ReceivedEnvelope,
    header: Vec<(&'static str, CString)>,
    metadata_json: CString,
    subject: Option<CString>,
    reply_subject: Option<CString>,
    payloads: Vec<PayloadStrings>,
    json: OnceLock<CString>,
}

/// One payload's fields as C strings, and its data.
struct PayloadStrings {
    id: CString,
    dataname: CString,
    payload_type: CString,
    transport: CString,
    sha256: Option<CString>,
    metadata_json: CString,
    data: Data,
    file_path: Option<CString>,
}

/// Where a payload's bytes are.
enum Data {
    /// Text or JSON text, with a NUL after the last byte (not counted).
    Terminated(Vec<u8>),
    /// Table IPC bytes or binary bytes, shared with the decoded envelope.
    Shared(Bytes),
    /// Written to a file: no bytes in memory.
    None,
}

fn nul_terminated(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    bytes
}

impl PayloadStrings {
    fn new(payload: &ReceivedPayload) -> PayloadStrings {
        let info = &payload.info;
        let (data, file_path) = match &payload.value {
            PayloadValue::Text(text) => (Data::Terminated(nul_terminated(text)), None),
            PayloadValue::Dictionary(value) => {
                (Data::Terminated(nul_terminated(&value.to_string())), None)
            }
            PayloadValue::Table(table) => (Data::Shared(table.ipc_bytes().clone()), None),
            PayloadValue::Bytes(bytes) => (Data::Shared(bytes.clone()), None),
            PayloadValue::File(path) => {
                use std::os::unix::ffi::OsStrExt as _;
                let bytes = path.as_os_str().as_bytes();
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                (Data::None, CString::new(&bytes[..end]).ok())
            }
        };
        PayloadStrings {
            id: to_cstring(&info.id),
            dataname: to_cstring(&info.dataname),
            payload_type: to_cstring(info.payload_type.as_str()),
            transport: to_cstring(info.transport.as_str()),
            sha256: info.sha256.as_deref().map(to_cstring),
            metadata_json: to_cstring(
                &serde_json::Value::Object(info.metadata.clone()).to_string(),
            ),
            data,
            file_path,
        }
    }
}

impl nb_envelope {
    pub(crate) fn new(envelope: ReceivedEnvelope) -> nb_envelope {
        let header = envelope
            .header
            .string_fields()
            .iter()
            .map(|(name, value)| (*name, to_cstring(value)))
            .collect();
        let metadata_json =
            to_cstring(&serde_json::Value::Object(envelope.header.metadata.clone()).to_string());
        nb_envelope {
            header,
            metadata_json,
            subject: envelope.subject.as_deref().map(to_cstring),
            reply_subject: envelope.reply_subject().map(to_cstring),
            payloads: envelope.payloads.iter().map(PayloadStrings::new).collect(),
            json: OnceLock::new(),
            envelope,
        }
    }

    fn payload_at(&self, index: usize) -> natsbridge::Result<(&ReceivedPayload, &PayloadStrings)> {
        match (self.envelope.payloads.get(index), self.payloads.get(index)) {
            (Some(payload), Some(strings)) => Ok((payload, strings)),
            _ => Err(invalid(format!(
                "payload index {index} is out of range: the envelope has {} payloads",
                self.payloads.len()
            ))),
        }
    }
}

/// One received payload, as returned by `nb_envelope_payload`. Every pointer
/// is owned by the envelope and valid until `nb_envelope_free`; never free or
/// modify what they point to. Strings are NUL-terminated UTF-8 (a string
/// holding a NUL character is cut there).
#[repr(C)]
pub struct nb_payload_view {
    /// The payload's UUID.
    pub id: *const c_char,
    /// The caller's name for the payload.
    pub dataname: *const c_char,
    /// The wire type: `text`, `dictionary`, `table`, `image`, `audio`,
    /// `video`, `binary`, or a type this library does not know (delivered as
    /// bytes with its type string unchanged).
    pub r#type: *const c_char,
    /// How it travelled: `direct` or `link`.
    pub transport: *const c_char,
    /// Length in bytes of the serialized payload, as declared and verified.
    pub size: u64,
    /// Lowercase hex SHA-256 of the serialized payload, or NULL when the
    /// sender gave none (allowed for direct payloads).
    pub sha256: *const c_char,
    /// The payload's metadata object as JSON text (`{}` when empty).
    pub metadata_json: *const c_char,
    /// The payload's value as bytes: text as UTF-8; dictionary as JSON text;
    /// table as Arrow IPC stream bytes (see also `nb_envelope_payload_table`);
    /// image, audio, video, binary and unknown types as the bytes sent. For
    /// text and dictionary `data[len]` is a NUL, so `data` is also a C string
    /// (cut at any NUL inside the text). NULL when the payload was written to
    /// a file (`file_path`); non-NULL otherwise, even when `len` is 0.
    pub data: *const u8,
    /// Number of bytes at `data`, without the NUL of text and dictionary.
    pub len: usize,
    /// The file a link payload was written to when the receive options set a
    /// save directory; NULL otherwise. The file belongs to the caller.
    pub file_path: *const c_char,
}

/// The envelope's wire version (1). 0 for a NULL envelope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_version(envelope: *const nb_envelope) -> u32 {
    // SAFETY: NULL or a live envelope.
    unsafe { envelope.as_ref() }.map_or(0, |e| e.envelope.header.version)
}

/// A string the library owns, with its length in bytes: UTF-8, never to be
/// freed or modified. Those `nb_envelope_header_strings` writes are
/// NUL-terminated (valid until `nb_envelope_free`); those of a sent envelope
/// (`nb_pending_send_header_strings`, `nb_sent_payload_view`) are not (valid
/// until `nb_pending_send_free`). An absent string is `{NULL, 0}`.
#[repr(C)]
pub struct nb_string_view {
    /// The first byte.
    pub ptr: *const c_char,
    /// The number of bytes (without any NUL).
    pub len: usize,
}

impl nb_string_view {
    /// A view of `text`, which must outlive every use of the view.
    pub(crate) fn of(text: &str) -> Self {
        nb_string_view {
            ptr: text.as_ptr().cast(),
            len: text.len(),
        }
    }

    /// `{NULL, 0}`: no string.
    pub(crate) fn absent() -> Self {
        nb_string_view {
            ptr: std::ptr::null(),
            len: 0,
        }
    }
}

/// Every string field of the envelope's header at once, in the order
/// `nb_envelope_get` lists them (`correlation_id`, `msg_id`, `timestamp`,
/// `send_to`, `msg_purpose`, `sender_name`, `sender_id`, `receiver_name`,
/// `receiver_id`, `reply_to`, `reply_to_msg_id`, `broker_url`): writes the
/// first `capacity` of them to `out` and returns how many there are (12; 0
/// for a NULL envelope, and nothing is written when `out` is NULL). One call
/// instead of one `nb_envelope_get` per field, for bindings that read them
/// all.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_header_strings(
    envelope: *const nb_envelope,
    out: *mut nb_string_view,
    capacity: usize,
) -> usize {
    // SAFETY: NULL or a live envelope.
    let Some(envelope) = (unsafe { envelope.as_ref() }) else {
        return 0;
    };
    if !out.is_null() {
        for (index, (_, value)) in envelope.header.iter().take(capacity).enumerate() {
            let view = nb_string_view {
                ptr: value.as_ptr(),
                len: value.as_bytes().len(),
            };
            // SAFETY: the caller's storage for `capacity` views; index < capacity.
            unsafe { out.add(index).write(view) };
        }
    }
    envelope.header.len()
}

/// A string field of the envelope by its wire name: `correlation_id`,
/// `msg_id`, `timestamp`, `send_to`, `msg_purpose`, `sender_name`,
/// `sender_id`, `receiver_name`, `receiver_id`, `reply_to`,
/// `reply_to_msg_id` or `broker_url`. A missing field reads as `""`.
///
/// Returns NULL for an unknown field name or a NULL argument. The string is
/// owned by the envelope and valid until `nb_envelope_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_get(
    envelope: *const nb_envelope,
    field: *const c_char,
) -> *const c_char {
    crate::error::value_boundary(std::ptr::null(), || {
        // SAFETY: NULL or a live envelope; NULL or a NUL-terminated string.
        let (Some(envelope), Ok(field)) = (unsafe { envelope.as_ref() }, unsafe {
            args::text(field, "field")
        }) else {
            return std::ptr::null();
        };
        envelope
            .header
            .iter()
            .find(|(name, _)| *name == field)
            .map_or(std::ptr::null(), |(_, value)| value.as_ptr())
    })
}

/// The envelope's metadata object as JSON text (`{}` when empty); NULL for a
/// NULL envelope. Owned by the envelope, valid until `nb_envelope_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_metadata_json(envelope: *const nb_envelope) -> *const c_char {
    // SAFETY: NULL or a live envelope.
    unsafe { envelope.as_ref() }.map_or(std::ptr::null(), |e| e.metadata_json.as_ptr())
}

/// The whole envelope as JSON text, each payload's value in a `value` field
/// (text as a string, dictionary as its JSON value, table and binary as
/// base64 with `"value_encoding": "base64"`, saved files as their path with
/// `"value_encoding": "path"`); for logs and debugging.
///
/// Built on first use (thread-safe); NULL for a NULL envelope. Owned by the
/// envelope, valid until `nb_envelope_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_json(envelope: *const nb_envelope) -> *const c_char {
    crate::error::value_boundary(std::ptr::null(), || {
        // SAFETY: NULL or a live envelope.
        unsafe { envelope.as_ref() }.map_or(std::ptr::null(), |e| {
            e.json
                .get_or_init(|| to_cstring(&e.envelope.to_json().to_string()))
                .as_ptr()
        })
    })
}

/// The NATS subject the message arrived on, or NULL when the envelope was
/// decoded from bytes (`nb_client_receive`). Owned by the envelope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_subject(envelope: *const nb_envelope) -> *const c_char {
    // SAFETY: NULL or a live envelope.
    unsafe { envelope.as_ref() }
        .and_then(|e| e.subject.as_ref())
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Where `nb_client_reply` would answer this envelope: the NATS reply inbox
/// of its message (unless that is a `$` system subject), else its
/// `reply_to`; NULL when there is nowhere to reply. Not checked against the
/// reply rules yet: `nb_client_reply` refuses `$` subjects and subjects
/// outside `reply_subject_prefixes`. Owned by the envelope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_reply_subject(envelope: *const nb_envelope) -> *const c_char {
    // SAFETY: NULL or a live envelope.
    unsafe { envelope.as_ref() }
        .and_then(|e| e.reply_subject.as_ref())
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The number of payloads; 0 for a NULL envelope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_payload_count(envelope: *const nb_envelope) -> usize {
    // SAFETY: NULL or a live envelope.
    unsafe { envelope.as_ref() }.map_or(0, |e| e.payloads.len())
}

/// Describes payload `index` (0-based, in the order sent).
///
/// On success fills `*out_view`; its pointers are owned by the envelope and
/// valid until `nb_envelope_free`. Fails with `NB_ERR_INVALID_ARGUMENT` for a
/// NULL argument or an index out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_payload(
    envelope: *const nb_envelope,
    index: usize,
    out_view: *mut nb_payload_view,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live envelope.
        let envelope = unsafe { args::required(envelope, "envelope") }?;
        args::out_param(out_view, "out_view")?;
        let (payload, strings) = envelope.payload_at(index)?;
        let (data, len) = match &strings.data {
            Data::Terminated(bytes) => (bytes.as_ptr(), bytes.len() - 1),
            // A non-NULL pointer even for empty bytes, as documented.
            Data::Shared(bytes) if bytes.is_empty() => (c"".as_ptr().cast(), 0),
            Data::Shared(bytes) => (bytes.as_ptr(), bytes.len()),
            Data::None => (std::ptr::null(), 0),
        };
        let view = nb_payload_view {
            id: strings.id.as_ptr(),
            dataname: strings.dataname.as_ptr(),
            r#type: strings.payload_type.as_ptr(),
            transport: strings.transport.as_ptr(),
            size: payload.info.size,
            sha256: strings
                .sha256
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr()),
            metadata_json: strings.metadata_json.as_ptr(),
            data,
            len,
            file_path: strings
                .file_path
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr()),
        };
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_view, view) };
        Ok(())
    })
}

/// Finds the first payload named `dataname`.
///
/// Names are compared as C sees them: a dataname holding a NUL character is
/// cut there, exactly as `nb_payload_view.dataname` shows it, so the name a
/// view shows always finds a payload showing that name (the first one).
///
/// On success writes its index to `*out_index`. Fails with
/// `NB_ERR_INVALID_ARGUMENT` when no payload has that name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_find_payload(
    envelope: *const nb_envelope,
    dataname: *const c_char,
    out_index: *mut usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live envelope; NULL or a NUL-terminated string.
        let envelope = unsafe { args::required(envelope, "envelope") }?;
        let dataname = unsafe { args::text(dataname, "dataname") }?;
        args::out_param(out_index, "out_index")?;
        let index = envelope
            .payloads
            .iter()
            .position(|strings| strings.dataname.as_bytes() == dataname.as_bytes())
            .ok_or_else(|| invalid(format!("the envelope has no payload named {dataname:?}")))?;
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_index, index) };
        Ok(())
    })
}

/// The table of payload `index`, a `table` payload held in memory.
///
/// On success writes a new table handle to `*out_table` (free with
/// `nb_table_free`; it shares the envelope's buffers and may outlive it).
/// Export it as an Arrow C stream with `nb_table_export_stream`. Fails with
/// `NB_ERR_INVALID_ARGUMENT` when the index is out of range or the payload is
/// not a table in memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_payload_table(
    envelope: *const nb_envelope,
    index: usize,
    out_table: *mut *mut nb_table,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live envelope.
        let envelope = unsafe { args::required(envelope, "envelope") }?;
        args::out_param(out_table, "out_table")?;
        let (payload, _) = envelope.payload_at(index)?;
        let table = payload.value.as_table().ok_or_else(|| {
            invalid(format!(
                "payload {index} ('{}') of type {} is not a table in memory",
                payload.dataname(),
                payload.payload_type()
            ))
        })?;
        let handle = Box::into_raw(Box::new(nb_table {
            table: table.clone(),
        }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_table, handle) };
        Ok(())
    })
}

/// Releases an envelope and everything it owns. NULL is accepted and
/// ignored. Tables taken from it with `nb_envelope_payload_table` live on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_envelope_free(envelope: *mut nb_envelope) {
    if !envelope.is_null() {
        // SAFETY: a handle this library returned, freed once.
        drop(unsafe { Box::from_raw(envelope) });
    }
}
