//! NEO/py's 111 messages: the declarative table (ARCHITECTURE.md, "Messages").
//!
//! Each entry of the table is a message, in the syntax of the one message
//! macro (`codec::table`): its NEO/py name, its code (by NEO/py's
//! registration order; answers have `0x8000`), its kind (`ask Answer`, or
//! `ask ()` for the requests that NEO/py answers with `Error`, `ACK` on
//! success; `answer`; `notify`; `error`), and its arguments in wire order,
//! named as NEO/py's handlers name them (`schema.tsv` of the facts). Field
//! types implement the `Field` codec of `codec.rs`, which is where the
//! msgpack rules live; a message's arguments are a msgpack array
//! (`args_len`, `put_args`, `get_args`).

use std::collections::BTreeMap;

use super::value::Value;

use super::codec::{args_len, get_args, put_args, Encoder, Field, Reader};
use super::types::{
    Address, CellChange, CellInfo, CheckSource, ClusterState, HistoryEntry, NodeId, NodeInfo,
    NodeState, NodeType, PackInfo, PackOrder, PackRequest, RelockConflict, UndoSerial,
};
use super::{Oid, Tid};
use crate::codec::message_table;
use crate::proto::{Checksum, Data, DecodeError, ErrorCode};

/// NEO/py's codec in scope, the table to the one message macro
/// (`codec::table`).
macro_rules! messages {
    ($($table:tt)*) => {
        message_table! {
            dialect: crate::NeoPy,
            derive: (Debug, Clone, PartialEq, Default),
            enum_derive: (Debug, Clone, PartialEq),
            extras: no_extras,
            table: { $($table)* }
        }
    };
}

/// NEO/py's table has nothing of its own beyond the shared macro.
macro_rules! no_extras {
    ($($any:tt)*) => {};
}

