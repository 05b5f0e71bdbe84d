//! One TLS session shared by a link's reader and its senders (DESIGN
//! §11, ARCHITECTURE.md "TLS").
//!
//! 1. plaintext already decrypted is seen and delivered without more
//!    bytes from the socket: many small packets in one record; the first
//!    byte of plaintext can be looked at without taking it (`peek_plain`);
//! 2. a sender blocked on a full socket does not block the reader, and
//!    the reader's own replies still go out once the peer reads; what a
//!    non-blocking write left behind goes out when there is room, though
//!    nobody writes any more;
//! 3. the peer asking for new keys while senders keep encrypting, and
//!    the reader's own replies written meanwhile: every record decrypts;
//! 4. hostile bytes: garbage after the handshake, a truncated record, a
//!    bad packet inside TLS: the link goes down cleanly, no panic.

#[macro_use]
mod common;
mod tls_support;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering::SeqCst;
use std::thread;
use std::time::Duration;

use common::{
    assert_io_kind, assert_kind, assert_reply, raw_packet, read_raw_packet, wait_until, watchdog,
    WatchedStream, LARGE, LET_BLOCK,
};
use neonet::tls::{TlsAlert, TlsError, TlsStream};
use neonet::Proto6;
use neonet::{ErrorKind, LinkRole, LinkStream, NodeLink, Packet, REPLY_CLOSED};
use tls_support::*;

const LIMIT: Duration = Duration::from_secs(60);

/// TLS streams of the shared cluster through a [`Relay`]: (client,
/// server, relay).
fn relayed_streams() -> (TlsStream<UnixStream>, TlsStream<UnixStream>, Relay) {
    let (a, b, relay) = Relay::new();
    let c = cluster();
    let (client, server) = tls_streams_over(a, b, &c.client, &c.server);
    (client, server, relay)
}

/// `n` small packets, laid out by hand, back to back.
fn small_packets(n: u32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| raw_packet(2 * i + 1, 0x20, &i.to_be_bytes()))
        .collect()
}

// ---- 1. buffered plaintext ----

