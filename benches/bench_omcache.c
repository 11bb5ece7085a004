/*
 * bench_omcache.c - the benchmark workloads with OMcache (libomcache)
 *
 *     bench_omcache populate|get|set|multiget|buffered SERVERS N
 *     bench_omcache million SERVERS N
 *
 * See bench_common.h for the workloads.  "million" is our own stress test:
 * N (e.g. 1,000,000) buffered sets flushed with one omcache_io() call, then
 * checked with the servers' curr_items statistics (the servers should be
 * fresh; they are flushed first).
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <omcache.h>

#include "bench_common.h"

static omcache_t *mc;
static long errors = 0;
static omcache_req_t reqs[MULTI_KEYS];
static omcache_value_t values[MULTI_KEYS];

static void fail(const char *what, long i, int rc)
{
    if (errors++ < 5)
        fprintf(stderr, "bench_omcache: %s #%ld: %s\n", what, i, omcache_strerror(rc));
}

static void populate(void)
{
    for (int i = 0; i < KEYS; i++) {
        int rc = omcache_set(mc, (const unsigned char *) bench_keys[i], bench_key_lens[i],
                             (const unsigned char *) bench_value, VALUE_SIZE, 0, 0, 0, -1);
        if (rc != OMCACHE_OK)
            fail("populate", i, rc);
    }
}

static void workload_get(long n)
{
    for (long i = 0; i < n; i++) {
        int k = (int) (i % KEYS);
        const unsigned char *value;
        size_t value_len;
        uint32_t flags;
        int rc = omcache_get(mc, (const unsigned char *) bench_keys[k], bench_key_lens[k],
                             &value, &value_len, &flags, NULL, -1);
        if (rc != OMCACHE_OK || value_len != VALUE_SIZE)
            fail("get", i, rc);
    }
}

static void workload_set(long n)
{
    char key[32];
    for (long i = 0; i < n; i++) {
        size_t key_len = bench_set_key(key, i % 100000);
        int rc = omcache_set(mc, (const unsigned char *) key, key_len,
                             (const unsigned char *) bench_value, VALUE_SIZE, 0, 0, 0, -1);
        if (rc != OMCACHE_OK)
            fail("set", i, rc);
    }
}

static void workload_multiget(long n)
{
    const unsigned char *keys[MULTI_KEYS];
    size_t key_lens[MULTI_KEYS];
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < MULTI_KEYS; j++) {
            int k = (int) ((i * MULTI_KEYS + j) % KEYS);
            keys[j] = (const unsigned char *) bench_keys[k];
            key_lens[j] = bench_key_lens[k];
        }
        size_t req_count = MULTI_KEYS, value_count = MULTI_KEYS, got = 0;
        int rc = omcache_get_multi(mc, keys, key_lens, MULTI_KEYS, reqs, &req_count,
                                   values, &value_count, -1);
        got += value_count;
        while (rc == OMCACHE_AGAIN && req_count > 0) {
            value_count = MULTI_KEYS;
            rc = omcache_io(mc, reqs, &req_count, values, &value_count, -1);
            got += value_count;
        }
        if (rc != OMCACHE_OK || got != MULTI_KEYS)
            fail("multiget", i, rc != OMCACHE_OK ? rc : OMCACHE_NOT_FOUND);
    }
}

/* Sets with timeout 0 in buffering mode only fill the send buffers.  After
 * each batch, omcache_io() with timeout 0 writes what the sockets take
 * without waiting for answers -- the same work as libmemcached's
 * memcached_flush_buffers(), which writes and does not read.  One
 * omcache_io() with timeout -1 at the end waits until the servers have
 * confirmed everything (inside the measured time). */
static void workload_buffered(long n, long batch)
{
    char key[32];
    for (long i = 0; i < n; i++) {
        size_t key_len = bench_set_key(key, i % 1000000);
        int rc = omcache_set(mc, (const unsigned char *) key, key_len,
                             (const unsigned char *) bench_value, VALUE_SIZE, 0, 0, 0, 0);
        if (rc == OMCACHE_BUFFER_FULL) {
            /* The servers fell behind (a loaded machine) and the send buffer limit is
             * reached: wait until they have taken what is queued, then queue it again. */
            rc = omcache_io(mc, NULL, NULL, NULL, NULL, -1);
            if (rc != OMCACHE_OK)
                fail("flush on a full buffer", i, rc);
            rc = omcache_set(mc, (const unsigned char *) key, key_len,
                             (const unsigned char *) bench_value, VALUE_SIZE, 0, 0, 0, 0);
        }
        if (rc != OMCACHE_BUFFERED)
            fail("buffered set", i, rc);
        if ((i + 1) % batch == 0 && i + 1 < n) {
            rc = omcache_io(mc, NULL, NULL, NULL, NULL, 0);
            if (rc != OMCACHE_OK && rc != OMCACHE_AGAIN)
                fail("flush", i, rc);
        }
    }
    int rc = omcache_io(mc, NULL, NULL, NULL, NULL, -1);
    if (rc != OMCACHE_OK)
        fail("final flush", n, rc);
}

