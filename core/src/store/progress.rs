//! Progress of link payload transfers: a callback the caller sets on
//! [`crate::SendOptions::progress`] or [`crate::ReceiveOptions::progress`],
//! called as a link payload's bytes go to or come from its store.
//!
//! Counting never copies: uploads count what the store's reader or body
//! stream takes (slices of the payload's `Bytes`, or a file's reads), and
//! downloads count the chunks the download sink receives.

use std::fmt::Debug;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::io::{AsyncRead, ReadBuf};

/// Which way a link payload's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To a claim-check store (a send).
    Upload,
    /// From a link (a receive).
    Download,
}

/// One progress report: `done` of `total` bytes of payload `dataname`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferProgress<'a> {
    /// Upload or download.
    pub direction: Direction,
    /// The payload's dataname.
    pub dataname: &'a str,
    /// Bytes moved so far (a retried transfer starts again from 0).
    pub done: u64,
    /// The payload's size.
    pub total: u64,
}

/// A progress callback, shared by every transfer of a send or a receive
/// (payloads move concurrently, so it may be called from several tasks).
///
/// ```
/// use natsbridge::store::Progress;
/// let progress = Progress::new(|p| eprintln!("{}: {} of {} bytes", p.dataname, p.done, p.total));
/// let options = natsbridge::SendOptions::new().progress(progress);
/// ```
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(&TransferProgress<'_>) + Send + Sync>);

impl Progress {
    /// Wraps a callback.
    pub fn new(callback: impl Fn(&TransferProgress<'_>) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(callback))
    }

    pub(crate) fn report(&self, direction: Direction, dataname: &str, done: u64, total: u64) {
        (self.0)(&TransferProgress {
            direction,
            dataname,
            done,
            total,
        });
    }
}

impl Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(<callback>)")
    }
}

/// The upload side of one payload: its name, size and the callback.
#[derive(Debug, Clone)]
pub struct UploadProgress {
    progress: Progress,
    dataname: Arc<str>,
    total: u64,
}

impl UploadProgress {
    pub(crate) fn new(progress: Progress, dataname: &str, total: u64) -> UploadProgress {
        UploadProgress {
            progress,
            dataname: dataname.into(),
            total,
        }
    }

    /// Reports `done` bytes uploaded.
    pub fn report(&self, done: u64) {
        self.progress
            .report(Direction::Upload, &self.dataname, done, self.total);
    }

    /// The payload as a stream of `chunk`-byte slices of `bytes` (no copy:
    /// each is a reference-counted view), reporting as each is taken.
    pub fn chunks(
        &self,
        bytes: Bytes,
        chunk: usize,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let tracker = self.clone();
        let chunk = chunk.max(1);
        let mut offset = 0;
        self.report(0);
        futures::stream::iter(std::iter::from_fn(move || {
            if offset >= bytes.len() {
                return None;
            }
            let end = (offset + chunk).min(bytes.len());
            let slice = bytes.slice(offset..end);
            offset = end;
            tracker.report(end as u64);
            Some(Ok(slice))
        }))
    }

    /// Wraps a reader, reporting the bytes read from it.
    pub fn reader<R: AsyncRead>(&self, inner: R) -> ProgressReader<R> {
        self.report(0);
        ProgressReader {
            inner,
            tracker: self.clone(),
            done: 0,
        }
    }
}

/// A reader that reports how much has been read through it; see
/// [`UploadProgress::reader`].
pub struct ProgressReader<R> {
    inner: R,
    tracker: UploadProgress,
    done: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for ProgressReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let fresh = (buf.filled().len() - before) as u64;
            if fresh > 0 {
                self.done += fresh;
                self.tracker.report(self.done);
            }
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;
    use std::sync::Mutex;

    type Seen = Arc<Mutex<Vec<(u64, u64)>>>;

    fn recorder() -> (Progress, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress = Progress::new(move |p| sink.lock().unwrap().push((p.done, p.total)));
        (progress, seen)
    }

    #[tokio::test]
    async fn chunks_are_views_of_the_payload_and_are_counted() {
        let (progress, seen) = recorder();
        let bytes = Bytes::from(vec![7u8; 10]);
        let tracker = UploadProgress::new(progress, "blob", 10);
        let parts: Vec<Bytes> = tracker
            .chunks(bytes.clone(), 4)
            .map(|chunk| chunk.unwrap())
            .collect()
            .await;
        assert_eq!(parts.iter().map(Bytes::len).collect::<Vec<_>>(), [4, 4, 2]);
        // The same memory: a slice, not a copy.
        assert_eq!(parts[1].as_ptr(), bytes[4..].as_ptr());
        assert_eq!(*seen.lock().unwrap(), [(0, 10), (4, 10), (8, 10), (10, 10)]);
    }

    #[tokio::test]
    async fn a_reader_reports_what_was_read() {
        use tokio::io::AsyncReadExt as _;
        let (progress, seen) = recorder();
        let tracker = UploadProgress::new(progress, "file", 5);
        let mut reader = tracker.reader(&b"hello"[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(seen.lock().unwrap().last(), Some(&(5, 5)));
    }
}
