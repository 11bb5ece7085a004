mod common;

use omcache::client::{Failure, Status};
use omcache::Client;

#[test]
fn set_get_delete_roundtrip() {
    let (_servers, list) = common::cluster(2);
    let mut c = Client::new();
    c.set_servers(&list).unwrap();
    c.set(b"hello", b"world", 0, 42).unwrap();
    let item = c.get(b"hello").unwrap().unwrap();
    assert_eq!(item.value, b"world");
    assert_eq!(item.flags, 42);
    assert!(c.delete(b"hello").unwrap());
    assert_eq!(c.get(b"hello").unwrap(), None);
    assert!(!c.delete(b"hello").unwrap());
}

#[test]
fn get_multi_over_four_servers() {
    let (_servers, list) = common::cluster(4);
    let mut c = Client::new();
    c.set_servers(&list).unwrap();
    let keys: Vec<Vec<u8>> = (0..500).map(|i| format!("key-{i}").into_bytes()).collect();
    for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
        c.set(k, format!("value-{i}").as_bytes(), 0, i as u32)
            .unwrap();
    }
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    let mut got = c.get_multi(&refs).unwrap();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), 500 - 167);
    for (k, item) in got {
        let i: usize = std::str::from_utf8(&k).unwrap()[4..].parse().unwrap();
        assert_ne!(i % 3, 0);
        assert_eq!(item.value, format!("value-{i}").as_bytes());
        assert_eq!(item.flags, i as u32);
    }
    // every server got some keys
    for s in 0..4 {
        let stats = c.stats(s, None).unwrap();
        let items: u64 = stats
            .iter()
            .find(|(k, _)| k == "curr_items")
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert!(items > 0, "server {s} has no items");
    }
}

#[test]
fn counters_and_errors() {
    let (_servers, list) = common::cluster(1);
    let mut c = Client::new();
    c.set_servers(&list).unwrap();
    assert_eq!(c.increment(b"n", 5, 10, 0).unwrap(), 10);
    assert_eq!(c.increment(b"n", 5, 10, 0).unwrap(), 15);
    assert_eq!(c.decrement(b"n", 100, 0, 0).unwrap(), 0);
    c.set(b"s", b"text", 0, 0).unwrap();
    assert_eq!(c.increment(b"s", 1, 0, 0), Err(Status::DeltaBadValue));
    assert_eq!(c.add(b"s", b"x", 0, 0), Err(Status::KeyExists));
    assert_eq!(c.replace(b"missing", b"x", 0, 0), Err(Status::NotFound));
    let big = vec![0u8; 2 << 20];
    c.settings_mut().send_buffer_max = 8 << 20;
    assert_eq!(c.set(b"big", &big, 0, 0), Err(Status::TooLargeValue));
    c.noop(0).unwrap();
    assert_eq!(c.noop(5), Err(Status::Failed(Failure::NoServers)));
    c.flush_all(0).unwrap();
    assert_eq!(c.get(b"s").unwrap(), None);
}

#[test]
fn ipv6_hostname_and_unix_socket_servers() {
    let v4 = common::Memcached::start(&[]);
    let v6 = common::Memcached::start_on("::1", &[]);
    let unix = common::UnixMemcached::start();
    let list = format!(
        "localhost:{}, [::1]:{} ,{}",
        v4.port,
        v6.port,
        unix.path.display()
    );
    let mut c = Client::new();
    c.set_servers(&list).unwrap();
    assert_eq!(c.server_count(), 3);
    let mut used = [false; 3];
    for i in 0..200 {
        let key = format!("k{i}");
        c.set(key.as_bytes(), key.as_bytes(), 0, 0).unwrap();
        used[c.server_index_for_key(key.as_bytes()).unwrap()] = true;
    }
    assert_eq!(used, [true; 3]);
    for i in 0..200 {
        let key = format!("k{i}");
        assert_eq!(
            c.get(key.as_bytes()).unwrap().unwrap().value,
            key.as_bytes()
        );
    }
    for s in 0..3 {
        c.noop(s).unwrap();
    }
}
