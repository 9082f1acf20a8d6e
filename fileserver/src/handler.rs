//! The HTTP side of the file server: one handler that authorises, resolves the
//! path, runs PUT / GET / HEAD / DELETE against the disk, and logs one line per
//! request.
//!
//! Bodies stream in both directions: an upload goes chunk by chunk into a
//! temporary file beside its target and is renamed into place only once
//! complete, and a download is read from disk as the client consumes it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use crate::cleanup::is_expired;
use crate::path::{StorePath, TEMP_PREFIX};
use crate::range::{self, RangeRequest};

/// Uploads are written through a buffer this big, so disk writes are few and
/// large whatever chunk sizes the client sends.
const WRITE_BUFFER: usize = 256 * 1024;
/// Downloads are read from disk in chunks this big.
const READ_CHUNK: usize = 128 * 1024;
/// A DELETE or a clean-up sweep can remove a directory between an upload
/// creating it and creating its temporary file in it; retrying is enough.
const CREATE_ATTEMPTS: usize = 3;
const ALLOWED_METHODS: &str = "GET, HEAD, PUT, DELETE";

/// Settings every request needs, shared by all connections.
pub(crate) struct ServerState {
    /// The served directory, canonicalized.
    pub(crate) root: PathBuf,
    pub(crate) token: Option<String>,
    pub(crate) max_upload: Option<u64>,
    pub(crate) allow_overwrite: bool,
    pub(crate) ttl: Option<Duration>,
    /// Used for the download URL when a request carries no usable `Host`.
    pub(crate) base_url: String,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("root", &self.root)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_upload", &self.max_upload)
            .field("allow_overwrite", &self.allow_overwrite)
            .field("ttl", &self.ttl)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// A finished request: the response and the body bytes it moved, for the log.
struct Outcome {
    response: Response,
    bytes: u64,
}

/// A refused or failed request.
struct Reject {
    status: StatusCode,
    message: String,
}

impl Reject {
    fn new(status: StatusCode, message: impl Into<String>) -> Reject {
        Reject {
            status,
            message: message.into(),
        }
    }

    fn into_response(self, bytes: u64) -> Outcome {
        let mut response = text_response(self.status, format!("{}\n", self.message));
        let headers = response.headers_mut();
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"natsbridge\""),
                );
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            }
            // The rest of the body stays unread; say so rather than leave the
            // client guessing whether the connection can be reused.
            StatusCode::PAYLOAD_TOO_LARGE => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        Outcome { response, bytes }
    }
}

/// Axum fallback handler: every method and path comes through here, so the
/// raw path reaches [`StorePath::parse`] untouched by any router matching.
pub(crate) async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let raw_path = request.uri().path().to_owned();
    let (outcome, error) = match dispatch(&state, request).await {
        Ok(outcome) => (outcome, None),
        Err((reject, bytes)) => {
            let message = reject.message.clone();
            (reject.into_response(bytes), Some(message))
        }
    };
    let status = outcome.response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let ms = (ms * 10.0).round() / 10.0;
    // The path is a read capability (anyone who knows it can download the
    // payload), so it stays out of the INFO log; DEBUG adds it on its own line.
    match error {
        Some(error) if status >= 500 => {
            tracing::warn!(%method, status, bytes = outcome.bytes, ms, %error, "request failed")
        }
        Some(error) => {
            tracing::info!(%method, status, bytes = outcome.bytes, ms, %error, "request refused")
        }
        None => {
            tracing::info!(%method, status, bytes = outcome.bytes, ms, "request")
        }
    }
    tracing::debug!(%method, path = %raw_path, status, "request path");
    outcome.response
}

