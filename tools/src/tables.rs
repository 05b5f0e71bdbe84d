//! What a client learns from the master, and where to read an object.
//!
//! Right after identification, a NEO/py master sends a client the node
//! table (`NotifyNodeInformation`) and the partition table
//! (`SendPartitionTable`), then keeps both up to date with more
//! `NotifyNodeInformation` and `NotifyPartitionChanges`. An object lives
//! in partition `oid % number of partitions`, and can be read from any
//! running storage whose cell in that row is readable (`UP_TO_DATE` or
//! `FEEDING`), as NEO/py's client does (it picks one of them at random).
//!
//! These are a client's tables: neo-storage keeps its own, shaped for a
//! storage (its cells, the master's changes to them).

use std::collections::BTreeMap;

use neonet::neopy::{
    Address, AnswerPartitionTable, CellInfo, CellState, NodeId, NodeInfo, NodeState, NodeType,
    NotifyPartitionChanges, Oid, SendPartitionTable,
};

/// The partition of an oid (or a tid): `id % num_partitions`; `None` when
/// there are no partitions.
///
/// ```
/// use neonet_tools::tables::partition_of;
///
/// assert_eq!(partition_of(10, 4), Some(2));
/// assert_eq!(partition_of(10, 0), None);
/// ```
pub fn partition_of(id: u64, num_partitions: u32) -> Option<u32> {
    // The remainder is below num_partitions, so it fits a u32.
    (num_partitions > 0).then(|| (id % u64::from(num_partitions)) as u32)
}

/// Whether a cell in state `state` can serve reads: `UP_TO_DATE`, or
/// `FEEDING` (up to date, being copied elsewhere).
///
/// ```
/// use neonet::neopy::CellState;
/// use neonet_tools::tables::is_readable;
///
/// assert!(is_readable(CellState::FEEDING));
/// assert!(!is_readable(CellState::OUT_OF_DATE));
/// ```
pub fn is_readable(state: CellState) -> bool {
    state == CellState::UP_TO_DATE || state == CellState::FEEDING
}

/// The partition table: for each partition (row), the storage nodes
/// holding a copy of it (cells) and the state of each copy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartitionTable {
    /// Version of the table (none: the master has no table yet).
    pub ptid: Option<i64>,
    /// Number of replicas of each partition.
    pub num_replicas: u32,
    /// The cells of each partition, by partition.
    pub rows: Vec<Vec<CellInfo>>,
}

/// The whole table, as the master sends it to a new client.
impl From<SendPartitionTable> for PartitionTable {
    fn from(m: SendPartitionTable) -> PartitionTable {
        PartitionTable {
            ptid: m.ptid,
            num_replicas: m.num_replicas,
            rows: m.row_list,
        }
    }
}

/// The whole table, as a storage or the master answers it.
impl From<AnswerPartitionTable> for PartitionTable {
    fn from(m: AnswerPartitionTable) -> PartitionTable {
        PartitionTable {
            ptid: Some(m.ptid),
            num_replicas: m.num_replicas,
            rows: m.row_list,
        }
    }
}

/// Why [`PartitionTable::apply`] refused changes (the table is left as it
/// was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartitionChangeError {
    /// The changes are not newer than the table.
    #[error("stale partition changes: ptid {got}, table at {current:?}")]
    Stale {
        /// The table's ptid.
        current: Option<i64>,
        /// The changes' ptid.
        got: i64,
    },
    /// A change names a partition the table does not have.
    #[error("partition change for partition {offset} of a table of {num_partitions}")]
    NoSuchPartition {
        /// The partition named.
        offset: u32,
        /// How many the table has.
        num_partitions: u32,
    },
}

impl PartitionTable {
    /// Number of partitions (rows).
    pub fn num_partitions(&self) -> u32 {
        // A decoded table has at most a few million rows (one byte each in
        // a 64 MiB packet): saturating is only a guard.
        u32::try_from(self.rows.len()).unwrap_or(u32::MAX)
    }

    /// The partition of `id` (an oid or a tid); `None` for a table without
    /// partitions.
    pub fn partition(&self, id: u64) -> Option<u32> {
        partition_of(id, self.num_partitions())
    }

    /// The nodes holding a readable cell of `oid`'s partition, in table
    /// order (whether they run is the node table's business: see
    /// [`NodeTable::storages_for`]).
    pub fn readable_cells(&self, oid: Oid) -> impl Iterator<Item = NodeId> + '_ {
        let row = self
            .partition(oid)
            .and_then(|p| self.rows.get(p as usize))
            .map_or(&[][..], Vec::as_slice);
        row.iter()
            .filter(|cell| is_readable(cell.state))
            .map(|cell| cell.uuid)
    }

    /// Apply `NotifyPartitionChanges` as NEO/py does: each cell gets its
    /// new state (added to its row if new), a `DISCARDED` cell is removed;
    /// the table takes the changes' ptid and number of replicas. Changes
    /// not newer than the table, or naming a partition it does not have,
    /// are refused whole.
    pub fn apply(&mut self, changes: &NotifyPartitionChanges) -> Result<(), PartitionChangeError> {
        if self.ptid.is_some_and(|current| changes.ptid <= current) {
            return Err(PartitionChangeError::Stale {
                current: self.ptid,
                got: changes.ptid,
            });
        }
        let num_partitions = self.num_partitions();
        if let Some(c) = changes
            .cell_list
            .iter()
            .find(|c| c.offset >= num_partitions)
        {
            return Err(PartitionChangeError::NoSuchPartition {
                offset: c.offset,
                num_partitions,
            });
        }
        self.ptid = Some(changes.ptid);
        self.num_replicas = changes.num_replicas;
        for change in &changes.cell_list {
            let row = &mut self.rows[change.offset as usize];
            let existing = row.iter().position(|cell| cell.uuid == change.uuid);
            match (existing, change.state) {
                (Some(i), CellState::DISCARDED) => {
                    row.remove(i);
                }
                (None, CellState::DISCARDED) => {}
                (Some(i), state) => row[i].state = state,
                (None, state) => row.push(CellInfo {
                    uuid: change.uuid,
                    state,
                }),
            }
        }
        Ok(())
    }
}

