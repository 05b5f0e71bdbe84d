//! Cluster and nodes: masters tell every node who is in the cluster and in
//! which state the cluster is, and drive storage nodes in and out of
//! operation.

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! cluster_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// Ask which master is the primary one (neoctl → admin).
            PrimaryMaster = 0x0004, ask AnswerPrimary {}

            /// Answer to [`PrimaryMaster`].
            AnswerPrimary = 0x8004, answer {
                /// The primary master.
                primary_node_uuid: NodeUUID,
            }

            /// The sender is not the primary master: here is what it knows,
            /// to help the peer find it (secondary master → any node).
            NotPrimaryMaster = 0x0005, notify {
                /// The primary master, if known.
                primary: NodeUUID,
                /// The masters the sender knows.
                known_master_list: Vec<KnownMaster>,
            }

            /// Information about one or more nodes changed (master → any
            /// node).
            NotifyNodeInformation = 0x0006, notify {
                /// When the master sent it (its monotonic time), or "no
                /// time".
                id_time: IdTime,
                /// The nodes that changed.
                node_list: Vec<NodeInfo>,
            }

            /// The state of the cluster changed (master → any node).
            NotifyClusterState = 0x002d, notify {
                /// The new state.
                state: ClusterState,
            }

            /// Ask the state of the cluster (neoctl → admin, admin →
            /// master).
            AskClusterState = 0x002e, ask AnswerClusterState {}

            /// Answer to [`AskClusterState`].
            AnswerClusterState = 0x802e, answer {
                /// The cluster's state.
                state: ClusterState,
            }

            /// A storage node may start serving; before this it talks only
            /// to the primary master (master → storage).
            StartOperation = 0x000c, notify {
                /// Whether the cluster is a backup of another one.
                backup: bool,
            }

            /// The cluster is not operational any more: every operation
            /// between nodes must be aborted (master → storage, client).
            StopOperation = 0x000d, notify {}

            /// The storage node is ready to serve requests (storage →
            /// master).
            NotifyReady = 0x0037, notify {}
        } }
    };
}
