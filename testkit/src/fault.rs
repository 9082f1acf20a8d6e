//! [`FaultServer`]: a tiny scripted HTTP/1.1 server for the download-error
//! tests of the link transport, and [`closed_port`] for connection-refused
//! tests.
//!
//! The server answers each request with the next [`Reply`] of its script
//! (the last one repeats), and records every request it read, so a test can
//! check both how a client copes with a bad server and what the client sent
//! (e.g. that no `Authorization` header leaked to a host named in a message).
//! It speaks just enough HTTP/1.1 to be real to any client: it reads the
//! request head and body (`Content-Length` or chunked), answers, and closes
//! the connection (`Connection: close`), so every request comes on a fresh
//! connection and replies can lie about their length.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

/// The largest request head the server reads; more is a broken client.
const MAX_HEAD: usize = 64 * 1024;
/// Generated bodies are written in chunks of this size.
const PATTERN_CHUNK: usize = 64 * 1024;
/// [`pattern`] repeats with this period (a prime, so it never lines up with
/// power-of-two chunk sizes).
const PATTERN_PERIOD: usize = 251;

/// One scripted answer of a [`FaultServer`].
///
/// ```
/// use std::time::Duration;
/// use natsbridge_testkit::Reply;
///
/// let script = vec![
///     Reply::status(503),
///     Reply::delay(Duration::from_millis(50), Reply::status(429).header("Retry-After", "0")),
///     Reply::ok("finally"),
/// ];
/// # drop(script);
/// ```
#[derive(Debug, Clone)]
pub struct Reply {
    delay: Duration,
    action: Action,
}

#[derive(Debug, Clone)]
enum Action {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
        length: Length,
    },
    Close,
}

#[derive(Debug, Clone)]
enum Body {
    Bytes(Arc<[u8]>),
    /// [`pattern`] bytes, generated while sending.
    Pattern(u64),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Pattern(len) => *len,
        }
    }
}

/// What the `Content-Length` header says.
#[derive(Debug, Clone, Copy)]
enum Length {
    Actual,
    Claimed(u64),
    /// No header: the body ends when the connection closes.
    Omitted,
}

impl Reply {
    /// An empty response with this status, e.g. `Reply::status(500)` or
    /// `Reply::status(429)`.
    pub fn status(code: u16) -> Reply {
        Reply::respond(code, Body::Bytes(Arc::from(Vec::new())))
    }

    /// `200 OK` with this body and its true length.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::respond(200, Body::Bytes(Arc::from(body.into())))
    }

    /// `200 OK` with `len` bytes of [`pattern`], generated while sending, so
    /// even a body of gigabytes costs no memory.
    pub fn ok_pattern(len: u64) -> Reply {
        Reply::respond(200, Body::Pattern(len))
    }

    /// `302 Found` to `location`. For another redirect status use
    /// `Reply::status(307).header("Location", location)`.
    pub fn redirect(location: &str) -> Reply {
        Reply::status(302).header("Location", location)
    }

    /// `200 OK` sending `body` but declaring `Content-Length: claimed_len`.
    /// Claiming more makes the response end early; claiming less sends bytes
    /// past the declared end before closing.
    pub fn ok_lying_length(body: impl Into<Vec<u8>>, claimed_len: u64) -> Reply {
        Reply::ok(body).claim_length(claimed_len)
    }

    /// `200 OK` with no `Content-Length`: the body runs until the connection
    /// closes, so only the client's own cap can stop a long one.
    pub fn ok_without_length(body: impl Into<Vec<u8>>) -> Reply {
        Reply::ok(body).without_length()
    }

    /// Closes the connection after reading the request, without answering.
    pub fn close() -> Reply {
        Reply {
            delay: Duration::ZERO,
            action: Action::Close,
        }
    }

    /// Waits `delay` after reading the request, then acts as `reply` (which
    /// may itself be [`Reply::close`]). Delays add up when nested.
    pub fn delay(delay: Duration, reply: Reply) -> Reply {
        Reply {
            delay: reply.delay + delay,
            ..reply
        }
    }

    /// Adds a response header. No effect on [`Reply::close`].
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Action::Respond { headers, .. } = &mut self.action {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Declares `Content-Length: len` whatever the body's real length.
    /// No effect on [`Reply::close`].
    pub fn claim_length(mut self, len: u64) -> Reply {
        if let Action::Respond { length, .. } = &mut self.action {
            *length = Length::Claimed(len);
        }
        self
    }

    /// Sends no `Content-Length`; the body ends when the connection closes.
    /// No effect on [`Reply::close`].
    pub fn without_length(mut self) -> Reply {
        if let Action::Respond { length, .. } = &mut self.action {
            *length = Length::Omitted;
        }
        self
    }

    fn respond(status: u16, body: Body) -> Reply {
        Reply {
            delay: Duration::ZERO,
            action: Action::Respond {
                status,
                headers: Vec::new(),
                body,
                length: Length::Actual,
            },
        }
    }
}

