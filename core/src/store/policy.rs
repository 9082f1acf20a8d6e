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

/// Refuses addresses no link may point at: link-local (which includes the
/// 169.254.169.254 cloud metadata service), unspecified, multicast, the
/// IPv6 metadata addresses; and, unless `allow_private`, loopback and
/// private ranges.
pub(crate) fn check_address(ip: IpAddr, allow_private: bool) -> std::result::Result<(), String> {
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
