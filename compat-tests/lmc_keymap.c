/*
 * lmc_keymap - which server the REAL libmemcached picks for each key of the shared key set.
 *
 * Usage: lmc_keymap [-n COUNT] [-x] [-i] MODE SERVERLIST
 *   MODE        ketama | weighted | pre1010 (the libmemcached settings that omcache's
 *               omcache_dist_libmemcached_ketama, _weighted and _pre1010 promise to match)
 *   SERVERLIST  a libmemcached server list ("h1:p1,[v6]:p2,/path/sock,..."), parsed with
 *               memcached_servers_parse and pushed in that order (libmemcached keeps the order).
 *   -n COUNT    number of keys (default 10000)
 *   -x          print each key as hex instead of its index
 *   -i          print the server's index in the list instead of host:port
 *               (gen-lmc-vectors.sh stores these as golden vectors for the Rust unit tests)
 * Output: "<key index or hex><TAB><host>:<port>" per key, host exactly as libmemcached stores
 * it (IPv6 keeps its brackets; unix sockets are "<path>:0").
 *
 * No I/O happens: memcached_server_by_key and memcached_generate_hash only consult the
 * continuum. Both are asked, and must agree, so a quirk in one of them cannot go unnoticed.
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keymap_keys.h"

static void usage(void)
{
    fprintf(stderr, "usage: lmc_keymap [-n COUNT] [-x] [-i] ketama|weighted|pre1010 SERVERLIST\n");
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned long count = 10000;
    int hex = 0, index = 0, opt;
    while ((opt = getopt(argc, argv, "n:xi")) != -1) {
        if (opt == 'n')
            count = strtoul(optarg, NULL, 10);
        else if (opt == 'x')
            hex = 1;
        else if (opt == 'i')
            index = 1;
        else
            usage();
    }
    if (argc - optind != 2)
        usage();
    const char *mode = argv[optind], *servers = argv[optind + 1];

    memcached_st *memc = memcached_create(NULL);
    memcached_server_st *list = memcached_servers_parse(servers);
    if (memc == NULL || list == NULL) {
        fprintf(stderr, "lmc_keymap: cannot parse server list '%s'\n", servers);
        return 1;
    }
    memcached_return_t rc = memcached_server_push(memc, list);
    memcached_server_list_free(list);
    if (rc != MEMCACHED_SUCCESS) {
        fprintf(stderr, "lmc_keymap: server_push: %s\n", memcached_strerror(memc, rc));
        return 1;
    }

    /* Set after the servers (all weight 1, so the order does not change weighted_ here). */
    if (strcmp(mode, "ketama") == 0)
        rc = memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_KETAMA, 1);
    else if (strcmp(mode, "weighted") == 0)
        rc = memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    else if (strcmp(mode, "pre1010") == 0)
        rc = memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                    MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED);
    else
        usage();
    if (rc != MEMCACHED_SUCCESS) {
        fprintf(stderr, "lmc_keymap: behavior_set: %s\n", memcached_strerror(memc, rc));
        return 1;
    }

    /* Say what libmemcached made of it, so a surprising setting shows up in the log. */
    fprintf(stderr, "lmc_keymap: %s: %u servers, distribution %lu, hash %lu, ketama %lu, "
            "ketama_weighted %lu\n", mode, memcached_server_count(memc),
            (unsigned long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION),
            (unsigned long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_HASH),
            (unsigned long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_KETAMA),
            (unsigned long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED));

    unsigned char key[KEYMAP_MAX_KEY];
    for (unsigned long i = 0; i < count; i++) {
        size_t len = keymap_key((uint32_t)i, key);
        const memcached_instance_st *inst =
            memcached_server_by_key(memc, (const char *)key, len, &rc);
        if (inst == NULL) {
            fprintf(stderr, "lmc_keymap: key %lu: server_by_key: %s\n", i,
                    memcached_strerror(memc, rc));
            return 1;
        }
        uint32_t idx = memcached_generate_hash(memc, (const char *)key, len);
        if (memcached_server_instance_by_position(memc, idx) != inst) {
            fprintf(stderr, "lmc_keymap: key %lu: generate_hash and server_by_key disagree\n", i);
            return 1;
        }
        if (hex)
            keymap_print_hex(stdout, key, len);
        else
            printf("%lu", i);
        if (index)
            printf("\t%u\n", (unsigned)idx);
        else
            printf("\t%s:%u\n", memcached_server_name(inst), (unsigned)memcached_server_port(inst));
    }
    memcached_free(memc);
    return fflush(stdout) == 0 ? 0 : 1;
}
