//! The C ABI of natsbridge: `libnatsbridge.so` / `libnatsbridge.a` and the
//! header `include/natsbridge.h` that cbindgen generates from this crate
//! (`ffi-c/generate-header.sh`).
//!
//! Conventions, the same for every function:
//! - Fallible functions return an `nb_status`: `NB_OK` (0) or the core's
//!   `ErrorKind::c_code`. Details go to an optional `nb_error **out_error`,
//!   written only on failure, which the caller frees with `nb_error_free`.
//! - Out-parameters are written only on success.
//! - Handles are opaque and each has one NULL-tolerant `nb_<type>_free`.
//! - Each exported function is a thin shell: `boundary` (panic boundary and
//!   error conversion), NULL and UTF-8 checks, then the core. Nothing here
//!   decides anything about the wire format, transports or limits.
//!
//! The safety contract of each function (which pointers may be NULL, what
//! they must point to and for how long) is its documentation in the header,
//! written for C callers; so the `# Safety` sections clippy asks for would
//! only repeat it.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

mod args;
mod client;
mod durable;
mod envelope;
mod error;
mod handlers;
mod json;
mod notify;
mod options;
mod payload;
mod send_notify;
mod subscription;
mod table;

use std::ffi::c_char;

/// mimalloc for everything the library allocates: glibc's allocator
/// serializes on its arena locks when a buffer is allocated on one thread and
/// freed on another, which is the path of every message (the caller's thread
/// builds it, the connection task frees it; the library's threads build
/// received envelopes that the caller frees). Every pointer this library
/// hands out is freed by its own `nb_*_free`, so no C `free` ever meets it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc.h's `mi_option_t` (v2 and v3);
/// `libmimalloc-sys` does not export this one.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Runs when the library is loaded, before any of its allocations: mimalloc
/// then commits its arenas on demand instead of eagerly. Eagerly committed
/// arenas are also advised as transparent huge pages, and a caller that
/// frees the library's buffers late (Julia frees a received table's Arrow
/// buffers from a finalizer) made the library's threads fault in and zero
/// fresh 2 MiB pages over and over: `clear_page_erms` was 26 % of the Julia
/// table benchmark's samples, 1 % with this setting
/// (benchmarks/julia/RESULTS.md). The option only concerns this library's
/// own copy of mimalloc; the host process is not affected.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static SET_ALLOCATOR_OPTIONS: extern "C" fn() = set_allocator_options;

#[cfg(target_os = "linux")]
extern "C" fn set_allocator_options() {
    // SAFETY: sets a global option value; mimalloc reads it when it first
    // reserves an arena, which happens later, on the library's first use.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

pub use args::nb_string_free;
pub use client::*;
pub use durable::*;
pub use envelope::*;
pub use error::*;
pub use handlers::*;
pub use json::*;
pub use notify::*;
pub use options::*;
pub use payload::*;
pub use send_notify::*;
pub use subscription::*;
pub use table::*;

/// The major version of natsbridge this header belongs to; also the soname's
/// number (`libnatsbridge.so.0`).
pub const NATSBRIDGE_VERSION_MAJOR: u32 = 0;
/// The minor version of natsbridge this header belongs to.
pub const NATSBRIDGE_VERSION_MINOR: u32 = 1;
/// The patch version of natsbridge this header belongs to.
pub const NATSBRIDGE_VERSION_PATCH: u32 = 0;

const fn parse_u32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

// The header's macros come from the literals above; a build with another
// package version fails here until they are updated (and the header
// regenerated).
const _: () = assert!(NATSBRIDGE_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(NATSBRIDGE_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(NATSBRIDGE_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));

/// The version of the loaded library as `"MAJOR.MINOR.PATCH"`, to compare
/// with the header's `NATSBRIDGE_VERSION_*` macros at run time. Static:
/// never free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn nb_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests;
