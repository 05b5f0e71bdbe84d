//! Replay (DESIGN §10): neo-cat's client function against a fake NEO/py
//! master and storage, raw sockets answering with the bytes of
//! `tests/neopy/trace.tsv` (a real ZODB client reading 4 objects), with
//! the client's own msg_ids. The client reads oids 0–3; each record's
//! data as sent has the SHA-1 of the storage's checksum, and decompresses
//! to the length that zlib gives; the client numbered its packets as the
//! NEO/py client of the trace did. The same over TLS (neo-cat's `--ca
//! --cert --key`), the fake nodes speaking TLS 1.2 only, as NEO/py does.

mod neopy_common;
mod tls_support;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use neonet::neopy::{self, Message, NodeType, PacketHead, Scan, Scanner, HANDSHAKE};
use neonet::tls::{TlsConfig, TlsStream, TlsVersions};
use neonet::{HandshakeStream, LinkStream};
use neonet_tools::cat::{read_objects, sha1, Cluster};
use neopy_common::{tsv, unhex};

/// One packet of the trace, as the node sent or received it.
struct Traced {
    /// Sent by the node (received by the client).
    from_node: bool,
    /// "master" or "storage".
    node: String,
    msg: Message,
    head: PacketHead,
    bytes: Vec<u8>,
}

fn trace() -> Vec<Traced> {
    let mut out = Vec::new();
    for row in tsv("trace.tsv").into_iter().skip(1) {
        let [_seq, _time, dir, peer, _id, _code, name, _args, hex] = &row[..] else {
            panic!("row {row:?}")
        };
        if name == "HANDSHAKE" {
            continue;
        }
        let bytes = unhex(hex);
        let head = scan(&bytes).expect("a whole packet");
        let buf = Arc::new(bytes.clone());
        let msg = Message::decode_shared(head.code, &buf, head.args_offset).unwrap();
        out.push(Traced {
            from_node: dir == "recv",
            node: peer.split('(').next().unwrap().to_owned(),
            msg,
            head,
            bytes,
        });
    }
    out
}

/// The head of the packet `bytes` start with, if whole.
fn scan(bytes: &[u8]) -> Option<PacketHead> {
    match Scanner::new().scan(bytes) {
        Ok(Scan::Complete(head)) => Some(head),
        Ok(Scan::Incomplete { .. }) => None,
        Err(e) => panic!("the client sent no msgpack packet: {e}"),
    }
}

/// `bytes` (a traced packet) with msg_id `id`: same code, same arguments.
fn with_id(t: &Traced, id: u32) -> Vec<u8> {
    let mut out = Vec::new();
    neopy::encode_head(&mut out, id, t.head.code);
    out.extend_from_slice(&t.bytes[t.head.args_offset..]);
    out
}

/// A fake node's end of the stream.
struct Fake {
    stream: Box<dyn LinkStream>,
    buf: Vec<u8>,
}

impl Fake {
    /// Accepts the client (over TLS 1.2 if `tls`, as NEO/py) and
    /// exchanges handshakes.
    fn accept(listener: &TcpListener, tls: Option<&TlsConfig>) -> Fake {
        let limit = Some(Duration::from_secs(30));
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(limit).unwrap();
        let stream: Box<dyn LinkStream> = match tls {
            None => Box::new(stream),
            Some(config) => {
                let config = config.with_versions(TlsVersions::Tls12Only).unwrap();
                let tls = TlsStream::accept(stream, &config, limit).unwrap();
                let version = tls.protocol_version();
                assert_eq!(version, Some(neonet::tls::TlsVersion::Tls12));
                tls.set_io_timeout(limit).unwrap();
                Box::new(tls)
            }
        };
        let mut fake = Fake {
            stream,
            buf: Vec::new(),
        };
        fake.send(&HANDSHAKE);
        let mut theirs = [0u8; 6];
        let mut got = 0;
        while got < theirs.len() {
            let n = fake.stream.read(&mut theirs[got..]).unwrap();
            assert_ne!(n, 0, "the client hung up during the handshake");
            got += n;
        }
        assert_eq!(theirs, HANDSHAKE);
        fake
    }

    /// The client's next packet (id and message), or `None` once it hung up.
    fn next(&mut self) -> Option<(u32, Message)> {
        loop {
            if let Some(head) = scan(&self.buf) {
                let packet: Vec<u8> = self.buf.drain(..head.len).collect();
                let msg = Message::decode_shared(head.code, &Arc::new(packet), head.args_offset);
                return Some((head.msg_id, msg.unwrap()));
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn send(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = self.stream.write(bytes).unwrap();
            bytes = &bytes[n..];
        }
    }
}

/// What the master sent in the trace, by name (`AnswerObject`s by oid).
fn sent_by<'a>(trace: &'a [Traced], node: &str) -> BTreeMap<String, &'a Traced> {
    let mut by = BTreeMap::new();
    for t in trace.iter().filter(|t| t.from_node && t.node == node) {
        let key = match &t.msg {
            Message::AnswerObject(a) => format!("AnswerObject {}", a.oid),
            m => m.name().to_owned(),
        };
        by.insert(key, t);
    }
    by
}

/// The fake master: identification, the node list (with the fake
/// storage's port) and the partition table, then answers. Returns the
/// (msg_id, name) of what the client sent.
fn serve_master(
    listener: TcpListener,
    tls: Option<&TlsConfig>,
    trace: &[Traced],
    storage_port: u16,
) -> Vec<(u32, String)> {
    let sent = sent_by(trace, "master");
    let mut fake = Fake::accept(&listener, tls);
    let mut asked = Vec::new();
    while let Some((id, msg)) = fake.next() {
        asked.push((id, msg.name().to_owned()));
        match msg {
            Message::RequestIdentification(r) => {
                assert_eq!((r.node_type, r.name.as_str()), (NodeType::CLIENT, "test"));
                fake.send(&with_id(sent["AcceptIdentification"], id));
                fake.send(&node_list(sent["NotifyNodeInformation"], storage_port));
                fake.send(&sent["SendPartitionTable"].bytes);
            }
            Message::AskLastTransaction(_) => {
                fake.send(&with_id(sent["AnswerLastTransaction"], id))
            }
            Message::Ping(_) => fake.send(&with_id(sent["Pong"], id)),
            other => panic!("the master was not asked {other:?} in the trace"),
        }
    }
    asked
}

