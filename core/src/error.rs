//! The one error type of natsbridge: an [`ErrorKind`] saying what went wrong,
//! a message naming the payload, the limit and the value seen, and the
//! underlying cause as `source`.
//!
//! Bindings map errors by kind and never by message: Python raises one
//! exception class per kind, Node sets `err.code` to [`ErrorKind::code`], C
//! returns [`ErrorKind::c_code`]. Kinds are only ever added; a C number once
//! given is never reused.

use std::fmt;

/// A boxed error cause, thread-safe so errors can cross tasks and FFI borders.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is. Each bad input of the wire spec has
/// its own kind, so callers can react to it without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed an unusable argument: an empty or malformed subject,
    /// an empty dataname, data that does not fit the payload type, a bad option.
    InvalidArgument,
    /// The caller named a payload type that wire v1 does not define.
    UnknownType,
    /// A caller's value cannot be serialized (a dictionary that is not JSON,
    /// a table that cannot be written as Arrow IPC).
    Serialization,
    /// A received message is not a wire-v1 envelope (bad JSON, `payloads`
    /// missing or not an array, a required payload field missing).
    MalformedEnvelope,
    /// The envelope's `version` is newer than this implementation reads.
    UnsupportedVersion,
    /// A direct payload's `data` is not valid standard base64.
    InvalidBase64,
    /// A payload's bytes do not match its declared `size` or `sha256`.
    Integrity,
    /// A `text` payload is not valid UTF-8.
    InvalidUtf8,
    /// A `dictionary` payload is not valid JSON.
    InvalidJson,
    /// A `table` payload is not an Arrow IPC stream.
    InvalidTable,
    /// A payload must travel by link but no claim-check store is available,
    /// or the envelope cannot fit the server's `max_payload` at all.
    PayloadTooLarge,
    /// The NATS server could not be reached or the connection was lost.
    Connection,
    /// The NATS server refused the credentials.
    Auth,
    /// Publishing to NATS failed.
    Publish,
    /// A request, download or connect did not finish in time.
    Timeout,
    /// A request found no subscriber on its subject.
    NoResponders,
    /// A JetStream operation failed (no stream for the subject, ack missing, ...).
    JetStream,
    /// A link URL uses a scheme or address the receiver refuses to fetch.
    UrlNotAllowed,
    /// Downloading a link payload failed (after retries where they apply).
    Download,
    /// Uploading a link payload to the claim-check store failed.
    Upload,
    /// A user-supplied handler (upload or download callback) failed.
    Handler,
    /// A local file could not be read or written.
    Io,
    /// The bridge or subscription was closed.
    Closed,
}

impl ErrorKind {
    /// Every kind, in C-code order; handy for bindings that build one
    /// exception class per kind.
    pub const ALL: [ErrorKind; 23] = [
        ErrorKind::InvalidArgument,
        ErrorKind::UnknownType,
        ErrorKind::Serialization,
        ErrorKind::MalformedEnvelope,
        ErrorKind::UnsupportedVersion,
        ErrorKind::InvalidBase64,
        ErrorKind::Integrity,
        ErrorKind::InvalidUtf8,
        ErrorKind::InvalidJson,
        ErrorKind::InvalidTable,
        ErrorKind::PayloadTooLarge,
        ErrorKind::Connection,
        ErrorKind::Auth,
        ErrorKind::Publish,
        ErrorKind::Timeout,
        ErrorKind::NoResponders,
        ErrorKind::JetStream,
        ErrorKind::UrlNotAllowed,
        ErrorKind::Download,
        ErrorKind::Upload,
        ErrorKind::Handler,
        ErrorKind::Io,
        ErrorKind::Closed,
    ];

