/*
 * bench_floor.c - the floor: what any memcached client must at least spend on
 * this machine for the benchmarks' workloads (benches/bench_common.h).
 *
 *     [BENCH_PROTOCOL=binary|text] bench_floor get|set|multiget SERVERS N
 *
 * A hand-written client that does nothing but the system calls: every request
 * is built before the clock starts (a multi-get's per-server requests too),
 * and answers are only counted, never parsed: a call sends one buffer per
 * server it needs and reads each server's answer with blocking recv() until
 * the number of bytes the answer must have has come (the servers hold the
 * values `bench_X populate` stored).  Keys go to the servers libmemcached
 * 1.1.4 sends them to (ketama, as bench_libmemcached.c configures it; the
 * library is used before the clock starts, only to ask where each key goes).
 *
 * It checks nothing a real client must check (keys, opaques, statuses, errors,
 * timeouts), so it is not a client: its ops/s against libmemcached's in the same
 * run is the highest ratio any client could reach here, and a target above
 * it cannot be met on this machine.  benches/run.sh part 9 runs it.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <libmemcached/memcached.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

#define MAX_SERVERS 16
#define WINDOWS (KEYS / MULTI_KEYS)    /* distinct key windows of the multiget workload */
#define HEADER 24                      /* a binary frame's header */

static int binary;
static int n_servers;
static int fds[MAX_SERVERS];
static int key_server[KEYS];
#define SET_KEYS 100000                /* the set workload's distinct keys */
static unsigned char set_key_server[SET_KEYS];

/* The multiget workload's requests: per window, per server. */
static char *mget_req[WINDOWS][MAX_SERVERS];
static size_t mget_req_len[WINDOWS][MAX_SERVERS];
static size_t mget_answer_len[WINDOWS][MAX_SERVERS];

/* One get's request and answer sizes, per key. */
static char get_req[KEYS][64];
static size_t get_req_len[KEYS];
static size_t get_answer_len[KEYS];

static char recv_buf[1 << 20];

static void die(const char *what)
{
    fprintf(stderr, "bench_floor: %s\n", what);
    exit(1);
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char) (v >> 8);
    p[1] = (unsigned char) v;
}

static void put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

/* A binary request header at p. */
static void bin_header(unsigned char *p, int opcode, size_t key_len, size_t extras, size_t body)
{
    memset(p, 0, HEADER);
    p[0] = 0x80;
    p[1] = (unsigned char) opcode;
    put16(p + 2, (unsigned) key_len);
    p[4] = (unsigned char) extras;
    put32(p + 8, (unsigned long) body);
}

/* The size of a hit's answer: text "VALUE <key> 0 100\r\n<value>\r\n", binary
 * a GETK answer (header, 4 bytes of flags, key, value). */
static size_t hit_len(size_t key_len)
{
    if (binary)
        return HEADER + 4 + key_len + VALUE_SIZE;
    return strlen("VALUE  0 ") + key_len + 3 + 2 + VALUE_SIZE + 2;
}

static void plan(const char *servers)
{
    memcached_st *mc = memcached_create(NULL);
    memcached_server_st *list = memcached_servers_parse(servers);
    if (mc == NULL || list == NULL || memcached_server_push(mc, list) != MEMCACHED_SUCCESS)
        die("cannot set up libmemcached to route the keys");
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t) binary);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA, 1);
    n_servers = (int) memcached_server_count(mc);
    if (n_servers > MAX_SERVERS)
        die("too many servers");
    for (int k = 0; k < KEYS; k++)
        key_server[k] = (int) memcached_generate_hash(mc, bench_keys[k], bench_key_lens[k]);
    for (long i = 0; i < SET_KEYS; i++) {
        char key[32];
        size_t kl = bench_set_key(key, i);
        set_key_server[i] = (unsigned char) memcached_generate_hash(mc, key, kl);
    }
    for (int s = 0; s < n_servers; s++) {
        char port[16];
        const memcached_instance_st *in = memcached_server_instance_by_position(mc, (uint32_t) s);
        struct addrinfo hints, *ai;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof port, "%u", (unsigned) memcached_server_port(in));
        if (getaddrinfo(memcached_server_name(in), port, &hints, &ai) != 0)
            die("cannot resolve a server");
        fds[s] = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fds[s] < 0 || connect(fds[s], ai->ai_addr, ai->ai_addrlen) != 0)
            die("cannot connect to a server");
        int one = 1;
        setsockopt(fds[s], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        freeaddrinfo(ai);
    }
    memcached_server_list_free(list);
    memcached_free(mc);

    for (int k = 0; k < KEYS; k++) {
        size_t kl = bench_key_lens[k];
        if (binary) {
            bin_header((unsigned char *) get_req[k], 0x00, kl, 0, kl);
            memcpy(get_req[k] + HEADER, bench_keys[k], kl);
            get_req_len[k] = HEADER + kl;
            get_answer_len[k] = HEADER + 4 + VALUE_SIZE;
        } else {
            get_req_len[k] = (size_t) snprintf(get_req[k], sizeof get_req[k], "get %s\r\n", bench_keys[k]);
            get_answer_len[k] = hit_len(kl) + 5;
        }
    }
    for (int w = 0; w < WINDOWS; w++) {
        for (int s = 0; s < n_servers; s++) {
            char *req = malloc(MULTI_KEYS * (HEADER + 32) + HEADER + 8);
            size_t len = 0, answer = 0;
            if (req == NULL)
                die("out of memory");
            if (!binary)
                len += (size_t) sprintf(req, "get");
            for (int j = 0; j < MULTI_KEYS; j++) {
                int k = (w * MULTI_KEYS + j) % KEYS;
                size_t kl = bench_key_lens[k];
                if (key_server[k] != s)
                    continue;
                if (binary) {
                    bin_header((unsigned char *) req + len, 0x0d /* GETKQ */, kl, 0, kl);
                    memcpy(req + len + HEADER, bench_keys[k], kl);
                    len += HEADER + kl;
                } else {
                    req[len++] = ' ';
                    memcpy(req + len, bench_keys[k], kl);
                    len += kl;
                }
                answer += hit_len(kl);
            }
            if (answer == 0) {
                free(req);
                continue;
            }
            if (binary) {
                bin_header((unsigned char *) req + len, 0x0a /* NOOP */, 0, 0, 0);
                len += HEADER;
                answer += HEADER;
            } else {
                memcpy(req + len, "\r\n", 2);
                len += 2;
                answer += 5;   /* END\r\n */
            }
            mget_req[w][s] = req;
            mget_req_len[w][s] = len;
            mget_answer_len[w][s] = answer;
        }
    }
}

