/*
 * threads.c - one omcache handle shared by several threads at once, and
 * callbacks that call back into their own handle.
 *
 * Usage: threads [-t THREADS] [-n OPS] [-k KEYS] [-w SECONDS] [-x] SERVERS
 *   SERVERS   an omcache_set_servers() list (4 memcached servers in make test)
 *   -t        threads sharing the handle (default 8)
 *   -n        operations per thread (default 3000)
 *   -k        distinct keys (default 256)
 *   -w        watchdog: fail if the whole run takes longer (default 600 s
 *             times $OMCACHE_TEST_SLACK, a factor >= 1, default 1)
 *   -x        also require what the library does not promise today: values
 *             returned by a call stay intact, and its multi-get can be
 *             continued, when that call's response callback made a call that
 *             does I/O (omcache_noop) on the handle (fails: see phase 1)
 *
 * The C API's contract is one thread per handle at a time.  Sharing a handle
 * between threads is misuse, but the library must survive it: every call
 * serialises on the handle's lock.  What the library can promise under that
 * misuse, and what is checked here:
 *   - no crash, no deadlock, no corruption of the library's own memory (run
 *     this under valgrind's memcheck too: make memcheck);
 *   - only the return codes each call can legitimately return;
 *   - everything the library copies into the caller's own variables (flags,
 *     lengths, cas, counts) belongs to a value some thread really stored
 *     under that key;
 *   - every response handed to the response callback (a copy owned by the
 *     calling thread while the callback runs) is byte for byte a value some
 *     thread stored under that key, never torn or foreign.
 * What it cannot promise, and what is therefore NOT checked while the threads
 * run: the bytes behind a value pointer returned by omcache_get() or
 * omcache_get_multi() point into the handle and stay valid only until the next
 * call on it, which another thread may make at any moment.  Those bytes are
 * verified afterwards, in a single-threaded pass over every key.
 *
 * Phase 1 checks that callbacks may call into their own handle (the library
 * runs callbacks after the call, with the handle unlocked): a log callback and
 * a response callback call omcache_server_index_for_key() and omcache_noop();
 * no deadlock (the watchdog), correct answers, and the response being
 * delivered stays intact across the nested call.
 *
 * Values encode their key, writer and generation: flags = high 16 bits of the
 * key's hash | writer << 8 | generation; the length and every byte follow from
 * (key, writer, generation), and the last 4 bytes are a checksum.
 *
 * Prints "threads: N checks, M failed"; exits 0 only when nothing failed.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <omcache.h>

#define MAX_THREADS 64
#define MAX_KEYS 4096
#define MAX_SERVERS 16
#define MULTI_MAX 24
#define KEY_PREFIX "thr:"

/* --- checks ------------------------------------------------------------ */

static long checks_run;
static long checks_failed;

static void check_failed(const char *file, int line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void check_failed(const char *file, int line, const char *what, const char *fmt, ...)
{
    long n = __atomic_add_fetch(&checks_failed, 1, __ATOMIC_RELAXED);
    if (n > 40) {
        if (n == 41)
            fprintf(stderr, "threads: more failures, not shown\n");
        return;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: check failed: %s\n    %s\n", file, line, what, buf);
}

#define CHECK(cond, ...) do { \
        __atomic_add_fetch(&checks_run, 1, __ATOMIC_RELAXED); \
        if (!(cond)) \
            check_failed(__FILE__, __LINE__, #cond, __VA_ARGS__); \
    } while (0)

#define REQUIRE(cond, ...) do { \
        CHECK(cond, __VA_ARGS__); \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: cannot continue\n", __FILE__, __LINE__); \
            summary_and_exit(); \
        } \
    } while (0)

static void summary_and_exit(void)
{
    long run = __atomic_load_n(&checks_run, __ATOMIC_RELAXED);
    long failed = __atomic_load_n(&checks_failed, __ATOMIC_RELAXED);
    printf("threads: %ld checks, %ld failed\n", run, failed);
    exit(failed ? 1 : 0);
}

static void on_watchdog(int sig)
{
    static const char msg[] = "threads: watchdog expired: deadlock or far too slow\n";
    (void) sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(3);
}

static int rc_in(int rc, const int *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == ok[i])
            return 1;
    return 0;
}
#define RC_IN(rc, ...) rc_in((rc), (const int[]) {__VA_ARGS__}, \
                             sizeof((const int[]) {__VA_ARGS__}) / sizeof(int))

/* --- keys and values --------------------------------------------------- */

static int nthreads = 8;
static int nops = 3000;
static int nkeys = 256;
static int nservers;
static int w_main;                              /* writer id of the main thread */
static int strict_nested;                       /* -x */

