//! The one counting allocator of the test binaries that measure what code
//! allocates: the system allocator, counting as it goes. A binary that uses
//! it declares it as its global allocator:
//!
//! ```text
//! mod counting_alloc;
//! #[global_allocator]
//! static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;
//! ```
//!
//! Process-wide counts (every thread together): [`allocs`], [`largest`].
//! Per-thread counts, so that tests running in parallel threads measure
//! only their own code: [`allocated`] (bytes allocated while `f` ran) and
//! [`peak_held`] (the most bytes held at once while `f` ran).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Calls of `alloc`, `alloc_zeroed` and `realloc`, all threads together.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// The largest size one allocation asked for, all threads together.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // const-initialised and without destructor: using them allocates
    // nothing, so the allocator may.
    /// Bytes this thread allocated (a `realloc` counts its new size).
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread holds (allocated minus freed); may go negative
    /// when it frees what another thread allocated.
    static HELD: Cell<isize> = const { Cell::new(0) };
    /// The most `HELD` was since the last `peak_held` began.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Counts an allocation of `size` bytes.
fn allocating(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    LARGEST.fetch_max(size, Relaxed);
    // try_with: during thread teardown the slots may be gone.
    let _ = ALLOCATED.try_with(|a| a.set(a.get() + size));
    held(size as isize);
}

/// Adds `delta` to this thread's held bytes and its peak.
fn held(delta: isize) {
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

/// The system allocator, counting.
pub struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which
// implements `GlobalAlloc` soundly; the only things added are atomic
// updates and arithmetic on thread-local cells with const initializers,
// which neither allocate nor touch the memory handed out. So `Counting`
// upholds exactly the contract `System` does. (A `GlobalAlloc` impl is
// `unsafe` by definition: there is no safe way to write one.)
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocating(layout.size());
        // SAFETY: our caller upholds `alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    /// Forwarded as such (not `alloc` + zeroing), so that a large zeroed
    /// buffer still comes fresh from the kernel, as in production.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        allocating(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        held(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` (every allocation is)
        // with `layout`, as our caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as if the new block came before the old one went: the
        // most a realloc can hold at once.
        allocating(new_size);
        // SAFETY: as for `dealloc`, and our caller upholds `realloc`'s
        // contract for `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        held(-(layout.size() as isize));
        p
    }
}

/// Allocations so far, all threads together.
pub fn allocs() -> usize {
    ALLOCS.load(Relaxed)
}

/// The largest single allocation so far, all threads together.
pub fn largest() -> usize {
    LARGEST.load(Relaxed)
}

/// Bytes this thread allocated while running `f`, and `f`'s result.
pub fn allocated<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATED.with(Cell::get);
    let r = f();
    (ALLOCATED.with(Cell::get) - before, r)
}

/// The most bytes this thread held at once while `f` ran (its result
/// dropped inside), beyond what it held before.
pub fn peak_held<T>(f: impl FnOnce() -> T) -> usize {
    let before = HELD.with(Cell::get);
    PEAK.with(|p| p.set(before));
    drop(f());
    (PEAK.with(Cell::get) - before).max(0) as usize
}

/// Allocations per call of `f`, all threads together: `f(i)` runs for
/// `warmup` calls (caches, free lists, buffers fill up), then `measured`
/// counted ones; `finish` runs before the count is taken (e.g. joining
/// the thread that served the calls, so that its last work counts).
pub fn per_call(
    warmup: usize,
    measured: usize,
    mut f: impl FnMut(usize),
    finish: impl FnOnce(),
) -> f64 {
    for i in 0..warmup {
        f(i);
    }
    let before = allocs();
    for i in warmup..warmup + measured {
        f(i);
    }
    finish();
    (allocs() - before) as f64 / measured as f64
}
