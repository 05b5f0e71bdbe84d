//! Receive queues: a lock-free crossbeam channel to hand items over, and a
//! doorbell of our own to sleep on when it is empty.
//!
//! Why not the channel's own blocking `recv`: before it sleeps, crossbeam
//! spins and yields in a backoff of its own, which no setting turns off.
//! A link waiter has polled already for as long as the link's `spin` says
//! (`wait::spin_until`), so that second backoff only burns instructions:
//! callgrind put it at the top of the cost of an `ask1` round trip. Here
//! a waiter sleeps on a condition variable as soon as its own polling is
//! over, and a sender rings only when someone sleeps (one fence and one
//! load otherwise).
//!
//! A queue still closes itself: when its last [`QueueTx`] is dropped, it
//! rings every sleeper after the channel's `Sender` is gone, so they wake
//! and see "disconnected" (see `link::state`'s module docs).
//!
//! No wake-up is lost: a sleeper puts itself on the doorbell's list
//! (`sleeping` counts it) and looks at the channel once more before it
//! parks; a sender puts its item in the channel, then looks at `sleeping`
//! and unparks the longest sleeper. A fence on each side between its write
//! and its read makes sure at least one of the two sees the other's write,
//! and an unpark that comes before the park makes the park return at once.
//! Every sleeper a ring takes off the list looks at the channel again
//! after it wakes, so each item queued has a receiver looking for it.

use std::sync::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use parking_lot::Mutex;

use crate::wait::{spin_until, Sleepers};

/// Tight polls of a channel before yielding: a channel poll costs a few ns.
const TIGHT_CHANNEL_POLLS: usize = 8;

/// Why a wait on a queue ended without an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitError {
    /// The deadline passed.
    Timeout,
    /// The queue is closed: every sender is gone and it is empty.
    Closed,
}

/// A new unbounded queue. Unbounded: the reader thread must never block on
/// a slow receiver (no head-of-line blocking between connections); the
/// link's limits bound it instead (`link::limits`).
pub(crate) fn unbounded<T>() -> (QueueTx<T>, QueueRx<T>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let bell = Arc::new(Bell::default());
    let ring = RingOnDrop(bell.clone());
    (
        QueueTx(Arc::new(Sending { tx, ring })),
        QueueRx { rx, bell },
    )
}

/// Where sleeping receivers wait: the threads to unpark; and how many
/// items the queue holds.
#[derive(Default)]
struct Bell {
    /// Items sent and not yet taken, counted before the send: zero means
    /// the queue is empty, cheaper to read than the channel's own length
    /// (a queue is looked at several times per packet, and is mostly
    /// empty). Not zero may still be empty for a moment.
    items: AtomicUsize,
    /// How many threads `sleepers` holds, readable without its lock.
    sleeping: AtomicUsize,
    sleepers: Mutex<Vec<Thread>>,
    /// Times a receiver parked (unit tests: whether one slept).
    #[cfg(test)]
    parks: AtomicUsize,
}

impl Bell {
    /// Wakes the longest sleeper (`all`: every one), if any sleeps. Called
    /// after the item was queued or the sender dropped.
    fn ring(&self, all: bool) {
        // Orders the caller's write to the channel before the read of
        // `sleeping`: pairs with the fence in `enlist`.
        fence(SeqCst);
        if self.sleeping.load(SeqCst) == 0 {
            return;
        }
        // Unparked outside the lock: the woken thread does not find it
        // taken.
        if all {
            let woken = std::mem::take(&mut *self.sleepers.lock());
            self.sleeping.fetch_sub(woken.len(), SeqCst);
            woken.iter().for_each(Thread::unpark);
        } else if let Some(thread) = self.take_longest() {
            thread.unpark();
        }
    }

    fn take_longest(&self) -> Option<Thread> {
        let mut sleepers = self.sleepers.lock();
        if sleepers.is_empty() {
            return None;
        }
        self.sleeping.fetch_sub(1, SeqCst);
        Some(sleepers.remove(0))
    }

