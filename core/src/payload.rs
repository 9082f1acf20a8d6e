//! Payloads: the typed values a caller sends ([`Payload`]) and receives
//! ([`ReceivedPayload`]), and the per-type serialization of wire-v1 section 4.
//!
//! This module decides which Rust value each wire type carries and turns
//! values into the serialized bytes that travel (base64 inside the envelope,
//! or in a claim-check store). Everything here is pure: no I/O.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::table::Table;
use crate::transport::Transport;

/// The `type` of a payload (wire-v1 section 3).
///
/// Parsing a caller's type string with [`FromStr`] accepts only the seven
/// wire-v1 types; a received envelope may carry any type string, which is kept
/// as [`PayloadType::Other`] and delivered as bytes.
///
/// ```
/// use natsbridge::PayloadType;
/// assert_eq!("table".parse::<PayloadType>().unwrap(), PayloadType::Table);
/// assert!("spreadsheet".parse::<PayloadType>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// A UTF-8 string.
    Text,
    /// Any JSON value, serialized as JSON text.
    Dictionary,
    /// An Arrow IPC stream.
    Table,
    /// Image bytes (PNG, JPEG, ...).
    Image,
    /// Audio bytes.
    Audio,
    /// Video bytes.
    Video,
    /// Any other bytes.
    Binary,
    /// A type this implementation does not know, seen on receive only.
    Other(String),
}

impl PayloadType {
    /// The wire spelling (`"text"`, `"dictionary"`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            PayloadType::Text => "text",
            PayloadType::Dictionary => "dictionary",
            PayloadType::Table => "table",
            PayloadType::Image => "image",
            PayloadType::Audio => "audio",
            PayloadType::Video => "video",
            PayloadType::Binary => "binary",
            PayloadType::Other(name) => name,
        }
    }

    /// Reads a received `type` field: unknown strings become [`PayloadType::Other`].
    pub fn from_wire(name: &str) -> PayloadType {
        name.parse()
            .unwrap_or_else(|_| PayloadType::Other(name.to_owned()))
    }

    /// True for the types whose serialized form is the bytes as given.
    pub fn is_binary_like(&self) -> bool {
        matches!(
            self,
            PayloadType::Image
                | PayloadType::Audio
                | PayloadType::Video
                | PayloadType::Binary
                | PayloadType::Other(_)
        )
    }
}

impl FromStr for PayloadType {
    type Err = Error;

    fn from_str(name: &str) -> Result<PayloadType> {
        Ok(match name {
            "text" => PayloadType::Text,
            "dictionary" => PayloadType::Dictionary,
            "table" => PayloadType::Table,
            "image" => PayloadType::Image,
            "audio" => PayloadType::Audio,
            "video" => PayloadType::Video,
            "binary" => PayloadType::Binary,
            other => {
                return Err(Error::new(
                    ErrorKind::UnknownType,
                    format!(
                        "unknown payload type '{other}'; wire v1 knows text, dictionary, table, \
                         image, audio, video and binary"
                    ),
                ));
            }
        })
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so width and alignment flags work in tables of payloads.
        f.pad(self.as_str())
    }
}

/// The value a caller hands over for one payload.
#[derive(Debug, Clone)]
pub enum Body {
    /// A string (for `text`).
    Text(String),
    /// A JSON value (for `dictionary`).
    Json(Value),
    /// A validated Arrow table (for `table`).
    Table(Table),
    /// Bytes as given (for the binary-like types, or Arrow IPC for `table`).
    Bytes(Bytes),
    /// A file whose contents are the payload, streamed rather than loaded
    /// when it travels by link (for the binary-like types and `table`).
    File(PathBuf),
}

impl Body {
    fn describe(&self) -> &'static str {
        match self {
            Body::Text(_) => "a string",
            Body::Json(_) => "a JSON value",
            Body::Table(_) => "a table",
            Body::Bytes(_) => "bytes",
            Body::File(_) => "a file path",
        }
    }
}

