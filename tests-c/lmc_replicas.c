/* lmc_replicas.c - libmemcached 1.1.4's replication (MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS,
 * RANDOMIZE_REPLICA_READ, --NUMBER-OF-REPLICAS=), compiled against Debian's headers and run
 * with Debian's libmemcached.so.11 and with ours (tests-c/lmc-replicas.sh compares the two
 * transcripts): which servers hold a key after each storage command and delete (a get on each
 * server alone), over binary and text, with 1 and 2 replicas; reads spread by
 * RANDOMIZE_REPLICA_READ; and reads after the key's server is killed (kill -9): get,
 * get_by_key and mget on the handle that was connected to it (an mget first, too), on fresh
 * handles, with AUTO_EJECT_HOSTS and with RETRY_TIMEOUT=0.
 *
 * 1.1.4 leaves a set's copies in the replicas' output buffers until something flushes them;
 * ours sends them at once. Every check runs after memcached_flush_buffers, where both agree;
 * lines starting with "now:" (before the flush) are left out of the comparison by the script.
 *
 * Usage: lmc_replicas PORT1 PORT2 PORT3 PID1 PID2 PID3 */
#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ports[3];
static pid_t pids[3];

static memcached_st *handle(int binary, int replicas) {
    memcached_st *m = memcached_create(NULL);
    for (int i = 0; i < 3; i++)
        memcached_server_add(m, "127.0.0.1", (in_port_t)ports[i]);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t)binary);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS, (uint64_t)replicas);
    return m;
}

static memcached_st *single(int i) {
    memcached_st *one = memcached_create(NULL);
    memcached_server_add(one, "127.0.0.1", (in_port_t)ports[i]);
    return one;
}

/* Which servers hold `key`: a get on each server alone (skipping dead ones). */
static void where_(const char *prefix, const char *what, const char *key) {
    printf("%s%s: %s on", prefix, what, key);
    int found = 0;
    for (int i = 0; i < 3; i++) {
        if (pids[i] == 0)
            continue;
        memcached_st *one = single(i);
        size_t len = 0;
        uint32_t flags = 0;
        memcached_return_t rc;
        char *v = memcached_get(one, key, strlen(key), &len, &flags, &rc);
        if (rc == MEMCACHED_SUCCESS) {
            printf(" s%d(%.*s)", i, (int)len, v ? v : "");
            found++;
        }
        free(v);
        memcached_free(one);
    }
    printf("%s\n", found ? "" : " none");
}

/* After the handle's buffers are flushed (where 1.1.4's copies go out). */
static void where(memcached_st *m, const char *what, const char *key) {
    where_("now: ", what, key);
    memcached_flush_buffers(m);
    where_("", what, key);
}

static void set_on(int i, const char *key, const char *value) {
    memcached_st *one = single(i);
    memcached_set(one, key, strlen(key), value, strlen(value), 0, 0);
    memcached_free(one);
}

static void flush_all(void) {
    for (int i = 0; i < 3; i++) {
        if (pids[i] == 0)
            continue;
        memcached_st *one = single(i);
        memcached_flush(one, 0);
        memcached_free(one);
    }
}

