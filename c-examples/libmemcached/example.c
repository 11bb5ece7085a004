/*
 * example.c - an ordinary libmemcached 1.1.4 program, unchanged, built two
 * ways by run.sh: against Debian's headers and library, and recompiled
 * against omcache-rs's headers (include/, `-I` only) and libmemcached.so.11.
 * Both builds must print the same lines.
 *
 *     example SERVER_CONFIG          e.g. "--SERVER=127.0.0.1:11211 --SERVER=..."
 *
 * It does what applications do: configure from a string, store, read back,
 * multi-get, count, compare-and-swap, expire and delete, by key and across
 * servers, in both protocols.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmemcached/memcached.h>

static int failures = 0;

static void check(const char *what, memcached_return_t rc, memcached_return_t want)
{
    printf("%-40s %s\n", what, memcached_strerror(NULL, rc));
    if (rc != want) {
        printf("  expected %s\n", memcached_strerror(NULL, want));
        failures++;
    }
}

static void round_trip(memcached_st *memc, const char *protocol)
{
    /* The binary protocol names two outcomes differently (libmemcached passes the server's
     * status through): an add of an existing key is DATA_EXISTS, a replace of a missing one
     * NOTFOUND; and its keys may contain spaces. */
    int binary = strcmp(protocol, "binary") == 0;
    char key[64], value[128], what[96];
    memcached_return_t rc;

    printf("-- %s protocol\n", protocol);
    check("flush", memcached_flush(memc, 0), MEMCACHED_SUCCESS);

    /* Twenty keys, so every server gets some. */
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "example:%s:%d", protocol, i);
        snprintf(value, sizeof value, "value %d", i * i);
        rc = memcached_set(memc, key, strlen(key), value, strlen(value), 0, (uint32_t) i);
        if (rc != MEMCACHED_SUCCESS)
            check("set", rc, MEMCACHED_SUCCESS);
    }
    printf("%-40s %s\n", "20 sets", "done");

    size_t len = 0;
    uint32_t flags = 0;
    snprintf(key, sizeof key, "example:%s:7", protocol);
    char *got = memcached_get(memc, key, strlen(key), &len, &flags, &rc);
    check("get example:7", rc, MEMCACHED_SUCCESS);
    printf("  value \"%.*s\" flags %u\n", (int) len, got ? got : "", flags);
    free(got);

    got = memcached_get(memc, "example:missing", 15, &len, &flags, &rc);
    check("get a missing key", rc, MEMCACHED_NOTFOUND);
    free(got);

    /* Multi-get: results come in server order, so count and sum them. */
    const char *keys[20];
    size_t key_lengths[20];
    char key_store[20][64];
    for (int i = 0; i < 20; i++) {
        snprintf(key_store[i], sizeof key_store[i], "example:%s:%d", protocol, i);
        keys[i] = key_store[i];
        key_lengths[i] = strlen(key_store[i]);
    }
    check("mget 20 keys", memcached_mget(memc, keys, key_lengths, 20), MEMCACHED_SUCCESS);
    memcached_result_st result;
    memcached_result_create(memc, &result);
    int fetched = 0;
    unsigned long flag_sum = 0;
    while (memcached_fetch_result(memc, &result, &rc) != NULL) {
        fetched++;
        flag_sum += memcached_result_flags(&result);
    }
    memcached_result_free(&result);
    printf("  fetched %d values, flag sum %lu, last rc %s\n", fetched, flag_sum, memcached_strerror(NULL, rc));

    /* Counters. */
    uint64_t counter = 0;
    check("set counter", memcached_set(memc, "example:counter", 15, "41", 2, 0, 0), MEMCACHED_SUCCESS);
    check("increment", memcached_increment(memc, "example:counter", 15, 1, &counter), MEMCACHED_SUCCESS);
    printf("  counter %llu\n", (unsigned long long) counter);
    check("decrement by 50", memcached_decrement(memc, "example:counter", 15, 50, &counter), MEMCACHED_SUCCESS);
    printf("  counter %llu\n", (unsigned long long) counter);

    /* Compare-and-swap through a fetched result's CAS. */
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    const char *cas_key = "example:cas";
    size_t cas_key_length = strlen(cas_key);
    check("set cas key", memcached_set(memc, cas_key, strlen(cas_key), "one", 3, 0, 0), MEMCACHED_SUCCESS);
    check("mget cas key", memcached_mget(memc, &cas_key, &cas_key_length, 1), MEMCACHED_SUCCESS);
    memcached_result_st *cas_result = memcached_fetch_result(memc, NULL, &rc);
    uint64_t cas = cas_result ? memcached_result_cas(cas_result) : 0;
    memcached_result_free(cas_result);
    while (memcached_fetch_result(memc, NULL, &rc) != NULL) {
    }
    check("cas with the fetched value", memcached_cas(memc, cas_key, strlen(cas_key), "two", 3, 0, 0, cas),
          MEMCACHED_SUCCESS);
    check("cas with a stale value", memcached_cas(memc, cas_key, strlen(cas_key), "three", 5, 0, 0, cas),
          MEMCACHED_DATA_EXISTS);

    /* add / replace / append, by key: both keys on the server of "group". */
    check("add_by_key new", memcached_add_by_key(memc, "group", 5, "example:a", 9, "A", 1, 0, 0), MEMCACHED_SUCCESS);
    check("add_by_key again", memcached_add_by_key(memc, "group", 5, "example:a", 9, "A", 1, 0, 0),
          binary ? MEMCACHED_DATA_EXISTS : MEMCACHED_NOTSTORED);
    check("append_by_key", memcached_append_by_key(memc, "group", 5, "example:a", 9, "BC", 2, 0, 0),
          MEMCACHED_SUCCESS);
    got = memcached_get_by_key(memc, "group", 5, "example:a", 9, &len, &flags, &rc);
    check("get_by_key", rc, MEMCACHED_SUCCESS);
    printf("  value \"%.*s\"\n", (int) len, got ? got : "");
    free(got);
    check("replace a missing key", memcached_replace(memc, "example:none", 12, "x", 1, 0, 0),
          binary ? MEMCACHED_NOTFOUND : MEMCACHED_NOTSTORED);

    /* Expiry and delete. */
    check("touch", memcached_touch(memc, key, strlen(key), 100), MEMCACHED_SUCCESS);
    check("delete", memcached_delete(memc, key, strlen(key), 0), MEMCACHED_SUCCESS);
    check("delete again", memcached_delete(memc, key, strlen(key), 0), MEMCACHED_NOTFOUND);
    check("exist (deleted)", memcached_exist(memc, key, strlen(key)), MEMCACHED_NOTFOUND);

    /* A key with a space: refused before anything is sent with key verification on. */
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_VERIFY_KEY, 1);
    snprintf(what, sizeof what, "set a key with a space (VERIFY_KEY)");
    check(what, memcached_set(memc, "a b", 3, "v", 1, 0, 0), binary ? MEMCACHED_SUCCESS : MEMCACHED_BAD_KEY_PROVIDED);
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_VERIFY_KEY, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SERVER_CONFIG\n", argv[0]);
        return 2;
    }
    memcached_st *memc = memcached(argv[1], strlen(argv[1]));
    if (memc == NULL) {
        fprintf(stderr, "bad configuration string\n");
        return 2;
    }
    printf("servers: %u, distribution: %llu (consistent: %d)\n", memcached_server_count(memc),
           (unsigned long long) memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION),
           MEMCACHED_DISTRIBUTION_CONSISTENT);

    round_trip(memc, "text");
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    round_trip(memc, "binary");

    /* A clone keeps the configuration and has its own connections. */
    memcached_st *clone = memcached_clone(NULL, memc);
    printf("clone: %u servers, binary %llu\n", memcached_server_count(clone),
           (unsigned long long) memcached_behavior_get(clone, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL));
    memcached_free(clone);
    memcached_free(memc);

    printf("%s\n", failures == 0 ? "example: OK" : "example: FAILED");
    return failures == 0 ? 0 : 1;
}
