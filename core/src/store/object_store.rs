//! Link payloads in the JetStream Object Store: the default claim-check store
//! when no file server is configured, so large payloads work with nothing but
//! a NATS server. Links look like `nats-object://<bucket>/<payload id>`.

use std::time::Duration;

use async_nats::jetstream::object_store::{self, ObjectMetadata, ObjectStore};
use futures::future::BoxFuture;

use super::limits::permanent;
use super::policy::NATS_OBJECT_SCHEME;
use super::{Attempt, ClaimCheckStore, DownloadSink, Fetched, Sink, UploadBody};
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;
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
    /// removed by the server) and one copy when it does not exist. Chunks
    /// are as large as the server's `max_payload` allows, to keep round
    /// trips few.
    pub async fn open(
        jetstream: &async_nats::jetstream::Context,
        bucket: &str,
        ttl: Duration,
        max_payload: usize,
    ) -> Result<ObjectStoreStore> {
        ObjectStoreStore::open_replicated(jetstream, bucket, ttl, 1, max_payload).await
    }

    /// [`ObjectStoreStore::open`], creating the bucket kept by `replicas`
    /// servers (option `jetstream_replicas`). 0 is `InvalidArgument`.
    pub async fn open_replicated(
        jetstream: &async_nats::jetstream::Context,
        bucket: &str,
        ttl: Duration,
        replicas: usize,
        max_payload: usize,
    ) -> Result<ObjectStoreStore> {
        if replicas == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "option jetstream_replicas must be at least 1",
            ));
        }
        let store = match jetstream.get_object_store(bucket).await {
            Ok(store) => store,
            Err(_) => jetstream
                .create_object_store(object_store::Config {
                    bucket: bucket.to_owned(),
                    description: Some("natsbridge claim-check payloads".to_owned()),
                    max_age: ttl,
                    num_replicas: replicas,
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
                // The store copies into its chunks either way; the reader only counts.
                UploadBody::Tracked { bytes, progress } => {
                    self.store
                        .put(meta, &mut progress.reader(bytes.as_ref()))
                        .await
                }
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
/// once; a broken connection, or no chunk within the receive options'
/// `download_timeout`, may be retried.
pub(crate) async fn fetch(
    jetstream: &async_nats::jetstream::Context,
    bucket: &str,
    name: &str,
    info: &PayloadInfo,
    sink: &Sink,
    options: &ReceiveOptions,
    allowed: &(dyn Fn(&str) -> std::result::Result<(), String> + Sync),
) -> std::result::Result<Fetched, Attempt> {
    let missing = |err: &dyn std::fmt::Display| {
        Attempt::Fatal(permanent(Error::new(
            ErrorKind::Download,
            format!(
                "payload '{}': object {name:?} is not in the Object Store bucket {bucket:?} \
                 (expired, deleted, or stored on another NATS system): {err}",
                info.dataname
            ),
        )))
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
    // Follow links (objects naming another object, which natsbridge never
    // writes but another Object Store client may), a few hops at most.
    let mut place = (bucket.to_string(), name.to_string());
    let mut hops = 0;
    let object = loop {
        let store = jetstream
            .get_object_store(&place.0)
            .await
            .map_err(|err| match err.kind() {
                async_nats::jetstream::context::ObjectStoreErrorKind::GetStore => missing(&err),
                _ => broken("opening", &err),
            })?;
        let object = store.info(&place.1).await.map_err(|err| match err.kind() {
            object_store::InfoErrorKind::NotFound => missing(&err),
            _ => broken("reading from", &err),
        })?;
        if object.deleted {
            return Err(missing(&"the object was deleted"));
        }
        let Some(link) = object.options.as_ref().and_then(|o| o.link.as_ref()) else {
            break object;
        };
        let Some(target) = link.name.clone() else {
            return Err(missing(&"it is a link to a whole bucket, not an object"));
        };
        hops += 1;
        if hops > MAX_LINK_HOPS {
            return Err(missing(&format_args!(
                "it is a chain of more than {MAX_LINK_HOPS} links"
            )));
        }
        // A link into another bucket is held to the same bucket rule.
        allowed(&link.bucket).map_err(|why| {
            Attempt::Fatal(Error::new(
                ErrorKind::UrlNotAllowed,
                format!(
                    "refusing to follow {NATS_OBJECT_SCHEME}{bucket}/{name} to bucket {:?}: {why}",
                    link.bucket
                ),
            ))
        })?;
        place = (link.bucket.clone(), target);
    };
    let source = format!("{NATS_OBJECT_SCHEME}{bucket}/{name}");
    let mut download = DownloadSink::new(info, sink, &source)
        .await
        .map_err(Attempt::Fatal)?
        .with_progress(options.progress.as_ref());
    // No chunk for the download timeout is a stall.
    let stall_timeout = options.download_timeout;
    if object.chunks > 0 {
        match read_chunks(jetstream, &place.0, &object, &mut download, stall_timeout).await {
            Ok(()) => {}
            Err(ChunkError::Store(err)) => return Err(broken("reading from", &err)),
            Err(ChunkError::Sink(err)) => return Err(Attempt::Fatal(err)),
        }
    }
    download.finish().await.map_err(Attempt::Fatal)
}

/// Links followed at most from one object to the object holding the bytes.
const MAX_LINK_HOPS: usize = 4;

/// Chunks asked for at a time: the most a download holds in memory before
/// its sink has taken them (a chunk is 128 KiB by default).
const CHUNKS_IN_FLIGHT: usize = 8;

/// Reads the chunks of `object` in order through a pull consumer that asks
/// for [`CHUNKS_IN_FLIGHT`] at a time, handing each chunk's bytes to
/// `download` as they are (no copy). async-nats' own `get` uses a push
/// consumer whose flow control lets the server run tens of megabytes ahead of
/// a slow sink (a disk, the hash); this keeps a download's memory flat.
async fn read_chunks(
    jetstream: &async_nats::jetstream::Context,
    bucket: &str,
    object: &object_store::ObjectInfo,
    download: &mut DownloadSink<'_>,
    stall_timeout: Duration,
) -> std::result::Result<(), ChunkError> {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    use futures::StreamExt as _;
    let stream = jetstream
        .get_stream(format!("OBJ_{bucket}"))
        .await
        .map_err(ChunkError::store)?;
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            filter_subject: format!("$O.{bucket}.C.{}", object.nuid),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            // Removed by the server if this download dies without cleaning up.
            inactive_threshold: Duration::from_secs(30),
            memory_storage: true,
            ..Default::default()
        })
        .await
        .map_err(ChunkError::store)?;
    let consumer_name = consumer.cached_info().name.clone();
    let read = async {
        let mut chunks = consumer
            .stream()
            .max_messages_per_batch(CHUNKS_IN_FLIGHT)
            .messages()
            .await
            .map_err(ChunkError::store)?;
        for _ in 0..object.chunks {
            // A pull stream waits forever for a chunk that is not there (an
            // object whose metadata counts more chunks than were stored).
            let chunk = tokio::time::timeout(stall_timeout, chunks.next())
                .await
                .map_err(|_| {
                    ChunkError::store(format_args!(
                        "no chunk came within {stall_timeout:?} (the object has fewer chunks \
                         than its metadata says, or the server stalled)"
                    ))
                })?
                .ok_or_else(|| ChunkError::store("the chunk stream ended early"))?
                .map_err(ChunkError::store)?;
            let (message, _) = chunk.split();
            download
                .write(message.payload)
                .await
                .map_err(ChunkError::Sink)?;
        }
        Ok(())
    };
    let outcome = read.await;
    // Best effort: the inactivity threshold removes it otherwise.
    let _ = stream.delete_consumer(&consumer_name).await;
    outcome
}

/// Why reading chunks stopped: the store (worth a retry) or the sink (size
/// or disk: final).
enum ChunkError {
    Store(String),
    Sink(Error),
}

impl ChunkError {
    fn store(err: impl std::fmt::Display) -> ChunkError {
        ChunkError::Store(err.to_string())
    }
}