static void send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            die("send failed");
        buf += n;
        len -= (size_t) n;
    }
}

static void recv_exactly(int fd, size_t len)
{
    size_t got = 0;
    if (len > sizeof recv_buf)
        die("answer too large");
    while (got < len) {
        ssize_t n = recv(fd, recv_buf + got, len - got, 0);
        if (n <= 0)
            die("recv failed");
        got += (size_t) n;
    }
}

static void workload_get(long n)
{
    for (long i = 0; i < n; i++) {
        int k = (int) (i % KEYS);
        int fd = fds[key_server[k]];
        send_all(fd, get_req[k], get_req_len[k]);
        recv_exactly(fd, get_answer_len[k]);
    }
}

static void workload_set(long n)
{
    static char req[HEADER + 8 + 32 + VALUE_SIZE + 64];
    for (long i = 0; i < n; i++) {
        char key[32];
        size_t kl = bench_set_key(key, i % SET_KEYS), len;
        int fd = fds[set_key_server[i % SET_KEYS]];
        if (binary) {
            bin_header((unsigned char *) req, 0x01 /* SET */, kl, 8, 8 + kl + VALUE_SIZE);
            memset(req + HEADER, 0, 8);
            memcpy(req + HEADER + 8, key, kl);
            memcpy(req + HEADER + 8 + kl, bench_value, VALUE_SIZE);
            len = HEADER + 8 + kl + VALUE_SIZE;
            send_all(fd, req, len);
            recv_exactly(fd, HEADER);
        } else {
            static const char mid[] = " 0 0 100\r\n";
            memcpy(req, "set ", 4);
            memcpy(req + 4, key, kl);
            len = 4 + kl;
            memcpy(req + len, mid, sizeof mid - 1);
            len += sizeof mid - 1;
            memcpy(req + len, bench_value, VALUE_SIZE);
            len += VALUE_SIZE;
            memcpy(req + len, "\r\n", 2);
            len += 2;
            send_all(fd, req, len);
            recv_exactly(fd, strlen("STORED\r\n"));
        }
    }
}

static void workload_multiget(long n)
{
    for (long i = 0; i < n; i++) {
        int w = (int) (i % WINDOWS);
        for (int s = 0; s < n_servers; s++)
            if (mget_req[w][s] != NULL)
                send_all(fds[s], mget_req[w][s], mget_req_len[w][s]);
        for (int s = 0; s < n_servers; s++)
            if (mget_req[w][s] != NULL)
                recv_exactly(fds[s], mget_answer_len[w][s]);
    }
}

static const char *workload;
static long n_ops;

/* bench_common.h's batch size is for the buffered workload, which has no floor
 * here (a batch is one send() per server either way). */
static long unused_batch(void) __attribute__((unused));
static long unused_batch(void)
{
    return bench_batch();
}

/* The measured part (callgrind: --toggle-collect=run_workload). */
__attribute__((noinline)) void run_workload(void)
{
    if (strcmp(workload, "get") == 0)
        workload_get(n_ops);
    else if (strcmp(workload, "set") == 0)
        workload_set(n_ops);
    else
        workload_multiget(n_ops);
}

int main(int argc, char **argv)
{
    const char *proto = getenv("BENCH_PROTOCOL");
    if (argc != 4)
        bench_usage(argv[0]);
    workload = argv[1];
    n_ops = atol(argv[3]);
    if (strcmp(workload, "get") && strcmp(workload, "set") && strcmp(workload, "multiget"))
        bench_usage(argv[0]);
    binary = proto == NULL || *proto == '\0' || strcmp(proto, "binary") == 0;
    if (!binary && strcmp(proto, "text") != 0)
        die("BENCH_PROTOCOL: binary or text");
    bench_init_data();
    plan(argv[2]);

    double start = bench_now();
    run_workload();
    double secs = bench_now() - start;
    /* Every answer must have been read to its last byte, no more and no less:
     * a byte left over means the sizes counted were wrong (and the ops/s too). */
    for (int s = 0; s < n_servers; s++) {
        char extra;
        if (recv(fds[s], &extra, 1, MSG_DONTWAIT) != -1)
            die("a server sent more than the answers counted");
        close(fds[s]);
    }
    bench_report(workload, n_ops, secs);
    return 0;
}
