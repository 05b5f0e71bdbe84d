//! Packet framing (DESIGN §1) and the reader's read-ahead (DESIGN §5):
//! headers, oversized packets, packets crossing the read-ahead buffer, and
//! one `read` per packet.

#[macro_use]
mod common;

use std::io;
use std::sync::atomic::Ordering;

use common::*;
use neonet::packet::Header;
use neonet::packet::ANSWER_BIT;
use neonet::packet::HEADER_SIZE;
use neonet::packet::MAX_PACKET_SIZE;
use neonet::Op;
use neonet::{ErrorKind, LinkRole, Packet};

#[test]
fn constants() {
    assert_eq!(HEADER_SIZE, 10);
    assert_eq!(MAX_PACKET_SIZE, 0x400_0000);
    assert_eq!(ANSWER_BIT, 0x8000);
}

#[test]
fn header_round_trip() {
    let cases = [
        (
            Header {
                conn_id: 0x0102_0304,
                msg_code: 0x8020,
                msg_len: 0x0a0b_0c0d,
            },
            [1, 2, 3, 4, 0x80, 0x20, 0x0a, 0x0b, 0x0c, 0x0d],
        ),
        (
            Header {
                conn_id: 0,
                msg_code: 0,
                msg_len: 0,
            },
            [0; 10],
        ),
        (
            Header {
                conn_id: u32::MAX,
                msg_code: u16::MAX,
                msg_len: u32::MAX,
            },
            [0xff; 10],
        ),
    ];
    for (h, bytes) in cases {
        assert_eq!(h.encode(), bytes);
        assert_eq!(Header::decode(&bytes), h);
        assert_eq!(h.packet_size(), 10 + u64::from(h.msg_len));
    }
    // The size check does not wrap.
    let h = |msg_len| Header {
        conn_id: 0,
        msg_code: 0,
        msg_len,
    };
    assert!(!h(u32::MAX).size_ok());
    assert!(!h((MAX_PACKET_SIZE - HEADER_SIZE + 1) as u32).size_ok());
    assert!(h((MAX_PACKET_SIZE - HEADER_SIZE) as u32).size_ok());
    assert!(h(0).size_ok());
}

#[test]
fn packet_bytes() {
    let p = Packet::new(7, 0x8020, b"abc");
    assert_eq!(
        p.as_bytes(),
        [0, 0, 0, 7, 0x80, 0x20, 0, 0, 0, 3, b'a', b'b', b'c']
    );
    assert_eq!(
        (p.conn_id(), p.msg_code(), p.payload()),
        (7, 0x8020, &b"abc"[..])
    );
    let head: &[u8; 10] = p.as_bytes().first_chunk().unwrap();
    assert_eq!(
        Header::decode(head),
        Header {
            conn_id: 7,
            msg_code: 0x8020,
            msg_len: 3
        }
    );
    assert_eq!(p.as_bytes(), raw_packet(7, 0x8020, b"abc"));
    assert_eq!(Packet::from_bytes(p.as_bytes().to_vec()), Some(p.clone()));
    // Truncated, or longer than announced.
    assert_eq!(Packet::from_bytes(p.as_bytes()[..12].to_vec()), None);
    assert_eq!(Packet::from_bytes(p.as_bytes()[..5].to_vec()), None);
    let mut long = p.as_bytes().to_vec();
    long.push(0);
    assert_eq!(Packet::from_bytes(long), None);
    let empty = Packet::new(1, 2, b"");
    assert_eq!(empty.as_bytes().len(), HEADER_SIZE);
    assert_eq!(empty.payload(), b"");
}

// ---- packets too big ----

