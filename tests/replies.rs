//! The link's own replies to the peer (DESIGN §4): "connection closed" and
//! "connection refused", and the tombstones behind them (DESIGN §3).

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use neonet::error::REPLY_CLOSED;
use neonet::error::REPLY_REFUSED;
use neonet::{Conn, LinkRole, NodeLink, Packet};

/// Sends one packet per payload on `c` (message code `code`), then checks
/// that each was answered with the link's own reply `text` on `c`.
#[track_caller]
fn send_expect_replies(c: &Conn, code: u16, payloads: &[&[u8]], text: &str) {
    for p in payloads {
        c.send_pkt(Packet::new(0, code, p)).unwrap();
    }
    for _ in payloads {
        assert_reply(&c.recv_pkt().unwrap(), c.id(), text);
    }
}

/// Two one-byte packets, 0 then 1.
const TWO: [&[u8]; 2] = [&[0], &[1]];

// ---- "connection closed" ----

kind_test!(reply_closed_after_peer_closed_its_end, |kind| {
    let (client, server) = pair(kind);

    // A conn the client opened, closed by the server (tombstone there).
    let (c, s) = open_and_accept(&client, &server, 0x20, b"first");
    s.close();
    send_expect_replies(&c, 0x20, &TWO, REPLY_CLOSED);

    // A conn the server opened, closed by the client that accepted it.
    let (t, ct) = open_and_accept(&server, &client, 0x20, b"first");
    ct.close();
    send_expect_replies(&t, 0x20, &TWO, REPLY_CLOSED);

    // The opener closes its end: the other side's packets go to an id of
    // the opener's parity that no longer exists.
    let (c, s) = open_and_accept(&client, &server, 0x20, b"first");
    c.close();
    send_expect_replies(&s, 0x8020, &TWO, REPLY_CLOSED);
    // Nothing was accepted on either side meanwhile.
    assert_eq!(server.stats().live_conns, 2);
    assert_eq!(client.stats().live_conns, 1);
});

kind_test!(reply_closed_after_close_recv, |kind| {
    let (client, server) = pair(kind);
    let (c, s) = open_and_accept(&client, &server, 0x20, b"first");
    s.close_recv();
    send_expect_replies(&c, 0x20, &TWO, REPLY_CLOSED);
    // Sending still works, and comes after the replies.
    s.send_pkt(Packet::new(0, 0x8020, b"one way")).unwrap();
    let p = c.recv_pkt().unwrap();
    assert_eq!(
        (p.conn_id(), p.msg_code(), p.payload()),
        (c.id(), 0x8020, &b"one way"[..])
    );
});

kind_test!(reply_closed_for_unknown_id_of_our_parity, |kind| {
    for role in [LinkRole::Server, LinkRole::Client] {
        let (link, peer) = link_with_raw_peer(kind, role);
        // Ids of the link's parity that it never opened.
        let ids: [u32; 3] = match role {
            LinkRole::Server => [0, 40, u32::MAX - 1],
            LinkRole::Client => [1, 41, u32::MAX],
        };
        for &id in &ids {
            write_raw_packet(&peer, id, 0x20, b"who?");
        }
        for &id in &ids {
            assert_reply(&read_raw_packet(&peer).unwrap(), id, REPLY_CLOSED);
        }
        assert_eq!(conns(&link), (0, 0));
        drop(link);
        // The link closed: the peer sees EOF and nothing else.
        assert_eq!(read_to_eof(&peer).unwrap(), Vec::<u8>::new());
    }
});

// Exactly how many replies: the raw peer sees every byte in order, and a
// "pong" on a second connection marks the end.

/// Raw peer (client) and server link, with conn 1 accepted (its first
/// packet received) and conn 3 accepted as the marker connection.
fn raw_peer_with_marker(kind: Kind) -> (NodeLink, Raw, Conn, Conn) {
    let (server, peer) = link_with_raw_peer(kind, LinkRole::Server);
    write_raw_packet(&peer, 1, 0x20, b"first");
    let s1 = server.accept().unwrap();
    assert_eq!(s1.id(), 1);
    assert_eq!(s1.recv_pkt().unwrap().payload(), b"first");
    write_raw_packet(&peer, 3, 0x20, b"marker");
    let s3 = server.accept().unwrap();
    assert_eq!(s3.id(), 3);
    assert_eq!(s3.recv_pkt().unwrap().payload(), b"marker");
    (server, peer, s1, s3)
}

