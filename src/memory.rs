//! Giving freed memory back to the operating system.
//!
//! The process allocates through mimalloc: `src/main.rs` makes it the global allocator, and
//! its `override` feature routes C's `malloc` (SQLite's) to it as well. mimalloc keeps freed
//! memory committed for a purge delay, so a burst reuses it instead of faulting pages in again,
//! and purges it only when some thread allocates or collects after that delay. Two calls:
//!
//! - [`collect_expired`]: return what has waited out the delay. The `mem-purge` thread calls it
//!   every second, so a server that went quiet after a burst shrinks.
//! - [`release_now`]: return everything freed, at once. For rare work that frees a large block
//!   in one go — an argon2 hash (19 MiB), compressing the web app at start (~25 MiB) — which
//!   otherwise stayed resident for one to two seconds, long enough to lift the peak of whatever
//!   came next (the `upload` benchmark's 1 GiB upload started 83–106 MiB high instead of ~72).

/// Free this thread's empty pages and purge the arena ranges whose purge delay has passed.
#[allow(unsafe_code, reason = "mi_collect")]
pub fn collect_expired() {
    // SAFETY: mi_collect takes no pointers and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(false) }
}

/// Free this thread's empty pages and purge every freed arena range now, whatever its delay.
#[allow(unsafe_code, reason = "mi_collect")]
pub fn release_now() {
    // SAFETY: as above; `force` only skips the delay.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
