//! Choosing the store for a send and fetching the links of a receive.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::http::{self, HttpStore};
use super::object_store::{self, ObjectStoreStore};
use super::policy::{LinkTarget, check_link};
use super::{Backoff, ClaimCheckStore, Fetched, Sink, check_declared_size};
use crate::bridge::Bridge;
use crate::codec;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::{PayloadInfo, PayloadValue, deserialize, safe_file_name};

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
                    self.max_payload(),
                )
            })
            .await?;
        Ok(Some(Arc::new(store.clone())))
    }
}

/// Fetches one link payload, verifies it and decodes it. With a custom
/// fetcher in `options` that fetcher is used; otherwise `http(s)` links are
/// downloaded (policy-checked, retried with backoff) and `nats-object` links
/// are read over `bridge`'s connection.
pub async fn fetch_link(
    bridge: Option<&Bridge>,
    url: &str,
    info: &PayloadInfo,
    options: &ReceiveOptions,
) -> Result<PayloadValue> {
    let labelled = |err: Error| err.with_dataname(info.dataname.clone());
    check_declared_size(info, options).map_err(labelled)?;
    if let Some(fetcher) = &options.fetcher {
        let bytes = fetcher.fetch(url, info, options).await.map_err(labelled)?;
        return codec::finish_link(info, bytes);
    }
    let target = check_link(url, options).map_err(labelled)?;
    let sink = match &options.save_dir {
        Some(dir) => Sink::File(dir.join(format!(
            "{}-{}",
            safe_file_name(&info.id),
            safe_file_name(&info.dataname)
        ))),
        None => Sink::Memory,
    };
    let fetched = match target {
        LinkTarget::Http(url) => http::fetch(url, info.clone(), options.clone(), sink).await?,
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
            backoff
                .run(|_| {
                    object_store::fetch(
                        jetstream,
                        &bucket,
                        &name,
                        info,
                        &sink,
                        options.request_timeout,
                    )
                })
                .await
                .map_err(labelled)?
        }
    };
    match fetched {
        Fetched::Memory(bytes) => deserialize(info, bytes),
        Fetched::File(path) => Ok(PayloadValue::File(path)),
    }
}
