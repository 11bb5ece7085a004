/*
 * distribution.c - which server a key goes to
 *
 * Keys are spread over the servers with a ketama continuum.  Three methods
 * are built in, each matching a libmemcached configuration so that both
 * clients find the same keys on the same servers:
 *
 *   omcache_dist_libmemcached_ketama            (default)  MEMCACHED_BEHAVIOR_KETAMA=1
 *   omcache_dist_libmemcached_ketama_weighted             MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED=1
 *   omcache_dist_libmemcached_ketama_pre1010              libmemcached < 1.0.10's ketama
 *
 * A program can also bring its own method: an omcache_dist_t with its own
 * point and key hash functions.
 *
 * Usage: distribution SERVERS        (meant for 4 servers)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define MAX_SERVERS 16

/* --- a home-made distribution method ------------------------------------ */

static uint32_t fnv1a(const unsigned char *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* Point `point` of a server: the FNV-1a hash of "host/port/point". */
static uint32_t my_point_hash(const char *hostname, const char *portname, uint32_t point, uint32_t *hashes)
{
    char name[300];
    int n = snprintf(name, sizeof name, "%s/%s/%u", hostname, portname, (unsigned) point);
    hashes[0] = fnv1a((const unsigned char *) name, (size_t) n);
    return 1;
}

static uint32_t my_key_hash(const unsigned char *key, size_t key_len)
{
    return fnv1a(key, key_len);
}

static omcache_dist_t my_dist = {
    .omcache_version = OMCACHE_VERSION,
    .points_per_server = 20,
    .entries_per_point = 1,
    .point_hash_func = my_point_hash,
    .key_hash_func = my_key_hash,
};

/* The same continuum computed here, to check that the library used it. */
struct point { uint32_t hash; int server; };

static int cmp_point(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->server - y->server;      /* equal points: lower index first */
}

static int my_lookup(const struct point *points, size_t n, const unsigned char *key, size_t key_len)
{
    uint32_t h = my_key_hash(key, key_len);
    for (size_t i = 0; i < n; i++)
        if (points[i].hash >= h)
            return points[i].server;
    return points[0].server;           /* wrap around */
}

/* --- helpers -------------------------------------------------------------- */

static int server_count(omcache_t *mc)
{
    int n = 0;
    omcache_server_info_t *info;
    while ((info = omcache_server_info(mc, n)) != NULL) {
        omcache_server_info_free(mc, info);
        n++;
    }
    return n;
}

/* "host:port" of server idx, or "?" */
static const char *server_name(omcache_t *mc, int idx, char *buf, size_t size)
{
    omcache_server_info_t *info = omcache_server_info(mc, idx);
    if (info == NULL)
        return "?";
    snprintf(buf, size, "%s:%d", info->hostname, info->port);
    omcache_server_info_free(mc, info);
    return buf;
}

/* Store keys through mc, then look for each key on every server separately
 * (with one single-server handle per server): it must be on exactly the
 * server omcache_server_index_for_key named. */
static void check_placement(omcache_t *mc, omcache_t **single, int nservers, const char *method)
{
    char key[64];
    int wrong = 0, per_server[MAX_SERVERS] = { 0 };
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof key, "dist-%ld-%s-%d", (long) getpid(), method, i);
        int idx = omcache_server_index_for_key(mc, K(key));
        CHECK(idx >= 0 && idx < nservers, "%s: key %s maps to server %d", method, key, idx);
        if (idx < 0 || idx >= nservers)
            continue;
        per_server[idx]++;
        CHECK_RC(omcache_set(mc, K(key), K("here"), 0, 0, 0, -1), OMCACHE_OK);
        for (int s = 0; s < nservers; s++) {
            int rc = omcache_get(single[s], K(key), NULL, NULL, NULL, NULL, -1);
            if ((s == idx) != (rc == OMCACHE_OK))
                wrong++;
        }
    }
    CHECK(wrong == 0, "%s: %d keys were not (only) on the server index_for_key named", method, wrong);
    printf("%-40s 60 keys per server:", method);
    for (int s = 0; s < nservers; s++)
        printf(" %2d", per_server[s]);
    printf("\n");
}

/* Key -> server vectors produced by the original libmemcached for a fixed
 * list of five servers (no I/O is needed to look keys up). */
struct vector { omcache_dist_t *method; const char *key; const char *server; };
static const struct vector vectors[] = {
    { &omcache_dist_libmemcached_ketama, "key:0", "127.0.0.1:11211" },
    { &omcache_dist_libmemcached_ketama, "key:2", "cache-a.example:4000" },
    { &omcache_dist_libmemcached_ketama_weighted, "key:0", "127.0.0.1:11212" },
    { &omcache_dist_libmemcached_ketama_weighted, "key:1", "10.1.2.3:11211" },
    { &omcache_dist_libmemcached_ketama_weighted, "key:2", "cache-a.example:4000" },
    { &omcache_dist_libmemcached_ketama_weighted, "key:3", "127.0.0.1:11211" },
    { &omcache_dist_libmemcached_ketama_weighted, "key:4", "192.168.0.7:11211" },
    { &omcache_dist_libmemcached_ketama_pre1010, "key:0", "cache-a.example:4000" },
    { &omcache_dist_libmemcached_ketama_pre1010, "key:1", "127.0.0.1:11211" },
    { &omcache_dist_libmemcached_ketama_pre1010, "key:2", "192.168.0.7:11211" },
    { &omcache_dist_libmemcached_ketama_pre1010, "key:3", "10.1.2.3:11211" },
    { &omcache_dist_libmemcached_ketama_pre1010, "key:6", "127.0.0.1:11212" },
};

