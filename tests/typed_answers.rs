//! Typed answers over a link (DESIGN §7): `ask1`/`ask` return the answer
//! the message table gives the request, without annotations; a request
//! acknowledged with `Error(ACK)` returns `()`, another error code is a
//! `Peer` error, and another message is `UnexpectedMessage`.

use std::thread;

use neonet::proto::{AnswerNewOIDs, AskNewOIDs, Error, ErrorCode, Message, Pong, SetNumReplicas};
use neonet::Proto6;
use neonet::{ErrorKind, NodeLink};

/// How the server answers one request.
type Reply = Box<dyn Fn(&neonet::Request) + Send>;

/// Serves `replies.len()` light requests with the given replies, in order.
fn serve(server: &NodeLink, replies: Vec<Reply>) {
    for reply in replies {
        let req = server.recv().expect("recv1");
        reply(&req);
    }
}

#[test]
fn acknowledged_requests_return_unit_or_the_peer_error() {
    let (client, server) = NodeLink::<Proto6>::pair().expect("pair");
    thread::scope(|s| {
        s.spawn(|| {
            let error = |code: ErrorCode| {
                move |req: &neonet::Request| {
                    assert!(matches!(req.msg(), Message::SetNumReplicas(_)));
                    let e = Error {
                        code,
                        message: format!("{code}"),
                    };
                    req.reply(&e).expect("reply");
                }
            };
            serve(
                &server,
                vec![
                    Box::new(error(ErrorCode::ACK)),
                    Box::new(error(ErrorCode::DENIED)),
                    Box::new(|req: &neonet::Request| req.reply(&Pong {}).expect("reply")),
                ],
            );
        });

        let req = SetNumReplicas { num_replicas: 2 };
        let () = client.ask1(&req).expect("ACK");
        let err = client.ask1(&req).unwrap_err();
        match err.kind() {
            ErrorKind::Peer { code, message } => {
                assert_eq!((*code, message.as_str()), (ErrorCode::DENIED, "DENIED"));
            }
            k => panic!("expected Peer, got {k:?}"),
        }
        let err = client.ask1(&req).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::UnexpectedMessage {
                    got: "Pong",
                    expected: "Error (ACK)"
                }
            ),
            "{err}"
        );
    });
}

#[test]
fn requests_return_their_answer_message() {
    let (client, server) = NodeLink::<Proto6>::pair().expect("pair");
    thread::scope(|s| {
        s.spawn(|| {
            let req = server.recv().expect("recv1");
            let ask = req.msg_as::<AskNewOIDs>().expect("AskNewOIDs");
            let oid_list = (0..u64::from(ask.num_oids)).collect();
            req.reply(&AnswerNewOIDs { oid_list }).expect("reply");
            // an ACK is not the answer of a request that has an answer
            let req = server.recv().expect("recv1");
            req.reply(&Error::default()).expect("reply");
        });
        let c = client.new_conn().expect("new_conn");
        let ans = c.ask(&AskNewOIDs { num_oids: 3 }).expect("ask");
        assert_eq!(ans.oid_list, [0, 1, 2]);
        let err = client.ask1(&AskNewOIDs { num_oids: 1 }).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Peer {
                    code: ErrorCode::ACK,
                    ..
                }
            ),
            "{err}"
        );
    });
}