static unsigned char keys[MAX_KEYS][64];
static size_t key_lens[MAX_KEYS];
static uint32_t key_hash[MAX_KEYS];
static int key_server[MAX_KEYS];                /* omcache_server_index_for_key() */
static int server_port[MAX_SERVERS];

/* attempted[(writer * nkeys + key) * 32 + gen / 8] bit gen % 8: the writer
 * sent (or tried to send) generation gen of that key. */
static unsigned char *attempted;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static void make_keys(void)
{
    for (int k = 0; k < nkeys; k++) {
        int n = snprintf((char *) keys[k], sizeof keys[k], KEY_PREFIX "%04d:", k);
        size_t len = (size_t) n + (size_t) (k * 7) % 50;
        for (size_t i = (size_t) n; i < len; i++)
            keys[k][i] = (unsigned char) ('a' + (k + i) % 26);
        key_lens[k] = len;
        key_hash[k] = fnv1a(keys[k], len);
    }
}

/* The key index of a key the library handed back, or -1. */
static int parse_key(const unsigned char *key, size_t len)
{
    size_t plen = strlen(KEY_PREFIX);
    if (key == NULL || len < plen + 5 || memcmp(key, KEY_PREFIX, plen) != 0)
        return -1;
    int k = 0;
    for (size_t i = plen; i < plen + 4; i++) {
        if (key[i] < '0' || key[i] > '9')
            return -1;
        k = k * 10 + (key[i] - '0');
    }
    if (k >= nkeys || len != key_lens[k] || memcmp(key, keys[k], len) != 0)
        return -1;
    return k;
}

static uint32_t value_flags(int k, int w, int gen)
{
    return (key_hash[k] & 0xffff0000u) | ((uint32_t) w << 8) | (uint32_t) gen;
}

static size_t value_len(int k, int w, int gen)
{
    uint64_t h = mix64(((uint64_t) k << 32) ^ ((uint64_t) w << 8) ^ (uint64_t) gen ^ 0x5eedULL);
    size_t len = 24 + h % 2000;
    if ((h >> 20) % 16 == 0)
        len += (h >> 32) % 40000;               /* now and then a larger one */
    return len;
}

static void value_fill(unsigned char *buf, size_t len, int k, int w, int gen)
{
    char hdr[32];
    int n = snprintf(hdr, sizeof hdr, "V%04d:%02d:%03d|", k, w, gen);
    memcpy(buf, hdr, (size_t) n);
    uint64_t s = mix64(((uint64_t) k << 40) ^ ((uint64_t) w << 16) ^ (uint64_t) gen);
    for (size_t i = (size_t) n; i < len - 4; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        buf[i] = (unsigned char) s;
    }
    uint32_t c = fnv1a(buf, len - 4);
    for (int i = 0; i < 4; i++)
        buf[len - 4 + i] = (unsigned char) (c >> (8 * i));
}

static unsigned char *attempted_byte(int w, int k, int gen)
{
    return &attempted[((size_t) w * (size_t) nkeys + (size_t) k) * 32 + (size_t) gen / 8];
}

static void mark_attempted(int w, int k, int gen)
{
    __atomic_fetch_or(attempted_byte(w, k, gen), (unsigned char) (1u << (gen % 8)), __ATOMIC_RELAXED);
}

static int was_attempted(int w, int k, int gen)
{
    return (__atomic_load_n(attempted_byte(w, k, gen), __ATOMIC_RELAXED) >> (gen % 8)) & 1;
}

/* Checks what the library copied into our own variables for key k: flags,
 * length, cas.  Returns 1 when they belong to a value really stored under k;
 * *w and *gen get the writer and generation. */
static int scalars_ok(int k, uint32_t flags, size_t len, uint64_t cas, int *wp, int *genp,
                      char *why, size_t whylen)
{
    int w = (int) ((flags >> 8) & 0xff), gen = (int) (flags & 0xff);
    *wp = w;
    *genp = gen;
    if ((flags & 0xffff0000u) != (key_hash[k] & 0xffff0000u)) {
        snprintf(why, whylen, "key %d: flags %#x belong to another key", k, (unsigned) flags);
        return 0;
    }
    if (w > w_main || !was_attempted(w, k, gen)) {
        snprintf(why, whylen, "key %d: writer %d generation %d was never stored", k, w, gen);
        return 0;
    }
    if (len != value_len(k, w, gen)) {
        snprintf(why, whylen, "key %d: length %zu, writer %d generation %d stored %zu",
                 k, len, w, gen, value_len(k, w, gen));
        return 0;
    }
    if (cas == 0) {
        snprintf(why, whylen, "key %d: cas 0", k);
        return 0;
    }
    return 1;
}

