/*
 * omc_keymap - which server OUR library (libomcache, OMcache 0.3 C API only) picks for each
 * key of the shared key set; the counterpart of lmc_keymap.c, with the same output.
 *
 * Usage: omc_keymap [-n COUNT] [-x] MODE SERVERLIST
 *   MODE        ketama | weighted | pre1010 -> omcache_dist_libmemcached_ketama,
 *               _ketama_weighted, _ketama_pre1010
 *   SERVERLIST  an omcache_set_servers() list ("h1:p1,[v6]:p2,/path/sock,...")
 *   -n COUNT    number of keys (default 10000)
 *   -x          print each key as hex instead of its index
 * Output: "<key index or hex><TAB><host>:<port>" per key, host as omcache_server_info()
 * reports it. OMcache sorts its server list, so indexes differ from libmemcached's; only
 * host:port is comparable (run-keymap.sh also strips IPv6 brackets on both sides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "omcache.h"
#include "keymap_keys.h"

/* Enough for the largest list run-keymap.sh uses; more is reported, not overrun. */
#define MAX_SERVERS 1024

static void usage(void)
{
    fprintf(stderr, "usage: omc_keymap [-n COUNT] [-x] ketama|weighted|pre1010 SERVERLIST\n");
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned long count = 10000;
    int hex = 0, opt;
    while ((opt = getopt(argc, argv, "n:x")) != -1) {
        if (opt == 'n')
            count = strtoul(optarg, NULL, 10);
        else if (opt == 'x')
            hex = 1;
        else
            usage();
    }
    if (argc - optind != 2)
        usage();
    const char *mode = argv[optind], *servers = argv[optind + 1];

    omcache_dist_t *dist;
    if (strcmp(mode, "ketama") == 0)
        dist = &omcache_dist_libmemcached_ketama;
    else if (strcmp(mode, "weighted") == 0)
        dist = &omcache_dist_libmemcached_ketama_weighted;
    else if (strcmp(mode, "pre1010") == 0)
        dist = &omcache_dist_libmemcached_ketama_pre1010;
    else
        usage();

    omcache_t *mc = omcache_init();
    if (mc == NULL) {
        fprintf(stderr, "omc_keymap: omcache_init failed\n");
        return 1;
    }
    int rc = omcache_set_servers(mc, servers);
    if (rc != OMCACHE_OK) {
        fprintf(stderr, "omc_keymap: omcache_set_servers: %s\n", omcache_strerror(rc));
        return 1;
    }
    rc = omcache_set_distribution_method(mc, dist);
    if (rc != OMCACHE_OK) {
        fprintf(stderr, "omc_keymap: omcache_set_distribution_method: %s\n", omcache_strerror(rc));
        return 1;
    }

    /* "host:port" per server index, looked up once through omcache_server_info(). */
    static char *names[MAX_SERVERS];
    unsigned char key[KEYMAP_MAX_KEY];
    for (unsigned long i = 0; i < count; i++) {
        size_t len = keymap_key((uint32_t)i, key);
        int idx = omcache_server_index_for_key(mc, key, len);
        if (idx < 0 || idx >= MAX_SERVERS) {
            fprintf(stderr, "omc_keymap: key %lu: server index %d\n", i, idx);
            return 1;
        }
        if (names[idx] == NULL) {
            omcache_server_info_t *info = omcache_server_info(mc, idx);
            if (info == NULL || info->hostname == NULL) {
                fprintf(stderr, "omc_keymap: no server info for index %d\n", idx);
                return 1;
            }
            if (info->server_index != idx || info->omcache_version != OMCACHE_VERSION) {
                fprintf(stderr, "omc_keymap: bad server info for index %d (index %d, version %#x)\n",
                        idx, info->server_index, (unsigned)info->omcache_version);
                return 1;
            }
            size_t sz = strlen(info->hostname) + 16;
            names[idx] = malloc(sz);
            if (names[idx] == NULL)
                return 1;
            snprintf(names[idx], sz, "%s:%d", info->hostname, info->port);
            omcache_server_info_free(mc, info);
        }
        if (hex)
            keymap_print_hex(stdout, key, len);
        else
            printf("%lu", i);
        printf("\t%s\n", names[idx]);
    }
    for (int k = 0; k < MAX_SERVERS; k++)
        free(names[k]);
    omcache_free(mc);
    return fflush(stdout) == 0 ? 0 : 1;
}
