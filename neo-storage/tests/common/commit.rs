//! Commits as NEO/py's client and master make them, on neonet links: a
//! client's stores and vote, the master's lock and unlock.

use neonet::neopy::{self, Checksum, Message};
use neonet::{NeoPy, NodeLink};

use neo_storage::Node;

use super::fake::{wait_until, Client, Session, BOUND};
use super::sha1;

/// `AskStoreObject` of `data` (uncompressed) for `oid`, based on
/// `serial`, in transaction `ttid`.
pub fn store_req(oid: u64, serial: u64, data: &[u8], ttid: u64) -> neopy::AskStoreObject {
    neopy::AskStoreObject {
        oid,
        serial,
        compression: 0,
        checksum: Checksum(sha1(data)),
        data: data.to_vec().into(),
        data_serial: None,
        ttid: Some(ttid),
    }
}

/// `AskStoreTransaction` of `ttid` changing `oids`.
pub fn txn_req(ttid: u64, oids: &[u64], desc: &str) -> neopy::AskStoreTransaction {
    neopy::AskStoreTransaction {
        ttid,
        user: b"tester".to_vec(),
        desc: desc.as_bytes().to_vec(),
        ext: b"".to_vec(),
        oid_list: oids.to_vec(),
        pack: None,
    }
}

impl Client {
    /// Stores `data` for `oid`; the conflict answered.
    pub fn store(&self, oid: u64, serial: u64, data: &[u8], ttid: u64) -> Option<u64> {
        self.link
            .ask1(&store_req(oid, serial, data, ttid))
            .unwrap()
            .conflict
    }

    /// Stores the transaction's metadata (its vote).
    pub fn store_txn(&self, ttid: u64, oids: &[u64]) {
        self.link.ask1(&txn_req(ttid, oids, "commit")).unwrap();
    }

    /// The next notification the node sends the client.
    pub fn notification(&self) -> Message {
        self.link.recv_timeout(BOUND).unwrap().into_msg()
    }
}

impl Session {
    /// Locks `ttid` as `tid` (answered once durable).
    pub fn lock(&self, ttid: u64, tid: u64) {
        let a = self
            .link
            .ask1(&neopy::AskLockInformation {
                ttid,
                tid,
                pack: false,
            })
            .unwrap();
        assert_eq!(a.ttid, ttid);
    }

    /// Unlocks `ttid` and waits until `node` committed it: every read
    /// sees it then. (As with NEO/py's master, the client may get its
    /// answer before: only reads of its objects wait for the unlock.)
    pub fn unlock(&self, node: &Node, ttid: u64) {
        self.link
            .send1(&neopy::NotifyUnlockInformation { ttid })
            .unwrap();
        wait_until("the unlock is committed", || {
            !node.shared().tm.lock().txns.contains_key(&ttid)
        });
    }

    /// A whole commit of `objects` (oid, base serial, data) by `client`:
    /// stores, vote, lock, unlock.
    pub fn commit(
        &self,
        node: &Node,
        client: &Client,
        ttid: u64,
        tid: u64,
        objects: &[(u64, u64, &[u8])],
    ) {
        for &(oid, serial, data) in objects {
            assert_eq!(client.store(oid, serial, data, ttid), None, "{oid}");
        }
        let oids: Vec<u64> = objects.iter().map(|o| o.0).collect();
        client.store_txn(ttid, &oids);
        self.lock(ttid, tid);
        self.unlock(node, ttid);
    }
}

/// Asks `req` on `link` in a thread of `scope` (its answer may wait for
/// a lock).
pub fn ask_later<'s, R: neonet::Ask<Dialect = NeoPy> + Send + 's>(
    scope: &'s std::thread::Scope<'s, '_>,
    link: &'s NodeLink<NeoPy>,
    req: R,
) -> std::thread::ScopedJoinHandle<'s, neonet::Result<R::Answer>>
where
    R::Answer: Send,
{
    scope.spawn(move || link.ask1(&req))
}
