//! A counting global allocator: the peak number of live heap bytes one input
//! makes its thread hold, measured per thread so tests running in parallel
//! do not see each other's allocations.
//!
//! A request that would take a thread past its hard ceiling never reaches the
//! system allocator: the input in flight is written to the crash file the
//! runner opened (see [`crate::harness`]) and the process aborts, since an
//! allocator must not unwind and a multi-gigabyte request could take the
//! machine down with it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The allocator every binary and test of this crate runs on.
pub struct CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

thread_local! {
    // Const-initialised cells without destructors: safe to touch from inside
    // the allocator (no lazy initialisation that would allocate).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static CEILING: Cell<isize> = const { Cell::new(0) };
}

fn grow(bytes: usize) -> bool {
    let bytes = bytes as isize;
    LIVE.try_with(|live| {
        let now = live.get().saturating_add(bytes);
        let ceiling = CEILING.with(Cell::get);
        if ceiling > 0 && now > ceiling {
            return false;
        }
        live.set(now);
        PEAK.with(|peak| peak.set(peak.get().max(now)));
        true
    })
    .unwrap_or(true)
}

fn shrink(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes as isize)));
}

fn refuse(size: usize) -> *mut u8 {
    crate::harness::emergency_stop("allocation over the hard ceiling", size);
}

// SAFETY: every method forwards to `System` with the caller's layout and only
// adds bookkeeping in thread-local cells that never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return refuse(layout.size());
        }
        // SAFETY: forwarded unchanged.
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            shrink(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return refuse(layout.size());
        }
        // SAFETY: forwarded unchanged.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if ptr.is_null() {
            shrink(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count the new block before the old one is released: a copying
        // realloc holds both for a moment.
        if !grow(new_size) {
            return refuse(new_size);
        }
        // SAFETY: forwarded unchanged.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            shrink(new_size);
        } else {
            shrink(layout.size());
        }
        new
    }
}

/// Starts measuring this thread: the peak restarts at the bytes live now,
/// and requests that would hold more than `ceiling` bytes above them stop
/// the process (0: no ceiling).
pub fn begin(ceiling: usize) -> isize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let ceiling = if ceiling == 0 {
        0
    } else {
        base.saturating_add(ceiling.min(isize::MAX as usize) as isize)
    };
    CEILING.with(|cell| cell.set(ceiling));
    base
}

/// Stops measuring: the peak bytes held above `base` since [`begin`].
pub fn end(base: isize) -> usize {
    CEILING.with(|cell| cell.set(0));
    let peak = PEAK.with(Cell::get);
    peak.saturating_sub(base).max(0) as usize
}