#[test]
fn one_record_read_in_small_pieces_needs_no_more_socket_bytes() {
    watchdog(LIMIT, || {
        let (client, server, relay) = relayed_streams();
        let bytes = small_packets(500);
        assert!(bytes.len() <= 16 * 1024, "one record");
        let before = relay.records.load(SeqCst);
        send_all(&client, &bytes);
        // The record went through whole, and nothing follows it: the
        // client stays silent and open until the end.
        assert!(wait_until(LIMIT, || relay.records.load(SeqCst) == before + 1));

        // Read it 7 bytes at a time: all but the first read find their
        // bytes already decrypted (a reader that went to the socket
        // for them would wait forever).
        let mut got = Vec::new();
        let mut piece = [0u8; 7];
        let mut readable_every_time = true;
        while got.len() < bytes.len() {
            readable_every_time &= got.is_empty() || server.readable().unwrap();
            let n = if got.len() % 2 == 0 {
                server.read(&mut piece).unwrap()
            } else {
                server.try_read(&mut piece).unwrap()
            };
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(got, bytes);
        assert!(readable_every_time, "buffered plaintext is readable");
        assert_eq!(relay.records.load(SeqCst), before + 1);
        drop(client);
    });
}

#[test]
fn many_small_packets_in_one_record_all_reach_the_link() {
    watchdog(LIMIT, || {
        const N: u32 = 1000;
        let (client, server, relay) = relayed_streams();
        let link = NodeLink::<Proto6>::new(server, LinkRole::Server).unwrap();
        let before = relay.records.load(SeqCst);
        // 14 KB of packets, one write: one record.
        send_all(&client, &small_packets(N));
        for i in 0..N {
            let c = link.accept().unwrap();
            assert_eq!(c.id(), 2 * i + 1);
            assert_eq!(c.recv_pkt().unwrap().payload(), i.to_be_bytes());
        }
        assert_eq!(relay.records.load(SeqCst), before + 1);
        drop(client);
    });
}

#[test]
fn peek_plain_leaves_the_first_byte_to_read() {
    watchdog(LIMIT, || {
        let (client, server, _relay) = relayed_streams();
        // Nothing sent yet: the peek gives up.
        let e = server
            .peek_plain(Some(Duration::from_millis(20)))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        send_all(&client, b"\x92abc");
        // Looked at as often as wanted, it stays for the read.
        assert_eq!(server.peek_plain(Some(HANDSHAKE_LIMIT)).unwrap(), 0x92);
        assert_eq!(server.peek_plain(None).unwrap(), 0x92);
        assert!(server.readable().unwrap());
        let mut got = [0u8; 4];
        let mut n = 0;
        while n < got.len() {
            n += server.read(&mut got[n..]).unwrap();
        }
        assert_eq!(&got, b"\x92abc");
        // A peer that ends the session before a byte came.
        drop(client);
        let e = server.peek_plain(Some(HANDSHAKE_LIMIT)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    });
}

// ---- 2. a blocked sender does not block the reader ----

#[test]
fn blocked_sender_does_not_block_the_reader() {
    watchdog(LIMIT, || {
        // Our link's peer is a bare TLS stream that does not read for now.
        let (ours, peer) = tls_tcp_streams();
        let (stream, watch) = WatchedStream::new(ours);
        let link = NodeLink::<Proto6>::new(stream, LinkRole::Client).unwrap();
        let a = link.new_conn().unwrap();
        let b = link.new_conn().unwrap();
        let big = vec![0x77; LARGE];
        thread::scope(|s| {
            let w = s.spawn(|| b.send_pkt(Packet::new(0, 0x20, &big)));
            watch.large_writes.recv().expect("the sender writes");
            thread::sleep(LET_BLOCK);
            // The sender holds the socket, blocked. The peer talks: on a
            // conn of ours (delivered) and on an unknown one of ours
            // (answered "connection closed", which must wait for room).
            send_all(&peer, &raw_packet(a.id(), 0x8020, b"answer"));
            send_all(&peer, &raw_packet(a.id() + 100, 0x8020, b"stray"));
            assert_eq!(a.recv_pkt().unwrap().payload(), b"answer");

            // Now the peer reads: the big packet, then the reply.
            let mut reader = StreamIo(&peer);
            let pkt = read_raw_packet(&mut reader).unwrap();
            assert_eq!((pkt.conn_id(), pkt.payload().len()), (b.id(), LARGE));
            w.join().unwrap().unwrap();
            let reply = read_raw_packet(&mut reader).unwrap();
            assert_reply(&reply, a.id() + 100, REPLY_CLOSED);
        });
    });
}

#[test]
fn reader_writes_what_a_nonblocking_write_left_once_there_is_room() {
    watchdog(LIMIT, || {
        let (a, b) = UnixStream::pair().unwrap();
        let c = cluster();
        let (ours, peer) = tls_streams_over(a, b, &c.client, &c.server);
        // Non-blocking writes (as the link's reader writes its replies)
        // until the socket is full: the last record is partly written.
        let mut sent = Vec::new();
        loop {
            let chunk = common::payload(sent.len() as u64, 1000);
            match ours.try_write(&chunk) {
                Ok(n) => sent.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("try_write: {e}"),
            }
        }
        thread::scope(|s| {
            // Our reader sleeps, waiting for data that is not coming yet.
            let reader = s.spawn(|| {
                let mut buf = [0u8; 16];
                let n = LinkStream::read(&ours, &mut buf).unwrap();
                buf[..n].to_vec()
            });
            thread::sleep(LET_BLOCK);
            // The peer reads everything: the rest of the last record must
            // come although nobody writes any more.
            let mut got = vec![0u8; sent.len()];
            StreamIo(&peer).read_exact(&mut got).unwrap();
            assert!(got == sent, "the peer got what was sent");
            send_all(&peer, b"wake up");
            assert_eq!(reader.join().unwrap(), b"wake up");
        });
    });
}

/// A `TlsStream` as `io::Read`, for a hand-driven peer.
struct StreamIo<'a, S: neonet::tls::TlsSocket>(&'a TlsStream<S>);

impl<S: neonet::tls::TlsSocket> Read for StreamIo<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        LinkStream::read(self.0, buf)
    }
}

/// Writes all of `bytes` on a bare TLS stream.
fn send_all(s: &impl LinkStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let n = s.write(bytes).unwrap();
        bytes = &bytes[n..];
    }
}

// ---- 3. key updates and the reader's replies ----

#[test]
fn key_updates_from_the_peer_interleave_with_our_records() {
    const SENDERS: u32 = 2;
    const PACKETS: u32 = 1500;
    watchdog(LIMIT, || {
        let c = cluster();
        let listener = listen();
        let addr = listener.local_addr().unwrap();
        let server = c.server.clone();
        let accepted = serve_one(listener, move |s| {
            neonet::tls::accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
        });
        let node = c.ca.node(Key::Ec);
        let mut peer = raw_client(addr, raw_client_config(&c.ca, Some(&node)));
        neo_handshake_raw(&mut peer);
        let link = accepted.join().unwrap().unwrap().into_proto6().unwrap();
        thread::scope(|s| {
            // Senders keep the socket full (the peer reads slowly), so
            // that they often hold records made with the old keys, not
            // yet written, when the peer asks for new keys.
            for t in 0..SENDERS {
                let link = &link;
                s.spawn(move || {
                    let conn = link.new_conn().unwrap();
                    for i in 0..PACKETS {
                        let body = common::payload(u64::from(t << 16 | i), 4096);
                        conn.send_pkt(Packet::new(0, 0x20, &body)).unwrap();
                    }
                });
            }
            let (mut data, mut replies, mut asked) = (0, 0, 0);
            while data < SENDERS * PACKETS || replies < asked {
                // The peer asks for new keys both ways, then sends a
                // packet to a connection of ours that does not exist: the
                // link's reader answers it itself ("connection closed"),
                // while the senders hold the socket; its key update goes
                // out before the next record made with the new keys.
                if asked * 20 <= data && data < SENDERS * PACKETS {
                    peer.conn.refresh_traffic_keys().unwrap();
                    peer.write_all(&raw_packet(2 * asked + 1_000_000, 0x20, b""))
                        .unwrap();
                    asked += 1;
                }
                let p = read_raw_packet(&mut peer).unwrap();
                if p.msg_code() == common::ERROR_MSG {
                    assert_reply(&p, 1_000_000 + 2 * replies, REPLY_CLOSED);
                    replies += 1;
                } else {
                    assert_eq!(p.payload().len(), 4096, "packet {data}");
                    data += 1;
                }
            }
        });
        link.close();
    });
}