/* Full check of a value's bytes (only where they are known to be stable). */
static int value_ok(int k, const unsigned char *data, size_t len, uint32_t flags, uint64_t cas,
                    char *why, size_t whylen)
{
    int w, gen;
    if (!scalars_ok(k, flags, len, cas, &w, &gen, why, whylen))
        return 0;
    if (data == NULL) {
        snprintf(why, whylen, "key %d: NULL data", k);
        return 0;
    }
    unsigned char *want = malloc(len);
    if (want == NULL) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    value_fill(want, len, k, w, gen);
    int same = memcmp(want, data, len) == 0;
    if (!same) {
        size_t i = 0;
        while (want[i] == data[i])
            i++;
        snprintf(why, whylen, "key %d: writer %d generation %d: %zu-byte value differs at byte %zu",
                 k, w, gen, len, i);
    }
    free(want);
    return same;
}

static int store(omcache_t *mc, int k, int w, int gen, int32_t timeout)
{
    size_t len = value_len(k, w, gen);
    unsigned char *buf = malloc(len);
    if (buf == NULL)
        return -1;
    value_fill(buf, len, k, w, gen);
    mark_attempted(w, k, gen);
    int rc = omcache_set(mc, keys[k], key_lens[k], buf, len, 0, value_flags(k, w, gen), 0, timeout);
    free(buf);
    return rc;
}

/* --- callbacks ---------------------------------------------------------- */

static __thread int cb_depth;

struct cb_stats {
    omcache_t *mc;
    int io_calls;               /* the callbacks also make calls that do I/O (noop) */
    long responses, hits, verified, nested_calls, logs, errors_logged;
};

#define INC(field) __atomic_add_fetch(&(field), 1, __ATOMIC_RELAXED)

/* Every response of the handle.  Runs in the thread that made the call, after
 * the call, with the handle unlocked; the value is that call's own copy. */
static void response_cb(omcache_t *mc, omcache_value_t *r, void *context)
{
    struct cb_stats *st = context;
    char why[256];
    INC(st->responses);
    CHECK(mc == st->mc, "response callback got handle %p, not %p", (void *) mc, (void *) st->mc);
    CHECK(RC_IN(r->status, OMCACHE_OK, OMCACHE_NOT_FOUND),
          "response status %d (%s)", r->status, omcache_strerror(r->status));
    if (r->status != OMCACHE_OK || r->key_len == 0)
        return;
    /* a GETK / GETKQ hit: the key and the whole value, byte for byte */
    long hit = INC(st->hits);
    int k = parse_key(r->key, r->key_len);
    CHECK(k >= 0, "response for a key that was never asked for (%zu bytes)", r->key_len);
    if (k < 0)
        return;
    int ok = value_ok(k, r->data, r->data_len, r->flags, r->cas, why, sizeof why);
    CHECK(ok, "response callback: %s", why);
    if (ok)
        INC(st->verified);
    if (cb_depth > 0)
        return;
    /* call back into the handle that is calling us */
    cb_depth++;
    int idx = omcache_server_index_for_key(mc, r->key, r->key_len);
    CHECK(idx == key_server[k], "server_index_for_key from the response callback: %d, expected %d",
          idx, key_server[k]);
    INC(st->nested_calls);
    if (hit % 4 == 0) {
        omcache_server_info_t *info = omcache_server_info(mc, idx);
        CHECK(info != NULL && info->server_index == idx && info->port == server_port[idx],
              "server_info(%d) from the response callback", idx);
        omcache_server_info_free(mc, info);
        INC(st->nested_calls);
    }
    if (st->io_calls && hit % 8 == 0) {
        int32_t timeout = hit % 16 ? -1 : 5000;
        int rc = omcache_noop(mc, idx, timeout);
        CHECK(rc == OMCACHE_OK || (timeout > 0 && rc == OMCACHE_AGAIN),
              "noop from the response callback: %d (%s)", rc, omcache_strerror(rc));
        INC(st->nested_calls);
    }
    /* the value being delivered survives the calls made on the handle */
    CHECK(value_ok(k, r->data, r->data_len, r->flags, r->cas, why, sizeof why),
          "response callback, after calls on the handle: %s", why);
    cb_depth--;
}

static void log_cb(void *context, int level, const char *msg)
{
    struct cb_stats *st = context;
    long n = INC(st->logs);
    CHECK(level >= LOG_EMERG && level <= LOG_INFO, "log level %d (asked for up to LOG_INFO)", level);
    CHECK(msg != NULL && strlen(msg) > 0, "empty log message");
    if (level <= LOG_ERR)
        INC(st->errors_logged);
    if (cb_depth > 0)
        return;
    cb_depth++;
    int k = (int) (n % nkeys);
    int idx = omcache_server_index_for_key(st->mc, keys[k], key_lens[k]);
    CHECK(idx == key_server[k], "server_index_for_key from the log callback: %d, expected %d",
          idx, key_server[k]);
    INC(st->nested_calls);
    if (st->io_calls) {
        int rc = omcache_noop(st->mc, idx, -1);
        CHECK(rc == OMCACHE_OK, "noop from the log callback: %d (%s)", rc, omcache_strerror(rc));
        INC(st->nested_calls);
    }
    cb_depth--;
}

