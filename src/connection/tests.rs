//! Connection unit tests: receive buffers and matching, without sockets.

use super::recv::*;
use super::*;
use crate::protocol::{Protocol, RequestParts};

const MAX: usize = 1 << 20;
const BUDGET: usize = 8 << 20;

fn fill(b: &mut RecvBuffer, bytes: &[u8]) {
    b.tail()[..bytes.len()].copy_from_slice(bytes);
    b.filled(bytes.len());
}

fn addr_mod(b: &RecvBuffer, i: usize) -> usize {
    (b.buf.as_ptr() as usize + i) % LANDING_ALIGN
}

#[test]
fn recv_buffer_grows_and_compacts() {
    let mut b = RecvBuffer::default();
    assert!(b.make_room(24, MAX, BUDGET));
    assert_eq!(b.buf.len(), INITIAL_RECV_BUFFER + LANDING_ALIGN);
    // An empty buffer receives at an aligned address.
    assert_eq!(addr_mod(&b, b.start), 0);
    b.end = b.buf.len();
    b.start = 100;
    let moved = addr_mod(&b, 100);
    assert!(b.make_room(24, MAX, BUDGET));
    // Compacted, keeping the pending bytes' offset modulo LANDING_ALIGN.
    assert!(b.start < LANDING_ALIGN);
    assert_eq!(addr_mod(&b, b.start), moved);
    assert_eq!(b.end - b.start, INITIAL_RECV_BUFFER + LANDING_ALIGN - 100);
    b.start = b.end - 10;
    let moved = addr_mod(&b, b.start);
    assert!(b.make_room(100_000, MAX, BUDGET));
    assert!(b.buf.len() - b.start >= 100_000);
    assert_eq!(addr_mod(&b, b.start), moved);
    assert!(!b.make_room(2 << 20, MAX, BUDGET));
}

/// A frame as large as the receive limit fits, whatever the buffer's alignment.
#[test]
fn recv_buffer_holds_a_frame_of_the_limit() {
    let mut b = RecvBuffer::default();
    assert!(b.make_room(24, MAX, BUDGET));
    fill(&mut b, &[7; 24]);
    assert!(b.make_room(MAX, MAX, BUDGET));
    assert!(b.buf.len() - b.start >= MAX);
    assert_eq!(b.pending(), &[7; 24]);
}

/// Bytes handed out (pinned) never move or change while the buffer makes room, grows,
/// or is cleared by a reset; they are recycled only by `unpin`.
#[test]
fn pinned_bytes_stay_put_through_growth_and_reset() {
    let mut b = RecvBuffer::default();
    assert!(b.make_room(24, MAX, BUDGET));
    fill(&mut b, b"value-one|partial");
    let first = b.start;
    b.consume(9);
    b.pin();
    let pinned_ptr = b.buf.as_ptr();
    // Consumed to the end and pinned: the next receive must not start over.
    b.consume(8);
    assert!(b.make_room(24, MAX, BUDGET));
    assert!(b.buf.as_ptr() == pinned_ptr && b.end == first + 17);
    // A frame that needs more room than is left: a new buffer, the old one retired.
    b.start = first + 9;
    assert!(b.make_room(INITIAL_RECV_BUFFER * 3, MAX, BUDGET));
    assert!(b.buf.as_ptr() != pinned_ptr);
    assert_eq!(b.pending(), b"|partial");
    assert_eq!(b.retired.len(), 1);
    assert_eq!(&b.retired[0][first..first + 9], b"value-one");
    // A reset while pinned (again): retired too, never cleared in place.
    b.pin();
    fill(&mut b, b"more");
    let second = b.buf.as_ptr();
    b.clear();
    assert_eq!(b.retired.len(), 2);
    assert!(b.retired[1].as_ptr() == second);
    assert!(b.is_empty());
    // The next call: retired buffers become spares.
    b.unpin();
    assert!(b.retired.is_empty());
    assert!(b.spares.iter().any(|s| s.len() >= INITIAL_RECV_BUFFER * 3));
}

#[test]
fn pinned_buffer_respects_the_retire_budget() {
    let mut b = RecvBuffer::default();
    assert!(b.make_room(24, MAX, BUDGET));
    b.end = b.buf.len();
    b.start = b.end;
    b.pin();
    // Budget spent: no room, the caller must return its values first.
    assert!(!b.make_room(24, MAX, 0));
    assert!(b.make_room(24, MAX, BUDGET));
}

/// One big frame received into `b` (its header first, then the rest), consumed and pinned
/// like a value handed to the caller; returns where its bytes are.
fn receive_big_frame(b: &mut RecvBuffer, len: usize, byte: u8) -> *const u8 {
    assert!(b.make_room(24, MAX, BUDGET));
    let first = b.tail().len().min(len);
    b.tail()[..first].fill(byte);
    b.filled(first);
    assert!(b.make_room(len, MAX, BUDGET));
    let rest = len - b.pending().len();
    b.tail()[..rest].fill(byte);
    b.filled(rest);
    let at = b.take(len).as_ptr();
    b.pin();
    at
}