    /// Puts `me` on the list of sleepers: a `ring` from now on wakes it.
    fn enlist(&self, me: &Thread) {
        let mut sleepers = self.sleepers.lock();
        sleepers.push(me.clone());
        self.sleeping.fetch_add(1, SeqCst);
        drop(sleepers);
        // Orders the announcement before the caller's next look at the
        // channel: pairs with the fence in `ring`.
        fence(SeqCst);
    }

    /// Takes `me` off the list, unless a `ring` took it already.
    fn delist(&self, me: &Thread) {
        let mut sleepers = self.sleepers.lock();
        if let Some(i) = sleepers.iter().position(|t| t.id() == me.id()) {
            sleepers.remove(i);
            self.sleeping.fetch_sub(1, SeqCst);
        }
    }
}

/// Rings every sleeper when dropped. A field of `Sending` declared after
/// the `Sender`: fields drop in order, so it rings once the `Sender` is
/// gone, and a receiver it wakes sees the channel disconnected.
struct RingOnDrop(Arc<Bell>);

impl Drop for RingOnDrop {
    fn drop(&mut self) {
        self.0.ring(true);
    }
}

/// The sending side of a queue. Clones are senders too; the queue closes
/// when the last one is dropped. A clone is one reference count: the
/// reader thread takes one per packet it delivers.
pub(crate) struct QueueTx<T>(Arc<Sending<T>>);

impl<T> Clone for QueueTx<T> {
    fn clone(&self) -> Self {
        QueueTx(self.0.clone())
    }
}

/// What the senders of a queue share: the channel's one `Sender`.
struct Sending<T> {
    tx: Sender<T>,
    // Must stay after `tx`: see `RingOnDrop`.
    ring: RingOnDrop,
}

impl<T> QueueTx<T> {
    /// Queues `item` and wakes a sleeping receiver. Never blocks; the item
    /// is dropped if no receiver is left (the queue's owner holds one as
    /// long as anyone can look).
    pub(crate) fn send(&self, item: T) {
        let bell = &*self.0.ring.0;
        bell.items.fetch_add(1, SeqCst);
        if self.0.tx.send(item).is_err() {
            // No receiver left: nobody counts any more.
            return;
        }
        bell.ring(false);
    }
}

/// The receiving side of a queue.
pub(crate) struct QueueRx<T> {
    rx: Receiver<T>,
    bell: Arc<Bell>,
}

impl<T> QueueRx<T> {
    /// The next item if one is there (closed or not).
    pub(crate) fn take(&self) -> Option<T> {
        // An empty queue is the common case (a drain, a reset): telling it
        // by the count is cheaper than a failed receive.
        if self.bell.items.load(SeqCst) == 0 {
            return None;
        }
        self.look()?.ok()
    }

    /// Whether the queue holds no item (for the lifecycle check of
    /// `ConnState::reset`).
    #[cfg(any(debug_assertions, feature = "test-hooks"))]
    pub(crate) fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Items in the queue (and being sent to it).
    pub(crate) fn len(&self) -> usize {
        self.bell.items.load(SeqCst)
    }

    /// Receives an item, polling for up to `spin` before sleeping until one
    /// comes, the queue closes, or `deadline` passes; counted in
    /// `sleepers` while asleep.
    pub(crate) fn recv(
        &self,
        spin: Duration,
        deadline: Option<Instant>,
        sleepers: &Sleepers,
    ) -> Result<T, WaitError> {
        // The first look only for an item: a closed queue is seen by the
        // looks that follow, and empty is the common case.
        if let Some(item) = self.take() {
            return Ok(item);
        }
        // A deadline already passed (a `try_recv`): one look for "closed",
        // no polling.
        if matches!(deadline, Some(d) if d <= Instant::now()) {
            return self.look().unwrap_or(Err(WaitError::Timeout));
        }
        if let Some(r) = spin_until(spin, TIGHT_CHANNEL_POLLS, || self.look()) {
            return r;
        }
        self.sleep(deadline, sleepers)
    }

