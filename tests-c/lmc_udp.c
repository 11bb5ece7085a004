/* lmc_udp.c - UDP as libmemcached 1.1.4 does it, run by lmc-udp.sh on Debian's library and on
 * ours: USE_UDP=1 then the normal memcached_server_add, in the text and the binary protocol.
 * Every call's return code is printed; then a TCP handle per server reads back which keys
 * and values reached which server (nothing is read over UDP: the writes go out as noreply).
 * Usage: lmc_udp PORT1 PORT2 [ipv6] (two memcached servers listening on TCP and UDP on the same
 * port numbers, 127.0.0.1; with "ipv6" the first also on ::1). */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static in_port_t ports[2];

#define P(what, rc) printf("%-6s %-34s rc %2d\n", proto, what, (int)(rc))

/* The keys this test writes, read back over TCP from each server separately. */
static const char *const keys[] = {"set", "add", "replace", "app", "pre", "cas", "del",
                                   "n",   "d",   "big",     "ok",  "gk",  "touched", "bk",
                                   "k1",  "k2",  "k3",      "k4",  "k5",  "k6", "k7", "k8",
                                   "ns:a", "ns:b", "ns:c", "ns:n", "v6", "child", "parent"};

static void read_back(const char *proto, const char *when)
{
    for (int s = 0; s < 2; s++) {
        memcached_st *t = memcached_create(NULL);
        memcached_server_add(t, "127.0.0.1", ports[s]);
        printf("%-6s %s server %d:", proto, when, s);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t len;
            uint32_t flags;
            memcached_return_t rc;
            char *v = memcached_get(t, keys[i], strlen(keys[i]), &len, &flags, &rc);
            if (rc == MEMCACHED_SUCCESS) {
                if (len > 20)
                    printf(" %s=<%zu bytes>/%u", keys[i], len, flags);
                else
                    printf(" %s=%.*s/%u", keys[i], (int)len, v ? v : "", flags);
            } else if (rc != MEMCACHED_NOTFOUND) {
                printf(" %s:rc%d", keys[i], (int)rc);
            }
            free(v);
        }
        printf("\n");
        memcached_free(t);
    }
}

/* Seeds values over TCP (what replace/append/prepend/cas/delete/incr work on). */
static void seed(void)
{
    memcached_st *t = memcached_create(NULL);
    memcached_server_add(t, "127.0.0.1", ports[0]);
    memcached_server_add(t, "127.0.0.1", ports[1]);
    memcached_flush(t, 0);
    const char *const seeded[] = {"replace", "app", "pre", "cas", "del", "n", "d", "touched"};
    for (size_t i = 0; i < sizeof seeded / sizeof seeded[0]; i++) {
        const char *v = (seeded[i][0] == 'n' || seeded[i][0] == 'd') ? "10" : "old";
        memcached_set(t, seeded[i], strlen(seeded[i]), v, strlen(v), 0, 7);
    }
    memcached_free(t);
}

