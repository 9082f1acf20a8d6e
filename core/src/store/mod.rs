//! Claim-check stores: where link payloads go on send ([`ClaimCheckStore`])
//! and how they come back on receive ([`LinkFetcher`]).
//!
//! A store takes a payload's bytes (in memory, or a stream from a file) and
//! returns the URL that travels in the envelope. Bindings implement these two
//! traits over callbacks in their own language (the original design's
//! `fileserver_upload_handler` / `fileserver_download_handler`).

mod buffer;
mod fetch;
pub mod handlers;
pub mod http;
pub(crate) mod limits;
pub mod object_store;
pub mod plik;
mod policy;
pub mod progress;
mod save;

pub(crate) use fetch::Stores;
pub use fetch::fetch_link;
pub use handlers::{HandlerFetcher, HandlerStore};
pub use http::HttpStore;
pub use object_store::ObjectStoreStore;
pub use plik::PlikStore;
pub use policy::{NATS_OBJECT_SCHEME, check_link_url};
pub use progress::{Direction, Progress, TransferProgress, UploadProgress};
pub use save::save_bytes;

use std::fmt::Debug;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::io::AsyncRead;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;
use crate::payload::PayloadInfo;
use buffer::DownloadBuffer;

/// The bytes of a payload to upload.
pub enum UploadBody {
    /// Serialized bytes in memory (reference-counted; cloning does not copy).
    Bytes(Bytes),
    /// Serialized bytes in memory whose upload reports progress: a store
    /// sends them as [`UploadProgress::chunks`] (views, no copy) or reads
    /// them through [`UploadProgress::reader`].
    Tracked {
        /// The bytes.
        bytes: Bytes,
        /// Where the store reports how far the upload got.
        progress: UploadProgress,
    },
    /// A stream of exactly `len` bytes, read once (a file payload).
    Stream {
        /// The bytes.
        reader: Pin<Box<dyn AsyncRead + Send>>,
        /// How many bytes the reader yields.
        len: u64,
    },
}

impl UploadBody {
    /// The number of bytes to upload.
    pub fn len(&self) -> u64 {
        match self {
            UploadBody::Bytes(bytes) | UploadBody::Tracked { bytes, .. } => bytes.len() as u64,
            UploadBody::Stream { len, .. } => *len,
        }
    }

    /// True when there is nothing to upload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the whole body into memory; for handlers that take bytes.
    pub async fn into_bytes(self) -> std::io::Result<Bytes> {
        match self {
            UploadBody::Bytes(bytes) => Ok(bytes),
            // A handler that takes bytes gets them all at once.
            UploadBody::Tracked { bytes, progress } => {
                progress.report(bytes.len() as u64);
                Ok(bytes)
            }
            UploadBody::Stream { mut reader, len } => {
                use tokio::io::AsyncReadExt as _;
                let mut buffer = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                reader.read_to_end(&mut buffer).await?;
                Ok(Bytes::from(buffer))
            }
        }
    }
}

impl Debug for UploadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadBody::Bytes(bytes) => write!(f, "UploadBody::Bytes({} bytes)", bytes.len()),
            UploadBody::Tracked { bytes, .. } => {
                write!(f, "UploadBody::Tracked({} bytes)", bytes.len())
            }
            UploadBody::Stream { len, .. } => write!(f, "UploadBody::Stream({len} bytes)"),
        }
    }
}

/// A place link payloads are uploaded to.
pub trait ClaimCheckStore: Send + Sync + Debug {
    /// Uploads one payload and returns the URL receivers fetch it from.
    /// `info` carries the payload's id, dataname and size; its sha256 is
    /// computed while the upload runs, so it is not known here yet.
    fn upload<'a>(
        &'a self,
        info: &'a PayloadInfo,
        body: UploadBody,
    ) -> BoxFuture<'a, Result<String>>;

    /// An upper bound on the length of the URL [`ClaimCheckStore::upload`]
    /// will return for this payload, used to plan the envelope's size before
    /// uploading. The default allows 2 KiB (long presigned URLs).
    fn url_len_hint(&self, info: &PayloadInfo) -> usize {
        let _ = info;
        2048
    }
}

