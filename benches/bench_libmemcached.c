/*
 * bench_libmemcached.c - the benchmark workloads with libmemcached
 *
 *     [BENCH_PROTOCOL=binary|text] bench_libmemcached populate|get|set|multiget|buffered SERVERS N
 *
 * Configured the way speed-minded libmemcached users do: the binary
 * protocol, ketama distribution (MEMCACHED_BEHAVIOR_KETAMA=1, which is also
 * OMcache's default distribution) and TCP_NODELAY.  BENCH_PROTOCOL=text
 * keeps libmemcached's default protocol, the text one (BINARY_PROTOCOL 0),
 * with everything else the same.  The buffered workload
 * uses MEMCACHED_BEHAVIOR_BUFFER_REQUESTS and memcached_flush_buffers() in
 * batches of $BENCH_BATCH sets (default 100).  Debian's libmemcached 1.1.4
 * is fragile here: about 7,000 buffered binary sets flushed at once to four
 * local servers abort it (an assertion in io.cc), and on some machines
 * batches of 200-2,000 already fail part-way with WRITE/CONNECTION FAILURE
 * or SYSTEM ERROR; batches of 100 have been reliable.  Over text it is the
 * same: buffered sets are plain "set" lines (noreply only comes with
 * MEMCACHED_BEHAVIOR_NOREPLY, which we do not set), their STORED answers
 * are read when libmemcached purges its pending answers and at
 * memcached_free(); batches of 1,000 and more abort it in io.cc (fd !=
 * INVALID_SOCKET), batches of 100 work (all 500,000 sets stored).  When it
 * aborts, the buffered workload says on stderr how many sets it had issued
 * (benches/run.sh part 7 sets that against what the servers stored).
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <libmemcached/memcached.h>
#include <signal.h>
#include <unistd.h>

#include "bench_common.h"

static memcached_st *mc;
static long errors = 0;

/* Buffered sets handed to memcached_set() so far: when the library aborts
 * (see above), the SIGABRT handler says how far it got, so that benches/run.sh
 * can report sets attempted against sets the servers stored.  A plain store
 * per set, negligible beside a set. */
static volatile long buffered_issued = 0;

static void report_abort(int sig)
{
    /* Only async-signal-safe calls here: the number formatted by hand. */
    char msg[96], digits[24];
    static const char head[] = "bench_libmemcached: SIGABRT after ";
    static const char tail[] = " buffered sets issued\n";
    size_t len = 0, n = 0;
    long v = buffered_issued;
    (void) sig;
    memcpy(msg, head, sizeof head - 1);
    len = sizeof head - 1;
    do {
        digits[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        msg[len++] = digits[--n];
    memcpy(msg + len, tail, sizeof tail - 1);
    len += sizeof tail - 1;
    if (write(STDERR_FILENO, msg, len) < 0)
        return;   /* nothing more to be done in a signal handler */
}

static void fail(const char *what, long i, memcached_return_t rc)
{
    if (errors++ < 5)
        fprintf(stderr, "bench_libmemcached: %s #%ld: %s\n", what, i, memcached_strerror(mc, rc));
}

static void populate(void)
{
    for (int i = 0; i < KEYS; i++) {
        memcached_return_t rc = memcached_set(mc, bench_keys[i], bench_key_lens[i], bench_value, VALUE_SIZE, 0, 0);
        if (rc != MEMCACHED_SUCCESS)
            fail("populate", i, rc);
    }
}

static void workload_get(long n)
{
    for (long i = 0; i < n; i++) {
        int k = (int) (i % KEYS);
        size_t value_len = 0;
        uint32_t flags;
        memcached_return_t rc;
        char *value = memcached_get(mc, bench_keys[k], bench_key_lens[k], &value_len, &flags, &rc);
        if (rc != MEMCACHED_SUCCESS || value_len != VALUE_SIZE)
            fail("get", i, rc);
        free(value);
    }
}

static void workload_set(long n)
{
    char key[32];
    for (long i = 0; i < n; i++) {
        size_t key_len = bench_set_key(key, i % 100000);
        memcached_return_t rc = memcached_set(mc, key, key_len, bench_value, VALUE_SIZE, 0, 0);
        if (rc != MEMCACHED_SUCCESS)
            fail("set", i, rc);
    }
}

static void workload_multiget(long n)
{
    const char *keys[MULTI_KEYS];
    size_t key_lens[MULTI_KEYS];
    memcached_result_st result;
    memcached_result_create(mc, &result);
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < MULTI_KEYS; j++) {
            int k = (int) ((i * MULTI_KEYS + j) % KEYS);
            keys[j] = bench_keys[k];
            key_lens[j] = bench_key_lens[k];
        }
        memcached_return_t rc = memcached_mget(mc, keys, key_lens, MULTI_KEYS);
        if (rc != MEMCACHED_SUCCESS) {
            fail("mget", i, rc);
            continue;
        }
        long got = 0;
        while (memcached_fetch_result(mc, &result, &rc) != NULL) {
            if (memcached_result_length(&result) == VALUE_SIZE)
                got++;
        }
        if (got != MULTI_KEYS)
            fail("multiget", i, rc == MEMCACHED_END ? MEMCACHED_NOTFOUND : rc);
    }
    memcached_result_free(&result);
}

