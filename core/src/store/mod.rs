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
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

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

/// A shared SHA-256 state fed by a [`HashingReader`].
#[derive(Clone, Default)]
pub(crate) struct HashHandle(Arc<Mutex<(Sha256, u64)>>);

impl HashHandle {
    /// The hex digest and the byte count of everything read so far.
    pub(crate) fn finish(&self) -> (String, u64) {
        let guard = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        (hex::encode(guard.0.clone().finalize()), guard.1)
    }
}

/// Hashes the bytes of a stream as they are read, so a file payload is read
/// from disk once, whatever store it is streamed to.
pub(crate) struct HashingReader<R> {
    inner: R,
    hash: HashHandle,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> (HashingReader<R>, HashHandle) {
        let hash = HashHandle::default();
        (
            HashingReader {
                inner,
                hash: hash.clone(),
            },
            hash,
        )
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let fresh = &buf.filled()[before..];
            let mut guard = self
                .hash
                .0
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            guard.0.update(fresh);
            guard.1 += fresh.len() as u64;
        }
        poll
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
    hasher: BackgroundHasher,
    received: u64,
    memory: DownloadBuffer,
    file: Option<(tokio::fs::File, PathBuf, PathBuf, String)>,
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
                    tokio::fs::File::from_std(handle),
                    temp,
                    dir.clone(),
                    dataname.clone(),
                ))
            }
        };
        Ok(DownloadSink {
            info,
            source: source.to_owned(),
            hasher: BackgroundHasher::start(),
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
        self.hasher.update(chunk.clone()).await;
        if let Some(progress) = &self.progress {
            progress.report(
                Direction::Download,
                &self.info.dataname,
                self.received,
                self.info.size,
            );
        }
        match &mut self.file {
            Some((handle, _, _, _)) => {
                use tokio::io::AsyncWriteExt as _;
                handle.write_all(&chunk).await.map_err(|err| {
                    Error::new(ErrorKind::Io, "writing the payload to disk failed").with_source(err)
                })
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
        let digest = std::mem::take(&mut self.hasher).finish().await?;
        if let Some(expected) = &self.info.sha256
            && &digest != expected
        {
            return Err(crate::codec::sha_mismatch(self.info, &digest));
        }
        match self.file.take() {
            None => Ok(Fetched::Memory(
                std::mem::replace(&mut self.memory, DownloadBuffer::new()).into_bytes(),
            )),
            Some((mut handle, temp, dir, dataname)) => {
                use tokio::io::AsyncWriteExt as _;
                let flushed = handle.flush().await;
                drop(handle);
                if let Err(err) = flushed {
                    let _ = std::fs::remove_file(&temp);
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("cannot write payload '{dataname}' to {}", temp.display()),
                    )
                    .with_source(err));
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

/// SHA-256 on a blocking thread, fed chunk by chunk, so a download hashes in
/// parallel with receiving (hashing is slower than a loopback transfer).
#[derive(Default)]
struct BackgroundHasher {
    chunks: Option<tokio::sync::mpsc::Sender<Bytes>>,
    digest: Option<tokio::task::JoinHandle<String>>,
}

impl BackgroundHasher {
    fn start() -> BackgroundHasher {
        // A few chunks of slack: enough to overlap, little memory held.
        let (chunks, mut queue) = tokio::sync::mpsc::channel::<Bytes>(8);
        let digest = tokio::task::spawn_blocking(move || {
            let mut hasher = Sha256::new();
            while let Some(chunk) = queue.blocking_recv() {
                hasher.update(&chunk);
            }
            hex::encode(hasher.finalize())
        });
        BackgroundHasher {
            chunks: Some(chunks),
            digest: Some(digest),
        }
    }

    async fn update(&mut self, chunk: Bytes) {
        if let Some(chunks) = &self.chunks {
            // The receiving end lives until `finish`; a send cannot fail first.
            let _ = chunks.send(chunk).await;
        }
    }

    async fn finish(mut self) -> Result<String> {
        drop(self.chunks.take());
        match self.digest.take() {
            Some(task) => task
                .await
                .map_err(|err| Error::from_join(err, "hashing a download")),
            None => Err(Error::new(
                ErrorKind::Closed,
                "the download was already finished",
            )),
        }
    }
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
}
