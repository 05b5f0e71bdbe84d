//! Waiting smartly: poll for a short, bounded time before sleeping.
//!
//! Waking a thread that sleeps in the kernel costs 5–40 µs on a loaded VM,
//! several times the cost of the round trip itself. A waiter that expects
//! an answer soon therefore polls first (yielding the CPU between polls, so
//! that on a machine with few cores the thread it waits for can run), and
//! sleeps only when nothing came within the spin budget. The budget is
//! bounded, so an idle link costs no CPU.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, TryRecvError};

/// Default time a waiter polls before it sleeps (see
/// [`NodeLink::set_spin`](crate::NodeLink::set_spin)).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Polls `poll` until it returns `Some` or `budget` has passed.
///
/// Polling starts with `tight` iterations without yielding (for cheap polls:
/// an answer already on its way from the other core arrives within a few
/// hundred ns), then yields between polls, so that a thread we wait for
/// that shares our core runs at once. A poll that is a syscall must use no
/// tight iterations: they would hold the core for many µs.
pub(crate) fn spin_until<T>(
    budget: Duration,
    tight: usize,
    mut poll: impl FnMut() -> Option<T>,
) -> Option<T> {
    if budget.is_zero() {
        return None;
    }
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

/// Tight polls of a channel before yielding: a channel poll costs a few ns.
const TIGHT_CHANNEL_POLLS: usize = 8;

/// Receives from `rx`, polling for up to `budget` before blocking.
/// The first poll comes at once (callers that looked already pay one
/// `try_recv` more); with no budget it blocks at once.
pub(crate) fn recv<T>(rx: &Receiver<T>, budget: Duration) -> Result<T, RecvError> {
    let polled = spin_until(budget, TIGHT_CHANNEL_POLLS, || match rx.try_recv() {
        Ok(v) => Some(Ok(v)),
        Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
        Err(TryRecvError::Empty) => None,
    });
    match polled {
        Some(r) => r,
        None => rx.recv(),
    }
}