/// The raw peer sends a valid packet on conn 1, then a header announcing
/// `msg_len`: the link goes down with `PacketTooBig`.
fn too_big(kind: Kind, msg_len: u32) {
    let (server, peer) = link_with_raw_peer(kind, LinkRole::Server);
    write_raw_packet(&peer, 1, 0x20, b"fine");
    let s1 = server.accept().unwrap();
    assert_eq!(s1.recv_pkt().unwrap().payload(), b"fine");
    let ours = server.new_conn().unwrap();
    let untouched = server.new_conn().unwrap();

    let want = ErrorKind::PacketTooBig {
        size: 10 + u64::from(msg_len),
    };
    std::thread::scope(|s| {
        let r = s.spawn(|| ours.recv_pkt());
        until_blocked(|| server.blocked_recvs(), 1);
        let hdr = Header {
            conn_id: 1,
            msg_code: 0x20,
            msg_len,
        };
        (&peer).write_all_bytes(&hdr.encode());
        let e = assert_kind(r.join().unwrap(), want.clone());
        assert_eq!((e.op(), e.conn_id()), (Op::Recv, Some(ours.id())));
    });
    // The first recv on every conn reports it, later ones LinkDown.
    assert_kind(s1.recv_pkt(), want.clone());
    assert_kind(untouched.recv_pkt(), want);
    for c in [&ours, &s1, &untouched] {
        assert_kind(c.recv_pkt(), ErrorKind::LinkDown);
        assert_kind(c.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkDown);
    }
    assert_kind(server.accept(), ErrorKind::LinkDown);
    assert_kind(server.new_conn(), ErrorKind::LinkDown);
    // The peer sees the stream closed, with nothing sent before.
    assert_eq!(read_to_eof(&peer).unwrap(), Vec::<u8>::new());
    server.close();
    assert_kind(server.accept(), ErrorKind::LinkClosed);
}

trait WriteAllBytes {
    fn write_all_bytes(self, b: &[u8]);
}

impl WriteAllBytes for &Raw {
    fn write_all_bytes(mut self, b: &[u8]) {
        io::Write::write_all(&mut self, b).expect("raw peer: write");
    }
}

kind_test!(packet_too_big_max_len, |kind| {
    too_big(kind, u32::MAX);
});

kind_test!(packet_too_big_by_one_byte, |kind| {
    too_big(kind, (MAX_PACKET_SIZE - HEADER_SIZE + 1) as u32);
});

// ---- packets across the read-ahead buffer ----

kind_test!(big_payload_crosses_read_ahead, |kind| {
    let (client, server) = pair(kind);
    let len = (1 << 20) + 3;
    let c = client.new_conn().unwrap();
    // Small packets around the big ones, so that the big ones start at
    // odd offsets of the read-ahead buffer.
    c.send_pkt(Packet::new(0, 0x20, b"before")).unwrap();
    let big = payload(1, len);
    c.send_pkt(Packet::new(0, 0x20, &big)).unwrap();
    c.send_pkt(Packet::new(0, 0x20, &payload(2, 70_001)))
        .unwrap();
    c.send_pkt(Packet::new(0, 0x21, b"after")).unwrap();
    let s = server.accept().unwrap();
    assert_eq!(s.recv_pkt().unwrap().payload(), b"before");
    let p = s.recv_pkt().unwrap();
    assert_eq!(p.payload().len(), len);
    assert!(p.payload() == big, "big payload corrupted");
    assert!(s.recv_pkt().unwrap().payload() == payload(2, 70_001));
    let p = s.recv_pkt().unwrap();
    assert_eq!((p.msg_code(), p.payload()), (0x21, &b"after"[..]));
    // And back.
    let back = payload(3, len);
    s.send_pkt(Packet::new(0, 0x8020, &back)).unwrap();
    s.send_pkt(Packet::new(0, 0x8021, b"done")).unwrap();
    assert!(
        c.recv_pkt().unwrap().payload() == back,
        "big answer corrupted"
    );
    assert_eq!(c.recv_pkt().unwrap().payload(), b"done");
});

