//! The memory a link download is received into: [`DownloadBuffer`].
//!
//! A download may not reserve its declared size up front (SECURITY.md,
//! "Download amplification"): it starts with at most 4 MiB and grows with
//! what arrived. Grown as a `Vec<u8>`, a 100 MB payload is copied into
//! buffers of 4, 8, 16, 32, 64 and 100 MB: 124 MB of copies and 224 MB of
//! fresh pages the kernel zeroes, a third of a download's CPU in the
//! profile (benchmarks/rust/RESULTS.md, "Where a link's time goes"), and
//! an allocator such as mimalloc keeps the outgrown buffers mapped for a
//! while (the receiver's peak RSS was 2.6 times the payload).
//!
//! On Linux the buffer is an anonymous mapping that grows with `mremap`: the
//! kernel moves the page tables, so nothing is copied, only the pages the
//! payload fills are ever touched, and the peak RSS is the payload's size.
//! From 2 MiB on it asks for transparent huge pages (`MADV_HUGEPAGE`, as
//! mimalloc does for its arenas): a fault per 2 MiB instead of per 4 KiB.
//! Elsewhere it is a `Vec<u8>`. Both grow by the same rule, decided by the
//! caller ([`DownloadBuffer::try_reserve_exact`]), and end as [`Bytes`]
//! without a copy.

pub(crate) use imp::DownloadBuffer;

#[cfg(target_os = "linux")]
mod imp {
    use std::ptr::NonNull;

    use bytes::Bytes;

    /// A growable byte buffer in its own anonymous mapping (Linux).
    ///
    /// Invariants: `cap == 0` and `ptr` dangling (no mapping), or `ptr` is
    /// the start of a private read-write mapping of `cap` bytes (a multiple
    /// of the page size) that this value owns alone; `len <= cap`, and the
    /// first `len` bytes were written by `extend_from_slice`.
    pub(crate) struct DownloadBuffer {
        ptr: NonNull<u8>,
        len: usize,
        cap: usize,
    }

    // SAFETY: the mapping is owned by this value alone (no aliasing pointer
    // is kept anywhere), like a `Vec<u8>`'s allocation.
    unsafe impl Send for DownloadBuffer {}
    // SAFETY: `&DownloadBuffer` only reads (`as_ref`).
    unsafe impl Sync for DownloadBuffer {}

    impl DownloadBuffer {
        pub(crate) fn new() -> DownloadBuffer {
            DownloadBuffer {
                ptr: NonNull::dangling(),
                len: 0,
                cap: 0,
            }
        }

        pub(crate) fn len(&self) -> usize {
            self.len
        }

        pub(crate) fn capacity(&self) -> usize {
            self.cap
        }

        /// Makes room for at least `additional` more bytes (rounded up to
        /// whole pages): maps the buffer, or moves it to a larger mapping
        /// with `mremap` (no copy). Fails with the OS error, never aborts.
        pub(crate) fn try_reserve_exact(&mut self, additional: usize) -> std::io::Result<()> {
            let too_large = || std::io::Error::from(std::io::ErrorKind::OutOfMemory);
            let needed = self.len.checked_add(additional).ok_or_else(too_large)?;
            if needed <= self.cap {
                return Ok(());
            }
            // Whole pages; whole huge pages (2 MiB) once that large, so the
            // kernel can back the buffer with them (below).
            let page = if needed >= HUGE_PAGE {
                HUGE_PAGE
            } else {
                page_size()
            };
            let new_cap = needed.checked_add(page - 1).ok_or_else(too_large)? / page * page;
            let mapped = if self.cap == 0 {
                // SAFETY: a new private anonymous mapping; no memory of ours
                // is touched.
                unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        new_cap,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                }
            } else {
                // SAFETY: `ptr`/`cap` is our own mapping (the invariant);
                // MREMAP_MAYMOVE may move it, and we keep only the address
                // returned. Its contents move with it.
                unsafe {
                    libc::mremap(
                        self.ptr.as_ptr().cast(),
                        self.cap,
                        new_cap,
                        libc::MREMAP_MAYMOVE,
                    )
                }
            };
            if mapped == libc::MAP_FAILED {
                // The old mapping (if any) is unchanged and still ours.
                return Err(std::io::Error::last_os_error());
            }
            self.ptr = NonNull::new(mapped.cast()).ok_or_else(too_large)?;
            self.cap = new_cap;
            if new_cap >= HUGE_PAGE {
                // Transparent huge pages where the system allows them on
                // request (`enabled = madvise`, the usual default), as
                // mimalloc asks for its own arenas: one fault and one zeroing
                // per 2 MiB instead of per 4 KiB. Only advice: an error (no
                // THP in this kernel) changes nothing.
                // SAFETY: advice on our own mapping; contents are kept.
                unsafe {
                    libc::madvise(mapped, new_cap, libc::MADV_HUGEPAGE);
                }
            }
            Ok(())
        }

