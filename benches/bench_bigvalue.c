/*
 * bench_bigvalue.c - gets of big values, OMcache's C API against libmemcached
 *
 *     bench_bigvalue_omcache      populate|get|mget SERVERS SIZE N
 *     bench_bigvalue_libmemcached populate|get|mget SERVERS SIZE N
 *
 * One source, built twice: with -DBIGVALUE_OMCACHE against libomcache, with
 * -DBIGVALUE_LIBMEMCACHED against libmemcached (binary protocol, ketama and
 * TCP_NODELAY, as in bench_libmemcached.c).  "populate" stores BIG_KEYS keys
 * of SIZE bytes each (the server needs -I above SIZE for 1,000,000 bytes);
 * "get" reads them N times in turn, one blocking get each, and checks every
 * value's length and its first and last bytes, which name its key (a value
 * that is another key's bytes counts as an error).  "mget" fetches all
 * BIG_KEYS keys in one call N times (OMcache: omcache_get_multi, its values
 * valid together until the next call; libmemcached: memcached_mget and
 * memcached_fetch_result into one reused result).  Neither client scans
 * the whole value: the work measured is the library's.  libmemcached hands
 * a malloc'd copy that the caller frees; OMcache lends its receive buffer
 * until the next call.
 *
 * Prints "WORKLOAD N SECONDS OPS_PER_SECOND" like the other benchmarks; the
 * measured function is run_workload() (callgrind --toggle-collect).
 * benches/bigvalue.sh runs both and compares.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(BIGVALUE_OMCACHE)
#include <omcache.h>
#define CLIENT "omcache"
#elif defined(BIGVALUE_LIBMEMCACHED)
#include <libmemcached/memcached.h>
#define CLIENT "libmemcached"
#else
#error "build with -DBIGVALUE_OMCACHE or -DBIGVALUE_LIBMEMCACHED"
#endif

#define BIG_KEYS 4

static char keys[BIG_KEYS][48];
static size_t key_lens[BIG_KEYS];
static size_t value_size;
static long n_ops;
static long errors;

/* Key i's value: its bytes are 'A' + i, then the pattern; the last one is
 * 'a' + i.  A value read for key i must start and end with those. */
static unsigned char *make_value(int i)
{
    unsigned char *v = malloc(value_size);
    if (v == NULL) {
        perror("malloc");
        exit(1);
    }
    for (size_t j = 0; j < value_size; j++)
        v[j] = (unsigned char) ('0' + j % 64);
    v[0] = (unsigned char) ('A' + i);
    v[value_size - 1] = (unsigned char) ('a' + i);
    return v;
}

