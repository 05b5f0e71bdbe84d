//! A hand-written NEO/py peer over a raw stream, for the tests of NEO/py
//! links (needs `mod common;` in the test binary).

#![allow(dead_code)] // each test binary uses its own part

use std::io::{Read, Write};
use std::time::Duration;

use crate::common::{raw_streams, Kind, Raw};
use neonet::neopy::{self, Message, Msg, PacketHead, Scan, Scanner};
use neonet::NeoPy;
use neonet::{LinkRole, NodeLink};

/// A NEO/py link over one end of `kind`'s streams, and the other end for
/// a hand-written peer (reads time out after 30 s).
pub fn link_with_py_peer(kind: Kind, role: LinkRole) -> (NodeLink<NeoPy>, PyPeer) {
    let (a, b) = raw_streams(kind);
    let (ours, peer) = match role {
        LinkRole::Client => (a, b),
        LinkRole::Server => (b, a),
    };
    peer.set_read_timeout(Some(Duration::from_secs(30)));
    let link = NodeLink::<NeoPy>::new(ours, role).unwrap();
    (link, PyPeer::new(peer))
}

/// A hand-written NEO/py peer over a raw stream.
pub struct PyPeer {
    pub raw: Raw,
    buf: Vec<u8>,
}

impl PyPeer {
    pub fn new(raw: Raw) -> PyPeer {
        PyPeer {
            raw,
            buf: Vec::new(),
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        (&self.raw).write_all(bytes).expect("raw peer: write");
    }

    /// Sends `msg` with msg_id `id`.
    pub fn send<M: Msg>(&self, id: u32, msg: &M) {
        self.write(&packet(id, msg));
    }

    /// The next packet the link sent: its head and bytes.
    pub fn next(&mut self) -> (PacketHead, Vec<u8>) {
        loop {
            if let Ok(Scan::Complete(head)) = Scanner::new().scan(&self.buf) {
                let bytes = self.buf.drain(..head.len).collect();
                return (head, bytes);
            }
            let mut chunk = [0u8; 65536];
            let n = (&self.raw).read(&mut chunk).expect("raw peer: read");
            assert!(n > 0, "the link closed the stream");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next packet, decoded: (msg_id, message).
    pub fn next_msg(&mut self) -> (u32, Message) {
        let (head, bytes) = self.next();
        let msg = Message::decode(head.code, &bytes[head.args_offset..]).unwrap();
        (head.msg_id, msg)
    }
}

/// The packet of `msg` with msg_id `id`.
pub fn packet<M: Msg>(id: u32, msg: &M) -> Vec<u8> {
    let mut b = Vec::new();
    neopy::encode_packet(&mut b, id, msg);
    b
}

impl PyPeer {
    /// Another handle on the peer's stream, for a second thread to write
    /// while this one reads.
    pub fn writer(&self) -> Raw {
        match &self.raw {
            Raw::Unix(s) => Raw::Unix(s.try_clone().expect("clone")),
            Raw::Tcp(s) => Raw::Tcp(s.try_clone().expect("clone")),
        }
    }
}
