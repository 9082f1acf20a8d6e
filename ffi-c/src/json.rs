//! JSON values for callers without a JSON library of their own (the Julia
//! front end): the core's parser reads JSON text into an `nb_json` tree that
//! typed accessors walk, and `nb_json_writer` turns a sequence of typed
//! calls into JSON text written by the core's serializer. So dictionary
//! payloads and envelopes are read and written by serde_json, never by a
//! hand-written JSON codec in a binding.

use std::borrow::Cow;
use std::ffi::c_char;

use bytes::Bytes;
use natsbridge::{Error, ErrorKind, PayloadInfo, SentEnvelope};
use serde_json::{Map, Number, Value};

use crate::args;
use crate::error::{boundary, invalid, nb_error, nb_status};

/// `nb_json_kind`: null.
pub const NB_JSON_NULL: i32 = 0;
/// `nb_json_kind`: true or false.
pub const NB_JSON_BOOL: i32 = 1;
/// `nb_json_kind`: an integer that fits int64.
pub const NB_JSON_INT: i32 = 2;
/// `nb_json_kind`: an integer above INT64_MAX that fits uint64.
pub const NB_JSON_UINT: i32 = 3;
/// `nb_json_kind`: any other number (read as a double).
pub const NB_JSON_FLOAT: i32 = 4;
/// `nb_json_kind`: a string.
pub const NB_JSON_STRING: i32 = 5;
/// `nb_json_kind`: an array.
pub const NB_JSON_ARRAY: i32 = 6;
/// `nb_json_kind`: an object.
pub const NB_JSON_OBJECT: i32 = 7;

/// A parsed JSON value; the root made by `nb_json_parse` owns the whole tree
/// and is freed with `nb_json_free`. Values reached through
/// `nb_json_array_get` and `nb_json_object_value` belong to the root and live
/// as long as it. Immutable: may be read from several threads.
pub struct nb_json {
    node: Node,
}

enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    String(Cow<'static, str>),
    /// A string that shares a buffer (a sent payload's base64 in the wire
    /// bytes); always UTF-8. Read as `NB_JSON_STRING`.
    Shared(Bytes),
    Array(Vec<nb_json>),
    /// Members in the order of the parsed text (keys are unique).
    Object(Vec<(Cow<'static, str>, nb_json)>),
}

impl nb_json {
    /// The tree of a JSON value (moved, not copied).
    pub(crate) fn from_value(value: Value) -> nb_json {
        let node = match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Node::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Node::UInt(u)
                } else {
                    Node::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Node::String(Cow::Owned(s)),
            Value::Array(items) => {
                Node::Array(items.into_iter().map(nb_json::from_value).collect())
            }
            Value::Object(members) => Node::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), nb_json::from_value(v)))
                    .collect(),
            ),
        };
        nb_json { node }
    }

    /// The tree of a sent envelope, made from its fields: the same members
    /// as `from_value(sent.to_json())` (in wire order), without a serde map
    /// in between; keys are static and each direct payload's base64 shares
    /// the wire bytes instead of being copied.
    pub(crate) fn from_sent(sent: &SentEnvelope) -> nb_json {
        let header = &sent.header;
        let mut members = Vec::with_capacity(15);
        members.push((key("version"), node(Node::Int(i64::from(header.version)))));
        for (name, value) in header.string_fields() {
            members.push((key(name), text(value)));
        }
        members.push((key("metadata"), metadata(&header.metadata)));
        let payloads = sent
            .payloads
            .iter()
            .enumerate()
            .map(|(index, info)| payload_tree(info, sent.payload_data_shared(index)))
            .collect();
        members.push((key("payloads"), node(Node::Array(payloads))));
        node(Node::Object(members))
    }
}

fn node(node: Node) -> nb_json {
    nb_json { node }
}

fn key(name: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(name)
}

fn text(value: &str) -> nb_json {
    node(Node::String(Cow::Owned(value.to_owned())))
}

fn metadata(map: &Map<String, Value>) -> nb_json {
    if map.is_empty() {
        return node(Node::Object(Vec::new()));
    }
    nb_json::from_value(Value::Object(map.clone()))
}