/// A way to fetch link payloads.
pub trait LinkFetcher: Send + Sync + Debug {
    /// Returns the serialized bytes behind `url`. The caller verifies `size`
    /// and `sha256` afterwards; a fetcher may check earlier to fail fast.
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        info: &'a PayloadInfo,
        options: &'a ReceiveOptions,
    ) -> BoxFuture<'a, Result<Bytes>>;
}

/// Bytes a file payload is read in (and uploaded in) per chunk.
const FILE_CHUNK: usize = 256 * 1024;

/// The digest and byte count of a file read by [`read_file_hashing`],
/// available once the upload has read it all.
pub(crate) struct FileDigest(tokio::task::JoinHandle<(String, u64)>);

impl FileDigest {
    /// The hex SHA-256 and the number of bytes of everything read.
    pub(crate) async fn finish(self) -> Result<(String, u64)> {
        self.0
            .await
            .map_err(|err| Error::from_join(err, "reading a file payload"))
    }
}

/// Reads a file payload once, on a blocking thread of its own that also
/// hashes it, and hands the chunks to the upload as an `AsyncRead`
/// ([`FileReader`]): reading from disk and hashing run beside the upload's
/// socket writes instead of between them (and without a blocking-pool hop
/// per read, as `tokio::fs::File` makes). A few chunks are queued ahead; if
/// the upload stops early, the thread stops at its next chunk.
pub(crate) fn read_file_hashing(mut file: std::fs::File) -> (FileReader, FileDigest) {
    use std::io::Read as _;
    let (chunks, queue) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let digest = tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        let mut read = 0u64;
        loop {
            // An exact-size buffer filled by `take`: no zeroing, no growth.
            let mut chunk = Vec::with_capacity(FILE_CHUNK);
            match (&mut file).take(FILE_CHUNK as u64).read_to_end(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&chunk);
                    read += n as u64;
                    if chunks.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        break; // the upload stopped reading
                    }
                }
                Err(err) => {
                    let _ = chunks.blocking_send(Err(err));
                    break;
                }
            }
        }
        (hex::encode(hasher.finalize()), read)
    });
    (FileReader::new(queue), FileDigest(digest))
}

/// The upload's side of [`read_file_hashing`]. A read waits until the
/// caller's buffer can be filled (or the file has ended), so a store that
/// publishes each read as one chunk (the Object Store's `put`) gets chunks
/// of its own size whatever the file reader's chunks are, and every read
/// but the last is full.
pub(crate) struct FileReader {
    queue: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    /// Chunks taken from the queue, not yet read; `queued` bytes in all.
    chunks: std::collections::VecDeque<Bytes>,
    queued: usize,
    /// The file has ended (or failed): nothing more comes from the queue.
    ended: bool,
    /// A read error, reported once the bytes before it have been read.
    error: Option<std::io::Error>,
}

impl FileReader {
    fn new(queue: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>) -> FileReader {
        FileReader {
            queue,
            chunks: std::collections::VecDeque::new(),
            queued: 0,
            ended: false,
            error: None,
        }
    }
}

