//! Subject and server-URL rules: which subjects may be published on or
//! subscribed to, and how credentials are kept out of `broker_url`.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Result};

/// Checks a subject to publish on. Subjects are used exactly as given:
/// `/chat/room1` is one valid token. Refused: empty, whitespace or control
/// characters, empty tokens (`a..b`, leading or trailing `.`), wildcards.
///
/// ```
/// use natsbridge::codec::validate_subject;
/// assert!(validate_subject("/chat/room1").is_ok());
/// assert!(validate_subject("sensors.temp").is_ok());
/// assert!(validate_subject("bad subject").is_err());
/// assert!(validate_subject("").is_err());
/// ```
pub fn validate_subject(subject: &str) -> Result<()> {
    validate_subject_for(subject, false)
}

/// Checks a subject to subscribe to: like [`validate_subject`], but the
/// wildcards `*` and `>` are allowed as whole tokens.
pub fn validate_subscribe_subject(subject: &str) -> Result<()> {
    validate_subject_for(subject, true)
}

fn validate_subject_for(subject: &str, wildcards: bool) -> Result<()> {
    let problem = if subject.is_empty() {
        Some("it is empty")
    } else if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains whitespace or control characters")
    } else if subject.split('.').any(str::is_empty) {
        Some("it has an empty token (leading, trailing or doubled '.')")
    } else if subject.split('.').any(|token| {
        let is_wildcard = token == "*" || token == ">";
        (token.contains('*') || token.contains('>')) && !(wildcards && is_wildcard)
    }) {
        Some(if wildcards {
            "'*' and '>' are only allowed as whole tokens"
        } else {
            "wildcards ('*', '>') are not allowed when publishing"
        })
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid subject {subject:?}: {problem}"),
        )),
        None => Ok(()),
    }
}

/// Removes credentials (`user:pass@`, `token@`) from each URL of a
/// comma-separated server list, for the envelope's `broker_url`, log lines
/// and error messages.
///
/// Everything up to the last `@` is taken as credentials, even when it holds
/// a `/`, `?` or `#` (a password typed without percent-encoding): a secret
/// must never be echoed, and NATS URLs have no path that could hold an `@`.
///
/// ```
/// use natsbridge::codec::strip_credentials;
/// assert_eq!(strip_credentials("nats://alice:s3cret@host:4222"), "nats://host:4222");
/// assert_eq!(strip_credentials("tok@host:4222, nats://b:4222"), "host:4222,nats://b:4222");
/// assert_eq!(strip_credentials("nats://alice:pa/ss?#@host"), "nats://host");
/// ```
pub fn strip_credentials(urls: &str) -> Cow<'_, str> {
    // The usual URL has no credentials and nothing to trim: borrowed as is.
    if !urls.contains('@') && !urls.contains(',') && urls.trim().len() == urls.len() {
        return Cow::Borrowed(urls);
    }
    let stripped = urls
        .split(',')
        .map(|url| {
            let url = url.trim();
            let (scheme, rest) = match url.find("://") {
                Some(index) => url.split_at(index + 3),
                None => ("", url),
            };
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}{host}")
        })
        .collect::<Vec<_>>()
        .join(",");
    Cow::Owned(stripped)
}
