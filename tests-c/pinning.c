/*
 * pinning.c - C-API regressions for values handed out by the library and for
 * get_multi's output counts (run by tests-c/pinning.sh).
 *
 *   pinning reset [CONNECT_TIMEOUT_MS]       defect 1
 *       Values returned by omcache_command() stay intact until the next call
 *       on the handle, even when their server's connection is reset and a
 *       new connection of the same server receives more data later in the
 *       same call.  Fake servers (a forked child, its own process group):
 *         A: first connection: reads two GETKs, answers the first (16 'A'
 *            bytes), then closes with the second unanswered; every later
 *            connection answers each request with its key and 100,000 'Z'.
 *         B: listening with a full accept queue, so connecting to it hangs
 *            until connect_timeout; B is then dead and its request goes to A,
 *            on A's new connection.
 *       One omcache_command() of three GETKs (two for A, one for B), timeout
 *       5000.  Every value with status OK must carry the key of its request
 *       and exactly the data the fake server sent for that key.
 *
 *   pinning multi SERVERS [ROUNDS]           defect 3
 *       100 keys stored on real memcached servers, each server's keys
 *       alternating 10-byte and 70,000-byte values (bytes unique to the
 *       key).  Each round, on a new handle: omcache_get_multi() of all keys,
 *       continued with omcache_io() while requests are left.  Every value
 *       must be OK with a requested key and that key's data, each key exactly
 *       once, all keys in the end.
 *
 *   pinning invalid SERVERS                  defect 7
 *       omcache_get_multi() returning OMCACHE_INVALID (a NULL key, a key of
 *       length 0) sets *value_count to 0.
 *
 * Exit status: 0 = correct, 1 = the defect is present, 2 = setup problem.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <omcache.h>

#define GETK 0x0c
#define SMALL_A 16
#define BIG_Z 100000

static int fail_count;

/* Counts a failure; prints the first 12. */
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (fail_count < 12) {                                                                     \
            printf("FAIL: " __VA_ARGS__);                                                          \
            printf("\n");                                                                          \
        }                                                                                          \
        fail_count++;                                                                              \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void setup_failure(const char *what)
{
    printf("setup: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ------------------------------------------------------------------------ */
/* defect 1: a fake server that resets its first connection                  */

static int listen_loopback(int backlog, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        setup_failure("socket");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *) &sa, sizeof sa) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *) &sa, &len) != 0)
        setup_failure("bind/listen");
    *port = ntohs(sa.sin_port);
    return fd;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t) n;
    }
    return 0;
}

static int write_full(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

struct request {
    uint8_t opcode;
    unsigned char opaque[4];
    unsigned char key[256];
    size_t key_len;
};

/* Reads one binary request; -1 at EOF or on a malformed one. */
static int read_request(int fd, struct request *r)
{
    unsigned char h[24];
    if (read_full(fd, h, sizeof h) != 0 || h[0] != 0x80)
        return -1;
    size_t key_len = ((size_t) h[2] << 8) | h[3];
    size_t ext_len = h[4];
    size_t body_len = ((size_t) h[8] << 24) | ((size_t) h[9] << 16) | ((size_t) h[10] << 8) | h[11];
    if (key_len > 250 || ext_len + key_len > body_len || body_len > (1 << 20))
        return -1;
    unsigned char *body = malloc(body_len ? body_len : 1);
    if (!body || read_full(fd, body, body_len) != 0) {
        free(body);
        return -1;
    }
    r->opcode = h[1];
    memcpy(r->opaque, h + 12, 4);
    memcpy(r->key, body + ext_len, key_len);
    r->key_len = key_len;
    free(body);
    return 0;
}

/* A get hit for r: its opcode, opaque and key, flags 0, `len` bytes of `fill`. */
static int send_hit(int fd, const struct request *r, unsigned char fill, size_t len)
{
    size_t total = 24 + 4 + r->key_len + len;
    unsigned char *f = calloc(1, total);
    if (!f)
        return -1;
    uint32_t body = htonl((uint32_t) (4 + r->key_len + len));
    f[0] = 0x81;
    f[1] = r->opcode;
    f[2] = (unsigned char) (r->key_len >> 8);
    f[3] = (unsigned char) r->key_len;
    f[4] = 4;
    memcpy(f + 8, &body, 4);
    memcpy(f + 12, r->opaque, 4);
    f[23] = 1; /* cas 1 */
    memcpy(f + 28, r->key, r->key_len);
    memset(f + 28 + r->key_len, fill, len);
    int rc = write_full(fd, f, total);
    free(f);
    return rc;
}

/* Server A, in the child.  Connections are served one after the other. */
static void serve_a(int lfd)
{
    alarm(30);
    for (int conn = 0;; conn++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            _exit(3);
        }
        struct request r1, r2;
        if (conn == 0) {
            if (read_request(fd, &r1) == 0 && read_request(fd, &r2) == 0) {
                send_hit(fd, &r1, 'A', SMALL_A);
                /* FIN, the second request unanswered; then wait for the peer to close. */
                shutdown(fd, SHUT_WR);
                unsigned char sink[256];
                struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
                while (poll(&p, 1, 5000) > 0 && read(fd, sink, sizeof sink) > 0)
                    ;
            }
        } else {
            while (read_request(fd, &r1) == 0)
                if (send_hit(fd, &r1, 'Z', BIG_Z) != 0)
                    break;
        }
        close(fd);
    }
}

