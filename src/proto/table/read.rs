//! Reading: how a client loads objects and walks the history of the
//! database (ZODB's `load`, `loadBefore`, `history`, `undoLog`,
//! `iterator`, undo).

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! read_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// Ask an object's data: the revision current at `at`, or the
            /// last one before `before` (`INVALID_TID` for "not given");
            /// ZODB's `load`, `loadBefore`, `loadSerial` (client →
            /// storage).
            GetObject = 0x0020, ask AnswerObject {
                /// The object.
                oid: Oid,
                /// Read the revision current at this transaction.
                at: Tid,
                /// Read the last revision before this transaction.
                before: Tid,
            }

            /// Answer to [`GetObject`]: one revision of an object.
            AnswerObject = 0x8020, answer {
                /// The object.
                oid: Oid,
                /// The transaction that wrote the revision.
                serial: Tid,
                /// The transaction of the next revision (`INVALID_TID` if
                /// none).
                next_serial: Tid,
                /// Whether `data` is compressed.
                compression: bool,
                /// SHA-1 of `data`.
                checksum: Checksum,
                /// The object's data. Borrowed, not copied, by
                /// `encode_parts` when large; a window into the packet
                /// buffer when large and decoded by `decode_shared`.
                data: Data,
                /// If not 0, the revision whose data this revision reuses
                /// (undo).
                data_serial: Tid,
            }

            /// Ask transaction ids, newest first, in the range
            /// `[first, last)` of positions: ZODB's `undoLog` (client →
            /// storage).
            AskTIDs = 0x0021, ask AnswerTIDs {
                /// First position of the range.
                first: u64,
                /// End of the range (excluded).
                last: u64,
                /// The partition.
                partition: u32,
            }

            /// Answer to [`AskTIDs`].
            AnswerTIDs = 0x8021, answer {
                /// The transactions.
                tid_list: Vec<Tid>,
            }

            /// Ask up to `length` transaction ids from `min_tid` on, oldest
            /// first: ZODB's `iterator` (client → storage).
            AskTIDsFrom = 0x0030, ask AnswerTIDsFrom {
                /// The first transaction.
                min_tid: Tid,
                /// The last transaction.
                max_tid: Tid,
                /// How many at most.
                length: u32,
                /// The partition.
                partition: u32,
            }

            /// Answer to [`AskTIDsFrom`].
            AnswerTIDsFrom = 0x8030, answer {
                /// The transactions.
                tid_list: Vec<Tid>,
            }

            /// Ask the metadata of a transaction (client → storage).
            TransactionInformation = 0x0022, ask AnswerTransactionInformation {
                /// The transaction.
                tid: Tid,
            }

            /// Answer to [`TransactionInformation`].
            AnswerTransactionInformation = 0x8022, answer {
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
                /// The objects it changed.
                oid_list: Vec<Oid>,
            }

            /// Ask the revisions of an object, newest first, in the range
            /// `[first, last]` of positions: ZODB's `history` (client →
            /// storage).
            ObjectHistory = 0x0023, ask AnswerObjectHistory {
                /// The object.
                oid: Oid,
                /// First position of the range.
                first: u64,
                /// Last position of the range (included).
                last: u64,
            }

            /// Answer to [`ObjectHistory`].
            AnswerObjectHistory = 0x8023, answer {
                /// The object.
                oid: Oid,
                /// Its revisions.
                history_list: Vec<HistoryEntry>,
            }

            /// Ask, for some objects, where their data is when a
            /// transaction is undone (client → storage).
            ObjectUndoSerial = 0x002f, ask AnswerObjectUndoSerial {
                /// The undoing transaction (temporary id).
                tid: Tid,
                /// The last transaction the undoing one sees.
                ltid: Tid,
                /// The transaction undone.
                undone_tid: Tid,
                /// The objects.
                oid_list: Vec<Oid>,
            }

            /// Answer to [`ObjectUndoSerial`].
            AnswerObjectUndoSerial = 0x802f, answer {
                /// Object → where its data is.
                object_tid_dict: BTreeMap<Oid, UndoSerial>,
            }
        } }
    };
}
