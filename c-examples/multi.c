/*
 * multi.c - fetch many keys at once with omcache_get_multi and
 *           omcache_gat_multi, including the partial-progress loop
 *
 * A multi-get sends one quiet get per key, grouped per server, so the keys
 * of all servers are fetched in parallel.  Keys that do not exist simply
 * produce no value.  If the call runs out of time (or the values would no
 * longer fit in the receive buffers) it returns OMCACHE_AGAIN with what it
 * has so far; the requests still waiting stay in `reqs`/`req_count` and the
 * caller continues with omcache_io() until req_count drops to 0:
 *
 *     req_count = N; value_count = N;
 *     rc = omcache_get_multi(mc, keys, lens, N, reqs, &req_count, values, &value_count, T);
 *     use(values, value_count);
 *     while (req_count > 0) {
 *         value_count = N;
 *         rc = omcache_io(mc, reqs, &req_count, values, &value_count, T);
 *         use(values, value_count);    // earlier values are invalid now
 *     }
 *
 * Usage: multi SERVERS        (meant for 4 servers)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MAX_KEYS 1000

static char key_text[MAX_KEYS][64];
static const unsigned char *keys[MAX_KEYS];
static size_t key_lens[MAX_KEYS];
static omcache_req_t reqs[MAX_KEYS + 16];
static omcache_value_t values[MAX_KEYS + 16];
static int seen[MAX_KEYS];

/* Make n keys named "<prefix>-<i>". */
static void make_keys(const char *prefix, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(key_text[i], sizeof key_text[i], "%s-%ld-%zu", prefix, (long) getpid(), i);
        keys[i] = (const unsigned char *) key_text[i];
        key_lens[i] = strlen(key_text[i]);
        seen[i] = 0;
    }
}

/* The value stored under key i: `size` bytes derived from i. */
static void value_for(size_t i, unsigned char *buf, size_t size)
{
    for (size_t j = 0; j < size; j++)
        buf[j] = (unsigned char) ('a' + (i * 7 + j) % 26);
}

/* Which key (index) a returned value belongs to, or -1. */
static long key_index(const omcache_value_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v->key_len == key_lens[i] && memcmp(v->key, keys[i], v->key_len) == 0)
            return (long) i;
    return -1;
}

/* Check one batch of returned values; counts them in seen[]. */
static void consume(const omcache_value_t *vals, size_t count, size_t n, size_t value_size, int want_flags)
{
    static unsigned char want[65536];
    for (size_t j = 0; j < count; j++) {
        const omcache_value_t *v = &vals[j];
        long i = key_index(v, n);
        CHECK(i >= 0, "value %zu has an unknown key '%.*s'", j, (int) v->key_len, (const char *) v->key);
        if (i < 0)
            continue;
        CHECK(v->status == OMCACHE_OK, "key %s: status %d (%s)", key_text[i], v->status, omcache_strerror(v->status));
        value_for((size_t) i, want, value_size);
        CHECK(v->data_len == value_size && memcmp(v->data, want, value_size) == 0,
              "key %s: wrong data (%zu bytes)", key_text[i], v->data_len);
        if (want_flags)
            CHECK(v->flags == (uint32_t) i, "key %s: flags %u, expected %ld", key_text[i], v->flags, i);
        CHECK(v->cas != 0, "key %s: cas 0", key_text[i]);
        seen[i]++;
    }
}

/* Store keys[0..n) except every `skip`th one (skip 0: store all). */
static void store(omcache_t *mc, size_t n, size_t value_size, size_t skip)
{
    static unsigned char buf[65536];
    for (size_t i = 0; i < n; i++) {
        if (skip && i % skip == 0)
            continue;
        value_for(i, buf, value_size);
        CHECK_RC(omcache_set(mc, keys[i], key_lens[i], buf, value_size, 0, (uint32_t) i, 0, -1), OMCACHE_OK);
    }
}

static size_t count_seen(size_t n, int *dups)
{
    size_t found = 0;
    *dups = 0;
    for (size_t i = 0; i < n; i++) {
        if (seen[i])
            found++;
        if (seen[i] > 1)
            (*dups)++;
    }
    return found;
}