kind_test!(payload_sizes_around_read_ahead, |kind| {
    // Packets just fitting the 64 KiB read-ahead buffer, just over it, and
    // around the 1 MiB chunk the reader grows big packets by.
    let (client, server) = pair(kind);
    let sizes = [
        0,
        1,
        65_536 - HEADER_SIZE - 1,
        65_536 - HEADER_SIZE,
        65_536 - HEADER_SIZE + 1,
        65_536,
        100_000,
        (1 << 20) - HEADER_SIZE,
        (1 << 20) - HEADER_SIZE + 1,
        (1 << 20) + 3,
        (2 << 20) + 1,
    ];
    let c = client.new_conn().unwrap();
    for (i, &len) in sizes.iter().enumerate() {
        c.send_pkt(Packet::new(0, 0x20, &payload(i as u64, len)))
            .unwrap();
    }
    let s = server.accept().unwrap();
    for (i, &len) in sizes.iter().enumerate() {
        let p = s.recv_pkt().unwrap();
        assert_eq!(p.payload().len(), len, "packet {i}");
        assert!(
            p.payload() == payload(i as u64, len),
            "packet {i} of {len} bytes corrupted"
        );
    }
});

kind_test!(raw_peer_sends_packet_in_pieces, |kind| {
    // Header and payload split at every awkward point, one byte at a time
    // at the start: the reader reassembles them.
    let (server, peer) = link_with_raw_peer(kind, LinkRole::Server);
    let body = payload(9, 100_000);
    let bytes = raw_packet(1, 0x20, &body);
    for b in &bytes[..20] {
        (&peer).write_all_bytes(&[*b]);
    }
    (&peer).write_all_bytes(&bytes[20..70_000]);
    (&peer).write_all_bytes(&bytes[70_000..]);
    let small = raw_packet(1, 0x21, b"tail");
    (&peer).write_all_bytes(&small[..3]);
    (&peer).write_all_bytes(&small[3..]);
    let s = server.accept().unwrap();
    assert!(s.recv_pkt().unwrap().payload() == body);
    assert_eq!(s.recv_pkt().unwrap().payload(), b"tail");
});

// ---- one read per packet ----

kind_test!(one_read_per_request, |kind| {
    const N: usize = 1000;
    let (a, b) = raw_streams(kind);
    let client = link_over(a, LinkRole::Client);
    let (server, watch) = watched_link_over(b, LinkRole::Server);
    let c = client.new_conn().unwrap();
    let mut s = None;
    for i in 0..N {
        let req = payload(i as u64, 10 + i % 200);
        c.send_pkt(Packet::new(0, 0x20, &req)).unwrap();
        let sc = s.get_or_insert_with(|| server.accept().unwrap());
        let p = sc.recv_pkt().unwrap();
        assert_eq!(p.payload(), req);
        sc.send_pkt(Packet::new(0, 0x8020, &req[..5])).unwrap();
        assert_eq!(c.recv_pkt().unwrap().payload(), &req[..5]);
    }
    assert_eq!(
        watch.reads.load(Ordering::SeqCst),
        N,
        "data-returning reads for {N} request/reply rounds"
    );
});

kind_test!(burst_of_small_packets_few_reads, |kind| {
    let (a, b) = raw_streams(kind);
    let (server, watch) = watched_link_over(b, LinkRole::Server);
    let peer = a;
    peer.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut burst = Vec::new();
    for i in 0..100u64 {
        burst.extend_from_slice(&raw_packet(1, 0x20, &payload(i, 20 + i as usize % 7)));
    }
    (&peer).write_all_bytes(&burst);
    let s = server.accept().unwrap();
    for i in 0..100u64 {
        let p = s.recv_pkt().unwrap();
        assert_eq!(
            (p.conn_id(), p.payload()),
            (1, &payload(i, 20 + i as usize % 7)[..])
        );
    }
    let n = watch.reads.load(Ordering::SeqCst);
    assert!(
        n < 10,
        "{n} reads for a burst of 100 small packets written at once"
    );
});
