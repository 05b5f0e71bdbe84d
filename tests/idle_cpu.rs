//! An idle link costs no CPU: waiters poll only for a short, bounded time
//! after traffic, then sleep; with keepalive on, the reader sleeps until
//! its next ping is due. A test binary of its own, as it measures the CPU
//! time of the whole process (one test, so nothing else runs meanwhile).

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use neonet::proto::{AnswerObject, GetObject, Message, Pong};
use neonet::Proto6;
use neonet::{ErrorKind, NodeLink};

/// CPU time (user + system) of this process, with ns precision.
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A waiter that polled instead of sleeping would use most of a core over
/// the second measured; sleeping ones use next to nothing.
const IDLE_LIMIT: Duration = Duration::from_millis(50);

/// A linked pair with a server thread blocked in `recv1` (answering
/// `GetObject` and `Ping`) and a client connection blocked in `recv`: all
/// the waiting kinds a link has (reader threads, accept, recv). Runs
/// `measure` once everything is idle, then closes and checks the waiters
/// woke.
fn idle_pair(setup: impl FnOnce(&NodeLink, &NodeLink), measure: impl FnOnce(&NodeLink)) {
    let (client, server) = NodeLink::<Proto6>::pair().unwrap();
    setup(&client, &server);
    let server = Arc::new(server);
    let srv = {
        let server = server.clone();
        thread::spawn(move || {
            while let Ok(req) = server.recv() {
                let _ = match req.msg() {
                    Message::GetObject(g) => req.reply(&AnswerObject {
                        oid: g.oid,
                        ..Default::default()
                    }),
                    Message::Ping(_) => req.reply(&Pong {}),
                    _ => Ok(()),
                };
            }
        })
    };
    for i in 0..1000 {
        let a: AnswerObject = client
            .ask1(&GetObject {
                oid: i,
                at: 0,
                before: 0,
            })
            .unwrap();
        assert_eq!(a.oid, i);
    }
    let conn = client.new_conn().unwrap();
    let waiter = thread::spawn(move || conn.recv_pkt().map(|_| ()));

    measure(&client);

    client.close();
    server.close();
    srv.join().unwrap();
    let e = waiter.join().unwrap().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::LinkClosed), "{e}");
}

#[test]
fn idle_links_cost_no_cpu() {
    idle_pair(
        |_, _| {},
        |_| {
            let before = cpu_time();
            thread::sleep(Duration::from_secs(1));
            let used = cpu_time() - before;
            eprintln!("CPU time of an idle linked pair over 1 s: {used:?}");
            assert!(used < IDLE_LIMIT, "idle links used {used:?} of CPU in 1 s");
        },
    );

    // Keepalive on: the client pings every 200 ms of silence, the server
    // application answers; between pings everything sleeps.
    idle_pair(
        |client, _| {
            client.set_keepalive(Some((Duration::from_millis(200), Duration::from_secs(10))))
        },
        |client| {
            let pings = client.stats().pings;
            let before = cpu_time();
            thread::sleep(Duration::from_secs(1));
            let used = cpu_time() - before;
            let pinged = client.stats().pings - pings;
            eprintln!("CPU time of an idle pair with keepalive over 1 s: {used:?}, {pinged} pings");
            assert!(pinged >= 2, "{pinged} pings in 1 s with a 200 ms idle time");
            assert!(used < IDLE_LIMIT, "idle links used {used:?} of CPU in 1 s");
        },
    );
}
