//! Which link URLs a receiver fetches. Link URLs arrive inside messages, so
//! fetching one is a server-side request forgery risk: a message could point
//! a receiver at a cloud metadata service or an internal admin page. The
//! rules here run before every request, on every redirect hop, and (through
//! [`FilteringResolver`]) on every address a host name resolves to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;

/// The scheme of JetStream Object Store links.
pub const NATS_OBJECT_SCHEME: &str = "nats-object://";

/// A link URL that passed the scheme and origin checks.
#[derive(Debug, Clone)]
pub(crate) enum LinkTarget {
    /// An `http` or `https` URL.
    Http(Url),
    /// A JetStream Object Store object.
    NatsObject { bucket: String, name: String },
}

/// Parses a link URL and applies the scheme rule (wire-v1 section 5) and the
/// receiver's origin allow-list. `own_bucket` is the Object Store bucket of
/// the receiving bridge (`ConnectOptions::object_store_bucket`), the one
/// bucket read when the allow-list is empty.
pub(crate) fn check_link(
    url: &str,
    options: &ReceiveOptions,
    own_bucket: Option<&str>,
) -> Result<LinkTarget> {
    if let Some(rest) = url.strip_prefix(NATS_OBJECT_SCHEME) {
        let (bucket, name) = rest.split_once('/').unwrap_or((rest, ""));
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        if bucket.is_empty() || name.is_empty() {
            return Err(refused(
                url,
                "a nats-object URL must be nats-object://<bucket>/<object>",
            ));
        }
        check_bucket(bucket, options, own_bucket).map_err(|why| refused(url, &why))?;
        return Ok(LinkTarget::NatsObject {
            bucket: bucket.to_owned(),
            name: name.into_owned(),
        });
    }
    let parsed =
        Url::parse(url).map_err(|err| refused(url, &format!("it is not a valid URL ({err})")))?;
    check_http_url(&parsed, options)?;
    Ok(LinkTarget::Http(parsed))
}

/// The checks a received link URL gets before any DNS lookup or request:
/// the scheme rule, no credentials, the origin allow-list, the bucket rule
/// for `nats-object` links and the address rules for a literal IP host.
/// The receive path runs the same checks (and then the resolved-address and
/// redirect ones); this entry point exists so that fuzzing (`fuzz/`) and
/// property tests can judge URLs without sockets.
///
/// ```
/// use natsbridge::ReceiveOptions;
/// use natsbridge::store::check_link_url;
/// let options = ReceiveOptions::new();
/// assert!(check_link_url("http://169.254.169.254/latest/meta-data/", &options, None).is_err());
/// assert!(check_link_url("https://files.example.com/a", &options, None).is_ok());
/// ```
pub fn check_link_url(url: &str, options: &ReceiveOptions, own_bucket: Option<&str>) -> Result<()> {
    check_link(url, options, own_bucket).map(|_| ())
}

/// Whether the Object Store bucket `bucket` may be read: one listed in the
/// allow-list as `nats-object://<bucket>` when the list is non-empty (the
/// list names every origin a receiver reads, buckets included), otherwise
/// only the receiving bridge's own bucket.
pub(crate) fn check_bucket(
    bucket: &str,
    options: &ReceiveOptions,
    own_bucket: Option<&str>,
) -> std::result::Result<(), String> {
    if !options.allowed_origins.is_empty() {
        let listed = options.allowed_origins.iter().any(|allowed| {
            allowed
                .strip_prefix(NATS_OBJECT_SCHEME)
                .is_some_and(|listed| listed.trim_end_matches('/') == bucket)
        });
        return if listed {
            Ok(())
        } else {
            Err(format!(
                "bucket {bucket:?} is not in the receiver's allow-list (add \
                 {NATS_OBJECT_SCHEME}{bucket} to read it)"
            ))
        };
    }
    match own_bucket {
        Some(own) if own == bucket => Ok(()),
        Some(own) => Err(format!(
            "bucket {bucket:?} is not this receiver's Object Store bucket {own:?} (list \
             {NATS_OBJECT_SCHEME}{bucket} as an allowed origin to read it)"
        )),
        None => Err(format!(
            "bucket {bucket:?} is not in the receiver's allow-list (add \
             {NATS_OBJECT_SCHEME}{bucket} to read it)"
        )),
    }
}