impl AsyncRead for FileReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        // Take chunks until this read can be filled. The reader thread keeps
        // going meanwhile: what is taken here no longer counts against its
        // queue, and what is held is at most one read plus one chunk.
        while !this.ended && this.queued < buf.remaining() {
            match this.queue.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.queued += chunk.len();
                    this.chunks.push_back(chunk);
                }
                Poll::Ready(Some(Err(err))) => {
                    this.error = Some(err);
                    this.ended = true;
                }
                Poll::Ready(None) => this.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        let start = buf.filled().len();
        while buf.remaining() > 0 {
            let Some(front) = this.chunks.front_mut() else {
                break;
            };
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front.split_to(n));
            this.queued -= n;
            if front.is_empty() {
                this.chunks.pop_front();
            }
        }
        match this.error.take() {
            Some(err) if buf.filled().len() == start => Poll::Ready(Err(err)),
            error => {
                this.error = error;
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// Where a download writes: memory, or a file in the receiver's save_dir
/// (named after the dataname, see [`save`]).
pub(crate) enum Sink {
    Memory,
    File { dir: PathBuf, dataname: String },
}

/// What a download produced.
pub(crate) enum Fetched {
    Memory(Bytes),
    File(PathBuf),
}

/// The most memory a download reserves before bytes arrive; past it the
/// buffer grows with what was received (at most doubling), so a declared
/// size alone never reserves memory.
const UPFRONT_RESERVATION: usize = 4 << 20;

/// Receives a link payload's bytes as they stream in: enforces the declared
/// size and the download cap on every chunk (a server that lies about its
/// length cannot make us hold more), hashes, and writes to memory or to a
/// temporary file that gets its final name only once verified. Dropped
/// unfinished, it removes its temporary file.
pub(crate) struct DownloadSink<'a> {
    info: &'a PayloadInfo,
    source: String,
    hasher: Background<String>,
    received: u64,
    memory: DownloadBuffer,
    file: Option<(Background<std::io::Result<()>>, PathBuf, PathBuf, String)>,
    progress: Option<Progress>,
}

impl<'a> DownloadSink<'a> {
    /// Starts a download of `info` from `source` (named in errors).
    pub(crate) async fn new(
        info: &'a PayloadInfo,
        sink: &Sink,
        source: &str,
    ) -> Result<DownloadSink<'a>> {
        let mut memory = DownloadBuffer::new();
        let file = match sink {
            Sink::Memory => {
                let upfront = usize::try_from(info.size)
                    .unwrap_or(usize::MAX)
                    .min(UPFRONT_RESERVATION);
                reserve(&mut memory, upfront, info)?;
                None
            }
            Sink::File { dir, dataname } => {
                let in_dir = dir.clone();
                let (handle, temp) =
                    tokio::task::spawn_blocking(move || save::create_temp(&in_dir))
                        .await
                        .map_err(|err| {
                            Error::new(ErrorKind::Closed, "creating a temporary file was cancelled")
                                .with_source(err)
                        })??;
                Some((
                    background_writer(handle),
                    temp,
                    dir.clone(),
                    dataname.clone(),
                ))
            }
        };
        Ok(DownloadSink {
            info,
            source: source.to_owned(),
            hasher: background_hasher(),
            received: 0,
            memory,
            file,
            progress: None,
        })
    }

    /// Reports the bytes received to `progress` as chunks arrive.
    pub(crate) fn with_progress(mut self, progress: Option<&Progress>) -> DownloadSink<'a> {
        if let Some(progress) = progress {
            progress.report(Direction::Download, &self.info.dataname, 0, self.info.size);
        }
        self.progress = progress.cloned();
        self
    }

    /// Takes the next chunk.
    pub(crate) async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.received += chunk.len() as u64;
        // The declared size was checked against the cap before the download
        // started, so staying within it keeps us within the cap too.
        if self.received > self.info.size {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "payload '{}' declares size {} but {} sends more",
                    self.info.dataname, self.info.size, self.source
                ),
            ));
        }
        // The hasher's queue lives until `finish`: a send cannot fail first.
        self.hasher.send(chunk.clone()).await;
        if let Some(progress) = &self.progress {
            progress.report(
                Direction::Download,
                &self.info.dataname,
                self.received,
                self.info.size,
            );
        }
        match &mut self.file {
            Some((writer, temp, _, dataname)) => {
                if writer.send(chunk).await {
                    return Ok(());
                }
                // The writer stopped on an error: report it.
                let err = match writer.finish("writing the payload to disk").await? {
                    Err(err) => err,
                    Ok(()) => std::io::Error::other("the file writer stopped early"),
                };
                Err(save::write_error(dataname, temp, err))
            }
            None => {
                let free = self.memory.capacity() - self.memory.len();
                if free < chunk.len() {
                    // Grow with what arrived (at most doubling), never past
                    // the declared size the received bytes are held to.
                    let declared = usize::try_from(self.info.size).unwrap_or(usize::MAX);
                    let needed = self.memory.len() + chunk.len();
                    let target = needed
                        .max(self.memory.capacity().saturating_mul(2))
                        .min(declared);
                    let more = target.max(needed) - self.memory.len();
                    reserve(&mut self.memory, more, self.info)?;
                }
                self.memory.extend_from_slice(&chunk);
                Ok(())
            }
        }
    }

    /// Checks the total size and the digest, and hands the payload over.
    pub(crate) async fn finish(mut self) -> Result<Fetched> {
        if self.received != self.info.size {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "payload '{}' declares size {} but {} sent {} bytes",
                    self.info.dataname, self.info.size, self.source, self.received
                ),
            ));
        }
        let digest = self.hasher.finish("hashing a download").await?;
        if let Some(expected) = &self.info.sha256
            && &digest != expected
        {
            return Err(crate::codec::sha_mismatch(self.info, &digest));
        }
        match self.file.take() {
            None => Ok(Fetched::Memory(
                std::mem::replace(&mut self.memory, DownloadBuffer::new()).into_bytes(),
            )),
            Some((mut writer, temp, dir, dataname)) => {
                let written = match writer.finish("writing the payload to disk").await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(err)) => Err(save::write_error(&dataname, &temp, err)),
                    Err(err) => Err(err),
                };
                if let Err(err) = written {
                    let _ = std::fs::remove_file(&temp);
                    return Err(err);
                }
                let path =
                    tokio::task::spawn_blocking(move || save::publish(&temp, &dir, &dataname))
                        .await
                        .map_err(|err| {
                            Error::new(ErrorKind::Closed, "saving the payload was cancelled")
                                .with_source(err)
                        })??;
                Ok(Fetched::File(path))
            }
        }
    }
}

