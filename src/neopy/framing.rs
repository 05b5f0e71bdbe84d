//! Framing of the msgpack dialect: where a packet ends (ARCHITECTURE.md, "Messages").
//!
//! A NEO/py packet is one msgpack value, the array `[msg_id, code, args]`,
//! with no length prefix: the only way to know where it ends is to walk
//! its structure. [`Scanner`] does that without decoding anything: it
//! reads markers and lengths, skips over the bytes of strings, `bin`s and
//! ext values, and counts the items of arrays and maps.
//!
//! # Resumable
//!
//! A packet may arrive in many reads (a 64 MiB object 64 KiB at a time).
//! The scanner keeps its position and a stack of the item counts still
//! pending between calls, so each call only walks the bytes that are new:
//! a packet is walked once in total, whatever the number of reads. And a
//! `bin` is skipped by its announced length, before its bytes arrive, so
//! the scanner knows early how big the packet will be:
//! [`Scan::Incomplete`] says the least total size known so far (the reader
//! can then allocate the packet's buffer once and read straight into it).
//!
//! # Bounded
//!
//! A packet larger than [`MAX_PACKET_SIZE`] (64 MiB, NEO/py's limit) is
//! refused as soon as announced lengths and counts show it — a `bin`
//! announcing 100 MiB fails at its header, with nothing allocated. Each
//! array or map item takes at least one byte, so counts bound the size
//! too. Nesting is bounded by [`MAX_DEPTH`], which keeps the scanner's
//! state a fixed-size array (no allocation at all) and bounds the
//! recursion of the decoders that run on a scanned packet.
//!
//! The head is checked too (`msg_id` an integer that fits a u32, `code`
//! one that fits a u16, `args` an array), so a complete packet always has
//! a [`PacketHead`].

use rmp::Marker;

use super::codec::marker_head_len;
use super::head::PacketHead;
pub use crate::codec::{FramingError, MAX_DEPTH};
use crate::packet::MAX_PACKET_SIZE;

/// What [`Scanner::scan`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Scan {
    /// A whole packet: `buf[..head.len]`.
    Complete(PacketHead),
    /// More bytes are needed.
    Incomplete {
        /// The least total size of the packet known so far (at least one
        /// more byte than was given): exact once the last length of the
        /// packet was seen, e.g. for a packet ending in a large `bin`.
        need: usize,
    },
}

/// What one msgpack value's header says comes after it.
enum Body {
    /// This many bytes to skip (a string, a `bin`, an ext payload).
    Bytes(usize),
    /// This many values (array items, or twice a map's entries).
    Values(u64),
}

/// The resumable framing scanner; see the module documentation.
///
/// Give [`Scanner::scan`] the bytes of the packet received so far, always
/// from the packet's first byte: the same bytes as before, plus whatever
/// arrived since. After [`Scan::Complete`] the scanner is ready for the
/// next packet, whose bytes start right after the one found.
///
/// ```
/// use neonet::neopy::{Scan, Scanner};
///
/// // Ping with msg_id 2, arriving in two reads
/// let packet = [0x93, 0x02, 0x02, 0x90];
/// let mut s = Scanner::new();
/// assert_eq!(s.scan(&packet[..2]), Ok(Scan::Incomplete { need: 4 }));
/// let Ok(Scan::Complete(head)) = s.scan(&packet) else { panic!() };
/// assert_eq!((head.len, head.msg_id, head.code, head.args_offset), (4, 2, 2, 3));
/// ```
#[derive(Debug, Clone)]
pub struct Scanner {
    /// Where the next value starts (it may be beyond the bytes given so
    /// far, when a `bin` was skipped before its bytes arrived).
    pos: usize,
    /// Values still to come in each open container; `[0]` is the packet
    /// itself, as one value of a virtual outer container.
    pending: [u64; MAX_DEPTH + 1],
    /// Open containers, the virtual outer one included.
    depth: usize,
    /// The sum of `pending`: values still to come, each at least one byte.
    values_left: u64,
    /// The head read so far.
    msg_id: u32,
    code: u16,
    args_offset: usize,
    /// Value headers parsed since `new`: counts the scanner's work, so a
    /// test can check that no byte is walked twice across calls.
    #[cfg(test)]
    walked: u64,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner at the start of a packet.
    pub const fn new() -> Scanner {
        let mut pending = [0; MAX_DEPTH + 1];
        pending[0] = 1;
        Scanner {
            pos: 0,
            pending,
            depth: 1,
            values_left: 1,
            msg_id: 0,
            code: 0,
            args_offset: 0,
            #[cfg(test)]
            walked: 0,
        }
    }