/// The body [`Reply::ok_pattern`] sends: byte `i` is `i % 251`.
///
/// ```
/// assert_eq!(&natsbridge_testkit::pattern(300)[249..253], &[249, 250, 0, 1]);
/// ```
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % PATTERN_PERIOD) as u8).collect()
}

/// A request the [`FaultServer`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as sent, e.g. `/id/name?x=1`.
    pub path: String,
    /// Header names and values in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// Length of the request body (after chunked decoding); the body itself is
    /// discarded.
    pub body_len: u64,
}

impl RecordedRequest {
    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug)]
struct Shared {
    script: Vec<Reply>,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Shared {
    /// Records `request` and picks its reply: the n-th request gets the n-th
    /// reply, and every request past the end gets the last.
    fn record(&self, request: RecordedRequest) -> Reply {
        let mut requests = self.requests.lock().expect("fault server state");
        let index = requests.len().min(self.script.len() - 1);
        requests.push(request);
        self.script[index].clone()
    }
}

/// A scripted HTTP/1.1 server on `127.0.0.1`, stopped on drop.
///
/// ```no_run
/// use natsbridge_testkit::{FaultServer, Reply};
///
/// let server = FaultServer::start(vec![Reply::status(500), Reply::ok("payload")]);
/// // ... point a download at format!("{}/file", server.url()) ...
/// assert_eq!(server.hits(), 2);
/// assert!(server.requests().iter().all(|r| r.header("authorization").is_none()));
/// ```
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Starts answering with `script`, in order; the last reply repeats.
    ///
    /// # Panics
    /// When `script` is empty or no loopback port can be bound.
    pub fn start(script: Vec<Reply>) -> FaultServer {
        assert!(!script.is_empty(), "a FaultServer needs at least one Reply");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::new(Vec::new()),
        });
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("nb-fault-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the fault server's tokio runtime");
                runtime.block_on(accept_loop(listener, thread_shared, shutdown_rx));
                // Dropping the runtime cancels connections still delayed or
                // sending, so drop never waits on a scripted delay.
            })
            .expect("spawn the fault server thread");
        FaultServer {
            addr,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// The base URL, `http://127.0.0.1:<port>`; any path is answered.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// How many requests were read so far (each one consumed a reply).
    pub fn hits(&self) -> usize {
        self.shared
            .requests
            .lock()
            .expect("fault server state")
            .len()
    }

    /// The requests read so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .expect("fault server state")
            .clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the fault server thread panicked");
        }
    }
}

/// A loopback port with nothing listening on it, for connection-refused
/// tests: binds port 0, notes the port, and closes the listener. Another
/// process could take the port afterwards, but the kernel hands ephemeral
/// ports out in rotation, so that is unlikely within a test.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("the bound address").port()
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors or similar: back off instead of
                // spinning on the error.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stream);
    // A client that hangs up or sends garbage gets nothing and is not recorded.
    let Ok(request) = read_request(&mut reader).await else {
        return;
    };
    let is_head = request.method.eq_ignore_ascii_case("HEAD");
    let reply = shared.record(request);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let Action::Respond {
        status,
        headers,
        body,
        length,
    } = reply.action
    else {
        return;
    };
    let mut stream = reader.into_inner();
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match length {
        Length::Actual => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
        Length::Claimed(len) => head.push_str(&format!("Content-Length: {len}\r\n")),
        Length::Omitted => {}
    }
    head.push_str("Connection: close\r\n\r\n");
    // Write errors mean the client left early, which is its business.
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    if !is_head {
        let sent = match &body {
            Body::Bytes(bytes) => stream.write_all(bytes).await,
            Body::Pattern(len) => write_pattern(&mut stream, *len).await,
        };
        if sent.is_err() {
            return;
        }
    }
    let _ = stream.shutdown().await;
}

