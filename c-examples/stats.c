/*
 * stats.c - server statistics and flushing every server
 *
 * omcache_stat() asks one server (by index) for a statistics group; each
 * statistic comes back as one omcache_value_t with key = name and data =
 * value, followed by an empty terminator value.  omcache_flush_all()
 * invalidates all items of one server; loop over the indexes until
 * OMCACHE_NO_SERVERS to flush them all.
 *
 * Usage: stats SERVERS        (meant for 4 servers)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define MAX_STATS 512

static omcache_value_t stats[MAX_STATS];

/* The value of statistic `name` among count values, as a C string ("" if
 * it is missing); the string lives until the fourth call after this one. */
static const char *stat_value(const omcache_value_t *vals, size_t count, const char *name)
{
    static char bufs[4][256];
    static int next = 0;
    char *buf = bufs[next++ % 4];
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        if (vals[i].key_len == strlen(name) && memcmp(vals[i].key, name, vals[i].key_len) == 0) {
            size_t n = vals[i].data_len < sizeof bufs[0] - 1 ? vals[i].data_len : sizeof bufs[0] - 1;
            memcpy(buf, vals[i].data, n);
            buf[n] = '\0';
            break;
        }
    }
    return buf;
}

/* Sum of a numeric statistic over all servers. */
static long long sum_stat(omcache_t *mc, int servers, const char *name)
{
    long long total = 0;
    for (int i = 0; i < servers; i++) {
        size_t count = MAX_STATS;
        CHECK_RC(omcache_stat(mc, NULL, stats, &count, i, -1), OMCACHE_OK);
        total += atoll(stat_value(stats, count, name));
    }
    return total;
}

int main(int argc, char **argv)
{
    const char *servers = servers_arg(argc, argv, 1);
    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);

    int nservers = 0;
    omcache_server_info_t *info;
    while ((info = omcache_server_info(mc, nservers)) != NULL) {
        omcache_server_info_free(mc, info);
        nservers++;
    }
    REQUIRE(nservers > 0, "no servers in '%s'", servers);

    /* --- general statistics of every server --------------------------- */
    for (int i = 0; i < nservers; i++) {
        size_t count = MAX_STATS;
        CHECK_RC(omcache_stat(mc, NULL, stats, &count, i, -1), OMCACHE_OK);
        CHECK(count > 20, "server %d: only %zu statistics", i, count);
        /* The last value is the empty terminator. */
        CHECK(count > 0 && stats[count - 1].key_len == 0 && stats[count - 1].status == OMCACHE_OK,
              "server %d: the last value is not the empty terminator", i);
        int all_ok = 1;
        for (size_t j = 0; j < count; j++)
            all_ok &= stats[j].status == OMCACHE_OK;
        CHECK(all_ok, "server %d: a statistic has a non-OK status", i);
        const char *version = stat_value(stats, count, "version");
        const char *pid = stat_value(stats, count, "pid");
        CHECK(*version && *pid, "server %d: no version or pid statistic", i);
        info = omcache_server_info(mc, i);
        printf("server %d (%s:%d): memcached %s, pid %s, %zu statistics, %s items\n", i,
               info ? info->hostname : "?", info ? info->port : 0, version, pid, count - 1,
               stat_value(stats, count, "curr_items"));
        omcache_server_info_free(mc, info);
    }

    /* --- a named group: "settings" ------------------------------------ */
    for (int i = 0; i < nservers; i++) {
        size_t count = MAX_STATS;
        CHECK_RC(omcache_stat(mc, "settings", stats, &count, i, 2000), OMCACHE_OK);
        CHECK(count > 20, "server %d: only %zu settings", i, count);
        CHECK(atoll(stat_value(stats, count, "item_size_max")) == 1024 * 1024,
              "server %d: item_size_max is '%s'", i, stat_value(stats, count, "item_size_max"));
        CHECK(*stat_value(stats, count, "maxbytes"), "server %d: no maxbytes setting", i);
    }

    /* --- an unknown group: OK, with one NOT_FOUND value ---------------- */
    size_t count = MAX_STATS;
    CHECK_RC(omcache_stat(mc, "no-such-group", stats, &count, 0, -1), OMCACHE_OK);
    CHECK(count == 1 && stats[0].status == OMCACHE_NOT_FOUND,
          "unknown group: %zu values, first status %d", count, count ? stats[0].status : -1);

    /* --- a values array smaller than the answer ------------------------ */
    /* The array fills up and the call is done; the rest of the rows are
     * only seen by a response callback. */
    count = 5;
    CHECK_RC(omcache_stat(mc, NULL, stats, &count, 0, -1), OMCACHE_OK);
    CHECK(count == 5, "%zu values stored in a 5-value array", count);
    CHECK_RC(omcache_noop(mc, 0, -1), OMCACHE_OK);   /* the connection is still in step */

    /* --- curr_items / total_items follow our sets ---------------------- */
    long long total_before = sum_stat(mc, nservers, "total_items");
    char key[64];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "stats-%ld-%d", (long) getpid(), i);
        CHECK_RC(omcache_set(mc, K(key), K("x"), 0, 0, 0, -1), OMCACHE_OK);
    }
    long long total_after = sum_stat(mc, nservers, "total_items");
    CHECK(total_after - total_before == 40, "total_items grew by %lld, expected 40", total_after - total_before);

    /* --- flush_all on every server ------------------------------------ */
    int flushed = 0;
    for (int i = 0;; i++) {
        int rc = omcache_flush_all(mc, 0, i, -1);
        if (rc == OMCACHE_NO_SERVERS)
            break;
        CHECK_RC(rc, OMCACHE_OK);
        flushed++;
    }
    CHECK(flushed == nservers, "flushed %d servers, expected %d", flushed, nservers);
    int left = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "stats-%ld-%d", (long) getpid(), i);
        left += omcache_get(mc, K(key), NULL, NULL, NULL, NULL, -1) != OMCACHE_NOT_FOUND;
    }
    CHECK(left == 0, "%d keys survived flush_all", left);
    long long flushes = sum_stat(mc, nservers, "cmd_flush");
    CHECK(flushes >= nservers, "cmd_flush totals %lld", flushes);

    /* A delayed flush (expiration in seconds) also answers OK. */
    CHECK_RC(omcache_flush_all(mc, 3600, 0, -1), OMCACHE_OK);
    CHECK_RC(omcache_flush_all(mc, 0, 0, -1), OMCACHE_OK);   /* cancel it again */

    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