// ---- 4. hostile bytes ----

/// A link pair through a relay: (client link, server link, relay).
fn relayed_links() -> (NodeLink, NodeLink, Relay) {
    let (client, server, relay) = relayed_streams();
    let (cl, sl) = links_over(client, server);
    (cl, sl, relay)
}

/// The TLS failure a link that went down because of it reports.
#[track_caller]
fn tls_cause(e: &neonet::Error) -> &TlsError {
    match e.kind() {
        ErrorKind::Tls(tls) => tls,
        k => panic!("expected Tls, got {k:?} ({e})"),
    }
}

#[test]
fn garbage_after_the_handshake_takes_the_link_down() {
    watchdog(LIMIT, || {
        // Plain garbage, then an application-data record of random bytes
        // (fails to decrypt), then a record header announcing too much:
        // each with the alert that names it, which the server sends.
        let garbage: [(Vec<u8>, TlsAlert); 3] = [
            (
                b"GARBAGE: not a TLS record at all".to_vec(),
                TlsAlert::DecodeError,
            ),
            (
                [&[0x17, 3, 3, 0, 64][..], &common::payload(2, 64)].concat(),
                TlsAlert::BadRecordMac,
            ),
            (vec![0x17, 3, 3, 0xff, 0xff], TlsAlert::DecodeError),
        ];
        for (bytes, alert) in garbage {
            let (client, server, relay) = relayed_links();
            let c = server.new_conn().unwrap();
            let cc = client.new_conn().unwrap();
            relay.inject(&bytes);
            let e = c.recv_pkt().unwrap_err();
            assert!(
                matches!(tls_cause(&e), TlsError::Protocol { alert: Some(a), .. } if *a == alert),
                "{e}"
            );
            assert_eq!(e.tls_error(), Some(tls_cause(&e)));
            assert_kind(server.accept(), ErrorKind::LinkDown);
            // The client hears why: the server's alert, which took its
            // link down too.
            let e = cc.recv_pkt().unwrap_err();
            assert_eq!(tls_cause(&e), &TlsError::PeerRefused(alert), "{e}");
            assert_kind(client.accept(), ErrorKind::LinkDown);
        }
    });
}

/// A send that meets a session that failed reports the TLS failure, not
/// an I/O error carrying the TLS library's own error.
#[test]
fn a_send_on_a_failed_session_reports_the_tls_failure() {
    watchdog(LIMIT, || {
        let (_client, server, relay) = relayed_streams();
        relay.inject(&[&[0x17, 3, 3, 0, 64][..], &common::payload(2, 64)].concat());
        let mut buf = [0u8; 16];
        let read = server.read(&mut buf).unwrap_err();
        let write = server.write(b"after").unwrap_err();
        for e in [read, write] {
            let kind = ErrorKind::io(e);
            assert!(
                matches!(
                    &kind,
                    ErrorKind::Tls(TlsError::Protocol {
                        alert: Some(TlsAlert::BadRecordMac),
                        ..
                    })
                ),
                "{kind:?}"
            );
        }
    });
}

#[test]
fn truncated_record_takes_the_link_down() {
    watchdog(LIMIT, || {
        let (client, server, relay) = relayed_links();
        let c = server.new_conn().unwrap();
        relay.truncate_next.store(true, SeqCst);
        let cc = client.new_conn().unwrap();
        cc.send_pkt(Packet::new(0, 0x20, &common::payload(5, 1000)))
            .unwrap();
        let e = assert_io_kind(c.recv_pkt(), io::ErrorKind::UnexpectedEof);
        let cause = e.io_error().expect("an I/O error").to_string();
        assert!(cause.contains("without close_notify"), "{e}: {cause}");
        assert_kind(server.accept(), ErrorKind::LinkDown);
    });
}

#[test]
fn bad_packet_inside_tls_takes_the_link_down() {
    watchdog(LIMIT, || {
        let (client, server) = tls_tcp_streams();
        let link = NodeLink::<Proto6>::new(server, LinkRole::Server).unwrap();
        let c = link.new_conn().unwrap();
        // A header announcing 4 GiB.
        let mut header = raw_packet(1, 0x20, b"");
        header[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        send_all(&client, &header);
        let e = c.recv_pkt().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::PacketTooBig { .. }), "{e}");
        assert_kind(link.accept(), ErrorKind::LinkDown);
    });
}
