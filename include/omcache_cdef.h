/*
 * omcache_cdef.h - the plain C declarations of the OMcache 0.3 API
 *
 * Part of omcache-rs, a re-implementation of the OMcache 0.3 memcached
 * client library.  Licensed under the Apache License, Version 2.0; see the
 * file LICENSE.
 *
 * Do not include this file directly: include <omcache.h>, which pulls in
 * <stdint.h> and <sys/types.h> first and wraps these declarations in
 * extern "C" for C++.
 *
 * This file is a frozen interface contract: the type shapes, names and
 * prototypes below are those of OMcache 0.3.0.  It is also read as-is by
 * Python's cffi, so it must stay plain declarations: no preprocessor
 * directives, no macros, no attributes.  The drift check in tests-c/
 * compares it with the header cbindgen generates from the Rust sources.
 */

/* Return codes.  The small numbers equal memcached binary protocol status
 * codes; there is deliberately no value 4. */
typedef enum omcache_ret_e {
  OMCACHE_OK = 0x00,               /* success */
  OMCACHE_NOT_FOUND = 0x01,        /* the key does not exist */
  OMCACHE_KEY_EXISTS = 0x02,       /* key exists (add) or CAS mismatch */
  OMCACHE_TOO_LARGE_VALUE = 0x03,  /* value larger than the server takes */
  OMCACHE_NOT_STORED = 0x05,       /* append/prepend target is missing */
  OMCACHE_DELTA_BAD_VALUE = 0x06,  /* incr/decr of a non-numeric value */
  OMCACHE_FAIL = 0x0FFF,           /* any other failure from the server */
  OMCACHE_AGAIN = 0x1001,          /* unfinished: call omcache_io() again */
  OMCACHE_INVALID,                 /* invalid parameters */
  OMCACHE_BUFFERED,                /* queued, no answer read yet */
  OMCACHE_BUFFER_FULL,             /* buffer limit reached, request dropped */
  OMCACHE_NO_SERVERS,              /* no usable server for the request */
  OMCACHE_SERVER_FAILURE           /* the connection to the server failed */
} omcache_ret_t;

/* The client handle; its contents are private. */
typedef struct omcache_s omcache_t;

/* One request.  The embedded header is the 24-byte memcached binary
 * protocol request header exactly as it goes on the wire. */
typedef struct omcache_req_s {
    int server_index;           /* server for key-less opcodes (noop,
                                   version, stat, flush); -1 = by key */
    struct omcache_req_header_s {
        uint8_t magic;          /* filled in by the library (0x80) */
        uint8_t opcode;         /* memcached binary protocol opcode */
        uint16_t keylen;        /* key length, network byte order */
        uint8_t extlen;         /* length of the extras */
        uint8_t datatype;       /* filled in by the library (0) */
        uint16_t reserved;      /* leave as zero */
        uint32_t bodylen;       /* extras + key + value length, network
                                   byte order */
        uint32_t opaque;        /* request id, filled in by the library */
        uint64_t cas;           /* compare-and-swap value */
    } header;
    const void *extra;          /* extlen bytes of extras */
    const unsigned char *key;   /* keylen bytes of key */
    const unsigned char *data;  /* the value, if the opcode takes one */
} omcache_req_t;

/* One response. */
typedef struct omcache_value_s {
    int status;                 /* an omcache_ret_t */
    const unsigned char *key;   /* key, when the response carries one */
    size_t key_len;
    const unsigned char *data;  /* value, when the response carries one */
    size_t data_len;
    uint32_t flags;             /* the item's flags */
    uint64_t cas;               /* the item's CAS value */
    uint64_t delta_value;       /* the counter after incr/decr */
} omcache_value_t;

/* Handle lifecycle */

/* A new handle with no servers and default settings; NULL on failure. */
omcache_t *omcache_init(void);

/* Close all connections and release the handle. */
int omcache_free(omcache_t *mc);

/* A static, human-readable message for a return code. */
const char *omcache_strerror(int rc);

/* Settings */

/* Longest time a connection attempt may take (default 10000 ms). */
int omcache_set_connect_timeout(omcache_t *mc, uint32_t msec);

/* How long a failed server is left alone before it is tried again
 * (default 10000 ms). */
