/*
 * callbacks.c - response and log callbacks
 *
 * A response callback sees every response OMcache reads, including the
 * ones nobody collects into a values array: answers to quiet (timeout 0)
 * requests, the NOOPs that close quiet batches, and synthetic failures.
 * A log callback receives the library's messages up to a syslog level;
 * omcache_log_stderr is a ready-made one that prints to standard error.
 *
 * Usage: callbacks SERVERS        (meant for 4 servers)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"

/* --- a response callback that counts ------------------------------------ */

struct response_counts {
    int total;
    int by_status[8];          /* OK .. DELTA_BAD_VALUE */
    int other_status;
    int with_key;              /* responses that carry a key */
    int empty;                 /* no key and no data: NOOPs */
    int index_mismatch;        /* key answered by a server it does not map to */
    int lookups;
};

static void count_response(omcache_t *mc, omcache_value_t *result, void *context)
{
    struct response_counts *c = context;
    c->total++;
    if (result->status >= 0 && result->status < 8)
        c->by_status[result->status]++;
    else
        c->other_status++;
    if (result->key_len > 0) {
        c->with_key++;
        /* Callbacks run without the handle's lock: calling back into the
         * same handle is allowed. */
        int idx = omcache_server_index_for_key(mc, result->key, result->key_len);
        c->lookups++;
        if (idx < 0)
            c->index_mismatch++;
    } else if (result->data_len == 0) {
        c->empty++;
    }
}

/* --- a log callback that keeps the messages ------------------------------ */

struct log_capture {
    int count;
    int max_level;             /* the most verbose level seen */
    int by_level[8];
    char last[512];
};

static void capture_log(void *context, int level, const char *msg)
{
    struct log_capture *lc = context;
    lc->count++;
    if (level > lc->max_level)
        lc->max_level = level;
    if (level >= 0 && level < 8)
        lc->by_level[level]++;
    snprintf(lc->last, sizeof lc->last, "%s", msg);
}

