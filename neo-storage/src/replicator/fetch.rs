//! Fetching a partition from a source, chunk by chunk (NEO/py's
//! `fetchTransactions`, `fetchObjects` and the handlers of their streamed
//! answers).

use std::collections::BTreeMap;
use std::sync::Arc;

use neonet::neopy::{
    AddObject, AddTransaction, Address, AskFetchObjects, AskFetchTransactions, Message, NodeId,
    NodeType, RequestIdentification,
};

use super::{Replicator, Stopped, FETCH_COUNT};
use crate::commit::ZERO_HASH;
use crate::db::{NewObject, Reader, StoredData, TxnMeta, WriteConn};
use crate::net::{self, Item, Link};

/// Data written per writer job while a chunk streams in: bounds the
/// memory a chunk of large records takes.
const FLUSH_BYTES: usize = 8 << 20;

/// What replication writes.
#[derive(Debug)]
enum Write {
    Txn(AddTransaction),
    Obj(AddObject),
    DeleteTxn(u64),
    DeleteObj(u64, u64),
    CellPack(u32, i32, u64),
}

impl Write {
    fn apply(self, w: &mut WriteConn) -> rusqlite::Result<()> {
        match self {
            Write::Txn(t) => {
                let meta = TxnMeta {
                    oids: t.oid_list,
                    user: t.user,
                    desc: t.desc,
                    ext: t.ext,
                    packed: t.packed,
                    ttid: t.ttid,
                };
                w.store_transaction(t.tid, &[], Some(&meta), false)?;
                if let Some(p) = t.pack {
                    w.store_pack_order(
                        t.tid,
                        p.approved,
                        p.partial,
                        p.oid_list.as_deref(),
                        p.pack_tid,
                    )?;
                }
                Ok(())
            }
            Write::Obj(o) => {
                let serial = o.serial;
                w.store_transaction(serial, &[new_object(o)], None, false)
            }
            Write::DeleteTxn(tid) => w.delete_transaction(tid),
            Write::DeleteObj(oid, serial) => w.delete_object(oid, serial),
            Write::CellPack(p, nid, pack) => w.update_cell_pack(p, nid, pack),
        }
    }

    fn size(&self) -> usize {
        match self {
            Write::Obj(o) => o.data.len() + 64,
            _ => 64,
        }
    }
}

/// NEO/py's `addObject`: no data and a zero checksum is no data; an undo
/// reuses the record it names if this node has it.
fn new_object(o: AddObject) -> NewObject {
    let bytes = if o.data.is_empty() && o.checksum == ZERO_HASH {
        StoredData::Nothing
    } else {
        StoredData::Bytes {
            compression: o.compression,
            hash: o.checksum.0,
            data: o.data,
        }
    };
    let data = match o.data_serial {
        Some(tid) => StoredData::Undo(
            tid,
            Some(Box::new(bytes)).filter(|b| **b != StoredData::Nothing),
        ),
        None => bytes,
    };
    NewObject {
        oid: o.oid,
        data,
        value_tid: o.data_serial,
    }
}

/// Writes being gathered: sent to the writer as they grow, then waited
/// for at the end of a chunk.
struct Batch<'a> {
    rep: &'a Replicator,
    writes: Vec<Write>,
    bytes: usize,
}

impl Batch<'_> {
    fn push(&mut self, w: Write) -> Result<(), Stopped> {
        self.bytes += w.size();
        self.writes.push(w);
        if self.bytes >= FLUSH_BYTES {
            let writes = std::mem::take(&mut self.writes);
            self.bytes = 0;
            self.rep
                .shared
                .writer()
                .submit(false, move |w| apply(w, writes), |(), _| {})
                .map_err(|_| Stopped::Stop)?;
        }
        Ok(())
    }

    /// Writes the rest and waits until everything is committed.
    fn commit(self) -> Result<(), Stopped> {
        let writes = self.writes;
        self.rep
            .shared
            .writer()
            .run(false, move |w| apply(w, writes))
            .map_err(|_| Stopped::Stop)
    }
}

fn apply(w: &mut WriteConn, writes: Vec<Write>) -> rusqlite::Result<()> {
    writes.into_iter().try_for_each(|x| x.apply(w))
}

fn abort(e: impl std::fmt::Display) -> Stopped {
    Stopped::Abort(e.to_string())
}

