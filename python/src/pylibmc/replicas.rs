//! pylibmc's `num_replicas` (libmemcached's NUMBER_OF_REPLICAS) as Debian's python3-pylibmc
//! gets it from libmemcached 1.1.4, by the engine's rules (src/client/replicas.rs, shared
//! with the libmemcached face), on the binary protocol only (text ignores it):
//!
//! - `set` (not a cas), and each set of `set_multi` (pylibmc's is a loop of memcached_set),
//!   is also sent quiet (SETQ) to the `num_replicas` servers after the key's, in server-list
//!   order (at most every other server once), when the set itself could be sent; `delete`
//!   and each delete of `delete_multi` (a loop of memcached_delete in pylibmc) likewise
//!   (DELETEQ), whatever became of the first. Copies go in the same batch as the requests;
//!   their answers are not the caller's. add, replace, append, prepend, cas, incr, decr and
//!   touch are not copied.
//! - `get`/`gets` go to the key's server; only when it cannot be reached (refused, out of
//!   service) to the next one, and so on; a miss is not retried. No server reached: a miss.
//! - `get_multi` (one memcached_mget in pylibmc) first connects the keys' unconnected servers
//!   (a NOOP each) and sends each key's get to the first of its servers that can be reached;
//!   as 1.1.4's mget over replicas, it never fails: the values found come back. A server
//!   killed after the client connected loses its first key only, as in 1.1.4 (the others
//!   go on to the next servers in a follow-up round).
//!
//! Where ours differs from Debian's (as the libmemcached face does): 1.1.4 leaves a set's
//! copies in the replicas' output buffers until something else flushes them (the next
//! request on that connection, `disconnect_all`, the client's end), and leaves unread the
//! answers of quiet deletes a replica refused (a key it lacks), which the next reads on that
//! connection take for theirs (a `get` of a present key then returns None). Ours sends the
//! copies at once and reads every answer.

use omcache::client::Client;
use omcache::ffi::libmemcached::config::Model;

/// How many copies each replicated request gets: 0 when replication is off (text protocol,
/// no replicas, a single server).
pub fn copies(model: &Model, engine: &Client) -> usize {
    if !model.binary_protocol {
        return 0;
    }
    engine.replica_copies(model.number_of_replicas)
}