int omcache_set_reconnect_timeout(omcache_t *mc, uint32_t msec);

/* How long a server may leave I/O unfinished before it is declared dead
 * (default 10000 ms). */
int omcache_set_dead_timeout(omcache_t *mc, uint32_t msec);

/* Per-server limit of bytes waiting to be sent (default 10 MiB). */
int omcache_set_send_buffer_max_size(omcache_t *mc, size_t size);

/* Per-server limit of bytes received but not yet consumed; must hold the
 * largest expected response (default 1056 KiB). */
int omcache_set_recv_buffer_max_size(omcache_t *mc, size_t size);

/* When enabled, commands given timeout 0 are only queued until
 * omcache_io() (or a command with a non-zero timeout) runs. */
int omcache_set_buffering(omcache_t *mc, uint32_t enabled);

/* Replace the server list: comma-separated "host", "host:port",
 * "[ipv6]" or "[ipv6]:port" entries.  Servers present in both the old and
 * the new list keep their connections. */
int omcache_set_servers(omcache_t *mc, const char *servers);

/* Ketama point hash: fills at most entries_per_point values for point
 * number `point` of a server and returns how many it wrote. */
typedef uint32_t (omc_ketama_point_hash_func)(const char *hostname, const char *portname, uint32_t point, uint32_t *hashes);

/* Ketama key hash. */
typedef uint32_t (omc_ketama_key_hash_func)(const unsigned char *key, size_t key_len);

/* A key distribution method. */
typedef const struct omcache_dist_s
{
  int omcache_version;         /* OMCACHE_VERSION of the definer */
  uint32_t points_per_server;  /* ketama points for each server */
  uint32_t entries_per_point;  /* hash values produced for each point */
  omc_ketama_point_hash_func *point_hash_func;
  omc_ketama_key_hash_func *key_hash_func;
} omcache_dist_t;

/* libmemcached's MEMCACHED_BEHAVIOR_KETAMA (the default method). */
extern omcache_dist_t omcache_dist_libmemcached_ketama;

/* libmemcached's MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, all weights 1. */
extern omcache_dist_t omcache_dist_libmemcached_ketama_weighted;

/* The ketama of libmemcached releases before 1.0.10 (MD5 points,
 * one-at-a-time key hash). */
extern omcache_dist_t omcache_dist_libmemcached_ketama_pre1010;

/* Choose the distribution method; the continuum is rebuilt. */
int omcache_set_distribution_method(omcache_t *mc, omcache_dist_t *method);

/* Log callback; level is a syslog level (LOG_ERR .. LOG_DEBUG). */
typedef void (omcache_log_callback_func)(void *context, int level, const char *msg);

/* A ready-made log callback writing to standard error; context, when not
 * NULL, is a const char * prefix for each line. */
void omcache_log_stderr(void *context, int level, const char *msg);

/* Install a log callback.  Messages above `level` are not produced;
 * level 0 means everything except debug messages. */
int omcache_set_log_callback(omcache_t *mc, int level, omcache_log_callback_func *func, void *context);

/* Response callback, called for every response received. */
typedef void (omcache_response_callback_func)(omcache_t *mc, omcache_value_t *result, void *context);

/* Install a response callback. */
int omcache_set_response_callback(omcache_t *mc, omcache_response_callback_func *resp_cb, void *resp_cb_context);

/* Engine control */

/* The descriptors to poll before the next omcache_io() call (the array
 * belongs to the handle), their count in *nfds and the longest time to
 * wait in *poll_timeout. */
struct pollfd *omcache_poll_fds(omcache_t *mc, int *nfds, int *poll_timeout);

/* Drop all queued and partially received data. */
int omcache_reset_buffers(omcache_t *mc);

/* Connect, send and receive.  *req_count drops to 0 once every request in
 * reqs has its answer; up to *value_count responses are stored in values
 * and *value_count is set to the number stored.  Pointers inside values
 * stay valid until the next call that does I/O on the handle.  timeout:
 * 0 = do not block, negative = block until done, positive = at most that
 * many milliseconds.  Returns OMCACHE_OK or OMCACHE_AGAIN. */
int omcache_io(omcache_t *mc,
               omcache_req_t *reqs, size_t *req_count,
               omcache_value_t *values, size_t *value_count,
               int32_t timeout_msec);

