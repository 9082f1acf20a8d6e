//! Futures that only wait, parked on the JS thread.
//!
//! A call whose future is pending after its first poll normally moves to
//! napi's tokio runtime, and its outcome comes back through a threadsafe
//! function made for that one promise ([`crate::promise::run`]). For a
//! future that only *waits* for something another thread hands over (a
//! subscription's next decoded message), that costs a task spawn, a
//! threadsafe function created and closed per promise, and one more thread
//! hop: the worker that polls it is woken, then wakes the JS thread.
//!
//! Here the future stays on the JS thread instead. Its waker records it and
//! signals the one threadsafe function of this JS thread (made once, at the
//! first use); the JS thread then polls every woken future and settles the
//! promises of those that finished. Wake-ups that arrive while the JS thread
//! is busy are handled in one go. Only futures whose remaining work after a
//! wake-up is small belong here: whatever they do runs on the JS thread.
//!
//! The threadsafe function holds the event loop open only while a future is
//! parked, as a promise made by [`crate::promise::run`] does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use napi::bindgen_prelude::within_runtime_if_available;
use napi::{Env, sys};

/// A parked future and what settles its promise: polled on the JS thread,
/// `Ready` once the promise is settled.
pub(crate) type Task = Box<dyn FnMut(&Env, &mut Context<'_>) -> Poll<()>>;

thread_local! {
    /// The executor of the JS thread this is (Node runs one environment per thread).
    static EXECUTOR: RefCell<Option<Executor>> = const { RefCell::new(None) };
}

struct Executor {
    shared: Arc<Shared>,
    tasks: HashMap<u64, Task>,
    next_id: u64,
    /// Whether the threadsafe function holds the event loop open.
    referenced: bool,
}

/// What wakers on other threads touch.
struct Shared {
    /// `None` once the environment is torn down: a late wake-up then does nothing.
    tsfn: Mutex<Option<Tsfn>>,
    woken: Mutex<Vec<u64>>,
    /// A call of the threadsafe function is on its way: later wake-ups only
    /// add their task to `woken`.
    scheduled: AtomicBool,
}

struct Tsfn(sys::napi_threadsafe_function);

// SAFETY: a threadsafe function may be called from any thread; the mutex
// around it keeps a call from racing its release at teardown.
unsafe impl Send for Tsfn {}

struct TaskWaker {
    id: u64,
    shared: Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let shared = &self.shared;
        lock(&shared.woken).push(self.id);
        if !shared.scheduled.swap(true, Ordering::AcqRel)
            && let Some(tsfn) = lock(&shared.tsfn).as_ref()
        {
            // SAFETY: a live threadsafe function (checked under the lock
            // that its release takes); nonblocking on an unbounded queue.
            unsafe {
                sys::napi_call_threadsafe_function(
                    tsfn.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                );
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Polls `task` on this JS thread now, and again whenever its waker is
/// woken, until it returns `Ready`.
pub(crate) fn spawn(env: &Env, task: Task) -> napi::Result<()> {
    let (shared, id) = EXECUTOR.with(|cell| -> napi::Result<_> {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Executor::new(env)?);
        }
        let executor = slot.as_mut().expect("set above");
        let id = executor.next_id;
        executor.next_id += 1;
        Ok((executor.shared.clone(), id))
    })?;
    poll_task(env, &shared, id, task);
    Ok(())
}

/// Polls one task with its waker; parks it again while it is pending.
fn poll_task(env: &Env, shared: &Arc<Shared>, id: u64, mut task: Task) {
    let waker = Waker::from(Arc::new(TaskWaker {
        id,
        shared: shared.clone(),
    }));
    let poll = within_runtime_if_available(|| {
        with_handle_scope(env, || task(env, &mut Context::from_waker(&waker)))
    });
    EXECUTOR.with(|cell| {
        if let Some(executor) = cell.borrow_mut().as_mut() {
            if poll.is_pending() {
                executor.tasks.insert(id, task);
                executor.set_referenced(env, true);
            } else if executor.tasks.is_empty() {
                executor.set_referenced(env, false);
            }
        }
    });
}

impl Executor {
    fn new(env: &Env) -> napi::Result<Executor> {
        let raw = env.raw();
        let shared = Arc::new(Shared {
            tsfn: Mutex::new(None),
            woken: Mutex::new(Vec::new()),
            scheduled: AtomicBool::new(false),
        });
        let mut name = ptr::null_mut();
        let mut tsfn = ptr::null_mut();
        let label = "natsbridge";
        // SAFETY: Node-API calls on the JS thread's live environment.
        unsafe {
            check(sys::napi_create_string_utf8(
                raw,
                label.as_ptr().cast(),
                label.len() as isize,
                &mut name,
            ))?;
            check(sys::napi_create_threadsafe_function(
                raw,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(call_js),
                &mut tsfn,
            ))?;
            check(sys::napi_unref_threadsafe_function(raw, tsfn))?;
            *lock(&shared.tsfn) = Some(Tsfn(tsfn));
            let hook = Arc::into_raw(shared.clone()) as *mut c_void;
            check(sys::napi_add_env_cleanup_hook(raw, Some(teardown), hook))?;
        }
        Ok(Executor {
            shared,
            tasks: HashMap::new(),
            next_id: 0,
            referenced: false,
        })
    }

    fn set_referenced(&mut self, env: &Env, referenced: bool) {
        if self.referenced == referenced {
            return;
        }
        if let Some(tsfn) = lock(&self.shared.tsfn).as_ref() {
            // SAFETY: on the JS thread, a live threadsafe function.
            unsafe {
                if referenced {
                    sys::napi_ref_threadsafe_function(env.raw(), tsfn.0);
                } else {
                    sys::napi_unref_threadsafe_function(env.raw(), tsfn.0);
                }
            }
        }
        self.referenced = referenced;
    }
}

/// The threadsafe function's callback, on the JS thread.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    _callback: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    // A null environment: the function is being torn down.
    if !env.is_null() {
        run_woken(&Env::from_raw(env));
    }
}

/// Polls every woken task, settling the promises of those that finish.
fn run_woken(env: &Env) {
    loop {
        let Some(shared) = EXECUTOR.with(|cell| cell.borrow().as_ref().map(|e| e.shared.clone()))
        else {
            return;
        };
        // Before taking the list: a wake-up after this point schedules a new call.
        shared.scheduled.store(false, Ordering::Release);
        let woken = std::mem::take(&mut *lock(&shared.woken));
        if woken.is_empty() {
            return;
        }
        for id in woken {
            // Out of the map while polling, so the poll may start new tasks.
            let task = EXECUTOR.with(|cell| {
                cell.borrow_mut()
                    .as_mut()
                    .and_then(|executor| executor.tasks.remove(&id))
            });
            // None: finished already (it was woken twice).
            if let Some(task) = task {
                poll_task(env, &shared, id, task);
            }
        }
        // Wake-ups that came in while polling (on this thread or another) go
        // round again here unless a call of the threadsafe function is
        // already on its way.
        if shared.scheduled.load(Ordering::Acquire) {
            return;
        }
    }
}

fn with_handle_scope<T>(env: &Env, body: impl FnOnce() -> T) -> T {
    let mut scope = ptr::null_mut();
    // SAFETY: a handle scope opened and closed around `body` on the JS thread.
    let opened =
        unsafe { sys::napi_open_handle_scope(env.raw(), &mut scope) } == sys::Status::napi_ok;
    let value = body();
    if opened {
        // SAFETY: the scope opened above, closed once.
        unsafe { sys::napi_close_handle_scope(env.raw(), scope) };
    }
    value
}

/// The environment is going away: no wake-up may call the threadsafe
/// function any more, and the parked futures are dropped.
unsafe extern "C" fn teardown(hook: *mut c_void) {
    // SAFETY: the reference `Executor::new` leaked for this hook.
    let shared = unsafe { Arc::from_raw(hook as *const Shared) };
    if let Some(tsfn) = lock(&shared.tsfn).take() {
        // SAFETY: the live threadsafe function, released once.
        unsafe {
            sys::napi_release_threadsafe_function(tsfn.0, sys::ThreadsafeFunctionReleaseMode::abort)
        };
    }
    let executor = EXECUTOR.with(|cell| cell.borrow_mut().take());
    drop(executor);
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    crate::promise::napi_status(status, "setting up the JS thread's wake-up failed")
}
