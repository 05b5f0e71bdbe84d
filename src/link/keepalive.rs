//! Dead-peer detection (see `NodeLink::set_keepalive`): the reader
//! thread's timer. After `idle` with nothing received it sends a `Ping` on
//! a connection of its own; if nothing at all comes within `timeout`
//! after that, the link goes down with `Timeout`.
//!
//! There is no timer thread and no polling loop: the reader computes when
//! it must act next and sleeps in `poll` until then (or until bytes come).

use std::time::{Duration, Instant};

use super::Shared;
use crate::error::ErrorKind;

/// The reader's keepalive state.
#[derive(Debug)]
pub(super) struct Keepalive {
    /// Bytes came since we last looked (set per read: no clock read on
    /// the per-packet path).
    fresh: bool,
    /// When we last saw bytes come (as of the last look).
    last_rx: Instant,
    /// Our outstanding `Ping`: its connection id and when it was sent.
    ping: Option<(u32, Instant)>,
    /// The id of the last `Ping` sent, whose table entry may remain if
    /// something else than its answer came.
    last_ping: Option<u32>,
}

impl Keepalive {
    pub(super) fn new() -> Keepalive {
        Keepalive {
            fresh: true,
            last_rx: Instant::now(),
            ping: None,
            last_ping: None,
        }
    }

    /// Bytes came from the peer: it is alive.
    pub(super) fn received(&mut self) {
        self.fresh = true;
    }

    /// Keepalive is off: no limit on sleeping; when it is turned on, the
    /// idle time counts from then.
    pub(super) fn off(&mut self) -> Option<Duration> {
        self.fresh = true;
        self.ping = None;
        None
    }

    /// How long the reader may sleep before it must act (`None`: no
    /// limit, keepalive is off).
    pub(super) fn sleep_limit(
        &mut self,
        setting: Option<(Duration, Duration)>,
        now: Instant,
    ) -> Option<Duration> {
        if self.fresh {
            // The reader sleeps only when nothing is left to read, so the
            // last bytes came just now, give or take its spin.
            self.fresh = false;
            self.last_rx = now;
            self.ping = None;
        }
        let (idle, timeout) = setting?;
        let due = match self.ping {
            Some((_, sent)) => sent + timeout,
            None => self.last_rx + idle,
        };
        Some(due.saturating_duration_since(now))
    }

    /// The sleep ended with nothing to read: ping or give up if it is time.
    pub(super) fn expired(
        &mut self,
        shared: &Shared,
        setting: Option<(Duration, Duration)>,
        now: Instant,
    ) -> Result<(), ErrorKind> {
        let Some((idle, timeout)) = setting else {
            return Ok(());
        };
        match self.ping {
            Some((_, sent)) if now >= sent + timeout => {
                log::info!(
                    "neonet {}: no answer to keepalive ping within {timeout:?}",
                    shared.addrs
                );
                Err(ErrorKind::Timeout)
            }
            None if now >= self.last_rx + idle => {
                let id = send_ping(shared, self.last_ping.take());
                self.last_ping = id;
                self.ping = id.map(|id| (id, now));
                Ok(())
            }
            // Woken early (a setting changed): nothing to do yet.
            _ => Ok(()),
        }
    }
}

/// Sends a `Ping` on a new connection of ours, without blocking (it goes
/// through the outbox as replies do); returns its connection id.
fn send_ping(shared: &Shared, last: Option<u32>) -> Option<u32> {
    let id = {
        let mut table = shared.table.lock();
        // One ping entry at a time: forget an unanswered earlier one.
        if let Some(last) = last {
            table.remove_ping(last);
        }
        table.new_ping()?
    };
    shared
        .counters
        .pings
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    shared.queue_own_packet(|q| (shared.wire.encode_ping)(q, id));
    Some(id)
}
