/*
 * bench_cluster.c - the cost of a request as the cluster grows
 *
 *     bench_cluster omcache|libmemcached LIVE_PORT SERVERS N
 *
 * The server list has SERVERS entries: the live memcached on 127.0.0.1:LIVE_PORT
 * first, then 127.0.0.1 ports from 40001 on where nothing is expected to
 * listen and nothing is ever sent (only keys that map to the live server are
 * used: 200 of them, found through the client's own key-to-server function and
 * stored first).  N sequential gets of those keys are timed in run_gets()
 * (callgrind: --toggle-collect=run_gets).  Prints "SERVERS N SECONDS US_PER_GET".
 * Both clients use ketama over the binary protocol; libmemcached 1.1.4 cannot
 * hold more than a few hundred servers in its continuum (it aborts in
 * hosts.cc), so benches/cluster.sh runs it up to 100.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <libmemcached/memcached.h>
#include <omcache.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS 200

static char keys[KEYS][24];
static size_t key_lens[KEYS];
static omcache_t *oc;
static memcached_st *lm;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static int owner(const char *key, size_t len)
{
    if (oc)
        return omcache_server_index_for_key(oc, (const unsigned char *) key, len);
    return (int) memcached_generate_hash(lm, key, len);
}

__attribute__((noinline)) static long run_gets(long n)
{
    long errors = 0;
    for (long i = 0; i < n; i++) {
        int k = (int) (i % KEYS);
        if (oc) {
            const unsigned char *v;
            size_t vl;
            if (omcache_get(oc, (const unsigned char *) keys[k], key_lens[k], &v, &vl, NULL, NULL,
                            2000) != OMCACHE_OK)
                errors++;
        } else {
            size_t vl;
            uint32_t flags;
            memcached_return_t rc;
            char *v = memcached_get(lm, keys[k], key_lens[k], &vl, &flags, &rc);
            if (v == NULL)
                errors++;
            free(v);
        }
    }
    return errors;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_cluster omcache|libmemcached LIVE_PORT SERVERS N\n");
        return 2;
    }
    int live = atoi(argv[2]), servers = atoi(argv[3]);
    long n = atol(argv[4]);
    if (strcmp(argv[1], "omcache") == 0) {
        size_t cap = (size_t) servers * 20 + 32, len = 0;
        char *list = malloc(cap);
        if (list == NULL)
            return 1;
        len += (size_t) snprintf(list, cap, "127.0.0.1:%d", live);
        for (int i = 1; i < servers; i++)
            len += (size_t) snprintf(list + len, cap - len, ",127.0.0.1:%d", 40000 + i);
        oc = omcache_init();
        if (omcache_set_servers(oc, list) != OMCACHE_OK)
            return 1;
        free(list);
    } else {
        lm = memcached_create(NULL);
        memcached_behavior_set(lm, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
        memcached_behavior_set(lm, MEMCACHED_BEHAVIOR_KETAMA, 1);
        memcached_behavior_set(lm, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
        memcached_server_add(lm, "127.0.0.1", (in_port_t) live);
        for (int i = 1; i < servers; i++)
            memcached_server_add(lm, "127.0.0.1", (in_port_t) (40000 + i));
    }
    /* The live server's index: OMcache sorts the list (as the C library did). */
    int live_index = 0;
    for (int i = 0; oc && i < servers; i++) {
        omcache_server_info_t *info = omcache_server_info(oc, i);
        int is_live = info != NULL && info->port == live;
        omcache_server_info_free(oc, info);
        if (is_live) {
            live_index = i;
            break;
        }
    }
    int found = 0;
    for (long i = 0; i < 10000000 && found < KEYS; i++) {
        int len = snprintf(keys[found], sizeof keys[found], "cluster:%ld", i);
        if (owner(keys[found], (size_t) len) == live_index)
            key_lens[found++] = (size_t) len;
    }
    if (found < KEYS) {
        fprintf(stderr, "bench_cluster: only %d keys on the live server\n", found);
        return 1;
    }
    for (int k = 0; k < KEYS; k++) {
        int bad = oc ? omcache_set(oc, (const unsigned char *) keys[k], key_lens[k],
                                   (const unsigned char *) "value", 5, 0, 0, 0, 2000) != OMCACHE_OK
                     : memcached_set(lm, keys[k], key_lens[k], "value", 5, 0, 0) != MEMCACHED_SUCCESS;
        if (bad) {
            fprintf(stderr, "bench_cluster: set failed\n");
            return 1;
        }
    }
    double t0 = now();
    long errors = run_gets(n);
    double t = now() - t0;
    if (errors) {
        fprintf(stderr, "bench_cluster: %ld errors\n", errors);
        return 1;
    }
    printf("%d %ld %.6f %.2f\n", servers, n, t, t / (double) n * 1e6);
    if (oc)
        omcache_free(oc);
    else
        memcached_free(lm);
    return 0;
}