int main(int argc, char **argv)
{
    const char *servers = servers_arg(argc, argv, 1);
    char name[300];

    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);
    int nservers = server_count(mc);
    REQUIRE(nservers >= 2 && nservers <= MAX_SERVERS, "need 2-%d servers, got %d", MAX_SERVERS, nservers);

    /* One handle per server, to see where keys really are. */
    omcache_t *single[MAX_SERVERS];
    for (int s = 0; s < nservers; s++) {
        single[s] = omcache_init();
        CHECK_RC(omcache_set_servers(single[s], server_name(mc, s, name, sizeof name)), OMCACHE_OK);
    }

    /* --- the built-in methods, live ------------------------------------ */
    check_placement(mc, single, nservers, "default (libmemcached_ketama)");
    CHECK_RC(omcache_set_distribution_method(mc, &omcache_dist_libmemcached_ketama), OMCACHE_OK);
    check_placement(mc, single, nservers, "libmemcached_ketama");
    CHECK_RC(omcache_set_distribution_method(mc, &omcache_dist_libmemcached_ketama_weighted), OMCACHE_OK);
    check_placement(mc, single, nservers, "libmemcached_ketama_weighted");
    CHECK_RC(omcache_set_distribution_method(mc, &omcache_dist_libmemcached_ketama_pre1010), OMCACHE_OK);
    check_placement(mc, single, nservers, "libmemcached_ketama_pre1010");

    /* The objects keep OMcache 0.3's field values. */
    CHECK(omcache_dist_libmemcached_ketama.points_per_server == 100
          && omcache_dist_libmemcached_ketama.entries_per_point == 1, "ketama fields changed");
    CHECK(omcache_dist_libmemcached_ketama_weighted.points_per_server == 40
          && omcache_dist_libmemcached_ketama_weighted.entries_per_point == 4, "weighted fields changed");
    CHECK(omcache_dist_libmemcached_ketama_pre1010.points_per_server == 40
          && omcache_dist_libmemcached_ketama_pre1010.entries_per_point == 4, "pre1010 fields changed");

    /* --- our own method -------------------------------------------------- */
    CHECK_RC(omcache_set_distribution_method(mc, &my_dist), OMCACHE_OK);
    struct point points[MAX_SERVERS * 20];
    size_t npoints = 0;
    for (int s = 0; s < nservers; s++) {
        omcache_server_info_t *info = omcache_server_info(mc, s);
        char port[16];
        snprintf(port, sizeof port, "%d", info->port);
        for (uint32_t p = 0; p < my_dist.points_per_server; p++) {
            my_point_hash(info->hostname, port, p, &points[npoints].hash);
            points[npoints++].server = s;
        }
        omcache_server_info_free(mc, info);
    }
    qsort(points, npoints, sizeof points[0], cmp_point);
    int disagree = 0;
    for (int i = 0; i < 2000; i++) {
        char key[32];
        snprintf(key, sizeof key, "custom-%d", i);
        if (omcache_server_index_for_key(mc, K(key)) != my_lookup(points, npoints, K(key)))
            disagree++;
    }
    CHECK(disagree == 0, "custom method: %d of 2000 keys placed differently from our own continuum", disagree);
    check_placement(mc, single, nservers, "custom FNV-1a method");

    /* --- reference vectors from libmemcached --------------------------- */
    omcache_t *ref = omcache_init();
    CHECK_RC(omcache_set_servers(ref, "127.0.0.1:11211,127.0.0.1:11212,10.1.2.3:11211,"
                                      "cache-a.example:4000,192.168.0.7:11211"), OMCACHE_OK);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        CHECK_RC(omcache_set_distribution_method(ref, vectors[i].method), OMCACHE_OK);
        int idx = omcache_server_index_for_key(ref, K(vectors[i].key));
        const char *got = server_name(ref, idx, name, sizeof name);
        CHECK(strcmp(got, vectors[i].server) == 0, "vector %zu: %s went to %s, libmemcached says %s",
              i, vectors[i].key, got, vectors[i].server);
    }
    omcache_free(ref);

    /* --- one server: everything goes to index 0 ------------------------ */
    int nonzero = 0;
    for (int i = 0; i < 100; i++) {
        char key[32];
        snprintf(key, sizeof key, "single-%d", i);
        nonzero += omcache_server_index_for_key(single[0], K(key)) != 0;
    }
    CHECK(nonzero == 0, "%d keys not on server 0 of a one-server list", nonzero);

    for (int s = 0; s < nservers; s++)
        omcache_free(single[s]);
    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
