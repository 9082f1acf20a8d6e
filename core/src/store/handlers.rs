//! Stores and fetchers made from plain functions: how bindings pass the
//! original design's `fileserver_upload_handler(fileserver_url, dataname,
//! bytes) -> url` and `fileserver_download_handler(url, max_retries,
//! base_delay, max_delay) -> bytes` in their own language.
//!
//! The core still checks everything around a handler: the returned bytes
//! against `size` and `sha256`, the returned URL's length against the
//! envelope's budget. A handler's failure becomes an [`ErrorKind::Handler`]
//! error whose source is the handler's own error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::{ClaimCheckStore, LinkFetcher, UploadBody};
use crate::error::{BoxError, Error, ErrorKind, Result};
use crate::options::ReceiveOptions;
use crate::payload::PayloadInfo;

/// An upload handler: `(fileserver_url, dataname, bytes) -> url`.
pub type UploadHandler = dyn Fn(String, String, Bytes) -> BoxFuture<'static, std::result::Result<String, BoxError>>
    + Send
    + Sync;

/// A download handler: `(url, max_retries, base_delay, max_delay) -> bytes`.
pub type DownloadHandler = dyn Fn(String, u32, Duration, Duration) -> BoxFuture<'static, std::result::Result<Bytes, BoxError>>
    + Send
    + Sync;

/// A [`ClaimCheckStore`] that calls an upload handler.
///
/// ```
/// use std::sync::Arc;
/// use natsbridge::store::HandlerStore;
/// let store = HandlerStore::new("http://files.local", Arc::new(|base: String, name: String, bytes: bytes::Bytes| {
///     Box::pin(async move { Ok(format!("{base}/{name}?len={}", bytes.len())) }) as _
/// }));
/// ```
#[derive(Clone)]
pub struct HandlerStore {
    fileserver_url: String,
    handler: Arc<UploadHandler>,
}

impl HandlerStore {
    /// A store calling `handler` with `fileserver_url` as its first argument.
    pub fn new(fileserver_url: impl Into<String>, handler: Arc<UploadHandler>) -> HandlerStore {
        HandlerStore {
            fileserver_url: fileserver_url.into(),
            handler,
        }
    }
}

impl std::fmt::Debug for HandlerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerStore")
            .field("fileserver_url", &self.fileserver_url)
            .finish()
    }
}

impl ClaimCheckStore for HandlerStore {
    fn upload<'a>(
        &'a self,
        info: &'a PayloadInfo,
        body: UploadBody,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let bytes = body.into_bytes().await.map_err(|err| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot read payload '{}'", info.dataname),
                )
                .with_source(err)
            })?;
            let url = (self.handler)(self.fileserver_url.clone(), info.dataname.clone(), bytes)
                .await
                .map_err(|err| handler_error("upload", &info.dataname, err))?;
            if url.is_empty() {
                return Err(Error::new(
                    ErrorKind::Handler,
                    format!(
                        "the upload handler returned an empty URL for payload '{}'",
                        info.dataname
                    ),
                ));
            }
            Ok(url)
        })
    }
}

/// A [`LinkFetcher`] that calls a download handler.
#[derive(Clone)]
pub struct HandlerFetcher {
    handler: Arc<DownloadHandler>,
}

impl HandlerFetcher {
    /// A fetcher calling `handler`.
    pub fn new(handler: Arc<DownloadHandler>) -> HandlerFetcher {
        HandlerFetcher { handler }
    }
}

impl std::fmt::Debug for HandlerFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandlerFetcher")
    }
}

impl LinkFetcher for HandlerFetcher {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        info: &'a PayloadInfo,
        options: &'a ReceiveOptions,
    ) -> BoxFuture<'a, Result<Bytes>> {
        Box::pin(async move {
            (self.handler)(
                url.to_owned(),
                options.max_retries,
                options.base_delay,
                options.max_delay,
            )
            .await
            .map_err(|err| handler_error("download", &info.dataname, err))
        })
    }
}

fn handler_error(which: &str, dataname: &str, err: BoxError) -> Error {
    // A binding may already have built a natsbridge error (e.g. a Python
    // exception converted); keep its text and make it the cause.
    Error::new(
        ErrorKind::Handler,
        format!("the {which} handler failed for payload '{dataname}': {err}"),
    )
    .with_dataname(dataname)
    .with_source(err)
}
