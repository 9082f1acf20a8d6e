//! Claim-check stores from Python: the original design's handler callables
//! (`fileserver_upload_handler(fileserver_url, dataname, data) -> url`,
//! `fileserver_download_handler(url, max_retries, base_delay, max_delay) ->
//! bytes`) and the plik upload handlers.
//!
//! Python handlers run on the core runtime's blocking pool with the GIL, so
//! they never stall the runtime's I/O threads. A handler's exception travels
//! inside the core's `Handler` error and comes back out as the `__cause__` of
//! the raised `HandlerError`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use natsbridge::error::BoxError;
use natsbridge::payload::PayloadInfo;
use natsbridge::store::{
    ClaimCheckStore, HandlerFetcher, HandlerStore, LinkFetcher, PlikStore, UploadBody,
};
use natsbridge::{ErrorKind, PayloadType, Transport};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::error::{NbError, nb_error};
use crate::payload::bytes_from_py;
use crate::runtime;

/// Runs a Python callable on the runtime's blocking pool, with the GIL.
async fn call_python<T, F>(call: F) -> Result<T, BoxError>
where
    F: FnOnce(Python<'_>) -> PyResult<T> + Send + 'static,
    T: Send + 'static,
{
    natsbridge::runtime::global()
        .spawn_blocking(move || Python::attach(call))
        .await
        .map_err(|err| Box::new(err) as BoxError)?
        .map_err(|err| Box::new(err) as BoxError)
}

/// The store of a send's `fileserver_upload_handler`: a plik handler object
/// becomes the core's native (streaming) plik store; any other callable is
/// called with `(fileserver_url, dataname, data)`.
pub fn upload_store(
    handler: &Bound<'_, PyAny>,
    fileserver_url: Option<String>,
) -> PyResult<Arc<dyn ClaimCheckStore>> {
    if let Ok(plik) = handler.cast::<PlikUploadHandler>() {
        let Some(url) = fileserver_url else {
            return Err(nb_error(
                ErrorKind::InvalidArgument,
                "a plik upload handler needs fileserver_url (the plik server's address)",
            )
            .into());
        };
        return Ok(Arc::new(plik.get().store(url)));
    }
    if !handler.is_callable() {
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            "fileserver_upload_handler must be callable as handler(fileserver_url, dataname, data) -> url",
        )
        .into());
    }
    let handler = Arc::new(handler.clone().unbind());
    let call = move |fileserver_url: String, dataname: String, data: Bytes| {
        let handler = handler.clone();
        Box::pin(call_python(move |py| {
            let url = (!fileserver_url.is_empty()).then_some(fileserver_url);
            let result = handler.call1(py, (url, dataname, PyBytes::new(py, &data)))?;
            url_from_result(result.bind(py))
        })) as BoxFuture<'static, Result<String, BoxError>>
    };
    Ok(Arc::new(HandlerStore::new(
        fileserver_url.unwrap_or_default(),
        Arc::new(call),
    )))
}

/// An upload handler's answer: the URL, or (as the original plik helper
/// returned) a dict holding it under `"url"`.
fn url_from_result(result: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(url) = result.cast::<PyString>() {
        return Ok(url.to_cow()?.into_owned());
    }
    if let Ok(dict) = result.cast::<PyDict>()
        && let Some(url) = dict.get_item("url")?
    {
        return url.extract();
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "the upload handler must return the payload's URL as a str (or a dict with \"url\"), \
         got {}",
        result.get_type().qualname()?
    )))
}