async fn write_pattern(stream: &mut tokio::net::TcpStream, len: u64) -> std::io::Result<()> {
    // One buffer a period longer than a chunk holds every chunk's bytes
    // whatever offset it starts at.
    let source = pattern(PATTERN_CHUNK + PATTERN_PERIOD);
    let mut offset: u64 = 0;
    while offset < len {
        let start = (offset % PATTERN_PERIOD as u64) as usize;
        let count = (len - offset).min(PATTERN_CHUNK as u64) as usize;
        stream.write_all(&source[start..start + count]).await?;
        offset += count as u64;
    }
    Ok(())
}

async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::io::Result<RecordedRequest> {
    let request_line = read_line(reader).await?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("bad request line"));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut headers = Vec::new();
    let mut head_len = request_line.len();
    loop {
        let line = read_line(reader).await?;
        if line.is_empty() {
            break;
        }
        head_len += line.len();
        if head_len > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = RecordedRequest {
        method,
        path,
        headers,
        body_len: 0,
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    request.body_len = if chunked {
        read_chunked_body(reader).await?
    } else if let Some(len) = request.header("content-length") {
        let len: u64 = len.parse().map_err(|_| invalid("bad content-length"))?;
        discard_exactly(reader, len).await?;
        len
    } else {
        0
    };
    Ok(request)
}

async fn read_chunked_body<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::io::Result<u64> {
    let mut total = 0;
    loop {
        let line = read_line(reader).await?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line that ends the body.
            while !read_line(reader).await?.is_empty() {}
            return Ok(total);
        }
        discard_exactly(reader, size).await?;
        total += size;
        if !read_line(reader).await?.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

async fn discard_exactly<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    len: u64,
) -> std::io::Result<()> {
    let copied = tokio::io::copy(&mut reader.take(len), &mut tokio::io::sink()).await?;
    if copied == len {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "request body ended early",
        ))
    }
}