/// One payload to send: a dataname, a type and a value.
///
/// ```
/// use natsbridge::{Payload, PayloadType};
/// let greeting = Payload::text("message", "Hello World");
/// let config = Payload::dictionary("config", serde_json::json!({"interval": 60}));
/// let avatar = Payload::bytes("avatar", PayloadType::Image, vec![0x89, b'P', b'N', b'G']);
/// assert_eq!(avatar.payload_type(), &PayloadType::Image);
/// ```
#[derive(Debug, Clone)]
pub struct Payload {
    dataname: String,
    payload_type: PayloadType,
    body: Body,
    metadata: Map<String, Value>,
}

impl Payload {
    /// A `text` payload.
    pub fn text(dataname: impl Into<String>, text: impl Into<String>) -> Payload {
        Payload::unchecked(dataname, PayloadType::Text, Body::Text(text.into()))
    }

    /// A `dictionary` payload holding any JSON value.
    pub fn dictionary(dataname: impl Into<String>, value: Value) -> Payload {
        Payload::unchecked(dataname, PayloadType::Dictionary, Body::Json(value))
    }

    /// A `dictionary` payload from any serializable value. Fails with
    /// [`ErrorKind::Serialization`] when the value has no JSON form (a map
    /// with non-string keys, a failing `Serialize` impl).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use natsbridge::{ErrorKind, Payload};
    /// let ok = Payload::dictionary_from("cfg", &BTreeMap::from([("interval", 60)])).unwrap();
    /// let err = Payload::dictionary_from("bad", &BTreeMap::from([((1, 2), "x")])).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Serialization);
    /// ```
    pub fn dictionary_from<T: serde::Serialize + ?Sized>(
        dataname: impl Into<String>,
        value: &T,
    ) -> Result<Payload> {
        let dataname = dataname.into();
        let value = serde_json::to_value(value).map_err(|err| {
            Error::new(
                ErrorKind::Serialization,
                format!("payload '{dataname}' cannot be serialized as JSON: {err}"),
            )
            .with_dataname(dataname.clone())
            .with_source(err)
        })?;
        Ok(Payload::dictionary(dataname, value))
    }

    /// A `table` payload.
    pub fn table(dataname: impl Into<String>, table: Table) -> Payload {
        Payload::unchecked(dataname, PayloadType::Table, Body::Table(table))
    }

    /// A payload of a binary-like type (`image`, `audio`, `video`, `binary`)
    /// holding the bytes as given. `Bytes` is reference-counted, so passing a
    /// `Bytes` does not copy.
    pub fn bytes(
        dataname: impl Into<String>,
        payload_type: PayloadType,
        data: impl Into<Bytes>,
    ) -> Payload {
        Payload::unchecked(dataname, payload_type, Body::Bytes(data.into()))
    }

    /// A payload whose contents are read from a file when sent. Large files
    /// travelling by link are streamed to the store, never loaded whole.
    pub fn file(
        dataname: impl Into<String>,
        payload_type: PayloadType,
        path: impl Into<PathBuf>,
    ) -> Payload {
        Payload::unchecked(dataname, payload_type, Body::File(path.into()))
    }