/* --- setup -------------------------------------------------------------- */

static omcache_t *new_handle(const char *servers)
{
    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init failed");
    int rc = omcache_set_servers(mc, servers);
    REQUIRE(rc == OMCACHE_OK, "omcache_set_servers(%s): %d (%s)", servers, rc, omcache_strerror(rc));
    return mc;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return mix64(*s);
}

/* -1 or a positive timeout; now and then one so short that AGAIN is likely. */
static int32_t pick_timeout(uint64_t r)
{
    switch (r % 10) {
    case 0: case 1: case 2: case 3: return -1;
    case 4: case 5: case 6: return 5000;
    case 7: case 8: return 1000;
    default: return (int32_t) (1 + (r >> 8) % 3);
    }
}

/* A single-threaded multi-get of keys[first .. first+n) by the partial-progress
 * recipe: get_multi, then omcache_io until every request is answered (a get
 * stops with AGAIN, even with timeout -1, once a receive buffer holding values
 * it returned is full).  The values of each call are checked before the next
 * call invalidates them: known keys, each at most once, bytes as stored, and,
 * when w >= 0, exactly writer w's generation gen.  seen[k] counts the hits. */
static void multi_fetch(omcache_t *mc, int first, int n, int32_t timeout, int w, int gen, int *seen)
{
    const unsigned char *mkeys[64];
    size_t mlens[64];
    omcache_req_t reqs[64];
    omcache_value_t values[64];
    char why[256];
    for (int i = 0; i < n; i++) {
        mkeys[i] = keys[first + i];
        mlens[i] = key_lens[first + i];
    }
    size_t req_count = (size_t) n, value_count = (size_t) n;
    int rc = omcache_get_multi(mc, mkeys, mlens, (size_t) n, reqs, &req_count, values, &value_count, timeout);
    for (int calls = 1;; calls++) {
        CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN), "get_multi/io call %d: %d (%s)", calls, rc, omcache_strerror(rc));
        CHECK(value_count <= (size_t) n, "%zu values for %d keys", value_count, n);
        for (size_t i = 0; i < value_count && i < (size_t) n; i++) {
            int k = parse_key(values[i].key, values[i].key_len);
            CHECK(k >= first && k < first + n, "multi-get: value %zu has a key not asked for", i);
            if (k < first || k >= first + n)
                continue;
            seen[k]++;
            CHECK(values[i].status == OMCACHE_OK &&
                  value_ok(k, values[i].data, values[i].data_len, values[i].flags, values[i].cas,
                           why, sizeof why) &&
                  (w < 0 || values[i].flags == value_flags(k, w, gen)),
                  "multi-get: status %d, %s (flags %#x)", values[i].status, why, (unsigned) values[i].flags);
        }
        if (rc != OMCACHE_AGAIN || req_count == 0 || calls >= 10000)
            break;
        value_count = (size_t) n;
        rc = omcache_io(mc, reqs, &req_count, values, &value_count, timeout);
    }
    CHECK(rc == OMCACHE_OK && req_count == 0, "multi-get of %d keys did not finish: %d (%s), %zu left",
          n, rc, omcache_strerror(rc), req_count);
}

/* --- phase 1: callbacks calling into their own handle -------------------- */

/* io_calls 0: the callbacks call server_index_for_key / server_info (no I/O):
 * the values the interrupted call returns must stay intact, and a multi-get
 * cut short by AGAIN can be continued.
 * io_calls 1: the callbacks also call omcache_noop (I/O).  That call is "the
 * next call on the handle": the values returned by the call whose callback
 * made it are no longer valid and its unfinished batch is replaced, so only
 * return codes, the nested calls' answers and the callbacks' own values are
 * checked. */
