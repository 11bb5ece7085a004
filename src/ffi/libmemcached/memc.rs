//! The state behind a `memcached_st`: the engine, libmemcached's settings (the configuration
//! model, with the real library's side effects), the last error; and keeping the engine and the
//! fields real programs read in step with the settings.

use std::ffi::{c_int, c_void};

use super::config::{distribution, Model};
use super::rc;
use super::types::memcached_st;
use crate::client::{Client, Failure, Status, TlsFailure, Wait};
use crate::ffi::common::{guard, new_handle_lock, with_locked, HandleLock};
use crate::ffi::libhashkit::HASHKIT_HASH_CUSTOM;
use crate::hash::HashAlgorithm;
use crate::ketama::{Distribution, KeyHash, LibmemcachedConfig, LibmemcachedLayout};
use crate::protocol::Protocol;

/// What a `memcached_st` owns (behind its `engine` pointer).
pub(super) struct Lmc {
    pub client: Client,
    pub model: Model,
    pub last_rc: c_int,
    /// `memcached_last_error_errno`: the system error behind the last failure, 0 without one.
    pub last_errno: c_int,
    /// `memcached_set_encoding_key`'s key: values are encrypted on store, decrypted on get.
    pub encoding_key: Option<super::encoding::EncodingKey>,
    /// The pending fetch hands out CAS values: the mget asked for them (binary protocol or
    /// SUPPORT_CAS when it was queued; PHP turns SUPPORT_CAS on for the mget only).
    pub fetch_with_cas: bool,
    /// `memcached_last_error_message`'s text, NUL-terminated.
    pub last_message: Vec<u8>,
    /// Callbacks and the user's allocators (`callbacks.rs`).
    pub hooks: super::callbacks::Hooks,
    /// The failure being recorded is a text-protocol get's (no system words in its message).
    quiet_errno: bool,
    /// The servers' `memcached_instance_st`s (instance.rs).
    pub instances: super::instance::Instances,
    /// SASL credentials and the callback array `sasl.callbacks` points at (sasl.rs).
    pub sasl: Option<Box<super::sasl::SaslData>>,
    /// `memcached_query_id`: 1 on a new handle, one more for each operation (a fetch is
    /// part of its mget).
    pub query_id: u64,
    /// The embedded hashkit's two slots as last written or adopted, raw: while the caller
    /// has not touched them and the settings did not change, a call skips the sync (which
    /// costs a few hundred instructions: slots are compared by looking functions up).
    kit_synced: Option<KitSync>,
    /// The UDP sockets USE_UDP sends on (udp.rs), made at first use.
    pub udp: super::udp::UdpSockets,
    /// An mget's namespaced keys, end to end, and where each ends (fetch.rs): kept between
    /// calls so that an mget allocates nothing once they have grown.
    pub mget_keys: Vec<u8>,
    pub mget_ends: Vec<usize>,
    /// An mget's lists over replicas (replicas.rs), kept for the same reason.
    pub replicas: crate::client::ReplicaScratch,
    /// Answers of the pending fetch taken in beyond the one handed out (fetch.rs).
    pub prefetched: super::fetch::Prefetched,
    /// The engine batch of an mget whose fetch has not reached its end (fetch.rs): a
    /// command before that end first takes in the rest of its answers (`keep_pending_fetch`).
    pub open_fetch: Option<u64>,
    /// The last mget's fetch has handed out a key (whichever result took it): a server
    /// that could not be reached then ends the fetch with END, not with its failure.
    pub fetch_handed_out: bool,
    /// The length of the namespace the last mget's keys were sent with: cut off the keys
    /// its fetch hands out, whatever the namespace has become since (fetch.rs).
    pub mget_namespace_len: usize,
    /// Buffered requests were queued since the connections last settled: `settle` writes
    /// them and reads their answers before the connections close (and only then: a quit
    /// after a timeout does not wait for the server again).
    pub buffered: bool,
}

/// See `Lmc::kit_synced`: the raw slot words, and the settings they stand for.
#[derive(Clone, Copy, PartialEq)]
struct KitSync {
    slots: [usize; 4],
    hashes: [(u32, Option<usize>, usize); 2],
}