    /// A payload from a type string and a body, checking that they fit
    /// together; what bindings call with the caller's `(dataname, data, type)`.
    ///
    /// ```
    /// use natsbridge::{Body, ErrorKind, Payload};
    /// let ok = Payload::new("n", "text", Body::Text("hi".into())).unwrap();
    /// let err = Payload::new("n", "text", Body::Bytes(vec![1u8].into())).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    /// assert_eq!(Payload::new("n", "csv", Body::Text("a".into())).unwrap_err().kind(),
    ///            ErrorKind::UnknownType);
    /// ```
    pub fn new(dataname: impl Into<String>, payload_type: &str, body: Body) -> Result<Payload> {
        let dataname = dataname.into();
        let payload_type: PayloadType = payload_type
            .parse()
            .map_err(|err: Error| err.with_dataname(dataname.clone()))?;
        let fits = match (&payload_type, &body) {
            (PayloadType::Text, Body::Text(_)) => true,
            (PayloadType::Dictionary, _) => matches!(body, Body::Json(_)),
            (PayloadType::Table, Body::Table(_) | Body::Bytes(_) | Body::File(_)) => true,
            (kind, Body::Bytes(_) | Body::File(_)) => kind.is_binary_like(),
            _ => false,
        };
        if !fits {
            let wants = match payload_type {
                PayloadType::Text => "a string",
                PayloadType::Dictionary => "a JSON-serializable value",
                PayloadType::Table => "a table, or Arrow IPC stream bytes",
                _ => "bytes or a file path",
            };
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "payload '{dataname}' has type '{payload_type}' but its data is {}; \
                     {payload_type} payloads take {wants}",
                    body.describe()
                ),
            )
            .with_dataname(dataname));
        }
        let mut payload = Payload::unchecked(dataname, payload_type, body);
        if let (PayloadType::Table, Body::Bytes(bytes)) = (&payload.payload_type, &payload.body) {
            let table = Table::from_ipc(bytes.clone())
                .map_err(|err| err.with_dataname(payload.dataname.clone()))?;
            payload.body = Body::Table(table);
        }
        Ok(payload)
    }

    fn unchecked(dataname: impl Into<String>, payload_type: PayloadType, body: Body) -> Payload {
        Payload {
            dataname: dataname.into(),
            payload_type,
            body,
            metadata: Map::new(),
        }
    }

    /// Sets the payload's free-form `metadata` object (hints such as
    /// `content_type` or `filename`).
    pub fn with_metadata(mut self, metadata: Map<String, Value>) -> Payload {
        self.metadata = metadata;
        self
    }

    /// The caller's name for the payload.
    pub fn dataname(&self) -> &str {
        &self.dataname
    }

    /// The payload's type.
    pub fn payload_type(&self) -> &PayloadType {
        &self.payload_type
    }

    /// The payload's value.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The payload's metadata object.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    pub(crate) fn into_parts(self) -> (String, PayloadType, Body, Map<String, Value>) {
        (self.dataname, self.payload_type, self.body, self.metadata)
    }
}

/// Serializes an in-memory body per wire-v1 section 4. Strings and `Bytes`
/// move without copying; a JSON value is written once. File bodies are
/// handled by the caller (they may be streamed), so they are refused here.
pub(crate) fn serialize_body(dataname: &str, body: Body) -> Result<Bytes> {
    match body {
        Body::Text(text) => Ok(Bytes::from(text.into_bytes())),
        Body::Json(value) => serde_json::to_vec(&value).map(Bytes::from).map_err(|err| {
            Error::new(
                ErrorKind::Serialization,
                format!("payload '{dataname}' cannot be serialized as JSON"),
            )
            .with_dataname(dataname)
            .with_source(err)
        }),
        Body::Table(table) => Ok(table.ipc_bytes().clone()),
        Body::Bytes(bytes) => Ok(bytes),
        Body::File(path) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "payload '{dataname}' is the file {}; file payloads must be read by the bridge",
                path.display()
            ),
        )
        .with_dataname(dataname)),
    }
}

