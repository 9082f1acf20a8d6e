//! The process-wide tokio runtime that owns natsbridge's connections.
//!
//! async-nats drives each connection from a task spawned on the runtime that
//! was current at connect time, and reqwest does the same for pooled HTTP
//! connections. If that runtime ends (a `#[tokio::test]`, a short-lived
//! `block_on` in a binding), the connection dies with it. Connections and
//! downloads therefore run here, on a runtime that lives as long as the
//! process; callers may await them from any runtime or none.

use std::future::Future;
use std::sync::OnceLock;

use crate::error::{Error, ErrorKind, Result};

/// The shared runtime, started on first use. Its worker count is
/// `NATSBRIDGE_WORKER_THREADS` if set, else 2: the work is I/O-bound.
pub fn global() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let workers = std::env::var("NATSBRIDGE_WORKER_THREADS")
            .ok()
            .and_then(|value| value.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(2);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("natsbridge-io")
            .enable_all()
            .build()
            .expect("natsbridge could not start its tokio runtime (out of threads or memory?)")
    })
}

/// Runs `future` on the shared runtime and waits for its output; the
/// awaiting side needs no runtime of its own.
pub async fn spawn<F>(future: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    global()
        .spawn(future)
        .await
        .map_err(|err| Error::from_join(err, "a natsbridge background task"))
}

/// Like [`spawn`], but the task is aborted when the returned future is
/// dropped before it finishes (a caller's timeout, a cancelled receive), so
/// nothing keeps running for a caller that stopped waiting.
pub async fn spawn_cancellable<F>(future: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let task = global().spawn(future);
    let _guard = AbortOnDrop(task.abort_handle());
    task.await
        .map_err(|err| Error::from_join(err, "a natsbridge background task"))
}

/// Blocks the calling thread on `future`, with the shared runtime's I/O
/// and timers. For synchronous bindings (C, Python, Julia). Refuses to run on
/// a thread that is already inside a tokio runtime, where blocking would
/// deadlock.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "a blocking natsbridge call was made from inside an async runtime; use the async API there",
        ));
    }
    Ok(global().block_on(future))
}
