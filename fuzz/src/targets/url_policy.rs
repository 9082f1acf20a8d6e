//! The link URL policy (`core/src/store/policy.rs`) through its literal,
//! DNS-free entry point `natsbridge::store::check_link_url`, with an oracle
//! written independently of the core's range tables (the standard library's
//! address predicates): an accepted `http(s)` URL never names a link-local,
//! unspecified, multicast or broadcast address, nor (unless private
//! addresses are allowed) a loopback, private or documentation one; it
//! carries no credentials and its origin is on the allow-list when there is one.
//!
//! Input: the first byte holds flags (bit 0: allow private addresses; bits
//! 1-2: the receiver's own bucket), the rest is UTF-8 (lossy): the URL, then
//! up to four allowed origins, one a line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use natsbridge::ReceiveOptions;
use natsbridge::store::{NATS_OBJECT_SCHEME, check_link_url};

use crate::harness::{Target, shape};
use crate::mutate;

/// The target.
pub fn target() -> Target {
    Target {
        name: "url_policy",
        run,
        bytes_per_input_byte: 64,
        mutate,
        max_len: 4096,
    }
}

fn mutate(rng: &mut fastrand::Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let (flags, body) = input.split_first().map_or((0, &[][..]), |(f, b)| (*f, b));
    let flags = if rng.u8(..8) == 0 { rng.u8(..) } else { flags };
    let text = String::from_utf8_lossy(body);
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    match rng.u8(..6) {
        0 => {
            let mutated = mutate::bytes(rng, body, others, 4096);
            let mut out = vec![flags];
            out.extend_from_slice(&mutated);
            return out;
        }
        1 if lines.len() < 5 => lines.push(mutate::url(rng, &lines[0])),
        2 if lines.len() > 1 => {
            let at = 1 + rng.usize(..lines.len() - 1);
            lines[at] = mutate::url(rng, &lines[at]);
        }
        3 if lines.len() > 1 => {
            // The allow-list names exactly the URL's own origin, or a near miss.
            let first = lines[0].clone();
            lines[1] = first.split('/').take(3).collect::<Vec<_>>().join("/");
        }
        _ => lines[0] = mutate::url(rng, &lines[0]),
    }
    let mut out = vec![flags];
    out.extend_from_slice(lines.join("\n").as_bytes());
    out.truncate(4096);
    out
}

/// Judges one URL; checks every acceptance against the oracle.
pub fn run(input: &[u8]) -> String {
    let Some((flags, body)) = input.split_first() else {
        return "empty".to_owned();
    };
    let text = String::from_utf8_lossy(body);
    let mut lines = text.split('\n');
    let url = lines.next().unwrap_or_default();
    let allow_private = flags & 1 == 1;
    let mut options = ReceiveOptions::new().allow_private_addresses(allow_private);
    let origins: Vec<&str> = lines.take(4).collect();
    for origin in &origins {
        options = options.allowed_origin(*origin);
    }
    let own_bucket = match (flags >> 1) & 3 {
        0 => None,
        1 => Some("natsbridge"),
        2 => Some(""),
        _ => Some("archive"),
    };
    match check_link_url(url, &options, own_bucket) {
        Err(err) => {
            // The URL itself is not behaviour: drop it from the message.
            let message = err.to_string().replace(url, "");
            let parsed = url::Url::parse(url)
                .map(|u| u.to_string())
                .unwrap_or_default();
            let message = if parsed.is_empty() {
                message
            } else {
                message.replace(&parsed, "")
            };
            format!("{}:{}", err.kind().code(), shape(&message))
        }
        Ok(()) => accepted(url, allow_private, &origins, own_bucket),
    }
}

fn accepted(url: &str, allow_private: bool, origins: &[&str], own_bucket: Option<&str>) -> String {
    if let Some(rest) = url.strip_prefix(NATS_OBJECT_SCHEME) {
        let (bucket, name) = rest.split_once('/').unwrap_or((rest, ""));
        assert!(
            !bucket.is_empty() && !name.is_empty(),
            "nats-object URL without bucket or object"
        );
        let listed = origins.iter().any(|o| {
            o.strip_prefix(NATS_OBJECT_SCHEME)
                .is_some_and(|b| b.trim_end_matches('/') == bucket)
        });
        if origins.is_empty() {
            assert_eq!(Some(bucket), own_bucket, "a foreign bucket was accepted");
        } else {
            assert!(listed, "an unlisted bucket was accepted");
        }
        return "ok:nats-object".to_owned();
    }
    let parsed = url::Url::parse(url).expect("an accepted URL parses");
    assert!(
        matches!(parsed.scheme(), "http" | "https"),
        "scheme {} accepted",
        parsed.scheme()
    );
    assert!(
        parsed.username().is_empty() && parsed.password().is_none(),
        "credentials accepted in {url}"
    );
    if !origins.is_empty() {
        let origin = parsed.origin().ascii_serialization();
        let listed = origins.iter().any(|o| {
            url::Url::parse(o).is_ok_and(|allowed| allowed.origin().ascii_serialization() == origin)
        });
        assert!(
            listed,
            "origin {origin} accepted but not listed in {origins:?}"
        );
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return "ok:http:domain".to_owned(),
        None => panic!("a URL without a host was accepted: {url}"),
    };
    if let Some(why) = never(host) {
        panic!("{url} accepted: its address {host} is {why}");
    }
    if !allow_private && let Some(why) = private(host) {
        panic!("{url} accepted in strict mode: its address {host} is {why}");
    }
    format!("ok:http:{}", if host.is_ipv4() { "v4" } else { "v6" })
}

/// The IPv4 address an IPv6 one embeds, by the standard library's reading
/// (mapped) plus the IPv4-compatible form.
fn embedded(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = v6.segments();
    if segments[..6] == [0; 6] && u128::from(v6) > 1 {
        return v6.to_ipv4();
    }
    None
}

fn never(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            if v4.octets()[0] == 0 {
                Some("in 0.0.0.0/8")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_multicast() {
                Some("multicast")
            } else if v4.is_broadcast() {
                Some("broadcast")
            } else if v4 == Ipv4Addr::new(100, 100, 100, 200) {
                Some("a metadata service")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded(v6) {
                return never(IpAddr::V4(v4));
            }
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if v6.is_unicast_link_local() {
                Some("link-local")
            } else {
                None
            }
        }
    }
}

fn private(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_private() {
                Some("private")
            } else if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_documentation() {
                Some("documentation")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded(v6) {
                return private(IpAddr::V4(v4));
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.segments()[0] & 0xfe00 == 0xfc00 {
                Some("unique local")
            } else {
                None
            }
        }
    }
}
