//! Replication and checks: how storage nodes copy partitions from one
//! another (or from an upstream cluster, in backup mode), and compare
//! their copies.

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! replication_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// Ask the transactions not finished yet, which replication of
            /// these partitions must wait for (storage → master).
            UnfinishedTransactions = 0x000e, ask AnswerUnfinishedTransactions {
                /// The partitions.
                row_list: Vec<PartitionOffset>,
            }

            /// Answer to [`UnfinishedTransactions`].
            AnswerUnfinishedTransactions = 0x800e, answer {
                /// The last committed transaction.
                max_tid: Tid,
                /// The unfinished transactions.
                tid_list: Vec<UnfinishedTid>,
            }

            /// A transaction that blocked a replication is finished (master
            /// → storage).
            NotifyTransactionFinished = 0x003a, notify {
                /// Its temporary id.
                ttid: Tid,
                /// The last committed transaction.
                max_tid: Tid,
            }

            /// Replicate partitions up to a transaction, from the given
            /// sources (master → storage).
            Replicate = 0x003b, notify {
                /// Replicate up to this transaction.
                tid: Tid,
                /// The upstream cluster to replicate from (backup mode);
                /// empty otherwise.
                upstream_name: String,
                /// Partition → address of the storage node to replicate it
                /// from (empty if there is nothing new up to `tid`).
                source_dict: BTreeMap<u32, String>,
            }

            /// A partition was replicated (storage → master).
            ReplicationDone = 0x003c, notify {
                /// The partition.
                offset: u32,
                /// Up to this transaction.
                tid: Tid,
            }

            /// Ask the transactions of a partition that the sender lacks
            /// (sent back with [`AddTransaction`]), and those it should not
            /// have (storage → storage).
            FetchTransactions = 0x003d, ask AnswerFetchTransactions {
                /// The partition.
                partition: u32,
                /// How many transactions at most.
                length: u32,
                /// The first transaction of the range.
                min_tid: Tid,
                /// The last transaction of the range.
                max_tid: Tid,
                /// The transactions the sender has in the range.
                txn_known_list: Vec<Tid>,
            }

            /// Answer to [`FetchTransactions`], after the
            /// [`AddTransaction`]s.
            AnswerFetchTransactions = 0x803d, answer {
                /// Up to where the partition is packed.
                pack_tid: Tid,
                /// Where the next request starts (`INVALID_TID` when
                /// done).
                next_tid: Tid,
                /// Transactions the asker must delete.
                txn_delete_list: Vec<Tid>,
            }

            /// Ask the object revisions of a partition that the sender
            /// lacks (sent back with [`AddObject`]), and those it should
            /// not have (storage → storage).
            FetchObjects = 0x003e, ask AnswerFetchObjects {
                /// The partition.
                partition: u32,
                /// How many revisions at most.
                length: u32,
                /// The first transaction of the range.
                min_tid: Tid,
                /// The last transaction of the range.
                max_tid: Tid,
                /// The first object, in the first transaction.
                min_oid: Oid,
                /// The revisions the sender has: transaction → objects.
                obj_known_dict: BTreeMap<Tid, Vec<Oid>>,
            }

            /// Answer to [`FetchObjects`], after the [`AddObject`]s.
            AnswerFetchObjects = 0x803e, answer {
                /// Up to where the partition is packed.
                pack_tid: Tid,
                /// Where the next request starts: this transaction...
                next_tid: Tid,
                /// ... and this object (`INVALID_TID`/`INVALID_OID` when
                /// done).
                next_oid: Oid,
                /// Revisions the asker must delete: transaction → objects.
                obj_delete_dict: BTreeMap<Tid, Vec<Oid>>,
            }

            /// The metadata of a transaction the peer lacks (storage →
            /// storage, during [`FetchTransactions`]).
            AddTransaction = 0x003f, notify {
                /// The transaction.
                tid: Tid,
                /// Its user (bytes, as ZODB keeps them).
                user: Vec<u8>,
                /// Its description (bytes).
                description: Vec<u8>,
                /// Its extension (a pickle: bytes).
                extension: Vec<u8>,
                /// Whether it was packed.
                packed: bool,
                /// Its temporary id.
                ttid: Tid,
                /// The objects it changed.
                oid_list: Vec<Oid>,
            }

            /// An object revision the peer lacks (storage → storage, during
            /// [`FetchObjects`]).
            AddObject = 0x0040, notify {
                /// The object.
                oid: Oid,
                /// The transaction that wrote the revision.
                serial: Tid,
                /// Whether `data` is compressed.
                compression: bool,
                /// SHA-1 of `data`.
                checksum: Checksum,
                /// The object's data.
                data: Data,
                /// If not 0, the revision whose data this one reuses.
                data_serial: Tid,
            }

            /// Compare a partition with the other nodes holding it,
            /// metadata only, optionally within a range (master →
            /// storage).
            CheckPartition = 0x0033, notify {
                /// The partition.
                partition: u32,
                /// What to compare against.
                source: CheckSource,
                /// The first transaction of the range.
                min_tid: Tid,
                /// The last transaction of the range.
                max_tid: Tid,
            }

            /// Ask a summary of a range of transactions, to find whether
            /// a replica differs from the reference (storage → storage).
            CheckTIDRange = 0x0034, ask AnswerCheckTIDRange {
                /// The partition.
                partition: u32,
                /// How many transactions at most.
                length: u32,
                /// The first transaction of the range.
                min_tid: Tid,
                /// The last transaction of the range.
                max_tid: Tid,
            }

            /// Answer to [`CheckTIDRange`].
            AnswerCheckTIDRange = 0x8034, answer {
                /// How many transactions were summed.
                count: u32,
                /// SHA-1 of their ids.
                checksum: Checksum,
                /// The last one.
                max_tid: Tid,
            }

            /// Ask a summary of a range of object revisions, to find
            /// whether a replica differs from the reference (storage →
            /// storage).
            CheckSerialRange = 0x0035, ask AnswerCheckSerialRange {
                /// The partition.
                partition: u32,
                /// How many revisions at most.
                length: u32,
                /// The first transaction of the range.
                min_tid: Tid,
                /// The last transaction of the range.
                max_tid: Tid,
                /// The first object, in the first transaction.
                min_oid: Oid,
            }

            /// Answer to [`CheckSerialRange`].
            AnswerCheckSerialRange = 0x8035, answer {
                /// How many revisions were summed.
                count: u32,
                /// SHA-1 of their transaction ids.
                tid_checksum: Checksum,
                /// The last transaction.
                max_tid: Tid,
                /// SHA-1 of their object ids.
                oid_checksum: Checksum,
                /// The last object.
                max_oid: Oid,
            }

            /// A check found replicas of a partition that differ (storage
            /// → master).
            PartitionCorrupted = 0x0036, notify {
                /// The partition.
                partition: u32,
                /// The storage nodes whose cells differ.
                cell_list: Vec<NodeUUID>,
            }
        } }
    };
}
