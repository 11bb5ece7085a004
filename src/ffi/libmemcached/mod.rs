//! libmemcached 1.1.4's C face (`libmemcached.so.11`, `omcache_libmemcached.h`): the
//! `memcached_*` functions over the engine. The pure parts (server lists, configuration
//! strings) forbid unsafe code; the rest keeps it to converting C arguments.
#![allow(
    non_camel_case_types,
    clippy::too_many_arguments,
    clippy::not_unsafe_ptr_arg_deref
)]

mod api;
mod bykey;
mod callbacks;
mod construct;
mod counters;
mod dump;
pub(crate) mod encoding;
mod fetch;
mod hashkit;
mod instance;
mod keys;
mod memc;
mod misc;
mod php;
mod rc;
mod replicas;
mod sasl;
mod stats;
pub mod types;
mod udp;

pub use api::*;
pub use bykey::*;
pub use callbacks::*;
pub use construct::*;
pub use counters::*;
pub use dump::*;
pub use fetch::*;
pub use hashkit::*;
pub use instance::*;
pub use misc::*;
pub use php::*;
pub use stats::*;

// `memcached()` / `libmemcached_check_configuration()`: the configuration-string language.
pub mod config;
// TLS options of configuration strings and the environment (ours).
pub mod tls;
// `memcached_servers_parse()` and `memcached_server_add*()` argument rules.
pub mod server_list;