/// The peer pings on 3, the server answers: everything the peer reads
/// before that "pong" is returned.
fn read_until_pong(peer: &Raw, s3: &Conn) -> Vec<Packet> {
    write_raw_packet(peer, 3, 0x20, b"ping");
    assert_eq!(s3.recv_pkt().unwrap().payload(), b"ping");
    s3.send_pkt(Packet::new(0, 0x8020, b"pong")).unwrap();
    let mut got = Vec::new();
    loop {
        let p = read_raw_packet(peer).unwrap();
        if p.conn_id() == 3 {
            assert_eq!(p.payload(), b"pong");
            return got;
        }
        got.push(p);
    }
}

#[track_caller]
fn assert_replies(got: &[Packet], id: u32, text: &str, n: usize) {
    assert_eq!(got.len(), n, "replies: {got:?}");
    for p in got {
        assert_reply(p, id, text);
    }
}

/// Closes `conn` for good, or only its receiving side.
fn close_or_close_recv(conn: &Conn, close_recv: bool) {
    if close_recv {
        conn.close_recv();
    } else {
        conn.close();
    }
}

kind_test!(reply_closed_exact_count, |kind| {
    // Two packets to a closed conn: exactly two replies. Then the same
    // after close_recv.
    for close_recv in [false, true] {
        let (_server, peer, s1, s3) = raw_peer_with_marker(kind);
        close_or_close_recv(&s1, close_recv);
        write_raw_packet(&peer, 1, 0x20, b"a");
        write_raw_packet(&peer, 1, 0x20, b"b");
        assert_replies(&read_until_pong(&peer, &s3), 1, REPLY_CLOSED, 2);
    }
});

kind_test!(reply_closed_once_for_queued_packets, |kind| {
    for close_recv in [false, true] {
        let (server, peer) = link_with_raw_peer(kind, LinkRole::Server);
        // Three packets on 1, then the marker conn 3: once 3 is accepted,
        // the reader has queued all three on 1.
        for i in 0..3u8 {
            write_raw_packet(&peer, 1, 0x20, &[i]);
        }
        write_raw_packet(&peer, 3, 0x20, b"marker");
        let s1 = server.accept().unwrap();
        let s3 = server.accept().unwrap();
        assert_eq!((s1.id(), s3.id()), (1, 3));
        assert_eq!(s3.recv_pkt().unwrap().payload(), b"marker");
        close_or_close_recv(&s1, close_recv);
        // One reply for everything that was queued.
        assert_replies(&read_until_pong(&peer, &s3), 1, REPLY_CLOSED, 1);
        // Later packets: one reply each.
        write_raw_packet(&peer, 1, 0x20, b"later");
        assert_replies(&read_until_pong(&peer, &s3), 1, REPLY_CLOSED, 1);
        if close_recv {
            // close after close_recv answers nothing more.
            s1.close();
            assert_replies(&read_until_pong(&peer, &s3), 1, REPLY_CLOSED, 0);
        }
    }
});

// ---- "connection refused" ----

kind_test!(reply_refused_when_not_accepting, |kind| {
    let (client, server) = pair(kind);
    server.close_accept();
    let c = client.new_conn().unwrap();
    send_expect_replies(&c, 0x20, &[b"one", b"two"], REPLY_REFUSED);
    // Nothing of it is kept.
    assert_eq!(conns(&server), (0, 0));
    // Another one, refused too.
    let c2 = client.new_conn().unwrap();
    send_expect_replies(&c2, 0x20, &[b"three"], REPLY_REFUSED);
    assert_eq!(conns(&server), (0, 0));
});

kind_test!(reply_refused_for_conns_queued_before_close_accept, |kind| {
    let (client, server) = pair(kind);
    let c = client.new_conn().unwrap();
    c.send_pkt(Packet::new(0, 0x20, b"one")).unwrap();
    // Wait until the reader queued it for accept.
    assert!(
        wait_until(Duration::from_secs(10), || server.stats().live_conns == 1),
        "the peer's connection never reached the accept queue"
    );
    server.close_accept();
    assert_reply(&c.recv_pkt().unwrap(), c.id(), REPLY_REFUSED);
    assert_eq!(conns(&server), (0, 0));
    send_expect_replies(&c, 0x20, &[b"two"], REPLY_REFUSED);
});