/// Big values, several per call, pinned: each call's buffers serve again after `unpin`
/// (no allocation once warm), and no value is overwritten while pinned.
#[test]
fn big_pinned_values_reuse_retired_buffers() {
    const BIG: usize = 300_000;
    let mut b = RecvBuffer::default();
    let mut seen = std::collections::HashSet::new();
    for call in 0..6u8 {
        b.unpin();
        let mut values = Vec::new();
        for i in 0..3u8 {
            let ptr = receive_big_frame(&mut b, BIG, call * 3 + i);
            if i == 0 {
                // Received into an empty buffer: at an aligned address.
                assert_eq!(ptr as usize % LANDING_ALIGN, 0);
            }
            values.push((ptr, BIG, call * 3 + i));
            if call >= 2 {
                assert!(seen.contains(&(ptr as usize)), "call {call}: a new buffer");
            }
            seen.insert(ptr as usize);
        }
        // Every value of this call is intact: each is in its own live buffer.
        let live: Vec<&Vec<u8>> = b.retired.iter().chain(std::iter::once(&b.buf)).collect();
        for (ptr, len, byte) in values {
            let holder = live
                .iter()
                .find(|v| {
                    let base = v.as_ptr() as usize;
                    (ptr as usize) >= base && (ptr as usize) + len <= base + v.len()
                })
                .expect("a value's buffer was freed or reused while pinned");
            let off = ptr as usize - holder.as_ptr() as usize;
            assert!(holder[off..off + len].iter().all(|&x| x == byte));
        }
    }
}

/// A connection with requests in flight and `bytes` received, without a socket: the
/// matching logic alone.
fn scripted(requests: &[(u8, &[u8], u32)], bytes: &[u8]) -> Connection {
    scripted_in(Protocol::Binary, requests, bytes)
}

fn scripted_in(protocol: Protocol, requests: &[(u8, &[u8], u32)], bytes: &[u8]) -> Connection {
    let mut c = Connection::new(
        ServerAddr {
            host: "127.0.0.1".into(),
            port: 1,
            defect: None,
        },
        protocol,
    );
    for &(op, key, opaque) in requests {
        queue_request(&mut c, op, key, opaque);
    }
    c.recv.make_room(bytes.len(), MAX, BUDGET);
    fill(&mut c.recv, bytes);
    c
}

/// Queues a request of `op` for `key` as the engine does.
fn queue_request(c: &mut Connection, op: u8, key: &[u8], opaque: u32) {
    let parts = RequestParts {
        opcode: op,
        key,
        opaque,
        ..Default::default()
    };
    let entry = InFlight {
        opaque,
        opcode: op,
        quiet: protocol::is_quiet(op),
        origin: Origin::User,
        keyed: true,
        key_tag: if returns_key(op) { key_tag(key) } else { 0 },
    };
    c.queue(&parts, entry, 1 << 20).unwrap();
}

