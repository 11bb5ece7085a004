/*
 * errors.c - every return code, and how to provoke it
 *
 * OMcache functions return an omcache_ret_t.  The small codes are
 * memcached's own answers (NOT_FOUND, KEY_EXISTS, ...); the 0x1000 range is
 * the library's (AGAIN, INVALID, BUFFERED, ...).  omcache_strerror() turns
 * any of them into text.
 *
 * Usage: errors SERVER        (one server is enough)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const int all_codes[] = {
    OMCACHE_OK, OMCACHE_NOT_FOUND, OMCACHE_KEY_EXISTS, OMCACHE_TOO_LARGE_VALUE,
    OMCACHE_NOT_STORED, OMCACHE_DELTA_BAD_VALUE, OMCACHE_FAIL, OMCACHE_AGAIN,
    OMCACHE_INVALID, OMCACHE_BUFFERED, OMCACHE_BUFFER_FULL, OMCACHE_NO_SERVERS,
    OMCACHE_SERVER_FAILURE,
};
#define NCODES (sizeof all_codes / sizeof all_codes[0])

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

static void strerror_of_every_code(void)
{
    const char *unknown = omcache_strerror(0x1007);
    CHECK(unknown != NULL && *unknown, "no text for an unknown code");
    for (size_t i = 0; i < NCODES; i++) {
        const char *text = omcache_strerror(all_codes[i]);
        printf("  %#06x  %s\n", (unsigned) all_codes[i], text);
        CHECK(text != NULL && *text && strcmp(text, unknown) != 0,
              "code %#x has no message of its own", (unsigned) all_codes[i]);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(text, omcache_strerror(all_codes[j])) != 0,
                  "codes %#x and %#x share the message '%s'", (unsigned) all_codes[i],
                  (unsigned) all_codes[j], text);
    }
    /* Numbers that are not codes: all get the one "unknown" message. */
    const int not_codes[] = { 4, 7, 0x100, 0xffe, 0x1000, 0x1007, -1, 0x7fffffff };
    for (size_t i = 0; i < sizeof not_codes / sizeof not_codes[0]; i++)
        CHECK(strcmp(omcache_strerror(not_codes[i]), unknown) == 0,
              "omcache_strerror(%#x) = '%s', expected '%s'", (unsigned) not_codes[i],
              omcache_strerror(not_codes[i]), unknown);
}