static void callbacks_phase(const char *servers, int io_calls)
{
    struct cb_stats st;
    memset(&st, 0, sizeof st);
    omcache_t *mc = new_handle(servers);
    st.mc = mc;
    st.io_calls = io_calls;
    /* the log callback hears "connected" for each server, from the first call on */
    CHECK(omcache_set_log_callback(mc, LOG_INFO, log_cb, &st) == OMCACHE_OK, "set_log_callback");
    CHECK(omcache_set_response_callback(mc, response_cb, &st) == OMCACHE_OK, "set_response_callback");

    const int n = nkeys < 64 ? nkeys : 64;
    const int gen = 1 + io_calls;
    for (int k = 0; k < n; k++) {
        int rc = store(mc, k, w_main, gen, -1);
        CHECK(rc == OMCACHE_OK, "set key %d: %d (%s)", k, rc, omcache_strerror(rc));
    }
    CHECK(st.logs >= (long) nservers, "%ld log messages, expected one per server at least", st.logs);

    char why[256];
    for (int k = 0; k < n; k++) {
        const unsigned char *val = NULL;
        size_t len = 0;
        uint32_t flags = 0;
        uint64_t cas = 0;
        int rc = omcache_get(mc, keys[k], key_lens[k], &val, &len, &flags, &cas, k % 2 ? -1 : 5000);
        CHECK(rc == OMCACHE_OK, "get key %d: %d (%s)", k, rc, omcache_strerror(rc));
        if (rc == OMCACHE_OK && (!io_calls || strict_nested))
            CHECK(value_ok(k, val, len, flags, cas, why, sizeof why) && flags == value_flags(k, w_main, gen),
                  "get after the callback's calls: %s", why);
    }
    long hits_before = st.hits;
    if (!io_calls || strict_nested) {
        int seen[MAX_KEYS];
        memset(seen, 0, sizeof seen);
        multi_fetch(mc, 0, n, -1, w_main, gen, seen);
        for (int k = 0; k < n; k++)
            CHECK(seen[k] == 1, "multi-get: key %d returned %d times", k, seen[k]);
        CHECK(st.hits - hits_before == n, "multi-get: %ld hits reached the callback, expected %d",
              st.hits - hits_before, n);
    } else {
        const unsigned char *mkeys[64];
        size_t mlens[64];
        omcache_req_t reqs[64];
        omcache_value_t values[64];
        for (int k = 0; k < n; k++) {
            mkeys[k] = keys[k];
            mlens[k] = key_lens[k];
        }
        size_t req_count = (size_t) n, value_count = (size_t) n;
        int rc = omcache_get_multi(mc, mkeys, mlens, (size_t) n, reqs, &req_count, values, &value_count, -1);
        CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN), "get_multi: %d (%s)", rc, omcache_strerror(rc));
        CHECK(value_count <= (size_t) n, "get_multi: %zu values", value_count);
        if (rc == OMCACHE_AGAIN) {
            /* the callbacks' noops replaced the batch: continuing it is refused */
            value_count = (size_t) n;
            rc = omcache_io(mc, reqs, &req_count, values, &value_count, -1);
            CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN, OMCACHE_INVALID), "io: %d (%s)", rc, omcache_strerror(rc));
        }
    }

    /* late answers: gets given 1 ms may come back AGAIN; their answers reach
     * the callback during a later call, and still verify */
    for (int k = 0; k < n; k++) {
        int rc = omcache_get(mc, keys[k], key_lens[k], NULL, NULL, NULL, NULL, 1);
        CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN), "get with 1 ms: %d (%s)", rc, omcache_strerror(rc));
    }
    int rc = omcache_io(mc, NULL, NULL, NULL, NULL, -1);
    CHECK(rc == OMCACHE_OK, "omcache_io to drain: %d (%s)", rc, omcache_strerror(rc));
    CHECK(st.hits > 0 && st.verified == st.hits, "response callback: %ld hits, %ld verified",
          st.hits, st.verified);
    if (!io_calls)
        CHECK(st.hits == 3L * n, "%ld hits reached the response callback, expected %d", st.hits, 3 * n);
    CHECK(st.nested_calls >= st.hits, "only %ld calls from inside callbacks", st.nested_calls);
    printf("callbacks (%s): %ld responses, %ld hits verified, %ld log messages, %ld calls from callbacks\n",
           io_calls ? "index, info, noop" : "index, info", st.responses, st.verified, st.logs, st.nested_calls);
    CHECK(omcache_free(mc) == OMCACHE_OK, "omcache_free");
}

/* --- phase 2: threads ---------------------------------------------------- */

struct worker {
    pthread_t tid;
    int id;
    omcache_t *mc;
    unsigned char gen[MAX_KEYS];
    long ops[7];                /* set, get, delete, get_multi, misc, AGAIN, batch replaced */
};

static void worker_get(struct worker *me, int k, int32_t timeout)
{
    const unsigned char *val = NULL;
    size_t len = 12345;
    uint32_t flags = 0;
    uint64_t cas = 0;
    char why[256];
    int w, gen;
    int rc = omcache_get(me->mc, keys[k], key_lens[k], &val, &len, &flags, &cas, timeout);
    /* val is NOT read: another thread's call may have invalidated it already */
    CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_NOT_FOUND, OMCACHE_AGAIN),
          "get: %d (%s)", rc, omcache_strerror(rc));
    if (rc == OMCACHE_OK)
        CHECK(val != NULL && scalars_ok(k, flags, len, cas, &w, &gen, why, sizeof why), "get: %s", why);
    else
        CHECK(val == NULL && len == 0 && flags == 0 && cas == 0,
              "get %d: outputs not cleared (len %zu)", rc, len);
    me->ops[rc == OMCACHE_AGAIN ? 5 : 1]++;
}