int main(int argc, char **argv)
{
    const char *servers = servers_arg(argc, argv, 1);
    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);
    int dups;

    /* --- 1. a blocking multi-get; every 4th key is missing ------------ */
    size_t n = 400;
    make_keys("multi-a", n);
    store(mc, n, 100, 4);

    /* The keys are spread over all servers (omcache_server_info returns
     * NULL past the last server). */
    int server_count = 0;
    omcache_server_info_t *info;
    while ((info = omcache_server_info(mc, server_count)) != NULL) {
        omcache_server_info_free(mc, info);
        server_count++;
    }
    int per_server[64] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int idx = omcache_server_index_for_key(mc, keys[i], key_lens[i]);
        if (idx >= 0 && idx < 64)
            per_server[idx]++;
    }
    printf("%zu keys over %d servers:", n, server_count);
    for (int s = 0; s < server_count && s < 64; s++) {
        printf(" %d", per_server[s]);
        CHECK(per_server[s] > 0, "server %d got none of %zu keys", s, n);
    }
    printf("\n");

    size_t req_count = n, value_count = n;
    CHECK_RC(omcache_get_multi(mc, keys, key_lens, n, reqs, &req_count, values, &value_count, -1), OMCACHE_OK);
    CHECK(req_count == 0, "req_count is %zu after OMCACHE_OK", req_count);
    consume(values, value_count, n, 100, 1);
    size_t found = count_seen(n, &dups);
    CHECK(found == 300 && value_count == 300 && dups == 0,
          "got %zu values for %zu keys (%d duplicates), expected 300", value_count, found, dups);

    /* More request slots than keys is fine: exactly key_count gets are sent. */
    make_keys("multi-a", n);
    req_count = n + 16;
    value_count = n + 16;
    CHECK_RC(omcache_get_multi(mc, keys, key_lens, n, reqs, &req_count, values, &value_count, -1), OMCACHE_OK);
    consume(values, value_count, n, 100, 1);
    CHECK(value_count == 300, "%zu values with spare request slots, expected 300", value_count);

    /* --- 2. partial progress: more data than the receive buffers hold -- */
    /* 200 values of 30 kB = 6 MB; each server's receive buffer is limited
     * to 256 kB here, so the multi-get returns in several rounds. */
    n = 200;
    make_keys("multi-big", n);
    store(mc, n, 30000, 0);
    CHECK_RC(omcache_set_recv_buffer_max_size(mc, 256 * 1024), OMCACHE_OK);
    req_count = n;
    value_count = n;
    int rc = omcache_get_multi(mc, keys, key_lens, n, reqs, &req_count, values, &value_count, -1);
    CHECK(rc == OMCACHE_OK || rc == OMCACHE_AGAIN, "get_multi returned %d (%s)", rc, omcache_strerror(rc));
    consume(values, value_count, n, 30000, 1);
    int rounds = 1;
    while (req_count > 0 && rounds < 10000) {
        value_count = n;
        rc = omcache_io(mc, reqs, &req_count, values, &value_count, -1);
        CHECK(rc == OMCACHE_OK || rc == OMCACHE_AGAIN, "omcache_io returned %d (%s)", rc, omcache_strerror(rc));
        consume(values, value_count, n, 30000, 1);   /* use values before the next call */
        rounds++;
    }
    found = count_seen(n, &dups);
    CHECK(found == n && dups == 0, "partial progress: %zu of %zu keys, %d duplicates", found, n, dups);
    printf("6 MB multi-get with 256 kB receive buffers: %d rounds\n", rounds);
    CHECK_RC(omcache_set_recv_buffer_max_size(mc, 1024 * (1024 + 32)), OMCACHE_OK);

    /* --- 3. the same loop with a short timeout per call --------------- */
    make_keys("multi-big", n);
    req_count = n;
    value_count = n;
    rc = omcache_get_multi(mc, keys, key_lens, n, reqs, &req_count, values, &value_count, 1);
    CHECK(rc == OMCACHE_OK || rc == OMCACHE_AGAIN, "get_multi returned %d (%s)", rc, omcache_strerror(rc));
    consume(values, value_count, n, 30000, 1);
    rounds = 1;
    while (req_count > 0 && rounds < 100000) {
        value_count = n;
        rc = omcache_io(mc, reqs, &req_count, values, &value_count, 1);
        consume(values, value_count, n, 30000, 1);
        rounds++;
    }
    CHECK_RC(rc, OMCACHE_OK);
    found = count_seen(n, &dups);
    CHECK(found == n && dups == 0, "1 ms rounds: %zu of %zu keys, %d duplicates", found, n, dups);
    printf("6 MB multi-get with a 1 ms timeout per call: %d rounds\n", rounds);

    /* --- 4. get-and-touch many keys ----------------------------------- */
    /* Every key gets its own new expiration: even keys 1 second, odd keys
     * none (0 = never expire). */
    n = 100;
    make_keys("multi-gat", n);
    store(mc, n, 50, 0);
    time_t expirations[100];
    for (size_t i = 0; i < n; i++)
        expirations[i] = (i % 2 == 0) ? 1 : 0;
    req_count = n;
    value_count = n;
    CHECK_RC(omcache_gat_multi(mc, keys, key_lens, expirations, n, reqs, &req_count, values, &value_count, 2000),
             OMCACHE_OK);
    consume(values, value_count, n, 50, 1);   /* gat reports the real flags */
    found = count_seen(n, &dups);
    CHECK(found == n, "gat_multi returned %zu of %zu keys", found, n);

    struct timespec pause = { 2, 500000000L };
    nanosleep(&pause, NULL);

    make_keys("multi-gat", n);
    req_count = n;
    value_count = n;
    CHECK_RC(omcache_get_multi(mc, keys, key_lens, n, reqs, &req_count, values, &value_count, -1), OMCACHE_OK);
    consume(values, value_count, n, 50, 1);
    int expired_ok = 1;
    for (size_t i = 0; i < n; i++)
        if (seen[i] != (i % 2 == 1))
            expired_ok = 0;
    CHECK(expired_ok && value_count == n / 2,
          "after 2.5 s: %zu keys left, expected only the %zu odd ones", value_count, n / 2);

    /* --- 5. no key exists: nothing comes back, quickly ---------------- */
    make_keys("multi-none", 50);
    req_count = 50;
    value_count = 50;
    CHECK_RC(omcache_get_multi(mc, keys, key_lens, 50, reqs, &req_count, values, &value_count, 2000), OMCACHE_OK);
    CHECK(value_count == 0, "%zu values for missing keys", value_count);

    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
