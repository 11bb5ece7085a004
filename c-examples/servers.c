/*
 * servers.c - server lists: formats, ordering, changing the list
 *
 * omcache_set_servers() takes a comma-separated list.  Entries may be
 * "host", "host:port", "[ipv6]", "[ipv6]:port" or a unix socket path
 * ("/path"); whitespace around entries and empty entries are ignored; the
 * default port is 11211.  The list is sorted (host, then port as text) and
 * server indexes follow that order.  Changing the list keeps the
 * connections of servers that stay.  A bad entry costs only that entry: it is
 * kept in its place as a server that never connects (its keys go to the next
 * live server), and omcache_server_info() reports it as given (99999 stays
 * 99999, a port that is not a number reports 0).  Only a NULL list is
 * OMCACHE_INVALID.
 *
 * Usage: servers TCP-SERVERS UNIX-SOCKET-PATH IPV6-SERVER
 *        e.g. servers 127.0.0.1:40001,127.0.0.1:40002,127.0.0.1:40003 /tmp/mc.sock [::1]:40004
 *        (IPV6-SERVER "-" skips the IPv6 part)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static int count_servers(omcache_t *mc)
{
    int n = 0;
    omcache_server_info_t *info;
    while ((info = omcache_server_info(mc, n)) != NULL) {
        CHECK(info->server_index == n, "server_info(%d) says index %d", n, info->server_index);
        CHECK(info->omcache_version == OMCACHE_VERSION, "server_info version %#x", info->omcache_version);
        CHECK_RC(omcache_server_info_free(mc, info), OMCACHE_OK);
        n++;
    }
    return n;
}

/* Expect server idx to be host:port. */
static void expect_server(omcache_t *mc, int idx, const char *host, int port, int line)
{
    omcache_server_info_t *info = omcache_server_info(mc, idx);
    checks_run++;
    if (info == NULL || strcmp(info->hostname, host) != 0 || info->port != port) {
        checks_failed++;
        fprintf(stderr, "servers.c:%d: server %d is %s:%d, expected %s:%d\n", line, idx,
                info ? info->hostname : "(none)", info ? info->port : -1, host, port);
    }
    if (info)
        omcache_server_info_free(mc, info);
}
#define EXPECT_SERVER(mc, idx, host, port) expect_server(mc, idx, host, port, __LINE__)

/* A key that maps to server idx. */
static const char *key_for_server(omcache_t *mc, int idx)
{
    static char key[64];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "servers-%ld-%d", (long) getpid(), i);
        if (omcache_server_index_for_key(mc, K(key)) == idx)
            return key;
    }
    return NULL;
}

/* Store and read back one key on every server of the list. */
static void use_every_server(omcache_t *mc, const char *what)
{
    int n = count_servers(mc);
    for (int s = 0; s < n; s++) {
        const char *key = key_for_server(mc, s);
        CHECK(key != NULL, "%s: no key maps to server %d", what, s);
        if (key == NULL)
            continue;
        CHECK_RC(omcache_set(mc, K(key), K(what), 0, 0, 0, 2000), OMCACHE_OK);
        const unsigned char *value = NULL;
        size_t len = 0;
        CHECK_RC(omcache_get(mc, K(key), &value, &len, NULL, NULL, 2000), OMCACHE_OK);
        CHECK(len == strlen(what) && memcmp(value, what, len) == 0, "%s: server %d returned a wrong value", what, s);
        CHECK_RC(omcache_noop(mc, s, 2000), OMCACHE_OK);
    }
}

