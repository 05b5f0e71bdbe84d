//! Recovery and verification: what a master asks storage nodes when the
//! cluster starts, to rebuild its state and finish what an unclean
//! shutdown left half done.

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! recovery_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// Ask what a master needs to recover (master → storage; also
            /// `neoctl print ids`, through the admin node).
            Recovery = 0x0007, ask AnswerRecovery {}

            /// Answer to [`Recovery`].
            AnswerRecovery = 0x8007, answer {
                /// Version of the storage node's partition table (0 for
                /// none).
                ptid: PTid,
                /// Up to where a backup cluster has its upstream's data.
                backup_tid: Tid,
                /// Where the database is to be truncated, if asked.
                truncate_tid: Tid,
            }

            /// Ask the last object id and transaction id, so that a master
            /// can go on from them (master → storage; also `neoctl print
            /// ids`).
            LastIDs = 0x0008, ask AnswerLastIDs {}

            /// Answer to [`LastIDs`].
            AnswerLastIDs = 0x8008, answer {
                /// The last object id given.
                last_oid: Oid,
                /// The last committed transaction.
                last_tid: Tid,
            }

            /// Ask the transactions that were committed but not unlocked,
            /// to replay them (master → storage).
            LockedTransactions = 0x000f, ask AnswerLockedTransactions {}

            /// Answer to [`LockedTransactions`].
            AnswerLockedTransactions = 0x800f, answer {
                /// Temporary id → final id of each such transaction.
                tid_dict: BTreeMap<Tid, Tid>,
            }

            /// Ask the final id of a transaction if it was committed, to
            /// recover from failures during `tpc_finish` (master → storage;
            /// client → master, storage).
            FinalTID = 0x0010, ask AnswerFinalTID {
                /// The transaction's temporary id.
                ttid: Tid,
            }

            /// Answer to [`FinalTID`].
            AnswerFinalTID = 0x8010, answer {
                /// Its final id (`INVALID_TID` if it was not committed).
                tid: Tid,
            }

            /// Replay a committed transaction that was not unlocked (master
            /// → storage).
            ValidateTransaction = 0x0011, notify {
                /// Its temporary id.
                ttid: Tid,
                /// Its final id.
                tid: Tid,
            }
        } }
    };
}