/// One payload object of a sent envelope, as `info_to_json` plus `data`.
fn payload_tree(info: &PayloadInfo, data: Bytes) -> nb_json {
    let mut members = Vec::with_capacity(9);
    members.push((key("id"), text(&info.id)));
    members.push((key("dataname"), text(&info.dataname)));
    members.push((key("type"), text(info.payload_type.as_str())));
    members.push((
        key("transport"),
        node(Node::String(key(info.transport.as_str()))),
    ));
    members.push((
        key("encoding"),
        node(Node::String(key(info.transport.encoding()))),
    ));
    let size = i64::try_from(info.size).map_or(Node::UInt(info.size), Node::Int);
    members.push((key("size"), node(size)));
    if let Some(sha) = &info.sha256 {
        members.push((key("sha256"), text(sha)));
    }
    members.push((key("data"), node(Node::Shared(data))));
    members.push((key("metadata"), metadata(&info.metadata)));
    node(Node::Object(members))
}

/// Parses `len` bytes of JSON text (UTF-8; not retained) with the core's
/// parser.
///
/// On success writes the root value to `*out_value` (free with
/// `nb_json_free`). Fails with `NB_ERR_INVALID_JSON` when the text is not
/// one JSON value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_parse(
    text: *const u8,
    len: usize,
    out_value: *mut *mut nb_json,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_value, "out_value")?;
        // SAFETY: per the contract.
        let bytes = unsafe { args::bytes(text, len, "text") }?;
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|err| Error::new(ErrorKind::InvalidJson, format!("not JSON: {err}")))?;
        let root = Box::new(nb_json::from_value(value));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_value, Box::into_raw(root)) };
        Ok(())
    })
}

/// Releases a root value from `nb_json_parse` and every value inside it.
/// NULL is accepted and ignored. Never pass a value that is not a root.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_free(value: *mut nb_json) {
    if !value.is_null() {
        // SAFETY: a root from Box::into_raw in nb_json_parse, freed once.
        crate::error::value_boundary((), || drop(unsafe { Box::from_raw(value) }));
    }
}

/// The kind of a value, one of the `NB_JSON_*` constants; `NB_JSON_NULL`
/// for a NULL pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_kind(value: *const nb_json) -> i32 {
    // SAFETY: NULL or a live value.
    match unsafe { value.as_ref() }.map(|v| &v.node) {
        None | Some(Node::Null) => NB_JSON_NULL,
        Some(Node::Bool(_)) => NB_JSON_BOOL,
        Some(Node::Int(_)) => NB_JSON_INT,
        Some(Node::UInt(_)) => NB_JSON_UINT,
        Some(Node::Float(_)) => NB_JSON_FLOAT,
        Some(Node::String(_) | Node::Shared(_)) => NB_JSON_STRING,
        Some(Node::Array(_)) => NB_JSON_ARRAY,
        Some(Node::Object(_)) => NB_JSON_OBJECT,
    }
}

/// A boolean's value; false for any other kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_bool(value: *const nb_json) -> bool {
    // SAFETY: NULL or a live value.
    matches!(
        unsafe { value.as_ref() }.map(|v| &v.node),
        Some(Node::Bool(true))
    )
}

/// An `NB_JSON_INT` value; 0 for any other kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_int64(value: *const nb_json) -> i64 {
    // SAFETY: NULL or a live value.
    match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::Int(i)) => *i,
        _ => 0,
    }
}

/// An `NB_JSON_UINT` (or non-negative `NB_JSON_INT`) value; 0 otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_uint64(value: *const nb_json) -> u64 {
    // SAFETY: NULL or a live value.
    match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::UInt(u)) => *u,
        Some(Node::Int(i)) => u64::try_from(*i).unwrap_or(0),
        _ => 0,
    }
}

/// Any number as a double (integers converted); 0 for other kinds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_float64(value: *const nb_json) -> f64 {
    // SAFETY: NULL or a live value.
    match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::Float(f)) => *f,
        Some(Node::Int(i)) => *i as f64,
        Some(Node::UInt(u)) => *u as f64,
        _ => 0.0,
    }
}