/// The checks a link gets before it is handed to a custom download handler:
/// `http(s)` and `nats-object` links get every rule of a built-in download
/// (the host resolved and each address checked, since the handler connects
/// by itself); a link with another scheme (the handler's own store) must at
/// least parse, carry no credentials, and match the allow-list when there is one.
pub(crate) async fn check_handler_link(
    url: &str,
    options: &ReceiveOptions,
    own_bucket: Option<&str>,
) -> Result<()> {
    if url.starts_with(NATS_OBJECT_SCHEME) {
        return check_link(url, options, own_bucket).map(|_| ());
    }
    let parsed =
        Url::parse(url).map_err(|err| refused(url, &format!("it is not a valid URL ({err})")))?;
    if matches!(parsed.scheme(), "http" | "https") {
        check_http_url(&parsed, options)?;
        return check_resolved(&parsed, options.allow_private_addresses).await;
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused(url, "link URLs must not carry credentials"));
    }
    if !options.allowed_origins.is_empty() {
        let origin = loose_origin(&parsed);
        let listed = options
            .allowed_origins
            .iter()
            .filter_map(|allowed| Url::parse(allowed).ok())
            .any(|allowed| loose_origin(&allowed) == origin);
        if !listed {
            return Err(refused(
                url,
                &format!("origin {origin} is not in the receiver's allow-list"),
            ));
        }
    }
    Ok(())
}

/// `scheme://host[:port]` for any scheme (`Url::origin` is opaque for
/// schemes the URL standard does not know, such as a handler's `memory://`).
fn loose_origin(url: &Url) -> String {
    let mut origin = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        origin.push_str(&format!(":{port}"));
    }
    origin
}

/// Resolves `url`'s host here and refuses it unless every address passes
/// [`check_address`]: for requests whose connection this process does not
/// make itself (through a proxy, by a custom handler), so a host name cannot
/// smuggle a refused address past the rules.
pub(crate) async fn check_resolved(url: &Url, allow_private: bool) -> Result<()> {
    let Some(url::Host::Domain(host)) = url.host() else {
        // Literal addresses were checked by check_http_url.
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| {
            refused(
                url.as_str(),
                &format!("its host {host} does not resolve here, so it cannot be checked ({err})"),
            )
        })?
        .collect();
    if resolved.is_empty() {
        return Err(refused(url.as_str(), "its host resolved to no address"));
    }
    for addr in resolved {
        check_address(addr.ip(), allow_private).map_err(|why| refused(url.as_str(), &why))?;
    }
    Ok(())
}

/// The scheme, origin and literal-address checks for one HTTP request
/// (the first, or a redirect target).
pub(crate) fn check_http_url(url: &Url, options: &ReceiveOptions) -> Result<()> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(refused(
                url.as_str(),
                &format!(
                    "scheme '{other}' is not allowed; links must be http, https or nats-object"
                ),
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(
            url.as_str(),
            "link URLs must not carry credentials",
        ));
    }
    if !options.allowed_origins.is_empty() {
        let origin = url.origin().ascii_serialization();
        let listed = options
            .allowed_origins
            .iter()
            .any(|allowed| normalize_origin(allowed).as_deref() == Some(origin.as_str()));
        if !listed {
            return Err(refused(
                url.as_str(),
                &format!("origin {origin} is not in the receiver's allow-list"),
            ));
        }
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(refused(url.as_str(), "it has no host")),
    };
    if let Some(ip) = literal {
        check_address(ip, options.allow_private_addresses)
            .map_err(|why| refused(url.as_str(), &why))?;
    }
    Ok(())
}

