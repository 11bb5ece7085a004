//! The safe Rust API in a few lines: `cargo run --example quickstart -- 127.0.0.1:11211`
//! (any server list: `host[:port]`, `[v6]:port`, `/unix/socket`, comma-separated).

use std::time::Duration;

use omcache::client::{Status, Wait};
use omcache::Client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let servers = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:11211".into());
    let mut mc = Client::new();
    mc.set_servers(&servers)?;
    // Nothing is connected yet: sockets open at the first request.
    mc.settings_mut().connect_timeout = Duration::from_millis(500);
    mc.settings_mut().dead_timeout = Duration::from_millis(1000);

    mc.set(b"greeting", b"hello", 0, 0)?;
    match mc.get(b"greeting")? {
        Some(item) => println!("greeting = {}", String::from_utf8_lossy(&item.value)),
        None => println!("greeting is not there"),
    }

    let cas = mc.set(b"counter", b"10", 0, 0)?;
    println!("counter stored with cas {cas}");
    println!("counter + 5 = {}", mc.increment(b"counter", 5, 0, 0)?);

    // Many keys in one round trip per server; misses are absent from the result.
    let found = mc.get_multi(&[b"greeting", b"counter", b"missing"])?;
    for (key, item) in &found {
        println!("{} -> {:?}", String::from_utf8_lossy(key), item.value);
    }

    // Errors say what happened: the server's answer, or why there was none.
    match mc.add(b"greeting", b"again", 0, 0) {
        Err(Status::KeyExists) => println!("add refused: the key exists"),
        other => println!("add: {other:?}"),
    }
    println!(
        "key 'greeting' lives on server {:?}",
        mc.server_index_for_key(b"greeting")
    );
    let _ = mc.flush_buffers(Wait::Forever);
    Ok(())
}
