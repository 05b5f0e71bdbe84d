//! Transactions: how a client commits (two-phase, ZODB's `tpc_begin`,
//! `store`, `tpc_vote`, `tpc_finish`, `tpc_abort`), how the master locks
//! and unlocks the data on storage nodes, and how conflicts and deadlocks
//! are resolved.

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! commit_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// Begin a transaction: ZODB's `tpc_begin` (client → master).
            BeginTransaction = 0x0012, ask AnswerBeginTransaction {
                /// The transaction id the client wants, or 0 (or
                /// `INVALID_TID`) to let the master choose.
                tid: Tid,
            }

            /// Answer to [`BeginTransaction`].
            AnswerBeginTransaction = 0x8012, answer {
                /// The transaction's temporary id.
                tid: Tid,
            }

            /// Ask new object ids, to create objects (client → master).
            AskNewOIDs = 0x0018, ask AnswerNewOIDs {
                /// How many.
                num_oids: u32,
            }

            /// Answer to [`AskNewOIDs`].
            AnswerNewOIDs = 0x8018, answer {
                /// The new object ids.
                oid_list: Vec<Oid>,
            }

            /// Store a new revision of an object in a transaction: ZODB's
            /// `store` (client → storage).
            StoreObject = 0x001c, ask AnswerStoreObject {
                /// The object.
                oid: Oid,
                /// The revision the change is based on (0 for a new
                /// object).
                serial: Tid,
                /// Whether `data` is compressed.
                compression: bool,
                /// SHA-1 of `data`.
                checksum: Checksum,
                /// The object's new data (empty when `data_serial` is
                /// given).
                data: Data,
                /// If not 0, the revision whose data this one reuses
                /// (undo).
                data_serial: Tid,
                /// The transaction (temporary id).
                tid: Tid,
            }

            /// Answer to [`StoreObject`].
            AnswerStoreObject = 0x801c, answer {
                /// 0 if stored; otherwise the revision it conflicts with.
                conflict: Tid,
            }

            /// Check that a revision is still the current one of an object,
            /// and lock it so until the transaction ends: ZODB's
            /// `checkCurrentSerialInTransaction` (client → storage).
            CheckCurrentSerial = 0x0039, ask AnswerCheckCurrentSerial {
                /// The transaction (temporary id).
                tid: Tid,
                /// The object.
                oid: Oid,
                /// The revision that must be current.
                serial: Tid,
            }

            /// Answer to [`CheckCurrentSerial`] (as [`AnswerStoreObject`]).
            AnswerCheckCurrentSerial = 0x8039, answer {
                /// 0 if current; otherwise the revision that is.
                conflict: Tid,
            }

            /// Store the metadata of a transaction; implies the vote
            /// (client → storage).
            StoreTransaction = 0x001e, ask AnswerStoreTransaction {
                /// The transaction (temporary id).
                tid: Tid,
                /// Its user (bytes, as ZODB keeps them).
                user: Vec<u8>,
                /// Its description (bytes).
                description: Vec<u8>,
                /// Its extension (a pickle: bytes).
                extension: Vec<u8>,
                /// The objects it changes.
                oid_list: Vec<Oid>,
            }

            /// Answer to [`StoreTransaction`].
            AnswerStoreTransaction = 0x801e, answer {}

            /// Vote a transaction: ZODB's `tpc_vote` (client → storage).
            VoteTransaction = 0x001f, ask AnswerVoteTransaction {
                /// The transaction (temporary id).
                tid: Tid,
            }

            /// Answer to [`VoteTransaction`].
            AnswerVoteTransaction = 0x801f, answer {}

            /// Report the storage nodes for which the vote failed; `ACK` if
            /// the transaction can still be finished (client → master).
            FailedVote = 0x0013, ask () {
                /// The transaction (temporary id).
                tid: Tid,
                /// The storage nodes that failed.
                node_list: Vec<NodeUUID>,
            }

            /// Finish a transaction: ZODB's `tpc_finish` (client → master).
            FinishTransaction = 0x0014, ask AnswerTransactionFinished {
                /// The transaction (temporary id).
                tid: Tid,
                /// The objects it changed.
                oid_list: Vec<Oid>,
                /// The objects checked with [`CheckCurrentSerial`].
                checked_list: Vec<Oid>,
            }

            /// Answer to [`FinishTransaction`].
            AnswerTransactionFinished = 0x8014, answer {
                /// The transaction's temporary id.
                ttid: Tid,
                /// Its final id: the committed transaction.
                tid: Tid,
            }

            /// Commit a transaction: its new data becomes read-locked
            /// (master → storage).
            LockInformation = 0x0015, ask AnswerInformationLocked {
                /// Its temporary id.
                ttid: Tid,
                /// Its final id.
                tid: Tid,
            }

            /// Answer to [`LockInformation`].
            AnswerInformationLocked = 0x8015, answer {
                /// The transaction's temporary id.
                ttid: Tid,
            }

            /// A transaction committed: its new data can be unlocked
            /// (master → storage).
            NotifyUnlockInformation = 0x0017, notify {
                /// Its temporary id.
                ttid: Tid,
            }

            /// A new transaction changed these objects: invalidate them in
            /// caches (master → client).
            InvalidateObjects = 0x0016, notify {
                /// The transaction.
                tid: Tid,
                /// The objects it changed.
                oid_list: Vec<Oid>,
            }

            /// Abort a transaction: ZODB's `tpc_abort` (client → storage;
            /// client → master → storage).
            AbortTransaction = 0x001d, notify {
                /// The transaction (temporary id).
                tid: Tid,
                /// The storage nodes involved (unused when sent to a
                /// storage node).
                node_list: Vec<NodeUUID>,
            }

            /// Ask the master for a new temporary id, with which the client
            /// resolves a deadlock by rebasing its transaction on the
            /// concurrent changes (storage → master → client).
            NotifyDeadlock = 0x0019, notify {
                /// The transaction (temporary id).
                ttid: Tid,
                /// The transaction holding the lock.
                locking_tid: Tid,
            }

            /// Rebase a transaction, to resolve a deadlock (client →
            /// storage).
            RebaseTransaction = 0x001a, ask AnswerRebaseTransaction {
                /// The transaction (its new temporary id).
                ttid: Tid,
                /// The transaction holding the lock.
                locking_tid: Tid,
            }

            /// Answer to [`RebaseTransaction`].
            AnswerRebaseTransaction = 0x801a, answer {
                /// The objects to rebase with [`RebaseObject`].
                oid_list: Vec<Oid>,
            }

            /// Rebase the change of one object, to resolve a deadlock
            /// (client → storage).
            RebaseObject = 0x001b, ask AnswerRebaseObject {
                /// The transaction (temporary id).
                ttid: Tid,
                /// The object.
                oid: Oid,
            }

            /// Answer to [`RebaseObject`]. NEO/py makes the conflict and
            /// the data optional; NEO/go (and so this table) always sends
            /// every field.
            AnswerRebaseObject = 0x801b, answer {
                /// The revision the change was based on.
                serial: Tid,
                /// The revision it conflicts with.
                conflict_serial: Tid,
                /// Whether `data` is compressed.
                compression: bool,
                /// SHA-1 of `data`.
                checksum: Checksum,
                /// The data of the change.
                data: Data,
            }

            /// Ask the last committed transaction (client → master; neoctl
            /// → admin → master).
            LastTransaction = 0x0038, ask AnswerLastTransaction {}

            /// Answer to [`LastTransaction`].
            AnswerLastTransaction = 0x8038, answer {
                /// The last committed transaction.
                tid: Tid,
            }
        } }
    };
}
