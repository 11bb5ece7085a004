/*
 * bench_routing.c - key -> server through OMcache's C API, no network:
 * how long building the continuum takes and how long a lookup takes, for
 * small and huge clusters (issue "Speed at the floor").
 *
 *     bench_routing SERVERS DISTRIBUTION [KEYS]
 *
 * SERVERS is a count (the list is 127.0.0.1:20000, :20001, ...; nothing is
 * connected: omcache_server_index_for_key only routes), DISTRIBUTION is
 * ketama (OMcache's default) or weighted, KEYS the number of distinct keys
 * looked up (default 200,000; each looked up 5 times).  Lookups are timed
 * twice: with the keys taken in order, as an application looks up a key it
 * has just built (the key's bytes are in the cache; the hash still sends
 * each lookup to a random place of the continuum), and in a scrambled order,
 * where reading each key from the 6 MB of keys is itself a cache miss the
 * bench adds to every lookup.
 * Prints: "routing SERVERS DIST build_ms BUILD ns_per_key NS scrambled_ns SNS".
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omcache.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static unsigned long gcd(unsigned long a, unsigned long b)
{
    while (b != 0) {
        unsigned long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVERS ketama|weighted [KEYS]\n", argv[0]);
        return 2;
    }
    long servers = atol(argv[1]);
    const char *dist = argv[2];
    long keys = argc > 3 ? atol(argv[3]) : 200000;
    if (servers < 1 || servers > 40000 || keys < 1) {
        fprintf(stderr, "bench_routing: bad SERVERS or KEYS\n");
        return 2;
    }
    size_t list_size = (size_t) servers * 24 + 1;
    char *list = malloc(list_size);
    size_t used = 0;
    for (long i = 0; i < servers; i++)
        used += (size_t) snprintf(list + used, list_size - used, "%s127.0.0.1:%ld", i ? "," : "", 20000 + i);

    omcache_t *mc = omcache_init();
    omcache_set_log_callback(mc, 0, NULL, NULL);
    if (strcmp(dist, "weighted") == 0)
        omcache_set_distribution_method(mc, &omcache_dist_libmemcached_ketama_weighted);
    else if (strcmp(dist, "ketama") != 0) {
        fprintf(stderr, "bench_routing: DISTRIBUTION is ketama or weighted\n");
        return 2;
    }
    double t0 = now_s();
    if (omcache_set_servers(mc, list) != OMCACHE_OK) {
        fprintf(stderr, "bench_routing: omcache_set_servers failed\n");
        return 1;
    }
    /* The continuum may be built lazily: the first lookup is part of the build. */
    (void) omcache_server_index_for_key(mc, (const unsigned char *) "x", 1);
    double build = now_s() - t0;

    char (*key)[24] = malloc((size_t) keys * sizeof *key);
    size_t *len = malloc((size_t) keys * sizeof *len);
    for (long i = 0; i < keys; i++)
        len[i] = (size_t) snprintf(key[i], sizeof key[i], "key:%ld", i);

    long lookups = keys * 5, checksum = 0;
    double t1 = now_s();
    unsigned long k = 0;
    for (long i = 0; i < lookups; i++) {
        checksum += omcache_server_index_for_key(mc, (const unsigned char *) key[k], len[k]);
        k = k + 1 == (unsigned long) keys ? 0 : k + 1;
    }
    double in_order = now_s() - t1;

    /* A stride coprime with KEYS visits every key once per pass, far from the last one. */
    unsigned long step = 2654435761UL % (unsigned long) keys;
    while (keys > 1 && (step == 0 || gcd((unsigned long) keys, step) != 1))
        step++;
    long scrambled_sum = 0;
    t1 = now_s();
    k = 0;
    for (long i = 0; i < lookups; i++) {
        scrambled_sum += omcache_server_index_for_key(mc, (const unsigned char *) key[k], len[k]);
        k = (k + step) % (unsigned long) keys;
    }
    double scrambled = now_s() - t1;
    if (scrambled_sum != checksum) {
        fprintf(stderr, "bench_routing: the two walks routed differently\n");
        return 1;
    }
    printf("routing %ld %s build_ms %.2f ns_per_key %.1f scrambled_ns %.1f checksum %ld\n", servers, dist,
           build * 1e3, in_order * 1e9 / (double) lookups, scrambled * 1e9 / (double) lookups, checksum);
    omcache_free(mc);
    free(list);
    free(key);
    free(len);
    return 0;
}