impl KitSync {
    fn of(kit: &crate::ffi::libhashkit::hashkit_st, m: &Model) -> KitSync {
        let word = |f: Option<crate::ffi::libhashkit::hashkit_hash_fn>| f.map_or(0, |f| f as usize);
        let custom = |c: Option<crate::ffi::libhashkit::HashFunction>| {
            (c.map(|c| c.function as usize), c.map_or(0, |c| c.context))
        };
        let (bf, bc) = custom(m.custom_hash);
        let (df, dc) = custom(m.custom_distribution_hash);
        KitSync {
            slots: [
                word(kit.base_hash.function),
                kit.base_hash.context as usize,
                word(kit.distribution_hash.function),
                kit.distribution_hash.context as usize,
            ],
            hashes: [(m.hash, bf, bc), (m.distribution_hash, df, dc)],
        }
    }
}

pub(super) type LmcHandle = HandleLock<Lmc>;

impl Lmc {
    pub fn new() -> Lmc {
        let mut lmc = Lmc {
            client: Client::new(),
            model: Model::default(),
            last_rc: rc::SUCCESS,
            last_errno: 0,
            encoding_key: None,
            fetch_with_cas: false,
            last_message: b"SUCCESS\0".to_vec(),
            query_id: 1,
            sasl: None,
            quiet_errno: false,
            kit_synced: None,
            hooks: Default::default(),
            instances: Default::default(),
            udp: Default::default(),
            mget_keys: Vec::new(),
            mget_ends: Vec::new(),
            mget_namespace_len: 0,
            replicas: Default::default(),
            prefetched: Default::default(),
            open_fetch: None,
            fetch_handed_out: false,
            buffered: false,
        };
        // Programs that cannot be changed get TLS from the environment (tls.rs).
        lmc.model.tls = super::tls::TlsOptions::from_env();
        lmc.apply_settings();
        lmc
    }

    /// The engine configured as the model says.
    pub fn apply_settings(&mut self) {
        let m = &self.model;
        let protocol = if m.binary_protocol {
            Protocol::Binary
        } else {
            Protocol::Text
        };
        if self.client.protocol() != protocol {
            // The switch closes every connection (1.1.4 quits them, writing its buffers).
            self.settle();
        }
        let m = &self.model;
        self.client.set_protocol(protocol);
        // 1.1.4 sends `get` over text unless SUPPORT_CAS is on (its values then have CAS 0).
        self.client.set_text_cas(m.support_cas);
        let layout =
            LibmemcachedLayout::from_c(m.distribution).unwrap_or(LibmemcachedLayout::Modula);
        let hash = HashAlgorithm::from_c(m.hash).unwrap_or_default();
        let weighted = m.weighted || m.distribution == distribution::CONSISTENT_WEIGHTED;
        let mut config = LibmemcachedConfig::new(layout, hash)
            .weighted(weighted)
            .with_buckets(&m.buckets);
        if m.points_hash != m.hash {
            if let Some(points) = HashAlgorithm::from_c(m.points_hash) {
                config = config.with_point_hash(points);
            }
        }
        // A caller's key hash (memcached_set_hashkit) replaces the algorithm.
        if let Some(custom) = m.custom_hash.filter(|_| m.hash == HASHKIT_HASH_CUSTOM) {
            config.hash = KeyHash::Custom(std::sync::Arc::new(move |key: &[u8]| custom.call(key)));
        }
        self.client
            .set_distribution(Distribution::Libmemcached(config));
        let s = self.client.settings_mut();
        m.apply_timeouts(s);
        s.buffering = m.buffer_requests;
        s.tls = m.tls.settings();
        // 1.1.4 reads a value of any size: memcached's largest item (`-I 1024m`) must come
        // through, not OMcache's 1 MiB default limit.
        s.recv_buffer_max = crate::protocol::binary::MAX_SANE_BODY as usize;
    }

    /// The engine's server list as the model's (in order, with weights).
    pub fn apply_servers(&mut self) {
        // Servers leaving the list take their connections with them.
        self.settle();
        let servers = self.model.engine_servers();
        self.client.replace_servers(servers);
    }

    /// How long one call may wait for the network.
    /// Before the connections close (quit, free, reset, a protocol switch, a new server
    /// list): what is queued is written and what is awaited is read, within the poll timeout. Closing a socket with answers unread makes the kernel reset
    /// the connection, and the server then drops the requests it has not read yet (the last
    /// buffered sets written by `memcached_flush_buffers`, which does not wait for their
    /// answers). 1.1.4 likewise writes its buffers and reads until the server closes.
    pub fn settle(&mut self) {
        if std::mem::take(&mut self.buffered) && self.client.has_outstanding() {
            let wait = self.wait();
            let _ = self.client.flush_buffers(wait);
        }
    }