static void worker_get_multi(struct worker *me, uint64_t r, int32_t timeout)
{
    const unsigned char *mkeys[MULTI_MAX];
    size_t mlens[MULTI_MAX];
    int ks[MULTI_MAX];
    omcache_req_t reqs[MULTI_MAX];
    omcache_value_t values[MULTI_MAX];
    size_t n = 1 + r % MULTI_MAX;
    uint64_t s = r | 1;
    for (size_t i = 0; i < n; i++) {
        ks[i] = (int) (rnd(&s) % (uint64_t) nkeys);
        mkeys[i] = keys[ks[i]];
        mlens[i] = key_lens[ks[i]];
    }
    size_t req_count = n, value_count = n;
    int rc = omcache_get_multi(me->mc, mkeys, mlens, n, reqs, &req_count, values, &value_count, timeout);
    CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN), "get_multi: %d (%s)", rc, omcache_strerror(rc));
    /* AGAIN: continue with omcache_io a few times.  Another thread (or a
     * callback) may have started a batch of its own meanwhile; then the
     * library refuses ours with INVALID and the rest is abandoned: the
     * answers still reach the response callback during some later call. */
    for (int calls = 1;; calls++) {
        CHECK(value_count <= n, "get_multi: %zu values for %zu keys", value_count, n);
        if (rc == OMCACHE_OK)
            CHECK(req_count == 0, "get_multi OK but req_count %zu", req_count);
        if (value_count > n)
            value_count = n;
        for (size_t i = 0; i < value_count; i++) {
            /* only the copied scalars: find the asked-for key they belong to */
            char why[256] = "no key asked for matches";
            int found = 0, w, gen;
            for (size_t j = 0; j < n && !found; j++)
                if (values[i].key_len == key_lens[ks[j]] &&
                    scalars_ok(ks[j], values[i].flags, values[i].data_len, values[i].cas, &w, &gen,
                               why, sizeof why))
                    found = 1;
            CHECK(values[i].status == OMCACHE_OK && found, "get_multi value %zu: status %d, %s",
                  i, values[i].status, why);
        }
        if (rc != OMCACHE_AGAIN || calls > 3)
            break;
        value_count = n;
        rc = omcache_io(me->mc, reqs, &req_count, values, &value_count, timeout);
        CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN, OMCACHE_INVALID), "io: %d (%s)", rc, omcache_strerror(rc));
        if (rc == OMCACHE_INVALID) {
            CHECK(value_count == 0, "io refused the batch but stored %zu values", value_count);
            me->ops[6]++;
            break;
        }
    }
    me->ops[rc == OMCACHE_AGAIN ? 5 : 3]++;
}

static void worker_misc(struct worker *me, uint64_t r, int32_t timeout)
{
    int k = (int) ((r >> 8) % (uint64_t) nkeys), rc;
    switch (r % 5) {
    case 0:
        rc = omcache_server_index_for_key(me->mc, keys[k], key_lens[k]);
        CHECK(rc == key_server[k], "server_index_for_key: %d, expected %d", rc, key_server[k]);
        break;
    case 1:
        rc = omcache_noop(me->mc, (int) ((r >> 4) % (uint64_t) nservers), timeout);
        CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN), "noop: %d (%s)", rc, omcache_strerror(rc));
        break;
    case 2:
        rc = omcache_io(me->mc, NULL, NULL, NULL, NULL, timeout);
        CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN), "io: %d (%s)", rc, omcache_strerror(rc));
        break;
    case 3: {
        int idx = (int) ((r >> 4) % (uint64_t) nservers);
        omcache_server_info_t *info = omcache_server_info(me->mc, idx);
        CHECK(info != NULL && info->server_index == idx && info->port == server_port[idx] &&
              info->hostname != NULL && strcmp(info->hostname, "127.0.0.1") == 0,
              "server_info(%d)", idx);
        if (info != NULL)
            omcache_server_info_free(me->mc, info);
        break;
    }
    default: {
        int nfds = -1, ptimeout = -2;
        (void) omcache_poll_fds(me->mc, &nfds, &ptimeout);   /* the array is not read */
        CHECK(nfds >= 0 && nfds <= nservers, "poll_fds: nfds %d", nfds);
        break;
    }
    }
    me->ops[4]++;
}