/// `scheme://host[:port]` with the default port dropped, as `Url::origin` writes it.
fn normalize_origin(origin: &str) -> Option<String> {
    Url::parse(origin)
        .ok()
        .map(|url| url.origin().ascii_serialization())
}

fn refused(url: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::UrlNotAllowed,
        format!("refusing to fetch {url}: {why}"),
    )
}

/// Why an address is refused: `Never` whatever the options, `Private` only
/// when the receiver fetches public addresses alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressClass {
    Never,
    Private,
}

/// IPv4 ranges no link is fetched from (IANA IPv4 Special-Purpose Address
/// Registry), with the class and a name for the error message.
const IPV4_RANGES: &[([u8; 4], u8, AddressClass, &str)] = &[
    (
        [0, 0, 0, 0],
        8,
        AddressClass::Never,
        "\"this network\" (0.0.0.0/8)",
    ),
    ([169, 254, 0, 0], 16, AddressClass::Never, "link-local"),
    ([224, 0, 0, 0], 4, AddressClass::Never, "multicast"),
    ([255, 255, 255, 255], 32, AddressClass::Never, "broadcast"),
    (
        [100, 100, 100, 200],
        32,
        AddressClass::Never,
        "a cloud metadata service",
    ),
    ([10, 0, 0, 0], 8, AddressClass::Private, "private"),
    ([172, 16, 0, 0], 12, AddressClass::Private, "private"),
    ([192, 168, 0, 0], 16, AddressClass::Private, "private"),
    ([127, 0, 0, 0], 8, AddressClass::Private, "loopback"),
    (
        [100, 64, 0, 0],
        10,
        AddressClass::Private,
        "shared address space (CGNAT)",
    ),
    (
        [192, 0, 0, 0],
        24,
        AddressClass::Private,
        "IETF protocol assignments",
    ),
    ([192, 0, 2, 0], 24, AddressClass::Private, "documentation"),
    (
        [198, 51, 100, 0],
        24,
        AddressClass::Private,
        "documentation",
    ),
    ([203, 0, 113, 0], 24, AddressClass::Private, "documentation"),
    (
        [192, 88, 99, 0],
        24,
        AddressClass::Private,
        "6to4 relay anycast",
    ),
    ([198, 18, 0, 0], 15, AddressClass::Private, "benchmarking"),
    ([240, 0, 0, 0], 4, AddressClass::Private, "reserved"),
];

/// IPv6 ranges no link is fetched from (IANA IPv6 Special-Purpose Address
/// Registry). Ranges that embed an IPv4 address are not here: the embedded
/// address is checked instead (see [`embedded_ipv4`]).
const IPV6_RANGES: &[(u128, u8, AddressClass, &str)] = &[
    (0, 128, AddressClass::Never, "unspecified"),
    (0xfe80 << 112, 10, AddressClass::Never, "link-local"),
    (0xff00 << 112, 8, AddressClass::Never, "multicast"),
    (
        0xfd00_0ec2_0000_0000_0000_0000_0000_0254,
        128,
        AddressClass::Never,
        "a cloud metadata service",
    ),
    (1, 128, AddressClass::Private, "loopback"),
    (
        0xfc00 << 112,
        7,
        AddressClass::Private,
        "unique local (private)",
    ),
    (
        0xfec0 << 112,
        10,
        AddressClass::Private,
        "site-local (deprecated)",
    ),
    (0x0100 << 112, 64, AddressClass::Private, "discard-only"),
    (
        0x0064_ff9b_0001 << 80,
        48,
        AddressClass::Private,
        "local-use NAT64",
    ),
    (
        0x2001 << 112,
        23,
        AddressClass::Private,
        "IETF protocol assignments",
    ),
    (
        0x2001_0db8 << 96,
        32,
        AddressClass::Private,
        "documentation",
    ),
    (0x3fff << 112, 20, AddressClass::Private, "documentation"),
    (
        0x5f00 << 112,
        16,
        AddressClass::Private,
        "segment routing (SRv6)",
    ),
];