fn answer(op: u8, status: u16, opaque: u32, key: &[u8], value: &[u8]) -> Vec<u8> {
    let extras: &[u8] = if returns_key(op) || op == protocol::opcode::GET {
        &[0, 0, 0, 5]
    } else {
        &[]
    };
    let mut v = vec![protocol::RESPONSE_MAGIC, op];
    v.extend_from_slice(&(key.len() as u16).to_be_bytes());
    v.push(extras.len() as u8);
    v.push(0);
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    v.extend_from_slice(&opaque.to_ne_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(extras);
    v.extend_from_slice(key);
    v.extend_from_slice(value);
    v
}

use protocol::opcode::{GETK, GETKQ, NOOP, STAT};

#[test]
fn quiet_requests_before_an_answer_are_reported_unanswered_in_order() {
    let bytes = answer(NOOP, 0, 13, b"", b"");
    let mut c = scripted(
        &[(GETKQ, b"a", 10), (GETKQ, b"b", 11), (GETK, b"c", 12)],
        &bytes,
    );
    c.queue_noop(13, Origin::TrailingNoop);
    for expected in [10, 11, 12] {
        match c.next_event(MAX) {
            Event::Unanswered(f) => assert_eq!(f.opaque, expected),
            other => panic!("{other:?}"),
        }
    }
    match c.next_event(MAX) {
        Event::Answer { entry, last, .. } => {
            assert_eq!(entry.opaque, 13);
            assert!(last);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(c.next_event(MAX), Event::NeedMore));
    assert_eq!(c.inflight_len(), 0);
}

#[test]
fn an_answer_with_another_key_is_corruption_and_keeps_its_request() {
    let bytes = answer(GETK, 0, 7, b"zz-other-key", b"v");
    let mut c = scripted(&[(GETK, b"key0", 7)], &bytes);
    assert!(matches!(
        c.next_event(MAX),
        Event::Corrupt(Corruption::KeyMismatch)
    ));
    assert_eq!(
        c.inflight_len(),
        1,
        "the request is failed by the reset, not answered"
    );
    // The right key, or a miss without a key, is accepted.
    let mut c = scripted(&[(GETK, b"key0", 7)], &answer(GETK, 0, 7, b"key0", b"v"));
    assert!(matches!(c.next_event(MAX), Event::Answer { .. }));
    let mut c = scripted(&[(GETK, b"key0", 7)], &answer(GETK, 1, 7, b"", b""));
    assert!(matches!(c.next_event(MAX), Event::Answer { .. }));
    // A hit without a key cannot be checked: refused.
    let mut c = scripted(&[(GETK, b"key0", 7)], &answer(GETK, 0, 7, b"", b"v"));
    assert!(matches!(c.next_event(MAX), Event::Corrupt(_)));
}

#[test]
fn a_frame_longer_than_its_bytes_never_takes_the_next_frame_as_its_value() {
    // A hit whose header claims 6 bytes more than its value has: the NOOP after it would
    // fill them. The byte after such a frame is not an answer's magic: refused.
    let mut hit = answer(GETKQ, 0, 10, b"a", b"value");
    let claimed = u32::from_be_bytes([hit[8], hit[9], hit[10], hit[11]]) + 6;
    hit[8..12].copy_from_slice(&claimed.to_be_bytes());
    let noop = answer(NOOP, 0, 11, b"", b"");
    let mut c = scripted(&[(GETKQ, b"a", 10)], &[hit, noop.clone()].concat());
    c.queue_noop(11, Origin::TrailingNoop);
    assert_eq!(kinds(&mut c), ["corrupt Frame(BadMagic(0))"]);
    // Honest frames back to back pass.
    let hit = answer(GETKQ, 0, 10, b"a", b"value");
    let mut c = scripted(&[(GETKQ, b"a", 10)], &[hit, noop].concat());
    c.queue_noop(11, Origin::TrailingNoop);
    assert_eq!(kinds(&mut c), ["answer 10 0 \"value\"", "answer 11 0 \"\""]);
}

#[test]
fn an_answer_of_another_command_is_not_its_requests_answer() {
    // A STAT row (or a SET frame) with the right key and id answering a get: refused, the
    // request kept for the reset to fail (it was taken for "more rows follow", with success).
    for op in [STAT, SET] {
        let mut c = scripted(&[(GETK, b"a", 7)], &answer(op, 0, 7, b"a", b"EVIL"));
        assert!(
            matches!(c.next_event(MAX), Event::Corrupt(Corruption::WrongAnswer)),
            "opcode {op:#x}"
        );
        assert_eq!(c.inflight_len(), 1);
    }
    // A successful increment carries its 8-byte counter; anything else is refused.
    for len in [0, 4, 9] {
        let mut c = scripted(
            &[(INCREMENT, b"n", 8)],
            &answer(INCREMENT, 0, 8, b"", &vec![0; len]),
        );
        assert!(
            matches!(c.next_event(MAX), Event::Corrupt(Corruption::WrongAnswer)),
            "value of {len} bytes"
        );
    }
    let mut c = scripted(
        &[(INCREMENT, b"n", 8)],
        &answer(INCREMENT, 0, 8, b"", &7u64.to_be_bytes()),
    );
    assert_eq!(
        kinds(&mut c),
        ["answer 8 0 \"\\0\\0\\0\\0\\0\\0\\0\\u{7}\""]
    );
    // A successful get carries its item's 4-byte flags; one without is refused (its value
    // would have been decoded with flags 0).
    let mut frame = answer(GETK, 0, 9, b"a", b"xyz");
    frame.drain(24..28);
    frame[4] = 0;
    frame[8..12].copy_from_slice(&4u32.to_be_bytes());
    let mut c = scripted(&[(GETK, b"a", 9)], &frame);
    assert!(matches!(
        c.next_event(MAX),
        Event::Corrupt(Corruption::WrongAnswer)
    ));
    // A failed increment has a message, not a counter.
    let mut c = scripted(
        &[(INCREMENT, b"n", 8)],
        &answer(INCREMENT, 6, 8, b"", b"non-numeric value"),
    );
    assert!(matches!(c.next_event(MAX), Event::Answer { .. }));
}

#[test]
fn late_oversized_split_and_stat_answers() {
    // An opaque not in flight: late, the request still waits.
    let mut c = scripted(&[(GETK, b"k", 20)], &answer(GETK, 0, 3, b"k", b"old"));
    assert!(matches!(c.next_event(MAX), Event::Late(_)));
    assert_eq!(c.inflight_len(), 1);
    // Larger than the receive limit: its request gets `Oversized`, bytes are skipped.
    let big = answer(GETK, 0, 20, b"k", &[b'x'; 300]);
    let mut c = scripted(&[(GETK, b"k", 20)], &big[..100]);
    match c.next_event(200) {
        Event::Oversized { entry, len, .. } => {
            assert_eq!(entry.map(|e| e.opaque), Some(20));
            assert_eq!(len, 24 + 4 + 1 + 300);
        }
        other => panic!("{other:?}"),
    }
    assert!(c.is_discarding());
    // A frame split anywhere: NeedMore until complete.
    let whole = answer(GETK, 0, 30, b"key", b"value");
    for cut in 0..whole.len() {
        let mut c = scripted(&[(GETK, b"key", 30)], &whole[..cut]);
        assert!(matches!(c.next_event(MAX), Event::NeedMore), "cut {cut}");
    }
    // STAT rows keep the request until the empty row.
    let mut bytes = answer(STAT, 0, 40, b"pid", b"1");
    bytes.extend(answer(STAT, 0, 40, b"", b""));
    let mut c = scripted(&[(STAT, b"", 40)], &bytes);
    assert!(matches!(
        c.next_event(MAX),
        Event::Answer { last: false, .. }
    ));
    assert!(matches!(
        c.next_event(MAX),
        Event::Answer { last: true, .. }
    ));
    assert_eq!(c.inflight_len(), 0);
}

#[test]
fn key_tags_differ_and_are_never_zero() {
    assert_ne!(key_tag(b"key0"), key_tag(b"zz-other-key"));
    assert_ne!(key_tag(b"fk-0"), key_tag(b"zk-0"));
    assert_ne!(key_tag(b""), 0);
    assert_eq!(key_tag(b"abc"), key_tag(b"abc"));
    // Zero bytes in front or behind, and every length from 0 to 250 around the pieces of
    // seven (and the eight-byte reads) the fingerprint is made of.
    let mut seen = std::collections::HashSet::new();
    assert!(seen.insert(key_tag(b"")));
    for n in 1..=250 {
        for key in [vec![0u8; n], vec![b'k'; n]] {
            let tag = key_tag(&key);
            assert_ne!(tag, 0);
            assert!(seen.insert(tag), "{n} bytes");
        }
    }
    assert_ne!(key_tag(b"a"), key_tag(b"a\0"));
    assert_ne!(key_tag(b"\0a"), key_tag(b"a"));
    assert_ne!(key_tag(b"abcdefgh"), key_tag(b"abcdefg\0h"));
}

/// Text: the requests of `ops`, their get line closed as the engine does before it waits.
fn text(requests: &[(u8, &[u8], u32)], bytes: &[u8]) -> Connection {
    let mut c = scripted_in(Protocol::Text, requests, b"");
    if c.ends_quiet() {
        c.queue_noop(999, Origin::TrailingNoop);
    }
    c.recv.make_room(bytes.len().max(1), MAX, BUDGET);
    fill(&mut c.recv, bytes);
    c
}

fn kinds(c: &mut Connection) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let e = match c.next_event(MAX) {
            Event::NeedMore => break,
            Event::Unanswered(f) => format!("unanswered {}", f.opaque),
            Event::Missed(f) => format!("missed {}", f.opaque),
            Event::Answer {
                entry,
                answer,
                last,
            } => format!(
                "answer {} {} {:?}{}",
                entry.opaque,
                answer.status,
                String::from_utf8_lossy(answer.value),
                if last { "" } else { " (row)" }
            ),
            Event::Late(_) => "late".into(),
            Event::Oversized { entry, .. } => format!("oversized {:?}", entry.map(|e| e.opaque)),
            Event::Corrupt(c) => {
                out.push(format!("corrupt {c:?}"));
                break;
            }
        };
        out.push(e);
    }
    out
}

