//! Upload and download handler callbacks: C function pointers with a
//! `user_data` pointer, turned into the core's `HandlerStore` and
//! `HandlerFetcher`.
//!
//! Callbacks are blocking C code, so each call runs on tokio's blocking
//! pool (`spawn_blocking`) and never stalls the I/O threads. Results come
//! back through an `nb_buffer` the library owns: the callback copies its
//! bytes in with `nb_buffer_append`, so no memory crosses allocators.
//!
//! A call that is abandoned (another payload of the same message failed
//! first, a request timed out) cannot stop a callback already running on
//! the blocking pool. Each exported call therefore counts the callbacks it
//! started ([`InFlight`]) and waits for them before returning, so the caller
//! may free `user_data` as soon as the call returns.

use std::ffi::{CString, c_char, c_void};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use natsbridge::error::BoxError;
use natsbridge::store::handlers::{DownloadHandler, UploadHandler};
use natsbridge::store::{ClaimCheckStore, HandlerFetcher, HandlerStore, LinkFetcher};

use crate::args;
use crate::error::{NB_OK, boundary, nb_error, nb_status, nb_status_name, to_cstring};

/// Where a handler callback puts its result (a URL, downloaded bytes) or, when
/// it fails, its error message. Owned by the library; valid only during the
/// callback it is passed to. Fill it with `nb_buffer_append`.
pub struct nb_buffer {
    data: Vec<u8>,
}

/// An upload handler: stores one link payload and returns its URL.
///
/// Called with the send's `fileserver_url` (`""` when the send options set
/// none), the payload's dataname, and its serialized bytes (`data`, `len`;
/// valid only during the call). On success it appends the URL (UTF-8, without
/// a terminating NUL) to `out_url` with `nb_buffer_append` and returns
/// `NB_OK`. On failure it returns any non-zero value and may append an error
/// message to `out_url` instead; the send then fails with `NB_ERR_HANDLER`
/// and that message, and nothing is published.
///
/// Runs on a library thread, possibly concurrently with itself (the link
/// payloads of one message are uploaded concurrently). It must not call
/// blocking natsbridge functions (`nb_client_*`): they fail with
/// `NB_ERR_INVALID_ARGUMENT` there.
pub type nb_upload_handler = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        fileserver_url: *const c_char,
        dataname: *const c_char,
        data: *const u8,
        len: usize,
        out_url: *mut nb_buffer,
    ) -> nb_status,
>;

/// A download handler: fetches the serialized bytes behind a link URL.
///
/// Called with the URL from the envelope and the receive options' retry
/// settings (`max_retries`, `base_delay_ms`, `max_delay_ms`) for the handler
/// to apply as it sees fit. On success it appends the payload's bytes to
/// `out_bytes` (in one or several `nb_buffer_append` calls) and returns
/// `NB_OK`; the library then checks them against the payload's size and
/// sha256. On failure it returns any non-zero value and may append an error
/// message to `out_bytes` instead; the receive fails with `NB_ERR_HANDLER`.
///
/// Same threading rules as `nb_upload_handler`.
pub type nb_download_handler = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        url: *const c_char,
        max_retries: u32,
        base_delay_ms: u64,
        max_delay_ms: u64,
        out_bytes: *mut nb_buffer,
    ) -> nb_status,
>;

/// Appends `len` bytes at `data` to a handler's result buffer (copied; the
/// caller keeps its memory). `data` may be NULL when `len` is 0.
///
/// Only valid on the buffer passed to the running callback.
/// Returns `NB_OK`, or `NB_ERR_INVALID_ARGUMENT` for a NULL buffer or data.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_buffer_append(
    buffer: *mut nb_buffer,
    data: *const u8,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: the buffer passed to a running callback; data per contract.
        let buffer = unsafe { args::required_mut(buffer, "buffer") }?;
        let bytes = unsafe { args::bytes(data, len, "data") }?;
        buffer.data.extend_from_slice(bytes);
        Ok(())
    })
}

/// The caller's `user_data`, passed back untouched. The caller promises
/// (in the header) that its callbacks may use it from any thread.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: the header requires user_data to be usable from any thread.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// Callbacks started by one exported call and not finished yet.
#[derive(Default)]
pub(crate) struct InFlight {
    running: Mutex<usize>,
    idle: Condvar,
}

