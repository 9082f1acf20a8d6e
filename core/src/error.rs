//! The one error type of natsbridge: an [`ErrorKind`] saying what went wrong,
//! a message naming the payload, the limit and the value seen, and the
//! underlying cause as `source`.
//!
//! Bindings map errors by kind and never by message: Python raises one
//! exception class per kind, Node sets `err.code` to [`ErrorKind::code`], C
//! returns [`ErrorKind::c_code`]. All of that comes from one table (the
//! `error_kinds!` invocation below); kinds are only ever added, and a C number
//! once given is never reused.

use std::fmt;

/// A boxed error cause, thread-safe so errors can cross tasks and FFI borders.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The one table of error kinds. Each row: the doc comment, the variant
/// (its CamelCase [`ErrorKind::name`]), the stable upper-snake-case
/// [`ErrorKind::code`], the C number ([`ErrorKind::c_code`]) and whether a
/// retry may succeed ([`ErrorKind::is_transient`]). The enum and every
/// lookup are generated from it, and bindings build their classes, codes and
/// constants from [`ErrorKind::ALL`], so a kind is added by adding a row
/// (see ARCHITECTURE.md, "add an error kind").
///
/// Rules for the table: rows are only ever added; a C number once given is
/// never given to another kind; a retired kind's number moves to
/// [`ErrorKind::RESERVED_C_CODES`]. 0 is success in C, so numbers start at 1.
macro_rules! error_kinds {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident = $code:literal, $c_code:literal, transient: $transient:literal;
    )+) => {
        /// What kind of failure an [`Error`] is. Each bad input of the wire
        /// spec has its own kind, so callers can react to it without parsing
        /// messages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl ErrorKind {
            /// How many kinds there are.
            const COUNT: usize = [$(stringify!($variant)),+].len();

            /// Every kind, in table order; handy for bindings that build one
            /// exception class or constant per kind.
            pub const ALL: [ErrorKind; ErrorKind::COUNT] = [$(ErrorKind::$variant),+];

            /// A stable upper-snake-case name, used as Node's `err.code`, the
            /// Python and MicroPython classes' `code`, the C constants'
            /// `NB_ERR_<CODE>` and in logs.
            pub const fn code(self) -> &'static str {
                match self { $(ErrorKind::$variant => $code,)+ }
            }

            /// The CamelCase name, used for exception class names
            /// (`IntegrityError`, ...).
            pub const fn name(self) -> &'static str {
                match self { $(ErrorKind::$variant => stringify!($variant),)+ }
            }

            /// The number the C ABI returns for this kind. Fixed forever: a
            /// retired kind's number is never given to another.
            pub const fn c_code(self) -> i32 {
                match self { $(ErrorKind::$variant => $c_code,)+ }
            }

            /// True for failures that may succeed when tried again later (the
            /// network, a store, a timeout), false for ones that are a
            /// property of the input (or a bug).
            pub const fn is_transient(self) -> bool {
                match self { $(ErrorKind::$variant => $transient,)+ }
            }

            /// The kind whose [`ErrorKind::code`] is `code` (`"INTEGRITY"`).
            pub fn from_code(code: &str) -> Option<ErrorKind> {
                match code { $($code => Some(ErrorKind::$variant),)+ _ => None }
            }

            /// The kind whose [`ErrorKind::c_code`] is `c_code`.
            pub fn from_c_code(c_code: i32) -> Option<ErrorKind> {
                match c_code { $($c_code => Some(ErrorKind::$variant),)+ _ => None }
            }
        }
    };
}

error_kinds! {
    /// The caller passed an unusable argument: an empty or malformed subject,
    /// an empty dataname, data that does not fit the payload type, a bad option.
    InvalidArgument = "INVALID_ARGUMENT", 1, transient: false;
    /// The caller named a payload type that wire v1 does not define.
    UnknownType = "UNKNOWN_TYPE", 2, transient: false;
    /// A caller's value cannot be serialized (a dictionary that is not JSON,
    /// a table that cannot be written as Arrow IPC).
    Serialization = "SERIALIZATION", 3, transient: false;
    /// A received message is not a wire-v1 envelope (bad JSON, `payloads`
    /// missing or not an array, a required payload field missing).
    MalformedEnvelope = "MALFORMED_ENVELOPE", 4, transient: false;
    /// The envelope's `version` is newer than this implementation reads.
    UnsupportedVersion = "UNSUPPORTED_VERSION", 5, transient: false;
    /// A direct payload's `data` is not valid standard base64.
    InvalidBase64 = "INVALID_BASE64", 6, transient: false;
    /// A payload's bytes do not match its declared `size` or `sha256`.
    Integrity = "INTEGRITY", 7, transient: false;
    /// A `text` payload is not valid UTF-8.
    InvalidUtf8 = "INVALID_UTF8", 8, transient: false;
    /// A `dictionary` payload is not valid JSON.
    InvalidJson = "INVALID_JSON", 9, transient: false;
    /// A `table` payload is not an Arrow IPC stream.
    InvalidTable = "INVALID_TABLE", 10, transient: false;
    /// A payload must travel by link but no claim-check store is available,
    /// or the envelope cannot fit the server's `max_payload` at all.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", 11, transient: false;
    /// The NATS server could not be reached or the connection was lost.
    Connection = "CONNECTION", 12, transient: true;
    /// The NATS server refused the credentials.
    Auth = "AUTH", 13, transient: false;
    /// Publishing to NATS failed.
    Publish = "PUBLISH", 14, transient: true;
    /// A request, download or connect did not finish in time.
    Timeout = "TIMEOUT", 15, transient: true;
    /// A request found no subscriber on its subject.
    NoResponders = "NO_RESPONDERS", 16, transient: true;
    /// A JetStream operation failed (no stream for the subject, ack missing, ...).
    JetStream = "JETSTREAM", 17, transient: true;
    /// A link URL uses a scheme or address the receiver refuses to fetch.
    UrlNotAllowed = "URL_NOT_ALLOWED", 18, transient: false;
    /// Downloading a link payload failed (after retries where they apply).
    Download = "DOWNLOAD", 19, transient: true;
    /// Uploading a link payload to the claim-check store failed.
    Upload = "UPLOAD", 20, transient: true;
    /// A user-supplied handler (upload or download callback) failed.
    Handler = "HANDLER", 21, transient: false;
    /// A local file could not be read or written.
    Io = "IO", 22, transient: true;
    /// The bridge or subscription was closed.
    Closed = "CLOSED", 23, transient: false;
    /// A bug inside natsbridge: a background task panicked, a panic was
    /// caught at a binding's border, an invariant did not hold. Nothing the
    /// caller passed explains it; please report it. (Its C number is the
    /// `NB_ERR_INTERNAL` the C layer has always returned for a caught panic.)
    Internal = "INTERNAL", 1000, transient: false;
}