/* Fills the accept queue of a listener with backlog 0: later connects hang. */
static void fill_backlog(uint16_t port, int *fds, int n)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0)
            setup_failure("socket");
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        if (connect(fds[i], (struct sockaddr *) &sa, sizeof sa) != 0 && errno != EINPROGRESS)
            setup_failure("connect to B");
    }
    struct timespec settle = { 0, 50 * 1000 * 1000 }; /* let the handshakes that can complete */
    nanosleep(&settle, NULL);
}

static void make_getk(omcache_req_t *req, const char *key)
{
    memset(req, 0, sizeof *req);
    req->server_index = -1;
    req->header.opcode = GETK;
    req->header.keylen = htons((uint16_t) strlen(key));
    req->header.bodylen = htonl((uint32_t) strlen(key));
    req->key = (const unsigned char *) key;
}

/* A key "<prefix>-<n>" that maps to server `server`, the `skip`th such key. */
static void key_for_server(omcache_t *mc, char *out, size_t outsz, const char *prefix, int server, int skip)
{
    for (int n = 0; n < 100000; n++) {
        snprintf(out, outsz, "%s-%d", prefix, n);
        if (omcache_server_index_for_key(mc, (const unsigned char *) out, strlen(out)) == server &&
            skip-- == 0)
            return;
    }
    printf("setup: no key for server %d\n", server);
    exit(2);
}

