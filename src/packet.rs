//! Packet framing (ARCHITECTURE.md, "Wire format"): a 10-byte big-endian header, then the payload.
//!
//! Pure functions over bytes; no I/O here.

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
        Packet { buf }
    }

    /// A packet from a buffer that holds a whole packet (header included)
    /// whose `msg_len` matches the buffer. Returns `None` otherwise.
    pub fn from_bytes(buf: Vec<u8>) -> Option<Packet> {
        let hdr = Header::decode(buf.get(..HEADER_SIZE)?.try_into().ok()?);
        if hdr.packet_size() != buf.len() as u64 || !hdr.size_ok() {
            return None;
        }
        Some(Packet { buf })
    }

    /// A packet read off the wire by the link, whose header was checked.
    pub(crate) fn from_wire(buf: Vec<u8>) -> Packet {
        Packet { buf }
    }

    /// The header.
    pub fn header(&self) -> Header {
        Header::decode(self.buf[..HEADER_SIZE].try_into().expect("header size"))
    }

    /// Id of the connection the packet belongs to.
    pub fn conn_id(&self) -> u32 {
        BigEndian::read_u32(&self.buf[0..4])
    }

    /// Message code.
    pub fn msg_code(&self) -> u16 {
        BigEndian::read_u16(&self.buf[4..6])
    }

    /// The payload, header excluded.
    pub fn payload(&self) -> &[u8] {
        &self.buf[HEADER_SIZE..]
    }

    /// The whole packet as it goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The buffer, header included (to reuse its allocation).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Stamp the connection id into the header (done by `Conn::send_pkt`).
    pub(crate) fn set_conn_id(&mut self, conn_id: u32) {
        BigEndian::write_u32(&mut self.buf[0..4], conn_id);
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
