//! Request paths: turning the raw path of a request into a location under the
//! served directory, and back into a canonical URL path.
//!
//! This module is the only place that decides whether a request path is safe.
//! Every segment is percent-decoded on its own and then checked, so an encoded
//! separator (`%2F`) or an encoded dot segment (`%2e%2e`) cannot reach the
//! filesystem as anything but a plain name inside the served directory.

use std::fmt;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Names starting with this are the server's own in-progress uploads. Requests
/// may not name them, so a half-written upload can never be read or deleted.
pub(crate) const TEMP_PREFIX: &str = ".nbupload-";

/// RFC 3986 unreserved characters stay as they are; everything else is
/// percent-encoded, so the URL we hand out decodes back to the same segments.
const SEGMENT_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A validated path below the served directory: one or more decoded segments,
/// none of which can climb out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorePath {
    segments: Vec<String>,
}

/// Why a request path was refused; the text goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError(String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StorePath {
    /// Parses the path part of a request URI (no query), e.g. `/id/my%20file`.
    pub(crate) fn parse(raw: &str) -> Result<StorePath, PathError> {
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(PathError(format!("path {raw:?} does not start with '/'")));
        };
        let segments = rest
            .split('/')
            .map(decode_segment)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StorePath { segments })
    }

    /// The file this path names inside `root`.
    pub(crate) fn to_fs_path(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        path.extend(&self.segments);
        path
    }

    /// The canonical URL path, each segment percent-encoded, starting with `/`.
    pub(crate) fn to_url_path(&self) -> String {
        let mut url = String::new();
        for segment in &self.segments {
            url.push('/');
            url.extend(utf8_percent_encode(segment, SEGMENT_ENCODE_SET));
        }
        url
    }
}

fn decode_segment(raw: &str) -> Result<String, PathError> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| PathError(format!("path segment {raw:?} is not UTF-8 once decoded")))?;
    let refuse = |why: &str| Err(PathError(format!("path segment {raw:?} {why}")));
    if decoded.is_empty() {
        return refuse("is empty");
    }
    if decoded == "." || decoded == ".." {
        return refuse("is a dot segment");
    }
    if decoded.contains(['/', '\\', '\0']) {
        return refuse("contains '/', '\\' or NUL once decoded");
    }
    if decoded.starts_with(TEMP_PREFIX) {
        return refuse("uses the prefix reserved for uploads in progress");
    }
    Ok(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(raw: &str) -> Vec<String> {
        StorePath::parse(raw).expect("valid path").segments
    }

    #[test]
    fn decodes_each_segment() {
        assert_eq!(segments("/abc/my%20file.bin"), ["abc", "my file.bin"]);
        assert_eq!(segments("/a/b/c/d"), ["a", "b", "c", "d"]);
        assert_eq!(segments("/%C3%A9t%C3%A9"), ["été"]);
        assert_eq!(segments("/...x"), ["...x"]);
    }

    #[test]
    fn refuses_everything_that_could_leave_the_root() {
        for raw in [
            "/",
            "//x",
            "/a/",
            "/a//b",
            "/../x",
            "/./x",
            "/a/..",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/%2e/x",
            "/a/%2F..%2Fb",
            "/a%2fb",
            "/a%5cb",
            "/..%5c..%5cx",
            "/a%00b",
            "/%ff",
            "relative",
            "",
            "/.nbupload-1-2.tmp",
        ] {
            assert!(StorePath::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn stays_below_the_root() {
        let root = Path::new("/srv/files");
        let path = StorePath::parse("/id/..x/%2e%2e%2e")
            .unwrap()
            .to_fs_path(root);
        assert_eq!(path, Path::new("/srv/files/id/..x/..."));
        assert!(path.starts_with(root));
    }

    #[test]
    fn url_path_round_trips() {
        for raw in ["/id/my%20file%3F.bin", "/a/b~c_d-e.f", "/%E2%9C%93/%25"] {
            let path = StorePath::parse(raw).unwrap();
            let url = path.to_url_path();
            assert_eq!(StorePath::parse(&url).unwrap(), path, "{raw} -> {url}");
        }
        assert_eq!(
            StorePath::parse("/id/a b+c").unwrap().to_url_path(),
            "/id/a%20b%2Bc"
        );
    }
}
