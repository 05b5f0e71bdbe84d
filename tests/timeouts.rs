//! Time limits (receive, accept, write), dead-peer detection and the
//! graceful close. No test asserts a time: an expiry is observed as the
//! kind it returns, and every limit is set far below the watchdog's.

#[macro_use]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use neonet::error::REPLY_CLOSED;
use neonet::proto::{AnswerObject, GetObject, Message, Msg, Ping, Pong};
use neonet::Op;
use neonet::{ErrorKind, LinkRole, Packet};

/// Short enough to expire within a test, long enough to be an expiry.
const SHORT: Duration = Duration::from_millis(30);

const PING: u16 = <Ping as Msg>::CODE;
const PONG: u16 = <Pong as Msg>::CODE;

kind_tests!(
    [unix, tcp],
    TEST_LIMIT;
    recv_expect_ask_time_out,
    ask1_times_out_and_late_answer_is_refused,
    accept_and_recv1_time_out,
    link_default_applies_to_new_and_accepted_conns,
    write_timeout_takes_the_link_down,
    keepalive_keeps_a_live_link_up,
    keepalive_detects_a_raw_peer_that_answers,
    keepalive_takes_down_a_silent_peer,
    close_writes_what_was_promised,
);

/// 1. `recv`, `expect` and `ask` on a silent peer return `Timeout`; the
///    connection and link stay up, and a packet that comes after a
///    timeout goes to the next `recv`.
fn recv_expect_ask_time_out(kind: Kind) {
    let (client, server) = pair(kind);
    let c = client.new_conn().unwrap();
    c.send(&Ping {}).unwrap();
    let s = server.accept().unwrap();
    let _: Ping = s.expect().unwrap();

    c.set_recv_timeout(Some(SHORT));
    assert_eq!(c.default_recv_timeout(), Some(SHORT));
    let e = assert_kind(c.recv_pkt(), ErrorKind::Timeout);
    assert_eq!((e.op(), e.conn_id()), (Op::Recv, Some(c.id())));
    assert_kind(c.recv(), ErrorKind::Timeout);
    assert_kind(c.expect::<Pong>(), ErrorKind::Timeout);
    assert_kind(c.ask(&Ping {}), ErrorKind::Timeout);

    // The late answers: both reach the next receives, in order.
    let _: Ping = s.expect().unwrap();
    s.send(&Pong {}).unwrap();
    s.send_pkt(Packet::new(0, 0x20, b"late")).unwrap();
    c.set_recv_timeout(None);
    let _: Pong = c.expect().unwrap();
    assert_eq!(c.recv_pkt().unwrap().payload(), b"late");
    // Still up both ways.
    exchange(&client, &server, b"after", b"timeouts");
}

/// 1'. `ask1` with the link's receive timeout returns `Timeout` and
///     forgets its connection: the late answer is answered "connection
///     closed"; the link goes on working.
fn ask1_times_out_and_late_answer_is_refused(kind: Kind) {
    let (link, peer) = link_with_raw_peer(kind, LinkRole::Client);
    link.set_recv_timeout(Some(SHORT));
    let get = GetObject {
        oid: 1,
        at: 2,
        before: 3,
    };
    let e = assert_kind(link.ask1(&get), ErrorKind::Timeout);
    let id = e.conn_id().expect("a connection error");
    let req = read_raw_packet(&peer).unwrap();
    assert_eq!((req.conn_id(), req.msg_code()), (id, GetObject::CODE));
    // The answer comes too late.
    write_raw_packet(&peer, id, AnswerObject::CODE, &answer_bytes());
    assert_reply(&read_raw_packet(&peer).unwrap(), id, REPLY_CLOSED);
    assert_eq!(conns(&link), (0, 0));

    // The next ask1 is answered in time.
    link.set_recv_timeout(Some(TEST_LIMIT));
    thread::scope(|s| {
        let asker = s.spawn(|| link.ask1(&Ping {}));
        let req = read_raw_packet(&peer).unwrap();
        assert_eq!(req.msg_code(), PING);
        write_raw_packet(&peer, req.conn_id(), PONG, b"");
        asker.join().unwrap().unwrap();
    });
}

/// The payload of an `AnswerObject` with empty data.
fn answer_bytes() -> Vec<u8> {
    let mut b = Vec::new();
    AnswerObject::default().encode_into(&mut b);
    b
}

