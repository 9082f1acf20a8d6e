//! Every asynchronous export returns a Promise made here, from a core future.
//!
//! The future is polled once on the JS thread first. A small send, a receive
//! of a small message, or a `next()` whose message is already buffered
//! finishes in that poll, and the promise is settled at once: a thread hop
//! would cost more than the work. Anything else (waiting on the network, a
//! handler, a store, or encoding / decoding more than [`INLINE_BYTES`], see
//! [`offload_if_large`]) returns `Pending` there, and the same future moves to
//! napi's tokio runtime to finish (the core keeps its connections on its own
//! runtime, so this is safe). Its outcome becomes JS on the JS thread: the
//! value, or a JS `Error` with a `code` (see [`crate::error`]).
//!
//! Arguments are read before the future starts, on the JS thread; when that
//! fails the promise rejects the same way, so a bad argument never throws
//! synchronously.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

use futures::FutureExt as _;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue, within_runtime_if_available};
use napi::{Env, sys};

use crate::error;

/// The most payload bytes a call encodes or decodes on the JS thread; more
/// is done on a worker thread, so the event loop never waits on it.
pub(crate) const INLINE_BYTES: usize = 64 * 1024;

/// Lets the rest of the call run off the JS thread when it is about to
/// encode or decode more than [`INLINE_BYTES`].
pub(crate) async fn offload_if_large(bytes: usize) {
    if bytes > INLINE_BYTES {
        YieldOnce(false).await;
    }
}

/// Pending once, then ready: the point where a future polled on the JS
/// thread gives way and is moved to a worker.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

type Outcome<T> = Result<natsbridge::Result<T>, Box<dyn Any + Send>>;

/// Runs `work` and settles the returned promise with `to_js(value)` or the
/// error. A panic in `work` rejects with code `INTERNAL` instead of
/// unwinding into Node.
pub(crate) fn run<'env, T, V, F, C>(
    env: &'env Env,
    work: F,
    to_js: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = natsbridge::Result<T>> + Send + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    let mut work = Box::pin(AssertUnwindSafe(work).catch_unwind());
    let waker = futures::task::noop_waker();
    // Inside napi's runtime context, so tokio timers and I/O can register.
    let first =
        within_runtime_if_available(|| work.as_mut().poll(&mut Context::from_waker(&waker)));
    match first {
        Poll::Ready(outcome) => settled(env, outcome, to_js),
        Poll::Pending => env
            .spawn_future_with_callback(async move { Ok(work.await) }, move |env, outcome| {
                finish(env, outcome, to_js)
            }),
    }
}

fn finish<T, V, C>(env: &Env, outcome: Outcome<T>, to_js: C) -> napi::Result<V>
where
    C: FnOnce(&Env, T) -> napi::Result<V>,
{
    match outcome {
        Ok(Ok(value)) => to_js(env, value),
        Ok(Err(err)) => Err(error::to_js(env, &err)),
        Err(panic) => Err(error::internal(env, &panic_message(panic.as_ref()))),
    }
}

/// Like [`run`] for a future that, once pending, only waits for a value
/// another thread hands over (a subscription's next message): it stays on
/// the JS thread ([`crate::waiting`]) instead of moving to a worker, so its
/// wake-up is one hop to the JS thread and needs no threadsafe function of
/// its own. Whatever it does after a wake-up runs on the JS thread.
pub(crate) fn run_waiting<'env, T, V, F, C>(
    env: &'env Env,
    work: F,
    to_js: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: 'static,
    V: ToNapiValue,
    F: Future<Output = natsbridge::Result<T>> + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    let raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: a plain Node-API call on the JS thread's live environment.
    check(unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) })?;
    let mut work = Box::pin(AssertUnwindSafe(work).catch_unwind());
    let mut to_js = Some(to_js);
    crate::waiting::spawn(
        env,
        Box::new(move |env, cx| match work.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(outcome) => {
                if let Some(to_js) = to_js.take() {
                    // SAFETY: the deferred made above, settled once, on the JS thread.
                    let _ = unsafe { settle(env, deferred, outcome, to_js) };
                }
                Poll::Ready(())
            }
        }),
    )?;
    Ok(PromiseRaw::new(raw, promise))
}

/// A promise already settled with `outcome`.
fn settled<'env, T, V, C>(
    env: &'env Env,
    outcome: Outcome<T>,
    to_js: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    V: ToNapiValue,
    C: FnOnce(&Env, T) -> napi::Result<V>,
{
    let raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: plain Node-API calls on the JS thread's live environment.
    unsafe {
        check(sys::napi_create_promise(raw, &mut deferred, &mut promise))?;
        settle(env, deferred, outcome, to_js)?;
    }
    Ok(PromiseRaw::new(raw, promise))
}

/// Resolves `deferred` with `to_js(value)`, or rejects it with the error.
///
/// # Safety
/// On the JS thread of `env`; `deferred` is unsettled and is settled here.
unsafe fn settle<T, V, C>(
    env: &Env,
    deferred: sys::napi_deferred,
    outcome: Outcome<T>,
    to_js: C,
) -> napi::Result<()>
where
    V: ToNapiValue,
    C: FnOnce(&Env, T) -> napi::Result<V>,
{
    let raw = env.raw();
    // SAFETY: per this function's contract.
    unsafe {
        let value = finish(env, outcome, to_js).and_then(|value| V::to_napi_value(raw, value));
        match value {
            Ok(value) => check(sys::napi_resolve_deferred(raw, deferred, value)),
            Err(err) => {
                let reason = ToNapiValue::to_napi_value(raw, err)?;
                check(sys::napi_reject_deferred(raw, deferred, reason))
            }
        }
    }
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    napi_status(status, "settling a promise failed")
}

/// A Node-API status as a result: `what` failed unless it is `napi_ok`.
pub(crate) fn napi_status(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(napi::Status::from(status), what))
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    let detail = natsbridge::error::panic_message(panic);
    format!("natsbridge panicked (a bug; please report it): {detail}")
}