static void show_get(memcached_st *m, const char *what, const char *key) {
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get(m, key, strlen(key), &len, &flags, &rc);
    printf("%s get %s: rc=%d value=%.*s last=%d\n", what, key, rc, (int)len, v ? v : "(null)",
           memcached_last_error(m));
    free(v);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An mget of `n` keys; the hits printed sorted (servers answer in any order). */
static void show_mget(memcached_st *m, const char *what, const char **keys, size_t n) {
    size_t lens[16];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(keys[i]);
    memcached_return_t rc = memcached_mget(m, keys, lens, n);
    printf("%s mget: rc=%d", what, rc);
    char *hits[16];
    size_t nhits = 0;
    memcached_result_st *r;
    memcached_return_t frc = MEMCACHED_SUCCESS;
    while ((r = memcached_fetch_result(m, NULL, &frc)) != NULL) {
        char buf[128];
        snprintf(buf, sizeof buf, "%.*s=%.*s", (int)memcached_result_key_length(r),
                 memcached_result_key_value(r), (int)memcached_result_length(r),
                 memcached_result_value(r));
        if (nhits < 16)
            hits[nhits++] = strdup(buf);
        memcached_result_free(r);
    }
    qsort(hits, nhits, sizeof hits[0], cmp);
    for (size_t i = 0; i < nhits; i++) {
        printf(" %s", hits[i]);
        free(hits[i]);
    }
    printf(" end=%d\n", frc);
}

#define RC(expr) printf("%-70s rc=%d\n", #expr, (int)(expr))

static void writes(int binary, int replicas) {
    memcached_st *m = handle(binary, replicas);
    printf("== writes %s replicas=%d\n", binary ? "bin" : "txt", replicas);
    const char *keys[] = {"alpha", "beta", "gamma", "delta"};
    for (int i = 0; i < 4; i++)
        printf("%s -> s%u\n", keys[i], memcached_generate_hash(m, keys[i], strlen(keys[i])));
    RC(memcached_set(m, "alpha", 5, "A1", 2, 0, 3));
    where(m, "set", "alpha");
    RC(memcached_set(m, "beta", 4, "B1", 2, 0, 0));
    where(m, "set", "beta");
    if (replicas > 1) {
        /* 1.1.4 with 2 replicas loses copies to the second one after a few commands (seen
         * for set_by_key and delete, not always): only sets and a delete here. */
        RC(memcached_delete(m, "alpha", 5, 0));
        where(m, "delete", "alpha");
        memcached_free(m);
        flush_all();
        return;
    }
    RC(memcached_add(m, "gamma", 5, "G1", 2, 0, 0));
    where(m, "add", "gamma");
    RC(memcached_add(m, "alpha", 5, "no", 2, 0, 0));
    RC(memcached_replace(m, "alpha", 5, "A2", 2, 0, 0));
    where(m, "replace", "alpha");
    RC(memcached_append(m, "beta", 4, "+a", 2, 0, 0));
    where(m, "append", "beta");
    RC(memcached_prepend(m, "beta", 4, "p+", 2, 0, 0));
    where(m, "prepend", "beta");
    /* cas: the CAS of the key's own server (a gets on the handle, SUPPORT_CAS for text). */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    const char *k[] = {"alpha"};
    size_t kl[] = {5};
    uint64_t cas = 0;
    if (memcached_mget(m, k, kl, 1) == MEMCACHED_SUCCESS) {
        memcached_result_st *r;
        memcached_return_t frc;
        while ((r = memcached_fetch_result(m, NULL, &frc)) != NULL) {
            cas = memcached_result_cas(r);
            memcached_result_free(r);
        }
    }
    printf("cas known: %s\n", cas ? "yes" : "no");
    RC(memcached_cas(m, "alpha", 5, "A3", 2, 0, 0, cas));
    where(m, "cas", "alpha");
    RC(memcached_set(m, "n", 1, "10", 2, 0, 0));
    uint64_t v = 0;
    RC(memcached_increment(m, "n", 1, 5, &v));
    where(m, "incr", "n");
    RC(memcached_decrement(m, "n", 1, 2, &v));
    where(m, "decr", "n");
    RC(memcached_touch(m, "n", 1, 1000));
    RC(memcached_set_by_key(m, "beta", 4, "delta", 5, "D1", 2, 0, 0));
    where(m, "set_by_key(beta)", "delta");
    RC(memcached_delete_by_key(m, "beta", 4, "delta", 5, 0));
    where(m, "delete_by_key(beta)", "delta");
    RC(memcached_delete(m, "alpha", 5, 0));
    where(m, "delete", "alpha");
    show_get(m, "after writes", "beta");
    const char *all[] = {"alpha", "beta", "gamma", "n", "nothing"};
    show_mget(m, "after writes", all, 5);
    /* Last: 1.1.4's quiet deletes of a missing key on the replicas get error answers it
     * does not read, which the next reads on those connections would take for theirs. */
    RC(memcached_delete(m, "missing", 7, 0));
    memcached_free(m);
    flush_all();
}

/* BUFFER_REQUESTS and NOREPLY: the copies go as the set does. */
static void quiet_writes(void) {
    printf("== quiet writes bin replicas=1\n");
    memcached_st *m = handle(1, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
    RC(memcached_set(m, "buf", 3, "b", 1, 0, 0));
    RC(memcached_delete(m, "buf", 3, 0));
    RC(memcached_set(m, "buf", 3, "c", 1, 0, 0));
    where(m, "buffered set", "buf");
    memcached_free(m);
    m = handle(1, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NOREPLY, 1);
    RC(memcached_set(m, "nr", 2, "n", 1, 0, 0));
    where(m, "noreply set", "nr");
    RC(memcached_delete(m, "nr", 2, 0));
    where(m, "noreply delete", "nr");
    memcached_free(m);
    flush_all();
}

/* More replicas than other servers: every server once; a namespace goes with the copies. */
static void more_replicas_than_servers(void) {
    printf("== bin replicas=5, namespace\n");
    memcached_st *m = handle(1, 5);
    memcached_callback_set(m, MEMCACHED_CALLBACK_NAMESPACE, "ns:");
    RC(memcached_set(m, "five", 4, "5", 1, 0, 0));
    where(m, "set", "ns:five");
    show_get(m, "five", "five");
    RC(memcached_delete(m, "five", 4, 0));
    where(m, "delete", "ns:five");
    memcached_free(m);
    flush_all();
}

static void config_string(void) {
    char conf[256];
    snprintf(conf, sizeof conf,
             "--SERVER=127.0.0.1:%d --SERVER=127.0.0.1:%d --SERVER=127.0.0.1:%d "
             "--BINARY-PROTOCOL --NUMBER-OF-REPLICAS=1",
             ports[0], ports[1], ports[2]);
    memcached_st *m = memcached(conf, strlen(conf));
    printf("== config string: %s\n", m ? "ok" : "refused");
    if (!m)
        return;
    printf("replicas behavior: %llu\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS));
    RC(memcached_set(m, "conf", 4, "c", 1, 0, 0));
    where(m, "set", "conf");
    memcached_free(m);
    flush_all();
}

/* RANDOMIZE_REPLICA_READ: a different value on each server; reads see more than one. */
static void randomized(void) {
    printf("== randomize replica read, replicas=2\n");
    memcached_st *m = handle(1, 2);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ, 1);
    printf("behavior: %llu\n", (unsigned long long)memcached_behavior_get(
                                   m, MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ));
    set_on(0, "rr", "v0");
    set_on(1, "rr", "v1");
    set_on(2, "rr", "v2");
    int seen[3] = {0, 0, 0}, other = 0;
    for (int i = 0; i < 60; i++) {
        size_t len = 0;
        uint32_t flags = 0;
        memcached_return_t rc;
        char *v = memcached_get(m, "rr", 2, &len, &flags, &rc);
        if (rc == MEMCACHED_SUCCESS && len == 2 && v[0] == 'v' && v[1] >= '0' && v[1] <= '2')
            seen[v[1] - '0'] = 1;
        else
            other++;
        free(v);
    }
    printf("60 gets: %d servers answered, %d failures\n", seen[0] + seen[1] + seen[2], other);
    memcached_free(m);
    /* Without it, every read goes to the key's own server. */
    m = handle(1, 2);
    uint32_t own = memcached_generate_hash(m, "rr", 2);
    int same = 0;
    for (int i = 0; i < 20; i++) {
        size_t len = 0;
        uint32_t flags = 0;
        memcached_return_t rc;
        char *v = memcached_get(m, "rr", 2, &len, &flags, &rc);
        same += rc == MEMCACHED_SUCCESS && len == 2 && (uint32_t)(v[1] - '0') == own;
        free(v);
    }
    printf("20 gets without it: %d from the key's server\n", same);
    memcached_free(m);
    flush_all();
}

static memcached_st *fresh(int mode) {
    memcached_st *m = handle(1, 1);
    if (mode == 1)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS, 1);
    if (mode == 2)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 0);
    return m;
}