static void check(long op, int k, const unsigned char *v, size_t len)
{
    if (len != value_size || v == NULL || v[0] != 'A' + k || v[len - 1] != 'a' + k) {
        if (errors++ < 5)
            fprintf(stderr, "bench_bigvalue_" CLIENT ": get #%ld: wrong value (length %zu)\n", op,
                    len);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

#if defined(BIGVALUE_OMCACHE)

static omcache_t *mc;

static int setup(const char *servers)
{
    mc = omcache_init();
    if (mc == NULL || omcache_set_servers(mc, servers) != OMCACHE_OK)
        return -1;
    /* The default receive limit (1,056 KiB) holds a 1,000,000-byte value and
     * its header; larger values need more. */
    if (value_size + 4096 > 1024 * 1056)
        omcache_set_recv_buffer_max_size(mc, value_size + 4096);
    omcache_noop(mc, 0, -1);
    return 0;
}

static int store(int k, const unsigned char *v)
{
    int rc = omcache_set(mc, (const unsigned char *) keys[k], key_lens[k], v, value_size, 0, 0, 0,
                         -1);
    if (rc != OMCACHE_OK)
        fprintf(stderr, "bench_bigvalue_omcache: set: %s\n", omcache_strerror(rc));
    return rc == OMCACHE_OK ? 0 : -1;
}

static void get_loop(void)
{
    for (long i = 0; i < n_ops; i++) {
        int k = (int) (i % BIG_KEYS);
        const unsigned char *value = NULL;
        size_t value_len = 0;
        uint32_t flags;
        int rc = omcache_get(mc, (const unsigned char *) keys[k], key_lens[k], &value, &value_len,
                             &flags, NULL, -1);
        if (rc != OMCACHE_OK)
            value = NULL;
        check(i, k, value, value_len);
    }
}

static void mget_loop(void)
{
    const unsigned char *key_ptrs[BIG_KEYS];
    size_t lens[BIG_KEYS];
    omcache_req_t reqs[BIG_KEYS];
    omcache_value_t values[BIG_KEYS];
    for (int k = 0; k < BIG_KEYS; k++) {
        key_ptrs[k] = (const unsigned char *) keys[k];
        lens[k] = key_lens[k];
    }
    for (long i = 0; i < n_ops; i++) {
        size_t req_count = BIG_KEYS, value_count = BIG_KEYS, got = 0;
        int rc = omcache_get_multi(mc, key_ptrs, lens, BIG_KEYS, reqs, &req_count, values,
                                   &value_count, -1);
        for (;;) {
            for (size_t v = 0; v < value_count; v++, got++) {
                int k = values[v].key_len ? values[v].key[values[v].key_len - 1] - '0' : 0;
                check(i, k, values[v].data, values[v].data_len);
            }
            if (rc != OMCACHE_AGAIN || req_count == 0)
                break;
            value_count = BIG_KEYS;
            rc = omcache_io(mc, reqs, &req_count, values, &value_count, -1);
        }
        if (rc != OMCACHE_OK || got != BIG_KEYS)
            check(i, 0, NULL, 0);
    }
}

static void teardown(void)
{
    omcache_free(mc);
}

#else /* libmemcached */

static memcached_st *mc;

static int setup(const char *servers)
{
    mc = memcached_create(NULL);
    memcached_server_st *list = memcached_servers_parse(servers);
    if (mc == NULL || list == NULL || memcached_server_push(mc, list) != MEMCACHED_SUCCESS)
        return -1;
    memcached_server_list_free(list);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    /* Connect before the clock starts. */
    memcached_return_t rc;
    size_t len;
    uint32_t flags;
    free(memcached_get(mc, "bigvalue:connect", 16, &len, &flags, &rc));
    return 0;
}

static int store(int k, const unsigned char *v)
{
    memcached_return_t rc = memcached_set(mc, keys[k], key_lens[k], (const char *) v, value_size,
                                          0, 0);
    if (rc != MEMCACHED_SUCCESS)
        fprintf(stderr, "bench_bigvalue_libmemcached: set: %s\n", memcached_strerror(mc, rc));
    return rc == MEMCACHED_SUCCESS ? 0 : -1;
}

static void get_loop(void)
{
    for (long i = 0; i < n_ops; i++) {
        int k = (int) (i % BIG_KEYS);
        size_t value_len = 0;
        uint32_t flags;
        memcached_return_t rc;
        char *value = memcached_get(mc, keys[k], key_lens[k], &value_len, &flags, &rc);
        check(i, k, (const unsigned char *) (rc == MEMCACHED_SUCCESS ? value : NULL), value_len);
        free(value);
    }
}

static void mget_loop(void)
{
    const char *key_ptrs[BIG_KEYS];
    memcached_result_st result;
    memcached_result_create(mc, &result);
    for (int k = 0; k < BIG_KEYS; k++)
        key_ptrs[k] = keys[k];
    for (long i = 0; i < n_ops; i++) {
        memcached_return_t rc = memcached_mget(mc, key_ptrs, key_lens, BIG_KEYS);
        int got = 0;
        while (rc == MEMCACHED_SUCCESS && memcached_fetch_result(mc, &result, &rc) != NULL) {
            size_t kl = memcached_result_key_length(&result);
            int k = kl ? memcached_result_key_value(&result)[kl - 1] - '0' : 0;
            check(i, k, (const unsigned char *) memcached_result_value(&result),
                  memcached_result_length(&result));
            got++;
        }
        if (got != BIG_KEYS)
            check(i, 0, NULL, 0);
    }
    memcached_result_free(&result);
}

static void teardown(void)
{
    memcached_free(mc);
}

#endif

/* The measured part (callgrind: --toggle-collect=run_workload). */
static int multi;

__attribute__((noinline)) void run_workload(void)
{
    if (multi)
        mget_loop();
    else
        get_loop();
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[1], "populate") && strcmp(argv[1], "get")
                      && strcmp(argv[1], "mget"))) {
        fprintf(stderr, "usage: %s populate|get|mget SERVERS SIZE N\n", argv[0]);
        return 2;
    }
    value_size = (size_t) atol(argv[3]);
    n_ops = atol(argv[4]);
    if (value_size < 2) {
        fprintf(stderr, "%s: SIZE must be at least 2\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < BIG_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "bigvalue:%zu:%d", value_size, i);
        key_lens[i] = strlen(keys[i]);
    }
    if (setup(argv[2]) != 0) {
        fprintf(stderr, "%s: cannot set up the handle\n", argv[0]);
        return 1;
    }
    if (strcmp(argv[1], "populate") == 0) {
        for (int i = 0; i < BIG_KEYS; i++) {
            unsigned char *v = make_value(i);
            if (store(i, v) != 0)
                errors++;
            free(v);
        }
    } else {
        multi = strcmp(argv[1], "mget") == 0;
        double start = now_s();
        run_workload();
        double secs = now_s() - start;
        printf("%s %ld %.6f %.1f\n", argv[1], n_ops, secs, secs > 0 ? n_ops / secs : 0.0);
    }
    teardown();
    if (errors) {
        fprintf(stderr, "%s: %ld errors\n", argv[0], errors);
        return 1;
    }
    return 0;
}