async fn dispatch(state: &ServerState, request: Request) -> Result<Outcome, (Reject, u64)> {
    let method = request.method().clone();
    let writes = method == Method::PUT || method == Method::DELETE;
    if !writes && method != Method::GET && method != Method::HEAD {
        return Err((
            Reject::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("method {method} is not supported; use {ALLOWED_METHODS}"),
            ),
            0,
        ));
    }
    if writes && let Err(reject) = authorize(state, request.headers()) {
        drain_refused_body(request.into_body()).await;
        return Err((reject, 0));
    }
    let path = StorePath::parse(request.uri().path())
        .map_err(|err| (Reject::new(StatusCode::BAD_REQUEST, err.to_string()), 0))?;
    match method {
        Method::PUT => put(state, &path, request).await,
        Method::DELETE => delete(state, &path).await.map_err(|reject| (reject, 0)),
        _ => get_or_head(state, &path, &method, request.headers())
            .await
            .map_err(|reject| (reject, 0)),
    }
}

/// PUT and DELETE need the bearer token when one is configured; GET and HEAD
/// never do, because receivers fetch links with a plain GET.
fn authorize(state: &ServerState, headers: &HeaderMap) -> Result<(), Reject> {
    let Some(expected) = &state.token else {
        return Ok(());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(Reject::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid",
        )),
        None => Err(Reject::new(
            StatusCode::UNAUTHORIZED,
            "this server needs 'Authorization: Bearer <token>' for PUT and DELETE",
        )),
    }
}

/// The most of a refused request's body the server reads and throws away.
const DRAIN_LIMIT: u64 = 64 << 20;
/// How long it keeps reading a refused request's body.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads and discards what is left of a refused request's body (at most
/// [`DRAIN_LIMIT`] bytes within [`DRAIN_TIME`]), so that the client, still
/// sending it, reads the refusal (401, 413) rather than a reset connection:
/// closing a socket with unread data in it resets the connection, and the
/// client reports "broken pipe" instead of the status. A bigger or slower
/// body is cut off and the connection closed, as before.
async fn drain_refused_body(body: Body) {
    let mut chunks = body.into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut drained = 0u64;
        while let Some(Ok(chunk)) = chunks.next().await {
            drained += chunk.len() as u64;
            if drained > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

/// Compares without an early exit, so response timing does not reveal how
/// much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn put(
    state: &ServerState,
    path: &StorePath,
    request: Request,
) -> Result<Outcome, (Reject, u64)> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let (Some(max), Some(declared)) = (state.max_upload, declared)
        && declared > max
    {
        // Refused before storing a byte of the body.
        drain_refused_body(request.into_body()).await;
        return Err((too_large(max, format!("declares {declared} bytes")), 0));
    }
    let location = download_url(state, request.headers(), path);
    let target = path.to_fs_path(&state.root);
    let occupied = tokio::fs::symlink_metadata(&target)
        .await
        .is_ok_and(|meta| !meta.is_dir());
    if !state.allow_overwrite && occupied {
        // Refused before reading a byte of the body.
        return Err((already_exists(), 0));
    }
    let parent = target
        .parent()
        .expect("a store path has at least one segment")
        .to_path_buf();

    let (temp, file) = create_temp(&parent).await.map_err(|err| (err, 0))?;
    let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut body = request.into_body().into_data_stream();
    let mut received: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| {
            (
                Reject::new(
                    StatusCode::BAD_REQUEST,
                    format!("the upload body broke off after {received} bytes: {err}"),
                ),
                received,
            )
        })?;
        received += chunk.len() as u64;
        if let Some(max) = state.max_upload
            && received > max
        {
            // `temp` is dropped on return, deleting the partial file.
            return Err((
                too_large(max, format!("sent more than {max} bytes")),
                received,
            ));
        }
        writer
            .write_all(&chunk)
            .await
            .map_err(|err| (io_reject("write the upload", &err), received))?;
    }
    // Flushing waits for tokio's background write to finish, so the file is
    // complete on disk before it becomes visible under its real name.
    writer
        .flush()
        .await
        .map_err(|err| (io_reject("write the upload", &err), received))?;
    drop(writer);
    let persisted = if state.allow_overwrite {
        temp.persist(&target).await
    } else {
        temp.persist_new(&target).await
    };
    persisted.map_err(|err| {
        let reject = match err.kind() {
            ErrorKind::AlreadyExists if !state.allow_overwrite && !target.is_dir() => {
                already_exists()
            }
            ErrorKind::IsADirectory | ErrorKind::DirectoryNotEmpty | ErrorKind::AlreadyExists => {
                Reject::new(
                    StatusCode::CONFLICT,
                    "a directory already exists at this path",
                )
            }
            _ => io_reject("store the upload", &err),
        };
        (reject, received)
    })?;

    // The body is the URL and nothing else, so a client can use it as is.
    let mut response = text_response(StatusCode::CREATED, location.clone());
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(Outcome {
        response,
        bytes: received,
    })
}

