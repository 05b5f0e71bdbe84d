//! Administration: what `neoctl` asks the admin node, which forwards most
//! of it to the primary master (and the master to storage nodes).

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! admin_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// Ask rows of the partition table (neoctl → admin).
            PartitionList = 0x0024, ask AnswerPartitionList {
                /// The first partition.
                min_offset: u32,
                /// The end of the range (excluded; 0 for all).
                max_offset: u32,
                /// Only the cells of this node (0 for all nodes).
                node_uuid: NodeUUID,
            }

            /// Answer to [`PartitionList`].
            AnswerPartitionList = 0x8024, answer {
                /// Version of the table.
                ptid: PTid,
                /// Copies of each partition to keep, beyond the first.
                num_replicas: u32,
                /// The rows asked for.
                row_list: Vec<RowInfo>,
            }

            /// Ask the nodes of a type (neoctl → admin).
            NodeList = 0x0025, ask AnswerNodeList {
                /// The type.
                node_type: NodeType,
            }

            /// Answer to [`NodeList`].
            AnswerNodeList = 0x8025, answer {
                /// The nodes.
                node_list: Vec<NodeInfo>,
            }

            /// Change the state of a node; `ACK` when done (neoctl → admin
            /// → master).
            SetNodeState = 0x0026, ask () {
                /// The node.
                node_uuid: NodeUUID,
                /// Its new state.
                node_state: NodeState,
            }

            /// Mark pending storage nodes as running, to be used when the
            /// partition table is next tweaked; `ACK` when done (neoctl →
            /// admin → master).
            AddPendingNodes = 0x0027, ask () {
                /// The nodes.
                node_list: Vec<NodeUUID>,
            }

            /// Balance the partition table, optionally moving everything
            /// off some nodes before they are removed (neoctl → admin →
            /// master).
            TweakPartitionTable = 0x0028, ask AnswerTweakPartitionTable {
                /// Only compute the new table.
                dry_run: bool,
                /// The nodes to move partitions off.
                node_list: Vec<NodeUUID>,
            }

            /// Answer to [`TweakPartitionTable`].
            AnswerTweakPartitionTable = 0x8028, answer {
                /// Whether the table changed (or would have).
                changed: bool,
                /// The new table.
                row_list: Vec<RowInfo>,
            }

            /// Set the number of replicas; `ACK` when done (neoctl → admin
            /// → master).
            SetNumReplicas = 0x0029, ask () {
                /// Copies of each partition to keep, beyond the first.
                num_replicas: u32,
            }

            /// Set the state of the cluster; `ACK` when done (neoctl →
            /// admin → master).
            SetClusterState = 0x002a, ask () {
                /// The new state.
                state: ClusterState,
            }

            /// Ask storage nodes to repair their databases; `ACK` when
            /// started (neoctl → admin → master).
            Repair = 0x002b, ask () {
                /// The storage nodes.
                node_list: Vec<NodeUUID>,
                /// Only report what would be repaired.
                dry_run: bool,
            }

            /// Repair the database of this storage node ([`Repair`] as the
            /// master forwards it; master → storage).
            RepairOne = 0x002c, notify {
                /// Only report what would be repaired.
                dry_run: bool,
            }

            /// Look for differences between replicas, metadata only,
            /// optionally within a range; `ACK` when started (neoctl →
            /// admin → master).
            CheckReplicas = 0x0032, ask () {
                /// Partition → the node to compare against (0 for any).
                partition_dict: BTreeMap<u32, NodeUUID>,
                /// The first transaction of the range.
                min_tid: Tid,
                /// The last transaction of the range.
                max_tid: Tid,
            }

            /// Truncate the database after a transaction, also to leave
            /// backup mode; `ACK` when done (neoctl → admin → master;
            /// master → storage).
            Truncate = 0x0041, ask () {
                /// The last transaction to keep.
                tid: Tid,
            }

            /// Pack the database up to a transaction (client → master →
            /// storage).
            Pack = 0x0031, ask AnswerPack {
                /// Pack up to this transaction.
                tid: Tid,
            }

            /// Answer to [`Pack`].
            AnswerPack = 0x8031, answer {
                /// Whether the pack was done.
                status: bool,
            }

            /// Flush the logs of every node (neoctl → admin → master → all
            /// nodes).
            FlushLog = 0x0042, notify {}
        } }
    };
}