/// 1''. `accept_timeout` and `recv1_timeout` on a silent peer return
///      `Timeout`; the link stays up and what comes later is accepted.
fn accept_and_recv1_time_out(kind: Kind) {
    let (client, server) = pair(kind);
    let e = assert_kind(server.accept_timeout(SHORT), ErrorKind::Timeout);
    assert_eq!((e.op(), e.conn_id()), (Op::Accept, None));
    assert_kind(server.recv_timeout(SHORT), ErrorKind::Timeout);

    client.send1(&Ping {}).unwrap();
    let req = server.recv_timeout(TEST_LIMIT).unwrap();
    assert_eq!(req.msg(), &Message::Ping(Ping {}));
    let c = client.new_conn().unwrap();
    c.send_pkt(Packet::new(0, 0x20, b"x")).unwrap();
    let s = server.accept_timeout(TEST_LIMIT).unwrap();
    assert_eq!(s.recv_pkt().unwrap().payload(), b"x");
}

/// 1'''. The link's receive timeout is the default of connections created
///       after it, ours and accepted ones; each can change its own.
fn link_default_applies_to_new_and_accepted_conns(kind: Kind) {
    let (client, server) = pair(kind);
    let before = client.new_conn().unwrap();
    assert_eq!(before.default_recv_timeout(), None);
    client.set_recv_timeout(Some(SHORT));
    server.set_recv_timeout(Some(SHORT));
    let c = client.new_conn().unwrap();
    assert_eq!(c.default_recv_timeout(), Some(SHORT));
    c.send(&Ping {}).unwrap();
    let s = server.accept().unwrap();
    assert_eq!(s.default_recv_timeout(), Some(SHORT));
    let _: Ping = s.expect().unwrap();
    assert_kind(s.recv_pkt(), ErrorKind::Timeout);
    assert_kind(c.recv_pkt(), ErrorKind::Timeout);
    s.set_recv_timeout(None);
    assert_eq!(s.default_recv_timeout(), None);
    assert_eq!(
        before.default_recv_timeout(),
        None,
        "existing conns keep theirs"
    );
}

/// 2. The peer stops reading: a 16 MiB send fails with `Timeout` once the
///    write timeout passes, the link is down, and other blocked senders
///    and receivers fail with the kinds of DESIGN §4.
fn write_timeout_takes_the_link_down(kind: Kind) {
    let (link, _peer, watch) = link_with_watched_peer(kind, LinkRole::Client);
    link.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let a = link.new_conn().unwrap();
    let b = link.new_conn().unwrap();
    let c = link.new_conn().unwrap();
    thread::scope(|s| {
        let recv = s.spawn(|| a.recv_pkt());
        let big = s.spawn(|| b.send_pkt(Packet::new(0, 0x20, &payload(1, LARGE))));
        watch.large_writes.recv().unwrap();
        // Another sender waits for the writer held by the stuck one.
        let other = s.spawn(|| c.send_pkt(Packet::new(0, 0x20, &payload(2, LARGE))));
        let e = assert_kind(big.join().unwrap(), ErrorKind::Timeout);
        assert_eq!((e.op(), e.conn_id()), (Op::Send, Some(b.id())));
        assert_kind(other.join().unwrap(), ErrorKind::LinkDown);
        // The receiver sees the link down (the cause was a write).
        assert_kind(recv.join().unwrap(), ErrorKind::LinkDown);
    });
    assert_kind(link.new_conn(), ErrorKind::LinkDown);
    assert_kind(b.send_pkt(Packet::new(0, 2, b"")), ErrorKind::LinkDown);
}