/// The fetcher of a receive's `fileserver_download_handler`, called with
/// `(url, max_retries, base_delay_ms, max_delay_ms)` and returning bytes.
pub fn download_fetcher(handler: &Bound<'_, PyAny>) -> PyResult<Arc<dyn LinkFetcher>> {
    if !handler.is_callable() {
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            "fileserver_download_handler must be callable as \
             handler(url, max_retries, base_delay, max_delay) -> bytes",
        )
        .into());
    }
    let handler = Arc::new(handler.clone().unbind());
    let call = move |url: String, retries: u32, base: Duration, max: Duration| {
        let handler = handler.clone();
        Box::pin(call_python(move |py| {
            let args = (
                url,
                retries,
                base.as_millis() as u64,
                max.as_millis() as u64,
            );
            let result = handler.call1(py, args)?;
            bytes_from_py(result.bind(py))?.ok_or_else(|| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "the download handler must return bytes, got {}",
                    result
                        .bind(py)
                        .get_type()
                        .qualname()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })
        })) as BoxFuture<'static, Result<Bytes, BoxError>>
    };
    Ok(Arc::new(HandlerFetcher::new(Arc::new(call))))
}

/// An upload handler for a [plik](https://github.com/root-gg/plik) server.
///
/// Pass it as `fileserver_upload_handler` with `fileserver_url` set to the
/// plik server: natsbridge then uploads natively (streaming files, no Python
/// in the path). Calling it directly as `handler(fileserver_url, dataname,
/// data)` uploads too and returns the download URL, like the original
/// design's helpers.
///
/// `plik_upload` keeps files for `ttl` seconds (the one to use);
/// `plik_oneshot_upload` is the original design's default: plik deletes a
/// one-shot file after its first download, so a second subscriber, a
/// JetStream replay or a retried download finds it gone.
#[pyclass(name = "PlikUploadHandler", module = "natsbridge", frozen)]
pub struct PlikUploadHandler {
    ttl: Duration,
    token: Option<String>,
    oneshot: bool,
}

impl PlikUploadHandler {
    fn store(&self, fileserver_url: String) -> PlikStore {
        let store = if self.oneshot {
            PlikStore::oneshot(fileserver_url)
        } else {
            PlikStore::new(fileserver_url, self.ttl)
        };
        match &self.token {
            Some(token) => store.with_token(token.clone()),
            None => store,
        }
    }
}

#[pymethods]
impl PlikUploadHandler {
    /// A plik handler keeping files `ttl` seconds (default one day),
    /// authenticated with a plik user `token` if given, one-shot if asked.
    #[new]
    #[pyo3(signature = (ttl = 86_400.0, token = None, oneshot = false))]
    pub fn new(ttl: f64, token: Option<String>, oneshot: bool) -> PyResult<Self> {
        let ttl = Duration::try_from_secs_f64(ttl).map_err(|_| {
            nb_error(
                ErrorKind::InvalidArgument,
                "ttl must be a non-negative number of seconds",
            )
        })?;
        Ok(PlikUploadHandler {
            ttl,
            token,
            oneshot,
        })
    }

    /// Uploads `data` as `dataname` to the plik server at `fileserver_url`
    /// and returns its download URL.
    fn __call__(
        &self,
        py: Python<'_>,
        fileserver_url: String,
        dataname: String,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let bytes = bytes_from_py(data)?.ok_or_else(|| {
            nb_error(ErrorKind::InvalidArgument, "the plik handler uploads bytes")
        })?;
        let info = PayloadInfo {
            id: natsbridge::envelope::new_uuid(),
            dataname,
            payload_type: PayloadType::Binary,
            transport: Transport::Link,
            size: bytes.len() as u64,
            sha256: None,
            metadata: serde_json::Map::new(),
        };
        let store = self.store(fileserver_url);
        let url = runtime::wait(py, async move {
            store.upload(&info, UploadBody::Bytes(bytes)).await
        })?
        .map_err(NbError)?;
        Ok(url)
    }

    /// Seconds a file is kept.
    #[getter]
    fn ttl(&self) -> f64 {
        self.ttl.as_secs_f64()
    }

    /// True for the one-shot handler.
    #[getter]
    fn oneshot(&self) -> bool {
        self.oneshot
    }

    fn __repr__(&self) -> String {
        if self.oneshot {
            "natsbridge.PlikUploadHandler(oneshot=True)".to_owned()
        } else {
            format!(
                "natsbridge.PlikUploadHandler(ttl={}{})",
                self.ttl.as_secs_f64(),
                if self.token.is_some() {
                    ", token=..."
                } else {
                    ""
                }
            )
        }
    }
}