static int test_reset(int connect_timeout)
{
    uint16_t port_a, port_b;
    int lfd_a = listen_loopback(16, &port_a);
    int lfd_b = listen_loopback(0, &port_b);
    int blockers[4];
    fill_backlog(port_b, blockers, 4);

    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        setup_failure("fork");
    if (child == 0) {
        setpgid(0, 0);
        close(lfd_b);
        serve_a(lfd_a);
        _exit(0);
    }
    setpgid(child, child);
    close(lfd_a);

    omcache_t *mc = omcache_init();
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%u,127.0.0.1:%u", port_a, port_b);
    if (!mc || omcache_set_servers(mc, servers) != OMCACHE_OK ||
        omcache_set_connect_timeout(mc, (uint32_t) connect_timeout) != OMCACHE_OK ||
        omcache_set_reconnect_timeout(mc, 60000) != OMCACHE_OK ||
        omcache_set_dead_timeout(mc, 10000) != OMCACHE_OK) {
        printf("setup: handle\n");
        exit(2);
    }
    if (getenv("PINNING_DEBUG"))
        omcache_set_log_callback(mc, 0, omcache_log_stderr, (void *) "pinning");
    /* OMcache orders its server list (by host, then port as text): find A's index. */
    int index_a = -1;
    for (int i = 0; i < 2; i++) {
        omcache_server_info_t *info = omcache_server_info(mc, i);
        if (info && info->port == port_a)
            index_a = i;
        omcache_server_info_free(mc, info);
    }
    if (index_a < 0) {
        printf("setup: server A not in the list\n");
        exit(2);
    }
    char ka[32], ka2[32], kb[32];
    key_for_server(mc, ka, sizeof ka, "pin-a", index_a, 0);
    key_for_server(mc, ka2, sizeof ka2, "pin-a", index_a, 1);
    key_for_server(mc, kb, sizeof kb, "pin-b", 1 - index_a, 0);
    const char *keys[3] = { ka, ka2, kb };

    omcache_req_t reqs[3];
    for (int i = 0; i < 3; i++)
        make_getk(&reqs[i], keys[i]);
    omcache_value_t values[8];
    memset(values, 0, sizeof values);
    size_t req_count = 3, value_count = 8;
    double t0 = now_ms();
    int rc = omcache_command(mc, reqs, &req_count, values, &value_count, 5000);
    printf("reset: omcache_command: %s, %zu value(s), %zu request(s) left, %.0f ms\n",
           omcache_strerror(rc), value_count, req_count, now_ms() - t0);

    int ok_a = 0;
    for (size_t v = 0; v < value_count; v++) {
        const omcache_value_t *val = &values[v];
        printf("  value %zu: %s, key_len %zu, data_len %zu\n", v, omcache_strerror(val->status), val->key_len,
               val->data_len);
        if (val->status != OMCACHE_OK)
            continue;
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (val->key_len == strlen(keys[i]) && memcmp(val->key, keys[i], val->key_len) == 0)
                which = i;
        if (which < 0) {
            FAIL("value %zu is OK with a key that was not requested", v);
            continue;
        }
        /* What the server sent for that key: 16 'A' on the first connection (ka), else 100,000 'Z'. */
        unsigned char fill = which == 0 ? 'A' : 'Z';
        size_t len = which == 0 ? SMALL_A : BIG_Z;
        int same = val->data_len == len;
        for (size_t i = 0; same && i < len; i++)
            same = val->data[i] == fill;
        if (!same) {
            size_t n_a = 0, n_z = 0;
            for (size_t i = 0; i < val->data_len && i < 64; i++) {
                n_a += val->data[i] == 'A';
                n_z += val->data[i] == 'Z';
            }
            FAIL("value %zu (%s) is not the data sent for it: %zu bytes, of the first 64 %zu 'A' and %zu 'Z'", v,
                 keys[which], val->data_len, n_a, n_z);
        } else if (which == 0) {
            ok_a = 1;
        }
    }
    /* Not a requirement, but says whether the call went as planned: kb was answered on A's
     * second connection (the reset and reuse the test is about). */
    int reused = 0;
    for (size_t v = 0; v < value_count; v++)
        reused |= values[v].status == OMCACHE_OK && values[v].data_len == BIG_Z;
    printf("reset: %s was %sanswered on A's new connection\n", kb, reused ? "" : "not ");
    int setup_ok = ok_a || fail_count > 0;
    omcache_free(mc);
    kill(-child, SIGKILL);
    waitpid(child, NULL, 0);
    close(lfd_b);
    for (int i = 0; i < 4; i++)
        close(blockers[i]);
    if (!setup_ok) {
        printf("setup: the first answer (%s) did not come back OK\n", ka);
        return 2;
    }
    return fail_count ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* defect 3: get_multi with large values over real memcached                 */

#define NKEYS 100
#define BIG 70000

static size_t value_len[NKEYS];

static void key_name(char *out, size_t outsz, int i)
{
    snprintf(out, outsz, "pinning-multi-%03d", i);
}

static unsigned char value_byte(int key, size_t pos)
{
    return (unsigned char) ((key * 131 + pos * 7 + pos / 251) & 0xff);
}

static unsigned char *value_of(int key)
{
    unsigned char *v = malloc(value_len[key]);
    if (!v)
        setup_failure("malloc");
    for (size_t p = 0; p < value_len[key]; p++)
        v[p] = value_byte(key, p);
    return v;
}

/* The key index of a returned key, or -1. */
static int key_index(const unsigned char *key, size_t len)
{
    char name[32];
    for (int i = 0; i < NKEYS; i++) {
        key_name(name, sizeof name, i);
        if (len == strlen(name) && memcmp(key, name, len) == 0)
            return i;
    }
    return -1;
}

static void check_values(const omcache_value_t *values, size_t n, int *seen, int round)
{
    for (size_t v = 0; v < n; v++) {
        const omcache_value_t *val = &values[v];
        if (val->status != OMCACHE_OK) {
            FAIL("round %d: a value with status %s", round, omcache_strerror(val->status));
            continue;
        }
        int k = key_index(val->key, val->key_len);
        if (k < 0) {
            FAIL("round %d: a value whose key was not requested (%zu bytes)", round, val->key_len);
            continue;
        }
        int same = val->data_len == value_len[k];
        for (size_t p = 0; same && p < value_len[k]; p++)
            same = val->data[p] == value_byte(k, p);
        if (!same)
            FAIL("round %d: key %d has another value (%zu bytes, expected %zu)", round, k, val->data_len,
                 value_len[k]);
        if (seen[k]++)
            FAIL("round %d: key %d came twice", round, k);
    }
}

static int test_multi(const char *servers, int rounds)
{
    char names[NKEYS][32];
    const unsigned char *keys[NKEYS];
    size_t key_lens[NKEYS];
    omcache_t *setup = omcache_init();
    if (!setup || omcache_set_servers(setup, servers) != OMCACHE_OK) {
        printf("setup: servers %s\n", servers);
        return 2;
    }
    int per_server[64] = { 0 };
    for (int i = 0; i < NKEYS; i++) {
        key_name(names[i], sizeof names[i], i);
        keys[i] = (const unsigned char *) names[i];
        key_lens[i] = strlen(names[i]);
        int s = omcache_server_index_for_key(setup, keys[i], key_lens[i]);
        if (s < 0 || s >= 64) {
            printf("setup: no server for key %d\n", i);
            return 2;
        }
        /* Within each server's share: 10 bytes, 70,000, 10, 70,000, ... */
        value_len[i] = per_server[s]++ % 2 ? BIG : 10;
        unsigned char *v = value_of(i);
        int rc = omcache_set(setup, keys[i], key_lens[i], v, value_len[i], 0, 0, 0, 5000);
        free(v);
        if (rc != OMCACHE_OK) {
            printf("setup: set of key %d: %s\n", i, omcache_strerror(rc));
            return 2;
        }
    }
    omcache_free(setup);

    for (int round = 1; round <= rounds; round++) {
        int seen[NKEYS] = { 0 };
        omcache_t *mc = omcache_init();
        if (!mc || omcache_set_servers(mc, servers) != OMCACHE_OK) {
            printf("setup: handle\n");
            return 2;
        }
        omcache_req_t reqs[NKEYS];
        omcache_value_t values[NKEYS];
        size_t req_count = NKEYS, value_count = NKEYS;
        double t0 = now_ms();
        int rc = omcache_get_multi(mc, keys, key_lens, NKEYS, reqs, &req_count, values, &value_count, 1000);
        int calls = 1;
        if (rc != OMCACHE_OK && rc != OMCACHE_AGAIN)
            FAIL("round %d: omcache_get_multi: %s", round, omcache_strerror(rc));
        check_values(values, value_count, seen, round);
        while (req_count > 0 && (rc == OMCACHE_OK || rc == OMCACHE_AGAIN) && now_ms() - t0 < 5000) {
            value_count = NKEYS;
            rc = omcache_io(mc, reqs, &req_count, values, &value_count, 1000);
            calls++;
            if (rc != OMCACHE_OK && rc != OMCACHE_AGAIN)
                FAIL("round %d: omcache_io: %s", round, omcache_strerror(rc));
            check_values(values, value_count, seen, round);
        }
        if (req_count > 0)
            FAIL("round %d: %zu request(s) still pending after %.0f ms", round, req_count, now_ms() - t0);
        int missing = 0;
        for (int i = 0; i < NKEYS; i++)
            missing += seen[i] == 0;
        if (missing)
            FAIL("round %d: %d key(s) never came back", round, missing);
        printf("multi: round %d: %d call(s), %.0f ms, %d missing\n", round, calls, now_ms() - t0, missing);
        omcache_free(mc);
    }
    return fail_count ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* defect 7: OMCACHE_INVALID from get_multi leaves no values                 */

static int test_invalid(const char *servers)
{
    omcache_t *mc = omcache_init();
    if (!mc || omcache_set_servers(mc, servers) != OMCACHE_OK) {
        printf("setup: handle\n");
        return 2;
    }
    const unsigned char *good = (const unsigned char *) "pinning-invalid";
    const unsigned char *null_key[3] = { good, NULL, good };
    const unsigned char *empty_key[3] = { good, (const unsigned char *) "", good };
    size_t lens[3] = { 15, 15, 15 };
    size_t empty_lens[3] = { 15, 0, 15 };
    struct {
        const char *what;
        const unsigned char **keys;
        size_t *lens;
    } cases[] = { { "a NULL key", null_key, lens }, { "a key of length 0", empty_key, empty_lens } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        omcache_req_t reqs[3];
        omcache_value_t values[3];
        memset(values, 0, sizeof values);
        size_t req_count = 3, value_count = 3;
        int rc = omcache_get_multi(mc, cases[c].keys, cases[c].lens, 3, reqs, &req_count, values, &value_count,
                                   1000);
        printf("invalid: %s: %s, value_count %zu, req_count %zu\n", cases[c].what, omcache_strerror(rc),
               value_count, req_count);
        if (rc != OMCACHE_INVALID)
            FAIL("get_multi with %s returned %s, not OMCACHE_INVALID", cases[c].what, omcache_strerror(rc));
        else if (value_count != 0)
            FAIL("get_multi with %s returned OMCACHE_INVALID with *value_count %zu", cases[c].what, value_count);
    }
    omcache_free(mc);
    return fail_count ? 1 : 0;
}

static int summary(const char *name, int rc)
{
    if (rc == 0)
        printf("%s: passed\n", name);
    else if (rc == 1)
        printf("%s: FAILED (%d failure(s))\n", name, fail_count);
    else
        printf("%s: setup problem\n", name);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "reset") == 0)
        return summary("reset", test_reset(argc >= 3 ? atoi(argv[2]) : 300));
    if (argc >= 3 && strcmp(argv[1], "multi") == 0)
        return summary("multi", test_multi(argv[2], argc >= 4 ? atoi(argv[3]) : 3));
    if (argc >= 3 && strcmp(argv[1], "invalid") == 0)
        return summary("invalid", test_invalid(argv[2]));
    fprintf(stderr, "usage: pinning reset [CONNECT_TIMEOUT_MS] | multi SERVERS [ROUNDS] | invalid SERVERS\n");
    return 2;
}