    /// Forget the packet being scanned; the next `scan` starts a new one.
    pub fn reset(&mut self) {
        *self = Scanner::new();
    }

    /// Walk `buf` (the packet so far, from its first byte) from where the
    /// last call stopped.
    ///
    /// On `Complete` or an error, the scanner resets itself for the next
    /// packet.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Scan, FramingError> {
        let r = self.walk(buf);
        if !matches!(r, Ok(Scan::Incomplete { .. })) {
            self.reset();
        }
        r
    }

    /// The least total size of the packet known now: where the next value
    /// starts, plus a byte for each value still to come.
    fn need(&self) -> u64 {
        self.pos as u64 + self.values_left
    }

    /// The walk itself; `scan` resets after it when the packet is done.
    fn walk(&mut self, buf: &[u8]) -> Result<Scan, FramingError> {
        loop {
            if self.depth == 0 {
                // The packet's value is complete, but a skipped blob at its
                // end may not have arrived yet.
                if self.pos <= buf.len() {
                    return Ok(Scan::Complete(self.head()));
                }
                return Ok(Scan::Incomplete { need: self.pos });
            }
            let Some(&byte) = buf.get(self.pos) else {
                return Ok(Scan::Incomplete {
                    need: self.need() as usize,
                });
            };
            let marker = Marker::from_u8(byte);
            let head_len = marker_head_len(marker);
            let Some(head) = buf.get(self.pos..self.pos + head_len) else {
                // `need` counts one byte for this value: it needs head_len.
                let need = self.need() + head_len as u64 - 1;
                if need > MAX_PACKET_SIZE as u64 {
                    return Err(FramingError::TooBig { size: need });
                }
                return Ok(Scan::Incomplete {
                    need: need as usize,
                });
            };
            let body = body(marker, head).ok_or(FramingError::Reserved { offset: self.pos })?;
            #[cfg(test)]
            {
                self.walked += 1;
            }
            self.check_head_item(marker, head)?;
            self.start_value();
            self.pos += head_len;
            match body {
                // saturating: a forged 4 GiB length on a 32-bit target must
                // not wrap; it is TooBig just below.
                Body::Bytes(n) => self.pos = self.pos.saturating_add(n),
                Body::Values(n) => self.open(n)?,
            }
            self.close_done();
            if self.need() > MAX_PACKET_SIZE as u64 {
                return Err(FramingError::TooBig { size: self.need() });
            }
        }
    }

    /// The head of the packet found (`pos` is its end).
    fn head(&self) -> PacketHead {
        PacketHead {
            msg_id: self.msg_id,
            code: self.code,
            args_offset: self.args_offset,
            len: self.pos,
        }
    }

    /// Check the value whose header `head` starts at `pos`, if it is the
    /// packet's array or one of its three elements.
    fn check_head_item(&mut self, marker: Marker, head: &[u8]) -> Result<(), FramingError> {
        match self.depth {
            1 => match (marker, body(marker, head)) {
                (
                    Marker::FixArray(_) | Marker::Array16 | Marker::Array32,
                    Some(Body::Values(3)),
                ) => Ok(()),
                _ => Err(FramingError::NotAPacket { marker: head[0] }),
            },
            // depth 2: inside the packet's array; 3, 2, 1 elements to come
            2 => match self.pending[1] {
                3 => {
                    self.msg_id = self.head_int(head, "msg_id", "u32")?;
                    Ok(())
                }
                2 => {
                    self.code = self.head_int(head, "code", "u16")?;
                    Ok(())
                }
                _ => match marker {
                    Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                        self.args_offset = self.pos;
                        Ok(())
                    }
                    _ => Err(FramingError::ArgsNotArray { marker: head[0] }),
                },
            },
            _ => Ok(()),
        }
    }

    /// The integer `head` (a whole msgpack integer) as a `T`.
    fn head_int<T: TryFrom<i128>>(
        &self,
        mut head: &[u8],
        field: &'static str,
        ty: &'static str,
    ) -> Result<T, FramingError> {
        let bad = FramingError::BadHead {
            field,
            ty,
            offset: self.pos,
        };
        let value = rmp::decode::read_int::<i128, _>(&mut head).map_err(|_| bad.clone())?;
        T::try_from(value).map_err(|_| bad)
    }

    /// A value starts: one fewer to come in its container.
    fn start_value(&mut self) {
        self.pending[self.depth - 1] -= 1;
        self.values_left -= 1;
    }

    /// A container of `n` values starts.
    fn open(&mut self, n: u64) -> Result<(), FramingError> {
        if n == 0 {
            return Ok(());
        }
        if self.depth > MAX_DEPTH {
            return Err(FramingError::TooDeep {
                offset: self.pos - 1,
            });
        }
        self.pending[self.depth] = n;
        self.depth += 1;
        self.values_left += n;
        Ok(())
    }

    /// Close the containers whose values have all started (their last
    /// value, a scalar or an empty container, just did).
    fn close_done(&mut self) {
        while self.depth > 0 && self.pending[self.depth - 1] == 0 {
            self.depth -= 1;
        }
    }
}