static void run(int binary)
{
    const char *proto = binary ? "binary" : "text";
    memcached_return_t rc;
    uint64_t v = 12345;
    size_t len;
    uint32_t flags;
    seed();

    memcached_st *m = memcached_create(NULL);
    if (binary)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    P("noreply before", memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NOREPLY));
    P("behavior_set USE_UDP 1", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 1));
    P("use_udp", memcached_behavior_get(m, MEMCACHED_BEHAVIOR_USE_UDP));
    P("noreply after", memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NOREPLY));
    P("set NOREPLY 0", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NOREPLY, 0));
    P("set NOREPLY 1", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NOREPLY, 1));
    P("set BUFFER_REQUESTS 1", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1));
    P("set BUFFER_REQUESTS 0", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 0));
    P("set before servers", memcached_set(m, "x", 1, "y", 1, 0, 0));
    P("server_add 1", memcached_server_add(m, "127.0.0.1", ports[0]));
    P("server_add 2", memcached_server_add(m, "127.0.0.1", ports[1]));
    P("server_count", memcached_server_count(m));
    P("set", memcached_set(m, "set", 3, "v-set", 5, 0, 11));
    P("add", memcached_add(m, "add", 3, "v-add", 5, 0, 12));
    P("replace", memcached_replace(m, "replace", 7, "v-rep", 5, 0, 13));
    P("append", memcached_append(m, "app", 3, "+a", 2, 0, 0));
    P("prepend", memcached_prepend(m, "pre", 3, "p+", 2, 0, 0));
    P("cas (wrong cas)", memcached_cas(m, "cas", 3, "v-cas", 5, 0, 14, 1));
    P("delete", memcached_delete(m, "del", 3, 0));
    rc = memcached_increment(m, "n", 1, 5, &v);
    printf("%-6s %-34s rc %2d value %llu\n", proto, "increment", (int)rc, (unsigned long long)v);
    v = 12345;
    rc = memcached_decrement(m, "d", 1, 3, &v);
    printf("%-6s %-34s rc %2d value %llu\n", proto, "decrement", (int)rc, (unsigned long long)v);
    v = 12345;
    rc = memcached_increment_with_initial(m, "k1", 2, 1, 40, 0, &v);
    printf("%-6s %-34s rc %2d value %llu\n", proto, "increment_with_initial", (int)rc,
           (unsigned long long)v);
    v = 12345;
    rc = memcached_decrement_with_initial(m, "k2", 2, 1, 50, 0, &v);
    printf("%-6s %-34s rc %2d value %llu\n", proto, "decrement_with_initial", (int)rc,
           (unsigned long long)v);
    P("set_by_key", memcached_set_by_key(m, "k3", 2, "gk", 2, "v-gk", 4, 0, 15));
    P("set k4..k8", memcached_set(m, "k4", 2, "4", 1, 0, 0) | memcached_set(m, "k5", 2, "5", 1, 0, 0)
                        | memcached_set(m, "k6", 2, "6", 1, 0, 0) | memcached_set(m, "k7", 2, "7", 1, 0, 0)
                        | memcached_set(m, "k8", 2, "8", 1, 0, 0));
    P("delete_by_key", memcached_delete_by_key(m, "k4", 2, "k5", 2, 0));
    /* An absolute time in the past: the key expires now (text and binary alike). */
    P("touch (expire now)", memcached_touch(m, "touched", 7, time(NULL) - 100));
    P("last_error after touch", memcached_last_error(m));
    char *g = memcached_get(m, "set", 3, &len, &flags, &rc);
    P("get", rc);
    free(g);
    P("get value NULL", g == NULL);
    const char *ks[2] = {"set", "add"};
    size_t kl[2] = {3, 3};
    P("mget", memcached_mget(m, ks, kl, 2));
    memcached_result_st *r = memcached_fetch_result(m, NULL, &rc);
    P("fetch_result", rc);
    memcached_result_free(r);
    P("exist", memcached_exist(m, "set", 3));
    P("version", memcached_version(m));
    memcached_stat_st *st = memcached_stat(m, NULL, &rc);
    P("stat", rc);
    P("stat NULL", st == NULL);
    free(st);
    P("verbosity", memcached_verbosity(m, 0));
    /* The largest value one datagram carries (65,507 bytes of UDP payload: the 8-byte frame
     * header, the command and the value) goes whole; memcached takes it. */
    static char big[70000];
    memset(big, 'b', sizeof big);
    size_t most = binary ? 65507 - 8 - 24 - 8 - 3 : 65507 - 8 - 27 - 2;
    P("set the largest datagram", memcached_set(m, "big", 3, big, most, 0, 0));
    usleep(50000);
    P("set 3000 bytes", memcached_set(m, "ok", 2, big, 3000, 0, 0));
    P("append 3000 bytes", memcached_append(m, "app", 3, big, 3000, 0, 0));
    P("set after the big ones", memcached_set(m, "bk", 2, "after", 5, 0, 16));
    usleep(200000);
    read_back(proto, "after writes");
    P("flush", memcached_flush(m, 0));
    usleep(200000);
    read_back(proto, "after flush");
    memcached_free(m);

    /* The handle can be cloned and keeps UDP. */
    m = memcached_create(NULL);
    if (binary)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 1);
    memcached_server_add(m, "127.0.0.1", ports[0]);
    memcached_server_add(m, "127.0.0.1", ports[1]);
    memcached_st *c = memcached_clone(NULL, m);
    P("clone use_udp", memcached_behavior_get(c, MEMCACHED_BEHAVIOR_USE_UDP));
    P("clone set", memcached_set(c, "k6", 2, "clone", 5, 0, 17));
    P("clone get", (free(memcached_get(c, "k6", 2, &len, &flags, &rc)), rc));
    P("USE_UDP 0", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 0));
    P("noreply after USE_UDP 0", memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NOREPLY));
    usleep(200000);
    read_back(proto, "after clone");
    memcached_free(c);
    memcached_free(m);

    /* A datagram over the UDP maximum: the kernel refuses it (WRITE_FAILURE) and the server
     * is disabled until RETRY_TIMEOUT (1 s here) has passed. */
    m = memcached_create(NULL);
    if (binary)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
    memcached_server_add(m, "127.0.0.1", ports[0]);
    P("set one byte over the largest", memcached_set(m, "big", 3, big, most + 1, 0, 0));
    printf("%-6s message: %s\n", proto, memcached_last_error_message(m));
    P("set just after", memcached_set(m, "k1", 2, "x", 1, 0, 0));
    P("last_error", memcached_last_error(m));
    printf("%-6s message: %s\n", proto, memcached_last_error_message(m));
    P("delete just after", memcached_delete(m, "k1", 2, 0));
    P("flush just after", memcached_flush(m, 0));
    sleep(2);
    P("set after RETRY_TIMEOUT", memcached_set(m, "k2", 2, "back", 4, 0, 19));
    usleep(200000);
    read_back(proto, "after the refusal");
    memcached_free(m);
}