        /// Appends `data`, growing by the same doubling rule as a `Vec`
        /// when the caller did not reserve room first (a panic on failure,
        /// like `Vec::extend_from_slice`; downloads reserve first).
        pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
            if self.cap - self.len < data.len() {
                let more = data.len().max(self.cap);
                self.try_reserve_exact(more)
                    .expect("DownloadBuffer: reserve before extending");
            }
            // SAFETY: `len + data.len() <= cap` (checked or reserved above),
            // the mapping is writable, and `data` cannot overlap a mapping
            // only this value points into.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.as_ptr(),
                    self.ptr.as_ptr().add(self.len),
                    data.len(),
                );
            }
            self.len += data.len();
        }

        /// The bytes received, as `Bytes` that own the mapping (no copy).
        pub(crate) fn into_bytes(self) -> Bytes {
            if self.len == 0 {
                return Bytes::new();
            }
            Bytes::from_owner(self)
        }
    }

    impl AsRef<[u8]> for DownloadBuffer {
        fn as_ref(&self) -> &[u8] {
            // SAFETY: the first `len` bytes are initialized (the invariant);
            // for `cap == 0`, `len == 0` and a dangling pointer is allowed.
            unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
        }
    }

    impl Drop for DownloadBuffer {
        fn drop(&mut self) {
            if self.cap > 0 {
                // SAFETY: our own mapping, unmapped once; nothing points
                // into it after `self` is gone (the `Bytes` of
                // `into_bytes` own `self` and drop it last).
                unsafe {
                    libc::munmap(self.ptr.as_ptr().cast(), self.cap);
                }
            }
        }
    }

    /// The size of a transparent huge page on x86_64 and (by default) aarch64.
    const HUGE_PAGE: usize = 2 << 20;

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(4096)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use bytes::Bytes;

    /// A growable byte buffer (a `Vec<u8>` off Linux).
    pub(crate) struct DownloadBuffer(Vec<u8>);

    impl DownloadBuffer {
        pub(crate) fn new() -> DownloadBuffer {
            DownloadBuffer(Vec::new())
        }

        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }

        pub(crate) fn capacity(&self) -> usize {
            self.0.capacity()
        }

        pub(crate) fn try_reserve_exact(&mut self, additional: usize) -> std::io::Result<()> {
            self.0
                .try_reserve_exact(additional)
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))
        }

        pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
            self.0.extend_from_slice(data);
        }

        pub(crate) fn into_bytes(self) -> Bytes {
            Bytes::from(self.0)
        }
    }
}

impl std::fmt::Debug for DownloadBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadBuffer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::DownloadBuffer;

    #[test]
    fn grows_without_losing_bytes_and_ends_as_the_same_bytes() {
        let mut buffer = DownloadBuffer::new();
        assert_eq!(buffer.capacity(), 0);
        let mut expected = Vec::new();
        buffer.try_reserve_exact(10).unwrap();
        let first_cap = buffer.capacity();
        assert!(first_cap >= 10);
        // Chunks of varying sizes through several moves of the mapping.
        for i in 0..200u32 {
            let chunk: Vec<u8> = (0..(i * 977 % 65_536)).map(|j| (i + j) as u8).collect();
            if buffer.capacity() - buffer.len() < chunk.len() {
                let more = (buffer.len() + chunk.len()).max(buffer.capacity() * 2) - buffer.len();
                buffer.try_reserve_exact(more).unwrap();
            }
            buffer.extend_from_slice(&chunk);
            expected.extend_from_slice(&chunk);
            assert_eq!(buffer.len(), expected.len());
        }
        assert!(buffer.capacity() > first_cap);
        let bytes = buffer.into_bytes();
        assert_eq!(&bytes[..], &expected[..]);
        // Slices of the Bytes keep the mapping alive after the original goes.
        let tail = bytes.slice(expected.len() - 100..);
        drop(bytes);
        assert_eq!(&tail[..], &expected[expected.len() - 100..]);
    }

    #[test]
    fn extend_without_reserving_grows_by_itself() {
        let mut buffer = DownloadBuffer::new();
        buffer.extend_from_slice(b"abc");
        buffer.extend_from_slice(&[7u8; 10_000]);
        assert_eq!(buffer.len(), 10_003);
        let bytes = buffer.into_bytes();
        assert_eq!(&bytes[..3], b"abc");
        assert!(bytes[3..].iter().all(|b| *b == 7));
    }

    #[test]
    fn empty_and_impossible_reservations() {
        assert!(DownloadBuffer::new().into_bytes().is_empty());
        let mut buffer = DownloadBuffer::new();
        buffer.extend_from_slice(b"x");
        // More than any address space: a typed error, the buffer unchanged.
        assert!(buffer.try_reserve_exact(usize::MAX).is_err());
        assert!(buffer.try_reserve_exact(usize::MAX / 2).is_err());
        assert_eq!(buffer.len(), 1);
        assert_eq!(&buffer.into_bytes()[..], b"x");
    }
}
