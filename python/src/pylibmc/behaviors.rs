//! pylibmc's behavior names and the libmemcached behaviors behind them. `hash` and
//! `distribution` arrive here as numbers (omcache/pylibmc/client.py translates the names);
//! every one goes through the configuration model's `behavior_set`, so each has the real
//! library's side effects (`ketama_weighted` switching to MD5, `ketama` to consistent, ...).

use omcache::ffi::libmemcached::config::behavior as b;

/// pylibmc 1.6's `all_behaviors`, in its order, with the libmemcached behavior of each
/// (None: pylibmc's own, `pickle_protocol`).
pub const ALL: [(&str, Option<u32>); 30] = [
    ("no_block", Some(b::NO_BLOCK)),
    ("tcp_nodelay", Some(b::TCP_NODELAY)),
    ("tcp_keepalive", Some(b::TCP_KEEPALIVE)),
    ("hash", Some(b::HASH)),
    ("ketama_hash", Some(b::KETAMA_HASH)),
    ("ketama", Some(b::KETAMA)),
    ("ketama_weighted", Some(b::KETAMA_WEIGHTED)),
    ("distribution", Some(b::DISTRIBUTION)),
    ("cas", Some(b::SUPPORT_CAS)),
    ("buffer_requests", Some(b::BUFFER_REQUESTS)),
    ("verify_keys", Some(b::VERIFY_KEY)),
    ("connect_timeout", Some(b::CONNECT_TIMEOUT)),
    ("send_timeout", Some(b::SND_TIMEOUT)),
    ("receive_timeout", Some(b::RCV_TIMEOUT)),
    ("num_replicas", Some(b::NUMBER_OF_REPLICAS)),
    ("auto_eject", Some(b::AUTO_EJECT_HOSTS)),
    ("retry_timeout", Some(b::RETRY_TIMEOUT)),
    ("remove_failed", Some(b::REMOVE_FAILED_SERVERS)),
    ("failure_limit", Some(b::SERVER_FAILURE_LIMIT)),
    ("_io_msg_watermark", Some(b::IO_MSG_WATERMARK)),
    ("_io_bytes_watermark", Some(b::IO_BYTES_WATERMARK)),
    ("_io_key_prefetch", Some(b::IO_KEY_PREFETCH)),
    ("_hash_with_prefix_key", Some(b::HASH_WITH_PREFIX_KEY)),
    ("_noreply", Some(b::NOREPLY)),
    ("_sort_hosts", Some(b::SORT_HOSTS)),
    ("_poll_timeout", Some(b::POLL_TIMEOUT)),
    ("_socket_send_size", Some(b::SOCKET_SEND_SIZE)),
    ("_socket_recv_size", Some(b::SOCKET_RECV_SIZE)),
    ("dead_timeout", Some(b::DEAD_TIMEOUT)),
    ("pickle_protocol", None),
];

/// `all_callbacks`.
pub const CALLBACKS: [&str; 1] = ["namespace"];

pub fn lookup(name: &str) -> Option<Option<u32>> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, code)| *code)
}