use protocol::opcode::{DELETE, GET, GETKQ as QGET, INCREMENT, SET, SETQ};

#[test]
fn text_get_line_hits_misses_and_repeats_in_order() {
    let bytes = b"VALUE b 0 2 5\r\nvb\r\nVALUE b 0 2 5\r\nvb\r\nEND\r\n";
    let mut c = text(
        &[
            (QGET, b"a", 1),
            (QGET, b"b", 2),
            (QGET, b"b", 3),
            (QGET, b"c", 4),
        ],
        bytes,
    );
    assert_eq!(
        kinds(&mut c),
        // The keys without a VALUE are misses once the line's END has come.
        [
            "answer 2 0 \"vb\"",
            "answer 3 0 \"vb\"",
            "missed 1",
            "missed 4",
            "answer 0 0 \"\""
        ]
    );
    assert_eq!(c.inflight_len(), 0);
}

#[test]
fn text_answers_that_do_not_fit_are_corruption() {
    // A VALUE for a key not asked.
    let mut c = text(&[(QGET, b"a", 1)], b"VALUE zz 0 1\r\nx\r\nEND\r\n");
    assert_eq!(kinds(&mut c), ["corrupt KeyMismatch"]);
    // STORED where a get line's answer is due.
    let mut c = text(&[(QGET, b"a", 1)], b"STORED\r\n");
    assert_eq!(kinds(&mut c), ["corrupt Unexpected"]);
    // CLIENT_ERROR to a storage command: its data block is answered ERROR next: out of step.
    let mut c = text(
        &[(SET, b"a", 1)],
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    assert_eq!(kinds(&mut c), ["corrupt Unexpected"]);
    // Garbage.
    let mut c = text(&[(SET, b"a", 1)], b"HELLO\r\n");
    assert!(kinds(&mut c)[0].starts_with("corrupt Text"));
}

#[test]
fn text_noreply_requests_complete_when_a_later_answer_arrives() {
    let mut c = text(&[(SETQ, b"a", 1), (SETQ, b"b", 2)], b"VERSION 1.6.18\r\n");
    assert_eq!(
        kinds(&mut c),
        ["unanswered 1", "unanswered 2", "answer 999 0 \"1.6.18\""]
    );
    let mut c = text(
        &[(DELETE, b"a", 1), (INCREMENT, b"n", 2)],
        b"NOT_FOUND\r\n8\r\n",
    );
    assert_eq!(kinds(&mut c), ["answer 1 1 \"\"", "answer 2 0 \"\""]);
}

#[test]
fn text_oversized_value_is_skipped_and_the_stream_goes_on() {
    let mut bytes = b"VALUE a 0 300\r\n".to_vec();
    bytes.extend_from_slice(&[b'x'; 300]);
    bytes.extend_from_slice(b"\r\nVALUE b 0 1\r\ny\r\nEND\r\n");
    let mut c = scripted_in(Protocol::Text, &[(QGET, b"a", 1), (QGET, b"b", 2)], b"");
    c.queue_noop(999, Origin::TrailingNoop);
    c.recv.make_room(100, MAX, BUDGET);
    fill(&mut c.recv, &bytes[..100]);
    match c.next_event(200) {
        Event::Oversized { entry, len, .. } => {
            assert_eq!(entry.map(|e| e.opaque), Some(1));
            assert_eq!(len, 15 + 300 + 2);
        }
        other => panic!("{other:?}"),
    }
    c.recv.make_room(bytes.len(), MAX, BUDGET);
    fill(&mut c.recv, &bytes[100..]);
    assert_eq!(kinds(&mut c), ["answer 2 0 \"y\"", "answer 0 0 \"\""]);
}

/// Every field of a get-line's answers (key, value, flags, CAS), the same whether the
/// answers arrive whole (each VALUE then read from its header alone) or a byte at a time (the
/// general parser until each one is complete); the keys of the line without a VALUE are
/// misses once its END has come.
#[test]
fn text_value_answers_are_the_same_whole_or_byte_by_byte() {
    let bytes = b"VALUE key-a 7 3 99\r\nabc\r\nVALUE kb 4294967295 0 1\r\n\r\n\
VALUE kd 0 2 18446744073709551615\r\n\r\n\r\nEND\r\n";
    let requests: [(u8, &[u8], u32); 4] = [
        (QGET, b"key-a", 1),
        (QGET, b"kb", 2),
        (QGET, b"kc", 3),
        (QGET, b"kd", 4),
    ];
    let expected = [
        "answer 1 key-a \"abc\" flags 7 cas 99",
        "answer 2 kb \"\" flags 4294967295 cas 1",
        "answer 4 kd \"\\r\\n\" flags 0 cas 18446744073709551615",
        "missed 3",
        "answer 0  \"\" flags 0 cas 0",
    ];
    let describe = |e: Event<'_>| match e {
        Event::Answer { entry, answer, .. } => Some(format!(
            "answer {} {} {:?} flags {} cas {}",
            entry.opaque,
            String::from_utf8_lossy(answer.key),
            String::from_utf8_lossy(answer.value),
            answer.flags,
            answer.cas
        )),
        Event::Missed(f) => Some(format!("missed {}", f.opaque)),
        Event::NeedMore => None,
        other => Some(format!("{other:?}")),
    };
    for piece in [bytes.len(), 1, 7] {
        let mut c = text(&requests, b"");
        let mut seen = Vec::new();
        for chunk in bytes.chunks(piece) {
            c.recv.make_room(chunk.len(), MAX, BUDGET);
            fill(&mut c.recv, chunk);
            while let Some(d) = describe(c.next_event(MAX)) {
                seen.push(d);
            }
        }
        assert_eq!(seen, expected, "pieces of {piece}");
        assert_eq!(c.inflight_len(), 0);
    }
}

