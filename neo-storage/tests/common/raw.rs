//! A raw NEO/py peer over TCP, built on neonet's wire layer (handshake,
//! scanner, encoder) rather than on its links, so that a test sees and
//! sends exact bytes: it replays a master's recorded packets and compares
//! what the node sends with what NEO/py's storage sent.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use neonet::neopy::{self, Message, PacketHead, Scan, Scanner};

/// A packet received: its bytes and head.
#[derive(Debug)]
pub struct RawPacket {
    /// The whole packet.
    pub bytes: Vec<u8>,
    /// Its head.
    pub head: PacketHead,
}

impl RawPacket {
    /// The message it carries.
    pub fn msg(&self) -> Message {
        Message::decode(self.head.code, &self.bytes[self.head.args_offset..]).unwrap()
    }
}

/// One end of a raw link.
#[derive(Debug)]
pub struct RawPeer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawPeer {
    /// Accepts the node's connection on `listener` and exchanges the
    /// handshake.
    pub fn accept(listener: &TcpListener) -> RawPeer {
        let (stream, _) = listener.accept().unwrap();
        // Only a bound on a broken test: nothing asserts on time.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut peer = RawPeer {
            stream,
            buf: Vec::new(),
        };
        peer.write(&neopy::HANDSHAKE);
        let mut hs = [0; 6];
        peer.stream.read_exact(&mut hs).unwrap();
        assert_eq!(hs, neopy::HANDSHAKE);
        peer
    }

    /// Dials the node at `addr` and exchanges the handshake (as a client
    /// or another storage does).
    pub fn dial(addr: std::net::SocketAddr) -> RawPeer {
        let stream = TcpStream::connect(addr).unwrap();
        // Only a bound on a broken test: nothing asserts on time.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut peer = RawPeer {
            stream,
            buf: Vec::new(),
        };
        peer.write(&neopy::HANDSHAKE);
        let mut hs = [0; 6];
        peer.stream.read_exact(&mut hs).unwrap();
        assert_eq!(hs, neopy::HANDSHAKE);
        peer
    }

    /// Writes `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends `msg` with id `msg_id`.
    pub fn send<M: neopy::Msg>(&mut self, msg_id: u32, msg: &M) {
        let mut buf = Vec::new();
        neopy::encode_packet(&mut buf, msg_id, msg);
        self.write(&buf);
    }

    /// Reads the next packet; `None` when the node closed the stream.
    pub fn recv(&mut self) -> Option<RawPacket> {
        loop {
            if !self.buf.is_empty() {
                if let Scan::Complete(head) = Scanner::new().scan(&self.buf).unwrap() {
                    let bytes = self.buf.drain(..head.len).collect();
                    return Some(RawPacket { bytes, head });
                }
            }
            let mut chunk = [0; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Closes the stream.
    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// A row of a trace file.
#[derive(Debug, Clone)]
pub struct TraceRow {
    /// `seq`.
    pub seq: usize,
    /// `send` (by the storage) or `recv` (by the storage).
    pub direction: String,
    /// `master(...)` or a client address.
    pub peer: String,
    /// The message name.
    pub name: String,
    /// The packet bytes.
    pub bytes: Vec<u8>,
}

/// The rows of a trace (`tests/traces/NAME`).
pub fn trace(name: &str) -> Vec<TraceRow> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/traces")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            TraceRow {
                seq: f[0].parse().unwrap(),
                direction: f[2].into(),
                peer: f[3].into(),
                name: f[6].into(),
                bytes: unhex(f[8]),
            }
        })
        .collect()
}

impl TraceRow {
    /// The message of the row's packet.
    pub fn msg(&self) -> Message {
        let Scan::Complete(head) = Scanner::new().scan(&self.bytes).unwrap() else {
            panic!("row {}: not a whole packet", self.seq)
        };
        Message::decode(head.code, &self.bytes[head.args_offset..]).unwrap()
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