impl ErrorKind {
    /// C numbers of retired kinds: never given to a kind again. Empty so far.
    pub const RESERVED_C_CODES: &'static [i32] = &[];
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

    /// The error for a background task that did not finish: a panic is a
    /// bug ([`ErrorKind::Internal`], with the panic's message), a
    /// cancellation means the runtime is shutting down ([`ErrorKind::Closed`]).
    #[cfg(feature = "client")]
    pub fn from_join(err: tokio::task::JoinError, task: &str) -> Error {
        if err.is_panic() {
            let panic = err.into_panic();
            let detail = panic_message(panic.as_ref());
            Error::new(
                ErrorKind::Internal,
                format!("{task} panicked (a bug in natsbridge; please report it): {detail}"),
            )
        } else {
            Error::new(ErrorKind::Closed, format!("{task} was cancelled")).with_source(err)
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

/// The text of a caught panic (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no details".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_table_is_unique_and_keeps_its_numbers() {
        let count = ErrorKind::ALL.len();
        let c_codes: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.c_code()).collect();
        let codes: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        let names: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(c_codes.len(), count, "two kinds share a C number");
        assert_eq!(codes.len(), count, "two kinds share a code");
        assert_eq!(names.len(), count, "two kinds share a name");
        for kind in ErrorKind::ALL {
            assert!(kind.c_code() > 0, "{kind:?}: 0 is success in C");
            assert!(
                !ErrorKind::RESERVED_C_CODES.contains(&kind.c_code()),
                "{kind:?} uses the retired C number {}",
                kind.c_code()
            );
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
            assert_eq!(ErrorKind::from_c_code(kind.c_code()), Some(kind));
            let code = kind.code();
            assert!(
                !code.is_empty()
                    && code
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{kind:?}: code {code:?} is not UPPER_SNAKE_CASE"
            );
            assert!(kind.name().starts_with(|c: char| c.is_ascii_uppercase()));
        }
        let reserved: HashSet<_> = ErrorKind::RESERVED_C_CODES.iter().collect();
        assert_eq!(reserved.len(), ErrorKind::RESERVED_C_CODES.len());
        assert_eq!(ErrorKind::from_code("NO_SUCH_KIND"), None);
        assert_eq!(ErrorKind::from_c_code(0), None);
        // Numbers already published in include/natsbridge.h.
        assert_eq!(ErrorKind::InvalidArgument.c_code(), 1);
        assert_eq!(ErrorKind::Integrity.c_code(), 7);
        assert_eq!(ErrorKind::Closed.c_code(), 23);
        assert_eq!(ErrorKind::Internal.c_code(), 1000);
        assert_eq!(ErrorKind::Integrity.name(), "Integrity");
        assert_eq!(ErrorKind::Integrity.code(), "INTEGRITY");
        assert!(ErrorKind::Timeout.is_transient());
        assert!(!ErrorKind::Internal.is_transient());
    }

    #[cfg(feature = "client")]
    #[test]
    fn a_panicked_task_is_internal_and_a_cancelled_one_closed() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let panicked = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
            let err = Error::from_join(panicked, "a test task");
            assert_eq!(err.kind(), ErrorKind::Internal);
            assert!(err.message().contains("boom"), "{}", err.message());

            let pending = tokio::spawn(std::future::pending::<()>());
            pending.abort();
            let cancelled = pending.await.unwrap_err();
            assert_eq!(
                Error::from_join(cancelled, "a test task").kind(),
                ErrorKind::Closed
            );
        });
    }

    #[test]
    fn full_message_walks_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Error::new(ErrorKind::Io, "cannot read payload 'a'").with_source(io);
        assert_eq!(err.full_message(), "cannot read payload 'a': no such file");
        assert_eq!(err.to_string(), "cannot read payload 'a'");
    }
}
