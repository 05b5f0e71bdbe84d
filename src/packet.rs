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
#[derive(Clone)]
pub struct Packet {
    buf: Buf,
    head: Head,
}

impl PartialEq for Packet {
    fn eq(&self, other: &Packet) -> bool {
        // The bytes, however they are held.
        self.head == other.head && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Packet {}

/// Packets up to this size (header included) are held inline: a request
/// of one or two ids (`GetObject`, NEO/py's `AskObject`) fits. Not more:
/// a packet is moved by value through the receive queue, whose lock-free
/// channel allocates (and zeroes) its slots 31 at a time, so every byte
/// here costs 31 there; at this size a `Packet` is 56 bytes.
const INLINE: usize = 46;

const _: () = assert!(std::mem::size_of::<Packet>() <= 56, "see INLINE");
const _: () = assert!(INLINE <= u8::MAX as usize, "an inline length is a byte");

/// The bytes of a packet: inline if small, else on the heap.
///
/// Why inline: a link's reader thread allocates every packet it reads and
/// another thread frees it, which glibc's per-thread caches cannot serve
/// (the freeing thread's cache fills, the allocating thread's stays
/// empty): an allocation and a free took a large part of the cost of a
/// small round trip (callgrind). Many packets of a storage node's traffic
/// are small (requests, acknowledgements, notifications): they move in
/// the packet itself.
#[derive(Clone)]
enum Buf {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl Buf {
    /// A copy of the first `len` bytes of `window`. A small packet is
    /// copied with what follows it in `window` up to the inline size, if
    /// there is that much: a copy of a fixed size needs no zeroing of the
    /// rest first, and the bytes past `len` are never read.
    fn copy(window: &[u8], len: usize) -> Buf {
        let bytes = &window[..len];
        if len > INLINE {
            return Buf::Heap(bytes.to_vec());
        }
        let inline = match window.get(..INLINE) {
            Some(w) => <[u8; INLINE]>::try_from(w).expect("INLINE bytes"),
            None => {
                let mut inline = [0; INLINE];
                inline[..len].copy_from_slice(bytes);
                inline
            }
        };
        Buf::Inline {
            // At most INLINE, which fits in a byte (asserted by it).
            len: len as u8,
            bytes: inline,
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Buf::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Buf::Heap(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Buf::Inline { len, bytes } => &mut bytes[..usize::from(*len)],
            Buf::Heap(v) => v,
        }
    }
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
            buf: Buf::Heap(buf),
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
            buf: Buf::Heap(buf),
        })
    }

    /// A packet framed by the link's codec: `buf` is the whole packet and
    /// `head` what its framing found.
    pub(crate) fn framed(buf: Vec<u8>, head: Head) -> Packet {
        Packet {
            buf: Buf::Heap(buf),
            head,
        }
    }

    /// A packet framed by the link's codec, copied from the reader's
    /// buffer: the first `len` bytes of `window` are the whole packet
    /// (`window` may go on past it), and `head` is what its framing found.
    pub(crate) fn framed_copy(window: &[u8], len: usize, head: Head) -> Packet {
        Packet {
            buf: Buf::copy(window, len),
            head,
        }
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
        &self.as_bytes()[self.payload_offset()..]
    }

    /// Where the payload starts in [`as_bytes`](Self::as_bytes).
    pub fn payload_offset(&self) -> usize {
        usize::from(self.head.payload_at)
    }

    /// The whole packet as it goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_slice()
    }

    /// The buffer, header included (its allocation reused when it has
    /// one: a small packet is held inline, and copied out).
    pub fn into_bytes(self) -> Vec<u8> {
        match self.buf {
            Buf::Heap(v) => v,
            inline => inline.as_slice().to_vec(),
        }
    }

    /// Stamp the connection id into the header (done by `Conn::send_pkt`,
    /// on protocol 6 links only: a msgpack head has no fixed place for it).
    pub(crate) fn set_conn_id(&mut self, conn_id: u32) {
        debug_assert_eq!(
            self.payload_offset(),
            HEADER_SIZE,
            "not a protocol 6 packet"
        );
        BigEndian::write_u32(&mut self.buf.as_mut_slice()[0..4], conn_id);
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

    /// A packet copied from a reader's buffer is the same packet, small
    /// (held inline) or not, and its bytes come back whole.
    #[test]
    fn copied_packets_equal_their_bytes() {
        for len in [0, INLINE - HEADER_SIZE, INLINE - HEADER_SIZE + 1, 1000] {
            let mut p = Packet::new(7, 0x20, &vec![5; len]);
            // From a window that ends with the packet, and from one that
            // goes on past it.
            let mut window = p.as_bytes().to_vec();
            let alone = Packet::framed_copy(&window, window.len(), p.head);
            window.extend_from_slice(&[9; INLINE]);
            let mut c = Packet::framed_copy(&window, p.as_bytes().len(), p.head);
            assert_eq!(alone, c);
            assert!(matches!(c.buf, Buf::Inline { .. }) == (len + HEADER_SIZE <= INLINE));
            assert_eq!(c, p);
            c.set_conn_id(9);
            p.set_conn_id(9);
            assert_eq!((c.conn_id(), c.payload()), (9, p.payload()));
            assert_eq!(c.into_bytes(), p.into_bytes());
        }
    }
}
