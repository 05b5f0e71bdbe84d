//! Link and identification: the messages any node exchanges with any
//! other, whatever its role.

/// Appends this group's entries to the table and hands it on (see the
/// `table` module documentation).
macro_rules! link_messages {
    ([$next:ident $(, $rest:ident)*] { $($done:tt)* }) => {
        $next! { [$($rest),*] { $($done)*

            /// The answer that may come instead of any other: a failure, or
            /// the success of a request that has no answer message (code
            /// `ACK`).
            ///
            /// Also sent by a link itself with `PROTOCOL_ERROR` for
            /// "connection closed" / "connection refused" (ARCHITECTURE.md, "Writing").
            Error = 0x8000, error {
                /// What kind of error (`ACK` for success).
                code: ErrorCode,
                /// Human-readable description.
                message: String,
            }

            /// Who the sender is and which cluster it wants to join: the
            /// first request on a new link.
            RequestIdentification = 0x0001, ask AcceptIdentification {
                /// Type of the node that identifies itself.
                node_type: NodeType,
                /// Its id, or 0 if it has none yet.
                uuid: NodeUUID,
                /// Where it accepts connections too (empty host if it does
                /// not).
                address: Address,
                /// Name of the cluster it wants to join.
                cluster_name: String,
                /// When it identified itself, or "no time".
                id_time: IdTime,
                /// A storage node's device paths (one per device id).
                dev_path: Vec<String>,
                /// Numbers a new storage node asks for.
                new_nid: Vec<u32>,
            }

            /// Identification accepted: who the peer is, and the sender's
            /// id in the cluster.
            AcceptIdentification = 0x8001, answer {
                /// Type of the node that accepted.
                node_type: NodeType,
                /// Id of the node that accepted.
                my_uuid: NodeUUID,
                /// Id given to the node that identified itself.
                your_uuid: NodeUUID,
            }

            /// An empty request, used as a network barrier: its answer
            /// comes after the answers to earlier requests; also a liveness
            /// check.
            Ping = 0x0002, ask Pong {}

            /// Answer to [`Ping`].
            Pong = 0x8002, answer {}

            /// The peer may close the link once it is done with the sender.
            CloseClient = 0x0003, notify {}
        } }
    };
}