/// One running callback; finishing it is dropping the guard.
pub(crate) struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    pub(crate) fn new() -> Arc<InFlight> {
        Arc::new(InFlight::default())
    }

    fn enter(self: &Arc<Self>) -> InFlightGuard {
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        InFlightGuard(self.clone())
    }

    /// Whether no callback is running now.
    pub(crate) fn is_idle(&self) -> bool {
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) == 0
    }

    /// Blocks until every callback started so far has returned.
    pub(crate) fn wait_idle(&self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        while *running > 0 {
            running = self.idle.wait(running).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut running = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
        *running -= 1;
        if *running == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// What a callback left in its buffer, as the failure it reports.
fn failure(which: &str, status: nb_status, buffer: Vec<u8>) -> BoxError {
    // SAFETY: nb_status_name returns a static C string.
    let name = unsafe { std::ffi::CStr::from_ptr(nb_status_name(status)) }.to_string_lossy();
    let detail = String::from_utf8_lossy(&buffer);
    let message = if detail.is_empty() {
        format!("the {which} callback returned status {status} ({name})")
    } else {
        format!("the {which} callback returned status {status} ({name}): {detail}")
    };
    message.into()
}

/// Runs a blocking callback on tokio's blocking pool, counted in `inflight`.
async fn off_runtime<T, F>(inflight: &Arc<InFlight>, call: F) -> Result<T, BoxError>
where
    F: FnOnce() -> Result<T, BoxError> + Send + 'static,
    T: Send + 'static,
{
    let guard = inflight.enter();
    tokio::task::spawn_blocking(move || {
        let _running = guard;
        call()
    })
    .await
    .map_err(|err| Box::new(err) as BoxError)?
}

type UploadFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const u8,
    usize,
    *mut nb_buffer,
) -> nb_status;

type DownloadFn =
    unsafe extern "C" fn(*mut c_void, *const c_char, u32, u64, u64, *mut nb_buffer) -> nb_status;

/// An upload handler registered on send options.
#[derive(Clone, Copy)]
pub(crate) struct UploadCallback {
    func: UploadFn,
    user_data: UserData,
}

impl UploadCallback {
    /// `None` when `func` is NULL (no handler).
    pub(crate) fn new(func: nb_upload_handler, user_data: *mut c_void) -> Option<UploadCallback> {
        func.map(|func| UploadCallback {
            func,
            user_data: UserData(user_data),
        })
    }

    /// A claim-check store for one call, counting its callbacks in `inflight`.
    pub(crate) fn store(
        self,
        fileserver_url: String,
        inflight: Arc<InFlight>,
    ) -> Arc<dyn ClaimCheckStore> {
        let handler: Arc<UploadHandler> = Arc::new(move |base: String, name: String, bytes| {
            let inflight = inflight.clone();
            Box::pin(async move {
                off_runtime(&inflight, move || self.call(&base, &name, &bytes)).await
            })
        });
        Arc::new(HandlerStore::new(fileserver_url, handler))
    }

    fn call(self, fileserver_url: &str, dataname: &str, bytes: &Bytes) -> Result<String, BoxError> {
        let fileserver_url = to_cstring(fileserver_url);
        let dataname = to_cstring(dataname);
        let mut buffer = nb_buffer { data: Vec::new() };
        // SAFETY: the caller registered a callback with this signature; every
        // pointer stays valid for the duration of the call.
        let status = unsafe {
            (self.func)(
                self.user_data.0,
                fileserver_url.as_ptr(),
                dataname.as_ptr(),
                bytes.as_ptr(),
                bytes.len(),
                &mut buffer,
            )
        };
        if status != NB_OK {
            return Err(failure("upload", status, buffer.data));
        }
        String::from_utf8(buffer.data)
            .map_err(|_| "the upload callback returned a URL that is not UTF-8".into())
    }
}

/// A download handler registered on receive options.
#[derive(Clone, Copy)]
pub(crate) struct DownloadCallback {
    func: DownloadFn,
    user_data: UserData,
}

impl DownloadCallback {
    /// `None` when `func` is NULL (no handler).
    pub(crate) fn new(
        func: nb_download_handler,
        user_data: *mut c_void,
    ) -> Option<DownloadCallback> {
        func.map(|func| DownloadCallback {
            func,
            user_data: UserData(user_data),
        })
    }

    /// A link fetcher for one call or subscription, counting its callbacks
    /// in `inflight`.
    pub(crate) fn fetcher(self, inflight: Arc<InFlight>) -> Arc<dyn LinkFetcher> {
        let handler: Arc<DownloadHandler> = Arc::new(
            move |url: String, retries: u32, base: Duration, max: Duration| {
                let inflight = inflight.clone();
                Box::pin(async move {
                    off_runtime(&inflight, move || self.call(&url, retries, base, max)).await
                })
            },
        );
        Arc::new(HandlerFetcher::new(handler))
    }

    fn call(
        self,
        url: &str,
        retries: u32,
        base: Duration,
        max: Duration,
    ) -> Result<Bytes, BoxError> {
        let url: CString = to_cstring(url);
        let mut buffer = nb_buffer { data: Vec::new() };
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        // SAFETY: the caller registered a callback with this signature; every
        // pointer stays valid for the duration of the call.
        let status = unsafe {
            (self.func)(
                self.user_data.0,
                url.as_ptr(),
                retries,
                millis(base),
                millis(max),
                &mut buffer,
            )
        };
        if status != NB_OK {
            return Err(failure("download", status, buffer.data));
        }
        Ok(Bytes::from(buffer.data))
    }
}
