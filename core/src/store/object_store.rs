//! Link payloads in the JetStream Object Store: the default claim-check store
//! when no file server is configured, so large payloads work with nothing but
//! a NATS server. Links look like `nats-object://<bucket>/<payload id>`.

use std::time::Duration;

use async_nats::jetstream::object_store::{self, ObjectMetadata, ObjectStore};
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt as _;

use super::policy::NATS_OBJECT_SCHEME;
use super::{Attempt, ClaimCheckStore, DownloadSink, Fetched, Sink, UploadBody};
use crate::error::{Error, ErrorKind, Result};
use crate::payload::PayloadInfo;

/// Stores link payloads as objects named by payload id in one bucket.
#[derive(Clone)]
pub struct ObjectStoreStore {
    bucket: String,
    store: ObjectStore,
    chunk_size: usize,
}

impl std::fmt::Debug for ObjectStoreStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreStore")
            .field("bucket", &self.bucket)
            .finish()
    }
}

impl ObjectStoreStore {
    /// Opens `bucket`, creating it with a `ttl` (objects older than that are
    /// removed by the server) when it does not exist. Chunks are as large as
    /// the server's `max_payload` allows, to keep round trips few.
    pub async fn open(
        jetstream: &async_nats::jetstream::Context,
        bucket: &str,
        ttl: Duration,
        max_payload: usize,
    ) -> Result<ObjectStoreStore> {
        let store = match jetstream.get_object_store(bucket).await {
            Ok(store) => store,
            Err(_) => jetstream
                .create_object_store(object_store::Config {
                    bucket: bucket.to_owned(),
                    description: Some("natsbridge claim-check payloads".to_owned()),
                    max_age: ttl,
                    ..Default::default()
                })
                .await
                .map_err(|err| {
                    Error::new(
                        ErrorKind::Upload,
                        format!("cannot create the JetStream Object Store bucket {bucket:?}"),
                    )
                    .with_source(err)
                })?,
        };
        Ok(ObjectStoreStore {
            bucket: bucket.to_owned(),
            store,
            // Leave room for the chunk message's headers within max_payload.
            chunk_size: max_payload.saturating_sub(4096).clamp(64 * 1024, 8 << 20),
        })
    }

    /// The link URL of a payload.
    pub fn url_for(&self, info: &PayloadInfo) -> String {
        format!(
            "{NATS_OBJECT_SCHEME}{}/{}",
            self.bucket,
            super::http::encode_segment(&info.id)
        )
    }
}

impl ClaimCheckStore for ObjectStoreStore {
    fn upload<'a>(
        &'a self,
        info: &'a PayloadInfo,
        body: UploadBody,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let meta = ObjectMetadata {
                name: info.id.clone(),
                description: Some(info.dataname.clone()),
                chunk_size: Some(self.chunk_size),
                ..Default::default()
            };
            let result = match body {
                UploadBody::Bytes(bytes) => self.store.put(meta, &mut bytes.as_ref()).await,
                UploadBody::Stream { mut reader, .. } => self.store.put(meta, &mut reader).await,
            };
            result.map_err(|err| {
                Error::new(
                    ErrorKind::Upload,
                    format!(
                        "storing payload '{}' in the Object Store bucket {:?} failed",
                        info.dataname, self.bucket
                    ),
                )
                .with_source(err)
            })?;
            Ok(self.url_for(info))
        })
    }

    fn url_len_hint(&self, info: &PayloadInfo) -> usize {
        self.url_for(info).len()
    }
}

/// Reads `name` from `bucket` over `jetstream`, with the size cap, and the
/// `size` and `sha256` checks done while reading. A missing object fails at
/// once; a broken connection may be retried.
pub(crate) async fn fetch(
    jetstream: &async_nats::jetstream::Context,
    bucket: &str,
    name: &str,
    info: &PayloadInfo,
    sink: &Sink,
) -> std::result::Result<Fetched, Attempt> {
    let missing = |err: &dyn std::fmt::Display| {
        Attempt::Fatal(Error::new(
            ErrorKind::Download,
            format!(
                "payload '{}': object {name:?} is not in the Object Store bucket {bucket:?} \
                 (expired, deleted, or stored on another NATS system): {err}",
                info.dataname
            ),
        ))
    };
    let broken = |what: &str, err: &dyn std::fmt::Display| {
        Attempt::Retry(Error::new(
            ErrorKind::Download,
            format!(
                "payload '{}': {what} the Object Store failed: {err}",
                info.dataname
            ),
        ))
    };
    let store = jetstream
        .get_object_store(bucket)
        .await
        .map_err(|err| match err.kind() {
            async_nats::jetstream::context::ObjectStoreErrorKind::GetStore => missing(&err),
            _ => broken("opening", &err),
        })?;
    let mut object = store.get(name).await.map_err(|err| match err.kind() {
        object_store::GetErrorKind::NotFound | object_store::GetErrorKind::BucketLink => {
            missing(&err)
        }
        _ => broken("reading from", &err),
    })?;
    let source = format!("{NATS_OBJECT_SCHEME}{bucket}/{name}");
    let mut download = DownloadSink::new(info, sink, &source)
        .await
        .map_err(Attempt::Fatal)?;
    loop {
        let mut buffer = bytes::BytesMut::with_capacity(256 * 1024);
        let n = object
            .read_buf(&mut buffer)
            .await
            .map_err(|err| broken("reading from", &err))?;
        if n == 0 {
            break;
        }
        download
            .write(buffer.freeze())
            .await
            .map_err(Attempt::Fatal)?;
    }
    download.finish().await.map_err(Attempt::Fatal)
}