    pub fn wait(&self) -> Wait {
        // Per call, as libmemcached's poll timeout is per wait; resolved by the engine.
        Wait::Within(self.model.poll_wait())
    }

    /// Whether the next recorded failure leaves out the system's words (see `record_failure`).
    pub fn quiet_errno(&mut self, quiet: bool) {
        self.quiet_errno = quiet;
    }

    /// Records a call's outcome for `memcached_last_error*`, and returns its code.
    pub fn record(
        &mut self,
        code: c_int,
        memc: *const memcached_st,
        server: Option<usize>,
    ) -> c_int {
        self.record_failure(code, None, memc, server)
    }

    /// As `record`, with libmemcached's detail after the code's text: "(handle) TEXT, DETAIL
    /// -> omcache-rs" (1.1.4 names its source file where ours names itself).
    pub fn record_detail(&mut self, code: c_int, memc: *const memcached_st, detail: &str) -> c_int {
        self.record(code, memc, None);
        self.last_message.clear();
        let text = rc::text(code);
        self.last_message
            .extend_from_slice(format!("({memc:p}) {text}, {detail} -> omcache-rs").as_bytes());
        self.last_message.push(0);
        code
    }

    /// As `record`, with the failure behind the code: libmemcached adds the system's words
    /// for a refused or timed-out connect ("CONNECTION FAILURE(Connection refused)").
    pub fn record_failure(
        &mut self,
        code: c_int,
        failure: Option<Failure>,
        memc: *const memcached_st,
        server: Option<usize>,
    ) -> c_int {
        let answered = matches!(
            code,
            rc::AUTH_FAILURE | rc::NOTFOUND | rc::NOTSTORED | rc::DATA_EXISTS
        );
        if answered && failure.is_none() {
            // The server's answer (a miss, not stored, exists, a request sent without
            // credentials), not an error: 1.1.4 returns it without recording one, and
            // memcached_last_error says SUCCESS (measured; the tools print nothing for it).
            self.last_rc = rc::SUCCESS;
            self.last_errno = 0;
            self.last_message.clear();
            self.last_message.extend_from_slice(b"SUCCESS\0");
            return code;
        }
        let queued = code == rc::BUFFERED && failure.is_none();
        if queued {
            self.buffered = true;
        }
        if code == rc::SUCCESS || queued {
            // The common case, kept short: no server named, the message is the code's text.
            // A request queued (BUFFERED) is no error either: 1.1.4 leaves memcached_last_error
            // at SUCCESS after a buffered set or delete (measured on Debian's library; ours
            // said ACTION QUEUED).
            self.last_rc = rc::SUCCESS;
            self.last_errno = 0;
            // Eight bytes compared as one word (a slice comparison calls memcmp).
            let success = <[u8; 8]>::try_from(&self.last_message[..])
                .is_ok_and(|m| u64::from_ne_bytes(m) == u64::from_ne_bytes(*b"SUCCESS\0"));
            if !success {
                self.last_message.clear();
                self.last_message.extend_from_slice(b"SUCCESS\0");
            }
            return code;
        }
        // A unix socket path that is not there: libmemcached 1.1.4 reports the connect's
        // ENOENT as ERRNO (26, "SYSTEM ERROR(No such file or directory)", errno 2) where the
        // engine says the name did not resolve (Perl's errstr shows both).
        let socket_missing = code == rc::HOST_LOOKUP_FAILURE
            && failure == Some(Failure::NameNotResolved)
            && server
                .and_then(|i| self.client.server_addr(i))
                .is_some_and(|a| a.is_unix());
        let code = if socket_missing { rc::ERRNO } else { code };
        self.last_rc = code;
        self.last_errno = match failure {
            _ if socket_missing => libc::ENOENT,
            Some(Failure::ConnectRefused) => libc::ECONNREFUSED,
            Some(Failure::ConnectTimeout) => libc::ETIMEDOUT,
            Some(Failure::ConnectionReset) => libc::ECONNRESET,
            _ => 0,
        };
        self.last_message.clear();
        let text = rc::text(code);
        let tls_words;
        let server_failure = socket_missing || rc::names_server(code, failure);
        match server.and_then(|i| self.client.server_addr(i)) {
            Some(addr) if server_failure => {
                // libmemcached names a unix socket "socket: PATH", a TCP server "host: H:P".
                let place = if addr.is_unix() {
                    format!("socket: {}", addr.hostname())
                } else {
                    format!("host: {}:{}", addr.hostname(), addr.port)
                };
                // libmemcached 1.1.4 adds the system's words, except for a get over text
                // (measured with its tools). Why TLS failed is ours, and always said.
                let quiet = std::mem::take(&mut self.quiet_errno);
                let errno = match failure {
                    Some(Failure::Tls(why)) => {
                        tls_words = format!(", {}", why.message());
                        &tls_words
                    }
                    _ if quiet => "",
                    _ if socket_missing => "(No such file or directory)",
                    Some(Failure::ConnectRefused) => "(Connection refused)",
                    Some(Failure::ConnectTimeout) => "(Connection timed out)",
                    Some(Failure::ConnectionReset) => "(Connection reset by peer)",
                    // 1.1.4's words (the tools print them).
                    Some(Failure::SaslConfig) => {
                        ", memcached_sasl_authenticate_connection() is not supported via the ASCII protocol"
                    }
                    _ => "",
                };
                self.last_message.extend_from_slice(
                    format!("({memc:p}) {text}{errno},  {place} -> omcache-rs").as_bytes(),
                );
            }
            _ => self.last_message.extend_from_slice(text.as_bytes()),
        }
        if failure == Some(Failure::Tls(TlsFailure::Config)) {
            // Unusable TLS settings (nothing was sent): the reason, e.g. an unreadable CA file.
            if let Some(why) = self.model.tls.problem() {
                self.last_message
                    .extend_from_slice(format!(", {why}").as_bytes());
            }
        }
        self.last_message.push(0);
        if let Some(i) = server.filter(|_| server_failure) {
            self.instances.note_error(i, code, &self.last_message);
        }
        code
    }

