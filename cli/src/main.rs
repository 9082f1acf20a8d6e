//! `natsbridge`: send, listen, request and respond from the shell, run the
//! claim-check file server, and a demo of a mixed message round trip.
//!
//! Every command talks to NATS through the same core as the bindings; this
//! file only parses flags, builds payloads and prints what arrives.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

mod flags;
mod progress;
use flags::{ConnectFlags, ConsumeFlags, ReceiveFlags, SendFlags, SubscribeFlags};
use natsbridge::{
    Body, Bridge, Payload, PayloadType, PayloadValue, ReceiveOptions, ReceivedEnvelope,
    SendOptions, Table, Transport,
};
use serde_json::Value;

/// mimalloc: glibc's allocator serializes on arena locks when a buffer is
/// allocated on one thread and freed on another, which is the path of every
/// published message (caller thread -> connection task).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "natsbridge",
    version,
    about = "Multi-payload messages over NATS (wire format v1)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum StreamAction {
    /// Create a stream capturing the given subjects, unless it exists.
    Add {
        /// The stream's name.
        name: String,
        /// A subject the stream captures (repeat for more; wildcards allowed).
        #[arg(long = "subject", required = true)]
        subjects: Vec<String>,
        /// How many servers keep a copy (1 on a single server, up to 5 in a
        /// cluster). [default: the connection's --jetstream-replicas]
        #[arg(long)]
        replicas: Option<usize>,
        #[command(flatten)]
        connection: ConnectFlags,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Send one envelope with the given payloads.
    Send {
        /// The subject to publish on (used exactly as given, e.g. /chat/room1).
        subject: String,
        #[command(flatten)]
        connection: ConnectFlags,
        #[command(flatten)]
        payloads: PayloadFlags,
        #[command(flatten)]
        send: SendFlags,
        /// Print the envelope as sent, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print each envelope that arrives on a subject.
    Listen {
        /// The subject to subscribe to (wildcards allowed).
        subject: String,
        #[command(flatten)]
        connection: ConnectFlags,
        #[command(flatten)]
        receive: ReceiveFlags,
        #[command(flatten)]
        subscribe: SubscribeFlags,
        /// With --stream: consume that JetStream stream through a consumer
        /// (durable with --durable), acknowledging each envelope once it was
        /// printed (and saved with --save-dir), rejecting it for redelivery
        /// when saving failed. SUBJECT filters the stream (`>`: all of it).
        #[command(flatten)]
        consume: ConsumeFlags,
        /// Stop after this many envelopes.
        #[arg(long)]
        count: Option<u64>,
        /// Stop when nothing arrives for this many seconds.
        #[arg(long)]
        idle_timeout: Option<f64>,
        /// Print one JSON object per envelope instead of the readable summary.
        #[arg(long)]
        json: bool,
    },
    /// Manage JetStream streams.
    Stream {
        #[command(subcommand)]
        action: StreamAction,
    },
    /// Send a request and print the reply.
    Request {
        /// The subject to send the request to.
        subject: String,
        #[command(flatten)]
        connection: ConnectFlags,
        #[command(flatten)]
        payloads: PayloadFlags,
        #[command(flatten)]
        send: SendFlags,
        #[command(flatten)]
        receive: ReceiveFlags,
        /// Seconds to wait for the reply.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        /// Print the reply as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Answer each request on a subject with the given payloads.
    Respond {
        /// The subject to serve.
        subject: String,
        #[command(flatten)]
        connection: ConnectFlags,
        #[command(flatten)]
        payloads: PayloadFlags,
        #[command(flatten)]
        send: SendFlags,
        #[command(flatten)]
        receive: ReceiveFlags,
        #[command(flatten)]
        subscribe: SubscribeFlags,
        /// Stop after answering this many requests.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Run the claim-check file server (PUT / GET / HEAD / DELETE over a directory).
    Fileserver {
        /// The directory to store payloads in.
        #[arg(long)]
        dir: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Require `Authorization: Bearer TOKEN` for PUT and DELETE (GET stays public).
        #[arg(long, env = "NATSBRIDGE_FILESERVER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Refuse uploads larger than this many bytes (default 1 GiB, the
        /// receivers' default download cap).
        #[arg(long, default_value_t = natsbridge_fileserver::DEFAULT_MAX_UPLOAD)]
        max_upload: u64,
        /// Let a PUT replace an existing file (by default: 409 Conflict, so no
        /// client can replace a payload another one published).
        #[arg(long)]
        allow_overwrite: bool,
        /// Serve a non-loopback address without --token (refused by default:
        /// anyone who can reach it could store and delete files).
        #[arg(long)]
        allow_public_without_token: bool,
        /// Seconds a client may take to send a request head.
        #[arg(long, default_value_t = natsbridge_fileserver::DEFAULT_HEADER_READ_TIMEOUT.as_secs_f64())]
        header_read_timeout: f64,
        /// Seconds a connection may stay without a byte read or written.
        #[arg(long, default_value_t = natsbridge_fileserver::DEFAULT_IDLE_TIMEOUT.as_secs_f64())]
        idle_timeout: f64,
        /// Connections served at once; more are answered 503.
        #[arg(long, default_value_t = natsbridge_fileserver::DEFAULT_MAX_CONNECTIONS)]
        max_connections: usize,
        /// Delete stored files older than this many seconds.
        #[arg(long)]
        ttl: Option<u64>,
        /// Let web pages of this origin (`http://host:port`, or `*`) use the
        /// server through fetch (CORS, preflight for PUT); repeatable.
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
        /// Serve this directory read-only under /app/ (a web page and its scripts).
        #[arg(long = "static", value_name = "DIR")]
        static_dir: Option<PathBuf>,
        /// Serve https only, with this certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Send a mixed message (text, dictionary, table, image, a large file) and
    /// print it as it arrives: a one-command check that everything works.
    Demo {
        #[command(flatten)]
        connection: ConnectFlags,
        /// Send large payloads to this file server (default: the JetStream Object Store).
        #[arg(long)]
        fileserver_url: Option<String>,
    },
}

#[derive(Args)]
struct PayloadFlags {
    /// A text payload, NAME=VALUE (repeatable).
    #[arg(long = "text", value_name = "NAME=VALUE")]
    texts: Vec<String>,
    /// A dictionary payload, NAME=JSON (repeatable).
    #[arg(long = "json-payload", alias = "dict", value_name = "NAME=JSON")]
    dictionaries: Vec<String>,
    /// A file payload, PATH[:TYPE]; the dataname is the file name, the type is
    /// guessed from the extension unless given (repeatable).
    #[arg(long = "file", value_name = "PATH[:TYPE]")]
    files: Vec<String>,
}

/// Failures of the CLI itself, printed as one line with their cause chain.
type CliResult<T> = Result<T, String>;

fn describe(err: natsbridge::Error) -> String {
    format!("{} [{}]", err.full_message(), err.kind().code())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("natsbridge: {}", terminal_safe(&message));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> CliResult<()> {
    match command {
        Command::Send {
            subject,
            connection,
            payloads,
            send,
            json,
        } => {
            let bridge = connect(&connection).await?;
            let payloads = build_payloads(&payloads)?;
            let count = payloads.len();
            status(&format!("sending {count} payload(s) to {subject} ..."));
            let started = Instant::now();
            let mut options = send.options().map_err(describe)?;
            if let Some(progress) = progress::reporter(json) {
                options = options.progress(progress);
            }
            let sent = bridge
                .smartsend(&subject, payloads, &options)
                .await
                .map_err(describe)?;
            bridge.flush().await.map_err(describe)?;
            let links = sent
                .payloads
                .iter()
                .filter(|p| p.transport == Transport::Link)
                .count();
            status(&format!(
                "sent envelope {} ({count} payloads, {links} by link) in {:.2?}",
                sent.header.msg_id,
                started.elapsed()
            ));
            if json {
                println!("{}", sent.to_json());
            }
            Ok(())
        }
        Command::Listen {
            subject,
            connection,
            receive,
            subscribe,
            consume,
            count,
            idle_timeout,
            json,
        } => {
            let mut options = receive.options().map_err(describe)?;
            if let Some(progress) = progress::reporter(json) {
                options = options.progress(progress);
            }
            if consume.wanted() {
                let options = consume.options(&subject, options).map_err(describe)?;
                let bridge = connect(&connection).await?;
                return listen_durable(
                    &bridge,
                    &subject,
                    options,
                    &receive,
                    count,
                    idle_timeout,
                    json,
                )
                .await;
            }
            let concurrency = subscribe.concurrent_receives().map_err(describe)?;
            let save_dir = receive.save_dir();
            let bridge = connect(&connection).await?;
            let sub = match subscribe.queue() {
                Some(group) => bridge.queue_subscribe(&subject, group, options).await,
                None => bridge.subscribe(&subject, options).await,
            }
            .map_err(describe)?;
            let mut sub = sub.concurrent_receives(concurrency);
            bridge.flush().await.map_err(describe)?;
            status(&format!("listening on {subject} (Ctrl-C to stop)"));
            let mut seen = 0;
            while count.is_none_or(|limit| seen < limit) {
                let next = match idle_timeout {
                    Some(secs) => match sub.next_timeout(Duration::from_secs_f64(secs)).await {
                        Ok(Some(envelope)) => Some(Ok(envelope)),
                        Ok(None) => None,
                        Err(err) if err.kind() == natsbridge::ErrorKind::Timeout => {
                            status("no message within the idle timeout; stopping");
                            break;
                        }
                        Err(err) => Some(Err(err)),
                    },
                    None => sub.next().await,
                };
                let Some(result) = next else { break };
                seen += 1;
                // One bad message never ends a long-running listener: it
                // is reported and the next one is awaited.
                match result {
                    Ok(envelope) => {
                        if let Some(dir) = &save_dir
                            && let Err(message) = save_payloads(&envelope, dir)
                        {
                            status(&format!("could not save every payload: {message}"));
                        }
                        print_envelope(&envelope, json);
                    }
                    Err(err) => status(&format!("skipped a message: {}", describe(err))),
                }
            }
            Ok(())
        }
        Command::Stream {
            action:
                StreamAction::Add {
                    name,
                    subjects,
                    replicas,
                    connection,
                },
        } => {
            let bridge = connect(&connection).await?;
            let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
            match replicas {
                Some(replicas) => {
                    bridge
                        .ensure_stream_replicated(&name, &subjects, replicas)
                        .await
                }
                None => bridge.ensure_stream(&name, &subjects).await,
            }
            .map_err(describe)?;
            status(&format!("stream {name} captures {}", subjects.join(", ")));
            Ok(())
        }
        Command::Request {
            subject,
            connection,
            payloads,
            send,
            receive,
            timeout,
            json,
        } => {
            let mut send_options = send.options().map_err(describe)?;
            let mut receive_options = receive.options().map_err(describe)?;
            if let Some(progress) = progress::reporter(json) {
                send_options = send_options.progress(progress.clone());
                receive_options = receive_options.progress(progress);
            }
            let bridge = connect(&connection).await?;
            let payloads = build_payloads(&payloads)?;
            status(&format!(
                "requesting on {subject} (waiting up to {timeout} s) ..."
            ));
            let reply = bridge
                .request(
                    &subject,
                    payloads,
                    &send_options,
                    Some(Duration::from_secs_f64(timeout)),
                    &receive_options,
                )
                .await
                .map_err(describe)?;
            if let Some(dir) = &receive.save_dir() {
                save_payloads(&reply, dir)?;
            }
            print_envelope(&reply, json);
            Ok(())
        }
        Command::Respond {
            subject,
            connection,
            payloads,
            send,
            receive,
            subscribe,
            count,
        } => {
            // Check the flags once, so a typo fails at start rather than on
            // every request.
            build_payloads(&payloads)?;
            let send_options = send.options().map_err(describe)?;
            let options = receive.options().map_err(describe)?;
            let concurrency = subscribe.concurrent_receives().map_err(describe)?;
            let save_dir = receive.save_dir();
            let bridge = connect(&connection).await?;
            let sub = match subscribe.queue() {
                Some(group) => bridge.queue_subscribe(&subject, group, options).await,
                None => bridge.subscribe(&subject, options).await,
            }
            .map_err(describe)?;
            let mut sub = sub.concurrent_receives(concurrency);
            bridge.flush().await.map_err(describe)?;
            status(&format!("answering requests on {subject} (Ctrl-C to stop)"));
            let mut answered = 0;
            while count.is_none_or(|limit| answered < limit) {
                let Some(result) = sub.next().await else {
                    break;
                };
                // A request that cannot be answered (nowhere to reply, a
                // refused link, a file gone) is reported and skipped; only
                // the end of the subscription (the connection gone) stops.
                let request = match result {
                    Ok(request) => request,
                    Err(err) => {
                        status(&format!("skipped a message: {}", describe(err)));
                        continue;
                    }
                };
                if let Some(dir) = &save_dir
                    && let Err(message) = save_payloads(&request, dir)
                {
                    status(&format!("could not save every payload: {message}"));
                }
                let answer = match build_payloads(&payloads) {
                    Ok(answer) => answer,
                    Err(message) => {
                        status(&format!(
                            "cannot answer {}: {message}",
                            request.header.msg_id
                        ));
                        continue;
                    }
                };
                let sent = bridge.reply(&request, answer, &send_options).await;
                let sent = match sent {
                    Ok(_) => bridge.flush().await,
                    Err(err) => Err(err),
                };
                match sent {
                    Ok(()) => {
                        answered += 1;
                        status(&format!(
                            "answered {} from {}",
                            terminal_safe(&request.header.msg_id),
                            terminal_safe(&request.header.sender_name)
                        ));
                    }
                    Err(err) => status(&format!(
                        "cannot answer {}: {}",
                        terminal_safe(&request.header.msg_id),
                        describe(err)
                    )),
                }
            }
            Ok(())
        }
        Command::Fileserver {
            dir,
            addr,
            token,
            max_upload,
            allow_overwrite,
            allow_public_without_token,
            header_read_timeout,
            idle_timeout,
            max_connections,
            ttl,
            cors_origins,
            static_dir,
            tls_cert,
            tls_key,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let mut config = natsbridge_fileserver::Config::new(dir.clone(), addr);
            config.token = token;
            config.max_upload = Some(max_upload);
            config.allow_overwrite = allow_overwrite;
            config.allow_public_without_token = allow_public_without_token;
            config.header_read_timeout = seconds("--header-read-timeout", header_read_timeout)?;
            config.idle_timeout = seconds("--idle-timeout", idle_timeout)?;
            config.max_connections = max_connections;
            config.ttl = ttl.map(Duration::from_secs);
            config.cors_origins = cors_origins;
            config.static_dir = static_dir;
            config.tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| natsbridge_fileserver::TlsFiles { cert, key });
            let server = natsbridge_fileserver::FileServer::bind(config)
                .await
                .map_err(|err| format!("cannot start the file server on {addr}: {err}"))?;
            status(&format!(
                "file server on {} storing in {}",
                server.url(),
                dir.display()
            ));
            server
                .serve_with_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .map_err(|err| format!("the file server failed: {err}"))
        }
        Command::Demo {
            connection,
            fileserver_url,
        } => demo(&connection, fileserver_url).await,
    }
}

fn seconds(flag: &str, value: f64) -> CliResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{flag} takes a number of seconds, got {value}"))
}

/// `listen --stream`: each envelope is printed (and saved with --save-dir),
/// then acknowledged; when saving fails it is rejected (`nak`) so the server
/// delivers it again. Messages that cannot be decoded are settled by the core.
async fn listen_durable(
    bridge: &Bridge,
    subject: &str,
    options: natsbridge::jetstream::ConsumerOptions,
    receive: &ReceiveFlags,
    count: Option<u64>,
    idle_timeout: Option<f64>,
    json: bool,
) -> CliResult<()> {
    let save_dir = receive.save_dir();
    let stream = options.get_stream().unwrap_or_default().to_owned();
    let mut sub = bridge.consume(options).await.map_err(describe)?;
    status(&format!(
        "listening on {subject} through stream {stream} (Ctrl-C to stop)"
    ));
    let mut seen = 0;
    while count.is_none_or(|limit| seen < limit) {
        let next = match idle_timeout {
            Some(secs) => match sub.next_timeout(Duration::from_secs_f64(secs)).await {
                Ok(Some(message)) => Some(Ok(message)),
                Ok(None) => None,
                Err(err) if err.kind() == natsbridge::ErrorKind::Timeout => {
                    status("no message within the idle timeout; stopping");
                    break;
                }
                Err(err) => Some(Err(err)),
            },
            None => sub.next().await,
        };
        let Some(result) = next else { break };
        seen += 1;
        match result {
            Ok(message) => {
                let saved = match &save_dir {
                    Some(dir) => save_payloads(&message.envelope, dir),
                    None => Ok(()),
                };
                match saved {
                    Ok(()) => {
                        print_envelope(&message.envelope, json);
                        message.ack().await.map_err(describe)?;
                    }
                    Err(why) => {
                        status(&format!(
                            "could not save message {} (delivery {}), asking for it again: {why}",
                            message.stream_sequence, message.delivered
                        ));
                        message.nak(None).await.map_err(describe)?;
                    }
                }
            }
            Err(err) => status(&format!("skipped a message: {}", describe(err))),
        }
    }
    Ok(())
}

async fn connect(connection: &ConnectFlags) -> CliResult<Bridge> {
    let started = Instant::now();
    let options = connection.options().map_err(describe)?;
    let bridge = options.connect().await.map_err(describe)?;
    status(&format!(
        "connected to {} in {:.0?}",
        bridge.broker_url(),
        started.elapsed()
    ));
    Ok(bridge)
}

/// One status line on stderr. Lines can quote message fields (error
/// messages name datanames, subjects, URLs), so they are escaped too.
fn status(line: &str) {
    eprintln!("natsbridge: {}", terminal_safe(line));
}

/// `text` with every character that could rewrite a terminal or disguise a
/// line escaped as `\u{..}`: C0 and C1 controls (ESC, CR, BS, CSI, ...),
/// Unicode bidirectional controls, line and paragraph separators, and
/// zero-width characters. Message fields come from any sender; printing
/// them raw would let a message move the cursor, recolour or forge lines.
fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_terminal_unsafe) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_terminal_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_terminal_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// A JSON document with the characters of [`is_terminal_unsafe`] written
/// as `\uXXXX` escapes: still the same JSON, but safe on a terminal. They
/// can only occur inside strings (JSON syntax is ASCII) and are all in the
/// Basic Multilingual Plane, so one escape each is exact.
fn terminal_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_terminal_unsafe(c) && !matches!(c, '\n' | '\r' | '\t') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds the payloads named by the flags, in the order: texts, dictionaries, files.
fn build_payloads(flags: &PayloadFlags) -> CliResult<Vec<Payload>> {
    let mut payloads = Vec::new();
    for text in &flags.texts {
        let (name, value) = split_assignment(text, "--text")?;
        payloads.push(Payload::text(name, value));
    }
    for dictionary in &flags.dictionaries {
        let (name, json) = split_assignment(dictionary, "--json-payload")?;
        let value: Value = serde_json::from_str(json)
            .map_err(|err| format!("--json-payload {name}: not JSON: {err}"))?;
        payloads.push(Payload::dictionary(name, value));
    }
    for file in &flags.files {
        payloads.push(file_payload(file)?);
    }
    if payloads.is_empty() {
        return Err(
            "nothing to send: give at least one --text, --json-payload or --file".to_owned(),
        );
    }
    Ok(payloads)
}

fn split_assignment<'a>(flag: &'a str, name: &str) -> CliResult<(&'a str, &'a str)> {
    flag.split_once('=')
        .ok_or_else(|| format!("{name} takes NAME=VALUE, got {flag:?}"))
}

/// `PATH[:TYPE]`; a path that itself contains ':' still works when no known
/// type follows the last ':'.
fn file_payload(spec: &str) -> CliResult<Payload> {
    let (path, explicit) = match spec.rsplit_once(':') {
        Some((path, kind)) if kind.parse::<PayloadType>().is_ok() => (path, Some(kind)),
        _ => (spec, None),
    };
    let path = Path::new(path);
    let dataname = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| format!("--file {spec}: not a file path"))?;
    let kind = explicit
        .map(str::to_owned)
        .unwrap_or_else(|| guess_type(path).to_owned());
    let body = match kind.as_str() {
        "text" => Body::Text(
            std::fs::read_to_string(path).map_err(|err| format!("--file {spec}: {err}"))?,
        ),
        "dictionary" => {
            let text =
                std::fs::read_to_string(path).map_err(|err| format!("--file {spec}: {err}"))?;
            Body::Json(
                serde_json::from_str(&text)
                    .map_err(|err| format!("--file {spec}: not JSON: {err}"))?,
            )
        }
        "table" => {
            let bytes = std::fs::read(path).map_err(|err| format!("--file {spec}: {err}"))?;
            Body::Table(Table::from_ipc(bytes.into()).map_err(describe)?)
        }
        _ => Body::File(path.to_path_buf()),
    };
    Payload::new(dataname, &kind, body).map_err(describe)
}

