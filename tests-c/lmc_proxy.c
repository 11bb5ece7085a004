/* lmc_proxy.c - a libmemcached 1.1.4 client behind a proxy (twemproxy / nutcracker) whose
 * backend stops answering. Run by lmc-proxy.sh on Debian's libmemcached.so.11 and on ours.
 *
 * Usage: lmc_proxy PROXY_PORT P1_PORT P2_PORT P1_PID
 *
 * The handle knows one server only, the proxy, so a frozen backend does not look like a dead
 * server to the client: the proxy still accepts and reads, it just never answers for the keys
 * that live on the frozen backend (its own timeout, 3000 ms, is far longer than ours). With a
 * 300 ms poll timeout a get of such a key has to fail in about 300 ms, and the next request,
 * for a key on the live backend, must not be stuck behind the unanswered one: over the same
 * connection its reply would only come after the proxy gives up on the first request, so the
 * client has to drop the timed-out connection and use a fresh one.
 *
 * The program itself sends SIGSTOP to the memcached on P1 once the keys are in place and
 * SIGCONT before it returns, on every path, so a failure never leaves the backend frozen (the
 * script sends SIGCONT too, in case this program dies). Prints PASS / FAIL lines and exits 1 on
 * any failure. */
#define _POSIX_C_SOURCE 200809L
#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/types.h>
#include <time.h>

#define NKEYS 20
#define ROUNDS 3
#define POLL_MS 300
#define LIMIT_MS 2000   /* a failed get must be over well before the proxy's own 3000 ms */

static pid_t frozen_pid = 0;   /* the P1 memcached while it is stopped, else 0 */
static int failures = 0;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void verdict(int ok, const char *fmt, const char *detail)
{
    printf("%s  %s%s\n", ok ? "PASS" : "FAIL", fmt, detail);
    if (!ok)
        failures++;
}

static void thaw(void)
{
    if (frozen_pid > 0) {
        kill(frozen_pid, SIGCONT);
        frozen_pid = 0;
    }
}

/* Whether every thread of `pid` has stopped: kill(2) returns before they all have, and
 * meanwhile a memcached worker thread can still answer a request. */
static int all_threads_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task", (long) pid);
    DIR *tasks = opendir(path);
    if (tasks == NULL)
        return 0;
    int stopped = 1;
    struct dirent *t;
    while (stopped && (t = readdir(tasks)) != NULL) {
        if (t->d_name[0] == '.')
            continue;
        char stat_path[sizeof path + sizeof t->d_name + 8], line[512];
        snprintf(stat_path, sizeof stat_path, "%s/%s/stat", path, t->d_name);
        FILE *f = fopen(stat_path, "r");
        if (f == NULL)
            continue;   /* a thread that just ended */
        size_t n = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[n] = '\0';
        /* "tid (comm) S ...": the state follows the last ')'. */
        char *close = strrchr(line, ')');
        if (close == NULL || close[1] != ' ' || (close[2] != 'T' && close[2] != 't'))
            stopped = 0;
    }
    closedir(tasks);
    return stopped;
}

/* A handle that talks to 127.0.0.1:PORT only, with the short poll timeout. */
static memcached_st *handle(in_port_t port)
{
    memcached_st *m = memcached_create(NULL);
    if (m == NULL)
        return NULL;
    if (memcached_server_add(m, "127.0.0.1", port) != MEMCACHED_SUCCESS
        || memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, POLL_MS) != MEMCACHED_SUCCESS) {
        memcached_free(m);
        return NULL;
    }
    return m;
}

/* Whether KEY is stored on the backend at PORT, asked directly (not through the proxy). */
static int stored_on(memcached_st *direct, const char *key)
{
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get(direct, key, strlen(key), &len, &flags, &rc);
    free(v);
    return rc == MEMCACHED_SUCCESS;
}