    /// One look at the channel: `None` if it is empty and open.
    fn look(&self) -> Option<Result<T, WaitError>> {
        match self.rx.try_recv() {
            Ok(v) => {
                self.bell.items.fetch_sub(1, SeqCst);
                Some(Ok(v))
            }
            Err(TryRecvError::Disconnected) => Some(Err(WaitError::Closed)),
            Err(TryRecvError::Empty) => None,
        }
    }

    /// Sleeps on the doorbell until an item comes, the queue closes or
    /// `deadline` passes.
    fn sleep(&self, deadline: Option<Instant>, sleepers: &Sleepers) -> Result<T, WaitError> {
        let _asleep = sleepers.enter();
        let me = std::thread::current();
        #[cfg(test)]
        tests::before_sleep();
        loop {
            self.bell.enlist(&me);
            if let Some(r) = self.look() {
                self.bell.delist(&me);
                return r;
            }
            #[cfg(test)]
            self.bell.parks.fetch_add(1, SeqCst);
            match deadline {
                None => std::thread::park(),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => std::thread::park_timeout(left),
                    _ => {
                        self.bell.delist(&me);
                        return Err(WaitError::Timeout);
                    }
                },
            }
            // Woken by a ring (which took us off), by the deadline, or
            // spuriously (an earlier ring's unpark, after we had left).
            self.bell.delist(&me);
            if let Some(r) = self.look() {
                return r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::sync::Barrier;

    thread_local! {
        /// What runs on this thread when a receive is about to sleep: after
        /// its looks found nothing, before it is on the doorbell's list.
        static BEFORE_SLEEP: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }

    pub(super) fn before_sleep() {
        if let Some(f) = BEFORE_SLEEP.with(|b| b.borrow_mut().take()) {
            f();
        }
    }

    /// The race a doorbell must not lose: a sender that comes after the
    /// receiver's last look and before it sleeps rings for nobody (the
    /// receiver is not on the list yet). The look after it enlists sees
    /// what the sender did, and the receiver never parks; without that
    /// look it would sleep until its deadline (a bound only a broken
    /// receive reaches), then find it.
    #[test]
    fn a_sender_just_before_the_receiver_sleeps_is_seen() {
        let sleepers = Sleepers::default();
        let bound = || Some(Instant::now() + Duration::from_secs(30));
        // The last sender goes away: the receive ends `Closed` (a receive
        // that slept through it would end with `Timeout`).
        let (tx, rx) = unbounded::<u32>();
        BEFORE_SLEEP.with(|b| *b.borrow_mut() = Some(Box::new(move || drop(tx))));
        assert_eq!(
            rx.recv(Duration::ZERO, bound(), &sleepers),
            Err(WaitError::Closed)
        );
        assert_eq!(rx.bell.parks.load(SeqCst), 0, "slept through the close");
        // An item comes.
        let (tx, rx) = unbounded::<u32>();
        BEFORE_SLEEP.with(|b| *b.borrow_mut() = Some(Box::new(move || tx.send(5))));
        assert_eq!(rx.recv(Duration::ZERO, bound(), &sleepers), Ok(5));
        assert_eq!(rx.bell.parks.load(SeqCst), 0, "slept through the item");
    }

    /// A receiver gets every item in order, whether it finds it there or
    /// sleeps for it; the last sender going away ends its wait with
    /// `Closed`; a deadline ends a wait for nothing with `Timeout`.
    #[test]
    fn items_in_order_then_closed_then_timeout() {
        let sleepers = Sleepers::default();
        let (tx, rx) = unbounded::<u32>();
        let barrier = Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..1000 {
                    barrier.wait();
                    tx.send(i);
                }
                barrier.wait();
                drop(tx);
            });
            for i in 0..1000 {
                barrier.wait();
                assert_eq!(rx.recv(Duration::ZERO, None, &sleepers), Ok(i));
            }
            barrier.wait();
            assert_eq!(
                rx.recv(Duration::ZERO, None, &sleepers),
                Err(WaitError::Closed)
            );
        });
        let (_tx, rx) = unbounded::<u32>();
        let soon = Instant::now() + Duration::from_millis(1);
        assert_eq!(
            rx.recv(Duration::ZERO, Some(soon), &sleepers),
            Err(WaitError::Timeout)
        );
        // A deadline passed already: one look, which sees an item or a
        // closed queue.
        let (tx, rx) = unbounded::<u32>();
        tx.send(7);
        drop(tx);
        let past = Some(Instant::now());
        assert_eq!(rx.recv(Duration::ZERO, past, &sleepers), Ok(7));
        assert_eq!(
            rx.recv(Duration::ZERO, past, &sleepers),
            Err(WaitError::Closed)
        );
    }

    /// Waits until `n` threads sleep on `sleepers`: the test's barrier.
    #[cfg(feature = "test-hooks")]
    fn until_asleep(sleepers: &Sleepers, n: usize) {
        while sleepers.count() < n {
            std::thread::yield_now();
        }
    }

    /// Receivers asleep on one queue: each item wakes one of them, none
    /// is lost, and the last sender going away wakes the rest.
    #[cfg(feature = "test-hooks")]
    #[test]
    fn sleepers_share_items_and_wake_on_close() {
        const SLEEPERS: usize = 4;
        let sleepers = Sleepers::default();
        let (tx, rx) = unbounded::<usize>();
        let clone = tx.clone();
        std::thread::scope(|s| {
            let waits: Vec<_> = (0..SLEEPERS * 2)
                .map(|_| s.spawn(|| rx.recv(Duration::ZERO, None, &sleepers)))
                .collect();
            until_asleep(&sleepers, SLEEPERS * 2);
            for i in 0..SLEEPERS {
                tx.send(i);
            }
            // A clone still sends: the queue is open until both are gone.
            drop(tx);
            clone.send(SLEEPERS);
            drop(clone);
            let got: Vec<_> = waits.into_iter().map(|w| w.join().unwrap()).collect();
            let mut items: Vec<_> = got.iter().filter_map(|r| r.ok()).collect();
            items.sort();
            assert_eq!(items, (0..=SLEEPERS).collect::<Vec<_>>());
            let closed = got.iter().filter(|r| **r == Err(WaitError::Closed)).count();
            assert_eq!(closed, SLEEPERS - 1);
        });
    }

    /// A sleeper that times out leaves the list: a later item goes to the
    /// one still asleep, not to the one that left.
    #[cfg(feature = "test-hooks")]
    #[test]
    fn a_timed_out_sleeper_takes_no_wake_up_with_it() {
        let sleepers = Sleepers::default();
        let (tx, rx) = unbounded::<u32>();
        std::thread::scope(|s| {
            let forever = s.spawn(|| rx.recv(Duration::ZERO, None, &sleepers));
            until_asleep(&sleepers, 1);
            let soon = Instant::now() + Duration::from_millis(1);
            assert_eq!(
                rx.recv(Duration::ZERO, Some(soon), &sleepers),
                Err(WaitError::Timeout)
            );
            tx.send(1);
            assert_eq!(forever.join().unwrap(), Ok(1));
        });
        assert_eq!(rx.bell.sleeping.load(SeqCst), 0);
        assert!(rx.bell.sleepers.lock().is_empty());
    }

    /// Many items between two threads, the receiver sleeping for most of
    /// them (no polling): none is lost or reordered, whatever the
    /// interleaving (bounded: 20 000 items).
    #[test]
    fn a_sleeping_receiver_misses_nothing() {
        let sleepers = Sleepers::default();
        let (tx, rx) = unbounded::<u32>();
        std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..20_000 {
                    tx.send(i);
                    if i % 7 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
            // A bound that only a lost wake-up reaches: it fails the test
            // instead of hanging it.
            let bound = Some(Instant::now() + Duration::from_secs(30));
            for i in 0..20_000 {
                assert_eq!(rx.recv(Duration::ZERO, bound, &sleepers), Ok(i));
            }
            assert_eq!(
                rx.recv(Duration::ZERO, None, &sleepers),
                Err(WaitError::Closed)
            );
        });
    }
}