/// A file name made from a dataname that cannot leave the directory it is
/// joined to: path separators, `..`, control characters, bidirectional
/// controls (which make a name display differently from what it is) and
/// leading dots are replaced; a Windows reserved device name (`CON`, `NUL`,
/// `COM1`, ..., with or without an extension) gets a leading `_`, trailing
/// dots and spaces (which Windows drops) become `_`, and the result is never
/// empty.
///
/// ```
/// use natsbridge::payload::safe_file_name;
/// assert_eq!(safe_file_name("../../etc/x"), "___.._etc_x");
/// assert_eq!(safe_file_name("report.pdf"), "report.pdf");
/// assert_eq!(safe_file_name(".."), "__");
/// assert_eq!(safe_file_name(""), "_");
/// assert_eq!(safe_file_name("nul.txt"), "_nul.txt");
/// assert_eq!(safe_file_name("invoice\u{202e}fdp.exe"), "invoice_fdp.exe");
/// ```
pub fn safe_file_name(dataname: &str) -> String {
    let mut name: String = dataname
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '\0' => '_',
            c if c.is_control() || is_bidi_control(c) => '_',
            c => c,
        })
        .collect();
    let leading_dots = name.len() - name.trim_start_matches('.').len();
    name.replace_range(..leading_dots, &"_".repeat(leading_dots));
    // Keep well under common file-name limits (255 bytes).
    if name.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| name.is_char_boundary(*i))
            .unwrap_or(0);
        name.truncate(cut);
    }
    let trailing = name.len() - name.trim_end_matches(['.', ' ']).len();
    let keep = name.len() - trailing;
    name.replace_range(keep.., &"_".repeat(trailing));
    if is_windows_device_name(&name) {
        name.insert(0, '_');
    }
    if name.is_empty() {
        name.push('_');
    }
    name
}

/// Unicode bidirectional formatting characters (marks, embeddings,
/// overrides, isolates): they reorder how the text around them is shown.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `CON`, `PRN`, `AUX`, `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9` (also with the
/// superscript digits), in any case, alone or before an extension: Windows
/// opens the device instead of a file of that name.
fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let mut chars = upper.chars();
            let prefix: String = chars.by_ref().take(3).collect();
            let digit: Vec<char> = chars.collect();
            (prefix == "COM" || prefix == "LPT")
                && matches!(digit.as_slice(), [d] if d.is_ascii_digit() || matches!(d, '\u{b9}' | '\u{b2}' | '\u{b3}'))
        }
    }
}

/// What describes a payload on the wire, apart from its data: shared by what
/// was sent and what was received.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadInfo {
    /// The payload's UUID.
    pub id: String,
    /// The caller's name for the payload.
    pub dataname: String,
    /// The payload's type.
    pub payload_type: PayloadType,
    /// How the payload travelled.
    pub transport: Transport,
    /// Length in bytes of the serialized payload, before base64.
    pub size: u64,
    /// Lowercase hex SHA-256 of the serialized payload, when present.
    pub sha256: Option<String>,
    /// The payload's free-form metadata.
    pub metadata: Map<String, Value>,
}

/// A received payload's value, decoded per its type.
#[derive(Debug, Clone)]
pub enum PayloadValue {
    /// A `text` payload.
    Text(String),
    /// A `dictionary` payload.
    Dictionary(Value),
    /// A `table` payload, validated as an Arrow IPC stream.
    Table(Table),
    /// A binary-like payload, or one of a type this implementation does not know.
    Bytes(Bytes),
    /// A link payload written to a file (when the receiver asked for that).
    File(PathBuf),
}

impl PayloadValue {
    /// The text of a `text` payload.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            PayloadValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The JSON value of a `dictionary` payload.
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            PayloadValue::Dictionary(value) => Some(value),
            _ => None,
        }
    }

    /// The table of a `table` payload.
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            PayloadValue::Table(table) => Some(table),
            _ => None,
        }
    }

    /// The bytes of a binary-like payload.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            PayloadValue::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }
}

/// One payload of a received envelope.
#[derive(Debug, Clone)]
pub struct ReceivedPayload {
    /// Its wire description.
    pub info: PayloadInfo,
    /// Its decoded value.
    pub value: PayloadValue,
}

impl ReceivedPayload {
    /// The payload's dataname.
    pub fn dataname(&self) -> &str {
        &self.info.dataname
    }

    /// The payload's type.
    pub fn payload_type(&self) -> &PayloadType {
        &self.info.payload_type
    }
}

