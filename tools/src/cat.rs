//! The client side of `neo-cat`: read objects from a NEO/py cluster, as a
//! NEO/py client does (the sequence of `trace.tsv`, see neonet's `neopy`
//! module docs). In the library, so that the replay test
//! (`tests/neo_cat.rs`) calls it as the binary does.

use std::collections::btree_map::{BTreeMap, Entry};
use std::error::Error;
use std::io::Read;
use std::time::Duration;

use neonet::neopy::{
    AcceptIdentification, AskLastTransaction, AskObject, Message, NodeId, NodeType, Oid,
    RequestIdentification, Tid,
};
use neonet::tls::TlsConfig;
use neonet::{Dialer, ErrorKind, NeoPy, NodeLink};

use crate::tables::{NodeTable, PartitionTable};

/// What the client reports when it cannot read an object.
pub type CatError = Box<dyn Error + Send + Sync>;

/// One object as the storage sent it, and its record.
#[derive(Debug, Clone)]
pub struct Object {
    /// The object id.
    pub oid: Oid,
    /// The revision read (its tid).
    pub serial: Tid,
    /// 0: as is, 1: zlib.
    pub compression: u8,
    /// The checksum the storage sent: SHA-1 of `sent`.
    pub checksum: [u8; 20],
    /// The data as sent (compressed if `compression` is 1).
    pub sent: Vec<u8>,
    /// The record: `sent`, decompressed.
    pub record: Vec<u8>,
}

/// Where to find the cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Address of the primary master, `HOST:PORT`.
    pub master: String,
    /// Name of the cluster.
    pub name: String,
    /// Bound on each connect, handshake and answer.
    pub timeout: Duration,
    /// TLS to every node (NEO's `--ca --cert --key`), or none: plain.
    pub tls: Option<TlsConfig>,
}

/// SHA-1 of `bytes`. `ring` is already built for neonet's TLS: its
/// SHA-1 (named for legacy use: NEO uses it as a checksum, not for
/// security) costs no new crate.
pub fn sha1(bytes: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    d.as_ref().try_into().expect("SHA-1 is 20 bytes")
}

/// Reads `oids` at the last transaction of `cluster`: identifies with the
/// master as a client, learns the nodes and the partition table from
/// what the master sends, asks the last transaction, then reads each
/// object from a storage holding its partition (identifying there first),
/// checks its checksum and decompresses it.
pub fn read_objects(cluster: &Cluster, oids: &[Oid]) -> Result<Vec<Object>, CatError> {
    let master = dial(&cluster.master, cluster)?;
    let accepted = identify(&master, &cluster.name, None, None)?;
    let me = accepted.your_uuid.ok_or("the master gave us no node id")?;
    let (nodes, pt) = cluster_view(&master, cluster.timeout)?;
    let ltid = master.ask1(&AskLastTransaction {})?.ltid;
    // The storage wants to see the id and timestamp the master gave us.
    let id_timestamp = nodes.get(me).and_then(|n| n.id_timestamp);

    let mut storages: BTreeMap<NodeId, NodeLink<NeoPy>> = BTreeMap::new();
    let mut objects = Vec::with_capacity(oids.len());
    for &oid in oids {
        let (uuid, addr) = nodes
            .storages_for(&pt, oid)
            .next()
            .ok_or_else(|| format!("oid {oid}: no running storage holds its partition"))?;
        let storage = match storages.entry(uuid) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let link = dial(&format!("{}:{}", addr.host, addr.port), cluster)?;
                identify(&link, &cluster.name, Some(me), id_timestamp)?;
                e.insert(link)
            }
        };
        objects.push(read_object(storage, oid, ltid)?);
    }
    Ok(objects)
}

/// A NEO/py link to `addr`, over TLS if the cluster uses it, its answers
/// bounded by the cluster's timeout.
fn dial(addr: &str, cluster: &Cluster) -> Result<NodeLink<NeoPy>, CatError> {
    let dialer = Dialer::new(addr)
        .dialect::<NeoPy>()
        .timeout(cluster.timeout);
    let link = match &cluster.tls {
        Some(tls) => dialer.tls(tls).dial()?,
        None => dialer.dial()?,
    };
    link.set_recv_timeout(Some(cluster.timeout));
    Ok(link)
}

/// Identifies as a client (with our id, once the master gave one).
fn identify(
    link: &NodeLink<NeoPy>,
    cluster: &str,
    uuid: Option<NodeId>,
    id_timestamp: Option<f64>,
) -> Result<AcceptIdentification, CatError> {
    let req = RequestIdentification {
        node_type: NodeType::CLIENT,
        uuid,
        address: None,
        name: cluster.into(),
        id_timestamp,
        extra: BTreeMap::new(),
    };
    Ok(link.ask1(&req)?)
}

/// The node table and the partition table, from what the master sends a
/// new client unasked (`NotifyNodeInformation`, `SendPartitionTable`).
fn cluster_view(
    master: &NodeLink<NeoPy>,
    timeout: Duration,
) -> Result<(NodeTable, PartitionTable), CatError> {
    let mut nodes = NodeTable::new();
    let mut pt = None;
    let mut heard_nodes = false;
    while !(heard_nodes && pt.is_some()) {
        let req = master.recv_timeout(timeout).map_err(|e| match e.kind() {
            ErrorKind::Timeout => "the master sent no node list or partition table".into(),
            _ => CatError::from(e),
        })?;
        match req.into_msg() {
            Message::NotifyNodeInformation(n) => {
                nodes.update(&n.node_list);
                heard_nodes = true;
            }
            Message::SendPartitionTable(t) => pt = Some(PartitionTable::from(t)),
            Message::NotifyPartitionChanges(c) => {
                if let Some(pt) = &mut pt {
                    pt.apply(&c)?;
                }
            }
            // Anything else (invalidations, cluster state): not ours.
            _ => {}
        }
    }
    Ok((nodes, pt.expect("loop ends with it")))
}

/// Reads object `oid` as of `ltid`, checks and decompresses it.
fn read_object(storage: &NodeLink<NeoPy>, oid: Oid, ltid: Tid) -> Result<Object, CatError> {
    let ask = AskObject {
        oid,
        at: None,
        before: Some(ltid.checked_add(1).ok_or("last tid is the largest")?),
    };
    let ans = storage.ask1(&ask)?;
    let sent = ans.data.to_vec();
    let checksum = ans.checksum.0;
    if sha1(&sent) != checksum {
        return Err(format!("oid {oid}: checksum mismatch").into());
    }
    let compression = ans
        .compression
        .ok_or_else(|| format!("oid {oid}: no data (deleted object)"))?;
    let record = match compression {
        0 => sent.clone(),
        1 => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&sent[..]).read_to_end(&mut out)?;
            out
        }
        c => return Err(format!("oid {oid}: unknown compression {c}").into()),
    };
    Ok(Object {
        oid,
        serial: ans.serial,
        compression,
        checksum,
        sent,
        record,
    })
}
