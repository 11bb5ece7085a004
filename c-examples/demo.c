/*
 * demo.c - a first look at OMcache: store keys on several memcached
 *          servers, see where each one went, and fetch them all back
 *
 * Build:  cc -std=c99 -I build/include demo.c -L build/lib -lomcache
 * Run:    ./demo 127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omcache.h>

#define NKEYS 10

static const char *cities[NKEYS][2] = {
    { "city:helsinki", "Helsinki, Finland" },
    { "city:tampere", "Tampere, Finland" },
    { "city:stockholm", "Stockholm, Sweden" },
    { "city:oslo", "Oslo, Norway" },
    { "city:copenhagen", "Copenhagen, Denmark" },
    { "city:reykjavik", "Reykjavik, Iceland" },
    { "city:tallinn", "Tallinn, Estonia" },
    { "city:riga", "Riga, Latvia" },
    { "city:vilnius", "Vilnius, Lithuania" },
    { "city:berlin", "Berlin, Germany" },
};

static int failures = 0;

static void report(const char *what, const char *key, int rc)
{
    if (rc != OMCACHE_OK) {
        printf("  !! %s %s failed: %s\n", what, key, omcache_strerror(rc));
        failures++;
    }
}

/* "host:port" of a server index. */
static const char *where(omcache_t *mc, int idx)
{
    static char buf[300];
    omcache_server_info_t *info = omcache_server_info(mc, idx);
    if (info == NULL)
        return "(no server)";
    snprintf(buf, sizeof buf, "%s:%d", info->hostname, info->port);
    omcache_server_info_free(mc, info);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s HOST:PORT[,HOST:PORT...]\n", argv[0]);
        return 2;
    }

    /* 1. A handle and a server list. */
    omcache_t *mc = omcache_init();
    if (mc == NULL || omcache_set_servers(mc, argv[1]) != OMCACHE_OK) {
        fprintf(stderr, "cannot set up OMcache\n");
        return 1;
    }
    int nservers = 0;
    omcache_server_info_t *info;
    while ((info = omcache_server_info(mc, nservers)) != NULL) {
        omcache_server_info_free(mc, info);
        nservers++;
    }
    printf("OMcache demo with %d memcached server%s:\n", nservers, nservers == 1 ? "" : "s");
    for (int s = 0; s < nservers; s++)
        printf("  server %d  %s\n", s, where(mc, s));

    /* 2. Store the keys.  Each key goes to the server the ketama continuum
     *    picks; omcache_server_index_for_key tells which one. */
    printf("\nStoring %d keys (omcache_set, waiting for each answer):\n", NKEYS);
    int per_server[64] = { 0 };
    for (int i = 0; i < NKEYS; i++) {
        const char *key = cities[i][0], *value = cities[i][1];
        int idx = omcache_server_index_for_key(mc, (const unsigned char *) key, strlen(key));
        int rc = omcache_set(mc, (const unsigned char *) key, strlen(key),
                             (const unsigned char *) value, strlen(value),
                             0 /* never expires */, 0 /* flags */, 0 /* no CAS */, -1 /* wait */);
        printf("  %-17s -> server %d (%s)  %s\n", key, idx, where(mc, idx), omcache_strerror(rc));
        report("set", key, rc);
        if (idx >= 0 && idx < 64)
            per_server[idx]++;
    }
    printf("  keys per server:");
    for (int s = 0; s < nservers; s++)
        printf("  #%d: %d", s, per_server[s]);
    printf("\n");

    /* 3. Fetch them back one at a time. */
    printf("\nFetching them one by one (omcache_get):\n");
    for (int i = 0; i < NKEYS; i++) {
        const char *key = cities[i][0];
        const unsigned char *value;
        size_t value_len;
        int rc = omcache_get(mc, (const unsigned char *) key, strlen(key), &value, &value_len, NULL, NULL, -1);
        if (rc == OMCACHE_OK)
            printf("  %-17s = \"%.*s\"\n", key, (int) value_len, (const char *) value);
        report("get", key, rc);
        if (rc == OMCACHE_OK && (value_len != strlen(cities[i][1]) || memcmp(value, cities[i][1], value_len))) {
            printf("  !! %s came back wrong\n", key);
            failures++;
        }
    }

    /* 4. Fetch them all with one call: the requests for each server go out
     *    together and all servers answer in parallel.  One key that does not
     *    exist is included; it simply produces no value. */
    const unsigned char *keys[NKEYS + 1];
    size_t key_lens[NKEYS + 1];
    for (int i = 0; i < NKEYS; i++) {
        keys[i] = (const unsigned char *) cities[i][0];
        key_lens[i] = strlen(cities[i][0]);
    }
    keys[NKEYS] = (const unsigned char *) "city:atlantis";
    key_lens[NKEYS] = strlen("city:atlantis");

    omcache_req_t reqs[NKEYS + 1];
    omcache_value_t values[NKEYS + 1];
    size_t req_count = NKEYS + 1, value_count = NKEYS + 1;
    printf("\nFetching all %d keys plus \"city:atlantis\" with one omcache_get_multi call:\n", NKEYS);
    int rc = omcache_get_multi(mc, keys, key_lens, NKEYS + 1, reqs, &req_count, values, &value_count, -1);
    int found = 0;
    for (;;) {
        for (size_t i = 0; i < value_count; i++) {
            int idx = omcache_server_index_for_key(mc, values[i].key, values[i].key_len);
            char quoted[128];
            snprintf(quoted, sizeof quoted, "\"%.*s\"", (int) values[i].data_len, (const char *) values[i].data);
            printf("  %-17.*s = %-23s (from server %d)\n", (int) values[i].key_len,
                   (const char *) values[i].key, quoted, idx);
            found++;
        }
        if (req_count == 0 || rc != OMCACHE_AGAIN)
            break;
        value_count = NKEYS + 1;    /* partial result: continue where it stopped */
        rc = omcache_io(mc, reqs, &req_count, values, &value_count, -1);
    }
    printf("  %d values returned (%s); city:atlantis was not found, as expected\n", found, omcache_strerror(rc));
    if (rc != OMCACHE_OK || found != NKEYS)
        failures++;

    /* 5. Clean up. */
    for (int i = 0; i < NKEYS; i++)
        omcache_delete(mc, keys[i], key_lens[i], -1);
    omcache_free(mc);

    if (failures) {
        printf("\n%d thing%s went wrong.\n", failures, failures == 1 ? "" : "s");
        return 1;
    }
    printf("\nAll done.\n");
    return 0;
}
