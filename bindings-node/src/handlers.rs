//! The original design's claim-check callbacks, written in JS:
//! `fileserverUploadHandler(fileserverUrl, dataname, data) -> url` and
//! `fileserverDownloadHandler(url, maxRetries, baseDelay, maxDelay) -> bytes`.
//!
//! Each JS function becomes a core [`HandlerStore`] / [`HandlerFetcher`] over
//! a napi `ThreadsafeFunction`, so the core can call it from its runtime. A
//! handler may return its value or a Promise of it; what it throws (or rejects
//! with) becomes the `cause` of the `HANDLER` error that rejects the call.
//!
//! The threadsafe functions are *weak*: they never keep the process alive on
//! their own. While a handler is being called, the promise of the natsbridge
//! call that needs it is pending and holds the event loop open.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{
    Buffer, CallbackContext, FnArgs, FromNapiValue, Function, JsValuesTupleIntoVec, PromiseRaw,
    Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsValue, Status, ValueType};
use natsbridge::error::BoxError;
use natsbridge::store::{HandlerFetcher, HandlerStore};
use tokio::sync::oneshot;

use crate::bytes::bytes_of;
use crate::error::{JsCallbackError, invalid, invalid_napi};

/// The JS upload handler's arguments: `(fileserverUrl, dataname, data)`.
pub(crate) type UploadArgs = FnArgs<(String, String, Buffer)>;
/// The JS download handler's arguments: `(url, maxRetries, baseDelay, maxDelay)`.
pub(crate) type DownloadArgs = FnArgs<(String, u32, f64, f64)>;

type Tsfn<Args> = ThreadsafeFunction<Args, Unknown<'static>, Args, Status, false, true>;

/// Wraps a JS upload handler as a claim-check store. `fileserver_url` is the
/// first argument it receives (empty when the caller set none).
pub(crate) fn upload_store(
    handler: &Function<'_, UploadArgs, Unknown<'static>>,
    fileserver_url: String,
) -> natsbridge::Result<Arc<HandlerStore>> {
    let tsfn: Arc<Tsfn<UploadArgs>> = Arc::new(build(handler, "fileserverUploadHandler")?);
    let call = move |base: String, dataname: String, data: Bytes| {
        let tsfn = tsfn.clone();
        let future = async move {
            let args = FnArgs::from((base, dataname, Buffer::from(Vec::from(data))));
            call_handler(&tsfn, args, |env, value| {
                if value.get_type()? != ValueType::String {
                    return Err(napi::Error::new(
                        Status::InvalidArg,
                        "the upload handler must return the URL as a string (or a Promise of one)",
                    ));
                }
                // SAFETY: the value is a string of the current environment.
                unsafe { String::from_napi_value(env.raw(), value.raw()) }
            })
            .await
        };
        Box::pin(future) as futures::future::BoxFuture<'static, Result<String, BoxError>>
    };
    Ok(Arc::new(HandlerStore::new(fileserver_url, Arc::new(call))))
}

/// Wraps a JS download handler as a link fetcher.
pub(crate) fn download_fetcher(
    handler: &Function<'_, DownloadArgs, Unknown<'static>>,
) -> natsbridge::Result<Arc<HandlerFetcher>> {
    let tsfn: Arc<Tsfn<DownloadArgs>> = Arc::new(build(handler, "fileserverDownloadHandler")?);
    let call = move |url: String, retries: u32, base: Duration, max: Duration| {
        let tsfn = tsfn.clone();
        let future = async move {
            let millis = |d: Duration| d.as_secs_f64() * 1000.0;
            let args = FnArgs::from((url, retries, millis(base), millis(max)));
            call_handler(&tsfn, args, |_, value| {
                bytes_of(&value)?.ok_or_else(|| {
                    napi::Error::new(
                        Status::InvalidArg,
                        "the download handler must return a Buffer or Uint8Array (or a Promise of one)",
                    )
                })
            })
            .await
        };
        Box::pin(future) as futures::future::BoxFuture<'static, Result<Bytes, BoxError>>
    };
    Ok(Arc::new(HandlerFetcher::new(Arc::new(call))))
}

fn build<Args: 'static + JsValuesTupleIntoVec>(
    handler: &Function<'_, Args, Unknown<'static>>,
    name: &str,
) -> natsbridge::Result<Tsfn<Args>> {
    handler
        .build_threadsafe_function::<Args>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()
        .map_err(|err| invalid_napi(name, err))
}

/// Calls the JS handler on the JS thread and waits for its value: returned
/// directly, or the resolution of the Promise it returned. `convert` runs on
/// the JS thread and turns the JS value into what the core needs.
async fn call_handler<Args: 'static + JsValuesTupleIntoVec, T: Send + 'static>(
    tsfn: &Tsfn<Args>,
    args: Args,
    convert: fn(&Env, Unknown<'_>) -> napi::Result<T>,
) -> Result<T, BoxError> {
    let (sender, receiver) = oneshot::channel::<napi::Result<T>>();
    let status = tsfn.call_with_return_value(
        args,
        ThreadsafeFunctionCallMode::NonBlocking,
        move |returned: napi::Result<Unknown<'static>>, env: Env| {
            // Never return an error from here: napi would make it fatal.
            settle(&env, returned, sender, convert);
            Ok(())
        },
    );
    if status != Status::Ok {
        return Err(Box::new(invalid(format!(
            "the JS handler could not be called ({status}); is Node shutting down?"
        ))));
    }
    match receiver.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(thrown)) => Err(Box::new(JsCallbackError(thrown))),
        Err(_) => Err(Box::new(invalid(
            "the JS handler's result was lost (its Promise was never settled before Node shut down)",
        ))),
    }
}

/// Delivers a handler's outcome: at once for a plain value or a throw, on
/// settlement for a Promise.
fn settle<T: Send + 'static>(
    env: &Env,
    returned: napi::Result<Unknown<'_>>,
    sender: oneshot::Sender<napi::Result<T>>,
    convert: fn(&Env, Unknown<'_>) -> napi::Result<T>,
) {
    let value = match returned {
        Ok(value) => value,
        Err(thrown) => {
            let _ = sender.send(Err(thrown));
            return;
        }
    };
    if !value.is_promise().unwrap_or(false) {
        let _ = sender.send(convert(env, value));
        return;
    }
    // SAFETY: `value` is a promise of this environment.
    let promise =
        match unsafe { PromiseRaw::<Unknown<'_>>::from_napi_value(env.raw(), value.raw()) } {
            Ok(promise) => promise,
            Err(err) => {
                let _ = sender.send(Err(err));
                return;
            }
        };
    // Shared by both callbacks; whichever runs first takes it.
    let on_resolve = Rc::new(Cell::new(Some(sender)));
    let on_reject = on_resolve.clone();
    let observed = promise
        .then(move |ctx: CallbackContext<Unknown<'_>>| {
            if let Some(sender) = on_resolve.take() {
                let _ = sender.send(convert(&ctx.env, ctx.value));
            }
            Ok(())
        })
        .and_then(|chained| {
            chained.catch(move |ctx: CallbackContext<Unknown<'_>>| {
                if let Some(sender) = on_reject.take() {
                    let _ = sender.send(Err(napi::Error::from_unknown_without_coercion(ctx.value)));
                }
                Ok(())
            })
        });
    // If the callbacks could not be attached, their senders are dropped and
    // the waiting side reports the handler's result as lost.
    drop(observed);
}