/// The traced node list, the storage moved to `port` (ours listens on a
/// port of its own); the master's msg_id as traced.
fn node_list(t: &Traced, port: u16) -> Vec<u8> {
    let Message::NotifyNodeInformation(mut n) = t.msg.clone() else {
        panic!("not a node list")
    };
    for node in &mut n.node_list {
        if node.node_type == NodeType::STORAGE {
            node.address.as_mut().expect("a storage address").port = port;
        }
    }
    let mut out = Vec::new();
    neopy::encode_packet(&mut out, t.head.msg_id, &n);
    out
}

/// The fake storage: identification (with the id the master gave and its
/// timestamp), then objects. Returns what the client sent.
fn serve_storage(
    listener: TcpListener,
    tls: Option<&TlsConfig>,
    trace: &[Traced],
) -> Vec<(u32, String)> {
    let sent = sent_by(trace, "storage");
    let identified = trace
        .iter()
        .find_map(|t| match &t.msg {
            Message::RequestIdentification(r) if !t.from_node && t.node == "storage" => {
                Some(r.clone())
            }
            _ => None,
        })
        .unwrap();
    let mut fake = Fake::accept(&listener, tls);
    let mut asked = Vec::new();
    while let Some((id, msg)) = fake.next() {
        asked.push((id, msg.name().to_owned()));
        match msg {
            Message::RequestIdentification(r) => {
                assert_eq!(r, identified, "as the NEO/py client identified");
                fake.send(&with_id(sent["AcceptIdentification"], id));
            }
            Message::AskObject(a) => {
                fake.send(&with_id(sent[&format!("AnswerObject {}", a.oid)], id))
            }
            other => panic!("the storage was not asked {other:?} in the trace"),
        }
    }
    asked
}

#[test]
fn neo_cat_reads_the_traced_objects_from_fake_nodes() {
    replay(None);
}

#[test]
fn neo_cat_reads_the_traced_objects_over_tls() {
    let c = tls_support::cluster();
    replay(Some((&c.client, &c.server)));
}

/// neo-cat's client against the fake nodes, over TLS if `tls` (the
/// client's configuration, the nodes').
fn replay(tls: Option<(&TlsConfig, &TlsConfig)>) {
    let trace = trace();
    let master = TcpListener::bind("127.0.0.1:0").unwrap();
    let storage = TcpListener::bind("127.0.0.1:0").unwrap();
    let cluster = Cluster {
        master: master.local_addr().unwrap().to_string(),
        name: "test".into(),
        timeout: Duration::from_secs(30),
        tls: tls.map(|(client, _)| client.clone()),
    };
    let nodes = tls.map(|(_, node)| node);
    let storage_port = storage.local_addr().unwrap().port();
    let (objects, asked_master, asked_storage) = thread::scope(|s| {
        let m = s.spawn(|| serve_master(master, nodes, &trace, storage_port));
        let st = s.spawn(|| serve_storage(storage, nodes, &trace));
        // The client's links close when it returns: the fakes see EOF.
        let objects = read_objects(&cluster, &[0, 1, 2, 3]).unwrap();
        (objects, m.join().unwrap(), st.join().unwrap())
    });

    let answers = sent_by(&trace, "storage");
    assert_eq!(objects.len(), 4);
    for (o, oid) in objects.iter().zip(0u64..) {
        let Message::AnswerObject(a) = &answers[&format!("AnswerObject {oid}")].msg else {
            unreachable!()
        };
        assert_eq!(o.oid, oid);
        assert_eq!(o.serial, a.serial);
        assert!(o.sent == a.data.as_slice(), "oid {oid}: data as sent");
        assert_eq!(
            sha1(&o.sent),
            a.checksum.0,
            "oid {oid}: SHA-1 of the data as sent"
        );
        assert_eq!(o.checksum, a.checksum.0);
        // The decompressed length, as zlib gives it for the traced bytes.
        let want = match a.compression {
            Some(1) => {
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(a.data.as_slice())
                    .read_to_end(&mut out)
                    .unwrap();
                out.len()
            }
            Some(0) => a.data.len(),
            c => panic!("compression {c:?} in the trace"),
        };
        assert_eq!(o.record.len(), want, "oid {oid}: record length");
    }
    // objects.json: oid 2 is 1 MiB of incompressible bytes (sent as is),
    // oid 3 64 KiB of zeros (compressed).
    assert_eq!(objects[2].compression, 0);
    assert!(objects[2].record.len() > 1 << 20);
    assert_eq!(objects[3].compression, 1);
    assert!(objects[3]
        .record
        .windows(1 << 16)
        .any(|w| w.iter().all(|&b| b == 0)));

    // The client numbered its packets as the NEO/py client did (which
    // also pinged the master once after asking the last transaction).
    let traced = |node: &str| -> Vec<(u32, String)> {
        trace
            .iter()
            .filter(|t| !t.from_node && t.node == node && !matches!(t.msg, Message::Ping(_)))
            .map(|t| (t.head.msg_id, t.msg.name().to_owned()))
            .collect()
    };
    assert_eq!(asked_master, traced("master"));
    assert_eq!(asked_storage, traced("storage"));
}
