/*
 * lmc-util.c - libmemcachedutil's 15 functions as a transcript that must be the same with
 * Debian's libmemcachedutil.so.2 + libmemcached.so.11 and with ours substituted
 * (tests-c/lmc-util.sh runs it both ways and diffs).
 *
 *   lmc-util LIVE_PORT LIVE_PID DEAD_PORT
 *
 * LIVE_PORT: a throwaway memcached (flushed by the test); LIVE_PID its pid; DEAD_PORT: a
 * port nothing listens on. Times are printed as ranges, never as numbers.
 * Built against Debian's headers with -lmemcachedutil -lmemcached -lpthread.
 */
#include <libmemcached/memcached.h>
#include <libmemcached/util.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static in_port_t live, dead;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void ping_and_friends(pid_t live_pid) {
    memcached_return_t rc = MEMCACHED_MAXIMUM_RETURN;
    bool ok = libmemcached_util_ping("127.0.0.1", live, &rc);
    printf("ping live: %d rc %d\n", ok, rc);
    rc = MEMCACHED_MAXIMUM_RETURN;
    ok = libmemcached_util_ping("127.0.0.1", dead, &rc);
    printf("ping dead: %d rc %d (%s)\n", ok, rc, memcached_strerror(NULL, rc));
    printf("ping live, NULL rc: %d\n", libmemcached_util_ping("127.0.0.1", live, NULL));
    rc = MEMCACHED_MAXIMUM_RETURN;
    ok = libmemcached_util_ping2("127.0.0.1", live, NULL, NULL, &rc);
    printf("ping2 live, no user: %d rc %d\n", ok, rc);
    rc = MEMCACHED_MAXIMUM_RETURN;
    ok = libmemcached_util_ping2("127.0.0.1", dead, NULL, NULL, &rc);
    printf("ping2 dead, no user: %d rc %d\n", ok, rc);

    rc = MEMCACHED_MAXIMUM_RETURN;
    pid_t pid = libmemcached_util_getpid("127.0.0.1", live, &rc);
    printf("getpid live: matches %d rc %d\n", pid == live_pid, rc);
    rc = MEMCACHED_MAXIMUM_RETURN;
    pid = libmemcached_util_getpid("127.0.0.1", dead, &rc);
    printf("getpid dead: %d rc %d\n", (int)pid, rc);
    rc = MEMCACHED_MAXIMUM_RETURN;
    pid = libmemcached_util_getpid2("127.0.0.1", live, NULL, NULL, &rc);
    printf("getpid2 live, no user: matches %d rc %d\n", pid == live_pid, rc);
    rc = MEMCACHED_MAXIMUM_RETURN;
    pid = libmemcached_util_getpid2("127.0.0.1", dead, NULL, NULL, &rc);
    printf("getpid2 dead, no user: %d rc %d\n", (int)pid, rc);

    memcached_st *memc = memcached_create(NULL);
    memcached_server_add(memc, "127.0.0.1", live);
    printf("set before flush: %d\n", memcached_set(memc, "flushme", 7, "v", 1, 0, 0));
    rc = MEMCACHED_MAXIMUM_RETURN;
    ok = libmemcached_util_flush("127.0.0.1", live, &rc);
    printf("flush live: %d rc %d\n", ok, rc);
    size_t len;
    uint32_t flags;
    char *v = memcached_get(memc, "flushme", 7, &len, &flags, &rc);
    printf("get after flush: %s rc %d\n", v ? "value" : "NULL", rc);
    free(v);
    rc = MEMCACHED_MAXIMUM_RETURN;
    ok = libmemcached_util_flush("127.0.0.1", dead, &rc);
    printf("flush dead: %d rc %d\n", ok, rc);
    printf("flush live, NULL rc: %d\n", libmemcached_util_flush("127.0.0.1", live, NULL));

    /* memcached 1.6.x is running */
    printf("version_check 1.0.0 %d 1.6.0 %d 1.6.255 %d 2.0.0 %d 255.0.0 %d\n",
           libmemcached_util_version_check(memc, 1, 0, 0),
           libmemcached_util_version_check(memc, 1, 6, 0),
           libmemcached_util_version_check(memc, 1, 6, 255),
           libmemcached_util_version_check(memc, 2, 0, 0),
           libmemcached_util_version_check(memc, 255, 0, 0));
    memcached_free(memc);
    memcached_st *gone = memcached_create(NULL);
    memcached_server_add(gone, "127.0.0.1", dead);
    printf("version_check dead 1.0.0 %d\n", libmemcached_util_version_check(gone, 1, 0, 0));
    memcached_free(gone);
}

