//! Choosing the store for a send and fetching the links of a receive.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::http::{self, HttpStore};
use super::object_store::{self, ObjectStoreStore};
use super::policy::{LinkTarget, check_bucket, check_handler_link, check_link};
use super::{Backoff, ClaimCheckStore, Fetched, Sink, check_declared_size};
use crate::bridge::Bridge;
use crate::codec;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::{PayloadInfo, PayloadValue, deserialize};

/// The stores a bridge opened, kept for its lifetime.
#[derive(Default)]
pub(crate) struct Stores {
    object_store: OnceCell<ObjectStoreStore>,
}

impl Bridge {
    /// The claim-check store for a send: the send's own store, else its
    /// `fileserver_url`, else the bridge's, else the JetStream Object Store
    /// when the server has JetStream; `None` when there is none.
    pub(crate) async fn store_for(
        &self,
        options: &SendOptions,
    ) -> Result<Option<Arc<dyn ClaimCheckStore>>> {
        if let Some(store) = &options.store {
            return Ok(Some(store.clone()));
        }
        let defaults = &self.inner.options;
        if let Some(url) = options
            .fileserver_url
            .as_ref()
            .or(defaults.fileserver_url.as_ref())
        {
            let mut store = HttpStore::new(url.clone())?;
            if let Some(token) = options
                .fileserver_token
                .as_ref()
                .or(defaults.fileserver_token.as_ref())
            {
                store = store.with_token(token.clone());
            }
            return Ok(Some(Arc::new(store)));
        }
        if !self.inner.client.server_info().jetstream {
            return Ok(None);
        }
        let store = self
            .inner
            .stores
            .object_store
            .get_or_try_init(|| {
                ObjectStoreStore::open(
                    &self.inner.jetstream,
                    &defaults.object_store_bucket,
                    defaults.object_store_ttl,
                    defaults.object_store_replicas,
                    self.max_payload(),
                )
            })
            .await?;
        Ok(Some(Arc::new(store.clone())))
    }
}

/// Fetches one link payload, verifies it and decodes it. With a custom
/// fetcher in `options` that fetcher is used (after the same URL checks and
/// within `handler_timeout`); otherwise `http(s)` links are downloaded
/// (policy-checked, retried with backoff) and `nats-object` links are read
/// over `bridge`'s connection.
pub async fn fetch_link(
    bridge: Option<&Bridge>,
    url: &str,
    info: &PayloadInfo,
    options: &ReceiveOptions,
) -> Result<PayloadValue> {
    check_declared_size(info, options).map_err(|err| err.with_dataname(info.dataname.clone()))?;
    // One link alone is an envelope's worth of work: the same deadline.
    let budget = options.limits.envelope_timeout;
    let fetched = tokio::time::timeout(budget, fetch_raw(bridge, url, info, options))
        .await
        .map_err(|_| super::limits::envelope_timed_out(info, budget))??;
    into_value(info, fetched, options)
}

/// Turns what a download produced into `info`'s value; a table is held to
/// the receiver's `max_table_rows`.
pub(crate) fn into_value(
    info: &PayloadInfo,
    fetched: Fetched,
    options: &ReceiveOptions,
) -> Result<PayloadValue> {
    match fetched {
        Fetched::Memory(bytes) => {
            let value = deserialize(info, bytes)?;
            super::limits::check_value(info, &value, options)?;
            Ok(value)
        }
        Fetched::File(path) => Ok(PayloadValue::File(path)),
    }
}

/// The bucket Object Store links are read from by default: the bridge's own.
fn own_bucket(bridge: Option<&Bridge>) -> Option<&str> {
    bridge.map(|bridge| bridge.inner.options.object_store_bucket.as_str())
}

/// Downloads and verifies (size, sha256) one link payload's bytes, into
/// memory or, with a `save_dir`, into a file named after its dataname.
pub(crate) async fn fetch_raw(
    bridge: Option<&Bridge>,
    url: &str,
    info: &PayloadInfo,
    options: &ReceiveOptions,
) -> Result<Fetched> {
    let labelled = |err: Error| err.with_dataname(info.dataname.clone());
    if let Some(fetcher) = &options.fetcher {
        // The same rules as a built-in download, before the handler sees the URL.
        check_handler_link(url, options, own_bucket(bridge))
            .await
            .map_err(labelled)?;
        let timeout = options.get_handler_timeout();
        let bytes = tokio::time::timeout(timeout, fetcher.fetch(url, info, options))
            .await
            .map_err(|_| {
                labelled(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the download handler did not return payload '{}' within {timeout:?} \
                         (handler_timeout)",
                        info.dataname
                    ),
                ))
            })?
            .map_err(labelled)?;
        codec::verify(info, &bytes)?;
        return Ok(Fetched::Memory(bytes));
    }
    let target = check_link(url, options, own_bucket(bridge)).map_err(labelled)?;
    let sink = match &options.save_dir {
        Some(dir) => Sink::File {
            dir: dir.clone(),
            dataname: info.dataname.clone(),
        },
        None => Sink::Memory,
    };
    match target {
        LinkTarget::Http(url) => http::fetch(url, info.clone(), options.clone(), sink).await,
        LinkTarget::NatsObject { bucket, name } => {
            let Some(bridge) = bridge else {
                return Err(labelled(Error::new(
                    ErrorKind::Download,
                    format!(
                        "payload '{}' is in the JetStream Object Store ({url}); reading it needs a NATS connection",
                        info.dataname
                    ),
                )));
            };
            let backoff = Backoff::new(options.max_retries, options.base_delay, options.max_delay);
            let jetstream = &bridge.inner.jetstream;
            let allowed = |bucket: &str| check_bucket(bucket, options, own_bucket(Some(bridge)));
            backoff
                .run(|_| {
                    object_store::fetch(
                        jetstream,
                        &bucket,
                        &name,
                        info,
                        &sink,
                        options.download_timeout,
                        &allowed,
                    )
                })
                .await
                .map_err(labelled)
        }
    }
}
