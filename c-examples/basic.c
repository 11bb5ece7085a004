/*
 * basic.c - store, fetch, change and delete single keys with blocking calls
 *
 * Shows omcache_set/add/replace/append/prepend (with and without CAS),
 * omcache_get, omcache_delete, counters with omcache_increment/decrement,
 * and expiration times with omcache_touch and omcache_gat.
 *
 * Usage: basic SERVERS        e.g. basic 127.0.0.1:11211,127.0.0.1:11212
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* Blocking calls take a timeout in milliseconds: -1 waits as long as it takes
 * (a broken server is still given up on after the dead timeout), a positive
 * value is an upper limit after which the call returns OMCACHE_AGAIN. */
#define WAIT_FOREVER (-1)
#define TWO_SECONDS 2000

static char prefix[64];

/* Keys carry the process id so that runs do not see each other's data.
 * Each call returns a new buffer (this small program makes fewer than 64). */
static const char *key(const char *name)
{
    static char bufs[64][128];
    static int next = 0;
    REQUIRE(next < 64, "out of key buffers");
    char *buf = bufs[next++];
    snprintf(buf, sizeof bufs[0], "%s:%s", prefix, name);
    return buf;
}

/* Fetch `k` and compare it with the expected value and flags. */
static void expect_value(omcache_t *mc, const char *k, const char *want, uint32_t want_flags, int line)
{
    const unsigned char *value = NULL;
    size_t value_len = 0;
    uint32_t flags = 0;
    uint64_t cas = 0;
    int rc = omcache_get(mc, K(k), &value, &value_len, &flags, &cas, WAIT_FOREVER);
    checks_run++;
    if (rc != OMCACHE_OK || value_len != strlen(want) || memcmp(value, want, value_len) != 0
        || flags != want_flags || cas == 0) {
        checks_failed++;
        fprintf(stderr, "basic.c:%d: get %s: rc %d (%s), value '%.*s' flags %u cas %llu;"
                " expected OK, '%s' flags %u, cas != 0\n", line, k, rc, omcache_strerror(rc),
                (int) (value ? value_len : 0), value ? (const char *) value : "",
                flags, (unsigned long long) cas, want, want_flags);
    }
}
#define EXPECT_VALUE(mc, k, want, flags) expect_value(mc, k, want, flags, __LINE__)

/* The CAS value of a key, 0 if it cannot be read. */
static uint64_t cas_of(omcache_t *mc, const char *k)
{
    uint64_t cas = 0;
    CHECK_RC(omcache_get(mc, K(k), NULL, NULL, NULL, &cas, WAIT_FOREVER), OMCACHE_OK);
    return cas;
}

