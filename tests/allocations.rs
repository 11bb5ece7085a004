//! No heap allocation per request on the hot path: after a warm-up, gets, sets and
//! multi-gets through the engine's request-set / sink interface (what the C faces use)
//! allocate nothing. Counted by a global allocator wrapper in this test binary only.

mod common;

use omcache::client::{Request, Requests, Response, ResponseSink, Status, Wait};
use omcache::protocol::{extras, opcode, RequestParts};
use omcache::Client;

#[path = "support/counting.rs"]
mod counting;

use counting::allocations_during;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// Counts answers without keeping anything.
#[derive(Default)]
struct Count {
    hits: usize,
}

impl ResponseSink for Count {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if batch_index.is_some() && resp.status == Status::Ok {
            self.hits += 1;
        }
        false
    }
}

#[test]
fn steady_state_requests_allocate_nothing() {
    let (_servers, list) = common::cluster(4);
    let mut c = Client::new();
    c.set_servers(&list).unwrap();
    let keys: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("alloc-{i}").into_bytes())
        .collect();
    let storage = extras::storage(0, 0);
    let value = [b'v'; 100];
    let mut sink = Count::default();
    let run = |c: &mut Client, sink: &mut Count| {
        for key in &keys {
            let mut set = [Request::keyed(RequestParts {
                opcode: opcode::SET,
                key,
                extras: &storage,
                value: &value,
                ..Default::default()
            })];
            assert_eq!(
                c.command(&mut Requests(&mut set), sink, Wait::Forever),
                Status::Ok
            );
            let mut get = [Request::keyed(RequestParts {
                opcode: opcode::GETK,
                key,
                ..Default::default()
            })];
            assert_eq!(
                c.command(&mut Requests(&mut get), sink, Wait::Forever),
                Status::Ok
            );
        }
        let mut multi: [Request<'_>; 100] = std::array::from_fn(|i| {
            Request::keyed(RequestParts {
                opcode: opcode::GETKQ,
                key: &keys[i],
                ..Default::default()
            })
        });
        assert_eq!(
            c.command(&mut Requests(&mut multi), sink, Wait::Forever),
            Status::Ok
        );
    };
    // Warm-up: connections, buffers and queues reach their working sizes.
    for _ in 0..3 {
        run(&mut c, &mut sink);
    }
    let hits_before = sink.hits;
    let n = allocations_during(|| {
        for _ in 0..5 {
            run(&mut c, &mut sink);
        }
    });
    // Every set, get and multi-get key answered OK.
    assert_eq!(sink.hits - hits_before, 5 * (100 + 100 + 100));
    assert_eq!(
        n, 0,
        "{n} heap allocations in 1,500 requests after the warm-up"
    );
}