/* Every function refuses a NULL handle with OMCACHE_INVALID. */
static void null_handle(void)
{
    omcache_t *none = NULL;
    omcache_req_t req;
    omcache_value_t val;
    size_t one = 1;
    const unsigned char *k = (const unsigned char *) "k";
    size_t klen = 1;
    time_t exp = 0;
    int nfds = 0, timeout = 0;
    memset(&req, 0, sizeof req);

    CHECK_RC(omcache_set_connect_timeout(none, 1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_reconnect_timeout(none, 1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_dead_timeout(none, 1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_send_buffer_max_size(none, 1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_recv_buffer_max_size(none, 1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_buffering(none, 1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_servers(none, "127.0.0.1"), OMCACHE_INVALID);
    CHECK_RC(omcache_set_distribution_method(none, &omcache_dist_libmemcached_ketama), OMCACHE_INVALID);
    CHECK_RC(omcache_set_log_callback(none, 0, omcache_log_stderr, NULL), OMCACHE_INVALID);
    CHECK_RC(omcache_set_response_callback(none, NULL, NULL), OMCACHE_INVALID);
    CHECK(omcache_poll_fds(none, &nfds, &timeout) == NULL, "omcache_poll_fds(NULL) is not NULL");
    CHECK_RC(omcache_reset_buffers(none), OMCACHE_INVALID);
    CHECK_RC(omcache_io(none, NULL, NULL, NULL, NULL, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_command(none, &req, &one, &val, &one, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_command_status(none, &req, 0), OMCACHE_INVALID);
    CHECK(omcache_server_info(none, 0) == NULL, "omcache_server_info(NULL, 0) is not NULL");
    CHECK_RC(omcache_server_info_free(none, NULL), OMCACHE_INVALID);
    CHECK_RC(omcache_noop(none, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_stat(none, NULL, &val, &one, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_flush_all(none, 0, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_set(none, k, klen, k, klen, 0, 0, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_add(none, k, klen, k, klen, 0, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_replace(none, k, klen, k, klen, 0, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_append(none, k, klen, k, klen, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_prepend(none, k, klen, k, klen, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_increment(none, k, klen, 1, 0, 0, NULL, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_decrement(none, k, klen, 1, 0, 0, NULL, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_delete(none, k, klen, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_touch(none, k, klen, 0, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_get(none, k, klen, NULL, NULL, NULL, NULL, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_gat(none, k, klen, NULL, NULL, 0, NULL, NULL, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_get_multi(none, &k, &klen, 1, &req, &one, &val, &one, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_gat_multi(none, &k, &klen, &exp, 1, &req, &one, &val, &one, 0), OMCACHE_INVALID);
    CHECK_RC(omcache_free(none), OMCACHE_INVALID);
}

/* Bad keys and other bad arguments: OMCACHE_INVALID, nothing is sent. */
static void bad_arguments(omcache_t *mc)
{
    const unsigned char *v = (const unsigned char *) "value";
    char key251[252];
    memset(key251, 'x', 251);
    key251[251] = '\0';

    CHECK_RC(omcache_set(mc, NULL, 3, v, 5, 0, 0, 0, -1), OMCACHE_INVALID);       /* NULL key */
    CHECK_RC(omcache_set(mc, K(""), v, 5, 0, 0, 0, -1), OMCACHE_INVALID);         /* empty key */
    CHECK_RC(omcache_set(mc, K(key251), v, 5, 0, 0, 0, -1), OMCACHE_INVALID);     /* > 250 bytes */
    CHECK_RC(omcache_set(mc, K("errors-null-value"), NULL, 5, 0, 0, 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_get(mc, NULL, 1, NULL, NULL, NULL, NULL, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_get(mc, K(""), NULL, NULL, NULL, NULL, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_get(mc, K(key251), NULL, NULL, NULL, NULL, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_gat(mc, K(""), NULL, NULL, 0, NULL, NULL, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_add(mc, K(key251), v, 5, 0, 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_replace(mc, NULL, 0, v, 5, 0, 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_append(mc, K(""), v, 5, 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_prepend(mc, K(key251), v, 5, 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_delete(mc, K(""), -1), OMCACHE_INVALID);
    CHECK_RC(omcache_touch(mc, K(key251), 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_increment(mc, K(""), 1, 0, 0, NULL, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_decrement(mc, NULL, 4, 1, 0, 0, NULL, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_servers(mc, NULL), OMCACHE_INVALID);
    CHECK_RC(omcache_command_status(mc, NULL, -1), OMCACHE_INVALID);

    /* get_multi needs a request slot per key. */
    const unsigned char *keys[3] = { v, v, v };
    size_t lens[3] = { 5, 5, 5 };
    time_t exps[3] = { 0, 0, 0 };
    omcache_req_t reqs[3];
    omcache_value_t values[3];
    size_t req_count = 2, value_count = 3;
    CHECK_RC(omcache_get_multi(mc, keys, lens, 3, reqs, &req_count, values, &value_count, -1), OMCACHE_INVALID);
    /* Nothing was queued: both counts are 0, so loops over them read no uninitialised entry. */
    CHECK(req_count == 0 && value_count == 0, "counts %zu %zu after INVALID", req_count, value_count);
    value_count = 3;
    req_count = 2;
    CHECK_RC(omcache_gat_multi(mc, keys, lens, exps, 3, reqs, &req_count, values, &value_count, -1),
             OMCACHE_INVALID);
    CHECK_RC(omcache_get_multi(mc, keys, lens, 3, reqs, NULL, values, &value_count, -1), OMCACHE_INVALID);
    lens[1] = 0;    /* one bad key spoils the batch */
    req_count = 3;
    CHECK_RC(omcache_get_multi(mc, keys, lens, 3, reqs, &req_count, values, &value_count, -1), OMCACHE_INVALID);
    CHECK(req_count == 0 && value_count == 0, "counts %zu %zu after INVALID", req_count, value_count);

    /* A command needs its request count (NULL would send nothing and say OK). */
    value_count = 3;
    CHECK_RC(omcache_command(mc, reqs, NULL, values, &value_count, -1), OMCACHE_INVALID);
    CHECK(value_count == 0, "value count %zu after INVALID", value_count);

    /* A length no buffer has (8 + 1 + SIZE_MAX wrapped to 8 once: the frame's start went out,
     * and the next request took its answer): refused, nothing sent, the connection in step. */
    CHECK_RC(omcache_set(mc, K("errors-a"), v, 5, 0, 0, 0, -1), OMCACHE_OK);
    CHECK_RC(omcache_set(mc, K("errors-a"), v, SIZE_MAX, 0, 0, 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_set(mc, K("errors-a"), v, SIZE_MAX - 8, 0, 0, 0, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_set(mc, K("errors-b"), K("after"), 0, 0, 0, -1), OMCACHE_OK);
    const unsigned char *got = NULL;
    size_t got_len = 0;
    CHECK_RC(omcache_get(mc, K("errors-b"), &got, &got_len, NULL, NULL, -1), OMCACHE_OK);
    CHECK(got_len == 5 && memcmp(got, "after", 5) == 0, "errors-b after a SIZE_MAX set");
    CHECK_RC(omcache_get(mc, K("errors-a"), &got, &got_len, NULL, NULL, -1), OMCACHE_OK);
    CHECK(got_len == 5 && memcmp(got, "value", 5) == 0, "errors-a after a SIZE_MAX set");

    /* The longest key that is allowed. */
    key251[250] = '\0';
    CHECK_RC(omcache_set(mc, K(key251), v, 5, 0, 0, 0, -1), OMCACHE_OK);
    CHECK_RC(omcache_delete(mc, K(key251), -1), OMCACHE_OK);
}

/* omcache_io continues the batch of the previous command, and only with the
 * array that command filled in. */
static void foreign_request_array(omcache_t *mc)
{
    enum { NK = 20 };
    char text[NK][32];
    const unsigned char *keys[NK];
    size_t lens[NK];
    omcache_req_t reqs[NK], other[NK];
    omcache_value_t values[NK];
    for (int i = 0; i < NK; i++) {
        snprintf(text[i], sizeof text[i], "errors-%ld-%d", (long) getpid(), i);
        keys[i] = (const unsigned char *) text[i];
        lens[i] = strlen(text[i]);
        CHECK_RC(omcache_set(mc, keys[i], lens[i], keys[i], lens[i], 0, 0, 0, -1), OMCACHE_OK);
    }
    size_t req_count = NK, value_count = NK;
    CHECK_RC(omcache_get_multi(mc, keys, lens, NK, reqs, &req_count, values, &value_count, 0), OMCACHE_BUFFERED);
    CHECK(req_count == NK, "req_count %zu after a timeout-0 get_multi", req_count);

    /* Some other array (here: a zeroed one) is refused and nothing changes. */
    memset(other, 0, sizeof other);
    size_t other_count = NK;
    value_count = NK;
    CHECK_RC(omcache_io(mc, other, &other_count, values, &value_count, -1), OMCACHE_INVALID);
    CHECK(other_count == NK, "other_count changed to %zu", other_count);
    /* A copy with a different first request id is foreign too. */
    memcpy(other, reqs, sizeof other);
    other[0].header.opaque += 1000;
    other_count = NK;
    value_count = NK;
    CHECK_RC(omcache_io(mc, other, &other_count, values, &value_count, -1), OMCACHE_INVALID);

    /* The real array still completes the batch. */
    size_t got = 0;
    int rc = OMCACHE_AGAIN;
    while (req_count > 0) {
        value_count = NK;
        rc = omcache_io(mc, reqs, &req_count, values, &value_count, -1);
        got += value_count;
        if (rc != OMCACHE_AGAIN)
            break;
    }
    CHECK_RC(rc, OMCACHE_OK);
    CHECK(got == NK, "%zu values, expected %d", got, NK);
}

/* A server that accepts connections but never answers. */
static void silent_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t sa_len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0 && listen(fd, 16) == 0,
            "cannot create a listening socket");
    getsockname(fd, (struct sockaddr *) &sa, &sa_len);
    char server[64];
    snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(sa.sin_port));

    omcache_t *mc = omcache_init();
    CHECK_RC(omcache_set_servers(mc, server), OMCACHE_OK);
    CHECK_RC(omcache_set_dead_timeout(mc, 300), OMCACHE_OK);
    CHECK_RC(omcache_set_reconnect_timeout(mc, 60000), OMCACHE_OK);

    /* The kernel accepts the connection, nobody answers: after the dead
     * timeout the request fails with SERVER_FAILURE... */
    double start = now_ms();
    CHECK_RC(omcache_get(mc, K("errors-silent"), NULL, NULL, NULL, NULL, -1), OMCACHE_SERVER_FAILURE);
    double took = now_ms() - start;
    double limit = 3000 * test_slack();
    CHECK(took >= 250 && took < limit, "SERVER_FAILURE came after %.0f ms, expected about 300 (limit %.0f)",
          took, limit);
    /* ...and the server is dead: nothing left to send to. */
    CHECK_RC(omcache_get(mc, K("errors-silent"), NULL, NULL, NULL, NULL, -1), OMCACHE_NO_SERVERS);
    CHECK_RC(omcache_noop(mc, 0, -1), OMCACHE_NO_SERVERS);
    printf("  silent server: SERVER_FAILURE after %.0f ms (dead timeout 300 ms)\n", took);
    omcache_free(mc);
    close(fd);
}

int main(int argc, char **argv)
{
    const char *server = servers_arg(argc, argv, 1);
    omcache_value_t values[8];
    size_t value_count;
    omcache_req_t req;

    printf("return codes:\n");
    strerror_of_every_code();
    null_handle();

    /* --- NO_SERVERS: a handle without servers ------------------------- */
    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set(mc, K("errors-k"), K("v"), 0, 0, 0, -1), OMCACHE_NO_SERVERS);
    CHECK_RC(omcache_get(mc, K("errors-k"), NULL, NULL, NULL, NULL, -1), OMCACHE_NO_SERVERS);
    CHECK_RC(omcache_noop(mc, 0, -1), OMCACHE_NO_SERVERS);
    CHECK(omcache_server_info(mc, 0) == NULL, "server_info(0) without servers is not NULL");

    CHECK_RC(omcache_set_servers(mc, server), OMCACHE_OK);
    bad_arguments(mc);

    /* ... and explicit server indexes beyond the list. */
    value_count = 8;
    CHECK_RC(omcache_noop(mc, 1, -1), OMCACHE_NO_SERVERS);
    CHECK_RC(omcache_noop(mc, 99, -1), OMCACHE_NO_SERVERS);
    CHECK_RC(omcache_stat(mc, NULL, values, &value_count, 7, -1), OMCACHE_NO_SERVERS);
    CHECK_RC(omcache_flush_all(mc, 0, 5, -1), OMCACHE_NO_SERVERS);
    CHECK_RC(omcache_noop(mc, 0, -1), OMCACHE_OK);

    /* --- memcached's own answers -------------------------------------- */
    char key[64];
    snprintf(key, sizeof key, "errors-%ld", (long) getpid());
    CHECK_RC(omcache_get(mc, K(key), NULL, NULL, NULL, NULL, -1), OMCACHE_NOT_FOUND);
    CHECK_RC(omcache_set(mc, K(key), K("text"), 0, 0, 0, -1), OMCACHE_OK);
    CHECK_RC(omcache_add(mc, K(key), K("text"), 0, 0, -1), OMCACHE_KEY_EXISTS);
    CHECK_RC(omcache_increment(mc, K(key), 1, 0, 0, NULL, -1), OMCACHE_DELTA_BAD_VALUE);
    CHECK_RC(omcache_append(mc, K("errors-nothing-here"), K("x"), 0, -1), OMCACHE_NOT_STORED);

    /* TOO_LARGE_VALUE: memcached's default item limit is 1 MiB. */
    size_t big = 2 * 1024 * 1024;
    unsigned char *blob = calloc(1, big);
    REQUIRE(blob != NULL, "out of memory");
    CHECK_RC(omcache_set(mc, K(key), blob, big, 0, 0, 0, -1), OMCACHE_TOO_LARGE_VALUE);
    CHECK_RC(omcache_set(mc, K(key), blob, 1000000, 0, 0, 0, -1), OMCACHE_OK);   /* fits */

    /* BUFFER_FULL (sending): a request larger than the send buffer limit is
     * dropped before anything is sent. */
    CHECK_RC(omcache_set_send_buffer_max_size(mc, 5000), OMCACHE_OK);
    CHECK_RC(omcache_set(mc, K(key), blob, 100000, 0, 0, 0, -1), OMCACHE_BUFFER_FULL);
    CHECK_RC(omcache_set_send_buffer_max_size(mc, 10 * 1024 * 1024), OMCACHE_OK);
    CHECK_RC(omcache_set(mc, K(key), blob, 100000, 0, 0, 0, -1), OMCACHE_OK);

    /* BUFFER_FULL (receiving): a value bigger than the receive buffer limit. */
    CHECK_RC(omcache_set_recv_buffer_max_size(mc, 1000), OMCACHE_OK);
    CHECK_RC(omcache_get(mc, K(key), NULL, NULL, NULL, NULL, -1), OMCACHE_BUFFER_FULL);
    CHECK_RC(omcache_set_recv_buffer_max_size(mc, 1024 * (1024 + 32)), OMCACHE_OK);
    size_t got_len = 0;
    CHECK_RC(omcache_get(mc, K(key), NULL, &got_len, NULL, NULL, -1), OMCACHE_OK);
    CHECK(got_len == 100000, "value is %zu bytes, expected 100000", got_len);
    free(blob);

    /* FAIL: memcached rejects an opcode it does not know (0x50).  Raw
     * requests go through omcache_command_status(); the library fills in
     * magic, datatype and the request id. */
    memset(&req, 0, sizeof req);
    req.server_index = 0;
    req.header.opcode = 0x50;
    CHECK_RC(omcache_command_status(mc, &req, -1), OMCACHE_FAIL);
    CHECK_RC(omcache_noop(mc, 0, -1), OMCACHE_OK);   /* the connection is fine */

    /* BUFFERED and AGAIN appear in nonblocking.c and buffering.c as well. */
    CHECK_RC(omcache_noop(mc, 0, 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);

    foreign_request_array(mc);
    CHECK_RC(omcache_free(mc), OMCACHE_OK);

    silent_server();
    return check_summary(argv[0]);
}