/// Reserves `additional` bytes for a download, or fails with a typed error
/// instead of aborting the process.
fn reserve(memory: &mut DownloadBuffer, additional: usize, info: &PayloadInfo) -> Result<()> {
    memory.try_reserve_exact(additional).map_err(|err| {
        Error::new(
            ErrorKind::Io,
            format!(
                "cannot hold payload '{}' ({} bytes) in memory",
                info.dataname, info.size
            ),
        )
        .with_dataname(info.dataname.clone())
        .with_source(err)
    })
}

impl Drop for DownloadSink<'_> {
    fn drop(&mut self) {
        if let Some((_, temp, _, _)) = &self.file {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Bytes of chunks queued for one [`Background`] thread at most: enough to
/// overlap its work with receiving, without pinning many of the receive
/// buffers the chunks are views of (an Object Store chunk is up to 1 MiB).
const BACKGROUND_BUDGET: usize = 2 << 20;

/// A blocking thread fed a download's chunks through a queue of at most
/// [`BACKGROUND_BUDGET`] bytes, so its work (hashing; writing to disk)
/// overlaps receiving: the hasher and the file writer of [`DownloadSink`].
struct Background<T> {
    chunks: Option<tokio::sync::mpsc::Sender<(Bytes, OwnedSemaphorePermit)>>,
    budget: Arc<Semaphore>,
    result: Option<tokio::task::JoinHandle<T>>,
}

/// The chunks a [`Background`] thread takes, in order; each chunk's bytes
/// count against the budget until the thread asks for the next one.
struct Chunks {
    queue: tokio::sync::mpsc::Receiver<(Bytes, OwnedSemaphorePermit)>,
    held: Option<OwnedSemaphorePermit>,
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.held = None;
        let (chunk, permit) = self.queue.blocking_recv()?;
        self.held = Some(permit);
        Some(chunk)
    }
}

impl<T: Send + 'static> Background<T> {
    /// Runs `work` on a blocking thread over the chunks; it returns once
    /// they end (or early, on an error of its own).
    fn start(work: impl FnOnce(&mut Chunks) -> T + Send + 'static) -> Background<T> {
        let (chunks, queue) = tokio::sync::mpsc::channel(64);
        let mut chunks_in = Chunks { queue, held: None };
        Background {
            chunks: Some(chunks),
            budget: Arc::new(Semaphore::new(BACKGROUND_BUDGET)),
            result: Some(tokio::task::spawn_blocking(move || work(&mut chunks_in))),
        }
    }

    /// Queues a chunk once the budget has room; false if the thread has
    /// stopped taking them.
    async fn send(&mut self, chunk: Bytes) -> bool {
        let Some(chunks) = &self.chunks else {
            return false;
        };
        // At least one permit, at most the whole budget (a larger chunk
        // waits for an empty queue).
        let cost = chunk.len().clamp(1, BACKGROUND_BUDGET) as u32;
        let Ok(permit) = self.budget.clone().acquire_many_owned(cost).await else {
            return false;
        };
        chunks.send((chunk, permit)).await.is_ok()
    }

    /// Ends the queue and waits for the thread's result.
    async fn finish(&mut self, what: &str) -> Result<T> {
        drop(self.chunks.take());
        match self.result.take() {
            Some(task) => task.await.map_err(|err| Error::from_join(err, what)),
            None => Err(Error::new(
                ErrorKind::Closed,
                "the download was already finished",
            )),
        }
    }
}

