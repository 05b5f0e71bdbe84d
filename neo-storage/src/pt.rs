//! This node's partition table: what the master says, in memory.
//!
//! It starts from the table the database saved and follows the master
//! (`SendPartitionTable`, `NotifyPartitionChanges`); every change is saved
//! to the database first, as NEO/py's storage does (see
//! `crate::db::WriteConn::apply_partition_table`). Reads consult a
//! [`PtView`]: which partitions this node can serve.

use neonet::neopy::{CellChange, CellInfo, CellState, NodeId};

use crate::db::DbInfo;

/// One cell: a node and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The node.
    pub nid: NodeId,
    /// Its state for the partition.
    pub state: CellState,
}

/// The partition table: its id, the number of replicas, and one row of
/// cells per partition, each row ordered by node id (as NEO/py's storage
/// reads it back from its database).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartitionTable {
    ptid: Option<i64>,
    replicas: u32,
    rows: Vec<Vec<Cell>>,
}

/// Why `NotifyPartitionChanges` cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PtError {
    /// Changes must follow the table they change: ptid is the previous + 1.
    #[error("wrong partition table id: {got}, expected {expected:?}")]
    WrongPtid {
        /// The ptid of the changes.
        got: i64,
        /// Ours + 1 (`None` without a table).
        expected: Option<i64>,
    },
    /// A change for a partition the table does not have.
    #[error("partition {offset} out of {partitions}")]
    BadOffset {
        /// The partition of the change.
        offset: u32,
        /// The number of partitions.
        partitions: usize,
    },
}

impl PartitionTable {
    /// The table saved in the database.
    pub fn from_db(info: &DbInfo) -> PartitionTable {
        let mut rows = vec![Vec::new(); info.partitions() as usize];
        for r in &info.rows {
            rows[r.partition as usize].push(Cell {
                nid: r.nid,
                state: CellState(r.state()),
            });
        }
        let mut pt = PartitionTable {
            ptid: info.ptid,
            replicas: info.replicas,
            rows,
        };
        pt.sort();
        pt
    }

    /// Replaces the whole table (`SendPartitionTable`).
    pub fn load(&mut self, ptid: Option<i64>, replicas: u32, rows: &[Vec<CellInfo>]) {
        self.ptid = ptid;
        self.replicas = replicas;
        self.rows = rows
            .iter()
            .map(|row| {
                row.iter()
                    .filter(|c| c.state != CellState::DISCARDED)
                    .map(|c| Cell {
                        nid: c.uuid,
                        state: c.state,
                    })
                    .collect()
            })
            .collect();
        self.sort();
    }

    /// Applies `NotifyPartitionChanges`: a DISCARDED cell goes, any other
    /// state is set. Nothing changes on error.
    pub fn apply(
        &mut self,
        ptid: i64,
        replicas: u32,
        changes: &[CellChange],
    ) -> Result<(), PtError> {
        let expected = self.ptid.map(|p| p + 1);
        if expected != Some(ptid) {
            return Err(PtError::WrongPtid {
                got: ptid,
                expected,
            });
        }
        let partitions = self.rows.len();
        if let Some(c) = changes.iter().find(|c| c.offset as usize >= partitions) {
            return Err(PtError::BadOffset {
                offset: c.offset,
                partitions,
            });
        }
        for c in changes {
            let row = &mut self.rows[c.offset as usize];
            row.retain(|cell| cell.nid != c.uuid);
            if c.state != CellState::DISCARDED {
                row.push(Cell {
                    nid: c.uuid,
                    state: c.state,
                });
            }
        }
        self.ptid = Some(ptid);
        self.replicas = replicas;
        self.sort();
        Ok(())
    }

    /// Gives the cells of node `old` to node `new` (this node got another
    /// id from the master).
    pub fn renumber(&mut self, old: NodeId, new: NodeId) {
        for row in &mut self.rows {
            row.retain(|c| c.nid != new);
            for c in row.iter_mut().filter(|c| c.nid == old) {
                c.nid = new;
            }
        }
        self.sort();
    }

    fn sort(&mut self) {
        for row in &mut self.rows {
            row.sort_by_key(|c| c.nid);
        }
    }

    /// The table's id.
    pub fn ptid(&self) -> Option<i64> {
        self.ptid
    }

    /// The number of replicas.
    pub fn replicas(&self) -> u32 {
        self.replicas
    }

    /// The number of partitions.
    pub fn partitions(&self) -> u32 {
        self.rows.len() as u32
    }

    /// The rows as the wire carries them (`AnswerPartitionTable`).
    pub fn rows(&self) -> Vec<Vec<CellInfo>> {
        self.rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| CellInfo {
                        uuid: c.nid,
                        state: c.state,
                    })
                    .collect()
            })
            .collect()
    }

    /// The partitions where `nid` has a cell, with its state.
    pub fn cells_of(&self, nid: NodeId) -> Vec<(u32, CellState)> {
        let mut out = Vec::new();
        for (p, row) in self.rows.iter().enumerate() {
            if let Some(c) = row.iter().find(|c| c.nid == nid) {
                out.push((p as u32, c.state));
            }
        }
        out
    }

    /// The view of a node without an id: the table's size, nothing
    /// readable.
    pub fn view_of_none(&self) -> PtView {
        PtView {
            readable: vec![false; self.rows.len()],
        }
    }

    /// The state of `nid`'s cell of `partition`.
    pub fn cell(&self, partition: u32, nid: NodeId) -> Option<CellState> {
        self.rows
            .get(partition as usize)?
            .iter()
            .find(|c| c.nid == nid)
            .map(|c| c.state)
    }

    /// The nodes with a readable cell of `partition`.
    pub fn readable_nodes(&self, partition: u32) -> Vec<NodeId> {
        self.rows
            .get(partition as usize)
            .map(|row| {
                row.iter()
                    .filter(|c| is_readable(c.state))
                    .map(|c| c.nid)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What reads need of the table, for node `nid`.
    pub fn view(&self, nid: NodeId) -> PtView {
        let mut readable = vec![false; self.rows.len()];
        for (p, state) in self.cells_of(nid) {
            readable[p as usize] = is_readable(state);
        }
        PtView { readable }
    }
}

/// Whether a cell in `state` serves reads (NEO/py's `READABLE`).
pub fn is_readable(state: CellState) -> bool {
    state == CellState::UP_TO_DATE || state == CellState::FEEDING
}

/// The partitions this node serves, as of one version of the table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PtView {
    readable: Vec<bool>,
}

impl PtView {
    /// The number of partitions (0 without a table).
    pub fn partitions(&self) -> u32 {
        self.readable.len() as u32
    }

    /// The partition of an oid or tid (NEO's `id % partitions`); `None`
    /// without a table.
    pub fn partition_of(&self, id: u64) -> Option<u32> {
        let np = u64::from(self.partitions());
        (np > 0).then(|| (id % np) as u32)
    }

    /// Whether this node serves `partition`.
    pub fn is_readable(&self, partition: u32) -> bool {
        self.readable
            .get(partition as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The partitions this node serves, in order.
    pub fn readable(&self) -> Vec<u32> {
        (0..self.partitions())
            .filter(|&p| self.is_readable(p))
            .collect()
    }
}
