/*
 * buffering.c - queue many commands, send them in one go (or not at all)
 *
 * With omcache_set_buffering(mc, 1), commands given timeout 0 only go into
 * the per-server send buffers and return OMCACHE_BUFFERED; nothing is sent
 * until omcache_io() runs (or a command with a non-zero timeout, which
 * flushes first).  omcache_reset_buffers() throws the queued data away.
 * omcache_set_send_buffer_max_size() limits each server's queue; a command
 * that does not fit is dropped with OMCACHE_BUFFER_FULL.
 *
 * Usage: buffering SERVERS        (meant for 4 servers)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define N 100

static char keys[N][64];

static void make_keys(const char *what)
{
    for (int i = 0; i < N; i++)
        snprintf(keys[i], sizeof keys[i], "buffering-%ld-%s-%d", (long) getpid(), what, i);
}

/* How many of the keys exist, asked through an ordinary second handle. */
static int count_stored(omcache_t *observer)
{
    int stored = 0;
    for (int i = 0; i < N; i++)
        stored += omcache_get(observer, K(keys[i]), NULL, NULL, NULL, NULL, -1) == OMCACHE_OK;
    return stored;
}

int main(int argc, char **argv)
{
    const char *servers = servers_arg(argc, argv, 1);
    omcache_t *mc = omcache_init();
    omcache_t *observer = omcache_init();
    REQUIRE(mc != NULL && observer != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);
    CHECK_RC(omcache_set_servers(observer, servers), OMCACHE_OK);
    CHECK_RC(omcache_set_buffering(mc, 1), OMCACHE_OK);

    /* --- 1. queue, then flush with omcache_io -------------------------- */
    make_keys("flushed");
    for (int i = 0; i < N; i++)
        CHECK_RC(omcache_set(mc, K(keys[i]), K("buffered value"), 0, 0, 0, 0), OMCACHE_BUFFERED);
    CHECK(count_stored(observer) == 0, "buffered sets reached memcached before omcache_io");
    /* All arguments NULL: just send what is queued and read the answers. */
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    int stored = count_stored(observer);
    CHECK(stored == N, "%d of %d keys stored after omcache_io", stored, N);

    /* --- 2. queue, then throw it away ---------------------------------- */
    make_keys("reset");
    for (int i = 0; i < N; i++)
        CHECK_RC(omcache_set(mc, K(keys[i]), K("never sent"), 0, 0, 0, 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_reset_buffers(mc), OMCACHE_OK);
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    stored = count_stored(observer);
    CHECK(stored == 0, "%d keys reached memcached after omcache_reset_buffers", stored);
    /* The handle works normally afterwards. */
    CHECK_RC(omcache_set(mc, K(keys[0]), K("after reset"), 0, 0, 0, -1), OMCACHE_OK);
    CHECK_RC(omcache_get(observer, K(keys[0]), NULL, NULL, NULL, NULL, -1), OMCACHE_OK);

    /* --- 3. a command with a timeout flushes the queue first ----------- */
    make_keys("implicit");
    CHECK_RC(omcache_set(mc, K(keys[0]), K("first"), 0, 0, 0, 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_append(mc, K(keys[0]), K("+second"), 0, 0), OMCACHE_BUFFERED);
    const unsigned char *value = NULL;
    size_t value_len = 0;
    CHECK_RC(omcache_get(mc, K(keys[0]), &value, &value_len, NULL, NULL, -1), OMCACHE_OK);
    CHECK(value_len == 12 && memcmp(value, "first+second", 12) == 0,
          "value '%.*s'", (int) value_len, value ? (const char *) value : "");
    /* A blocking command returns its real status, also in buffering mode. */
    CHECK_RC(omcache_add(mc, K(keys[0]), K("x"), 0, 0, -1), OMCACHE_KEY_EXISTS);

    /* --- 4. a small send buffer fills up ------------------------------- */
    /* 1000 bytes per server: a 100-byte set takes ~140 bytes on the wire,
     * so only a few fit per server before BUFFER_FULL. */
    make_keys("full");
    CHECK_RC(omcache_set_send_buffer_max_size(mc, 1000), OMCACHE_OK);
    unsigned char hundred[100];
    memset(hundred, 'h', sizeof hundred);
    int result[N], n_buffered = 0, n_full = 0;
    for (int i = 0; i < N; i++) {
        result[i] = omcache_set(mc, K(keys[i]), hundred, sizeof hundred, 0, 0, 0, 0);
        n_buffered += result[i] == OMCACHE_BUFFERED;
        n_full += result[i] == OMCACHE_BUFFER_FULL;
    }
    CHECK(n_buffered + n_full == N, "sets returned something else than BUFFERED/BUFFER_FULL");
    CHECK(n_buffered > 0 && n_full > 0, "%d BUFFERED, %d BUFFER_FULL", n_buffered, n_full);
    printf("100 sets into 1000-byte send buffers: %d queued, %d refused with BUFFER_FULL\n",
           n_buffered, n_full);
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    /* Exactly the queued ones were stored. */
    int mismatches = 0;
    for (int i = 0; i < N; i++) {
        int rc = omcache_get(observer, K(keys[i]), NULL, NULL, NULL, NULL, -1);
        if ((result[i] == OMCACHE_BUFFERED) != (rc == OMCACHE_OK))
            mismatches++;
    }
    CHECK(mismatches == 0, "%d keys stored although refused, or lost although queued", mismatches);

    /* After a flush the buffers are empty again and take new requests. */
    CHECK_RC(omcache_set(mc, K(keys[0]), hundred, sizeof hundred, 0, 0, 0, 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);

    /* --- 5. buffering off: timeout 0 still does not wait --------------- */
    CHECK_RC(omcache_set_send_buffer_max_size(mc, 10 * 1024 * 1024), OMCACHE_OK);
    CHECK_RC(omcache_set_buffering(mc, 0), OMCACHE_OK);
    CHECK_RC(omcache_set(mc, K(keys[1]), K("direct"), 0, 0, 0, 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    CHECK_RC(omcache_get(observer, K(keys[1]), &value, &value_len, NULL, NULL, -1), OMCACHE_OK);

    CHECK_RC(omcache_free(observer), OMCACHE_OK);
    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