/// Without CAS (libmemcached's default): `get` lines instead of `gets`, each key's VALUE
/// without its unique; answers are matched as strictly, a VALUE for another key still
/// corrupts.
#[test]
fn text_gets_without_cas_send_get_and_take_values_without_uniques() {
    let queue = |c: &mut Connection| {
        queue_request(c, QGET, b"a", 1);
        queue_request(c, QGET, b"b", 2);
        c.queue_noop(999, Origin::TrailingNoop);
    };
    let mut c = scripted_in(Protocol::Text, &[], b"");
    c.set_text_cas(false);
    queue(&mut c);
    assert_eq!(c.out, b"get a b\r\n");
    let answer = b"VALUE a 3 1\r\nx\r\nVALUE b 0 2 77\r\nyz\r\nEND\r\n";
    c.recv.make_room(answer.len(), MAX, BUDGET);
    fill(&mut c.recv, answer);
    assert_eq!(
        kinds(&mut c),
        ["answer 1 0 \"x\"", "answer 2 0 \"yz\"", "answer 0 0 \"\""]
    );
    let mut c = scripted_in(Protocol::Text, &[], b"");
    c.set_text_cas(false);
    queue(&mut c);
    let foreign = b"VALUE c 0 1\r\ny\r\nEND\r\n";
    c.recv.make_room(foreign.len(), MAX, BUDGET);
    fill(&mut c.recv, foreign);
    assert!(kinds(&mut c).last().unwrap().starts_with("corrupt"));
    // Back on: `gets`.
    let mut c = scripted_in(Protocol::Text, &[], b"");
    c.set_text_cas(false);
    c.set_text_cas(true);
    queue(&mut c);
    assert_eq!(c.out, b"gets a b\r\n");
}