kind_test!(reply_refused_exact_count, |kind| {
    let (server, peer) = link_with_raw_peer(kind, LinkRole::Server);
    write_raw_packet(&peer, 3, 0x20, b"marker");
    let s3 = server.accept().unwrap();
    assert_eq!(s3.recv_pkt().unwrap().payload(), b"marker");
    server.close_accept();
    write_raw_packet(&peer, 5, 0x20, b"a");
    write_raw_packet(&peer, 5, 0x20, b"b");
    assert_replies(&read_until_pong(&peer, &s3), 5, REPLY_REFUSED, 2);
});

// ---- tombstones ----

kind_test!(tombstone_after_closing_accepted_conn, |kind| {
    let (client, server) = pair(kind);
    let (c, s) = open_and_accept(&client, &server, 0x20, b"first");
    assert_eq!(conns(&server), (1, 0));
    s.close();
    assert_eq!(conns(&server), (0, 1));
    // A packet to it is answered, and opens nothing.
    send_expect_replies(&c, 0x20, &[b"again"], REPLY_CLOSED);
    assert_eq!(conns(&server), (0, 1));
    let (c2, s2) = open_and_accept(&client, &server, 0x20, b"new");
    assert_eq!(s2.id(), c2.id());

    // Connections we open leave no tombstone, whoever closes them.
    let t = server.new_conn().unwrap();
    t.close();
    assert_eq!(conns(&server), (1, 1));
    // Dropping a conn leaves the same tombstone as closing it.
    drop(s2);
    assert_eq!(conns(&server), (0, 2));
});

/// `c`, whose peer's tombstone expired, sends `payload` (code 0x20): a new
/// connection with the same id is accepted on `server`, and returned.
#[track_caller]
fn resend_opens_new_conn(c: &Conn, server: &NodeLink, payload: &[u8]) -> Conn {
    c.send_pkt(Packet::new(0, 0x20, payload)).unwrap();
    let s = server.accept().unwrap();
    assert_eq!(s.id(), c.id());
    s
}

kind_test!(tombstone_expires_after_keep_closed, |kind| {
    let (client, server) = pair(kind);
    server.set_keep_closed(Duration::from_millis(50));
    let (c, s) = open_and_accept(&client, &server, 0x20, b"first");
    s.close();
    assert!(
        wait_until(Duration::from_secs(10), || server.stats().tombstones == 0),
        "tombstone never expired: {:?}",
        server.stats()
    );
    // The id is free again: a packet to it opens a new connection.
    let s = resend_opens_new_conn(&c, &server, b"second life");
    let p = s.recv_pkt().unwrap();
    assert_eq!((p.conn_id(), p.payload()), (c.id(), &b"second life"[..]));
    s.send_pkt(Packet::new(0, 0x8020, b"hello again")).unwrap();
    assert_eq!(c.recv_pkt().unwrap().payload(), b"hello again");
});

#[test]
fn tombstone_expires_after_keep_closed_shortened() {
    // set_keep_closed applies to connections closed from then on: a
    // tombstone made with a short keep expires even if an older one, made
    // with the default (1 minute), is still there.
    let (client, server) = unix_pair();
    let c1 = client.new_conn().unwrap();
    c1.send_pkt(Packet::new(0, 0x20, b"one")).unwrap();
    let s1 = server.accept().unwrap();
    s1.close();
    server.set_keep_closed(Duration::from_millis(50));
    let c3 = client.new_conn().unwrap();
    c3.send_pkt(Packet::new(0, 0x20, b"three")).unwrap();
    let s3 = server.accept().unwrap();
    s3.close();
    assert!(
        wait_until(Duration::from_secs(5), || server.stats().tombstones == 1),
        "the short-lived tombstone did not expire: {:?}",
        server.stats()
    );
    let s3 = resend_opens_new_conn(&c3, &server, b"three again");
    assert_eq!(s3.recv_pkt().unwrap().payload(), b"three again");
    // The long-lived one is still there.
    send_expect_replies(&c1, 0x20, &[b"one again"], REPLY_CLOSED);
}