static void *worker_main(void *arg)
{
    struct worker *me = arg;
    uint64_t s = mix64(0x1234567ULL + (uint64_t) me->id * 7919);
    for (int i = 0; i < nops; i++) {
        uint64_t r = rnd(&s);
        int k = (int) (r % (uint64_t) nkeys);
        int op = (int) ((r >> 16) % 100);
        int32_t timeout = pick_timeout(r >> 32);
        uint64_t r2 = rnd(&s);
        if (op < 35) {
            int rc = store(me->mc, k, me->id, me->gen[k]++, timeout);
            CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_AGAIN), "set: %d (%s)", rc, omcache_strerror(rc));
            me->ops[rc == OMCACHE_AGAIN ? 5 : 0]++;
        } else if (op < 65) {
            worker_get(me, k, timeout);
        } else if (op < 77) {
            int rc = omcache_delete(me->mc, keys[k], key_lens[k], timeout);
            CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_NOT_FOUND, OMCACHE_AGAIN),
                  "delete: %d (%s)", rc, omcache_strerror(rc));
            me->ops[rc == OMCACHE_AGAIN ? 5 : 2]++;
        } else if (op < 95) {
            worker_get_multi(me, r2, timeout);
        } else {
            worker_misc(me, r2, timeout);
        }
    }
    return NULL;
}

static void threads_phase(omcache_t *mc, struct cb_stats *st)
{
    static struct worker workers[MAX_THREADS];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < nthreads; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].id = i;
        workers[i].mc = mc;
        int e = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
        REQUIRE(e == 0, "pthread_create: %s", strerror(e));
    }
    long ops[7] = {0};
    for (int i = 0; i < nthreads; i++) {
        int e = pthread_join(workers[i].tid, NULL);
        CHECK(e == 0, "pthread_join: %s", strerror(e));
        for (int j = 0; j < 7; j++)
            ops[j] += workers[i].ops[j];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(ops[0] + ops[1] + ops[2] + ops[3] + ops[4] + ops[5] == (long) nthreads * nops,
          "operations lost");
    printf("threads: %d threads x %d ops in %.1f s: %ld set, %ld get, %ld delete, %ld get_multi, "
           "%ld misc, %ld AGAIN, %ld continuations refused; callback: %ld responses, %ld hits verified, "
           "%ld calls from callbacks, %ld log messages\n",
           nthreads, nops, secs, ops[0], ops[1], ops[2], ops[3], ops[4], ops[5], ops[6],
           st->responses, st->verified, st->nested_calls, st->logs);
    CHECK(st->hits > 0 && st->verified == st->hits, "response callback: %ld hits, %ld verified",
          st->hits, st->verified);
}

/* --- phase 3: single-threaded verification ------------------------------- */

static void get_multi_all(omcache_t *mc, int want_even, int want_odd, int w, int gen)
{
    int seen[MAX_KEYS];
    memset(seen, 0, sizeof seen);
    for (int base = 0; base < nkeys; base += 64)
        multi_fetch(mc, base, nkeys - base < 64 ? nkeys - base : 64, base % 128 ? -1 : 10000, w, gen, seen);
    for (int k = 0; k < nkeys; k++) {
        int want = k % 2 ? want_odd : want_even;
        CHECK(seen[k] == want, "final multi-get: key %d returned %d times, expected %d", k, seen[k], want);
    }
}

static void verify_phase(omcache_t *mc)
{
    char why[256];
    int rc = omcache_io(mc, NULL, NULL, NULL, NULL, -1);
    CHECK(rc == OMCACHE_OK, "omcache_io to drain: %d (%s)", rc, omcache_strerror(rc));
    for (int i = 0; i < nservers; i++) {
        rc = omcache_noop(mc, i, -1);
        CHECK(rc == OMCACHE_OK, "noop server %d after the threads: %d (%s)", i, rc, omcache_strerror(rc));
    }

    /* what the threads left: missing, or a value some thread stored */
    int found = 0, missing = 0;
    for (int k = 0; k < nkeys; k++) {
        const unsigned char *val = NULL;
        size_t len = 0;
        uint32_t flags = 0;
        uint64_t cas = 0;
        rc = omcache_get(mc, keys[k], key_lens[k], &val, &len, &flags, &cas, k % 3 ? -1 : 10000);
        CHECK(RC_IN(rc, OMCACHE_OK, OMCACHE_NOT_FOUND), "final get key %d: %d (%s)",
              k, rc, omcache_strerror(rc));
        if (rc == OMCACHE_OK) {
            found++;
            CHECK(value_ok(k, val, len, flags, cas, why, sizeof why), "final get: %s", why);
        } else {
            missing++;
        }
        int idx = omcache_server_index_for_key(mc, keys[k], key_lens[k]);
        CHECK(idx == key_server[k], "server_index_for_key after the threads: %d, expected %d",
              idx, key_server[k]);
    }

    /* the handle still works normally: write, read back, delete */
    for (int k = 0; k < nkeys; k++) {
        rc = store(mc, k, w_main, 7, k % 2 ? -1 : 10000);
        CHECK(rc == OMCACHE_OK, "final set key %d: %d (%s)", k, rc, omcache_strerror(rc));
    }
    get_multi_all(mc, 1, 1, w_main, 7);
    for (int k = 0; k < nkeys; k += 2) {
        rc = omcache_delete(mc, keys[k], key_lens[k], -1);
        CHECK(rc == OMCACHE_OK, "final delete key %d: %d (%s)", k, rc, omcache_strerror(rc));
    }
    get_multi_all(mc, 0, 1, w_main, 7);
    printf("verify: after the threads %d keys held a value some thread stored, %d were missing; "
           "the handle then wrote, read and deleted all %d keys\n", found, missing, nkeys);
}

