//! Partition table: which storage nodes hold which partitions, as the
//! primary master decides and tells every node.

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! partition_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// Ask a storage node for the partition table it has, to
            /// recover the cluster's (master → storage).
            AskPartitionTable = 0x0009, ask AnswerPartitionTable {}

            /// Answer to [`AskPartitionTable`].
            AnswerPartitionTable = 0x8009, answer {
                /// Version of the table (0 for none).
                ptid: PTid,
                /// Copies of each partition to keep, beyond the first.
                num_replicas: u32,
                /// The rows, one per partition, in partition order.
                row_list: Vec<RowInfo>,
            }

            /// The whole partition table, sent to a node when it joins
            /// (master → admin, client, storage).
            SendPartitionTable = 0x000a, notify {
                /// Version of the table.
                ptid: PTid,
                /// Copies of each partition to keep, beyond the first.
                num_replicas: u32,
                /// The rows, one per partition, in partition order.
                row_list: Vec<RowInfo>,
            }

            /// Cells of the partition table changed (master → any node).
            NotifyPartitionChanges = 0x000b, notify {
                /// Version of the table after the changes.
                ptid: PTid,
                /// Copies of each partition to keep, beyond the first.
                num_replicas: u32,
                /// The cells that changed.
                cell_list: Vec<CellChange>,
            }
        } }
    };
}
