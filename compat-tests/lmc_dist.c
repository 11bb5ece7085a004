/*
 * lmc_dist - the REAL libmemcached's server index for every key of the shared key set, for
 * many configurations at once (distribution x key hash x weights x server list).
 *
 * Usage: lmc_dist [-n COUNT] < CONFIGS
 * Each CONFIGS line has seven tab-separated fields:
 *   LABEL  DIST  HASH  WEIGHTED  SERVERLIST  WEIGHTS  BUCKETS
 *   DIST       modula | consistent | ketama | weighted | spy | vbucket
 *   HASH       a memcached_hash_t number (0 DEFAULT ... 10 MURMUR3)
 *   WEIGHTED   1 for a weighted continuum (libmemcached's ketama.weighted_), else 0
 *   SERVERLIST a libmemcached server list, parsed with memcached_servers_parse
 *   WEIGHTS    comma-separated weight of each server (stored in the parsed list before
 *              memcached_server_push, so weights > 1 also switch weighted_ on there)
 *   BUCKETS    "-" or the comma-separated host map of memcached_bucket_set (vbucket only)
 * For each line it prints "LABEL<TAB>i0 i1 i2 ..." with memcached_generate_hash of each key
 * (no I/O happens). The settings are applied in the order a libmemcached program would:
 * HASH, servers, then the distribution, and the result is checked with memcached_behavior_get
 * so that a configuration that libmemcached would not produce is reported, not compared.
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keymap_keys.h"

#define MAX_SERVERS 256
#define MAX_BUCKETS 4096

static int fail(const char *label, const char *what)
{
    fprintf(stderr, "lmc_dist: %s: %s\n", label, what);
    return 1;
}

static size_t parse_u32_list(char *s, uint32_t *out, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ","); tok != NULL && n < max; tok = strtok(NULL, ","))
        out[n++] = (uint32_t)strtoul(tok, NULL, 10);
    return n;
}

static int set(memcached_st *memc, memcached_behavior_t b, uint64_t v)
{
    return memcached_behavior_set(memc, b, v) == MEMCACHED_SUCCESS ? 0 : -1;
}

static int run(char *line, unsigned long count)
{
    char *field[7];
    char *save = NULL, *p = line;
    for (int f = 0; f < 7; f++) {
        field[f] = strtok_r(p, "\t\n", &save);
        p = NULL;
        if (field[f] == NULL)
            return fail(line, "expected 7 tab-separated fields");
    }
    const char *label = field[0], *dist = field[1], *servers = field[4];
    unsigned long hash = strtoul(field[2], NULL, 10);
    int weighted = atoi(field[3]);
    static uint32_t weights[MAX_SERVERS], buckets[MAX_BUCKETS];
    size_t nweights = parse_u32_list(field[5], weights, MAX_SERVERS);
    size_t nbuckets = strcmp(field[6], "-") ? parse_u32_list(field[6], buckets, MAX_BUCKETS) : 0;

    memcached_st *memc = memcached_create(NULL);
    if (memc == NULL)
        return fail(label, "memcached_create");
    if (set(memc, MEMCACHED_BEHAVIOR_HASH, hash))
        return fail(label, "behavior_set HASH");
    memcached_server_st *list = memcached_servers_parse(servers);
    if (list == NULL)
        return fail(label, "cannot parse server list");
    uint32_t n = memcached_server_list_count(list);
    if (nweights != n)
        return fail(label, "one weight per server expected");
    for (uint32_t i = 0; i < n; i++)
        list[i].weight = weights[i];
    memcached_return_t rc = memcached_server_push(memc, list);
    memcached_server_list_free(list);
    if (rc != MEMCACHED_SUCCESS)
        return fail(label, "server_push");

    /* CONSISTENT / CONSISTENT_KETAMA reset weighted_, CONSISTENT_WEIGHTED sets it, SPY keeps
     * it: so SPY is preceded by the one that gives the wanted state. */
    memcached_server_distribution_t want;
    int err = 0;
    if (strcmp(dist, "modula") == 0) {
        want = MEMCACHED_DISTRIBUTION_MODULA;
        err = set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION, want);
    } else if (strcmp(dist, "consistent") == 0) {
        want = MEMCACHED_DISTRIBUTION_CONSISTENT;
        err = set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION, want);
    } else if (strcmp(dist, "ketama") == 0) {
        want = MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA;
        err = set(memc, MEMCACHED_BEHAVIOR_KETAMA, 1);
    } else if (strcmp(dist, "weighted") == 0) {
        want = MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED;
        err = set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION, want);
    } else if (strcmp(dist, "spy") == 0) {
        want = MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY;
        err = set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                  weighted ? MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED
                           : MEMCACHED_DISTRIBUTION_CONSISTENT) ||
              set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION, want);
    } else if (strcmp(dist, "vbucket") == 0) {
        want = MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET;
        if (nbuckets)
            err = memcached_bucket_set(memc, buckets, NULL, (uint32_t)nbuckets, 0) !=
                  MEMCACHED_SUCCESS;
        else
            err = set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION, want);
    } else {
        return fail(label, "unknown distribution");
    }
    if (err)
        return fail(label, "setting the distribution failed");

    /* What libmemcached made of it must be what the label says. */
    uint64_t got_dist = memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION);
    uint64_t got_hash = memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_HASH);
    uint64_t got_weighted = memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED);
    int consistent = want != MEMCACHED_DISTRIBUTION_MODULA &&
                     want != MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET;
    if (got_dist != (uint64_t)want || got_hash != hash ||
        got_weighted != (uint64_t)(consistent && weighted) ||
        memcached_server_count(memc) != n) {
        fprintf(stderr, "lmc_dist: %s: got distribution %lu hash %lu weighted %lu servers %u\n",
                label, (unsigned long)got_dist, (unsigned long)got_hash,
                (unsigned long)got_weighted, memcached_server_count(memc));
        return 1;
    }

    unsigned char key[KEYMAP_MAX_KEY];
    fputs(label, stdout);
    for (unsigned long i = 0; i < count; i++) {
        size_t len = keymap_key((uint32_t)i, key);
        printf("%c%u", i ? ' ' : '\t', memcached_generate_hash(memc, (const char *)key, len));
    }
    putchar('\n');
    memcached_free(memc);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long count = 10000;
    int opt;
    (void)keymap_print_hex; /* shared header; keys are printed by index here */
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt == 'n') {
            count = strtoul(optarg, NULL, 10);
        } else {
            fprintf(stderr, "usage: lmc_dist [-n COUNT] < CONFIGS\n");
            return 2;
        }
    }
    static char line[1 << 16];
    int status = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (run(line, count) != 0)
            status = 1;
    }
    return fflush(stdout) == 0 ? status : 1;
}