/* A statistic of server idx as a number. */
static long long stat_number(omcache_t *mc, int idx, const char *name)
{
    omcache_value_t values[256];
    size_t count = 256;
    CHECK_RC(omcache_stat(mc, NULL, values, &count, idx, -1), OMCACHE_OK);
    for (size_t i = 0; i < count; i++) {
        if (values[i].key_len == strlen(name) && memcmp(values[i].key, name, values[i].key_len) == 0) {
            char buf[32] = "";
            memcpy(buf, values[i].data, values[i].data_len < 31 ? values[i].data_len : 31);
            return atoll(buf);
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    const char *tcp = servers_arg(argc, argv, 1);
    const char *unix_path = servers_arg(argc, argv, 2);
    const char *ipv6 = servers_arg(argc, argv, 3);
    char list[2048];

    /* The TCP servers' ports, as given ("127.0.0.1:P1,127.0.0.1:P2,..."). */
    char ports[8][16];
    int nports = 0;
    for (const char *p = tcp; p && *p && nports < 8; ) {
        const char *colon = strchr(p, ':');
        if (!colon)
            break;
        size_t len = strcspn(colon + 1, ",");
        snprintf(ports[nports++], sizeof ports[0], "%.*s", (int) len, colon + 1);
        p = colon + 1 + len;
        if (*p == ',')
            p++;
    }
    REQUIRE(nports >= 3, "need at least 3 TCP servers in '%s'", tcp);
    /* "-" when the machine has no IPv6 loopback */
    int have_ipv6 = strcmp(ipv6, "-") != 0;
    int ipv6_port = have_ipv6 ? atoi(strrchr(ipv6, ':') + 1) : 0;

    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");

    /* --- an empty list ------------------------------------------------- */
    CHECK_RC(omcache_set_servers(mc, ""), OMCACHE_OK);
    CHECK(count_servers(mc) == 0, "\"\" gave servers");
    CHECK_RC(omcache_set_servers(mc, " , ,, "), OMCACHE_OK);
    CHECK(count_servers(mc) == 0, "\" , ,, \" gave servers");
    CHECK(omcache_server_info(mc, 0) == NULL && omcache_server_info(mc, -1) == NULL,
          "server_info of an empty list is not NULL");

    /* --- whitespace, empty entries, and sorting ------------------------ */
    snprintf(list, sizeof list, " 127.0.0.1:%s ,, ,127.0.0.1:%s,\t127.0.0.1:%s\n, ", ports[2], ports[0], ports[1]);
    CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
    CHECK(count_servers(mc) == 3, "'%s' gave %d servers, expected 3", list, count_servers(mc));
    /* Sorted by port text. */
    const char *sorted[3] = { ports[0], ports[1], ports[2] };
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (strcmp(sorted[j], sorted[i]) < 0) {
                const char *t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    for (int i = 0; i < 3; i++)
        EXPECT_SERVER(mc, i, "127.0.0.1", atoi(sorted[i]));
    CHECK(omcache_server_info(mc, 3) == NULL, "server_info(3) of 3 servers is not NULL");
    use_every_server(mc, "whitespace");

    /* --- a host name and the default port ------------------------------ */
    snprintf(list, sizeof list, "localhost:%s, example.invalid", ports[0]);
    CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
    EXPECT_SERVER(mc, 0, "example.invalid", 11211);
    EXPECT_SERVER(mc, 1, "localhost", atoi(ports[0]));
    snprintf(list, sizeof list, "localhost:%s", ports[0]);
    CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
    use_every_server(mc, "by name");

    /* --- IPv6 and a unix socket, mixed with TCP ------------------------ */
    if (have_ipv6) {
        snprintf(list, sizeof list, "%s, %s ,127.0.0.1:%s", ipv6, unix_path, ports[0]);
        CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
        CHECK(count_servers(mc) == 3, "'%s' gave %d servers", list, count_servers(mc));
        /* Sorted by host: "/..." < "127.0.0.1" < "::1"; a socket reports port 0. */
        EXPECT_SERVER(mc, 0, unix_path, 0);
        EXPECT_SERVER(mc, 1, "127.0.0.1", atoi(ports[0]));
        EXPECT_SERVER(mc, 2, "::1", ipv6_port);
        use_every_server(mc, "mixed");
        CHECK_RC(omcache_set_servers(mc, ipv6), OMCACHE_OK);
        use_every_server(mc, "IPv6 only");
    } else {
        printf("no IPv6 loopback: skipping the [::1] entries\n");
        snprintf(list, sizeof list, "%s ,127.0.0.1:%s", unix_path, ports[0]);
        CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
        EXPECT_SERVER(mc, 0, unix_path, 0);
        EXPECT_SERVER(mc, 1, "127.0.0.1", atoi(ports[0]));
        use_every_server(mc, "mixed");
    }
    CHECK_RC(omcache_set_servers(mc, unix_path), OMCACHE_OK);
    use_every_server(mc, "unix socket only");

    /* --- changing the list keeps connections that stay ----------------- */
    /* memcached counts the connections it accepted: server B's count must
     * not move when the list changes around it. */
    snprintf(list, sizeof list, "127.0.0.1:%s,127.0.0.1:%s", sorted[0], sorted[1]);
    CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
    use_every_server(mc, "A and B");
    long long before = stat_number(mc, 1, "total_connections");
    snprintf(list, sizeof list, "127.0.0.1:%s,127.0.0.1:%s", sorted[1], sorted[2]);
    CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
    use_every_server(mc, "B and C");          /* B is now index 0 */
    long long after = stat_number(mc, 0, "total_connections");
    CHECK(before > 0 && after == before, "server B accepted %lld new connections after the list changed",
          after - before);

    /* --- duplicates are separate slots --------------------------------- */
    snprintf(list, sizeof list, "127.0.0.1:%s,127.0.0.1:%s", ports[0], ports[0]);
    CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
    CHECK(count_servers(mc) == 2, "a server listed twice gave %d slots", count_servers(mc));

    /* --- bad entries cost only themselves ------------------------------ */
    CHECK_RC(omcache_set_servers(mc, NULL), OMCACHE_INVALID);
    CHECK(count_servers(mc) == 2, "a NULL list changed the list");
    CHECK_RC(omcache_set_servers(mc, "127.0.0.1:1, 127.0.0.1:22, 127.0.0.foobar:asdf,,,"), OMCACHE_OK);
    CHECK(count_servers(mc) == 3, "OMcache's own bad list gave %d servers, expected 3", count_servers(mc));
    EXPECT_SERVER(mc, 0, "127.0.0.1", 1);
    EXPECT_SERVER(mc, 1, "127.0.0.1", 22);
    EXPECT_SERVER(mc, 2, "127.0.0.foobar", 0);
    /* Good servers among bad entries (out of range, not a number, no host,
     * not a host name): sorted by their text as given, every good server takes
     * its keys, no key goes to a bad entry. */
    snprintf(list, sizeof list, "127.0.0.1:99999, 127.0.0.1:%s, 127.0.0.foobar:asdf, :%s, bad host!, 127.0.0.1:%s",
             sorted[1], sorted[2], sorted[0]);
    CHECK_RC(omcache_set_servers(mc, list), OMCACHE_OK);
    CHECK(count_servers(mc) == 6, "'%s' gave %d servers, expected 6", list, count_servers(mc));
    /* "" < "127.0.0.1" (ports as text: sorted[0] < sorted[1] < "99999") < "127.0.0.foobar" < "bad host!" */
    EXPECT_SERVER(mc, 0, "", atoi(sorted[2]));
    EXPECT_SERVER(mc, 1, "127.0.0.1", atoi(sorted[0]));
    EXPECT_SERVER(mc, 2, "127.0.0.1", atoi(sorted[1]));
    EXPECT_SERVER(mc, 3, "127.0.0.1", 99999);
    EXPECT_SERVER(mc, 4, "127.0.0.foobar", 0);
    EXPECT_SERVER(mc, 5, "bad host!", 11211);
    CHECK(key_for_server(mc, 1) != NULL && key_for_server(mc, 2) != NULL, "a good server has no keys");
    for (int i = 0; i < 2000; i++) {
        char key[64];
        snprintf(key, sizeof key, "bad-entries-%d", i);
        int idx = omcache_server_index_for_key(mc, K(key));
        CHECK(idx == 1 || idx == 2, "key %s maps to server %d, not a good server", key, idx);
    }
    for (int s = 1; s <= 2; s++) {
        const char *key = key_for_server(mc, s);
        if (key == NULL)
            continue;
        CHECK_RC(omcache_set(mc, K(key), K("bad entries"), 0, 0, 0, 2000), OMCACHE_OK);
        CHECK_RC(omcache_noop(mc, s, 2000), OMCACHE_OK);
    }
    CHECK_RC(omcache_noop(mc, 3, 2000), OMCACHE_NO_SERVERS);

    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