fn already_exists() -> Reject {
    Reject::new(
        StatusCode::CONFLICT,
        "a file already exists at this path and this server does not overwrite \
         (--allow-overwrite); upload under a new path",
    )
}

fn too_large(max: u64, what: String) -> Reject {
    Reject::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the upload {what}; this server accepts at most {max} bytes (--max-upload)"),
    )
}

/// The absolute download URL for `path`, built from the `Host` the client
/// used: that is the address it could reach us at, unlike our bind address
/// (which may be 0.0.0.0).
fn download_url(state: &ServerState, headers: &HeaderMap, path: &StorePath) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| is_plain_authority(host));
    match host {
        Some(host) => format!("http://{host}{}", path.to_url_path()),
        None => format!("{}{}", state.base_url, path.to_url_path()),
    }
}

fn is_plain_authority(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// A temporary upload file that deletes itself unless persisted. Dropping it
/// is what cleans up after a refused, failed or abandoned upload, including
/// when hyper drops the handler because the client went away.
struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    /// Moves the file to `target`, failing with `AlreadyExists` if anything
    /// is there: a hard link is created (which never replaces) and the
    /// temporary name removed, so two uploads racing to one path cannot both
    /// succeed and neither replaces the other.
    async fn persist_new(mut self, target: &Path) -> std::io::Result<()> {
        let path = self.path.take().expect("not yet persisted");
        let result = tokio::fs::hard_link(&path, target).await;
        // Linked or not, the temporary name goes.
        let _ = tokio::fs::remove_file(&path).await;
        result
    }

    async fn persist(mut self, target: &Path) -> std::io::Result<()> {
        let path = self.path.take().expect("not yet persisted");
        let result = tokio::fs::rename(&path, target).await;
        if result.is_err() {
            self.path = Some(path);
        }
        result
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn create_temp(dir: &Path) -> Result<(TempFile, tokio::fs::File), Reject> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_err = None;
    for _ in 0..CREATE_ATTEMPTS {
        if let Err(err) = tokio::fs::create_dir_all(dir).await {
            return Err(match err.kind() {
                ErrorKind::NotADirectory | ErrorKind::AlreadyExists => Reject::new(
                    StatusCode::CONFLICT,
                    "a file already exists where this path needs a directory",
                ),
                _ => io_reject("create the upload directory", &err),
            });
        }
        // Unique per process and upload: two uploads to one path never share
        // a temporary file, so the last rename wins whole.
        let name = format!(
            "{TEMP_PREFIX}{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
        {
            Ok(file) => return Ok((TempFile { path: Some(path) }, file)),
            Err(err) if err.kind() == ErrorKind::NotFound => last_err = Some(err),
            Err(err) => return Err(io_reject("create the upload file", &err)),
        }
    }
    let err = last_err.expect("at least one attempt failed");
    Err(io_reject("create the upload file", &err))
}

async fn get_or_head(
    state: &ServerState,
    path: &StorePath,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Outcome, Reject> {
    let target = path.to_fs_path(&state.root);
    let (mut file, len) = open_stored(state, &target).await?;

    // Without validators we cannot tell whether an `If-Range` still matches,
    // so the whole file is the only safe answer.
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) if !headers.contains_key(header::IF_RANGE) => range::parse(value, len),
        _ => RangeRequest::Full,
    };
    let (status, start, count, content_range) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, len, None),
        RangeRequest::Partial { start, end } => (
            StatusCode::PARTIAL_CONTENT,
            start,
            end - start + 1,
            Some(format!("bytes {start}-{end}/{len}")),
        ),
        RangeRequest::Unsatisfiable => {
            let mut response = text_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("the file has {len} bytes\n"),
            );
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{len}")),
            );
            return Ok(Outcome { response, bytes: 0 });
        }
    };

    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|err| io_reject("read the file", &err))?;
        }
        use tokio::io::AsyncReadExt;
        Body::from_stream(ReaderStream::with_capacity(file.take(count), READ_CHUNK))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(content_range) = content_range {
        headers.insert(header::CONTENT_RANGE, header_value(&content_range));
    }
    let bytes = if method == Method::HEAD { 0 } else { count };
    Ok(Outcome { response, bytes })
}