static const char *workload;
static long n_ops;

/* The measured part (callgrind: --toggle-collect=run_workload). */
__attribute__((noinline)) void run_workload(void)
{
    if (strcmp(workload, "get") == 0)
        workload_get(n_ops);
    else if (strcmp(workload, "set") == 0)
        workload_set(n_ops);
    else if (strcmp(workload, "multiget") == 0)
        workload_multiget(n_ops);
    else if (strcmp(workload, "buffered") == 0)
        workload_buffered(n_ops, bench_batch());
    else if (strcmp(workload, "million") == 0)
        workload_buffered(n_ops, n_ops);
}

static int server_count(void)
{
    int n = 0;
    omcache_server_info_t *info;
    while ((info = omcache_server_info(mc, n)) != NULL) {
        omcache_server_info_free(mc, info);
        n++;
    }
    return n;
}

static long long stat_sum(const char *name)
{
    static omcache_value_t stats[512];
    long long total = 0;
    int n = server_count();
    for (int s = 0; s < n; s++) {
        size_t count = 512;
        int rc = omcache_stat(mc, NULL, stats, &count, s, -1);
        if (rc != OMCACHE_OK)
            fail("stat", s, rc);
        for (size_t i = 0; i < count; i++) {
            if (stats[i].key_len == strlen(name) && memcmp(stats[i].key, name, stats[i].key_len) == 0) {
                char buf[32] = "";
                memcpy(buf, stats[i].data, stats[i].data_len < 31 ? stats[i].data_len : 31);
                total += atoll(buf);
            }
        }
    }
    return total;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        bench_usage(argv[0]);
    workload = argv[1];
    n_ops = atol(argv[3]);
    bench_init_data();

    mc = omcache_init();
    if (mc == NULL || omcache_set_servers(mc, argv[2]) != OMCACHE_OK) {
        fprintf(stderr, "bench_omcache: cannot set up the handle\n");
        return 1;
    }
    if (strcmp(workload, "populate") == 0) {
        populate();
        omcache_free(mc);
        return errors ? 1 : 0;
    }
    if (strcmp(workload, "get") && strcmp(workload, "set") && strcmp(workload, "multiget")
        && strcmp(workload, "buffered") && strcmp(workload, "million"))
        bench_usage(argv[0]);

    int nservers = server_count();
    if (strcmp(workload, "million") == 0) {
        /* ~150 bytes per set on the wire: give each server's send buffer
         * room for its share of all of them at once. */
        size_t per_server = (size_t) n_ops * 160 / (size_t) (nservers ? nservers : 1);
        omcache_set_send_buffer_max_size(mc, per_server * 2 + 1024 * 1024);
        for (int s = 0; s < nservers; s++)
            if (omcache_flush_all(mc, 0, s, -1) != OMCACHE_OK)
                fail("flush_all", s, OMCACHE_FAIL);
    }
    if (strcmp(workload, "buffered") == 0 || strcmp(workload, "million") == 0)
        omcache_set_buffering(mc, 1);

    /* Connect to every server before the clock starts. */
    for (int s = 0; s < nservers; s++)
        omcache_noop(mc, s, -1);

    double start = bench_now();
    run_workload();
    double secs = bench_now() - start;

    if (strcmp(workload, "buffered") == 0 || strcmp(workload, "million") == 0) {
        omcache_set_buffering(mc, 0);
        /* Spot check: the last key stored. */
        char key[32];
        size_t key_len = bench_set_key(key, (n_ops - 1) % 1000000);
        size_t value_len = 0;
        int rc = omcache_get(mc, (const unsigned char *) key, key_len, NULL, &value_len, NULL, NULL, -1);
        if (rc != OMCACHE_OK || value_len != VALUE_SIZE)
            fail("check get", n_ops - 1, rc);
    }
    bench_report(workload, n_ops, secs);
    if (strcmp(workload, "million") == 0) {
        long long items = stat_sum("curr_items");
        printf("curr_items %lld over %d servers (expected %ld): %s\n", items, nservers, n_ops,
               items == n_ops ? "all stored" : "MISMATCH");
        if (items != n_ops)
            errors++;
    }
    omcache_free(mc);
    if (errors) {
        fprintf(stderr, "bench_omcache: %ld errors\n", errors);
        return 1;
    }
    return 0;
}