static void workload_buffered(long n)
{
    long batch = bench_batch();
    char key[32];
    for (long i = 0; i < n; i++) {
        size_t key_len = bench_set_key(key, i % 1000000);
        memcached_return_t rc = memcached_set(mc, key, key_len, bench_value, VALUE_SIZE, 0, 0);
        buffered_issued = i + 1;
        if (rc != MEMCACHED_BUFFERED && rc != MEMCACHED_SUCCESS)
            fail("buffered set", i, rc);
        if ((i + 1) % batch == 0 || i + 1 == n) {
            rc = memcached_flush_buffers(mc);
            if (rc != MEMCACHED_SUCCESS)
                fail("flush", i, rc);
        }
    }
}

static const char *workload;
static long n_ops;

/* The measured part (callgrind: --toggle-collect=run_workload). */
__attribute__((noinline)) void run_workload(void)
{
    if (strcmp(workload, "get") == 0)
        workload_get(n_ops);
    else if (strcmp(workload, "set") == 0)
        workload_set(n_ops);
    else if (strcmp(workload, "multiget") == 0)
        workload_multiget(n_ops);
    else if (strcmp(workload, "buffered") == 0)
        workload_buffered(n_ops);
}

/* BENCH_PROTOCOL: "binary" (the default) or "text". */
static int use_binary(void)
{
    const char *env = getenv("BENCH_PROTOCOL");
    if (env == NULL || *env == '\0' || strcmp(env, "binary") == 0)
        return 1;
    if (strcmp(env, "text") == 0)
        return 0;
    fprintf(stderr, "bench_libmemcached: BENCH_PROTOCOL=%s: binary or text\n", env);
    exit(2);
}

static memcached_st *new_handle(const char *servers)
{
    memcached_st *m = memcached_create(NULL);
    memcached_server_st *list = memcached_servers_parse(servers);
    if (m == NULL || list == NULL || memcached_server_push(m, list) != MEMCACHED_SUCCESS) {
        fprintf(stderr, "bench_libmemcached: cannot set up the handle\n");
        exit(1);
    }
    memcached_server_list_free(list);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t) use_binary());
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    return m;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        bench_usage(argv[0]);
    workload = argv[1];
    n_ops = atol(argv[3]);
    bench_init_data();

    mc = new_handle(argv[2]);

    if (strcmp(workload, "populate") == 0) {
        populate();
        memcached_free(mc);
        return errors ? 1 : 0;
    }
    if (strcmp(workload, "get") && strcmp(workload, "set") && strcmp(workload, "multiget")
        && strcmp(workload, "buffered"))
        bench_usage(argv[0]);
    if (strcmp(workload, "buffered") == 0) {
        struct sigaction on_abort;
        memset(&on_abort, 0, sizeof on_abort);
        on_abort.sa_handler = report_abort;
        on_abort.sa_flags = (int) SA_RESETHAND;
        sigemptyset(&on_abort.sa_mask);
        sigaction(SIGABRT, &on_abort, NULL);
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
    }

    /* Connect to every server before the clock starts. */
    memcached_version(mc);

    double start = bench_now();
    run_workload();
    double secs = bench_now() - start;

    if (strcmp(workload, "buffered") == 0) {
        /* Spot check: the last key stored, read with a fresh handle (the
         * buffering one still has the sets' answers to read).  A flush only
         * writes (1.1.4's and ours), so the server may not have read the
         * last set yet when the check's get arrives on its own connection:
         * the check asks again for up to a second before it calls the set
         * lost.  The clock stopped before this. */
        memcached_st *check = new_handle(argv[2]);
        char key[32];
        size_t key_len = bench_set_key(key, (n_ops - 1) % 1000000), value_len = 0;
        uint32_t flags;
        memcached_return_t rc;
        char *value = memcached_get(check, key, key_len, &value_len, &flags, &rc);
        for (int retry = 0; rc == MEMCACHED_NOTFOUND && retry < 1000; retry++) {
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
            value = memcached_get(check, key, key_len, &value_len, &flags, &rc);
        }
        if (rc != MEMCACHED_SUCCESS || value_len != VALUE_SIZE)
            fail("check get", n_ops - 1, rc);
        free(value);
        memcached_free(check);
    }
    bench_report(workload, n_ops, secs);
    memcached_free(mc);
    if (errors) {
        fprintf(stderr, "bench_libmemcached: %ld errors\n", errors);
        return 1;
    }
    return 0;
}