/// Turns verified serialized bytes into the value their type calls for.
pub(crate) fn deserialize(info: &PayloadInfo, bytes: Bytes) -> Result<PayloadValue> {
    let fail = |kind: ErrorKind, what: &str| {
        Error::new(
            kind,
            format!(
                "payload '{}' of type {} is not {what}",
                info.dataname, info.payload_type
            ),
        )
        .with_dataname(info.dataname.clone())
    };
    Ok(match &info.payload_type {
        PayloadType::Text => {
            let text = String::from_utf8(Vec::from(bytes))
                .map_err(|err| fail(ErrorKind::InvalidUtf8, "valid UTF-8").with_source(err))?;
            PayloadValue::Text(text)
        }
        PayloadType::Dictionary => {
            let value = serde_json::from_slice(&bytes)
                .map_err(|err| fail(ErrorKind::InvalidJson, "valid JSON").with_source(err))?;
            PayloadValue::Dictionary(value)
        }
        PayloadType::Table => PayloadValue::Table(
            Table::from_ipc(bytes).map_err(|err| err.with_dataname(info.dataname.clone()))?,
        ),
        _ => PayloadValue::Bytes(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_file_names_defuse_windows_devices_and_bidi_controls() {
        for (dataname, expected) in [
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Nul", "_Nul"),
            ("aux.tar.gz", "_aux.tar.gz"),
            ("PRN ", "PRN_"),
            ("com1", "_com1"),
            ("LPT9.log", "_LPT9.log"),
            ("COM\u{b9}", "_COM\u{b9}"),
            ("report.", "report_"),
            ("report. .", "report___"),
            ("console", "console"),
            ("com10", "com10"),
            ("nul_device", "nul_device"),
            ("photo\u{202e}gnp.exe", "photo_gnp.exe"),
            ("a\u{2066}b\u{2069}c\u{200f}d\u{061c}", "a_b_c_d_"),
        ] {
            assert_eq!(safe_file_name(dataname), expected, "{dataname:?}");
        }
    }

    #[test]
    fn type_strings_round_trip() {
        for name in [
            "text",
            "dictionary",
            "table",
            "image",
            "audio",
            "video",
            "binary",
        ] {
            assert_eq!(name.parse::<PayloadType>().unwrap().as_str(), name);
        }
        assert_eq!(
            PayloadType::from_wire("hologram"),
            PayloadType::Other("hologram".into())
        );
        assert_eq!(
            "Text".parse::<PayloadType>().unwrap_err().kind(),
            ErrorKind::UnknownType
        );
    }

    #[test]
    fn new_checks_type_and_body_fit() {
        assert!(Payload::new("a", "image", Body::Bytes(Bytes::from_static(b"x"))).is_ok());
        assert!(Payload::new("a", "binary", Body::File("/tmp/x".into())).is_ok());
        let err = Payload::new("cfg", "dictionary", Body::Text("{}".into())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("'cfg'"), "{}", err.message());
        let err = Payload::new("t", "table", Body::Bytes(Bytes::from_static(b"nope"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTable);
        assert_eq!(err.dataname(), Some("t"));
    }

    #[test]
    fn text_serializes_without_copy() {
        let text = String::from("hello");
        let ptr = text.as_ptr();
        let bytes = serialize_body("m", Body::Text(text)).unwrap();
        assert_eq!(bytes.as_ptr(), ptr);
    }

    #[test]
    fn invalid_utf8_and_json_are_typed() {
        let info = |t: PayloadType| PayloadInfo {
            id: String::new(),
            dataname: "x".into(),
            payload_type: t,
            transport: Transport::Direct,
            size: 2,
            sha256: None,
            metadata: Map::new(),
        };
        let err =
            deserialize(&info(PayloadType::Text), Bytes::from_static(b"\xff\xfe")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUtf8);
        let err =
            deserialize(&info(PayloadType::Dictionary), Bytes::from_static(b"{")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidJson);
        let value = deserialize(
            &info(PayloadType::Other("x".into())),
            Bytes::from_static(b"\xff"),
        )
        .unwrap();
        assert_eq!(value.as_bytes().unwrap().as_ref(), b"\xff");
    }
}