/// The IPv4 address an IPv6 address stands for when it embeds one:
/// IPv4-mapped `::ffff:0:0/96`, SIIT IPv4-translated `::ffff:0:0:0/96`,
/// IPv4-compatible `::/96` (apart from `::` and `::1`), well-known NAT64
/// `64:ff9b::/96` and 6to4 `2002::/16`. A receiver behind a NAT64 gateway or
/// a 6to4 relay reaches that IPv4 address, so it gets the IPv4 rules.
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(v6);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let top96 = bits >> 32;
    match top96 {
        0xffff | 0xffff_0000 | 0x0064_ff9b_0000_0000_0000_0000 => Some(low32),
        0 if bits > 1 => Some(low32),
        _ if bits >> 112 == 0x2002 => Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32)),
        _ => None,
    }
}

fn classify(ip: IpAddr) -> Option<(AddressClass, &'static str)> {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            IPV4_RANGES.iter().find_map(|(net, len, class, name)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                (bits & mask == u32::from_be_bytes(*net) & mask).then_some((*class, *name))
            })
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return classify(IpAddr::V4(v4));
            }
            let bits = u128::from(v6);
            IPV6_RANGES.iter().find_map(|(net, len, class, name)| {
                let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                (bits & mask == net & mask).then_some((*class, *name))
            })
        }
    }
}

/// Refuses addresses no link may point at: link-local (which includes the
/// 169.254.169.254 cloud metadata service), `0.0.0.0/8`, unspecified,
/// multicast, broadcast, the cloud metadata addresses; and, unless
/// `allow_private`, loopback, private and every other special-use range of
/// the IANA registries. An IPv6 address that embeds an IPv4 address
/// (mapped, translated, compatible, NAT64, 6to4) is judged by the IPv4 one.
pub(crate) fn check_address(ip: IpAddr, allow_private: bool) -> std::result::Result<(), String> {
    match classify(ip) {
        Some((AddressClass::Never, name)) => {
            Err(format!("address {ip} is {name}: never a file server"))
        }
        Some((AddressClass::Private, name)) if !allow_private => Err(format!(
            "address {ip} is {name} and this receiver only fetches public addresses"
        )),
        _ => Ok(()),
    }
}

/// A DNS resolver for reqwest that drops refused addresses, so a host name
/// that resolves to 169.254.169.254 is refused like the literal address.
#[derive(Debug, Clone)]
pub(crate) struct FilteringResolver {
    pub(crate) allow_private: bool,
}

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| check_address(addr.ip(), allow_private).is_ok())
                .collect();
            if allowed.is_empty() {
                let reason = resolved
                    .first()
                    .and_then(|addr| check_address(addr.ip(), allow_private).err())
                    .unwrap_or_else(|| "it resolved to no address".to_owned());
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("refusing to connect to {host}: {reason}"),
                ))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A shared resolver handle, as reqwest wants it.
