//! Waiting smartly: poll for a short, bounded time before sleeping, and
//! time limits on waits.
//!
//! Waking a thread that sleeps in the kernel costs 5–40 µs on a loaded VM,
//! several times the cost of the round trip itself. A waiter that expects
//! an answer soon therefore polls first (yielding the CPU between polls, so
//! that on a machine with few cores the thread it waits for can run), and
//! sleeps only when nothing came within the spin budget. The budget is
//! bounded, so an idle link costs no CPU. The receive queues that wait
//! this way are in `queue`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Default time a waiter polls before it sleeps (see
/// [`NodeLink::set_spin`](crate::NodeLink::set_spin)).
pub(crate) const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Polls `poll` until it returns `Some` or `budget` has passed.
///
/// Polling starts with `tight` iterations without yielding (for cheap polls:
/// an answer already on its way from the other core arrives within a few
/// hundred ns), then yields between polls, so that a thread we wait for
/// that shares our core runs at once. A poll that is a syscall must use no
/// tight iterations: they would hold the core for many µs.
#[inline]
pub(crate) fn spin_until<T>(
    budget: Duration,
    tight: usize,
    poll: impl FnMut() -> Option<T>,
) -> Option<T> {
    // Inlined: with polling off, the check is all there is to it.
    if budget.is_zero() {
        return None;
    }
    spin(budget, tight, poll)
}

fn spin<T>(budget: Duration, tight: usize, mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..tight {
        if let Some(v) = poll() {
            return Some(v);
        }
        std::hint::spin_loop();
    }
    let start = Instant::now();
    loop {
        std::thread::yield_now();
        if let Some(v) = poll() {
            return Some(v);
        }
        if start.elapsed() >= budget {
            return None;
        }
    }
}

/// Counts the threads asleep in a wait, so that a test can tell a thread
/// is blocked instead of sleeping and hoping (feature `test-hooks`; without
/// it, nothing is counted and this is empty).
#[derive(Debug, Default)]
pub(crate) struct Sleepers {
    #[cfg(feature = "test-hooks")]
    count: std::sync::atomic::AtomicUsize,
}

impl Sleepers {
    /// Counts one sleeper until the guard is dropped.
    pub(crate) fn enter(&self) -> impl Drop + '_ {
        #[cfg(feature = "test-hooks")]
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SleepGuard(self)
    }

    /// Threads asleep now.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

struct SleepGuard<'a>(#[allow(dead_code)] &'a Sleepers);

impl Drop for SleepGuard<'_> {
    fn drop(&mut self) {
        #[cfg(feature = "test-hooks")]
        self.0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `Ok(None)` for a `Timeout` of a `try_*` call (nothing was there).
pub(crate) fn none_if_empty<T>(res: crate::Result<T>) -> crate::Result<Option<T>> {
    match res {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.kind(), crate::ErrorKind::Timeout) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The deadline of a wait of `timeout` starting now (`None`: no limit; a
/// timeout too large to represent is no limit either).
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// An optional `Duration` settable while other threads read it, in
/// nanoseconds (saturating at 584 years); `u64::MAX` is `None`.
#[derive(Debug)]
pub(crate) struct AtomicTimeout(AtomicU64);

impl AtomicTimeout {
    const NONE: u64 = u64::MAX;

    pub(crate) fn new(t: Option<Duration>) -> AtomicTimeout {
        AtomicTimeout(AtomicU64::new(Self::encode(t)))
    }

    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Relaxed) {
            Self::NONE => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    pub(crate) fn set(&self, t: Option<Duration>) {
        self.0.store(Self::encode(t), Relaxed);
    }

    fn encode(t: Option<Duration>) -> u64 {
        match t {
            None => Self::NONE,
            Some(t) => {
                u64::try_from(t.as_nanos()).map_or(Self::NONE - 1, |n| n.min(Self::NONE - 1))
            }
        }
    }
}