/* Send one request and return its response status (or OMCACHE_BUFFERED,
 * OMCACHE_AGAIN, OMCACHE_BUFFER_FULL). */
int omcache_command_status(omcache_t *mc, omcache_req_t *req, int32_t timeout_msec);

/* Queue several requests and run I/O as omcache_io() does. */
int omcache_command(omcache_t *mc,
                    omcache_req_t *reqs, size_t *req_countp,
                    omcache_value_t *values, size_t *value_count,
                    int32_t timeout_msec);

/* Server information */

/* The index of the server a key maps to. */
int omcache_server_index_for_key(omcache_t *mc, const unsigned char *key, size_t key_len);

typedef struct omcache_server_info_s
{
  int omcache_version;  /* compare with OMCACHE_VERSION */
  int server_index;
  char *hostname;
  int port;
} omcache_server_info_t;

/* A copy of a server's details (free it with omcache_server_info_free),
 * or NULL when the index is out of range.  Does no I/O. */
omcache_server_info_t *omcache_server_info(omcache_t *mc, int server_index);

/* Release what omcache_server_info() returned. */
int omcache_server_info_free(omcache_t *mc, omcache_server_info_t *info);

/* Commands.  Each takes the timeout of omcache_io() last and returns
 * OMCACHE_OK, OMCACHE_BUFFERED, OMCACHE_AGAIN or the request's status. */

/* No-op to one server; OMCACHE_NO_SERVERS if the index is out of range. */
int omcache_noop(omcache_t *mc,
                 int server_index, int32_t timeout_msec);

/* Statistics of one server; each stat arrives as one value (key = name,
 * data = value).  command NULL asks for the general statistics. */
int omcache_stat(omcache_t *mc, const char *command,
                 omcache_value_t *values, size_t *value_count,
                 int server_index, int32_t timeout_msec);

/* Invalidate all items on one server, optionally after `expiration`. */
int omcache_flush_all(omcache_t *mc, time_t expiration,
                      int server_index, int32_t timeout_msec);

/* Store a value; a non-zero cas makes it conditional (OMCACHE_KEY_EXISTS
 * on mismatch).  Expirations up to 30 days are relative seconds, larger
 * ones absolute Unix times. */
int omcache_set(omcache_t *mc,
                const unsigned char *key, size_t key_len,
                const unsigned char *value, size_t value_len,
                time_t expiration, uint32_t flags,
                uint64_t cas, int32_t timeout_msec);

/* Store only if the key does not exist (else OMCACHE_KEY_EXISTS). */
int omcache_add(omcache_t *mc,
                const unsigned char *key, size_t key_len,
                const unsigned char *value, size_t value_len,
                time_t expiration, uint32_t flags,
                int32_t timeout_msec);

/* Store only if the key exists (else OMCACHE_NOT_FOUND). */
int omcache_replace(omcache_t *mc,
                    const unsigned char *key, size_t key_len,
                    const unsigned char *value, size_t value_len,
                    time_t expiration, uint32_t flags,
                    int32_t timeout_msec);

/* Add bytes after an existing value (else OMCACHE_NOT_STORED). */
int omcache_append(omcache_t *mc,
                   const unsigned char *key, size_t key_len,
                   const unsigned char *value, size_t value_len,
                   uint64_t cas, int32_t timeout_msec);

/* Add bytes before an existing value (else OMCACHE_NOT_STORED). */
int omcache_prepend(omcache_t *mc,
                   const unsigned char *key, size_t key_len,
                   const unsigned char *value, size_t value_len,
                   uint64_t cas, int32_t timeout_msec);

/* Add delta to a counter, creating it with `initial` when missing unless
 * expiration is OMCACHE_DELTA_NO_ADD; the new value goes to *value. */
int omcache_increment(omcache_t *mc,
                      const unsigned char *key, size_t key_len,
                      uint64_t delta, uint64_t initial,
                      time_t expiration, uint64_t *value,
                      int32_t timeout_msec);

/* Subtract delta from a counter; otherwise as omcache_increment(). */
int omcache_decrement(omcache_t *mc,
                      const unsigned char *key, size_t key_len,
                      uint64_t delta, uint64_t initial,
                      time_t expiration, uint64_t *value,
                      int32_t timeout_msec);