/// A string's UTF-8 bytes (not NUL-terminated; it may hold NULs): writes
/// their length to `*out_len` and returns them, owned by the root. NULL
/// (length 0) for other kinds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_string(
    value: *const nb_json,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live value.
    let (ptr, len) = match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::String(s)) => (s.as_ptr().cast(), s.len()),
        Some(Node::Shared(bytes)) => (bytes.as_ptr().cast(), bytes.len()),
        _ => (std::ptr::null(), 0),
    };
    // SAFETY: NULL or storage for one size_t.
    unsafe { args::write(out_len, len) };
    ptr
}

/// The number of items of an array or members of an object; 0 otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_len(value: *const nb_json) -> usize {
    // SAFETY: NULL or a live value.
    match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::Array(items)) => items.len(),
        Some(Node::Object(members)) => members.len(),
        _ => 0,
    }
}

/// Item `index` of an array, owned by the root; NULL when out of range or
/// not an array.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_array_get(value: *const nb_json, index: usize) -> *const nb_json {
    // SAFETY: NULL or a live value.
    match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::Array(items)) => items
            .get(index)
            .map_or(std::ptr::null(), std::ptr::from_ref),
        _ => std::ptr::null(),
    }
}

/// The key of member `index` of an object (UTF-8, not NUL-terminated, length
/// to `*out_len`), owned by the root; NULL when out of range or not an
/// object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_object_key(
    value: *const nb_json,
    index: usize,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live value.
    let (ptr, len) = match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::Object(members)) => members
            .get(index)
            .map_or((std::ptr::null(), 0), |(k, _)| (k.as_ptr().cast(), k.len())),
        _ => (std::ptr::null(), 0),
    };
    // SAFETY: NULL or storage for one size_t.
    unsafe { args::write(out_len, len) };
    ptr
}

/// The value of member `index` of an object, owned by the root; NULL when out
/// of range or not an object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_object_value(
    value: *const nb_json,
    index: usize,
) -> *const nb_json {
    // SAFETY: NULL or a live value.
    match unsafe { value.as_ref() }.map(|v| &v.node) {
        Some(Node::Object(members)) => members
            .get(index)
            .map_or(std::ptr::null(), |(_, v)| std::ptr::from_ref(v)),
        _ => std::ptr::null(),
    }
}

/// Writes one JSON value from a sequence of calls (values, and arrays and
/// objects opened and closed around their contents), then serializes it with
/// the core's serializer. Create with `nb_json_writer_new`; finish with
/// `nb_json_writer_finish`; free with `nb_json_writer_free`. After a failed
/// call the writer is unusable (every later call fails). One thread at a
/// time.
pub struct nb_json_writer {
    stack: Vec<Frame>,
    done: Option<Value>,
    failed: bool,
}

enum Frame {
    Array(Vec<Value>),
    Object(Map<String, Value>, Option<String>),
}

impl nb_json_writer {
    /// Places a finished value where the writer is.
    fn put(&mut self, value: Value) -> natsbridge::Result<()> {
        match self.stack.last_mut() {
            None if self.done.is_none() => {
                self.done = Some(value);
                Ok(())
            }
            None => Err(invalid("the JSON writer already holds a complete value")),
            Some(Frame::Array(items)) => {
                items.push(value);
                Ok(())
            }
            Some(Frame::Object(members, key)) => match key.take() {
                Some(key) => {
                    members.insert(key, value);
                    Ok(())
                }
                None => Err(invalid("a JSON object member needs its key first")),
            },
        }
    }
}

/// Runs one writer step; a failed step spoils the writer.
fn step(
    writer: *mut nb_json_writer,
    out_error: *mut *mut nb_error,
    body: impl FnOnce(&mut nb_json_writer) -> natsbridge::Result<()>,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live writer used by one thread.
        let writer = unsafe { args::required_mut(writer, "writer") }?;
        if writer.failed {
            return Err(invalid("the JSON writer failed earlier"));
        }
        let result = body(writer);
        if result.is_err() {
            writer.failed = true;
        }
        result
    })
}