impl Replicator {
    fn batch(&self) -> Batch<'_> {
        Batch {
            rep: self,
            writes: Vec::new(),
            bytes: 0,
        }
    }

    /// The link to storage `nid`, dialed and identified if needed.
    pub(super) fn connect(&mut self, nid: NodeId, addr: &Address) -> Result<Arc<Link>, String> {
        if let Some((n, link)) = &self.link {
            if *n == nid && net::is_up(link) {
                return Ok(link.clone());
            }
        }
        self.drop_link();
        let target = format!("{}:{}", addr.host, addr.port);
        let times = &self.dial.times;
        let link = Arc::new(
            net::dial(&target, self.dial.tls.as_ref(), times.answer)
                .map_err(|e| net::describe(&e))?,
        );
        net::set_times(&link, times);
        let me = self.shared.nid();
        let id_timestamp = me.and_then(|n| self.shared.nodes().get(n)?.id_timestamp);
        let ident = RequestIdentification {
            node_type: NodeType::STORAGE,
            uuid: me,
            address: Some(self.dial.address.clone()),
            name: self.shared.cluster.clone(),
            id_timestamp,
            extra: Default::default(),
        };
        net::ask(&link, &ident).map_err(|e| format!("identification: {}", net::describe(&e)))?;
        *self.source.lock() = Some(link.clone());
        self.link = Some((nid, link.clone()));
        Ok(link)
    }

    /// Takes the events that came meanwhile; the partition must still be
    /// this node's.
    fn between_chunks(&mut self, offset: u32, r: &Reader) -> Result<(), Stopped> {
        while let Ok(event) = self.rx.try_recv() {
            self.handle(event, r)?;
        }
        if !self.parts.contains_key(&offset) {
            return Err(Stopped::Abort(
                "the partition was taken from this node".into(),
            ));
        }
        Ok(())
    }

    /// Fetches `offset` up to `tid`: its transactions, then its records.
    pub(super) fn fetch(
        &mut self,
        offset: u32,
        tid: u64,
        link: &Link,
        r: &Reader,
    ) -> Result<(), Stopped> {
        let part = self.parts[&offset];
        log::info!(
            "replicating partition {offset} from {:016x} up to {tid:016x}",
            part.next_trans
        );
        let mut min_tid = part.next_trans;
        let mut ask_pack_info = true;
        while let Some(next) =
            self.fetch_transactions(offset, min_tid, tid, ask_pack_info, link, r)?
        {
            self.between_chunks(offset, r)?;
            min_tid = next;
            ask_pack_info = false;
        }
        let p = self.parts.get_mut(&offset).expect("checked");
        p.next_trans = tid + 1;
        let (mut min_tid, mut min_oid) = (p.next_obj, 0);
        while let Some((next_tid, next_oid)) =
            self.fetch_objects(offset, min_tid, tid, min_oid, link, r)?
        {
            self.between_chunks(offset, r)?;
            let nid = self.shared.nid().ok_or(Stopped::Stop)?;
            self.parts.get_mut(&offset).expect("checked").next_obj = next_tid;
            let done = next_tid.saturating_sub(1);
            self.shared
                .writer()
                .run(false, move |w| w.update_cell_tid(offset, nid, done))
                .map_err(|_| Stopped::Stop)?;
            (min_tid, min_oid) = (next_tid, next_oid);
        }
        Ok(())
    }

    /// One chunk of transactions; where the next starts.
    fn fetch_transactions(
        &self,
        offset: u32,
        min_tid: u64,
        max_tid: u64,
        ask_pack_info: bool,
        link: &Link,
        r: &Reader,
    ) -> Result<Option<u64>, Stopped> {
        let tid_list = r
            .tids_from(offset, min_tid, max_tid, FETCH_COUNT)
            .map_err(abort)?;
        let ask = AskFetchTransactions {
            partition: offset,
            length: FETCH_COUNT,
            min_tid,
            max_tid,
            tid_list,
            ask_pack_info,
        };
        let mut stream = net::ask_stream(link, &ask).map_err(abort)?;
        let mut batch = self.batch();
        let answer = loop {
            match net::next_item(&mut stream).map_err(abort)? {
                Item::Item(Message::AddTransaction(t)) => batch.push(Write::Txn(t))?,
                Item::Item(other) => return Err(abort(format!("unexpected {}", other.name()))),
                Item::Answer(a) => break a,
            }
        };
        for tid in answer.tid_list {
            batch.push(Write::DeleteTxn(tid))?;
        }
        if let (Some(pack), Some(nid)) = (answer.completed_pack, self.shared.nid()) {
            batch.push(Write::CellPack(offset, nid, pack))?;
        }
        batch.commit()?;
        Ok(answer.next_tid)
    }

    /// One chunk of object records; where the next starts.
    fn fetch_objects(
        &self,
        offset: u32,
        min_tid: u64,
        max_tid: u64,
        min_oid: u64,
        link: &Link,
        r: &Reader,
    ) -> Result<Option<(u64, u64)>, Stopped> {
        let mut object_dict: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        let mine = r
            .replication_objects(offset, min_tid, max_tid, FETCH_COUNT, min_oid)
            .map_err(abort)?;
        for (serial, oid) in mine {
            object_dict.entry(serial).or_default().push(oid);
        }
        let ask = AskFetchObjects {
            partition: offset,
            length: FETCH_COUNT,
            min_tid,
            max_tid,
            min_oid,
            object_dict,
        };
        let mut stream = net::ask_stream(link, &ask).map_err(abort)?;
        let mut batch = self.batch();
        let answer = loop {
            match net::next_item(&mut stream).map_err(abort)? {
                Item::Item(Message::AddObject(o)) => batch.push(Write::Obj(o))?,
                Item::Item(other) => return Err(abort(format!("unexpected {}", other.name()))),
                Item::Answer(a) => break a,
            }
        };
        for (serial, oids) in answer.object_dict {
            for oid in oids {
                batch.push(Write::DeleteObj(oid, serial))?;
            }
        }
        batch.commit()?;
        Ok(answer.next_tid.zip(answer.next_oid))
    }
}
