/*
 * bench_common.h - what bench_omcache.c and bench_libmemcached.c share:
 * the workloads' names, keys, values and the timing/report code.
 *
 * Each benchmark binary runs one workload against a server list:
 *
 *     bench_X WORKLOAD SERVERS N
 *
 *   populate   store KEYS keys (N is ignored) for the get workloads
 *   get        N sequential gets of populated keys (100-byte values)
 *   set        N sequential sets (100-byte values), each waiting for its answer
 *   multiget   N multi-gets of 100 keys each, spread over all servers
 *   buffered   N sets queued in batches of $BENCH_BATCH (default 100), each
 *              batch flushed at once
 *
 * and prints one line: "WORKLOAD N SECONDS OPS_PER_SECOND".  The timed part
 * is the function run_workload(), which callgrind can single out with
 * --toggle-collect=run_workload.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS 1000              /* distinct keys the get workloads read */
#define VALUE_SIZE 100
#define MULTI_KEYS 100         /* keys per multi-get */
#define DEFAULT_BATCH 100      /* sets per buffered batch; see benches/run.sh */

static char bench_keys[KEYS][32];
static size_t bench_key_lens[KEYS];
static char bench_value[VALUE_SIZE];

static void bench_init_data(void)
{
    for (int i = 0; i < KEYS; i++) {
        snprintf(bench_keys[i], sizeof bench_keys[i], "bench:%d", i);
        bench_key_lens[i] = strlen(bench_keys[i]);
    }
    for (int i = 0; i < VALUE_SIZE; i++)
        bench_value[i] = (char) ('a' + i % 26);
}

/* Keys for the set workloads: "bench-set:<i>" (i < 10^9).  Formatted by
 * hand: snprintf would cost more instructions than a whole request and
 * blur the per-operation counts of both clients. */
static size_t bench_set_key(char *buf, long i)
{
    static const char prefix[] = "bench-set:";
    char digits[20];
    size_t n = 0, len = sizeof prefix - 1;
    memcpy(buf, prefix, len);
    do {
        digits[n++] = (char) ('0' + i % 10);
        i /= 10;
    } while (i > 0);
    while (n > 0)
        buf[len++] = digits[--n];
    buf[len] = '\0';
    return len;
}

/* Sets per buffered batch: $BENCH_BATCH or DEFAULT_BATCH. */
static long bench_batch(void)
{
    const char *env = getenv("BENCH_BATCH");
    long b = env ? atol(env) : 0;
    return b > 0 ? b : DEFAULT_BATCH;
}

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench_usage(const char *prog)
{
    fprintf(stderr, "usage: %s populate|get|set|multiget|buffered SERVERS N\n", prog);
    exit(2);
}

static void bench_report(const char *workload, long n, double secs)
{
    printf("%s %ld %.6f %.1f\n", workload, n, secs, secs > 0 ? n / secs : 0.0);
}

#endif /* !BENCH_COMMON_H */
