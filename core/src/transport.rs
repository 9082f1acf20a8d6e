//! The transport rule of wire-v1 section 5: which payloads travel `direct`
//! (base64 inside the envelope) and which by `link` (claim-check).
//!
//! Pure arithmetic over sizes, so the rule is tested exhaustively without a
//! server and every binding gets the same answer.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};

/// How one payload travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Base64 inside the envelope (`encoding: "base64"`).
    Direct,
    /// In a claim-check store; the envelope carries its URL (`encoding: "url"`).
    Link,
}

impl Transport {
    /// The wire spelling of the transport.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Direct => "direct",
            Transport::Link => "link",
        }
    }

    /// The wire `encoding` that goes with the transport.
    pub fn encoding(self) -> &'static str {
        match self {
            Transport::Direct => "base64",
            Transport::Link => "url",
        }
    }
}

impl FromStr for Transport {
    type Err = Error;

    fn from_str(name: &str) -> Result<Transport> {
        match name {
            "direct" => Ok(Transport::Direct),
            "link" => Ok(Transport::Link),
            other => Err(Error::new(
                ErrorKind::MalformedEnvelope,
                format!("unknown transport '{other}'; wire v1 knows direct and link"),
            )),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so width and alignment flags work in tables of payloads.
        f.pad(self.as_str())
    }
}

pub use crate::encoding::base64_len;

/// What the transport rule needs to know about one payload.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    /// Serialized size in bytes.
    pub size: usize,
    /// Bytes the payload's JSON object takes in the envelope apart from `data`.
    pub overhead: usize,
    /// Bytes its `data` takes if it travels by link (the URL, JSON-escaped).
    pub link_data_len: usize,
}

/// The limits a message must respect.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Payloads at or above this size go by link.
    pub size_threshold: usize,
    /// The server's `max_payload`: the whole message (headers and envelope) must fit.
    pub max_payload: usize,
    /// Bytes of the NATS message besides the payload objects: headers and the
    /// envelope's fields.
    pub fixed_overhead: usize,
}

/// Applies wire-v1 section 5 to a message: each payload at or above the
/// threshold goes by link; then, while the message would exceed
/// `max_payload`, the largest direct payload moves to link.
///
/// Returns the transport of each payload and the resulting message length.
/// Fails with [`ErrorKind::PayloadTooLarge`] when even all-link does not fit
/// (only the envelope's own fields are left to blame).
///
/// ```
/// use natsbridge::transport::{choose_transports, Limits, Sizing, Transport};
/// let limits = Limits { size_threshold: 1_000_000, max_payload: 1_048_576, fixed_overhead: 600 };
/// let sizing = |size| Sizing { size, overhead: 200, link_data_len: 100 };
/// // 900 kB is under the threshold, but its base64 (1.2 MB) does not fit 1 MiB.
/// let (choice, _) = choose_transports(&[sizing(900_000), sizing(10)], limits).unwrap();
/// assert_eq!(choice, [Transport::Link, Transport::Direct]);
/// ```
pub fn choose_transports(payloads: &[Sizing], limits: Limits) -> Result<(Vec<Transport>, usize)> {
    let direct_len = |p: &Sizing| p.overhead + base64_len(p.size);
    let link_len = |p: &Sizing| p.overhead + p.link_data_len;
    let mut transports: Vec<Transport> = payloads
        .iter()
        .map(|p| {
            if p.size >= limits.size_threshold {
                Transport::Link
            } else {
                Transport::Direct
            }
        })
        .collect();
    let mut total = limits.fixed_overhead
        + payloads
            .iter()
            .zip(&transports)
            .map(|(p, t)| match t {
                Transport::Direct => direct_len(p),
                Transport::Link => link_len(p),
            })
            .sum::<usize>();
    while total > limits.max_payload {
        let largest = payloads
            .iter()
            .enumerate()
            .filter(|(index, _)| transports[*index] == Transport::Direct)
            .max_by_key(|(index, p)| (p.size, std::cmp::Reverse(*index)));
        let Some((index, payload)) = largest else {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "the envelope is {total} bytes even with every payload sent by link; the \
                     server's max_payload is {} bytes (shorten the metadata or datanames)",
                    limits.max_payload
                ),
            ));
        };
        transports[index] = Transport::Link;
        total = total - direct_len(payload) + link_len(payload);
    }
    Ok((transports, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizing(size: usize) -> Sizing {
        Sizing {
            size,
            overhead: 150,
            link_data_len: 80,
        }
    }

    const LIMITS: Limits = Limits {
        size_threshold: 1000,
        max_payload: 4000,
        fixed_overhead: 500,
    };

    #[test]
    fn threshold_is_inclusive() {
        let (choice, _) = choose_transports(&[sizing(999), sizing(1000)], LIMITS).unwrap();
        assert_eq!(choice, [Transport::Direct, Transport::Link]);
    }

    #[test]
    fn largest_direct_moves_first_until_it_fits() {
        // 500 + 3 * (150 + 1200) = 4550 > 4000: moving the first 900 (earliest of
        // the largest) gives 500 + 230 + 2 * 1350 = 3430.
        let (choice, total) =
            choose_transports(&[sizing(900), sizing(900), sizing(900)], LIMITS).unwrap();
        assert_eq!(
            choice,
            [Transport::Link, Transport::Direct, Transport::Direct]
        );
        assert_eq!(total, 3430);
        let (choice, _) =
            choose_transports(&[sizing(10), sizing(950), sizing(900), sizing(940)], LIMITS)
                .unwrap();
        assert_eq!(
            choice,
            [
                Transport::Direct,
                Transport::Link,
                Transport::Direct,
                Transport::Direct
            ]
        );
    }

    #[test]
    fn total_matches_the_sum() {
        let payloads = [sizing(0), sizing(1), sizing(2), sizing(3), sizing(5000)];
        let (choice, total) = choose_transports(&payloads, LIMITS).unwrap();
        let expected: usize = 500
            + payloads
                .iter()
                .zip(&choice)
                .map(|(p, t)| match t {
                    Transport::Direct => p.overhead + base64_len(p.size),
                    Transport::Link => p.overhead + p.link_data_len,
                })
                .sum::<usize>();
        assert_eq!(total, expected);
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
    }

    #[test]
    fn oversized_skeleton_is_payload_too_large() {
        let limits = Limits {
            fixed_overhead: 5000,
            ..LIMITS
        };
        let err = choose_transports(&[sizing(1)], limits).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
    }
}
