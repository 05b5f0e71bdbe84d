//! Lower-level encoding: whole packets of protocol 6 into buffers, and the
//! pieces of a vectored write that sends large fields without copying
//! them. The link does this for you (`Conn::send`); these are for writing
//! packets without a link (a raw peer in a test, a capture).

use std::io::IoSlice;

use super::Msg;
pub use crate::codec::{encode_packet, encode_packet_parts, packet_size};

/// Appends the whole packet of `msg` on connection `conn_id` (header, then
/// payload) to `buf`: the message is encoded straight into the buffer that
/// is written, so a large field is copied once.
///
/// # Panics
/// If the packet would exceed `MAX_PACKET_SIZE`; check
/// [`packet_size`] first where the message size is not bounded.
pub(crate) fn encode_binary_packet<M: Msg>(buf: &mut Vec<u8>, conn_id: u32, msg: &M) {
    let len = checked_payload_len(msg);
    // Room for the whole packet at once, before the header goes in: one
    // growth of `buf` at most.
    buf.reserve(crate::packet::HEADER_SIZE + len);
    put_header(buf, conn_id, M::CODE, len);
    msg.encode_into(buf);
}

/// Appends the packet of `msg` on connection `conn_id` to `buf` like
/// [`encode_packet`], except large blobs, which are borrowed from `msg` and
/// returned as segments (see [`Msg::encode_parts`]): the header (whose
/// `msg_len` is the full payload length) and the small fields go into
/// `buf`, and `packet_io_slices(&buf, &segments)` is the whole packet, for
/// one vectored write without copying the blobs.
///
/// # Panics
/// If the packet would exceed `MAX_PACKET_SIZE`, as [`encode_packet`].
#[must_use]
pub(crate) fn encode_binary_packet_parts<'a, M: Msg>(
    buf: &mut Vec<u8>,
    conn_id: u32,
    msg: &'a M,
) -> Vec<(usize, &'a [u8])> {
    let len = checked_payload_len(msg);
    // No reservation for the payload here: most of it may be borrowed, and
    // `encode_parts` reserves what it copies when that is all of it.
    put_header(buf, conn_id, M::CODE, len);
    msg.encode_parts(buf)
}

/// The payload length of `msg`, checked so that its packet fits in
/// `MAX_PACKET_SIZE` (hence in the u32 `msg_len`).
///
/// # Panics
/// If it does not.
fn checked_payload_len<M: Msg>(msg: &M) -> usize {
    // Once here, not again for the check: `encoded_len` walks the
    // message's variable fields.
    let len = msg.encoded_len();
    assert!(
        (crate::packet::HEADER_SIZE + len) as u64 <= crate::packet::MAX_PACKET_SIZE as u64,
        "{} of {len} bytes exceeds MAX_PACKET_SIZE",
        M::NAME
    );
    len
}

/// Appends a packet header to `buf`; `len` was checked by
/// [`checked_payload_len`], so it fits in the u32 `msg_len`.
fn put_header(buf: &mut Vec<u8>, conn_id: u32, msg_code: u16, len: usize) {
    let hdr = crate::packet::Header {
        conn_id,
        msg_code,
        msg_len: len as u32,
    };
    buf.extend_from_slice(&hdr.encode());
}

/// The pieces of `buf` and the `segs` (as returned by
/// [`Msg::encode_parts`] / [`encode_packet_parts`]) interleaved in wire
/// order, for one vectored write (`write_vectored`, i.e. `writev`):
/// `buf[..p0]`, `segs[0]`, `buf[p0..p1]`, `segs[1]`, …, `buf[pn..]`.
/// Empty pieces are left out.
///
/// # Panics
/// If the positions of `segs` decrease or exceed `buf.len()` (they cannot,
/// as returned by the encoder for this `buf`).
pub fn packet_io_slices<'a>(buf: &'a [u8], segs: &[(usize, &'a [u8])]) -> Vec<IoSlice<'a>> {
    let mut slices = Vec::with_capacity(2 * segs.len() + 1);
    let mut done = 0;
    for &(pos, seg) in segs {
        // A decreasing position would silently reorder the bytes: refuse.
        assert!(
            pos >= done,
            "segment positions decrease: {pos} after {done}"
        );
        if pos > done {
            slices.push(IoSlice::new(&buf[done..pos]));
            done = pos;
        }
        if !seg.is_empty() {
            slices.push(IoSlice::new(seg));
        }
    }
    if buf.len() > done {
        slices.push(IoSlice::new(&buf[done..]));
    }
    slices
}

/// Size of the packet carrying `msg`, header included.
pub(crate) fn binary_packet_size<M: Msg>(msg: &M) -> u64 {
    (crate::packet::HEADER_SIZE + msg.encoded_len()) as u64
}