    /// A stable upper-snake-case name, used as Node's `err.code` and in logs.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            ErrorKind::UnknownType => "UNKNOWN_TYPE",
            ErrorKind::Serialization => "SERIALIZATION",
            ErrorKind::MalformedEnvelope => "MALFORMED_ENVELOPE",
            ErrorKind::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorKind::InvalidBase64 => "INVALID_BASE64",
            ErrorKind::Integrity => "INTEGRITY",
            ErrorKind::InvalidUtf8 => "INVALID_UTF8",
            ErrorKind::InvalidJson => "INVALID_JSON",
            ErrorKind::InvalidTable => "INVALID_TABLE",
            ErrorKind::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorKind::Connection => "CONNECTION",
            ErrorKind::Auth => "AUTH",
            ErrorKind::Publish => "PUBLISH",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::NoResponders => "NO_RESPONDERS",
            ErrorKind::JetStream => "JETSTREAM",
            ErrorKind::UrlNotAllowed => "URL_NOT_ALLOWED",
            ErrorKind::Download => "DOWNLOAD",
            ErrorKind::Upload => "UPLOAD",
            ErrorKind::Handler => "HANDLER",
            ErrorKind::Io => "IO",
            ErrorKind::Closed => "CLOSED",
        }
    }

    /// A CamelCase name, used for exception class names (`IntegrityError`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::UnknownType => "UnknownType",
            ErrorKind::Serialization => "Serialization",
            ErrorKind::MalformedEnvelope => "MalformedEnvelope",
            ErrorKind::UnsupportedVersion => "UnsupportedVersion",
            ErrorKind::InvalidBase64 => "InvalidBase64",
            ErrorKind::Integrity => "Integrity",
            ErrorKind::InvalidUtf8 => "InvalidUtf8",
            ErrorKind::InvalidJson => "InvalidJson",
            ErrorKind::InvalidTable => "InvalidTable",
            ErrorKind::PayloadTooLarge => "PayloadTooLarge",
            ErrorKind::Connection => "Connection",
            ErrorKind::Auth => "Auth",
            ErrorKind::Publish => "Publish",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::NoResponders => "NoResponders",
            ErrorKind::JetStream => "JetStream",
            ErrorKind::UrlNotAllowed => "UrlNotAllowed",
            ErrorKind::Download => "Download",
            ErrorKind::Upload => "Upload",
            ErrorKind::Handler => "Handler",
            ErrorKind::Io => "Io",
            ErrorKind::Closed => "Closed",
        }
    }

    /// The number the C ABI returns for this kind. Fixed forever: 0 is
    /// success in C, so kinds start at 1, and a retired kind's number is
    /// never given to another.
    pub fn c_code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument => 1,
            ErrorKind::UnknownType => 2,
            ErrorKind::Serialization => 3,
            ErrorKind::MalformedEnvelope => 4,
            ErrorKind::UnsupportedVersion => 5,
            ErrorKind::InvalidBase64 => 6,
            ErrorKind::Integrity => 7,
            ErrorKind::InvalidUtf8 => 8,
            ErrorKind::InvalidJson => 9,
            ErrorKind::InvalidTable => 10,
            ErrorKind::PayloadTooLarge => 11,
            ErrorKind::Connection => 12,
            ErrorKind::Auth => 13,
            ErrorKind::Publish => 14,
            ErrorKind::Timeout => 15,
            ErrorKind::NoResponders => 16,
            ErrorKind::JetStream => 17,
            ErrorKind::UrlNotAllowed => 18,
            ErrorKind::Download => 19,
            ErrorKind::Upload => 20,
            ErrorKind::Handler => 21,
            ErrorKind::Io => 22,
            ErrorKind::Closed => 23,
        }
    }

    /// True for failures that may succeed when tried again later (the network,
    /// a store, a timeout), false for ones that are a property of the input.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Connection
                | ErrorKind::Publish
                | ErrorKind::Timeout
                | ErrorKind::NoResponders
                | ErrorKind::JetStream
                | ErrorKind::Download
                | ErrorKind::Upload
                | ErrorKind::Io
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A natsbridge failure: its [`ErrorKind`], a message for people, the name
/// of the payload it concerns (when it concerns one) and the cause.
pub struct Error {
    kind: ErrorKind,
    message: String,
    dataname: Option<String>,
    source: Option<BoxError>,
}

/// `Result` with natsbridge's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Creates an error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            dataname: None,
            source: None,
        }
    }

    /// Attaches the underlying cause, reported by [`std::error::Error::source`].
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.source = Some(source.into());
        self
    }

    /// Records which payload the error concerns.
    pub fn with_dataname(mut self, dataname: impl Into<String>) -> Error {
        self.dataname = Some(dataname.into());
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the chain of causes.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The dataname of the payload this error concerns, if any.
    pub fn dataname(&self) -> Option<&str> {
        self.dataname.as_deref()
    }

    /// The message followed by every cause, `": "`-separated; what bindings
    /// show when they cannot carry a cause chain.
    pub fn full_message(&self) -> String {
        let mut text = self.message.clone();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            let part = err.to_string();
            // async-nats and reqwest often repeat the inner message in the outer one.
            if !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            cause = err.source();
        }
        text
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(name) = &self.dataname {
            d.field("dataname", name);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_stable() {
        let codes: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.c_code()).collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        for (index, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.c_code(), index as i32 + 1, "{kind:?}");
        }
        let names: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert_eq!(ErrorKind::Integrity.c_code(), 7);
        assert_eq!(ErrorKind::Closed.c_code(), 23);
    }

    #[test]
    fn full_message_walks_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Error::new(ErrorKind::Io, "cannot read payload 'a'").with_source(io);
        assert_eq!(err.full_message(), "cannot read payload 'a': no such file");
        assert_eq!(err.to_string(), "cannot read payload 'a'");
    }
}