/// Reads one CRLF- (or LF-) terminated line without its terminator.
async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<String> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(MAX_HEAD as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if read == 0 || line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed mid-line",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("line is not UTF-8"))
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Scripted",
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    use super::*;

    /// Upper bound for any read in these tests.
    const DEADLINE: Duration = Duration::from_secs(20);

    struct Answer {
        head: String,
        body: Vec<u8>,
    }

    impl Answer {
        fn status(&self) -> u16 {
            self.head.split(' ').nth(1).unwrap().parse().unwrap()
        }
        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name).then(|| value.trim())
            })
        }
    }

    /// Sends raw bytes and reads everything until the server closes.
    fn exchange(server: &FaultServer, request: &[u8]) -> std::io::Result<Answer> {
        let mut stream = TcpStream::connect(server.addr())?;
        stream.set_read_timeout(Some(DEADLINE))?;
        stream.write_all(request)?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes)?;
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no response"))?;
        Ok(Answer {
            head: String::from_utf8(bytes[..split].to_vec()).unwrap(),
            body: bytes[split + 4..].to_vec(),
        })
    }

    fn get(server: &FaultServer, path: &str) -> Answer {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        exchange(server, request.as_bytes()).expect("an answer")
    }

    #[test]
    fn replies_come_in_order_and_the_last_repeats() {
        let server = FaultServer::start(vec![
            Reply::status(500),
            Reply::status(429),
            Reply::ok("body"),
        ]);
        let statuses: Vec<u16> = (0..5).map(|_| get(&server, "/f").status()).collect();
        assert_eq!(statuses, [500, 429, 200, 200, 200]);
        assert_eq!(server.hits(), 5);
        assert_eq!(get(&server, "/f").body, b"body");
    }

    #[test]
    fn records_method_path_headers_and_body_length() {
        let server = FaultServer::start(vec![Reply::status(201)]);
        let request = b"PUT /id/name?x=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(exchange(&server, request).unwrap().status(), 201);
        let chunked = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: y\r\n\r\n";
        assert_eq!(exchange(&server, chunked).unwrap().status(), 201);

        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, "PUT");
        assert_eq!(requests[0].path, "/id/name?x=1");
        assert_eq!(requests[0].header("AUTHORIZATION"), Some("Bearer t"));
        assert_eq!(requests[0].body_len, 5);
        assert_eq!(requests[1].method, "POST");
        assert_eq!(requests[1].header("authorization"), None);
        assert_eq!(requests[1].body_len, 7);
    }

    #[test]
    fn lying_lengths_are_sent_as_scripted() {
        let server = FaultServer::start(vec![
            Reply::ok_lying_length("short", 100),
            Reply::ok_lying_length("much longer than claimed", 4),
            Reply::ok_without_length("until close"),
        ]);
        let longer_claim = get(&server, "/a");
        assert_eq!(longer_claim.header("content-length"), Some("100"));
        assert_eq!(longer_claim.body, b"short");
        let shorter_claim = get(&server, "/b");
        assert_eq!(shorter_claim.header("content-length"), Some("4"));
        assert_eq!(shorter_claim.body, b"much longer than claimed");
        let no_length = get(&server, "/c");
        assert_eq!(no_length.header("content-length"), None);
        assert_eq!(no_length.body, b"until close");
    }

    #[test]
    fn pattern_bodies_match_pattern() {
        let len = 3 * PATTERN_CHUNK + 1234;
        let server = FaultServer::start(vec![Reply::ok_pattern(len as u64)]);
        let answer = get(&server, "/p");
        assert_eq!(
            answer.header("content-length"),
            Some(len.to_string().as_str())
        );
        assert!(
            answer.body == pattern(len),
            "generated body differs from pattern()"
        );
    }

    #[test]
    fn redirects_and_headers() {
        let server = FaultServer::start(vec![
            Reply::redirect("http://169.254.169.254/latest"),
            Reply::status(307)
                .header("Location", "/elsewhere")
                .header("X-Test", "1"),
        ]);
        let first = get(&server, "/r");
        assert_eq!(first.status(), 302);
        assert_eq!(
            first.header("location"),
            Some("http://169.254.169.254/latest")
        );
        let second = get(&server, "/r");
        assert_eq!(second.status(), 307);
        assert_eq!(second.header("location"), Some("/elsewhere"));
        assert_eq!(second.header("x-test"), Some("1"));
    }

    #[test]
    fn close_answers_nothing() {
        let server = FaultServer::start(vec![Reply::close(), Reply::ok("second")]);
        let first = exchange(&server, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            first.is_err(),
            "expected no response, got {:?}",
            first.map(|a| a.head)
        );
        assert_eq!(server.hits(), 1, "the closed request is still recorded");
        assert_eq!(get(&server, "/x").body, b"second");
    }

    #[test]
    fn delay_holds_the_answer_back() {
        let delay = Duration::from_millis(300);
        let server = FaultServer::start(vec![Reply::delay(delay, Reply::ok("late"))]);
        let started = Instant::now();
        let answer = get(&server, "/d");
        let elapsed = started.elapsed();
        assert_eq!(answer.body, b"late");
        assert!(elapsed >= delay, "answered after {elapsed:?}");
        assert!(elapsed < DEADLINE);
    }

    #[test]
    fn head_requests_get_no_body() {
        let server = FaultServer::start(vec![Reply::ok("twelve bytes")]);
        let answer = exchange(&server, b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(answer.header("content-length"), Some("12"));
        assert!(answer.body.is_empty());
    }

    #[test]
    fn garbage_is_not_recorded() {
        let server = FaultServer::start(vec![Reply::ok("x")]);
        assert!(exchange(&server, b"NONSENSE\r\n\r\n").is_err());
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.write_all(b"GET /half HTTP/1.1\r\nHost:").unwrap();
        drop(stream);
        // A complete request afterwards is the first one recorded.
        assert_eq!(get(&server, "/ok").body, b"x");
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].path, "/ok");
    }

    #[test]
    fn drop_stops_the_server_even_during_a_delay() {
        let server = FaultServer::start(vec![Reply::delay(
            Duration::from_secs(3600),
            Reply::ok("x"),
        )]);
        let addr = server.addr();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let deadline = Instant::now() + DEADLINE;
        while server.hits() == 0 {
            assert!(Instant::now() < deadline, "the request never arrived");
            std::thread::sleep(Duration::from_millis(5));
        }
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < DEADLINE, "drop waited for the delay");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "no answer after shutdown");
        assert!(TcpStream::connect(addr).is_err(), "the port is closed");
    }

    #[test]
    fn closed_port_refuses_connections() {
        let port = closed_port();
        assert_ne!(port, 0);
        let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    #[should_panic(expected = "at least one Reply")]
    fn an_empty_script_is_refused() {
        let _ = FaultServer::start(Vec::new());
    }
}