static memcached_return_t dump_key(const memcached_st *m, const char *key, size_t len, void *ctx)
{
    (void)m;
    (void)ctx;
    printf("dumped %.*s\n", (int)len, key);
    return MEMCACHED_SUCCESS;
}

/* A namespace, the other *_by_key writes, a delayed flush, a server named "::1" (when the
 * script found IPv6 loopback), and a fork after server_add (the sockets are made at first
 * use: the child's and the parent's datagrams both arrive). */
static void more(int binary, int ipv6)
{
    const char *proto = binary ? "binary" : "text";
    uint64_t v = 12345;
    memcached_return_t rc;
    seed();
    memcached_st *m = memcached_create(NULL);
    if (binary)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 1);
    memcached_server_add(m, "127.0.0.1", ports[0]);
    memcached_server_add(m, "127.0.0.1", ports[1]);
    P("namespace", memcached_callback_set(m, MEMCACHED_CALLBACK_NAMESPACE, "ns:"));
    P("set a", memcached_set(m, "a", 1, "A", 1, 0, 21));
    P("add_by_key b", memcached_add_by_key(m, "g1", 2, "b", 1, "B", 1, 0, 22));
    P("set_by_key c", memcached_set_by_key(m, "g2", 2, "c", 1, "C", 1, 0, 23));
    P("append_by_key c", memcached_append_by_key(m, "g2", 2, "c", 1, "+", 1, 0, 0));
    P("prepend_by_key c", memcached_prepend_by_key(m, "g2", 2, "c", 1, "-", 1, 0, 0));
    P("replace_by_key b", memcached_replace_by_key(m, "g1", 2, "b", 1, "BB", 2, 0, 24));
    P("cas_by_key a", memcached_cas_by_key(m, "g1", 2, "a", 1, "AA", 2, 0, 0, 99));
    P("set n", memcached_set(m, "n", 1, "7", 1, 0, 0));
    rc = memcached_increment_by_key(m, "g3", 2, "n", 1, 3, &v);
    printf("%-6s %-34s rc %2d value %llu\n", proto, "increment_by_key", (int)rc, (unsigned long long)v);
    rc = memcached_decrement_by_key(m, "g3", 2, "n", 1, 1, &v);
    printf("%-6s %-34s rc %2d value %llu\n", proto, "decrement_by_key", (int)rc, (unsigned long long)v);
    P("touch_by_key", memcached_touch_by_key(m, "g1", 2, "b", 1, 0));
    P("exist_by_key", memcached_exist_by_key(m, "g1", 2, "b", 1));
    size_t len;
    uint32_t flags;
    free(memcached_get_by_key(m, "g1", 2, "b", 1, &len, &flags, &rc));
    P("get_by_key", rc);
    const char *ks[1] = {"a"};
    size_t kl[1] = {1};
    P("mget_by_key", memcached_mget_by_key(m, "g1", 2, ks, kl, 1));
    P("delete_by_key (nothing there)", memcached_delete_by_key(m, "g1", 2, "zz", 2, 0));
    P("empty key", memcached_set(m, "", 0, "x", 1, 0, 0));
    P("key of 251 bytes", memcached_set(m, "k", 251, "x", 1, 0, 0));
    usleep(200000);
    read_back(proto, "namespace");
    P("flush in 100 s", memcached_flush(m, 100));
    usleep(200000);
    read_back(proto, "delayed flush");
    /* Last on this handle: over text 1.1.4 also leaves the servers disabled after it (the
     * next write answers SERVER_TEMPORARILY_DISABLED until RETRY_TIMEOUT; ours does not). */
    memcached_dump_fn dumper[1] = {dump_key};
    P("dump", memcached_dump(m, dumper, NULL, 1));
    memcached_free(m);

    m = memcached_create(NULL);
    if (binary)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 1);
    if (ipv6) {
        P("server_add ::1", memcached_server_add(m, "::1", ports[0]));
        P("set over ::1", memcached_set(m, "v6", 2, "six", 3, 0, 6));
        memcached_servers_reset(m);
    }
    memcached_server_add(m, "127.0.0.1", ports[1]);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        P("child set", memcached_set(m, "child", 5, "c", 1, 0, 0));
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    P("parent set", memcached_set(m, "parent", 6, "p", 1, 0, 0));
    usleep(200000);
    read_back(proto, "ipv6 and fork");
    memcached_free(m);
}

