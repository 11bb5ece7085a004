/*
 * nonblocking.c - drive OMcache from your own poll() loop
 *
 * With a timeout of 0 no call ever waits: commands are queued (and sent if
 * the socket takes them) and return OMCACHE_BUFFERED; omcache_io(..., 0)
 * makes one pass over the sockets and returns OMCACHE_AGAIN while anything
 * is still outstanding.  omcache_poll_fds() tells an event loop which
 * descriptors to wait for and for how long:
 *
 *     while (work remains) {
 *         struct pollfd *fds = omcache_poll_fds(mc, &nfds, &poll_timeout);
 *         poll(fds, nfds, poll_timeout);
 *         omcache_io(mc, reqs, &req_count, values, &value_count, 0);
 *     }
 *
 * Usage: nonblocking SERVERS        (meant for 4 servers)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define N 2000

static char key_text[N][48];
static const unsigned char *keys[N];
static size_t key_lens[N];
static omcache_req_t reqs[N];
static omcache_value_t values[N];
static unsigned char value_buf[1000];
static int seen[N];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* $OMCACHE_TEST_SLACK (default 1): the factor this check's upper time bounds
 * are multiplied by, for slow or loaded machines and valgrind. */
static double test_slack(void)
{
    const char *s = getenv("OMCACHE_TEST_SLACK");
    char *end;
    double f = s && *s ? strtod(s, &end) : 1.0;
    if (s && *s && (*end != '\0' || !(f >= 1.0 && f <= 1000.0))) {
        fprintf(stderr, "OMCACHE_TEST_SLACK=%s: expected a number from 1 to 1000\n", s);
        exit(2);
    }
    return f;
}

/* True if any descriptor waits for something. */
static int wants_events(const struct pollfd *fds, int nfds)
{
    for (int i = 0; i < nfds; i++)
        if (fds[i].events != 0)
            return 1;
    return 0;
}

static void record(const omcache_value_t *vals, size_t count)
{
    for (size_t j = 0; j < count; j++) {
        for (size_t i = 0; i < N; i++) {
            if (vals[j].key_len == key_lens[i] && memcmp(vals[j].key, keys[i], key_lens[i]) == 0) {
                CHECK(vals[j].status == OMCACHE_OK && vals[j].data_len == sizeof value_buf,
                      "key %s: status %d, %zu bytes", key_text[i], vals[j].status, vals[j].data_len);
                seen[i]++;
                break;
            }
        }
    }
}

static size_t count_seen(void)
{
    size_t found = 0;
    for (size_t i = 0; i < N; i++) {
        found += seen[i] > 0;
        seen[i] = 0;
    }
    return found;
}