static void pool_semantics(void) {
    char config[128];
    snprintf(config, sizeof config, "--SERVER=127.0.0.1:%u --POOL-MIN=2 --POOL-MAX=4", live);
    memcached_pool_st *pool = memcached_pool(config, strlen(config));
    printf("memcached_pool: %s\n", pool ? "pool" : "NULL");
    printf("memcached_pool bad config: %s\n",
           memcached_pool("--NOT-AN-OPTION", strlen("--NOT-AN-OPTION")) ? "pool" : "NULL");
    const char *no_sizes = "--SERVER=127.0.0.1:1";
    memcached_pool_st *default_sized = memcached_pool(no_sizes, strlen(no_sizes));
    printf("memcached_pool without sizes: %s\n", default_sized ? "pool" : "NULL");
    if (default_sized) {
        memcached_return_t rc;
        memcached_st *one = memcached_pool_pop(default_sized, false, &rc);
        memcached_st *two = memcached_pool_pop(default_sized, false, &rc);
        printf("  one handle: %s, second %s rc %d\n", one ? "memc" : "NULL", two ? "memc" : "NULL", rc);
        memcached_pool_push(default_sized, one);
        printf("  destroy (owned master): %s\n", memcached_pool_destroy(default_sized) ? "memc" : "NULL");
    }

    memcached_st *out[5];
    memcached_return_t rc;
    for (int i = 0; i < 5; i++) {
        rc = MEMCACHED_MAXIMUM_RETURN;
        out[i] = memcached_pool_pop(pool, false, &rc);
        printf("pop %d non-blocking: %s rc %d\n", i, out[i] ? "memc" : "NULL", rc);
    }
    rc = MEMCACHED_MAXIMUM_RETURN;
    printf("fetch NULL time: %s rc %d\n", memcached_pool_fetch(pool, NULL, &rc) ? "memc" : "NULL", rc);
    struct timespec zero = {0, 0}, one_s = {1, 0};
    rc = MEMCACHED_MAXIMUM_RETURN;
    printf("fetch 0 s: %s rc %d\n", memcached_pool_fetch(pool, &zero, &rc) ? "memc" : "NULL", rc);
    double t0 = now();
    rc = MEMCACHED_MAXIMUM_RETURN;
    memcached_st *m = memcached_pool_fetch(pool, &one_s, &rc);
    double waited = now() - t0;
    printf("fetch 1 s: %s rc %d waited <= 1.5 s %d\n", m ? "memc" : "NULL", rc, waited <= 1.5);
    t0 = now();
    rc = MEMCACHED_MAXIMUM_RETURN;
    m = memcached_pool_pop(pool, true, &rc);
    waited = now() - t0;
    printf("pop blocking: %s rc %d waited 3.9-5.5 s %d\n", m ? "memc" : "NULL", rc,
           waited >= 3.9 && waited <= 5.5);
    printf("pop NULL pool: %s\n", memcached_pool_pop(NULL, false, &rc) ? "memc" : "NULL");
    printf("fetch NULL pool: %s\n", memcached_pool_fetch(NULL, NULL, &rc) ? "memc" : "NULL");

    /* the handles work */
    printf("set through a pooled handle: %d\n", memcached_set(out[0], "pooled", 6, "yes", 3, 0, 0));
    size_t len;
    uint32_t flags;
    char *v = memcached_get(out[1], "pooled", 6, &len, &flags, &rc);
    printf("get through another: %.*s rc %d\n", (int)len, v ? v : "", rc);
    free(v);

    /* behavior changes: the master and idle handles at once, handles out when they come back */
    uint64_t value = 99;
    printf("behavior_get NO_BLOCK: %d value %llu\n",
           memcached_pool_behavior_get(pool, MEMCACHED_BEHAVIOR_NO_BLOCK, &value),
           (unsigned long long)value);
    printf("push out[3]: %d\n", memcached_pool_push(pool, out[3]));
    printf("behavior_set NO_BLOCK=1: %d\n", memcached_pool_behavior_set(pool, MEMCACHED_BEHAVIOR_NO_BLOCK, 1));
    printf("behavior_set HASH=HSIEH: %d\n", memcached_pool_behavior_set(pool, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_HSIEH));
    value = 99;
    printf("behavior_get NO_BLOCK: %d value %llu\n",
           memcached_pool_behavior_get(pool, MEMCACHED_BEHAVIOR_NO_BLOCK, &value),
           (unsigned long long)value);
    printf("handle out still: NO_BLOCK %llu\n",
           (unsigned long long)memcached_behavior_get(out[2], MEMCACHED_BEHAVIOR_NO_BLOCK));
    m = memcached_pool_pop(pool, false, &rc);
    printf("idle handle popped: NO_BLOCK %llu rc %d\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NO_BLOCK), rc);
    printf("release idle-updated: %d\n", memcached_pool_release(pool, m));
    printf("release out[2]: %d\n", memcached_pool_release(pool, out[2]));
    m = memcached_pool_pop(pool, false, &rc);
    printf("out[2] came back re-cloned: NO_BLOCK %llu rc %d\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NO_BLOCK), rc);
    printf("release: %d %d %d\n", memcached_pool_release(pool, m), memcached_pool_release(pool, out[0]),
           memcached_pool_push(pool, out[1]));
    printf("release NULL handle: %d NULL pool: %d behavior_set NULL pool %d behavior_get NULL pool %d\n",
           memcached_pool_release(pool, NULL), memcached_pool_release(NULL, out[0]),
           memcached_pool_behavior_set(NULL, MEMCACHED_BEHAVIOR_NO_BLOCK, 1),
           memcached_pool_behavior_get(NULL, MEMCACHED_BEHAVIOR_NO_BLOCK, &value));
    printf("destroy memcached_pool: %s\n", memcached_pool_destroy(pool) ? "memc" : "NULL");
    printf("destroy NULL: %s\n", memcached_pool_destroy(NULL) ? "memc" : "NULL");

    memcached_st *master = memcached_create(NULL);
    memcached_server_add(master, "127.0.0.1", live);
    printf("pool_create 0,4 %s 3,2 %s 4,0 %s\n",
           memcached_pool_create(master, 0, 4) ? "pool" : "NULL",
           memcached_pool_create(master, 3, 2) ? "pool" : "NULL",
           memcached_pool_create(master, 4, 0) ? "pool" : "NULL");
    memcached_pool_st *mine = memcached_pool_create(master, 1, 1);
    m = memcached_pool_pop(mine, false, &rc);
    printf("pool_create 1,1: pop rc %d, is the master %d\n", rc, m == master);
    memcached_pool_push(mine, m);
    printf("destroy gives the master back: %d\n", memcached_pool_destroy(mine) == master);
    memcached_free(master);
}

#define THREADS 8
#define ROUNDS 200

struct worker {
    memcached_pool_st *pool;
    int id, ok, errors;
};

static void *work(void *arg) {
    struct worker *w = arg;
    char key[32], value[32];
    for (int i = 0; i < ROUNDS; i++) {
        memcached_return_t rc;
        memcached_st *memc = memcached_pool_pop(w->pool, true, &rc);
        if (!memc) { w->errors++; continue; }
        snprintf(key, sizeof key, "t%d-%d", w->id, i);
        snprintf(value, sizeof value, "v%d", i * w->id);
        rc = memcached_set(memc, key, strlen(key), value, strlen(value), 0, 0);
        size_t len;
        uint32_t flags;
        char *got = memcached_get(memc, key, strlen(key), &len, &flags, &rc);
        if (got && len == strlen(value) && memcmp(got, value, len) == 0) w->ok++;
        else w->errors++;
        free(got);
        if (i == ROUNDS / 2 && w->id == 0)
            memcached_pool_behavior_set(w->pool, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
        if (memcached_pool_push(w->pool, memc) != MEMCACHED_SUCCESS) w->errors++;
    }
    return NULL;
}

static void threads(void) {
    memcached_st *master = memcached_create(NULL);
    memcached_server_add(master, "127.0.0.1", live);
    memcached_pool_st *pool = memcached_pool_create(master, 2, 4);
    pthread_t tid[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){pool, i, 0, 0};
        pthread_create(&tid[i], NULL, work, &w[i]);
    }
    int ok = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        ok += w[i].ok;
        errors += w[i].errors;
    }
    uint64_t nodelay = 0;
    memcached_pool_behavior_get(pool, MEMCACHED_BEHAVIOR_TCP_NODELAY, &nodelay);
    printf("%d threads x %d rounds through a pool of 4: %d ok, %d errors, TCP_NODELAY %llu\n",
           THREADS, ROUNDS, ok, errors, (unsigned long long)nodelay);
    printf("destroy: master back %d\n", memcached_pool_destroy(pool) == master);
    memcached_free(master);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s LIVE_PORT LIVE_PID DEAD_PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    live = (in_port_t)atoi(argv[1]);
    dead = (in_port_t)atoi(argv[3]);
    ping_and_friends((pid_t)atoi(argv[2]));
    pool_semantics();
    threads();
    return 0;
}
