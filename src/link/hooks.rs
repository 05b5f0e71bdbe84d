//! Test hooks of the reader (feature `test-hooks`): points where a test
//! can act at a chosen moment of the reader's work, to make a race happen
//! every time instead of once in a thousand runs. Not part of the API.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use parking_lot::RwLock;

/// A hook: called with the id of the connection concerned.
pub(crate) type Hook = Arc<dyn Fn(u32) + Send + Sync>;

/// The hooks of one link.
#[derive(Default)]
pub(crate) struct Hooks {
    /// Whether `before_queue` is set: one load per packet when it is not.
    set: AtomicBool,
    before_queue: RwLock<Option<Hook>>,
}

impl Hooks {
    /// Sets the hook the reader calls after it looked a connection up for
    /// a packet and before it queues the packet on it.
    pub(crate) fn set_before_queue(&self, hook: Option<Hook>) {
        self.set.store(hook.is_some(), SeqCst);
        *self.before_queue.write() = hook;
    }

    /// Calls the `before_queue` hook, if set.
    pub(crate) fn before_queue(&self, id: u32) {
        if !self.set.load(SeqCst) {
            return;
        }
        let hook = self.before_queue.read().clone();
        if let Some(hook) = hook {
            hook(id);
        }
    }
}