int main(int argc, char **argv)
{
    const char *servers = servers_arg(argc, argv, 1);
    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);

    for (size_t i = 0; i < N; i++) {
        snprintf(key_text[i], sizeof key_text[i], "nonblocking-%ld-%zu", (long) getpid(), i);
        keys[i] = (const unsigned char *) key_text[i];
        key_lens[i] = strlen(key_text[i]);
    }
    memset(value_buf, 'v', sizeof value_buf);

    /* --- 1. queue 2000 sets without waiting --------------------------- */
    int buffered = 0;
    for (size_t i = 0; i < N; i++)
        buffered += omcache_set(mc, keys[i], key_lens[i], value_buf, sizeof value_buf, 0, 0, 0, 0)
                    == OMCACHE_BUFFERED;
    CHECK(buffered == N, "%d of %d sets with timeout 0 returned OMCACHE_BUFFERED", buffered, N);

    /* Drive the I/O from our own poll() loop until nothing is outstanding. */
    const double limit_ms = 10000 * test_slack();
    double deadline = now_ms() + limit_ms;
    int passes = 0, nfds = 0, poll_timeout = 0;
    for (;;) {
        struct pollfd *fds = omcache_poll_fds(mc, &nfds, &poll_timeout);
        if (fds == NULL || nfds == 0 || !wants_events(fds, nfds))
            break;
        CHECK(now_ms() < deadline, "the set loop has run for %.0f s (%d passes)", limit_ms / 1000, passes);
        if (now_ms() >= deadline)
            break;
        if (poll(fds, (nfds_t) nfds, poll_timeout) < 0)
            perror("poll");
        int rc = omcache_io(mc, NULL, NULL, NULL, NULL, 0);
        CHECK(rc == OMCACHE_OK || rc == OMCACHE_AGAIN, "omcache_io returned %d (%s)", rc, omcache_strerror(rc));
        passes++;
    }
    printf("2000 queued sets flushed in %d poll passes\n", passes);

    /* --- 2. a multi-get from the poll loop ---------------------------- */
    size_t req_count = N, value_count = N;
    int rc = omcache_get_multi(mc, keys, key_lens, N, reqs, &req_count, values, &value_count, 0);
    CHECK_RC(rc, OMCACHE_BUFFERED);
    CHECK(value_count == 0, "%zu values from a timeout-0 get_multi", value_count);
    CHECK(req_count == N, "req_count %zu, expected %d still pending", req_count, N);

    /* The answers cannot all be here yet: one non-blocking pass says AGAIN. */
    value_count = N;
    CHECK_RC(omcache_io(mc, reqs, &req_count, values, &value_count, 0), OMCACHE_AGAIN);
    record(values, value_count);

    passes = 0;
    deadline = now_ms() + limit_ms;
    while (req_count > 0 && now_ms() < deadline) {
        struct pollfd *fds = omcache_poll_fds(mc, &nfds, &poll_timeout);
        REQUIRE(fds != NULL || nfds == 0, "omcache_poll_fds returned NULL with nfds %d", nfds);
        if (poll(fds, (nfds_t) nfds, poll_timeout) < 0)
            perror("poll");
        value_count = N;
        rc = omcache_io(mc, reqs, &req_count, values, &value_count, 0);
        CHECK(rc == OMCACHE_OK || rc == OMCACHE_AGAIN, "omcache_io returned %d (%s)", rc, omcache_strerror(rc));
        record(values, value_count);   /* consume before the next omcache_io */
        passes++;
    }
    CHECK(req_count == 0, "%zu requests still pending after %.0f s", req_count, limit_ms / 1000);
    CHECK_RC(rc, OMCACHE_OK);
    size_t found = count_seen();
    CHECK(found == N, "poll loop fetched %zu of %d keys", found, N);
    printf("2000-key multi-get finished in %d poll passes\n", passes);

    /* --- 3. a tiny positive timeout: AGAIN, then continue ------------- */
    req_count = N;
    value_count = N;
    rc = omcache_get_multi(mc, keys, key_lens, N, reqs, &req_count, values, &value_count, 1);
    CHECK(rc == OMCACHE_OK || rc == OMCACHE_AGAIN, "get_multi (1 ms) returned %d (%s)", rc, omcache_strerror(rc));
    printf("get_multi of 2000 x 1 kB with a 1 ms timeout returned %s\n", omcache_strerror(rc));
    record(values, value_count);
    while (req_count > 0) {
        value_count = N;
        rc = omcache_io(mc, reqs, &req_count, values, &value_count, -1);
        record(values, value_count);
    }
    CHECK_RC(rc, OMCACHE_OK);
    found = count_seen();
    CHECK(found == N, "fetched %zu of %d keys", found, N);

    /* --- 4. single commands with timeout 0 ---------------------------- */
    const unsigned char *value = (const unsigned char *) "junk";
    size_t value_len = 5;
    CHECK_RC(omcache_get(mc, keys[0], key_lens[0], &value, &value_len, NULL, NULL, 0), OMCACHE_BUFFERED);
    CHECK(value == NULL && value_len == 0, "a buffered get still produced a value");
    CHECK_RC(omcache_noop(mc, 0, 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_delete(mc, keys[1], key_lens[1], 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_touch(mc, keys[2], key_lens[2], 100, 0), OMCACHE_BUFFERED);
    /* Flush everything and wait for the answers (they only reach a
     * response callback, if one is set). */
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    CHECK_RC(omcache_get(mc, keys[1], key_lens[1], NULL, NULL, NULL, NULL, -1), OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_get(mc, keys[2], key_lens[2], NULL, NULL, NULL, NULL, -1), OMCACHE_OK);

    /* Nothing outstanding: the poll set waits for nothing. */
    struct pollfd *fds = omcache_poll_fds(mc, &nfds, &poll_timeout);
    CHECK(nfds == 0 || !wants_events(fds, nfds), "%d descriptors still want events when idle", nfds);

    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
