//! An idle link costs no CPU: waiters poll only for a short, bounded time
//! after traffic, then sleep. A test binary of its own, as it measures the
//! CPU time of the whole process.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use neonet::proto::{AnswerObject, GetObject, Message};
use neonet::NodeLink;

/// CPU time (user + system) of this process, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let hz = 100; // USER_HZ, fixed at 100 on Linux
    Duration::from_millis(ticks * 1000 / hz)
}

#[test]
fn idle_links_cost_no_cpu() {
    let (client, server) = NodeLink::pair().unwrap();
    let server = Arc::new(server);
    // A server thread blocked in recv1, a client conn blocked in recv: all
    // the waiting kinds a link has (reader threads, accept, recv).
    let srv = {
        let server = server.clone();
        thread::spawn(move || {
            while let Ok(req) = server.recv1() {
                if let Message::GetObject(g) = req.msg() {
                    let a = AnswerObject {
                        oid: g.oid,
                        ..Default::default()
                    };
                    let _ = req.reply(&a);
                }
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

    let before = cpu_time();
    thread::sleep(Duration::from_secs(1));
    let used = cpu_time() - before;
    eprintln!("CPU time of an idle linked pair over 1 s: {used:?}");
    assert!(
        used < Duration::from_millis(50),
        "idle links used {used:?} of CPU in 1 s"
    );

    client.close();
    server.close();
    srv.join().unwrap();
    let e = waiter.join().unwrap().unwrap_err();
    assert!(matches!(e.kind(), neonet::ErrorKind::LinkClosed), "{e}");
}