/// A UTF-8 string argument given as bytes and a length.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes.
unsafe fn utf8(data: *const c_char, len: usize, name: &str) -> natsbridge::Result<String> {
    // SAFETY: per the contract.
    let bytes = unsafe { args::bytes(data.cast(), len, name) }?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, format!("{name} is not valid UTF-8")))
}

/// Creates an empty JSON writer. On success writes it to `*out_writer`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_new(
    out_writer: *mut *mut nb_json_writer,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_writer, "out_writer")?;
        let writer = Box::new(nb_json_writer {
            stack: Vec::new(),
            done: None,
            failed: false,
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_writer, Box::into_raw(writer)) };
        Ok(())
    })
}

/// Releases a writer. NULL is accepted and ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_free(writer: *mut nb_json_writer) {
    if !writer.is_null() {
        // SAFETY: from Box::into_raw in nb_json_writer_new, freed once.
        crate::error::value_boundary((), || drop(unsafe { Box::from_raw(writer) }));
    }
}

/// Writes `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_null(
    writer: *mut nb_json_writer,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| w.put(Value::Null))
}

/// Writes `true` or `false`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_bool(
    writer: *mut nb_json_writer,
    value: bool,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| w.put(Value::Bool(value)))
}

/// Writes a signed integer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_int64(
    writer: *mut nb_json_writer,
    value: i64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| w.put(Value::from(value)))
}

/// Writes an unsigned integer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_uint64(
    writer: *mut nb_json_writer,
    value: u64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| w.put(Value::from(value)))
}

/// Writes a double. NaN and infinities have no JSON form: they fail with
/// `NB_ERR_SERIALIZATION`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_float64(
    writer: *mut nb_json_writer,
    value: f64,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| {
        let number = Number::from_f64(value).ok_or_else(|| {
            Error::new(
                ErrorKind::Serialization,
                format!("{value} has no JSON form"),
            )
        })?;
        w.put(Value::Number(number))
    })
}

/// Writes a string of `len` UTF-8 bytes (copied; `NB_ERR_INVALID_UTF8`
/// otherwise).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_string(
    writer: *mut nb_json_writer,
    data: *const c_char,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| {
        // SAFETY: per the contract.
        let text = unsafe { utf8(data, len, "data") }?;
        w.put(Value::String(text))
    })
}

/// Opens an array: the values written next are its items until
/// `nb_json_writer_end_array`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_begin_array(
    writer: *mut nb_json_writer,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| {
        w.stack.push(Frame::Array(Vec::new()));
        Ok(())
    })
}

/// Closes the innermost open array.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_end_array(
    writer: *mut nb_json_writer,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| match w.stack.pop() {
        Some(Frame::Array(items)) => w.put(Value::Array(items)),
        _ => Err(invalid("nb_json_writer_end_array without an open array")),
    })
}

/// Opens an object: then, for each member, its key with
/// `nb_json_writer_key` and its value; closed by `nb_json_writer_end_object`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_begin_object(
    writer: *mut nb_json_writer,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| {
        w.stack.push(Frame::Object(Map::new(), None));
        Ok(())
    })
}

/// The key (`len` UTF-8 bytes, copied) of the next member of the innermost
/// open object. A repeated key replaces the earlier member.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_key(
    writer: *mut nb_json_writer,
    data: *const c_char,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| {
        // SAFETY: per the contract.
        let text = unsafe { utf8(data, len, "key") }?;
        match w.stack.last_mut() {
            Some(Frame::Object(_, key @ None)) => {
                *key = Some(text);
                Ok(())
            }
            Some(Frame::Object(_, Some(_))) => Err(invalid("two JSON keys without a value")),
            _ => Err(invalid("nb_json_writer_key outside an object")),
        }
    })
}

/// Closes the innermost open object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_end_object(
    writer: *mut nb_json_writer,
    out_error: *mut *mut nb_error,
) -> nb_status {
    step(writer, out_error, |w| match w.stack.pop() {
        Some(Frame::Object(members, None)) => w.put(Value::Object(members)),
        Some(Frame::Object(_, Some(key))) => Err(invalid(format!("JSON key {key:?} has no value"))),
        _ => Err(invalid("nb_json_writer_end_object without an open object")),
    })
}