int main(int argc, char **argv)
{
    const char *servers = servers_arg(argc, argv, 1);
    snprintf(prefix, sizeof prefix, "basic-%ld", (long) getpid());

    /* A handle starts with no servers; give it the list. */
    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);
    CHECK_RC(omcache_set_connect_timeout(mc, 2000), OMCACHE_OK);
    CHECK_RC(omcache_set_dead_timeout(mc, 5000), OMCACHE_OK);
    CHECK_RC(omcache_set_reconnect_timeout(mc, 5000), OMCACHE_OK);

    /* --- set and get -------------------------------------------------- */
    const char *greeting = key("greeting");
    CHECK_RC(omcache_set(mc, K(greeting), K("hello, world"), 0, 42, 0, WAIT_FOREVER), OMCACHE_OK);
    EXPECT_VALUE(mc, greeting, "hello, world", 42);

    /* Every output pointer of omcache_get may be NULL; a positive timeout
     * limits the wait. */
    CHECK_RC(omcache_get(mc, K(greeting), NULL, NULL, NULL, NULL, TWO_SECONDS), OMCACHE_OK);

    /* A missing key: NOT_FOUND, and the outputs are cleared. */
    const unsigned char *value = (const unsigned char *) "junk";
    size_t value_len = 99;
    uint32_t flags = 99;
    uint64_t cas = 99;
    CHECK_RC(omcache_get(mc, K(key("no-such-key")), &value, &value_len, &flags, &cas, TWO_SECONDS),
             OMCACHE_NOT_FOUND);
    CHECK(value == NULL && value_len == 0, "missing key gave value %p, length %zu", (void *) value, value_len);

    /* Values are binary: embedded NUL bytes survive. */
    const unsigned char binary[] = { 'a', 0, 'b', 0, 0xff, 'c' };
    CHECK_RC(omcache_set(mc, K(key("binary")), binary, sizeof binary, 0, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_get(mc, K(key("binary")), &value, &value_len, NULL, NULL, WAIT_FOREVER), OMCACHE_OK);
    CHECK(value_len == sizeof binary && memcmp(value, binary, sizeof binary) == 0,
          "binary value came back as %zu bytes", value_len);

    /* A get answer whose body (4 bytes of flags + key + value) is exactly
     * 65,536 bytes: OMcache 0.3 wrongly reset the connection here. */
    const char *k64 = key("body-64k");
    size_t len64 = 65536 - 4 - strlen(k64);
    static unsigned char big[65536];
    memset(big, 'b', sizeof big);
    CHECK_RC(omcache_set(mc, K(k64), big, len64, 0, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_get(mc, K(k64), &value, &value_len, NULL, NULL, WAIT_FOREVER), OMCACHE_OK);
    CHECK(value_len == len64 && memcmp(value, big, len64) == 0, "64 kB value came back as %zu bytes", value_len);

    /* An empty value is a value too. */
    CHECK_RC(omcache_set(mc, K(key("empty")), NULL, 0, 0, 7, 0, WAIT_FOREVER), OMCACHE_OK);
    EXPECT_VALUE(mc, key("empty"), "", 7);

    /* --- add and replace ---------------------------------------------- */
    CHECK_RC(omcache_add(mc, K(greeting), K("again"), 0, 0, WAIT_FOREVER), OMCACHE_KEY_EXISTS);
    CHECK_RC(omcache_add(mc, K(key("added")), K("fresh"), 0, 1, WAIT_FOREVER), OMCACHE_OK);
    EXPECT_VALUE(mc, key("added"), "fresh", 1);

    CHECK_RC(omcache_replace(mc, K(key("not-there")), K("x"), 0, 0, WAIT_FOREVER), OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_replace(mc, K(greeting), K("hello again"), 0, 43, TWO_SECONDS), OMCACHE_OK);
    EXPECT_VALUE(mc, greeting, "hello again", 43);

    /* --- compare and swap --------------------------------------------- */
    /* Read the CAS value, then update "only if nobody changed it since". */
    uint64_t cas1 = cas_of(mc, greeting);
    CHECK_RC(omcache_set(mc, K(greeting), K("v2"), 0, 0, cas1, WAIT_FOREVER), OMCACHE_OK);
    /* cas1 is stale now: the conditional set is refused. */
    CHECK_RC(omcache_set(mc, K(greeting), K("v3"), 0, 0, cas1, WAIT_FOREVER), OMCACHE_KEY_EXISTS);
    EXPECT_VALUE(mc, greeting, "v2", 0);
    /* A CAS update of a key that does not exist. */
    CHECK_RC(omcache_set(mc, K(key("cas-missing")), K("x"), 0, 0, 12345, WAIT_FOREVER), OMCACHE_NOT_FOUND);

    /* --- append and prepend ------------------------------------------- */
    CHECK_RC(omcache_append(mc, K(key("nothing")), K("tail"), 0, WAIT_FOREVER), OMCACHE_NOT_STORED);
    CHECK_RC(omcache_prepend(mc, K(key("nothing")), K("head"), 0, WAIT_FOREVER), OMCACHE_NOT_STORED);

    const char *story = key("story");
    CHECK_RC(omcache_set(mc, K(story), K("middle"), 0, 5, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_append(mc, K(story), K("-end"), 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_prepend(mc, K(story), K("start-"), 0, TWO_SECONDS), OMCACHE_OK);
    EXPECT_VALUE(mc, story, "start-middle-end", 5);   /* flags are kept */

    /* With CAS: only the current CAS value is accepted. */
    uint64_t stale = cas_of(mc, story);
    CHECK_RC(omcache_append(mc, K(story), K("!"), stale, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_append(mc, K(story), K("?"), stale, WAIT_FOREVER), OMCACHE_KEY_EXISTS);
    CHECK_RC(omcache_prepend(mc, K(story), K("?"), stale, WAIT_FOREVER), OMCACHE_KEY_EXISTS);
    CHECK_RC(omcache_prepend(mc, K(story), K(">"), cas_of(mc, story), WAIT_FOREVER), OMCACHE_OK);
    EXPECT_VALUE(mc, story, ">start-middle-end!", 5);

    /* --- delete ------------------------------------------------------- */
    CHECK_RC(omcache_delete(mc, K(story), WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_delete(mc, K(story), WAIT_FOREVER), OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_get(mc, K(story), NULL, NULL, NULL, NULL, WAIT_FOREVER), OMCACHE_NOT_FOUND);

    /* --- counters ----------------------------------------------------- */
    const char *hits = key("hits");
    uint64_t counter = 0;
    /* A missing counter is created with the initial value (the delta is not
     * applied the first time). */
    CHECK_RC(omcache_increment(mc, K(hits), 5, 100, 0, &counter, WAIT_FOREVER), OMCACHE_OK);
    CHECK(counter == 100, "new counter is %llu, expected 100", (unsigned long long) counter);
    CHECK_RC(omcache_increment(mc, K(hits), 5, 100, 0, &counter, WAIT_FOREVER), OMCACHE_OK);
    CHECK(counter == 105, "counter is %llu, expected 105", (unsigned long long) counter);
    CHECK_RC(omcache_decrement(mc, K(hits), 6, 0, 0, &counter, TWO_SECONDS), OMCACHE_OK);
    CHECK(counter == 99, "counter is %llu, expected 99", (unsigned long long) counter);
    /* Counters are stored as decimal text (memcached rewrites a counter that
     * got shorter in place, padded with spaces: "99 "). */
    CHECK_RC(omcache_get(mc, K(hits), &value, &value_len, NULL, NULL, WAIT_FOREVER), OMCACHE_OK);
    size_t digits = 0;
    while (digits < value_len && value[digits] != ' ')
        digits++;
    CHECK(digits == 2 && memcmp(value, "99", 2) == 0, "counter text is '%.*s'",
          (int) value_len, value ? (const char *) value : "");
    /* Decrementing below zero stops at zero. */
    CHECK_RC(omcache_decrement(mc, K(hits), 1000, 0, 0, &counter, WAIT_FOREVER), OMCACHE_OK);
    CHECK(counter == 0, "counter is %llu, expected 0", (unsigned long long) counter);
    /* Incrementing past 2^64 - 1 wraps around. */
    CHECK_RC(omcache_set(mc, K(hits), K("18446744073709551615"), 0, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_increment(mc, K(hits), 2, 0, 0, &counter, WAIT_FOREVER), OMCACHE_OK);
    CHECK(counter == 1, "counter is %llu, expected 1 after wrapping", (unsigned long long) counter);

    /* OMCACHE_DELTA_NO_ADD as the expiration: do not create a missing counter. */
    counter = 77;
    CHECK_RC(omcache_increment(mc, K(key("no-counter")), 1, 10, OMCACHE_DELTA_NO_ADD, &counter, WAIT_FOREVER),
             OMCACHE_NOT_FOUND);
    CHECK(counter == 0, "*value is %llu after NOT_FOUND, expected 0", (unsigned long long) counter);
    CHECK_RC(omcache_decrement(mc, K(key("no-counter")), 1, 10, OMCACHE_DELTA_NO_ADD, NULL, WAIT_FOREVER),
             OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_get(mc, K(key("no-counter")), NULL, NULL, NULL, NULL, WAIT_FOREVER), OMCACHE_NOT_FOUND);
    /* ... but an existing counter is still updated. */
    CHECK_RC(omcache_increment(mc, K(hits), 1, 0, OMCACHE_DELTA_NO_ADD, &counter, WAIT_FOREVER), OMCACHE_OK);
    CHECK(counter == 2, "counter is %llu, expected 2", (unsigned long long) counter);

    /* Only numbers can be incremented. */
    CHECK_RC(omcache_increment(mc, K(greeting), 1, 0, 0, NULL, WAIT_FOREVER), OMCACHE_DELTA_BAD_VALUE);
    CHECK_RC(omcache_decrement(mc, K(greeting), 1, 0, 0, NULL, WAIT_FOREVER), OMCACHE_DELTA_BAD_VALUE);

    /* --- expiration: touch and gat ------------------------------------ */
    /* Expirations up to 30 days are seconds from now, larger ones absolute
     * Unix times. */
    CHECK_RC(omcache_touch(mc, K(key("nobody")), 10, WAIT_FOREVER), OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_gat(mc, K(key("nobody")), NULL, NULL, 10, NULL, NULL, WAIT_FOREVER), OMCACHE_NOT_FOUND);

    const char *touched = key("touched");        /* will expire: touched to 1 s */
    const char *gat_short = key("gat-short");    /* will expire: gat with 1 s */
    const char *gat_forever = key("gat-forever");/* set to 1 s, gat makes it permanent */
    const char *short_lived = key("short-lived");/* set with 1 s */
    const char *future = key("future");          /* absolute time an hour ahead */
    const char *past = key("past");              /* absolute time in the past */
    time_t now = time(NULL);

    CHECK_RC(omcache_set(mc, K(touched), K("t"), 0, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_touch(mc, K(touched), 1, WAIT_FOREVER), OMCACHE_OK);

    CHECK_RC(omcache_set(mc, K(gat_short), K("g1"), 0, 11, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_gat(mc, K(gat_short), &value, &value_len, 1, &flags, &cas, WAIT_FOREVER), OMCACHE_OK);
    CHECK(value_len == 2 && memcmp(value, "g1", 2) == 0, "gat returned %zu bytes", value_len);
    CHECK(flags == 11, "gat reported flags %u, expected 11", flags);
    CHECK(cas != 0, "gat reported cas 0");

    CHECK_RC(omcache_set(mc, K(gat_forever), K("g2"), 1, 12, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_gat(mc, K(gat_forever), NULL, NULL, 0, NULL, NULL, TWO_SECONDS), OMCACHE_OK);

    CHECK_RC(omcache_set(mc, K(short_lived), K("s"), 1, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_set(mc, K(future), K("f"), now + 3600, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_set(mc, K(past), K("p"), now - 3600, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    CHECK_RC(omcache_get(mc, K(past), NULL, NULL, NULL, NULL, WAIT_FOREVER), OMCACHE_NOT_FOUND);
    EXPECT_VALUE(mc, future, "f", 0);
    EXPECT_VALUE(mc, short_lived, "s", 0);

    /* memcached's clock ticks once a second: 2.5 s is surely past 1 s. */
    struct timespec pause = { 2, 500000000L };
    nanosleep(&pause, NULL);

    CHECK_RC(omcache_get(mc, K(touched), NULL, NULL, NULL, NULL, WAIT_FOREVER), OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_get(mc, K(gat_short), NULL, NULL, NULL, NULL, WAIT_FOREVER), OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_get(mc, K(short_lived), NULL, NULL, NULL, NULL, WAIT_FOREVER), OMCACHE_NOT_FOUND);
    EXPECT_VALUE(mc, gat_forever, "g2", 12);
    EXPECT_VALUE(mc, future, "f", 0);

    /* --- the longest allowed key -------------------------------------- */
    char long_key[251];
    memset(long_key, 'k', 250);
    long_key[250] = '\0';
    memcpy(long_key, prefix, strlen(prefix));
    CHECK_RC(omcache_set(mc, K(long_key), K("long"), 0, 0, 0, WAIT_FOREVER), OMCACHE_OK);
    EXPECT_VALUE(mc, long_key, "long", 0);

    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