    /// An engine outcome recorded as the call's result.
    pub fn record_status(
        &mut self,
        status: Status,
        message: &[u8],
        memc: *const memcached_st,
        server: Option<usize>,
    ) -> c_int {
        let code = rc::from_status(status, message);
        self.record_failure(code, status.failure(), memc, server)
    }
}

/// The flag bytes real programs read at offset 1 (memcslap tests the binary-protocol bit).
pub(super) fn flag_bytes(m: &Model) -> [u8; 2] {
    let bit = |on: bool, n: u8| u8::from(on) << n;
    [
        bit(m.auto_eject_hosts, 0)
            | bit(m.binary_protocol, 1)
            | bit(m.buffer_requests, 2)
            | bit(m.hash_with_namespace, 3)
            | bit(m.no_block, 4)
            | bit(m.reply, 5)
            | bit(m.randomize_replica_read, 6)
            | bit(m.support_cas, 7),
        bit(m.tcp_nodelay, 0)
            | bit(m.sort_hosts, 1)
            | bit(m.use_udp, 2)
            | bit(m.verify_key, 3)
            | bit(m.tcp_keepalive, 4),
    ]
}

/// The handle behind a `memcached_st`, or None for NULL or memory `memcached_create` did not
/// initialise.
///
/// # Safety
/// A non-NULL `memc` must point to a `memcached_st` (696 readable bytes).
unsafe fn handle<'a>(memc: *const memcached_st) -> Option<&'a LmcHandle> {
    // SAFETY: guaranteed by the caller; only the engine pointer is read.
    let engine = unsafe { memc.as_ref()? }.engine;
    // SAFETY: a non-NULL engine pointer was set by memcached_create to a leaked Box that lives
    // until memcached_free.
    unsafe { engine.cast::<LmcHandle>().as_ref() }
}

/// Runs `f` with the state of `memc` locked; `on_error` for a NULL or uninitialised handle, a
/// panic, or a re-entry while it is borrowed. After `f`, the flag bytes and host count real
/// programs read are brought in step.
pub(super) fn with_memc<T>(memc: *mut memcached_st, on_error: T, f: impl FnOnce(&mut Lmc) -> T) -> T
where
    T: Copy,
{
    locked(memc, on_error, true, f)
}

/// `with_memc` for the operations (get, store, mget, fetch, counters): they change neither the
/// settings nor the server list, so the flag bytes, host count and hashkit written back after
/// other calls are still right afterwards and only the check before the call is made (a caller
/// may have changed the hashkit through memcached_get_hashkit's pointer).
pub(super) fn with_memc_op<T>(
    memc: *mut memcached_st,
    on_error: T,
    f: impl FnOnce(&mut Lmc) -> T,
) -> T
where
    T: Copy,
{
    locked(memc, on_error, false, f)
}