/// SHA-256 of a download, on its own thread.
fn background_hasher() -> Background<String> {
    Background::start(|chunks| {
        let mut hasher = Sha256::new();
        for chunk in chunks {
            hasher.update(&chunk);
        }
        hex::encode(hasher.finalize())
    })
}

/// Writes a download to its temporary file on its own thread: the chunks
/// are written as they came (no copy into a buffer of `tokio::fs::File`, no
/// blocking-pool hop per chunk). The first write error ends the thread.
fn background_writer(mut file: std::fs::File) -> Background<std::io::Result<()>> {
    use std::io::Write as _;
    Background::start(move |chunks| {
        for chunk in chunks {
            file.write_all(&chunk)?;
        }
        file.flush()
    })
}

/// Refuses a link payload whose declared size is over the receiver's cap,
/// before anything is fetched.
pub(crate) fn check_declared_size(info: &PayloadInfo, options: &ReceiveOptions) -> Result<()> {
    if info.size > options.max_download_size {
        return Err(limits::permanent(Error::new(
            ErrorKind::Download,
            format!(
                "payload '{}' declares {} bytes, over this receiver's max_download_size of {} bytes",
                info.dataname, info.size, options.max_download_size
            ),
        )));
    }
    Ok(())
}

/// Retries with exponential backoff and jitter: the delay before retry `n`
/// (from 0) is `min(max, base * 2^n)`, drawn uniformly from its upper half.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    retries: u32,
    base: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(retries: u32, base: Duration, max: Duration) -> Backoff {
        Backoff { retries, base, max }
    }

    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Runs `attempt` until it succeeds, fails fatally, or the retries are spent.
    pub(crate) async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, Attempt>>,
    {
        let mut retry = 0;
        loop {
            match attempt(retry).await {
                Ok(value) => return Ok(value),
                Err(Attempt::Fatal(err)) => return Err(err),
                Err(Attempt::Retry(err)) if retry >= self.retries => {
                    let message = format!(
                        "gave up after {} attempts: {}",
                        retry + 1,
                        err.full_message()
                    );
                    return Err(Error::new(err.kind(), message).with_source(err));
                }
                Err(Attempt::Retry(_)) => {
                    tokio::time::sleep(self.delay(retry)).await;
                    retry += 1;
                }
            }
        }
    }
}

/// One try's failure: worth retrying or not.
#[derive(Debug)]
pub(crate) enum Attempt {
    Retry(Error),
    Fatal(Error),
}

