//! libmemcached 1.1.4's C face: the pure parts (server lists, configuration strings).
#![forbid(unsafe_code)]

// `memcached()` / `libmemcached_check_configuration()`: the configuration-string language.
pub mod config;
// `memcached_servers_parse()` and `memcached_server_add*()` argument rules.
pub mod server_list;