/* A unix-socket server under USE_UDP (the script's memcached -s, path in LMC_UDP_UNIX): 1.1.4
 * writes the framed request into the stream, memcached refuses it, the call answers SUCCESS;
 * a path nothing listens on is ERRNO. */
static void unix_socket(int binary, const char *path)
{
    const char *proto = binary ? "binary" : "text";
    memcached_st *m = memcached_create(NULL);
    if (binary)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 1);
    P("server_add_unix_socket", memcached_server_add_unix_socket(m, path));
    P("set over a unix socket", memcached_set(m, "us", 2, "u", 1, 0, 0));
    P("delete over a unix socket", memcached_delete(m, "us", 2, 0));
    P("exist over a unix socket", memcached_exist(m, "us", 2));
    memcached_servers_reset(m);
    P("server_add_unix_socket (missing)", memcached_server_add_unix_socket(m, "/nonexistent/mc.sock"));
    P("set over a missing socket", memcached_set(m, "us", 2, "u", 1, 0, 0));
    memcached_free(m);
    m = memcached_create(NULL);
    memcached_server_add_unix_socket(m, path);
    memcached_return_t rc;
    free(memcached_get(m, "us", 2, NULL, NULL, &rc));
    P("get there without UDP", rc);
    memcached_free(m);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: lmc_udp PORT1 PORT2 [ipv6]\n");
        return 2;
    }
    ports[0] = (in_port_t)atoi(argv[1]);
    ports[1] = (in_port_t)atoi(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    run(0);
    run(1);
    more(0, argc == 4);
    more(1, argc == 4);
    const char *path = getenv("LMC_UDP_UNIX");
    if (path) {
        unix_socket(0, path);
        unix_socket(1, path);
    }
    return 0;
}
