//! Protocol 6 as a link's dialect ([`Proto6`]; ARCHITECTURE.md, "Wire format"): a 10-byte header that says the
//! packet's length, and the messages of [`proto`](crate::proto).
//!

use crate::codec::wire::{Addressed, Wire};
use crate::codec::{
    DecodeError, Dialect, ErrorCode, FrameError, Framed, HandshakeMismatch, LinkRole, Msg, Payload,
    Segments,
};
use crate::packet::{Head, Header, Packet, HEADER_SIZE};
use crate::proto::{self, encoding, Ping, PROTOCOL_VERSION};

/// Protocol version 6, binary encoding (NEO/go): connections multiplexed
/// by id, messages of [`proto`](crate::proto).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Proto6;

impl Dialect for Proto6 {
    type Message = proto::Message;
    const NAME: &'static str = "protocol 6";
}

#[allow(private_interfaces)] // see `wire`
impl Wire for Proto6 {
    /// The header says where a packet ends: nothing to remember.
    type Framer = ();

    fn frame(_: &mut (), buf: &[u8]) -> Result<Framed, FrameError> {
        frame(buf)
    }

    fn first_id(role: LinkRole) -> u32 {
        role.first_id()
    }

    const ID_STEP: u32 = 2;

    const OURS_QUIET: bool = false;

    /// By connection id: its parity says who opened it (ARCHITECTURE.md,
    /// "Connection ids").
    fn address(role: LinkRole, pkt: &Packet) -> Addressed {
        let id = pkt.conn_id();
        if role.owns(id) {
            Addressed::Ours(id)
        } else {
            Addressed::Peer(Some(id))
        }
    }

    fn answerable(pkt: &Packet) -> bool {
        pkt.msg_code() != <proto::Error as Msg>::CODE
    }

    fn encode_ping(buf: &mut Vec<u8>, id: u32) {
        encoding::encode_binary_packet(buf, id, &Ping {});
    }

    type ErrorMsg = proto::Error;

    fn error(code: ErrorCode, message: String) -> proto::Error {
        proto::Error { code, message }
    }

    fn decode_error(payload: Payload<'_>) -> Result<(ErrorCode, String), DecodeError> {
        proto::Error::decode_payload(payload).map(|e| (e.code, e.message))
    }

    fn encode_packet_parts<'a, M: Msg<Dialect = Self>>(
        buf: &mut Vec<u8>,
        id: u32,
        msg: &'a M,
        borrow: bool,
    ) -> Segments<'a> {
        if borrow {
            return encoding::encode_binary_packet_parts(buf, id, msg);
        }
        encoding::encode_binary_packet(buf, id, msg);
        Vec::new()
    }

    fn packet_size<M: Msg<Dialect = Self>>(_id: u32, msg: &M) -> u64 {
        encoding::binary_packet_size(msg)
    }

    const HANDSHAKE: &'static [u8] = &PROTOCOL_VERSION.to_be_bytes();

    fn check_handshake(got: &[u8]) -> Result<bool, HandshakeMismatch> {
        let Some(word) = got.first_chunk::<4>() else {
            return Ok(false);
        };
        let peer = u32::from_be_bytes(*word);
        if peer != PROTOCOL_VERSION {
            return Err(HandshakeMismatch::VersionMismatch {
                peer,
                ours: PROTOCOL_VERSION,
            });
        }
        Ok(true)
    }
}

/// Where the packet at the start of `buf` ends: the header says it.
pub(crate) fn frame(buf: &[u8]) -> Result<Framed, FrameError> {
    let Some(bytes) = buf.first_chunk::<HEADER_SIZE>() else {
        return Ok(Framed::Need(HEADER_SIZE));
    };
    let hdr = Header::decode(bytes);
    // Checked before anything of that size is allocated.
    if !hdr.size_ok() {
        return Err(FrameError::TooBig {
            size: hdr.packet_size(),
        });
    }
    let len = hdr.packet_size() as usize;
    if buf.len() < len {
        return Ok(Framed::Need(len));
    }
    Ok(Framed::Whole {
        len,
        head: Head::binary(&hdr),
    })
}