/// What follows the header `head` of a value with this `marker`; `None`
/// for the reserved byte 0xc1. `head` holds exactly `marker_head_len`
/// bytes.
fn body(marker: Marker, head: &[u8]) -> Option<Body> {
    // The big-endian length that follows the marker (for ext, before the
    // type byte).
    let len = |n: usize| {
        head[1..1 + n]
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
    };
    Some(match marker {
        Marker::Reserved => return None,
        Marker::FixStr(n) => Body::Bytes(usize::from(n)),
        Marker::Str8 | Marker::Bin8 | Marker::Ext8 => Body::Bytes(len(1) as usize),
        Marker::Str16 | Marker::Bin16 | Marker::Ext16 => Body::Bytes(len(2) as usize),
        Marker::Str32 | Marker::Bin32 | Marker::Ext32 => Body::Bytes(len(4) as usize),
        Marker::FixExt1 => Body::Bytes(1),
        Marker::FixExt2 => Body::Bytes(2),
        Marker::FixExt4 => Body::Bytes(4),
        Marker::FixExt8 => Body::Bytes(8),
        Marker::FixExt16 => Body::Bytes(16),
        Marker::FixArray(n) => Body::Values(u64::from(n)),
        Marker::FixMap(n) => Body::Values(2 * u64::from(n)),
        Marker::Array16 => Body::Values(len(2)),
        Marker::Array32 => Body::Values(len(4)),
        Marker::Map16 => Body::Values(2 * len(2)),
        Marker::Map32 => Body::Values(2 * len(4)),
        // scalars: the header is the whole value
        _ => Body::Bytes(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[msg_id 0, code 0x8019, [[p64 × n]]]`: AnswerNewOIDs with `n` oids.
    fn new_oids(n: u32) -> Vec<u8> {
        let mut p = vec![0x93, 0x00, 0xcd, 0x80, 0x19, 0x91, 0xdd];
        p.extend_from_slice(&n.to_be_bytes());
        for oid in 0..u64::from(n) {
            p.extend_from_slice(&[0xc4, 8]);
            p.extend_from_slice(&oid.to_be_bytes());
        }
        p
    }

    #[test]
    fn a_packet_arriving_byte_by_byte_is_walked_once() {
        let n = 100_000;
        let packet = new_oids(n);
        let mut s = Scanner::new();
        for k in 1..packet.len() {
            match s.scan(&packet[..k]) {
                Ok(Scan::Incomplete { need }) => assert!(need > k && need <= packet.len()),
                other => panic!("{k} bytes: {other:?}"),
            }
        }
        // packet, msg_id, code, args, the list, the oids: each header once
        assert_eq!(s.walked, 5 + u64::from(n));
        let Ok(Scan::Complete(head)) = s.scan(&packet) else {
            panic!("not complete")
        };
        assert_eq!(head.len, packet.len());
        assert_eq!(s.walked, 0, "reset for the next packet");
    }

    #[test]
    fn a_big_bin_is_skipped_before_it_arrives() {
        // AnswerObject-like: [1, 0x8020, [bin of 1 MiB, nil]]
        let len = 1usize << 20;
        let mut packet = vec![0x93, 0x01, 0xcd, 0x80, 0x20, 0x92, 0xc6];
        packet.extend_from_slice(&(len as u32).to_be_bytes());
        packet.resize(packet.len() + len, 0xab);
        packet.push(0xc0);
        let total = packet.len();
        let mut s = Scanner::new();
        // the bin's header is enough to know the whole size
        assert_eq!(s.scan(&packet[..11]), Ok(Scan::Incomplete { need: total }));
        let walked = s.walked;
        for k in (11..total).step_by(64 * 1024) {
            assert_eq!(s.scan(&packet[..k]), Ok(Scan::Incomplete { need: total }));
        }
        assert_eq!(s.walked, walked, "the bin's bytes are never walked");
        assert!(matches!(s.scan(&packet), Ok(Scan::Complete(h)) if h.len == total));
    }
}
