//! Packet framing (ARCHITECTURE.md, "Wire format"): a 10-byte big-endian header, then the payload.
//!
//! Pure functions over bytes; no I/O here.
//!
//! A [`Packet`] may also hold a packet of NEO/py's msgpack dialect, as a link of that dialect hands it over: the array
//! `[msg_id, code, args]`, whose id, code and arguments the same accessors
//! give (see [`Packet::payload`]).

use byteorder::{BigEndian, ByteOrder};

/// Size of the packet header: conn_id (4) + msg_code (2) + msg_len (4).
pub const HEADER_SIZE: usize = 10;

/// Largest packet allowed on the wire, header included (64 MiB).
pub const MAX_PACKET_SIZE: usize = 0x400_0000;

/// Bit set in `msg_code` on answers.
pub const ANSWER_BIT: u16 = 0x8000;

/// A decoded packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Id of the connection the packet belongs to.
    pub conn_id: u32,
    /// Message code (`ANSWER_BIT` set on answers).
    pub msg_code: u16,
    /// Payload length, header excluded.
    pub msg_len: u32,
}

impl Header {
    /// The header's wire bytes.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        BigEndian::write_u32(&mut b[0..4], self.conn_id);
        BigEndian::write_u16(&mut b[4..6], self.msg_code);
        BigEndian::write_u32(&mut b[6..10], self.msg_len);
        b
    }

    /// A header from its wire bytes.
    pub fn decode(b: &[u8; HEADER_SIZE]) -> Header {
        Header {
            conn_id: BigEndian::read_u32(&b[0..4]),
            msg_code: BigEndian::read_u16(&b[4..6]),
            msg_len: BigEndian::read_u32(&b[6..10]),
        }
    }

    /// Whole packet size, header included, as announced by `msg_len`.
    ///
    /// Computed in u64 so that `msg_len` = 0xffffffff cannot wrap.
    pub fn packet_size(&self) -> u64 {
        HEADER_SIZE as u64 + u64::from(self.msg_len)
    }

    /// Whether the announced packet fits in `MAX_PACKET_SIZE`.
    pub fn size_ok(&self) -> bool {
        self.packet_size() <= MAX_PACKET_SIZE as u64
    }
}

/// One packet: header and payload in one contiguous buffer, so that sending
/// it is a single `write` and receiving it a single copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    buf: Vec<u8>,
    head: Head,
}

/// What the accessors of a packet read, found once when it was framed: a
/// msgpack packet has no fixed header to read them from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// The connection id (protocol 6), or the msg_id (NEO/py).
    pub(crate) id: u32,
    /// The message code.
    pub(crate) code: u16,
    /// Where the payload starts: `HEADER_SIZE`, or where a msgpack
    /// packet's `args` start (at most 9: the head is `[`, two integers).
    pub(crate) payload_at: u8,
}

impl Head {
    /// The head of a protocol 6 packet from its header.
    pub(crate) fn binary(hdr: &Header) -> Head {
        Head {
            id: hdr.conn_id,
            code: hdr.msg_code,
            payload_at: HEADER_SIZE as u8,
        }
    }
}

impl Packet {
    /// A packet with the given header fields and payload.
    ///
    /// # Panics
    /// If the packet would exceed `MAX_PACKET_SIZE` (a programming error:
    /// such a packet could never be sent).
    pub fn new(conn_id: u32, msg_code: u16, payload: &[u8]) -> Packet {
        assert!(
            HEADER_SIZE + payload.len() <= MAX_PACKET_SIZE,
            "packet payload of {} bytes exceeds MAX_PACKET_SIZE",
            payload.len()
        );
        let mut buf = Vec::with_capacity(HEADER_SIZE + payload.len());
        let hdr = Header {
            conn_id,
            msg_code,
            msg_len: payload.len() as u32,
        };
        buf.extend_from_slice(&hdr.encode());
        buf.extend_from_slice(payload);
        Packet {
            buf,
            head: Head::binary(&hdr),
        }
    }

    /// A packet from a buffer that holds a whole packet (header included)
    /// whose `msg_len` matches the buffer. Returns `None` otherwise.
    pub fn from_bytes(buf: Vec<u8>) -> Option<Packet> {
        let hdr = Header::decode(buf.get(..HEADER_SIZE)?.try_into().ok()?);
        if hdr.packet_size() != buf.len() as u64 || !hdr.size_ok() {
            return None;
        }
        Some(Packet {
            head: Head::binary(&hdr),
            buf,
        })
    }

    /// A packet framed by the link's codec: `buf` is the whole packet and
    /// `head` what its framing found.
    pub(crate) fn framed(buf: Vec<u8>, head: Head) -> Packet {
        Packet { buf, head }
    }

    /// Id of the connection the packet belongs to (on a NEO/py link: the
    /// packet's msg_id).
    pub fn conn_id(&self) -> u32 {
        self.head.id
    }

    /// Message code.
    pub fn msg_code(&self) -> u16 {
        self.head.code
    }

    /// Whether the code has [`ANSWER_BIT`]: an answer (or `Error`).
    pub fn is_answer(&self) -> bool {
        self.head.code & ANSWER_BIT != 0
    }

    /// The payload, header excluded (on a NEO/py packet: its `args`
    /// array).
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.payload_offset()..]
    }

    /// Where the payload starts in [`as_bytes`](Self::as_bytes).
    pub fn payload_offset(&self) -> usize {
        usize::from(self.head.payload_at)
    }

    /// The whole packet as it goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The buffer, header included (to reuse its allocation).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Stamp the connection id into the header (done by `Conn::send_pkt`,
    /// on protocol 6 links only: a msgpack head has no fixed place for it).
    pub(crate) fn set_conn_id(&mut self, conn_id: u32) {
        debug_assert_eq!(
            self.payload_offset(),
            HEADER_SIZE,
            "not a protocol 6 packet"
        );
        BigEndian::write_u32(&mut self.buf[0..4], conn_id);
        self.head.id = conn_id;
    }
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("conn_id", &self.conn_id())
            .field("msg_code", &format_args!("{:#06x}", self.msg_code()))
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let h = Header {
            conn_id: 0x0102_0304,
            msg_code: 0x8020,
            msg_len: 0x0a0b_0c0d,
        };
        let b = h.encode();
        assert_eq!(b, [1, 2, 3, 4, 0x80, 0x20, 0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(Header::decode(&b), h);
    }

    #[test]
    fn size_check_does_not_wrap() {
        let mk = |msg_len| Header {
            conn_id: 0,
            msg_code: 0,
            msg_len,
        };
        assert!(!mk(u32::MAX).size_ok());
        assert!(!mk((MAX_PACKET_SIZE - HEADER_SIZE + 1) as u32).size_ok());
        assert!(mk((MAX_PACKET_SIZE - HEADER_SIZE) as u32).size_ok());
    }

    #[test]
    fn packet_accessors() {
        let mut p = Packet::new(7, 0x20, b"abc");
        assert_eq!(
            (p.conn_id(), p.msg_code(), p.payload()),
            (7, 0x20, &b"abc"[..])
        );
        p.set_conn_id(9);
        assert_eq!(p.conn_id(), 9);
        assert_eq!(Packet::from_bytes(p.as_bytes().to_vec()), Some(p.clone()));
        assert_eq!(Packet::from_bytes(p.as_bytes()[..12].to_vec()), None);
    }
}