messages! {
    /// First request on a link: who the sender is and what cluster it wants to join. Any node
    /// to any node.
    RequestIdentification = 0x0001, ask AcceptIdentification {
        /// Type of the node.
        node_type: NodeType,
        /// Id of the node, if it has one already.
        uuid: Option<NodeId>,
        /// Where the node listens, if it does.
        address: Option<Address>,
        /// Name of the cluster.
        name: String,
        /// When the node identified itself (seconds since the epoch), if known.
        id_timestamp: Option<f64>,
        /// Free-form extras by name (e.g. `new_nid`, `backup`).
        extra: BTreeMap<String, Value>,
    }

    /// Check that the peer is alive (and, as NEO uses it, a barrier behind earlier requests).
    /// Any to any.
    Ping = 0x0002, ask Pong {}

    /// Ask a client to close the link. Master or storage to client.
    CloseClient = 0x0003, notify {}

    /// Ask which master is the primary. Admin (neoctl) to master.
    AskPrimary = 0x0004, ask AnswerPrimary {}

    /// Tell the sender that this master is not the primary, and which masters are known. Master
    /// to any.
    NotPrimaryMaster = 0x0005, notify {
        /// Id of the primary master, if known.
        primary: Option<NodeId>,
        /// Addresses of the known masters.
        known_master_list: Vec<Address>,
    }

    /// What changed in the node table (all of it, right after identification). Master to any.
    NotifyNodeInformation = 0x0006, notify {
        /// When the information was sent (seconds since the epoch).
        timestamp: f64,
        /// The nodes.
        node_list: Vec<NodeInfo>,
    }

    /// Ask a storage for what it knows of the last run, at cluster start. Master to storage.
    AskRecovery = 0x0007, ask AnswerRecovery {}

    /// Ask a storage for the last ids it has. Master to storage.
    AskLastIDs = 0x0008, ask AnswerLastIDs {}

    /// Ask a storage for the partition table it has. Master to storage.
    AskPartitionTable = 0x0009, ask AnswerPartitionTable {}

    /// The whole partition table (sent right after identification). Master to any.
    SendPartitionTable = 0x000a, notify {
        /// Id of the partition table (none: no table yet).
        ptid: Option<i64>,
        /// Number of replicas of each partition.
        num_replicas: u32,
        /// The rows of the partition table, by partition: the cells of each.
        row_list: Vec<Vec<CellInfo>>,
    }

    /// Changes to some cells of the partition table. Master to any.
    NotifyPartitionChanges = 0x000b, notify {
        /// Id of the partition table (its version).
        ptid: i64,
        /// Number of replicas of each partition.
        num_replicas: u32,
        /// The cells.
        cell_list: Vec<CellChange>,
    }

    /// Tell a storage that the cluster serves clients from now on. Master to storage.
    StartOperation = 0x000c, notify {
        /// Whether the cluster backs up another one.
        backup: bool,
    }

    /// Tell a storage that the cluster stops serving clients. Master to storage.
    StopOperation = 0x000d, notify {}

    /// Ask the master which transactions are not finished yet. Storage to master.
    AskUnfinishedTransactions = 0x000e, ask AnswerUnfinishedTransactions {
        /// The partitions.
        offset_list: Vec<u32>,
    }

    /// Ask a storage for its locked transactions, at verification. Master to storage.
    AskLockedTransactions = 0x000f, ask AnswerLockedTransactions {}

    /// Ask for the final tid of a transaction, knowing its temporary one. Master to storage,
    /// client to master.
    AskFinalTID = 0x0010, ask AnswerFinalTID {
        /// Temporary id of the transaction.
        ttid: Tid,
    }

    /// Commit a transaction left locked by the last run, at verification. Master to storage.
    ValidateTransaction = 0x0011, notify {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Its final tid.
        tid: Tid,
    }

    /// Begin a transaction: ask for a temporary tid. Client to master.
    AskBeginTransaction = 0x0012, ask AnswerBeginTransaction {
        /// The tid the transaction must have, if given (for replication of a backup).
        tid: Option<Tid>,
    }

    /// Report storages that failed to vote a transaction (answered by `Error`, `ACK` on
    /// success). Client to master.
    FailedVote = 0x0013, ask () {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Storages that failed to vote.
        uuid_list: Vec<NodeId>,
    }

    /// Finish (commit) a transaction. Client to master.
    AskFinishTransaction = 0x0014, ask AnswerTransactionFinished {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Objects stored in the transaction.
        oid_list: Vec<Oid>,
        /// Partitions of the deleted objects.
        deleted: Vec<u32>,
        /// Partitions of the objects checked with `AskCheckCurrentSerial`.
        checked: Vec<u32>,
        /// The pack requested with the transaction, if any.
        pack: Option<PackRequest>,
    }

    /// Lock the objects of a transaction being committed. Master to storage.
    AskLockInformation = 0x0015, ask AnswerInformationLocked {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Its final tid.
        tid: Tid,
        /// Whether the transaction asks for a pack.
        pack: bool,
    }

    /// Objects that a committed transaction changed. Master to clients.
    InvalidateObjects = 0x0016, notify {
        /// The committed transaction.
        tid: Tid,
        /// The objects.
        oid_list: Vec<Oid>,
    }

    /// Partitions whose objects a committed transaction changed (for clients that cache whole
    /// partitions). Master to clients.
    InvalidatePartitions = 0x0017, notify {
        /// The committed transaction.
        tid: Tid,
        /// The partitions.
        partition_list: Vec<u32>,
    }

    /// Unlock the objects of a committed transaction. Master to storage.
    NotifyUnlockInformation = 0x0018, notify {
        /// Temporary id of the transaction.
        ttid: Tid,
    }

    /// Ask for new object ids. Client to master.
    AskNewOIDs = 0x0019, ask AnswerNewOIDs {
        /// How many oids.
        num_oids: u32,
    }

    /// A deadlock was found on an object: the transaction must rebase. Storage to client.
    NotifyDeadlock = 0x001a, notify {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// The object.
        oid: Oid,
    }

    /// Lock an object again after a deadlock, checking for conflicts. Client to storage.
    AskRelockObject = 0x001b, ask AnswerRelockObject {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// The object.
        oid: Oid,
    }

    /// Store an object revision in a transaction. Client to storage.
    AskStoreObject = 0x001c, ask AnswerStoreObject {
        /// The object.
        oid: Oid,
        /// The serial the new revision is based on.
        serial: Tid,
        /// 0: data as is; 1: zlib.
        compression: u8,
        /// SHA-1 of `data` as sent.
        checksum: Checksum,
        /// The (possibly compressed) data.
        data: Data,
        /// If set, the revision whose data is reused (undo); `data` is then empty.
        data_serial: Option<Tid>,
        /// Temporary id of the transaction, if any.
        ttid: Option<Tid>,
    }

    /// Abort a transaction. Client to storage, master to storage.
    AbortTransaction = 0x001d, notify {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Storages involved.
        uuid_list: Vec<NodeId>,
    }

    /// Store the metadata of a transaction. Client to storage.
    AskStoreTransaction = 0x001e, ask AnswerStoreTransaction {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// User of the transaction.
        user: Vec<u8>,
        /// Description of the transaction.
        desc: Vec<u8>,
        /// Extension of the transaction (pickled).
        ext: Vec<u8>,
        /// The objects.
        oid_list: Vec<Oid>,
        /// The pack requested with the transaction, if any.
        pack: Option<PackRequest>,
    }

    /// Vote a transaction (two-phase commit). Client to storage.
    AskVoteTransaction = 0x001f, ask AnswerVoteTransaction {
        /// Temporary id of the transaction.
        ttid: Tid,
    }

    /// Read an object: the revision current at `at`, or the last one before `before` (neither:
    /// the last one). Client to storage.
    AskObject = 0x0020, ask AnswerObject {
        /// The object.
        oid: Oid,
        /// Read the revision current at this tid, if given.
        at: Option<Tid>,
        /// Read the last revision before this tid, if given.
        before: Option<Tid>,
    }

    /// Ask for the tids of the last transactions, newest first (`first`..`last` of that list).
    /// Client to storage.
    AskTIDs = 0x0021, ask AnswerTIDs {
        /// Index of the first item.
        first: i64,
        /// Index after the last item (exclusive).
        last: i64,
        /// The partition, or 0xffffffff for all readable ones.
        partition: u32,
    }

    /// Ask for the metadata of a transaction. Client to storage.
    AskTransactionInformation = 0x0022, ask AnswerTransactionInformation {
        /// The transaction.
        tid: Tid,
    }

    /// Ask for the revisions of an object, newest first (`first`..`last` of that list). Client
    /// to storage.
    AskObjectHistory = 0x0023, ask AnswerObjectHistory {
        /// The object.
        oid: Oid,
        /// Index of the first item.
        first: i64,
        /// Index after the last item (exclusive).
        last: i64,
    }

    /// Ask for rows of the partition table. Admin (neoctl) to admin.
    AskPartitionList = 0x0024, ask AnswerPartitionList {
        /// First partition.
        min_offset: u32,
        /// Partition after the last one (0: up to the end).
        max_offset: u32,
        /// Only the rows with a cell of this node, if given.
        uuid: Option<NodeId>,
    }

    /// Ask for the nodes of the cluster, of one type or all. Admin (neoctl) to admin.
    AskNodeList = 0x0025, ask AnswerNodeList {
        /// Only nodes of this type, if given.
        node_type: Option<NodeType>,
    }

    /// Change the state of a node (answered by `Error`, `ACK` on success). Admin to master.
    SetNodeState = 0x0026, ask () {
        /// Id of the node.
        uuid: NodeId,
        /// The new state.
        state: NodeState,
    }

    /// Add pending storage nodes to the cluster (answered by `Error`, `ACK` on success). Admin
    /// to master.
    AddPendingNodes = 0x0027, ask () {
        /// Storages to add (none: all pending).
        uuid_list: Vec<NodeId>,
    }

    /// Rebalance the partition table over the given storages (or only tell how, `dry_run`).
    /// Admin to master.
    TweakPartitionTable = 0x0028, ask AnswerTweakPartitionTable {
        /// Only tell what would be done.
        dry_run: bool,
        /// Storages to drop from the table.
        uuid_list: Vec<NodeId>,
    }

    /// Change the number of replicas (answered by `Error`, `ACK` on success). Admin to master.
    SetNumReplicas = 0x0029, ask () {
        /// Number of replicas of each partition.
        num_replicas: u32,
    }

    /// Change the state of the cluster (answered by `Error`, `ACK` on success). Admin to
    /// master.
    SetClusterState = 0x002a, ask () {
        /// The new state.
        state: ClusterState,
    }

    /// Repair the given storages (answered by `Error`, `ACK` on success). Admin to master.
    Repair = 0x002b, ask () {
        /// Storages to repair.
        uuid_list: Vec<NodeId>,
        /// Only tell what would be done.
        dry_run: bool,
    }

    /// Repair: prune orphan data. Master to storage.
    NotifyRepair = 0x002c, notify {
        /// Only tell what would be done.
        dry_run: bool,
    }

    /// The state of the cluster changed. Master to any.
    NotifyClusterInformation = 0x002d, notify {
        /// The new state.
        state: ClusterState,
    }

    /// Ask for the state of the cluster. Any to master, admin.
    AskClusterState = 0x002e, ask AnswerClusterState {}

    /// Ask what undoing a transaction would restore for some objects. Client to storage.
    AskObjectUndoSerial = 0x002f, ask AnswerObjectUndoSerial {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Last committed transaction.
        ltid: Tid,
        /// The transaction being undone.
        undone_tid: Tid,
        /// The objects.
        oid_list: Vec<Oid>,
    }

    /// Ask for tids from a given one, for replication. Client or storage to storage.
    AskTIDsFrom = 0x0030, ask AnswerTIDsFrom {
        /// First tid of the range.
        min_tid: Tid,
        /// Last tid of the range (included).
        max_tid: Tid,
        /// How many items at most.
        length: u32,
        /// The partition.
        partition: u32,
    }

    /// Ask for the oids of a partition from a given one. Client to storage.
    AskOIDsFrom = 0x0031, ask AnswerOIDsFrom {
        /// A partition (row of the partition table).
        partition: u32,
        /// How many items at most.
        length: u32,
        /// First oid of the range.
        min_oid: Oid,
        /// Only objects that existed at this tid.
        tid: Tid,
    }

    /// Wait until packing up to a tid is done. Client to master.
    WaitForPack = 0x0032, ask WaitedForPack {
        /// Wait until packed up to this tid.
        tid: Tid,
    }

    /// Ask for the pack orders from a given one. Storage to master.
    AskPackOrders = 0x0033, ask AnswerPackOrders {
        /// First pack order to list.
        pack_id: Tid,
    }

    /// Pack orders approved or rejected. Master to storage.
    NotifyPackSigned = 0x0034, notify {
        /// Approved pack orders.
        approved: Vec<Tid>,
        /// Rejected pack orders.
        rejected: Vec<Tid>,
    }

    /// A pack is done up to an order. Storage to master.
    NotifyPackCompleted = 0x0035, notify {
        /// The last pack order done.
        pack_id: Tid,
    }

    /// Check the replicas of partitions (answered by `Error`, `ACK` on success). Admin to
    /// master.
    CheckReplicas = 0x0036, ask () {
        /// For each partition, the node to check against (none: all).
        partition_dict: BTreeMap<u32, Option<NodeId>>,
        /// First tid to check.
        min_tid: Tid,
        /// Last tid to check, if given.
        max_tid: Option<Tid>,
    }

    /// Check a partition against another node. Master to storage.
    CheckPartition = 0x0037, notify {
        /// A partition (row of the partition table).
        partition: u32,
        /// What to check against.
        source: CheckSource,
        /// First tid of the range.
        min_tid: Tid,
        /// Last tid of the range (included).
        max_tid: Tid,
    }

    /// Ask for a checksum of the tids of a range, to compare replicas. Storage to storage.
    AskCheckTIDRange = 0x0038, ask AnswerCheckTIDRange {
        /// A partition (row of the partition table).
        partition: u32,
        /// How many items at most.
        length: u32,
        /// First tid of the range.
        min_tid: Tid,
        /// Last tid of the range (included).
        max_tid: Tid,
    }

    /// Ask for checksums of the serials and oids of a range, to compare replicas. Storage to
    /// storage.
    AskCheckSerialRange = 0x0039, ask AnswerCheckSerialRange {
        /// A partition (row of the partition table).
        partition: u32,
        /// How many items at most.
        length: u32,
        /// First tid of the range.
        min_tid: Tid,
        /// Last tid of the range (included).
        max_tid: Tid,
        /// First oid of the range.
        min_oid: Oid,
    }

    /// Cells found corrupted by a check. Storage to master.
    NotifyPartitionCorrupted = 0x003a, notify {
        /// A partition (row of the partition table).
        partition: u32,
        /// Ids of the nodes whose cells are corrupted.
        cell_list: Vec<NodeId>,
    }

    /// The storage is ready to serve. Storage to master.
    NotifyReady = 0x003b, notify {}

    /// Ask for the last committed transaction. Client or admin to master.
    AskLastTransaction = 0x003c, ask AnswerLastTransaction {}

    /// Check that an object is still at a given serial, in a transaction. Client to storage.
    AskCheckCurrentSerial = 0x003d, ask AnswerCheckCurrentSerial {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// The object.
        oid: Oid,
        /// The serial the object must still have.
        serial: Tid,
    }

    /// A transaction is finished. Master to client.
    NotifyTransactionFinished = 0x003e, notify {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Last tid the client may see.
        max_tid: Tid,
    }

    /// Replicate partitions up to a tid, from the given sources. Master to storage.
    Replicate = 0x003f, notify {
        /// Replicate up to this tid.
        tid: Tid,
        /// Name of the upstream cluster (empty: this cluster).
        upstream_name: String,
        /// For each partition, the node to replicate from (none: the upstream cluster).
        source_dict: BTreeMap<u32, Option<Address>>,
    }

    /// A partition is replicated up to a tid. Storage to master.
    NotifyReplicationDone = 0x0040, notify {
        /// The partition.
        offset: u32,
        /// Replicated up to this tid.
        tid: Tid,
    }

    /// Ask for transactions of a partition, for replication. Storage to storage.
    AskFetchTransactions = 0x0041, ask AnswerFetchTransactions {
        /// The partition to replicate.
        partition: u32,
        /// How many items at most.
        length: u32,
        /// First tid of the range.
        min_tid: Tid,
        /// Last tid of the range (included).
        max_tid: Tid,
        /// Tids the asker has.
        tid_list: Vec<Tid>,
        /// Whether to send pack information.
        ask_pack_info: bool,
    }

    /// Ask for object revisions of a partition, for replication. Storage to storage.
    AskFetchObjects = 0x0042, ask AnswerFetchObjects {
        /// The partition to replicate.
        partition: u32,
        /// How many items at most.
        length: u32,
        /// First tid of the range.
        min_tid: Tid,
        /// Last tid of the range (included).
        max_tid: Tid,
        /// First oid of the range.
        min_oid: Oid,
        /// Oids the asker has, by serial.
        object_dict: BTreeMap<Tid, Vec<Oid>>,
    }

    /// A transaction sent for replication (answers `AskFetchTransactions` in many packets).
    /// Storage to storage.
    AddTransaction = 0x0043, notify {
        /// Tid of the transaction.
        tid: Tid,
        /// User of the transaction.
        user: Vec<u8>,
        /// Description of the transaction.
        desc: Vec<u8>,
        /// Extension of the transaction (pickled).
        ext: Vec<u8>,
        /// Whether the transaction was packed.
        packed: bool,
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Objects the transaction changed.
        oid_list: Vec<Oid>,
        /// The pack order carried by the transaction, if any.
        pack: Option<PackInfo>,
    }

    /// An object revision sent for replication (answers `AskFetchObjects` in many packets).
    /// Storage to storage.
    AddObject = 0x0044, notify {
        /// The object.
        oid: Oid,
        /// Tid of the revision.
        serial: Tid,
        /// 0: data as is; 1: zlib.
        compression: u8,
        /// SHA-1 of `data` as sent.
        checksum: Checksum,
        /// The (possibly compressed) data.
        data: Data,
        /// If set, the revision whose data this revision reuses (undo); `data` is then empty.
        data_serial: Option<Tid>,
    }

    /// Truncate the database after a tid (answered by `Error`, `ACK` on success). Admin to
    /// master, master to storage.
    Truncate = 0x0045, ask () {
        /// Truncate after this tid.
        tid: Tid,
    }

    /// Flush the debug log. Master to any.
    FlushLog = 0x0046, notify {}

    /// Ask for the monitoring summary. Admin (neoctl) to admin.
    AskMonitorInformation = 0x0047, ask AnswerMonitorInformation {}

    /// Monitoring information. Admin to admin (backup).
    NotifyMonitorInformation = 0x0048, notify {
        /// Monitoring values by name.
        info: BTreeMap<String, Value>,
    }

    /// The address of the upstream cluster's admin. Master to admin.
    NotifyUpstreamAdmin = 0x0049, notify {
        /// Address of the upstream admin.
        addr: Address,
    }

    /// An error answering a request, or its acknowledgement (`ACK`) for the requests answered
    /// that way. Any to any.
    Error = 0x8000, error {
        /// What kind of error (`ACK` for success): a plain integer on the wire.
        code: ErrorCode,
        /// What happened (UTF-8).
        message: String,
    }

    /// The identification was accepted: who answers, and the id given to the sender.
    AcceptIdentification = 0x8001, answer {
        /// Type of the node that accepted.
        node_type: NodeType,
        /// Id of the node that accepted.
        uuid: Option<NodeId>,
        /// The id given to the node that identified itself.
        your_uuid: Option<NodeId>,
    }

    /// The peer is alive.
    Pong = 0x8002, answer {}

    /// The primary master.
    AnswerPrimary = 0x8004, answer {
        /// Id of the primary master.
        primary_uuid: NodeId,
    }

    /// What a storage knows of the last run.
    AnswerRecovery = 0x8007, answer {
        /// Id of the partition table it has, if any.
        ptid: Option<i64>,
        /// Tid up to which the cluster is backed up, if it is a backup.
        backup_tid: Option<Tid>,
        /// Where the database must be truncated, if anywhere.
        truncate_tid: Option<Tid>,
    }

    /// The last ids a storage has.
    AnswerLastIDs = 0x8008, answer {
        /// Last tid, if any.
        ltid: Option<Tid>,
        /// Last oid, if any.
        loid: Option<Oid>,
        /// Last temporary tid.
        ftid: Tid,
    }

    /// The partition table a storage has.
    AnswerPartitionTable = 0x8009, answer {
        /// Id of the partition table.
        ptid: i64,
        /// Number of replicas of each partition.
        num_replicas: u32,
        /// The rows of the partition table, by partition: the cells of each.
        row_list: Vec<Vec<CellInfo>>,
    }

    /// The transactions not finished yet.
    AnswerUnfinishedTransactions = 0x800e, answer {
        /// Last committed tid.
        max_tid: Tid,
        /// Temporary ids of the transactions.
        ttid_list: Vec<Tid>,
    }

    /// The locked transactions of a storage.
    AnswerLockedTransactions = 0x800f, answer {
        /// Final tid (if known) by temporary tid.
        tid_dict: BTreeMap<Tid, Option<Tid>>,
    }

    /// The final tid of a transaction.
    AnswerFinalTID = 0x8010, answer {
        /// The transaction's final tid; none if it was not committed
        /// (NEO/py answers `None` for a ttid it does not know).
        tid: Option<Tid>,
    }

    /// The temporary tid of the transaction that begins.
    AnswerBeginTransaction = 0x8012, answer {
        /// Temporary id of the transaction.
        ttid: Tid,
    }

    /// The transaction is committed, with its final tid.
    AnswerTransactionFinished = 0x8014, answer {
        /// Temporary id of the transaction.
        ttid: Tid,
        /// Its final tid.
        tid: Tid,
    }

    /// The objects of the transaction are locked.
    AnswerInformationLocked = 0x8015, answer {
        /// Temporary id of the transaction.
        ttid: Tid,
    }

    /// New object ids.
    AnswerNewOIDs = 0x8019, answer {
        /// The objects.
        oid_list: Vec<Oid>,
    }

    /// The object is locked again, and the conflict found if any.
    AnswerRelockObject = 0x801b, answer {
        /// The conflict, if any.
        conflict: Option<RelockConflict>,
    }

    /// The object is stored, or the conflict found.
    AnswerStoreObject = 0x801c, answer {
        /// None if stored; else the conflicting tid (ZERO_TID: nothing done).
        conflict: Option<Tid>,
    }

    /// The transaction metadata is stored.
    AnswerStoreTransaction = 0x801e, answer {}

    /// The transaction is voted.
    AnswerVoteTransaction = 0x801f, answer {}

    /// One revision of an object. Its data is a window into the packet buffer when large (no
    /// copy).
    AnswerObject = 0x8020, answer {
        /// The object.
        oid: Oid,
        /// Tid of the object revision.
        serial: Tid,
        /// Tid of the next revision, none if this is the last.
        next_serial: Option<Tid>,
        /// 0: data as is; 1: zlib; none: no data (deleted object).
        compression: Option<u8>,
        /// SHA-1 of `data` as sent.
        checksum: Checksum,
        /// The (possibly compressed) data.
        data: Data,
        /// If set, the revision whose data this revision reuses (undo).
        data_serial: Option<Tid>,
    }

    /// The tids of the last transactions.
    AnswerTIDs = 0x8021, answer {
        /// Transaction ids.
        tid_list: Vec<Tid>,
    }

    /// The metadata of a transaction.
    AnswerTransactionInformation = 0x8022, answer {
        /// The transaction.
        tid: Tid,
        /// User of the transaction.
        user: Vec<u8>,
        /// Description of the transaction.
        desc: Vec<u8>,
        /// Extension of the transaction (pickled).
        ext: Vec<u8>,
        /// Whether the transaction was packed.
        packed: bool,
        /// Objects the transaction changed.
        oid_list: Vec<Oid>,
    }

    /// The revisions of an object.
    AnswerObjectHistory = 0x8023, answer {
        /// The object.
        oid: Oid,
        /// The revisions, newest first.
        history_list: Vec<HistoryEntry>,
    }

    /// Rows of the partition table.
    AnswerPartitionList = 0x8024, answer {
        /// Id of the partition table (its version).
        ptid: i64,
        /// Number of replicas of each partition.
        num_replicas: u32,
        /// The rows of the partition table, by partition: the cells of each.
        row_list: Vec<Vec<CellInfo>>,
    }

    /// The nodes of the cluster.
    AnswerNodeList = 0x8025, answer {
        /// The nodes.
        node_list: Vec<NodeInfo>,
    }

    /// The partition table after rebalancing (or as it would be, `dry_run`).
    AnswerTweakPartitionTable = 0x8028, answer {
        /// Whether the table changed.
        changed: bool,
        /// The rows of the partition table, by partition: the cells of each.
        row_list: Vec<Vec<CellInfo>>,
    }

    /// The state of the cluster, if known.
    AnswerClusterState = 0x802e, answer {
        /// The state, if known.
        state: Option<ClusterState>,
    }

    /// What undoing a transaction restores, per object.
    AnswerObjectUndoSerial = 0x802f, answer {
        /// Per object: its current serial, the serial the undo restores, whether it is current.
        object_tid_dict: BTreeMap<Oid, UndoSerial>,
    }

    /// Tids from the one asked.
    AnswerTIDsFrom = 0x8030, answer {
        /// Transaction ids.
        tid_list: Vec<Tid>,
    }

    /// Oids of a partition, and where to go on from.
    AnswerOIDsFrom = 0x8031, answer {
        /// Where to go on from, or none when done.
        next_oid: Option<Oid>,
        /// The objects.
        oid_list: Vec<Oid>,
    }

    /// Packing up to the tid is done.
    WaitedForPack = 0x8032, answer {}

    /// Pack orders.
    AnswerPackOrders = 0x8033, answer {
        /// The pack orders.
        pack_list: Vec<PackOrder>,
    }

    /// The checksum of the tids of a range.
    AnswerCheckTIDRange = 0x8038, answer {
        /// Number of items in the range.
        count: i64,
        /// SHA-1 of the tids of the range.
        tid_checksum: Checksum,
        /// Last tid of the range.
        max_tid: Tid,
    }

    /// The checksums of the serials and oids of a range.
    AnswerCheckSerialRange = 0x8039, answer {
        /// Number of items in the range.
        count: i64,
        /// SHA-1 of the tids of the range.
        tid_checksum: Checksum,
        /// Last tid of the range.
        max_tid: Tid,
        /// SHA-1 of the oids of the range.
        oid_checksum: Checksum,
        /// Last oid of the range.
        max_oid: Oid,
    }

    /// The last committed transaction.
    AnswerLastTransaction = 0x803c, answer {
        /// Last committed transaction.
        ltid: Tid,
    }

    /// The object is still at the serial, or the conflict found.
    AnswerCheckCurrentSerial = 0x803d, answer {
        /// None if stored; else the conflicting tid (ZERO_TID: nothing done).
        conflict: Option<Tid>,
    }

    /// The transactions were sent (as `AddTransaction` packets before this one).
    AnswerFetchTransactions = 0x8041, answer {
        /// Where to go on from, or none when done.
        next_tid: Option<Tid>,
        /// Tids the asker must delete.
        tid_list: Vec<Tid>,
        /// Last completed pack, if any.
        completed_pack: Option<Tid>,
    }

    /// The object revisions were sent (as `AddObject` packets before this one).
    AnswerFetchObjects = 0x8042, answer {
        /// Where to go on from, or none when done.
        next_tid: Option<Tid>,
        /// Where to go on from, or none when done.
        next_oid: Option<Oid>,
        /// Remaining oids by serial, for the asker to delete.
        object_dict: BTreeMap<Tid, Vec<Oid>>,
    }

    /// The monitoring summary.
    AnswerMonitorInformation = 0x8047, answer {
        /// Backup clusters with warnings (none: this cluster).
        warning: Vec<Option<String>>,
        /// Backup clusters with problems (none: this cluster).
        problem: Vec<Option<String>>,
        /// Summary text.
        summary: String,
    }
}