/// The two above: `write_back` after every call, or only when the hashkit was out of step
/// (first call, or the caller changed the kit).
#[inline(always)]
fn locked<T>(
    memc: *mut memcached_st,
    on_error: T,
    write_back_always: bool,
    f: impl FnOnce(&mut Lmc) -> T,
) -> T
where
    T: Copy,
{
    guard(on_error, || {
        // SAFETY: the C API's contract: a memcached_st created by memcached_create.
        let Some(lock) = (unsafe { handle(memc) }) else {
            return on_error;
        };
        with_locked(lock, on_error, |lmc| {
            // SAFETY: `memc` is a valid memcached_st (checked above); its hashkit is plain data
            // the caller may have changed through memcached_get_hashkit's pointer.
            let kit = unsafe { &(*memc).hashkit };
            let out_of_step = lmc.kit_synced != Some(KitSync::of(kit, &lmc.model));
            if out_of_step {
                lmc.adopt_hashkit(kit);
            }
            let out = f(lmc);
            if write_back_always || out_of_step {
                // SAFETY: `memc` is a valid memcached_st (checked above), its handle `lmc`.
                unsafe { write_back(memc, lmc) };
            }
            (out, None::<fn()>)
        })
    })
}

/// The flag bytes, host count and hashkit of `memc` brought in step with the handle's state.
///
/// # Safety
/// `memc` is a valid memcached_st whose handle is `lmc`.
unsafe fn write_back(memc: *mut memcached_st, lmc: &mut Lmc) {
    let flags = flag_bytes(&lmc.model);
    let hosts = lmc.client.server_count() as u32;
    // SAFETY: `memc` is a valid memcached_st (the caller's promise); these fields are plain
    // bytes the face owns, the hashkit plain data.
    unsafe {
        (*memc).flags = flags;
        (*memc).number_of_hosts = hosts;
        let kit = &mut (*memc).hashkit;
        if lmc.kit_synced != Some(KitSync::of(kit, &lmc.model)) {
            let m = &lmc.model;
            kit.set_algorithms(
                (m.hash, m.custom_hash),
                (m.distribution_hash, m.custom_distribution_hash),
            );
            lmc.kit_synced = Some(KitSync::of(kit, m));
        }
    }
}

/// A new handle in `memc` (caller memory) or in memory of our own (NULL).
pub(super) fn create(memc: *mut memcached_st) -> *mut memcached_st {
    guard(std::ptr::null_mut(), || {
        let allocated = memc.is_null();
        let memc = if allocated {
            // SAFETY: plain calloc; checked for NULL below.
            unsafe { libc::calloc(1, std::mem::size_of::<memcached_st>()) }.cast::<memcached_st>()
        } else {
            memc
        };
        if memc.is_null() {
            return memc;
        }
        let lmc = Lmc::new();
        let mut st = memcached_st::initial(allocated);
        st.flags = flag_bytes(&lmc.model);
        st.engine = Box::into_raw(Box::new(new_handle_lock(lmc))).cast::<c_void>();
        // SAFETY: `memc` is valid for writing a memcached_st (the caller's memory per the C
        // API, or ours); every byte is written, whatever the memory held.
        unsafe { memc.write(st) };
        memc
    })
}

/// Frees the handle's state, and the struct itself when `memcached_create` allocated it.
pub(super) fn free(memc: *mut memcached_st) {
    guard((), || {
        if memc.is_null() {
            return;
        }
        with_memc(memc, (), Lmc::settle);
        // SAFETY: a memcached_st created by memcached_create (the C API's contract).
        unsafe { super::fetch::release_handle_result(memc) };
        // SAFETY: as above.
        let st = unsafe { &mut *memc };
        let engine = std::mem::replace(&mut st.engine, std::ptr::null_mut());
        if !engine.is_null() {
            // SAFETY: the pointer came from Box::into_raw in `create` and is released once
            // (it was just cleared).
            drop(unsafe { Box::from_raw(engine.cast::<LmcHandle>()) });
        }
        if st.options & 1 != 0 {
            // SAFETY: allocated with calloc in `create`.
            unsafe { libc::free(memc.cast()) };
        }
    })
}
