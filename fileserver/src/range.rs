//! The `Range` request header (RFC 9110 section 14), reduced to what a
//! download client needs: one byte range. Anything else is ignored and the
//! whole file is sent, which the RFC allows.

/// What to send for a file of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// No usable range: send the whole file with 200.
    Full,
    /// Send bytes `start..=end` with 206.
    Partial { start: u64, end: u64 },
    /// The range starts past the end of the file: answer 416.
    Unsatisfiable,
}

/// Interprets a `Range` header value for a file of `len` bytes.
pub(crate) fn parse(header: &str, len: u64) -> RangeRequest {
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => match last.parse::<u64>() {
            Ok(0) => RangeRequest::Unsatisfiable,
            Ok(_) if len == 0 => RangeRequest::Unsatisfiable,
            Ok(suffix) => RangeRequest::Partial {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
            Err(_) => RangeRequest::Full,
        },
        // `N-` or `N-M`.
        (false, _) => {
            let Ok(start) = first.parse::<u64>() else {
                return RangeRequest::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match last.parse::<u64>() {
                    Ok(end) if end >= start => end,
                    _ => return RangeRequest::Full,
                }
            };
            if start >= len {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
        (true, true) => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::{Full, Partial, Unsatisfiable};
    use super::*;

    #[test]
    fn single_ranges() {
        assert_eq!(parse("bytes=0-9", 100), Partial { start: 0, end: 9 });
        assert_eq!(parse("bytes=90-", 100), Partial { start: 90, end: 99 });
        assert_eq!(parse("bytes=90-1000", 100), Partial { start: 90, end: 99 });
        assert_eq!(parse("bytes=-10", 100), Partial { start: 90, end: 99 });
        assert_eq!(parse("bytes=-1000", 100), Partial { start: 0, end: 99 });
        assert_eq!(parse("Bytes = 5 - 5", 100), Partial { start: 5, end: 5 });
    }

    #[test]
    fn past_the_end_is_unsatisfiable() {
        assert_eq!(parse("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse("bytes=-5", 0), Unsatisfiable);
    }

    #[test]
    fn anything_else_means_the_whole_file() {
        for header in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "bytes",
            "",
        ] {
            assert_eq!(parse(header, 100), Full, "{header:?}");
        }
    }
}