fn guess_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .map(|ext| ext.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp" | "svg" => "image",
        "wav" | "mp3" | "ogg" | "flac" | "m4a" | "opus" => "audio",
        "mp4" | "avi" | "mkv" | "webm" | "mov" => "video",
        "arrows" | "arrow" => "table",
        "json" => "dictionary",
        "txt" | "md" | "csv" => "text",
        _ => "binary",
    }
}

fn print_envelope(envelope: &ReceivedEnvelope, json: bool) {
    // Every field below comes from the sender: escaped before printing.
    if json {
        println!("{}", terminal_safe_json(&envelope.to_json().to_string()));
        return;
    }
    let header = &envelope.header;
    let safe = |text: &str| terminal_safe(text).into_owned();
    println!(
        "envelope {} on {} from {} ({}) at {}",
        safe(&header.msg_id),
        safe(envelope.subject.as_deref().unwrap_or(&header.send_to)),
        safe(&header.sender_name),
        safe(&header.sender_id),
        safe(&header.timestamp)
    );
    println!(
        "  purpose={} correlation_id={} reply_to={} receiver={}",
        safe(&header.msg_purpose),
        safe(&header.correlation_id),
        safe(or_dash(&header.reply_to)),
        safe(or_dash(&header.receiver_name))
    );
    for (index, payload) in envelope.payloads.iter().enumerate() {
        let info = &payload.info;
        println!(
            "  [{}] {:<20} {:<10} {:<6} {:>10}  {}",
            index + 1,
            safe(&info.dataname),
            safe(&info.payload_type.to_string()),
            info.transport,
            human_size(info.size),
            safe(&preview(&payload.value))
        );
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

fn preview(value: &PayloadValue) -> String {
    const WIDTH: usize = 60;
    let clip = |text: String| {
        if text.chars().count() > WIDTH {
            format!("{}...", text.chars().take(WIDTH).collect::<String>())
        } else {
            text
        }
    };
    match value {
        PayloadValue::Text(text) => clip(format!("{text:?}")),
        PayloadValue::Dictionary(value) => clip(value.to_string()),
        PayloadValue::Table(table) => {
            let columns: Vec<String> = table
                .schema()
                .fields()
                .iter()
                .map(|f| format!("{}:{}", f.name(), f.data_type()))
                .collect();
            clip(format!(
                "{} rows x {} columns ({})",
                table.num_rows(),
                table.num_columns(),
                columns.join(", ")
            ))
        }
        PayloadValue::Bytes(bytes) => {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!(
                "bytes {}{}",
                head.join(" "),
                if bytes.len() > 8 { " ..." } else { "" }
            )
        }
        PayloadValue::File(path) => format!("saved to {}", path.display()),
    }
}

/// Writes each in-memory payload of `envelope` to `dir` under a safe name
/// (link payloads are already there when the receiver streamed them).
fn save_payloads(envelope: &ReceivedEnvelope, dir: &Path) -> CliResult<()> {
    for payload in &envelope.payloads {
        let bytes: Vec<u8> = match &payload.value {
            PayloadValue::Text(text) => text.as_bytes().to_vec(),
            PayloadValue::Dictionary(value) => serde_json::to_vec_pretty(value).unwrap_or_default(),
            PayloadValue::Table(table) => table.ipc_bytes().to_vec(),
            PayloadValue::Bytes(bytes) => bytes.to_vec(),
            PayloadValue::File(_) => continue,
        };
        // Named like the link payloads the core saved: made safe, made
        // unique, never through a symlink or over an existing file.
        natsbridge::store::save_bytes(dir, payload.dataname(), &bytes).map_err(describe)?;
    }
    Ok(())
}

async fn demo(connection: &ConnectFlags, fileserver_url: Option<String>) -> CliResult<()> {
    let bridge = connect(connection).await?;
    let subject = "/natsbridge/demo";
    let mut sub = bridge
        .subscribe(subject, ReceiveOptions::new())
        .await
        .map_err(describe)?;
    bridge.flush().await.map_err(describe)?;
    let students = Table::from_json_rows(&[
        serde_json::json!({"id": 1, "name": "Alice", "score": 95}),
        serde_json::json!({"id": 2, "name": "Bob", "score": 88}),
        serde_json::json!({"id": 3, "name": "Charlie", "score": 92}),
    ])
    .map_err(describe)?;
    let large: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let payloads = vec![
        Payload::text("message_text", "Hello from natsbridge!"),
        Payload::dictionary(
            "config",
            serde_json::json!({"wifi_ssid": "MyNetwork", "update_interval": 60}),
        ),
        Payload::table("students", students),
        Payload::bytes(
            "user_avatar",
            PayloadType::Image,
            vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a],
        ),
        Payload::bytes("large_document", PayloadType::Binary, large.clone()),
    ];
    let mut options = SendOptions::new().sender_name("natsbridge-demo");
    if let Some(url) = &fileserver_url {
        options = options.fileserver_url(url);
    }
    status(&format!(
        "sending a mixed message (5 payloads, one of 5 MB) to {subject} ..."
    ));
    let started = Instant::now();
    let sent = bridge
        .smartsend(subject, payloads, &options)
        .await
        .map_err(describe)?;
    let store = sent
        .payloads
        .iter()
        .position(|p| p.transport == Transport::Link)
        .map(|index| sent.payload_data(index).to_owned())
        .unwrap_or_default();
    status(&format!(
        "sent in {:.2?}; the large document went by link: {store}",
        started.elapsed()
    ));
    let envelope = sub
        .next_timeout(Duration::from_secs(30))
        .await
        .map_err(describe)?
        .ok_or("the subscription ended before the demo message arrived")?;
    print_envelope(&envelope, false);
    let same = envelope
        .payload("large_document")
        .and_then(|p| p.value.as_bytes())
        .is_some_and(|bytes| bytes.as_ref() == large.as_slice());
    if !same {
        return Err("the large document arrived different from what was sent".to_owned());
    }
    status(&format!(
        "demo OK: all 5 payloads arrived intact in {:.2?}",
        started.elapsed()
    ));
    bridge.close().await.map_err(describe)
}