impl Attempt {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Attempt::Retry(err) | Attempt::Fatal(err) => err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::PayloadType;
    use crate::transport::Transport;

    fn declaring(size: u64, data: &[u8]) -> PayloadInfo {
        PayloadInfo {
            id: "p".into(),
            dataname: "d".into(),
            payload_type: PayloadType::Binary,
            transport: Transport::Link,
            size,
            sha256: Some(crate::codec::sha256_hex(data)),
            metadata: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_declared_size_reserves_memory_only_as_bytes_arrive() {
        let info = declaring(1 << 30, b"");
        let mut sink = DownloadSink::new(&info, &Sink::Memory, "test")
            .await
            .unwrap();
        assert!(
            sink.memory.capacity() <= UPFRONT_RESERVATION,
            "{}",
            sink.memory.capacity()
        );
        sink.write(Bytes::from(vec![1u8; 5 << 20])).await.unwrap();
        assert!(sink.memory.capacity() <= 2 * (5 << 20) + UPFRONT_RESERVATION);
        // A small payload gets its size (in whole pages on Linux: the
        // buffer is a mapping of its own), and its bytes.
        let data = vec![7u8; 1000];
        let info = declaring(1000, &data);
        let mut sink = DownloadSink::new(&info, &Sink::Memory, "test")
            .await
            .unwrap();
        let capacity = sink.memory.capacity();
        assert!((1000..=64 << 10).contains(&capacity), "{capacity}");
        sink.write(Bytes::from(data.clone())).await.unwrap();
        match sink.finish().await.unwrap() {
            Fetched::Memory(bytes) => assert_eq!(bytes.as_ref(), data.as_slice()),
            Fetched::File(_) => panic!("memory sink wrote a file"),
        }
    }

    #[tokio::test]
    async fn a_file_is_read_in_full_reads_with_its_digest() {
        use std::io::Write as _;
        use tokio::io::AsyncReadExt as _;
        let data: Vec<u8> = (0..(3 * FILE_CHUNK + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let (mut reader, digest) = read_file_hashing(file);
        // Reads larger and smaller than the reader's chunks: each one is
        // full until the file ends.
        let mut read = Vec::new();
        for size in [300_000, 1000, 400_000, 100_000, 300_000, 300_000] {
            let mut buf = vec![0u8; size];
            let n = reader.read(&mut buf).await.unwrap();
            assert_eq!(n, size.min(data.len() - read.len()), "read of {size}");
            read.extend_from_slice(&buf[..n]);
        }
        assert_eq!(read.len(), data.len());
        assert_eq!(
            reader.read(&mut [0u8; 10]).await.unwrap(),
            0,
            "then the end"
        );
        assert_eq!(read, data);
        let (sha, count) = digest.finish().await.unwrap();
        assert_eq!(sha, crate::codec::sha256_hex(&data));
        assert_eq!(count, data.len() as u64);
    }

    #[tokio::test]
    async fn a_file_read_error_comes_after_the_bytes_before_it() {
        use tokio::io::AsyncReadExt as _;
        let (chunks, queue) = tokio::sync::mpsc::channel(4);
        chunks.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
        chunks
            .send(Err(std::io::Error::other("disk gone")))
            .await
            .unwrap();
        let mut reader = FileReader::new(queue);
        let mut buf = [0u8; 10];
        assert_eq!(reader.read(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        let err = reader.read(&mut buf).await.unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
    }

    /// `/dev/full` fails every write with ENOSPC.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_disk_write_error_ends_the_writer_and_is_reported() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut writer = background_writer(file);
        // The first chunk is queued; the thread fails on it and stops, so a
        // later one finds the queue closed (or the first already did).
        let mut refused = false;
        for _ in 0..50 {
            if !writer.send(Bytes::from_static(b"payload")).await {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            refused,
            "the writer kept taking chunks after a failed write"
        );
        let err = writer.finish("writing").await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{err}");
    }
}