kind_test!(replies_never_block_the_reader, |kind| {
    // The peer floods us with packets for a connection that does not
    // exist and does not read the replies: the reader keeps reading, a
    // new connection still gets through, and every reply is delivered
    // once the peer reads.
    const N: u32 = 20_000;
    let (server, peer) = link_with_raw_peer(kind, LinkRole::Server);
    let mut flood = Vec::new();
    for _ in 0..N {
        flood.extend_from_slice(&raw_packet(40, 0x20, b""));
    }
    // Blocks for good if the reader stopped reading.
    std::io::Write::write_all(&mut &peer, &flood).unwrap();
    write_raw_packet(&peer, 1, 0x20, b"hello");
    let s1 = server.accept().unwrap();
    assert_eq!(s1.recv_pkt().unwrap().payload(), b"hello");
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut replies = 0u32;
            loop {
                let p = read_raw_packet(&peer).unwrap();
                if p.conn_id() == 1 {
                    assert_eq!(p.payload(), b"pong");
                    return replies;
                }
                assert_reply(&p, 40, REPLY_CLOSED);
                replies += 1;
            }
        });
        s1.send_pkt(Packet::new(0, 0x8020, b"pong")).unwrap();
        assert_eq!(reader.join().unwrap(), N);
    });
});

kind_test!(replies_do_not_wait_for_a_blocked_sender, |kind| {
    // The peer does not read and floods us with packets for a connection
    // that does not exist, until replies no longer fit in the socket. A
    // sender that must write the queued replies first then blocks in
    // write: the reader must go on reading, queueing more replies, and
    // deliver the peer's packets to live connections meanwhile.
    let (server, peer) = link_with_raw_peer(kind, LinkRole::Server);
    write_raw_packet(&peer, 1, 0x20, b"hello");
    let s1 = server.accept().unwrap();
    assert_eq!(s1.recv_pkt().unwrap().payload(), b"hello");
    let mut flood = Vec::new();
    for _ in 0..400_000 {
        flood.extend_from_slice(&raw_packet(40, 0x20, b""));
    }
    std::io::Write::write_all(&mut &peer, &flood).unwrap();
    // The reader has read the whole flood once this arrives.
    write_raw_packet(&peer, 1, 0x20, b"mark");
    assert_eq!(s1.recv_pkt().unwrap().payload(), b"mark");
    std::thread::scope(|s| {
        let sender = s.spawn(|| s1.send_pkt(Packet::new(0, 0x8020, b"blocked")));
        std::thread::sleep(LET_BLOCK); // a delay: let the sender block
        write_raw_packet(&peer, 40, 0x20, b"");
        write_raw_packet(&peer, 1, 0x20, b"again");
        assert_eq!(s1.recv_pkt().unwrap().payload(), b"again");
        server.close();
        let _ = sender.join().unwrap();
    });
});

kind_test!(reply_texts_on_the_wire, |kind| {
    // The texts NEO peers see, as DESIGN §4 words them: a packet for a
    // connection of ours that does not exist, and a connection opened while
    // we do not accept.
    let (link, peer) = link_with_raw_peer(kind, LinkRole::Server);
    write_raw_packet(&peer, 4, 0x20, b"");
    let p = read_raw_packet(&peer).unwrap();
    assert_eq!(
        decode_error_reply(&p),
        (PROTOCOL_ERROR, "connection closed".into())
    );
    link.close_accept();
    write_raw_packet(&peer, 7, 0x20, b"");
    let p = read_raw_packet(&peer).unwrap();
    assert_eq!(
        decode_error_reply(&p),
        (PROTOCOL_ERROR, "connection refused".into())
    );
});

kind_test!(an_error_packet_is_never_answered, |kind| {
    // An `Error` for a connection that is gone (the peer's own "connection
    // closed", typically) gets no reply: two links answering each other's
    // replies would never stop. The packet after it does get one, and is
    // the first thing the peer reads.
    let (_link, peer) = link_with_raw_peer(kind, LinkRole::Server);
    let closed = b"\x00\x00\x00\x06\x00\x00\x00\x11connection closed";
    write_raw_packet(&peer, 4, ERROR_MSG, closed);
    write_raw_packet(&peer, 6, 0x20, b"");
    assert_reply(&read_raw_packet(&peer).unwrap(), 6, REPLY_CLOSED);
});