static in_port_t port_arg(const char *s)
{
    long v = strtol(s, NULL, 10);
    return (v > 0 && v < 65536) ? (in_port_t) v : 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PROXY_PORT P1_PORT P2_PORT P1_PID\n", argv[0]);
        return 2;
    }
    in_port_t proxy = port_arg(argv[1]), p1 = port_arg(argv[2]), p2 = port_arg(argv[3]);
    pid_t p1_pid = (pid_t) strtol(argv[4], NULL, 10);
    if (proxy == 0 || p1 == 0 || p2 == 0 || p1_pid <= 1) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }

    char keys[NKEYS][32];
    char detail[256];
    int on_p1[NKEYS], n_frozen = 0, n_live = 0;
    memcached_st *mc = handle(proxy);
    memcached_st *d1 = handle(p1), *d2 = handle(p2);
    if (mc == NULL || d1 == NULL || d2 == NULL) {
        printf("FAIL  cannot create the handles\n");
        memcached_free(mc); memcached_free(d1); memcached_free(d2);
        return 1;
    }

    /* Setup: every key through the proxy, then ask each backend directly where it went. */
    for (int i = 0; i < NKEYS; i++) {
        char value[32];
        snprintf(keys[i], sizeof keys[i], "proxy-key-%d", i);
        snprintf(value, sizeof value, "value-%d", i);
        memcached_return_t rc = memcached_set(mc, keys[i], strlen(keys[i]), value, strlen(value), 0, 0);
        if (rc != MEMCACHED_SUCCESS) {
            snprintf(detail, sizeof detail, "%s: %s", keys[i], memcached_strerror(mc, rc));
            verdict(0, "setup set through the proxy: ", detail);
            goto out;
        }
        int a = stored_on(d1, keys[i]), b = stored_on(d2, keys[i]);
        if (a + b != 1) {
            snprintf(detail, sizeof detail, "%s found on P1 %d, on P2 %d", keys[i], a, b);
            verdict(0, "setup: each key on exactly one backend: ", detail);
            goto out;
        }
        on_p1[i] = a;
        if (a) n_frozen++; else n_live++;
    }
    snprintf(detail, sizeof detail, "%d keys set through the proxy, %d on P1 (to be frozen), %d on P2",
             NKEYS, n_frozen, n_live);
    verdict(n_frozen > 0 && n_live > 0, "setup: ", detail);
    if (n_frozen == 0 || n_live == 0)
        goto out;
    /* The direct handles are done: close them before the freeze so they hold nothing open. */
    memcached_free(d1); d1 = NULL;
    memcached_free(d2); d2 = NULL;

    if (kill(p1_pid, SIGSTOP) != 0) {
        perror("kill SIGSTOP");
        verdict(0, "freeze the P1 memcached", "");
        goto out;
    }
    frozen_pid = p1_pid;
    for (int i = 0; i < 5000 && !all_threads_stopped(p1_pid); i++) {
        struct timespec tick = {0, 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    if (!all_threads_stopped(p1_pid)) {
        verdict(0, "freeze the P1 memcached: ", "its threads did not all stop within 5 s");
        goto out;
    }
    printf("      P1 memcached (pid %ld) stopped\n", (long) p1_pid);

    for (int round = 1, fi = 0, li = 0; round <= ROUNDS; round++) {
        /* Take the next frozen and next live key in turn, so each round uses fresh ones. */
        while (!on_p1[fi % NKEYS]) fi++;
        while (on_p1[li % NKEYS]) li++;
        const char *fk = keys[fi++ % NKEYS], *lk = keys[li++ % NKEYS];
        size_t len = 0;
        uint32_t flags = 0;
        memcached_return_t rc;
        char label[64];

        double t0 = now_ms();
        char *v = memcached_get(mc, fk, strlen(fk), &len, &flags, &rc);
        double ms = now_ms() - t0;
        free(v);
        snprintf(label, sizeof label, "round %d get  %-13s (frozen backend): ", round, fk);
        snprintf(detail, sizeof detail, "%s in %.0f ms (must fail, under %d ms)",
                 memcached_strerror(mc, rc), ms, LIMIT_MS);
        verdict(rc != MEMCACHED_SUCCESS && ms < LIMIT_MS, label, detail);
        if (round == ROUNDS) {
            /* The next call comes later than two poll timeouts (a web application's next
             * request): the time nobody waited must not count against the proxy. */
            struct timespec gap = {0, 700 * 1000 * 1000};
            nanosleep(&gap, NULL);
        }

        char value[32];
        snprintf(value, sizeof value, "round-%d", round);
        t0 = now_ms();
        rc = memcached_set(mc, lk, strlen(lk), value, strlen(value), 0, 0);
        ms = now_ms() - t0;
        snprintf(label, sizeof label, "round %d set  %-13s (live backend):   ", round, lk);
        snprintf(detail, sizeof detail, "%s in %.0f ms", memcached_strerror(mc, rc), ms);
        verdict(rc == MEMCACHED_SUCCESS, label, detail);

        t0 = now_ms();
        v = memcached_get(mc, lk, strlen(lk), &len, &flags, &rc);
        ms = now_ms() - t0;
        int same = v != NULL && len == strlen(value) && memcmp(v, value, len) == 0;
        snprintf(label, sizeof label, "round %d get  %-13s (live backend):   ", round, lk);
        snprintf(detail, sizeof detail, "%s in %.0f ms, value \"%.*s\" (want \"%s\")",
                 memcached_strerror(mc, rc), ms, v ? (int) len : 0, v ? v : "", value);
        verdict(rc == MEMCACHED_SUCCESS && same, label, detail);
        free(v);
    }

out:
    thaw();
    memcached_free(mc);
    memcached_free(d1);
    memcached_free(d2);
    return failures ? 1 : 0;
}