/// Serializes the one complete value written so far.
///
/// On success writes the JSON text to `*out_text` (free with
/// `nb_string_free`). Fails with `NB_ERR_INVALID_ARGUMENT` while an array or
/// object is open or when nothing was written. The writer stays as it was.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_json_writer_finish(
    writer: *mut nb_json_writer,
    out_text: *mut *mut c_char,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_text, "out_text")?;
        // SAFETY: NULL or a live writer.
        let writer = unsafe { args::required_mut(writer, "writer") }?;
        if writer.failed {
            return Err(invalid("the JSON writer failed earlier"));
        }
        if !writer.stack.is_empty() {
            return Err(invalid("an array or object is still open"));
        }
        let value = writer
            .done
            .as_ref()
            .ok_or_else(|| invalid("nothing was written"))?;
        let text = serde_json::to_string(value)
            .map_err(|err| Error::new(ErrorKind::Serialization, err.to_string()))?;
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_text, args::owned_string(text)) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// A tree back to a serde value, through the C accessors only.
    fn walk(value: *const nb_json) -> Value {
        let mut len = 0;
        // SAFETY: `value` is a live node of a live tree.
        unsafe {
            match nb_json_kind(value) {
                NB_JSON_NULL => Value::Null,
                NB_JSON_BOOL => Value::from(nb_json_bool(value)),
                NB_JSON_INT => Value::from(nb_json_int64(value)),
                NB_JSON_UINT => Value::from(nb_json_uint64(value)),
                NB_JSON_FLOAT => Value::from(nb_json_float64(value)),
                NB_JSON_STRING => {
                    let ptr = nb_json_string(value, &mut len);
                    let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
                    Value::from(std::str::from_utf8(bytes).unwrap())
                }
                NB_JSON_ARRAY => (0..nb_json_len(value))
                    .map(|i| walk(nb_json_array_get(value, i)))
                    .collect(),
                _ => Value::Object(
                    (0..nb_json_len(value))
                        .map(|i| {
                            let key = nb_json_object_key(value, i, &mut len);
                            let key = std::slice::from_raw_parts(key.cast::<u8>(), len);
                            let key = String::from_utf8(key.to_vec()).unwrap();
                            (key, walk(nb_json_object_value(value, i)))
                        })
                        .collect(),
                ),
            }
        }
    }

    /// `from_sent` makes the tree `to_json` describes, for direct payloads
    /// (with and without sha256), links, metadata and escaped strings; and
    /// that tree equals the parsed wire bytes.
    #[test]
    fn sent_envelope_tree_equals_its_json() {
        use natsbridge::codec::{self, EnvelopeOptions, EnvelopeWriter, PartData};
        use natsbridge::{Payload, PayloadType, Transport};
        let mut meta = Map::new();
        meta.insert(
            "k".into(),
            serde_json::json!({"n": [1, 2.5, null, u64::MAX]}),
        );
        let options = EnvelopeOptions {
            msg_purpose: Some("tele\"metry".into()),
            metadata: meta.clone(),
            ..EnvelopeOptions::default()
        };
        let direct = codec::encode_direct(
            "/a",
            vec![
                Payload::text("t", "héllo"),
                Payload::bytes("b", PayloadType::Binary, vec![0u8, 255, 7])
                    .with_metadata(meta.clone()),
            ],
            &EnvelopeOptions {
                direct_sha256: true,
                ..options.clone()
            },
            "nats://u:p@h:1",
            1 << 20,
        )
        .unwrap();
        let writer = EnvelopeWriter::new(codec::new_header("/b", &options, "nats://h:1"));
        let mut info = codec::new_info("big".into(), PayloadType::Binary, 5_000_000, Map::new());
        info.transport = Transport::Link;
        info.sha256 = Some("ab".repeat(32));
        let link = writer.finish(vec![info], &[PartData::Link("http://h/x?a=\"1\"")]);
        for sent in [direct, link] {
            let root = nb_json::from_sent(&sent);
            let tree = walk(&root);
            assert_eq!(tree, sent.to_json());
            let wire: Value = serde_json::from_slice(sent.wire_bytes()).unwrap();
            assert_eq!(tree, wire);
        }
    }

    #[test]
    fn parse_and_walk() {
        let text = br#"{"a":[1,-2,18446744073709551615,1.5,true,null,"x\u0000y"],"b":{}}"#;
        let mut root: *mut nb_json = std::ptr::null_mut();
        // SAFETY: valid arguments; freed below.
        unsafe {
            assert_eq!(
                nb_json_parse(text.as_ptr(), text.len(), &mut root, std::ptr::null_mut()),
                0
            );
            assert_eq!(nb_json_kind(root), NB_JSON_OBJECT);
            assert_eq!(nb_json_len(root), 2);
            let mut len = 0;
            let key = nb_json_object_key(root, 0, &mut len);
            assert_eq!(std::slice::from_raw_parts(key.cast::<u8>(), len), b"a");
            let a = nb_json_object_value(root, 0);
            assert_eq!(nb_json_len(a), 7);
            assert_eq!(nb_json_int64(nb_json_array_get(a, 1)), -2);
            assert_eq!(nb_json_kind(nb_json_array_get(a, 2)), NB_JSON_UINT);
            assert_eq!(nb_json_uint64(nb_json_array_get(a, 2)), u64::MAX);
            assert_eq!(nb_json_float64(nb_json_array_get(a, 3)), 1.5);
            assert!(nb_json_bool(nb_json_array_get(a, 4)));
            assert_eq!(nb_json_kind(nb_json_array_get(a, 5)), NB_JSON_NULL);
            let s = nb_json_string(nb_json_array_get(a, 6), &mut len);
            assert_eq!(std::slice::from_raw_parts(s.cast::<u8>(), len), b"x\0y");
            assert!(nb_json_array_get(a, 7).is_null());
            nb_json_free(root);
            let bad = b"{nope";
            assert_eq!(
                nb_json_parse(bad.as_ptr(), bad.len(), &mut root, std::ptr::null_mut()),
                crate::error::NB_ERR_INVALID_JSON
            );
        }
    }

    #[test]
    fn write_a_value() {
        let mut w: *mut nb_json_writer = std::ptr::null_mut();
        let null = std::ptr::null_mut();
        // SAFETY: valid arguments; freed below.
        unsafe {
            assert_eq!(nb_json_writer_new(&mut w, null), 0);
            nb_json_writer_begin_object(w, null);
            nb_json_writer_key(w, c"k".as_ptr(), 1, null);
            nb_json_writer_begin_array(w, null);
            nb_json_writer_int64(w, 1, null);
            nb_json_writer_string(w, c"q\"".as_ptr(), 2, null);
            nb_json_writer_null(w, null);
            nb_json_writer_end_array(w, null);
            nb_json_writer_end_object(w, null);
            let mut text: *mut c_char = std::ptr::null_mut();
            assert_eq!(nb_json_writer_finish(w, &mut text, null), 0);
            assert_eq!(
                CStr::from_ptr(text).to_str().unwrap(),
                r#"{"k":[1,"q\"",null]}"#
            );
            crate::args::nb_string_free(text);
            assert_eq!(
                nb_json_writer_null(w, null),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
            nb_json_writer_free(w);

            assert_eq!(nb_json_writer_new(&mut w, null), 0);
            assert_eq!(
                nb_json_writer_float64(w, f64::NAN, null),
                crate::error::NB_ERR_SERIALIZATION
            );
            assert_eq!(
                nb_json_writer_null(w, null),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
            nb_json_writer_free(w);

            assert_eq!(nb_json_writer_new(&mut w, null), 0);
            nb_json_writer_begin_array(w, null);
            let mut text: *mut c_char = std::ptr::null_mut();
            assert_eq!(
                nb_json_writer_finish(w, &mut text, null),
                crate::error::NB_ERR_INVALID_ARGUMENT
            );
            nb_json_writer_free(w);
        }
    }
}
