//! Running the core's futures from Python: blocking (GIL released, Ctrl-C
//! honoured) and as asyncio awaitables.
//!
//! Every connection lives on the core's process-wide tokio runtime
//! ([`natsbridge::runtime::global`]). Blocking calls drive their future on the
//! calling thread with that runtime's I/O and timers, with the GIL released,
//! in slices of [`SIGNAL_SLICE`] so that a pending `KeyboardInterrupt` is
//! raised within a fraction of a second. Short work (a small send, decoding a
//! small message: [`SHORT_WORK_BYTES`]) is first tried without releasing the
//! GIL; only what then has to wait for I/O waits with it released.
//!
//! Awaitables are `asyncio.Future`s. The future is polled once on the
//! caller's thread; if it is not done, `pyo3-async-runtimes` (set to spawn on
//! the same runtime) runs it there and completes the asyncio future on the
//! caller's loop through `call_soon_threadsafe`, so the loop never blocks on
//! I/O; cancelling the asyncio future drops the Rust one.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use natsbridge::ErrorKind;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;

use crate::error::{NbError, nb_error};

/// How long a blocking call waits before looking for signals again.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// Work on at most this many bytes (encoding a send, decoding a message)
/// counts as short: it runs without releasing the GIL (see [`wait_short`]).
/// Releasing and re-taking a contended GIL costs two thread hand-overs,
/// more than encoding or decoding a few kilobytes.
pub const SHORT_WORK_BYTES: usize = 64 * 1024;

/// Points `pyo3-async-runtimes` at the core's runtime; called at import.
pub fn init() {
    // Err means it was already set (a second interpreter init): harmless.
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(natsbridge::runtime::global());
}

/// Runs `future` to completion on this thread with the GIL released,
/// raising `KeyboardInterrupt` (or whatever a signal handler raises) if a
/// signal arrives meanwhile; the future is then dropped, which cancels it.
pub fn wait<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    drive(py, future, false)
}

/// Like [`wait`], but first polls `future` once without releasing the GIL:
/// for work known to be short (a small send, decoding a small message),
/// which then finishes without two GIL hand-overs. Whatever waits for I/O
/// still waits with the GIL released.
pub fn wait_short<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    drive(py, future, true)
}

fn drive<F>(py: Python<'_>, future: F, inline_first: bool) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        // A handler running on the runtime called back into a blocking API.
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            "a blocking natsbridge call was made from inside a natsbridge handler or runtime \
             thread; it would deadlock",
        )
        .into());
    }
    let runtime = natsbridge::runtime::global();
    let mut future = Box::pin(future);
    if inline_first {
        let mut context = Context::from_waker(Waker::noop());
        let polled = {
            let _runtime = runtime.enter();
            future.as_mut().poll(&mut context)
        };
        if let Poll::Ready(output) = polled {
            return Ok(output);
        }
    }
    loop {
        // The timeout is made inside block_on: its timer needs the runtime.
        let step = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_SLICE, future.as_mut()).await })
        });
        match step {
            Ok(output) => return Ok(output),
            Err(_elapsed) => {
                if let Err(err) = py.check_signals() {
                    // Drop the future inside the runtime: its timers and I/O
                    // registrations belong there.
                    let _guard = runtime.enter();
                    drop(future);
                    return Err(err);
                }
            }
        }
    }
}

/// Like [`wait`] for futures that yield a core `Result`.
pub fn wait_nb<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = natsbridge::Result<T>> + Send,
    T: Send,
{
    Ok(wait(py, future)?.map_err(NbError)?)
}

/// [`wait_short`] when `work_bytes` is at most [`SHORT_WORK_BYTES`], else
/// [`wait`]; for futures that yield a core `Result`.
pub fn wait_sized<F, T>(py: Python<'_>, work_bytes: usize, future: F) -> PyResult<T>
where
    F: Future<Output = natsbridge::Result<T>> + Send,
    T: Send,
{
    let output = if work_bytes <= SHORT_WORK_BYTES {
        wait_short(py, future)?
    } else {
        wait(py, future)?
    };
    Ok(output.map_err(NbError)?)
}

/// An asyncio awaitable (an `asyncio.Future`) of `future`.
///
/// The future is polled once right away, on the caller's thread: most sends
/// and many receives finish without waiting for I/O, and then the returned
/// future is already done, with no thread hop. Otherwise it moves to the
/// core's runtime and completes the asyncio future from there. Its output is
/// turned into a Python object with the GIL once it is done.
pub fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let mut future = Box::pin(future);
    let mut context = Context::from_waker(Waker::noop());
    let polled = {
        let _runtime = natsbridge::runtime::global().enter();
        future.as_mut().poll(&mut context)
    };
    match polled {
        Poll::Ready(result) => {
            let done = pyo3_async_runtimes::get_running_loop(py)?.call_method0("create_future")?;
            match result {
                Ok(value) => {
                    done.call_method1("set_result", (value.into_bound_py_any(py)?,))?;
                }
                Err(err) => {
                    done.call_method1("set_exception", (err.into_value(py),))?;
                }
            }
            Ok(done)
        }
        Poll::Pending => pyo3_async_runtimes::tokio::future_into_py(py, future),
    }
}

/// [`awaitable`] for futures yielding a core `Result`.
pub fn awaitable_nb<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = natsbridge::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    awaitable(py, async move {
        future.await.map_err(|err| PyErr::from(NbError(err)))
    })
}