#[test]
fn text_conditional_stores_only_as_sets_and_replaces() {
    use protocol::opcode::*;
    let store = |op: u8, cas: u64| {
        let mut c = scripted_in(Protocol::Text, &[], b"");
        let extras = [0u8; 8];
        let parts = RequestParts {
            opcode: op,
            key: b"k",
            extras: &extras,
            value: b"tail",
            cas,
            opaque: 1,
        };
        let entry = InFlight {
            opaque: 1,
            opcode: op,
            quiet: false,
            origin: Origin::User,
            keyed: true,
            key_tag: 0,
        };
        let queued = c.queue(&parts, entry, 1 << 20);
        (queued.is_ok(), String::from_utf8_lossy(&c.out).into_owned())
    };
    for op in [SET, REPLACE] {
        assert_eq!(store(op, 7), (true, "cas k 0 0 4 7\r\ntail\r\n".into()));
    }
    // An append whose CAS went as `cas` would replace the value with the fragment.
    for op in [ADD, APPEND, PREPEND] {
        assert_eq!(store(op, 7), (false, String::new()), "opcode {op:#x}");
        assert!(store(op, 0).0);
    }
    assert_eq!(store(APPEND, 0).1, "append k 0 0 4\r\ntail\r\n");
}

/// Meta: the requests of `ops` with the engine's closing mn.
fn meta(requests: &[(u8, &[u8], u32)], bytes: &[u8]) -> Connection {
    let mut c = scripted_in(Protocol::Meta, requests, b"");
    if c.ends_quiet() {
        c.queue_noop(999, Origin::TrailingNoop);
    }
    c.recv.make_room(bytes.len().max(1), MAX, BUDGET);
    fill(&mut c.recv, bytes);
    c
}

