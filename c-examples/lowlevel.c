/*
 * lowlevel.c - raw binary-protocol requests with omcache_command
 *
 * Every convenience function builds omcache_req_t requests and hands them
 * to omcache_command() (several requests, answers into a values array) or
 * omcache_command_status() (one request, returns its status).  Programs can
 * do the same for opcodes that have no convenience function, e.g. VERSION
 * or a quiet SETQ.  The caller fills in opcode, key/extras/value pointers
 * and the lengths (network byte order); the library fills in magic,
 * datatype and the request id (opaque).  server_index picks the server for
 * key-less opcodes; -1 means "by key".
 *
 * Usage: lowlevel SERVERS        (meant for 4 servers)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* memcached binary protocol opcodes used here */
enum {
    OP_GETK = 0x0c,
    OP_SET = 0x01,
    OP_SETQ = 0x11,
    OP_NOOP = 0x0a,
    OP_VERSION = 0x0b,
    OP_DELETE = 0x04,
};

/* A request for `opcode` with an optional key, extras and value. */
static omcache_req_t make_req(int server_index, uint8_t opcode, const char *key,
                              const void *extra, uint8_t extlen, const char *value)
{
    omcache_req_t req;
    size_t keylen = key ? strlen(key) : 0, valuelen = value ? strlen(value) : 0;
    memset(&req, 0, sizeof req);
    req.server_index = server_index;
    req.header.opcode = opcode;
    req.header.keylen = htons((uint16_t) keylen);
    req.header.extlen = extlen;
    req.header.bodylen = htonl((uint32_t) (extlen + keylen + valuelen));
    req.extra = extra;
    req.key = (const unsigned char *) key;
    req.data = (const unsigned char *) value;
    return req;
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
    REQUIRE(nservers >= 1 && nservers <= 16, "%d servers", nservers);

    /* --- VERSION from every server in one batch ------------------------ */
    omcache_req_t reqs[16];
    omcache_value_t values[16];
    for (int s = nservers - 1; s >= 0; s--)      /* any order: they are regrouped */
        reqs[nservers - 1 - s] = make_req(s, OP_VERSION, NULL, NULL, 0, NULL);
    size_t req_count = (size_t) nservers, value_count = 16;
    CHECK_RC(omcache_command(mc, reqs, &req_count, values, &value_count, -1), OMCACHE_OK);
    CHECK(req_count == 0, "req_count %zu after OK", req_count);
    CHECK(value_count == (size_t) nservers, "%zu answers from %d servers", value_count, nservers);
    for (size_t i = 0; i < value_count; i++) {
        CHECK(values[i].status == OMCACHE_OK && values[i].data_len > 0 && values[i].data[0] >= '1'
              && values[i].data[0] <= '9', "answer %zu: status %d, '%.*s'", i, values[i].status,
              (int) values[i].data_len, (const char *) values[i].data);
        printf("VERSION answer %zu: memcached %.*s\n", i, (int) values[i].data_len, (const char *) values[i].data);
    }
    /* The library wrote the request ids and real server indexes back. */
    for (int i = 0; i < nservers; i++)
        CHECK(reqs[i].header.magic == 0x80 && reqs[i].server_index >= 0, "request %d not filled in", i);

    /* --- SET and GETK by key ------------------------------------------- */
    char key[64];
    snprintf(key, sizeof key, "lowlevel-%ld", (long) getpid());
    /* SET extras: flags and expiration, both 32-bit big-endian */
    uint32_t set_extras[2] = { htonl(0xcafe), htonl(0) };
    omcache_req_t set = make_req(-1, OP_SET, key, set_extras, 8, "raw value");
    CHECK_RC(omcache_command_status(mc, &set, -1), OMCACHE_OK);

    omcache_req_t get = make_req(-1, OP_GETK, key, NULL, 0, NULL);
    req_count = 1;
    value_count = 1;
    CHECK_RC(omcache_command(mc, &get, &req_count, values, &value_count, 2000), OMCACHE_OK);
    CHECK(value_count == 1 && values[0].status == OMCACHE_OK && values[0].data_len == 9
          && memcmp(values[0].data, "raw value", 9) == 0 && values[0].flags == 0xcafe
          && values[0].key_len == strlen(key) && memcmp(values[0].key, key, values[0].key_len) == 0,
          "GETK answer wrong");
    CHECK(get.server_index == omcache_server_index_for_key(mc, K(key)),
          "GETK went to server %d, index_for_key says %d", get.server_index, omcache_server_index_for_key(mc, K(key)));

    /* GETK of a missing key answers NOT_FOUND (only the quiet GETKQ stays silent). */
    omcache_req_t miss = make_req(-1, OP_GETK, "lowlevel-missing-key", NULL, 0, NULL);
    CHECK_RC(omcache_command_status(mc, &miss, -1), OMCACHE_NOT_FOUND);

    /* --- quiet requests: no answer unless something goes wrong --------- */
    char qkeys[10][64];
    omcache_req_t quiet[10];
    for (int i = 0; i < 10; i++) {
        snprintf(qkeys[i], sizeof qkeys[i], "lowlevel-%ld-q%d", (long) getpid(), i);
        quiet[i] = make_req(-1, OP_SETQ, qkeys[i], set_extras, 8, "quiet");
    }
    req_count = 10;
    value_count = 16;
    /* timeout 0: queued, BUFFERED */
    CHECK_RC(omcache_command(mc, quiet, &req_count, values, &value_count, 0), OMCACHE_BUFFERED);
    CHECK(value_count == 0, "%zu values from a timeout-0 command", value_count);
    /* Wait for them: a successful SETQ has no answer, the trailing NOOP
     * tells the library they are done. */
    value_count = 16;
    CHECK_RC(omcache_io(mc, quiet, &req_count, values, &value_count, -1), OMCACHE_OK);
    CHECK(req_count == 0 && value_count == 0, "req_count %zu, value_count %zu after quiet sets", req_count, value_count);
    for (int i = 0; i < 10; i++)
        CHECK_RC(omcache_get(mc, K(qkeys[i]), NULL, NULL, NULL, NULL, -1), OMCACHE_OK);

    /* --- one NOOP per server with omcache_command_status --------------- */
    for (int s = 0; s < nservers; s++) {
        omcache_req_t noop = make_req(s, OP_NOOP, NULL, NULL, 0, NULL);
        CHECK_RC(omcache_command_status(mc, &noop, -1), OMCACHE_OK);
    }
    omcache_req_t far = make_req(nservers, OP_NOOP, NULL, NULL, 0, NULL);
    CHECK_RC(omcache_command_status(mc, &far, -1), OMCACHE_NO_SERVERS);

    /* --- mixed answers in one batch ------------------------------------ */
    omcache_req_t mixed[3];
    mixed[0] = make_req(-1, OP_DELETE, key, NULL, 0, NULL);         /* OK */
    mixed[1] = make_req(-1, OP_DELETE, key, NULL, 0, NULL);         /* NOT_FOUND */
    mixed[2] = make_req(0, OP_NOOP, NULL, NULL, 0, NULL);            /* OK */
    req_count = 3;
    value_count = 3;
    CHECK_RC(omcache_command(mc, mixed, &req_count, values, &value_count, -1), OMCACHE_OK);
    int ok = 0, not_found = 0;
    for (size_t i = 0; i < value_count; i++) {
        ok += values[i].status == OMCACHE_OK;
        not_found += values[i].status == OMCACHE_NOT_FOUND;
    }
    CHECK(value_count == 3 && ok == 2 && not_found == 1, "%zu values: %d OK, %d NOT_FOUND", value_count, ok, not_found);

    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