int main(int argc, char **argv)
{
    const char *servers = servers_arg(argc, argv, 1);
    char key[16][64];
    for (int i = 0; i < 16; i++)
        snprintf(key[i], sizeof key[i], "callbacks-%ld-%d", (long) getpid(), i);

    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init() returned NULL");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);

    struct response_counts rc_counts;
    memset(&rc_counts, 0, sizeof rc_counts);
    CHECK_RC(omcache_set_response_callback(mc, count_response, &rc_counts), OMCACHE_OK);

    /* --- blocking commands: one response each ------------------------- */
    for (int i = 0; i < 10; i++)
        CHECK_RC(omcache_set(mc, K(key[i]), K("value"), 0, 0, 0, -1), OMCACHE_OK);
    CHECK(rc_counts.by_status[OMCACHE_OK] >= 10, "callback saw %d OK responses for 10 sets",
          rc_counts.by_status[OMCACHE_OK]);

    /* --- quiet requests: errors only reach the callback ---------------- */
    memset(&rc_counts, 0, sizeof rc_counts);
    for (int i = 0; i < 10; i++)   /* the keys exist: every add fails */
        CHECK_RC(omcache_add(mc, K(key[i]), K("again"), 0, 0, 0), OMCACHE_BUFFERED);
    CHECK_RC(omcache_io(mc, NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    CHECK(rc_counts.by_status[OMCACHE_KEY_EXISTS] == 10, "callback saw %d KEY_EXISTS, expected 10",
          rc_counts.by_status[OMCACHE_KEY_EXISTS]);
    CHECK(rc_counts.empty >= 1, "callback saw no NOOP closing the quiet batch");
    printf("10 quiet adds of existing keys: %d responses (%d KEY_EXISTS, %d NOOPs)\n",
           rc_counts.total, rc_counts.by_status[OMCACHE_KEY_EXISTS], rc_counts.empty);

    /* --- a multi-get with no values array: the callback gets them all -- */
    memset(&rc_counts, 0, sizeof rc_counts);
    const unsigned char *keys[16];
    size_t lens[16];
    omcache_req_t reqs[16];
    for (int i = 0; i < 16; i++) {
        keys[i] = (const unsigned char *) key[i];
        lens[i] = strlen(key[i]);
    }
    size_t req_count = 16, value_count = 0;
    CHECK_RC(omcache_get_multi(mc, keys, lens, 16, reqs, &req_count, NULL, &value_count, -1), OMCACHE_OK);
    CHECK(value_count == 0, "value_count %zu without a values array", value_count);
    CHECK(rc_counts.with_key == 10, "callback saw %d keyed responses, expected 10 hits", rc_counts.with_key);
    CHECK(rc_counts.lookups == rc_counts.with_key && rc_counts.index_mismatch == 0,
          "server_index_for_key from inside the callback failed %d times", rc_counts.index_mismatch);
    printf("multi-get of 16 keys (10 exist): callback saw %d responses, %d with keys\n",
           rc_counts.total, rc_counts.with_key);

    /* Turning the callback off. */
    CHECK_RC(omcache_set_response_callback(mc, NULL, NULL), OMCACHE_OK);
    memset(&rc_counts, 0, sizeof rc_counts);
    CHECK_RC(omcache_get(mc, K(key[0]), NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    CHECK(rc_counts.total == 0, "a removed callback was still called %d times", rc_counts.total);

    /* --- log callbacks ------------------------------------------------- */
    /* Everything, including debug messages: connecting alone says something. */
    struct log_capture lc;
    memset(&lc, 0, sizeof lc);
    omcache_t *mc2 = omcache_init();
    CHECK_RC(omcache_set_log_callback(mc2, LOG_DEBUG, capture_log, &lc), OMCACHE_OK);
    CHECK_RC(omcache_set_servers(mc2, servers), OMCACHE_OK);
    CHECK_RC(omcache_set(mc2, K(key[11]), K("logged"), 0, 0, 0, -1), OMCACHE_OK);
    CHECK_RC(omcache_get(mc2, K(key[11]), NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    CHECK(lc.count > 0, "no log messages at LOG_DEBUG");
    printf("LOG_DEBUG: %d messages for connect + set + get, e.g. \"%s\"\n", lc.count, lc.last);

    /* Level LOG_ERR: only errors.  Using omcache_io with an array that does
     * not belong to the current batch is one. */
    memset(&lc, 0, sizeof lc);
    CHECK_RC(omcache_set_log_callback(mc2, LOG_ERR, capture_log, &lc), OMCACHE_OK);
    req_count = 16;
    value_count = 0;
    CHECK_RC(omcache_get_multi(mc2, keys, lens, 16, reqs, &req_count, NULL, &value_count, 0), OMCACHE_BUFFERED);
    omcache_req_t foreign[16];
    memset(foreign, 0, sizeof foreign);
    size_t foreign_count = 16;
    CHECK_RC(omcache_io(mc2, foreign, &foreign_count, NULL, NULL, -1), OMCACHE_INVALID);
    CHECK_RC(omcache_io(mc2, reqs, &req_count, NULL, NULL, -1), OMCACHE_OK);
    CHECK(lc.count >= 1 && lc.by_level[LOG_ERR] >= 1, "no LOG_ERR message for a foreign request array");
    CHECK(lc.max_level <= LOG_ERR, "got a level-%d message with the level set to LOG_ERR", lc.max_level);

    /* Level 0 means everything except debug messages. */
    memset(&lc, 0, sizeof lc);
    CHECK_RC(omcache_set_log_callback(mc2, 0, capture_log, &lc), OMCACHE_OK);
    for (int i = 0; i < 5; i++)
        CHECK_RC(omcache_get(mc2, K(key[i]), NULL, NULL, NULL, NULL, -1), OMCACHE_OK);
    CHECK(lc.by_level[LOG_DEBUG] == 0, "level 0 let %d debug messages through", lc.by_level[LOG_DEBUG]);

    /* The ready-made stderr logger; its context is a prefix for each line.
     * A server that refuses connections gives it something to report. */
    CHECK_RC(omcache_set_log_callback(mc2, LOG_INFO, omcache_log_stderr, (void *) "callbacks example: "),
             OMCACHE_OK);
    CHECK_RC(omcache_set_servers(mc2, "127.0.0.1:1"), OMCACHE_OK);
    int rc = omcache_noop(mc2, 0, 1000);
    CHECK(rc == OMCACHE_NO_SERVERS || rc == OMCACHE_SERVER_FAILURE,
          "noop to a closed port returned %d (%s)", rc, omcache_strerror(rc));
    omcache_log_stderr((void *) "callbacks example: ", LOG_NOTICE, "a message of our own");
    omcache_log_stderr(NULL, LOG_WARNING, "and one without a prefix");

    /* NULL turns logging off. */
    memset(&lc, 0, sizeof lc);
    CHECK_RC(omcache_set_log_callback(mc2, LOG_DEBUG, NULL, NULL), OMCACHE_OK);
    omcache_noop(mc2, 0, 100);
    CHECK(lc.count == 0, "logging still produced %d messages", lc.count);

    CHECK_RC(omcache_free(mc2), OMCACHE_OK);
    CHECK_RC(omcache_free(mc), OMCACHE_OK);
    return check_summary(argv[0]);
}