#[test]
fn meta_quiet_gets_closed_by_mn_and_answers_by_opaque() {
    let bytes = b"VA 2 f5 c9 kb O11\r\nvb\r\nMN\r\n";
    let mut c = meta(
        &[(QGET, b"a", 10), (QGET, b"b", 11), (QGET, b"c", 12)],
        bytes,
    );
    assert_eq!(
        kinds(&mut c),
        [
            "unanswered 10",
            "answer 11 0 \"vb\"",
            "unanswered 12",
            "answer 999 0 \"\""
        ]
    );
    // A stale opaque is a late answer; an answer without opaque or an error line in a quiet
    // pipeline cannot be attributed: reset.
    let mut c = meta(&[(QGET, b"a", 10)], b"VA 1 ka O7\r\nx\r\nMN\r\n");
    assert_eq!(
        kinds(&mut c),
        ["late", "unanswered 10", "answer 999 0 \"\""]
    );
    let mut c = meta(&[(QGET, b"a", 10)], b"VA 1\r\nx\r\n");
    assert_eq!(kinds(&mut c), ["corrupt Unexpected"]);
    let mut c = meta(&[(QGET, b"a", 10)], b"SERVER_ERROR out of memory\r\n");
    assert_eq!(kinds(&mut c), ["corrupt Unexpected"]);
    // An error line for a request that is not quiet is its answer.
    let mut c = meta(
        &[(SET, b"a", 10)],
        b"SERVER_ERROR object too large for cache\r\n",
    );
    assert_eq!(kinds(&mut c), ["answer 10 3 \"\""]);
    // A CLIENT_ERROR to ms: its data block comes back as ERROR: out of step.
    let mut c = meta(
        &[(SET, b"a", 10)],
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    assert_eq!(kinds(&mut c), ["corrupt Unexpected"]);
    // A text answer on a meta connection is matched in order.
    let mut c = meta(
        &[(protocol::opcode::VERSION, b"", 10)],
        b"VERSION 1.6.18\r\n",
    );
    assert_eq!(kinds(&mut c), ["answer 10 0 \"1.6.18\""]);
}

#[test]
fn meta_answers_name_their_key_and_kind() {
    // Keys sent as text are asked back (k) and checked.
    let c = meta(&[(QGET, b"a", 10), (SET, b"s", 11)], b"");
    let sent = String::from_utf8_lossy(&c.out).into_owned();
    assert_eq!(sent, "mg a v k f c q O10\r\nms s 0 c k O11\r\n\r\n");
    // Another key's answer with this request's id: refused, the request kept.
    let mut c = meta(&[(GET, b"a", 10)], b"VA 3 kb O10\r\nBBB\r\n");
    assert_eq!(kinds(&mut c), ["corrupt KeyMismatch"]);
    assert_eq!(c.inflight_len(), 1);
    // No key at all: refused too.
    let mut c = meta(&[(GET, b"a", 10)], b"VA 3 O10\r\nAAA\r\n");
    assert_eq!(kinds(&mut c), ["corrupt KeyMismatch"]);
    // The key as memcached stored it: base64 with `b` (an item stored with `ms ... b`).
    let mut c = meta(&[(GET, b"abc", 10)], b"VA 3 kYWJj b O10\r\nAAA\r\n");
    assert_eq!(kinds(&mut c), ["answer 10 0 \"AAA\""]);
    let mut c = meta(&[(GET, b"abc", 10)], b"EN kabc O10\r\n");
    assert_eq!(kinds(&mut c), ["answer 10 1 \"\""]);
    // Two ids (or keys) on one line fit two requests: refused.
    let mut c = meta(
        &[(GET, b"a", 10), (GET, b"b", 11)],
        b"VA 3 kb O11 O10\r\nBBB\r\n",
    );
    assert_eq!(kinds(&mut c), ["corrupt Meta(BadFlag(79))"]);
    // A text answer where a meta one is due.
    let mut c = meta(&[(GET, b"a", 10)], b"VALUE a 0 3\r\nZZZ\r\nEND\r\n");
    assert_eq!(kinds(&mut c), ["corrupt Unexpected"]);
    let mut c = meta(&[(SET, b"a", 10)], b"STORED\r\n");
    assert_eq!(kinds(&mut c), ["corrupt Unexpected"]);
    // A counter's success is VA with a number.
    for bad in [
        &b"HD kn O10\r\n"[..],
        b"VA 3 kn O10\r\nabc\r\n",
        b"VA 2 kn O10\r\n-1\r\n",
        b"VA 0 kn O10\r\n\r\n",
        b"VA 21 kn O10\r\n184467440737095516160\r\n",
    ] {
        let mut c = meta(&[(INCREMENT, b"n", 10)], bad);
        assert_eq!(
            kinds(&mut c),
            ["corrupt WrongAnswer"],
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let mut c = meta(&[(INCREMENT, b"n", 10)], b"VA 2 kn O10\r\n42\r\n");
    assert_eq!(kinds(&mut c), ["answer 10 0 \"\""]);
    // A key that needs base64 is not asked back (an item created by vivify would return it
    // raw and break the line): matched by id alone.
    let mut c = meta(&[(GET, b"a b", 10)], b"VA 1 b O10\r\nx\r\n");
    assert!(!String::from_utf8_lossy(&c.out).contains(" k "));
    assert_eq!(kinds(&mut c), ["answer 10 0 \"x\""]);
}

/// Memory kept for big frames is released by the second idle trim after the last big frame,
/// not by the first (a steady stream keeps its buffers), and a fresh small frame works after.
#[test]
fn idle_trim_releases_big_frame_memory() {
    const BIG: usize = 300_000;
    let mut b = RecvBuffer::default();
    for call in 0..3u8 {
        b.unpin();
        receive_big_frame(&mut b, BIG, call);
        receive_big_frame(&mut b, BIG, call);
    }
    b.unpin();
    assert!(b.holds_extra() && b.memory() > 2 * BIG);
    // A trim right after big frames keeps everything.
    let before = b.memory();
    assert!(b.trim_idle());
    assert_eq!(b.memory(), before);
    // No big frame since: released.
    assert!(!b.trim_idle());
    assert!(!b.holds_extra());
    assert!(b.memory() <= INITIAL_RECV_BUFFER + LANDING_ALIGN);
    // A pinned buffer is never released, only spares.
    receive_big_frame(&mut b, BIG, 9);
    b.start = b.end;
    assert!(b.trim_idle());
    assert!(b.trim_idle(), "a pinned buffer was released");
    assert!(b.buf.len() >= BIG);
    b.unpin();
    assert!(!b.trim_idle());
    // Small frames after the trim.
    assert!(b.make_room(24, MAX, BUDGET));
    b.tail()[..24].fill(7);
    b.filled(24);
    assert_eq!(b.take(24), &[7u8; 24][..]);
}

#[test]
fn copies_elsewhere_keep_each_key_with_its_server_and_count_what_they_cannot_keep() {
    let mut copies = super::CopiesElsewhere::default();
    assert!(copies.is_empty());
    copies.record(1, b"a");
    copies.record(1, b"a"); // the same write again: kept once
    copies.record(2, b"a"); // another server
    copies.record(1, b"bb");
    copies.record(1, b"");
    let kept: Vec<(usize, Vec<u8>)> = copies.iter().map(|(s, k)| (s, k.to_vec())).collect();
    assert_eq!(
        kept,
        [
            (1, b"a".to_vec()),
            (2, b"a".to_vec()),
            (1, b"bb".to_vec()),
            (1, Vec::new())
        ]
    );
    assert_eq!((copies.kept(), copies.dropped()), (4, 0));
    // Past the key bytes' limit, the rest are counted.
    let mut full = super::CopiesElsewhere::default();
    for i in 0..super::MAX_COPY_KEY_BYTES / 250 + 10 {
        let mut key = [b'k'; 250];
        key[..8].copy_from_slice(&(i as u64).to_le_bytes());
        full.record(1, &key);
    }
    assert_eq!(full.kept(), super::MAX_COPY_KEY_BYTES / 250);
    assert_eq!(full.dropped(), 10);
    assert!(full.iter().all(|(s, k)| s == 1 && k.len() == 250));
}

/// The dead-timeout timer runs only while an answer is due. Quiet requests sent long ago (a
/// noreply set) are never answered: a request queued after them starts its own timer, not
/// one that ran out while nothing was awaited (found by an outside tester: the get after a
/// noreply set and a pause timed out at once).
#[test]
fn the_dead_timer_starts_with_the_first_request_whose_answer_is_due() {
    use std::time::{Duration, Instant};
    let dead_timeout = Duration::from_secs(1);
    let mut c = scripted(&[(protocol::opcode::SETQ, b"a", 10)], b"");
    // Connected, the quiet set written ten seconds ago (its timer started then).
    c.state = State::Connected;
    c.out_pos = c.out.len();
    let now = Instant::now();
    c.progress_at = Some(now.checked_sub(Duration::from_secs(10)).unwrap_or(now));
    assert_eq!(c.dead_deadline(dead_timeout), None);
    queue_request(&mut c, GETK, b"a", 11);
    c.out_pos = c.out.len();
    c.start_dead_timer(now);
    assert_eq!(c.dead_deadline(dead_timeout), Some(now + dead_timeout));
    // A request queued behind one still due keeps the older one's timer.
    queue_request(&mut c, GETK, b"b", 12);
    c.start_dead_timer(now + dead_timeout);
    assert_eq!(c.dead_deadline(dead_timeout), Some(now + dead_timeout));
}

/// A connected connection whose request (`stuck`) was sent at the returned instant, and a
/// call that ran out of time `waited` later.
fn timed_out_after(waited: std::time::Duration) -> (Connection, std::time::Instant) {
    let mut c = scripted(&[(GETK, b"stuck", 10)], b"");
    c.state = State::Connected;
    c.out_pos = c.out.len();
    let t0 = std::time::Instant::now();
    c.start_dead_timer(t0);
    c.note_timed_out(t0 + waited);
    (c, t0)
}

/// Under `reconnect_after_timeout` the dead timer runs only while calls wait: a call that ran
/// out of time stops it, what it ran is spent from the next start (on this connection or the
/// one that replaces it), and the time between calls does not count.
#[test]
fn the_silence_waited_by_timed_out_calls_carries_over_to_the_next_connection() {
    use std::time::Duration;
    let dead_timeout = Duration::from_millis(600);
    // The call ran out of time after 300 ms: the timer stops.
    let (mut c, t0) = timed_out_after(Duration::from_millis(300));
    assert_eq!(c.dead_deadline(dead_timeout), None);
    assert!(c.stuck_behind_timeout());
    // Ten seconds later the next call: a new connection, its request sent at `later`.
    let later = t0 + Duration::from_secs(10);
    c.reconnect_after_timeout();
    assert_eq!(c.inflight_len(), 0);
    c.state = State::Connected;
    queue_request(&mut c, GETK, b"alpha", 11);
    c.out_pos = c.out.len();
    c.start_dead_timer(later);
    assert_eq!(
        c.dead_deadline(dead_timeout),
        Some(later + Duration::from_millis(300))
    );
}

/// Calls that timed out may leave only a few milliseconds of the dead timeout: a request sent
/// afterwards (on a new connection) still gets a quarter of it, so that a server thawing on a
/// loaded machine is not put out of service for answering it in 5 ms (the flaky lmc_fetch
/// test `a_frozen_server_whose_requests_timed_out_is_used_again_once_it_thaws`). Requests a
/// timed-out call left in flight get no such floor: the server was silent for all of it.
#[test]
fn a_request_after_timed_out_calls_gets_a_quarter_of_the_dead_timeout_at_least() {
    use std::time::Duration;
    let dead_timeout = Duration::from_millis(400);
    // Two calls' waits: 396 ms of the 400 spent.
    let (mut c, t0) = timed_out_after(Duration::from_millis(396));
    // The timed-out call's request is still in flight: what is left, no floor.
    let t1 = t0 + Duration::from_secs(1);
    c.start_dead_timer(t1);
    assert_eq!(
        c.dead_deadline(dead_timeout),
        Some(t1 + Duration::from_millis(4))
    );
    // The next call replaces the connection: its request gets 100 ms.
    c.reconnect_after_timeout();
    c.state = State::Connected;
    queue_request(&mut c, GETK, b"alpha", 11);
    c.out_pos = c.out.len();
    let t2 = t1 + Duration::from_secs(1);
    c.start_dead_timer(t2);
    assert_eq!(
        c.dead_deadline(dead_timeout),
        Some(t2 + Duration::from_millis(100))
    );
}