/// Opens a stored regular file that has not expired, with its length. The
/// open handle keeps reading the same bytes even if an upload replaces the
/// file or clean-up deletes it meanwhile.
async fn open_stored(state: &ServerState, target: &Path) -> Result<(tokio::fs::File, u64), Reject> {
    let file = tokio::fs::File::open(target)
        .await
        .map_err(|err| match err.kind() {
            ErrorKind::NotFound | ErrorKind::NotADirectory => not_found(),
            _ => io_reject("open the file", &err),
        })?;
    let meta = file
        .metadata()
        .await
        .map_err(|err| io_reject("read the file's metadata", &err))?;
    if !meta.is_file() || expired(state, &meta) {
        return Err(not_found());
    }
    Ok((file, meta.len()))
}

/// Files past their TTL are gone as far as clients can tell, even before
/// the next clean-up sweep deletes them.
fn expired(state: &ServerState, meta: &std::fs::Metadata) -> bool {
    match (state.ttl, meta.modified()) {
        (Some(ttl), Ok(modified)) => is_expired(modified, ttl, SystemTime::now()),
        _ => false,
    }
}

async fn delete(state: &ServerState, path: &StorePath) -> Result<Outcome, Reject> {
    let target = path.to_fs_path(&state.root);
    let meta = tokio::fs::symlink_metadata(&target)
        .await
        .map_err(|err| match err.kind() {
            ErrorKind::NotFound | ErrorKind::NotADirectory => not_found(),
            _ => io_reject("inspect the file", &err),
        })?;
    if !meta.is_file() {
        return Err(not_found());
    }
    let was_expired = expired(state, &meta);
    match tokio::fs::remove_file(&target).await {
        Ok(()) if was_expired => Err(not_found()),
        Ok(()) => Ok(Outcome {
            response: empty_response(StatusCode::NO_CONTENT),
            bytes: 0,
        }),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(not_found()),
        Err(err) => Err(io_reject("delete the file", &err)),
    }
}

fn not_found() -> Reject {
    Reject::new(StatusCode::NOT_FOUND, "no file at this path")
}

/// Server-side I/O failures: the client gets the operation, the log gets the
/// OS error too (through the message).
fn io_reject(what: &str, err: &std::io::Error) -> Reject {
    match err.kind() {
        ErrorKind::InvalidFilename => Reject::new(
            StatusCode::BAD_REQUEST,
            format!("cannot {what}: the name is not valid here ({err})"),
        ),
        _ => Reject::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot {what}: {err}"),
        ),
    }
}

fn text_response(status: StatusCode, text: String) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("content-range values are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn only_plain_hosts_make_it_into_urls() {
        assert!(is_plain_authority("127.0.0.1:8080"));
        assert!(is_plain_authority("[::1]:80"));
        assert!(is_plain_authority("files.example"));
        assert!(!is_plain_authority("evil/path"));
        assert!(!is_plain_authority("user@host"));
        assert!(!is_plain_authority(""));
    }
}