pub(crate) fn resolver(allow_private: bool) -> Arc<FilteringResolver> {
    Arc::new(FilteringResolver { allow_private })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_other_than_http_and_nats_object_are_refused() {
        let options = ReceiveOptions::new();
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/x",
            "gopher://x",
            "not a url",
            "data:,x",
        ] {
            let err = check_link(url, &options, None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UrlNotAllowed, "{url}");
        }
        assert!(matches!(
            check_link("http://127.0.0.1:8080/a", &options, None),
            Ok(LinkTarget::Http(_))
        ));
        match check_link(
            "nats-object://natsbridge/abc%20d",
            &options,
            Some("natsbridge"),
        )
        .unwrap()
        {
            LinkTarget::NatsObject { bucket, name } => {
                assert_eq!((bucket.as_str(), name.as_str()), ("natsbridge", "abc d"))
            }
            other => panic!("{other:?}"),
        }
        assert!(check_link("nats-object://bucket", &options, None).is_err());
    }

    #[test]
    fn metadata_and_link_local_addresses_are_refused() {
        let options = ReceiveOptions::new();
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/x",
            "http://[::ffff:169.254.169.254]/x",
            "http://0.0.0.0/x",
            "http://[fd00:ec2::254]/x",
        ] {
            let err = check_link(url, &options, None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UrlNotAllowed, "{url}");
        }
        let strict = ReceiveOptions::new().allow_private_addresses(false);
        assert!(check_link("http://10.1.2.3/x", &strict, None).is_err());
        assert!(check_link("http://127.0.0.1/x", &strict, None).is_err());
        assert!(check_link("http://10.1.2.3/x", &options, None).is_ok());
    }

    fn refused(address: &str, allow_private: bool) -> bool {
        check_address(address.parse().unwrap(), allow_private).is_err()
    }

    #[test]
    fn never_refused_ranges_are_refused_in_both_modes() {
        for address in [
            "0.0.0.0",
            "0.1.2.3",
            "169.254.169.254",
            "169.254.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "100.100.100.200",
            "::",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "fd00:ec2::254",
            // IPv4 metadata and link-local behind every IPv6 embedding
            "::ffff:169.254.169.254",
            "::ffff:0:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "2002:a9fe:a9fe::1",
            "::ffff:0.0.0.0",
        ] {
            assert!(refused(address, true), "{address} allowed by default");
            assert!(refused(address, false), "{address} allowed in strict mode");
        }
    }

    #[test]
    fn strict_mode_refuses_every_special_use_range() {
        for address in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "127.255.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "feff::1",
            "100::1",
            "64:ff9b:1::a00:1",
            "2001::1",
            "2001:1ff::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            // private IPv4 behind every IPv6 embedding
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:0:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
        ] {
            assert!(!refused(address, true), "{address} refused by default");
            assert!(refused(address, false), "{address} allowed in strict mode");
        }
    }

    #[test]
    fn public_addresses_pass_in_strict_mode() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450::1",
            "2001:200::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!refused(address, false), "{address} refused in strict mode");
        }
    }

    #[test]
    fn allow_list_is_exact_on_origin() {
        let options = ReceiveOptions::new().allowed_origin("http://127.0.0.1:8080");
        assert!(check_link("http://127.0.0.1:8080/a/b", &options, None).is_ok());
        assert!(check_link("http://127.0.0.1:8081/a", &options, None).is_err());
        assert!(check_link("https://127.0.0.1:8080/a", &options, None).is_err());
        let default_port = ReceiveOptions::new().allowed_origin("https://files.example.com:443/");
        assert!(check_link("https://files.example.com/x", &default_port, None).is_ok());
        assert!(check_link("http://u:p@127.0.0.1:8080/a", &options, None).is_err());
    }

    #[test]
    fn object_store_links_read_only_the_own_bucket_or_listed_ones() {
        let options = ReceiveOptions::new();
        assert!(check_link("nats-object://natsbridge/x", &options, Some("natsbridge")).is_ok());
        for (url, own) in [
            ("nats-object://KV_secrets/x", Some("natsbridge")),
            ("nats-object://natsbridge/x", Some("big-files")),
            ("nats-object://natsbridge/x", None),
        ] {
            let err = check_link(url, &options, own).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UrlNotAllowed, "{url}");
            assert!(err.message().contains("bucket"), "{err}");
        }
        // A non-empty allow-list names buckets too, the own one included.
        let listed = ReceiveOptions::new()
            .allowed_origin("http://127.0.0.1:8080")
            .allowed_origin("nats-object://archive");
        assert!(check_link("nats-object://archive/x", &listed, Some("natsbridge")).is_ok());
        assert!(check_link("nats-object://natsbridge/x", &listed, Some("natsbridge")).is_err());
        let http_only = ReceiveOptions::new().allowed_origin("http://127.0.0.1:8080");
        assert!(check_link("nats-object://natsbridge/x", &http_only, Some("natsbridge")).is_err());
    }
}