/* Remove a key (OMCACHE_NOT_FOUND if absent). */
int omcache_delete(omcache_t *mc,
                   const unsigned char *key, size_t key_len,
                   int32_t timeout_msec);

/* Set a new expiration time for a key. */
int omcache_touch(omcache_t *mc,
                  const unsigned char *key, size_t key_len,
                  time_t expiration, int32_t timeout_msec);

/* Fetch a value.  Any output pointer may be NULL; *value points into the
 * handle and stays valid until the next call that does I/O. */
int omcache_get(omcache_t *mc,
                const unsigned char *key, size_t key_len,
                const unsigned char **value, size_t *value_len,
                uint32_t *flags, uint64_t *cas,
                int32_t timeout_msec);

/* Fetch many keys.  Requests still pending when the time runs out are
 * left in reqs / *req_count for omcache_io(); missing keys produce no
 * value. */
int omcache_get_multi(omcache_t *mc,
                      const unsigned char **keys,
                      size_t *key_lens,
                      size_t key_count,
                      omcache_req_t *reqs,
                      size_t *req_count,
                      omcache_value_t *values,
                      size_t *value_count,
                      int32_t timeout_msec);

/* Fetch a value and set its new expiration time (get-and-touch). */
int omcache_gat(omcache_t *mc,
                const unsigned char *key, size_t key_len,
                const unsigned char **value, size_t *value_len,
                time_t expiration,
                uint32_t *flags, uint64_t *cas,
                int32_t timeout_msec);

/* Get-and-touch many keys, each with its own expiration time; otherwise
 * as omcache_get_multi(). */
int omcache_gat_multi(omcache_t *mc,
                      const unsigned char **keys,
                      size_t *key_lens,
                      time_t *expirations,
                      size_t key_count,
                      omcache_req_t *requests,
                      size_t *req_count,
                      omcache_value_t *values,
                      size_t *value_count,
                      int32_t timeout_msec);

/* TLS (memcached -Z), symbol version OMCACHE_0.3: an extension of this
 * library, not in OMcache 0.3 (test OMCACHE_HAVE_TLS).  The settings are kept
 * while TLS is off; a setter that reads files checks them at once and returns
 * OMCACHE_INVALID, the reason logged at LOG_ERR, leaving the previous
 * settings.  While TLS is on, a change closes every connection (what was
 * queued is dropped, as by omcache_reset_buffers()). */

/* enabled != 0: every TCP connection runs a TLS handshake, bounded by the
 * connect timeout, before anything is sent, and the server's certificate is
 * verified (never a fallback to plaintext); 0 (the default): plaintext.
 * Unix-socket servers are spoken to without TLS. */
int omcache_set_tls(omcache_t *mc, int enabled);

/* PEM file of the authorities server certificates must chain to; NULL (the
 * default): the system's ($SSL_CERT_FILE, else
 * /etc/ssl/certs/ca-certificates.crt). */
int omcache_set_tls_ca_file(omcache_t *mc, const char *path);

/* Client certificate (PEM chain, leaf first) and its PEM key, for servers
 * that require one (memcached ssl_verify_mode 2 or 3); both NULL (the
 * default): none.  Set the CA file first on a machine without a system CA
 * bundle: the files are checked with the CA settings in force. */
int omcache_set_tls_client_cert(omcache_t *mc, const char *cert_file, const char *key_file);

/* The name (DNS name or IP address) every server certificate must be valid
 * for, and the SNI sent; NULL (the default): each server entry's own host
 * name or address. */
int omcache_set_tls_server_name(omcache_t *mc, const char *name);

/* enabled != 0 (the default): reconnects resume the server's TLS session
 * (memcached -o ssl_session_cache); 0: always a full handshake. */
int omcache_set_tls_session_resumption(omcache_t *mc, int enabled);

/* Why TLS to a server last failed (a static string: unknown authority, name
 * mismatch, expired, not speaking TLS, refused, handshake timeout, unusable
 * settings, ...), or NULL if it has not failed since TLS was last switched on
 * or reconfigured, or has completed a handshake since; NULL for an index out
 * of range.  Requests to the server fail with OMCACHE_SERVER_FAILURE and the
 * log callback gets the TLS library's own words. */
const char *omcache_tls_error(omcache_t *mc, int server_index);