/// The nodes of the cluster by id, as the master describes them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeTable {
    nodes: BTreeMap<NodeId, NodeInfo>,
}

impl NodeTable {
    /// An empty table.
    pub fn new() -> NodeTable {
        NodeTable::default()
    }

    /// Apply the node list of a `NotifyNodeInformation`: each node is
    /// added or replaced by id, and a node in state `UNKNOWN` is
    /// forgotten, as NEO/py does. Nodes without an id cannot be told apart
    /// and are skipped.
    pub fn update(&mut self, node_list: &[NodeInfo]) {
        for node in node_list {
            let Some(uuid) = node.uuid else { continue };
            if node.state == NodeState::UNKNOWN {
                self.nodes.remove(&uuid);
            } else {
                self.nodes.insert(uuid, node.clone());
            }
        }
    }

    /// The node with id `uuid`.
    pub fn get(&self, uuid: NodeId) -> Option<&NodeInfo> {
        self.nodes.get(&uuid)
    }

    /// All nodes, by id.
    pub fn iter(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values()
    }

    /// The storages to read `oid` from: the running storage nodes with an
    /// address that hold a readable cell of its partition in `pt`, in
    /// table order.
    pub fn storages_for<'a>(
        &'a self,
        pt: &'a PartitionTable,
        oid: Oid,
    ) -> impl Iterator<Item = (NodeId, &'a Address)> + 'a {
        pt.readable_cells(oid).filter_map(move |uuid| {
            let node = self.nodes.get(&uuid)?;
            let serving = node.node_type == NodeType::STORAGE && node.state == NodeState::RUNNING;
            serving.then_some(())?;
            node.address.as_ref().map(|a| (uuid, a))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neonet::neopy::CellChange;

    fn cell(uuid: NodeId, state: CellState) -> CellInfo {
        CellInfo { uuid, state }
    }

    fn table() -> PartitionTable {
        PartitionTable {
            ptid: Some(3),
            num_replicas: 1,
            rows: vec![
                vec![
                    cell(1, CellState::UP_TO_DATE),
                    cell(2, CellState::OUT_OF_DATE),
                ],
                vec![cell(2, CellState::FEEDING), cell(3, CellState::CORRUPTED)],
            ],
        }
    }

    #[test]
    fn readable_cells_of_an_oid() {
        let pt = table();
        assert_eq!(pt.partition(5), Some(1));
        assert_eq!(pt.readable_cells(4).collect::<Vec<_>>(), [1]);
        assert_eq!(pt.readable_cells(5).collect::<Vec<_>>(), [2]);
        assert_eq!(PartitionTable::default().readable_cells(5).count(), 0);
    }

    #[test]
    fn changes_apply_as_neo_does() {
        let mut pt = table();
        let change = |offset, uuid, state| CellChange {
            offset,
            uuid,
            state,
        };
        let changes = NotifyPartitionChanges {
            ptid: 4,
            num_replicas: 2,
            cell_list: vec![
                change(0, 2, CellState::UP_TO_DATE),
                change(0, 1, CellState::DISCARDED),
                change(1, 4, CellState::OUT_OF_DATE),
            ],
        };
        pt.apply(&changes).unwrap();
        assert_eq!((pt.ptid, pt.num_replicas), (Some(4), 2));
        assert_eq!(pt.rows[0], [cell(2, CellState::UP_TO_DATE)]);
        assert_eq!(pt.rows[1].len(), 3);
        assert_eq!(
            pt.apply(&changes),
            Err(PartitionChangeError::Stale {
                current: Some(4),
                got: 4
            })
        );
        let bad = NotifyPartitionChanges {
            ptid: 5,
            num_replicas: 2,
            cell_list: vec![
                change(0, 9, CellState::UP_TO_DATE),
                change(2, 1, CellState::UP_TO_DATE),
            ],
        };
        let before = pt.clone();
        assert_eq!(
            pt.apply(&bad),
            Err(PartitionChangeError::NoSuchPartition {
                offset: 2,
                num_partitions: 2
            })
        );
        assert_eq!(pt, before, "refused whole");
    }

    #[test]
    fn storages_for_needs_running_storages_with_an_address() {
        let node = |uuid, state, port: Option<u16>| NodeInfo {
            node_type: NodeType::STORAGE,
            address: port.map(|port| Address {
                host: "h".into(),
                port,
            }),
            uuid: Some(uuid),
            state,
            id_timestamp: None,
        };
        let mut nodes = NodeTable::new();
        nodes.update(&[
            node(1, NodeState::RUNNING, Some(1)),
            node(2, NodeState::DOWN, Some(2)),
            node(3, NodeState::RUNNING, None),
        ]);
        let mut pt = table();
        pt.rows[0].push(cell(2, CellState::UP_TO_DATE));
        pt.rows[0].push(cell(3, CellState::UP_TO_DATE));
        let got: Vec<_> = nodes
            .storages_for(&pt, 0)
            .map(|(id, a)| (id, a.port))
            .collect();
        assert_eq!(got, [(1, 1)]);
        nodes.update(&[node(1, NodeState::UNKNOWN, None)]);
        assert!(nodes.get(1).is_none());
        assert_eq!(nodes.storages_for(&pt, 0).count(), 0);
    }
}