/// 3. Keepalive between two links: the link pings when idle, the peer's
///    application answers its `Ping`s, and the link stays up over several
///    idle periods (each ping counted, each answer consumed by the link:
///    no connection stays open for it).
fn keepalive_keeps_a_live_link_up(kind: Kind) {
    let (client, server) = pair(kind);
    let idle = Duration::from_millis(20);
    client.set_keepalive(Some((idle, Duration::from_secs(20))));
    let answered = AtomicUsize::new(0);
    thread::scope(|s| {
        let srv = s.spawn(|| {
            while let Ok(req) = server.recv() {
                if let Message::Ping(_) = req.msg() {
                    req.reply(&Pong {}).unwrap();
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        assert!(
            wait_until(TEST_LIMIT, || answered.load(Ordering::SeqCst) >= 3),
            "the link did not ping"
        );
        // The link is still up and works.
        let c = client.new_conn().unwrap();
        c.send(&GetObject::default()).unwrap();
        assert!(client.stats().pings >= 3);
        client.close();
        srv.join().unwrap();
    });
}

/// 3'. Keepalive against a raw peer that answers each `Ping` with a
///     `Pong`: the link stays up across several pings.
fn keepalive_detects_a_raw_peer_that_answers(kind: Kind) {
    let (link, peer) = link_with_raw_peer(kind, LinkRole::Server);
    link.set_keepalive(Some((Duration::from_millis(10), Duration::from_secs(20))));
    for _ in 0..3 {
        let ping = read_raw_packet(&peer).unwrap();
        assert_eq!(ping.msg_code(), PING);
        assert_eq!(ping.conn_id() % 2, 0, "a connection of the server");
        write_raw_packet(&peer, ping.conn_id(), PONG, b"");
    }
    let c = link.new_conn().unwrap();
    c.send_pkt(Packet::new(0, 0x20, b"still up")).unwrap();
    // Its packet comes after the pings still in flight, if any.
    loop {
        let p = read_raw_packet(&peer).unwrap();
        if p.msg_code() != PING {
            assert_eq!(p.payload(), b"still up");
            break;
        }
    }
    assert!(link.stats().pings >= 3);
}

/// 3''. A peer that reads but never answers: the link goes down with
///      `Timeout`, which the first receive on each connection reports.
fn keepalive_takes_down_a_silent_peer(kind: Kind) {
    let (link, peer) = link_with_raw_peer(kind, LinkRole::Client);
    let a = link.new_conn().unwrap();
    let b = link.new_conn().unwrap();
    thread::scope(|s| {
        let recv = s.spawn(|| a.recv_pkt());
        link.set_keepalive(Some((Duration::from_millis(10), Duration::from_millis(50))));
        let ping = read_raw_packet(&peer).unwrap();
        assert_eq!(ping.msg_code(), PING);
        assert_kind(recv.join().unwrap(), ErrorKind::Timeout);
    });
    assert_kind(a.recv_pkt(), ErrorKind::LinkDown);
    assert_kind(b.recv_pkt(), ErrorKind::Timeout);
    assert_kind(b.recv_pkt(), ErrorKind::LinkDown);
    assert_kind(link.new_conn(), ErrorKind::LinkDown);
    // The peer sees the link close.
    assert!(read_to_eof(&peer).is_ok());
}

/// 4. Eight threads send small packets while the writer is busy with a
///    large one the peer is slow to read, then the link is closed: the
///    peer receives every packet whose `send` returned `Ok`, and sends
///    that come after `close` fail with `LinkClosed`.
fn close_writes_what_was_promised(kind: Kind) {
    const SENDERS: usize = 8;
    const EACH: usize = 1000;
    let (link, peer, watch) = link_with_watched_peer(kind, LinkRole::Client);
    let big = link.new_conn().unwrap();
    let conns: Vec<_> = (0..SENDERS).map(|_| link.new_conn().unwrap()).collect();
    let ok: Vec<AtomicUsize> = (0..SENDERS).map(|_| AtomicUsize::new(0)).collect();
    let (started_tx, started_rx) = mpsc::channel();
    let received = thread::scope(|s| {
        s.spawn(|| big.send_pkt(Packet::new(0, 0x20, &payload(0, LARGE))));
        watch.large_writes.recv().unwrap();
        for (t, c) in conns.iter().enumerate() {
            let (ok, started) = (&ok[t], started_tx.clone());
            s.spawn(move || {
                for i in 0..EACH {
                    let p = Packet::new(0, 0x20, &(i as u32).to_be_bytes());
                    match c.send_pkt(p) {
                        Ok(()) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            assert!(matches!(e.kind(), ErrorKind::LinkClosed), "{e}");
                            break;
                        }
                    };
                    if i == 10 {
                        started.send(()).unwrap();
                    }
                }
            });
        }
        for _ in 0..SENDERS {
            started_rx.recv().unwrap();
        }
        // The peer starts reading only now: close must wait for the
        // writer, then write the queue.
        let reader = s.spawn(|| read_until_eof(&peer));
        link.close();
        reader.join().unwrap()
    });
    for (t, c) in conns.iter().enumerate() {
        let got: Vec<u32> = received
            .iter()
            .filter(|p| p.conn_id() == c.id())
            .map(|p| u32::from_be_bytes(p.payload().try_into().unwrap()))
            .collect();
        let sent = ok[t].load(Ordering::SeqCst);
        assert!(
            got.len() >= sent,
            "conn {t}: {sent} sends returned Ok, {} arrived",
            got.len()
        );
        assert!(
            got.iter().enumerate().all(|(i, &v)| v as usize == i),
            "conn {t}: order"
        );
    }
}

/// Reads packets until the peer closes the stream.
fn read_until_eof(peer: &Raw) -> Vec<Packet> {
    let mut got = Vec::new();
    while let Ok(p) = read_raw_packet(peer) {
        got.push(p);
    }
    got
}