/* --- main ------------------------------------------------------------------ */

/* $OMCACHE_TEST_SLACK: the factor every upper time bound of the tests is
 * multiplied by (default 1; a slow machine or valgrind sets more). */
static double test_slack(void)
{
    const char *s = getenv("OMCACHE_TEST_SLACK");
    char *end;
    double f = s && *s ? strtod(s, &end) : 1.0;
    if (s && *s && (*end != '\0' || !(f >= 1.0 && f <= 1000.0))) {
        fprintf(stderr, "threads: OMCACHE_TEST_SLACK=%s: expected a number from 1 to 1000\n", s);
        exit(2);
    }
    return f;
}

static void usage(void)
{
    fprintf(stderr, "usage: threads [-t THREADS] [-n OPS] [-k KEYS] [-w SECONDS] [-x] SERVERS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int opt, watchdog = (int) (600 * test_slack() + 0.5);
    while ((opt = getopt(argc, argv, "t:n:k:w:x")) != -1) {
        switch (opt) {
        case 't': nthreads = atoi(optarg); break;
        case 'n': nops = atoi(optarg); break;
        case 'k': nkeys = atoi(optarg); break;
        case 'w': watchdog = atoi(optarg); break;
        case 'x': strict_nested = 1; break;
        default: usage();
        }
    }
    if (argc - optind != 1 || nthreads < 1 || nthreads > MAX_THREADS || nops < 0 ||
        nkeys < 1 || nkeys > MAX_KEYS || watchdog < 1)
        usage();
    const char *servers = argv[optind];
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_watchdog;
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned) watchdog);

    w_main = nthreads;
    make_keys();
    attempted = calloc((size_t) (w_main + 1) * (size_t) nkeys * 32, 1);
    REQUIRE(attempted != NULL, "out of memory");

    /* the expected server of every key, and the servers, before anything runs */
    omcache_t *mc = new_handle(servers);
    for (nservers = 0; nservers <= MAX_SERVERS; nservers++) {
        omcache_server_info_t *info = omcache_server_info(mc, nservers);
        if (info == NULL)
            break;
        REQUIRE(nservers < MAX_SERVERS, "more than %d servers", MAX_SERVERS);
        server_port[nservers] = info->port;
        omcache_server_info_free(mc, info);
    }
    REQUIRE(nservers >= 1, "no servers in '%s'", servers);
    for (int k = 0; k < nkeys; k++) {
        key_server[k] = omcache_server_index_for_key(mc, keys[k], key_lens[k]);
        REQUIRE(key_server[k] >= 0 && key_server[k] < nservers, "key %d: server %d", k, key_server[k]);
    }
    for (int i = 0; i < nservers; i++) {
        int rc = omcache_flush_all(mc, 0, i, -1);
        REQUIRE(rc == OMCACHE_OK, "flush_all server %d: %d (%s)", i, rc, omcache_strerror(rc));
    }

    callbacks_phase(servers, 0);
    callbacks_phase(servers, 1);

    struct cb_stats st;
    memset(&st, 0, sizeof st);
    st.mc = mc;
    st.io_calls = 1;
    CHECK(omcache_set_response_callback(mc, response_cb, &st) == OMCACHE_OK, "set_response_callback");
    CHECK(omcache_set_log_callback(mc, LOG_INFO, log_cb, &st) == OMCACHE_OK, "set_log_callback");
    threads_phase(mc, &st);

    CHECK(omcache_set_response_callback(mc, NULL, NULL) == OMCACHE_OK, "unset response callback");
    verify_phase(mc);
    CHECK(omcache_free(mc) == OMCACHE_OK, "omcache_free");
    free(attempted);
    summary_and_exit();
    return 0;
}
