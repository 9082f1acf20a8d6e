//! Link payloads in a browser: which URLs a page fetches, how a download is
//! retried, and how upload URLs are spelled.
//!
//! The rules are the core's (`core/src/store/policy.rs`, `store/mod.rs`
//! `Backoff`, `store/http.rs`), which live in its client layer next to the
//! reqwest resolver; until they move into the sans-I/O layer they are
//! restated here, in Rust, with tests that pin them to the same cases. What a
//! browser cannot do is noted where it applies: it resolves host names and
//! follows redirects itself, so only literal addresses are checked, and only
//! on the first URL (the page's origin rules, CORS, apply to every hop).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use natsbridge::{Error, ErrorKind, PayloadInfo};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use url::Url;

/// Characters kept as they are in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one URL path segment, as the core's HTTP store does.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// The scheme of JetStream Object Store links.
const NATS_OBJECT_SCHEME: &str = "nats-object://";

/// The receive options that decide which links are fetched.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Policy {
    allowed_origins: Vec<String>,
    allow_private_addresses: bool,
    max_download_size: f64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            allowed_origins: Vec::new(),
            allow_private_addresses: true,
            max_download_size: (1u64 << 30) as f64,
        }
    }
}

fn refused(url: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::UrlNotAllowed,
        format!("refusing to fetch {url}: {why}"),
    )
}

/// Checks a link before fetching: the declared size against the cap, the
/// scheme (wire-v1 section 5), credentials, the origin allow-list and
/// literal addresses. Returns `"http"` or `"object"`.
pub fn check(url: &str, info: &PayloadInfo, policy_json: &str) -> Result<&'static str, Error> {
    let policy: Policy = if policy_json.trim().is_empty() {
        Policy::default()
    } else {
        serde_json::from_str(policy_json).map_err(|err| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("bad receive options: {err}"),
            )
        })?
    };
    if (info.size as f64) > policy.max_download_size {
        return Err(Error::new(
            ErrorKind::Download,
            format!(
                "payload '{}' declares {} bytes, over this receiver's max_download_size of {} bytes",
                info.dataname, info.size, policy.max_download_size
            ),
        ));
    }
    if let Some(rest) = url.strip_prefix(NATS_OBJECT_SCHEME) {
        let (bucket, name) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || name.is_empty() {
            return Err(refused(
                url,
                "a nats-object URL must be nats-object://<bucket>/<object>",
            ));
        }
        return Ok("object");
    }
    let parsed =
        Url::parse(url).map_err(|err| refused(url, &format!("it is not a valid URL ({err})")))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(refused(
                url,
                &format!(
                    "scheme '{other}' is not allowed; links must be http, https or nats-object"
                ),
            ));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused(url, "link URLs must not carry credentials"));
    }
    if !policy.allowed_origins.is_empty() {
        let origin = parsed.origin().ascii_serialization();
        let listed = policy.allowed_origins.iter().any(|allowed| {
            Url::parse(allowed)
                .map(|u| u.origin().ascii_serialization() == origin)
                .unwrap_or(false)
        });
        if !listed {
            return Err(refused(
                url,
                &format!("origin {origin} is not in the receiver's allow-list"),
            ));
        }
    }
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(refused(url, "it has no host")),
    };
    if let Some(ip) = literal {
        check_address(ip, policy.allow_private_addresses).map_err(|why| refused(url, &why))?;
    }
    Ok("http")
}

/// The core's address rule: link-local (cloud metadata), unspecified,
/// multicast and broadcast never; loopback and private only when allowed.
fn check_address(ip: IpAddr, allow_private: bool) -> Result<(), String> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let always_refused = match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    };
    if always_refused {
        return Err(format!(
            "address {ip} is link-local, a cloud metadata service or otherwise never a file server"
        ));
    }
    if !allow_private {
        let private = match ip {
            IpAddr::V4(v4) => {
                v4.is_loopback()
                    || v4.is_private()
                    || (v4.octets()[0] == 100 && v4.octets()[1] & 0xc0 == 64)
            }
            IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
        if private {
            return Err(format!(
                "address {ip} is private and this receiver only fetches public addresses"
            ));
        }
    }
    Ok(())
}

/// The core's backoff: `min(max, base * 2^retry)`, uniformly from its upper half.
pub fn backoff_delay(retry: u32, base: f64, max: f64, jitter: f64) -> f64 {
    let factor = 2f64.powi(retry.min(31) as i32);
    let ceiling = (base.max(0.0) * factor).min(max.max(0.0));
    let half = ceiling / 2.0;
    half + half * jitter.clamp(0.0, 1.0)
}

/// 5xx and 429 are retried; other statuses are final.
pub fn retryable_status(status: u16) -> bool {
    (500..600).contains(&status) || status == 429
}

#[cfg(test)]
mod tests {
    use super::*;
    use natsbridge::{PayloadType, Transport};
    use serde_json::Map;

    fn info(size: u64) -> PayloadInfo {
        PayloadInfo {
            id: "id".into(),
            dataname: "f".into(),
            payload_type: PayloadType::Binary,
            transport: Transport::Link,
            size,
            sha256: None,
            metadata: Map::new(),
        }
    }

    fn kind(url: &str, policy: &str) -> Result<&'static str, ErrorKind> {
        check(url, &info(1), policy).map_err(|e| e.kind())
    }

    #[test]
    fn same_cases_as_the_core_policy() {
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/x",
            "gopher://x",
            "not a url",
            "data:,x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/x",
            "http://[::ffff:169.254.169.254]/x",
            "http://0.0.0.0/x",
            "http://[fd00:ec2::254]/x",
            "http://u:p@127.0.0.1:8080/a",
            "nats-object://bucket",
        ] {
            assert_eq!(kind(url, ""), Err(ErrorKind::UrlNotAllowed), "{url}");
        }
        assert_eq!(kind("http://127.0.0.1:8080/a", ""), Ok("http"));
        assert_eq!(kind("nats-object://natsbridge/abc%20d", ""), Ok("object"));
        let strict = r#"{"allowPrivateAddresses":false}"#;
        assert!(kind("http://10.1.2.3/x", strict).is_err());
        assert!(kind("http://127.0.0.1/x", strict).is_err());
        let listed = r#"{"allowedOrigins":["http://127.0.0.1:8080"]}"#;
        assert!(kind("http://127.0.0.1:8080/a/b", listed).is_ok());
        assert!(kind("http://127.0.0.1:8081/a", listed).is_err());
        assert!(kind("https://127.0.0.1:8080/a", listed).is_err());
        let capped = check("http://h/x", &info(100), r#"{"maxDownloadSize":10}"#);
        assert_eq!(capped.unwrap_err().kind(), ErrorKind::Download);
    }

    #[test]
    fn backoff_doubles_within_its_cap() {
        assert_eq!(backoff_delay(0, 100.0, 5000.0, 0.0), 50.0);
        assert_eq!(backoff_delay(0, 100.0, 5000.0, 1.0), 100.0);
        assert_eq!(backoff_delay(3, 100.0, 5000.0, 1.0), 800.0);
        assert_eq!(backoff_delay(40, 100.0, 5000.0, 1.0), 5000.0);
        assert!(retryable_status(503) && retryable_status(429));
        assert!(!retryable_status(404) && !retryable_status(200));
    }
}