static void failover(void) {
    printf("== failover bin replicas=1\n");
    memcached_st *m = handle(1, 1);
    const char *keys[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
    for (int i = 0; i < 8; i++) {
        printf("%s -> s%u ", keys[i], memcached_generate_hash(m, keys[i], 2));
        RC(memcached_set(m, keys[i], 2, keys[i], 2, 0, 0));
    }
    memcached_flush_buffers(m);
    show_get(m, "before", "k0");
    show_get(m, "before", "k1");
    /* A second handle, connected to every server before the kill (an mget of all keys). */
    memcached_st *early = handle(1, 1);
    show_mget(early, "before", keys, 8);
    uint32_t victim = memcached_generate_hash(m, "k0", 2);
    int on_victim = 0;
    for (int i = 0; i < 8; i++)
        on_victim += memcached_generate_hash(m, keys[i], 2) == victim;
    printf("kill -9 s%u (%d keys on it)\n", victim, on_victim);
    kill(pids[victim], SIGKILL);
    pids[victim] = 0;
    usleep(200000);
    /* Its first request after the kill is an mget: 1.1.4 writes each get on its own, so the
     * dead server's first get is written and lost, the next ones fail to write and go to
     * the replica: one key missing, the others found. */
    show_mget(early, "connected before the kill", keys, 8);
    printf("last=%d\n", memcached_last_error(early));
    show_mget(early, "connected, after", keys, 8);
    memcached_free(early);
    /* The handle still has its connection: the get is written, the answer never comes. */
    show_get(m, "connected", "k0");
    show_get(m, "again", "k0");
    show_get(m, "again", "k0");
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get_by_key(m, "k0", 2, "k0", 2, &len, &flags, &rc);
    printf("get_by_key k0: rc=%d value=%.*s last=%d\n", rc, (int)len, v ? v : "(null)",
           memcached_last_error(m));
    free(v);
    show_mget(m, "connected", keys, 8);
    memcached_free(m);
    const char *mode_name[] = {"fresh", "auto-eject", "retry 0"};
    for (int mode = 0; mode < 3; mode++) {
        m = fresh(mode);
        show_get(m, mode_name[mode], "k0");
        show_get(m, mode_name[mode], "k0");
        show_get(m, mode_name[mode], "k1");
        memcached_free(m);
        m = fresh(mode);
        show_mget(m, mode_name[mode], keys, 8);
        show_mget(m, mode_name[mode], keys, 8);
        memcached_free(m);
    }
    /* A set to the dead server: refused, and no copy goes to the replica (1.1.4 sends the
     * copies only after the set itself was written). */
    m = fresh(0);
    RC(memcached_set(m, "k0", 2, "NEW", 3, 0, 0));
    where(m, "set to the dead server", "k0");
    /* (A get now reads the replica on both; 1.1.4's last error is then
     * SERVER_TEMPORARILY_DISABLED, ours CONNECTION_FAILURE: not compared.) */
    memcached_free(m);
    /* Text ignores the replicas: the dead server's keys are not found elsewhere. */
    m = handle(0, 1);
    show_get(m, "text", "k0");
    show_get(m, "text", "k1");
    memcached_free(m);
    /* Neither the key's server nor its replica: a miss, the last error the connect's. */
    uint32_t replica = (victim + 1) % 3;
    printf("kill -9 s%u\n", replica);
    kill(pids[replica], SIGKILL);
    pids[replica] = 0;
    usleep(200000);
    m = handle(1, 1);
    show_get(m, "both dead", "k0");
    show_get(m, "both dead", "k0");
    memcached_free(m);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: lmc_replicas PORT1 PORT2 PORT3 PID1 PID2 PID3\n");
        return 2;
    }
    for (int i = 0; i < 3; i++) {
        ports[i] = atoi(argv[i + 1]);
        pids[i] = (pid_t)atoi(argv[i + 4]);
    }
    flush_all();
    writes(1, 1);
    writes(1, 2);
    writes(0, 1);
    quiet_writes();
    more_replicas_than_servers();
    config_string();
    randomized();
    failover();
    return 0;
}
