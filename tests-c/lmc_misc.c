/* lmc_misc.c - small libmemcached 1.1.4 calls, run by lmc-misc.sh on Debian's library and on
 * ours: the distribution / hash getters, the enum names, memcached_analyze_free,
 * memcached_server_add_udp*, memcached_reset, memcached_push, memcached_error /
 * memcached_error_print, memcached_reset_last_disconnected_server,
 * memcached_server_response_count, memcached_server_error_reset, memcached_instance_next_retry,
 * memcached_query_id, memcached_server_srcport; and buffered sets (BUFFER_REQUESTS), which
 * reach the server however the connections close: a protocol switch, a server added,
 * memcached_servers_reset, memcached_reset, memcached_quit, memcached_free, with or without a
 * memcached_flush_buffers first; and the codes of buffered sets (a refused server among them).
 * Usage: lmc_misc PORT1 PORT2 (two running memcached servers). Calls the real library crashes
 * on (memcached_autoeject, memcached_push with NULL) are left out, and so is pushing a handle onto itself (1.1.4 reads
 * the list it is growing: the copy of the first server came out as 127.0.0.1:0). */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void getters(const char *what, memcached_st *m)
{
    printf("%s: dist %d dist_hash %d key_hash %d\n", what, memcached_behavior_get_distribution(m),
           memcached_behavior_get_distribution_hash(m), memcached_behavior_get_key_hash(m));
}

static void servers(const char *what, memcached_st *m)
{
    printf("%s: %u servers", what, memcached_server_count(m));
    for (uint32_t i = 0; i < memcached_server_count(m); i++) {
        const memcached_instance_st *x = memcached_server_instance_by_position(m, i);
        printf(" %s:%u", memcached_server_name(x), (unsigned)memcached_server_port(x));
    }
    printf("\n");
}

#define Q(what)                                                                             \
    printf("query_id %-24s rc %2d id %llu\n", what, rc, (unsigned long long)memcached_query_id(m))
/* memcached_query_id: which calls count as an operation. Left out: a key with a space over
 * text (1.1.4 sends it and the stream goes out of step) and an empty-key get followed by a
 * set_by_key (1.1.4 fails an assertion in memcached_send_ascii). */
static void query_ids(in_port_t port)
{
    memcached_st *m = memcached_create(NULL); memcached_return_t rc = 0; size_t l; uint32_t f; uint64_t v;
    Q("new");
    rc = memcached_set(m, "a", 1, "b", 1, 0, 0); Q("set no servers");
    rc = memcached_flush(m, 0); Q("flush no servers");
    rc = memcached_version(m); Q("version no servers");
    memcached_server_add(m, "127.0.0.1", port);
    rc = MEMCACHED_SUCCESS; Q("server_add");
    rc = memcached_set(m, "a", 1, "b", 1, 0, 0); Q("set");
    rc = memcached_add(m, "a", 1, "b", 1, 0, 0); Q("add");
    rc = memcached_append(m, "a", 1, "b", 1, 0, 0); Q("append");
    free(memcached_get(m, "a", 1, &l, &f, &rc)); Q("get");
    free(memcached_get(m, "zz", 2, &l, &f, &rc)); Q("get miss");
    free(memcached_get_by_key(m, "g", 1, "a", 1, &l, &f, &rc)); Q("get_by_key");
    const char *ks[2]={"a","b"}; size_t kl[2]={1,1};
    rc = memcached_mget(m, ks, kl, 2); Q("mget");
    memcached_result_st *r; while((r=memcached_fetch_result(m,NULL,&rc))) memcached_result_free(r);
    Q("fetch");
    rc = memcached_mget(m, ks, kl, 0); Q("mget 0 keys");
    rc = memcached_delete(m, "a", 1, 0); Q("delete");
    rc = memcached_increment(m, "n", 1, 1, &v); Q("incr miss");
    rc = memcached_increment_with_initial(m, "n", 1, 1, 5, 0, &v); Q("incr with initial");
    rc = memcached_decrement(m, "n", 1, 1, &v); Q("decr");
    rc = memcached_touch(m, "n", 1, 10); Q("touch");
    rc = memcached_exist(m, "n", 1); Q("exist");
    rc = memcached_flush(m, 0); Q("flush");
    rc = memcached_version(m); Q("version");
    rc = memcached_version(m); Q("version again");
    rc = memcached_verbosity(m, 0); Q("verbosity");
    memcached_stat_st *st = memcached_stat(m, NULL, &rc); Q("stat");
    memcached_stat_free(m, st);
    rc = memcached_flush_buffers(m); Q("flush_buffers");
    rc = memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1); Q("behavior_set binary");
    rc = memcached_set(m, "a", 1, "b", 1, 0, 0); Q("binary set");
    free(memcached_get(m, "a", 1, &l, &f, &rc)); Q("binary get");
    rc = memcached_mget(m, ks, kl, 2); Q("binary mget");
    while((r=memcached_fetch_result(m,NULL,&rc))) memcached_result_free(r);
    Q("binary fetch");
    memcached_st *c = memcached_clone(NULL, m); printf("clone qid %llu\n", (unsigned long long)memcached_query_id(c)); memcached_free(c);
    memcached_reset(m); Q("reset");
    printf("NULL qid %llu\n", (unsigned long long)memcached_query_id(NULL));
    memcached_free(m);
}

/* Whether KEY is on the server at PORT, read with a handle of its own. */
static int stored_on(in_port_t port, const char *key)
{
    memcached_st *c = memcached_create(NULL);
    memcached_server_add(c, "127.0.0.1", port);
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get(c, key, strlen(key), &len, &flags, &rc);
    free(v);
    memcached_free(c);
    return rc == MEMCACHED_SUCCESS && len == 5;
}

/* One buffered set to P1, then the connections close one way or another; the handle is
 * freed, and the key must be on the server. */
static void buffered_sets(in_port_t p1, in_port_t p2)
{
    static const char *const ways[] = {"protocol switch", "server added", "servers_reset",
                                       "reset", "quit", "free", "flush then free"};
    for (int binary = 0; binary < 2; binary++) {
        for (int way = 0; way < 7; way++) {
            memcached_st *m = memcached_create(NULL);
            memcached_server_add(m, "127.0.0.1", p1);
            memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t) binary);
            memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
            char key[64];
            snprintf(key, sizeof key, "lmc-misc-buffered-%d-%d", binary, way);
            memcached_return_t rc = memcached_set(m, key, strlen(key), "value", 5, 0, 0);
            switch (way) {
            case 0:
                memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t) !binary);
                break;
            case 1:
                memcached_server_add(m, "127.0.0.1", p2);
                break;
            case 2:
                memcached_servers_reset(m);
                break;
            case 3:
                memcached_reset(m);
                break;
            case 4:
                memcached_quit(m);
                break;
            case 6:
                printf("buffered flush %d\n", memcached_flush_buffers(m));
                break;
            default:
                break;
            }
            memcached_free(m);
            printf("buffered binary=%d %s: set %d, stored %d\n", binary, ways[way], rc,
                   stored_on(p1, key));
        }
    }
}

/* Which of p1, p2 and a third server (127.0.0.1:p1+p2 % 50000 + 1024, never connected) 30
 * keys go to: "1", "2", "3". */
static void placement(const char *what, memcached_st *m, in_port_t p1, in_port_t p2)
{
    char line[31];
    for (int i = 0; i < 30; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        memcached_return_t rc;
        const memcached_instance_st *s = memcached_server_by_key(m, key, strlen(key), &rc);
        in_port_t port = s ? memcached_server_port(s) : 0;
        line[i] = port == p1 ? '1' : port == p2 ? '2' : s ? '3' : '0';
    }
    line[30] = 0;
    printf("placement %-32s %s\n", what, line);
}

static memcached_st *three(in_port_t p1, in_port_t p2)
{
    memcached_st *m = memcached_create(NULL);
    memcached_server_add(m, "localhost", (in_port_t)((p1 + p2) % 50000 + 1024));
    memcached_server_add(m, "127.0.0.1", p2);
    memcached_server_add(m, "127.0.0.1", p1);
    return m;
}

/* 1.1.4 hashes a continuum's points with the key hash of the moment it is built (a server
 * list change, DISTRIBUTION, KETAMA, KETAMA_WEIGHTED, SORT_HOSTS), not when only HASH
 * changes; SORT_HOSTS reorders the list and keeps each key on its server. */
static void placements(in_port_t p1, in_port_t p2)
{
    struct { const char *what; int b1; uint64_t v1; int b2; uint64_t v2; int b3; uint64_t v3; } steps[] = {
        {"ketama", MEMCACHED_BEHAVIOR_KETAMA, 1, -1, 0, -1, 0},
        {"ketama md5", MEMCACHED_BEHAVIOR_KETAMA, 1, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_MD5, -1, 0},
        {"md5 ketama", MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_MD5, MEMCACHED_BEHAVIOR_KETAMA, 1, -1, 0},
        {"consistent crc", MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_CONSISTENT,
         MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_CRC, -1, 0},
        {"ketama sort", MEMCACHED_BEHAVIOR_KETAMA, 1, MEMCACHED_BEHAVIOR_SORT_HOSTS, 1, -1, 0},
        {"ketama murmur sort", MEMCACHED_BEHAVIOR_KETAMA, 1, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_MURMUR,
         MEMCACHED_BEHAVIOR_SORT_HOSTS, 1},
        {"ketama sort murmur", MEMCACHED_BEHAVIOR_KETAMA, 1, MEMCACHED_BEHAVIOR_SORT_HOSTS, 1,
         MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_MURMUR},
        {"spy md5", MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY,
         MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_MD5, -1, 0},
        {"sort modula", MEMCACHED_BEHAVIOR_SORT_HOSTS, 1, -1, 0, -1, 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        memcached_st *m = three(p1, p2);
        memcached_behavior_set(m, (memcached_behavior_t) steps[i].b1, steps[i].v1);
        if (steps[i].b2 >= 0)
            memcached_behavior_set(m, (memcached_behavior_t) steps[i].b2, steps[i].v2);
        if (steps[i].b3 >= 0)
            memcached_behavior_set(m, (memcached_behavior_t) steps[i].b3, steps[i].v3);
        placement(steps[i].what, m, p1, p2);
        memcached_st *c = memcached_clone(NULL, m);
        placement("  its clone", c, p1, p2);
        memcached_free(c);
        memcached_quit(m);
        placement("  after quit", m, p1, p2);
        memcached_free(m);
    }
    char config[160];
    snprintf(config, sizeof config,
             "--SERVER=127.0.0.1:%u --SERVER=127.0.0.1:%u --DISTRIBUTION=consistent --HASH=md5", p1, p2);
    memcached_st *m = memcached(config, strlen(config));
    placement("config consistent md5", m, p1, p2);
    memcached_free(m);
    /* An empty entry of a pushed list is localhost:11211, by name in the continuum too. */
    char list[80];
    snprintf(list, sizeof list, "127.0.0.1:%u,,127.0.0.1:%u", p1, p2);
    m = memcached_create(NULL);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA, 1);
    memcached_server_st *parsed = memcached_servers_parse(list);
    memcached_server_push(m, parsed);
    memcached_server_list_free(parsed);
    const memcached_instance_st *empty = memcached_server_instance_by_position(m, 1);
    printf("pushed empty entry: %s:%u\n", memcached_server_name(empty), memcached_server_port(empty));
    placement("pushed list with an empty entry", m, p1, p2);
    memcached_free(m);
}

/* A handle on the server at `port`, over binary or text. */
static memcached_st *one_server(in_port_t port, int binary)
{
    memcached_st *m = memcached_create(NULL);
    memcached_server_add(m, "127.0.0.1", port);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t) binary);
    return m;
}

/* A delete with an expiration is refused by 1.1.4 (INVALID_ARGUMENTS, nothing deleted). */
static void delete_expiration(in_port_t p1)
{
    for (int binary = 0; binary < 2; binary++) {
        memcached_st *m = one_server(p1, binary);
        time_t expirations[] = {10, -1, 0};
        for (int i = 0; i < 3; i++) {
            memcached_set(m, "lmc-misc-del", 12, "value", 5, 0, 0);
            memcached_return_t rc = expirations[i] == -1
                ? memcached_delete_by_key(m, "g", 1, "lmc-misc-del", 12, -1)
                : memcached_delete(m, "lmc-misc-del", 12, expirations[i]);
            printf("delete binary=%d expiration %ld: %d, stored %d, %s\n", binary, (long) expirations[i], rc,
                   stored_on(p1, "lmc-misc-del"), memcached_last_error_message(m));
        }
        memcached_free(m);
    }
}

/* A miss, NOT_STORED and DATA_EXISTS are the server's answers, not errors: 1.1.4 leaves
 * memcached_last_error at SUCCESS. */
static void answers_are_not_errors(in_port_t p1)
{
    for (int binary = 0; binary < 2; binary++) {
        memcached_st *m = one_server(p1, binary);
        memcached_set(m, "lmc-misc-there", 14, "v", 1, 0, 0);
        size_t len;
        uint32_t flags;
        memcached_return_t rc;
        free(memcached_get(m, "lmc-misc-absent", 15, &len, &flags, &rc));
        printf("answers binary=%d miss %d: last %d %s\n", binary, rc, memcached_last_error(m),
               memcached_last_error_message(m));
        rc = memcached_add(m, "lmc-misc-there", 14, "v", 1, 0, 0);
        printf("answers binary=%d add existing %d: last %d %s\n", binary, rc, memcached_last_error(m),
               memcached_last_error_message(m));
        memcached_free(m);
    }
}

/* The namespace in every keyed call (an outside tester found get_by_key and server_by_key
 * leaving it out: get_by_key then returned the unprefixed key's value with SUCCESS). */
static void namespaces(in_port_t p1, in_port_t p2)
{
    for (int binary = 0; binary < 2; binary++) {
        for (int with_prefix = 0; with_prefix < 2; with_prefix++) {
            memcached_st *m = three(p1, p2);
            memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t) binary);
            memcached_behavior_set(m, MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY, (uint64_t) with_prefix);
            /* Another application's keys, without the namespace. */
            memcached_set(m, "lmc-ns-bk", 9, "OTHER-APP", 9, 0, 0);
            memcached_set_by_key(m, "grp", 3, "lmc-ns-bk", 9, "OTHER-APP", 9, 0, 0);
            memcached_callback_set(m, MEMCACHED_CALLBACK_PREFIX_KEY, "ns:");
            memcached_delete_by_key(m, "grp", 3, "lmc-ns-bk", 9, 0);
            size_t len = 0;
            uint32_t flags;
            memcached_return_t rc;
            char *v = memcached_get_by_key(m, "grp", 3, "lmc-ns-bk", 9, &len, &flags, &rc);
            printf("namespace binary=%d hash_prefix=%d get_by_key before: %d [%.*s]\n", binary,
                   with_prefix, rc, v ? (int) len : 0, v ? v : "");
            free(v);
            rc = memcached_set_by_key(m, "grp", 3, "lmc-ns-bk", 9, "MINE", 4, 0, 0);
            v = memcached_get_by_key(m, "grp", 3, "lmc-ns-bk", 9, &len, &flags, &rc);
            printf("namespace binary=%d hash_prefix=%d get_by_key after: %d [%.*s]\n", binary,
                   with_prefix, rc, v ? (int) len : 0, v ? v : "");
            free(v);
            for (int i = 0; i < 6; i++) {
                char key[16];
                snprintf(key, sizeof key, "lmc-ns-e%d", i);
                memcached_set(m, key, strlen(key), "e", 1, 0, 0);
                const memcached_instance_st *server = memcached_server_by_key(m, key, strlen(key), &rc);
                printf("namespace binary=%d hash_prefix=%d %s: server_by_key %d port %d\n", binary,
                       with_prefix, key, rc, server ? (int) memcached_server_port(server) : -1);
            }
            memcached_free(m);
        }
    }
    /* A namespace longer than a key is a bad key; 128 bytes or more, too big. */
    int lengths[] = {127, 128, 250, 251, 299};
    for (int i = 0; i < 5; i++) {
        memcached_st *m = memcached_create(NULL);
        char prefix[300];
        memset(prefix, 'p', (size_t) lengths[i]);
        prefix[lengths[i]] = 0;
        printf("namespace of %d bytes: %d\n", lengths[i],
               memcached_callback_set(m, MEMCACHED_CALLBACK_PREFIX_KEY, prefix));
        memcached_free(m);
    }
}

/* exist and touch report what the server answered whatever NOREPLY says; storage commands
 * under NOREPLY and BUFFER_REQUESTS return what 1.1.4 returns (text: a buffered noreply set is
 * SUCCESS). */
static void noreply_codes(in_port_t p1)
{
    for (int binary = 0; binary < 2; binary++) {
        for (int noreply = 0; noreply < 2; noreply++) {
            for (int buffer = 0; buffer < 2; buffer++) {
                memcached_st *m = one_server(p1, binary);
                memcached_delete(m, "lmc-nr-missing", 14, 0);
                memcached_delete(m, "lmc-nr-a", 8, 0);
                memcached_set(m, "lmc-nr-there", 12, "v", 1, 0, 0);
                memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NOREPLY, (uint64_t) noreply);
                memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, (uint64_t) buffer);
                printf("noreply binary=%d noreply=%d buffer=%d: exist %d %d touch %d %d", binary,
                       noreply, buffer, memcached_exist(m, "lmc-nr-missing", 14),
                       memcached_exist(m, "lmc-nr-there", 12),
                       memcached_touch(m, "lmc-nr-missing", 14, 100),
                       memcached_touch(m, "lmc-nr-there", 12, 100));
                printf(" by_key %d %d", memcached_exist_by_key(m, "g", 1, "lmc-nr-missing", 14),
                       memcached_touch_by_key(m, "g", 1, "lmc-nr-missing", 14, 100));
                memcached_return_t set = memcached_set(m, "lmc-nr-a", 8, "v", 1, 0, 0);
                memcached_return_t deleted = memcached_delete(m, "lmc-nr-a", 8, 0);
                printf(" set %d delete %d\n", set, deleted);
                memcached_free(m);
            }
        }
    }
}

/* Buffered sets and deletes (BUFFER_REQUESTS): ACTION QUEUED leaves memcached_last_error at
 * SUCCESS, a buffered set to a server that refuses the connect fails at once with
 * CONNECTION FAILURE (1.1.4 connects before it buffers), and memcached_flush_buffers leaves
 * the last error alone. Port 1 refuses (nothing listens). */
static void buffered_codes(in_port_t p1)
{
    for (int binary = 0; binary < 2; binary++) {
        memcached_st *m = memcached_create(NULL);
        memcached_server_add(m, "127.0.0.1", p1);
        memcached_server_add(m, "127.0.0.1", 1);
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t) binary);
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
        char live[32] = "", dead[32] = "";
        for (int i = 0; i < 100 && (!live[0] || !dead[0]); i++) {
            char k[32];
            snprintf(k, sizeof k, "lmc-misc-bc-%d", i);
            memcached_return_t rc;
            const memcached_instance_st *x = memcached_server_by_key(m, k, strlen(k), &rc);
            if (x && memcached_server_port(x) == 1 && !dead[0])
                snprintf(dead, sizeof dead, "%s", k);
            else if (x && memcached_server_port(x) == p1 && !live[0])
                snprintf(live, sizeof live, "%s", k);
        }
        const char *steps[] = {"set live", "delete live", "set dead", "set live again",
                               "flush_buffers", "set dead again", "flush_buffers again"};
        for (int s = 0; s < 7; s++) {
            memcached_return_t rc;
            switch (s) {
            case 0: case 3: rc = memcached_set(m, live, strlen(live), "v", 1, 0, 0); break;
            case 1: rc = memcached_delete(m, live, strlen(live), 0); break;
            case 2: case 5: rc = memcached_set(m, dead, strlen(dead), "v", 1, 0, 0); break;
            default: rc = memcached_flush_buffers(m); break;
            }
            printf("buffered codes binary=%d %s: %d, last %d: %s\n", binary, steps[s], rc,
                   memcached_last_error(m), memcached_last_error_message(m));
        }
        memcached_free(m);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: lmc_misc PORT1 PORT2\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    in_port_t p1 = (in_port_t)atoi(argv[1]), p2 = (in_port_t)atoi(argv[2]);
    memcached_return_t rc;

    /* getters */
    memcached_st *m = memcached_create(NULL);
    getters("new", m);
    memcached_behavior_set_distribution(m, MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    getters("ketama", m);
    memcached_behavior_set_distribution_hash(m, MEMCACHED_HASH_CRC);
    getters("ketama crc", m);
    printf("ketama_hash behaviour %llu\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_KETAMA_HASH));
    memcached_behavior_set_key_hash(m, MEMCACHED_HASH_FNV1_32);
    getters("key fnv1_32", m);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    getters("weighted", m);
    for (int h = 0; h <= MEMCACHED_HASH_MAX; h++) {
        memcached_st *n = memcached_create(NULL);
        int a = memcached_behavior_set_key_hash(n, (memcached_hash_t)h);
        int b = memcached_behavior_set_distribution_hash(n, (memcached_hash_t)h);
        printf("hash %d: set %d %d ", h, a, b);
        getters("get", n);
        memcached_free(n);
    }
    getters("NULL", NULL);
    memcached_free(m);

    /* names */
    for (int i = -1; i <= MEMCACHED_BEHAVIOR_MAX + 1; i++)
        printf("behavior %d %s\n", i, libmemcached_string_behavior((memcached_behavior_t)i));
    for (int i = -1; i <= MEMCACHED_DISTRIBUTION_CONSISTENT_MAX + 1; i++)
        printf("distribution %d %s\n", i,
               libmemcached_string_distribution((memcached_server_distribution_t)i));

    /* UDP servers */
    m = memcached_create(NULL);
    printf("add_udp %d\n", memcached_server_add_udp(m, "127.0.0.1", p1));
    printf("add_udp_with_weight %d last %d servers %u\n",
           memcached_server_add_udp_with_weight(m, "127.0.0.1", p1, 3), memcached_last_error(m),
           memcached_server_count(m));
    printf("add_udp message: %s\n", memcached_last_error_message(m));
    printf("add_udp NULL handle %d\n", memcached_server_add_udp(NULL, "127.0.0.1", p1));
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_USE_UDP, 1);
    printf("USE_UDP add_udp %d add_udp_with_weight %d NULL host %d servers %u\n",
           memcached_server_add_udp(m, "127.0.0.1", p1),
           memcached_server_add_udp_with_weight(m, "127.0.0.1", p1, 2),
           memcached_server_add_udp(m, NULL, p1), memcached_server_count(m));
    memcached_free(m);

    /* errors */
    m = memcached_create(NULL);
    printf("error new: %s\n", memcached_error(m));
    printf("error NULL: %s\n", memcached_error(NULL));
    memcached_error_print(m);
    memcached_error_print(NULL);
    printf("printed (nothing)\n");
    memcached_server_add(m, "127.0.0.1", p1);
    memcached_server_add(m, "127.0.0.1", 1);
    printf("srcport before a call %u\n",
           (unsigned)memcached_server_srcport(memcached_server_instance_by_position(m, 0)));
    rc = memcached_set(m, "a", 1, "b", 1, 0, 0);
    printf("set on the live server %d\n", rc);
    const memcached_instance_st *live = memcached_server_instance_by_position(m, 0);
    printf("response_count %u NULL %u\n", memcached_server_response_count(live),
           memcached_server_response_count(NULL));
    printf("srcport > 0: %d NULL %u\n", memcached_server_srcport(live) > 0,
           (unsigned)memcached_server_srcport(NULL));
    memcached_server_st *list = memcached_servers_parse("127.0.0.1:1");
    memcached_server_error_reset(list);
    memcached_server_list_free(list);
    memcached_server_error_reset(NULL);
    char key[2] = "a";
    for (char c = 'a'; c <= 'z'; c++) {
        key[0] = c;
        const memcached_instance_st *x = memcached_server_by_key(m, key, 1, &rc);
        if (memcached_server_port(x) == 1)
            break;
    }
    rc = memcached_set(m, key, 1, "b", 1, 0, 0);
    printf("set on the dead server %d\n", rc);
    printf("error: %s\n", memcached_error(m));
    memcached_error_print(m);
    printf("printed\n");
    const memcached_instance_st *dead = memcached_server_instance_by_position(m, 1);
    printf("server error %d %s\n", memcached_server_error_return(dead), memcached_server_error(dead));
    printf("srcport of the dead server %u\n", (unsigned)memcached_server_srcport(dead));
    memcached_server_error_reset((memcached_server_st *)dead);
    printf("after error_reset %d %s\n", memcached_server_error_return(dead),
           memcached_server_error(dead));
    memcached_instance_next_retry(dead, 0);
    memcached_instance_next_retry(NULL, 5);
    rc = memcached_set(m, key, 1, "b", 1, 0, 0);
    printf("set after next_retry(0) %d\n", rc);
    printf("last disconnect %s\n", memcached_server_get_last_disconnect(m) ? "set" : "NULL");
    memcached_reset_last_disconnected_server(m);
    memcached_reset_last_disconnected_server(NULL);
    printf("after reset_last_disconnected_server %s\n",
           memcached_server_get_last_disconnect(m) ? "set" : "NULL");

    /* reset */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set_distribution(m, MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_reset(m);
    memcached_reset(NULL);
    printf("after reset: no_block %llu binary %llu last %d error %s\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NO_BLOCK),
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL),
           memcached_last_error(m), memcached_error(m));
    getters("after reset", m);
    servers("after reset", m);
    memcached_server_add(m, "127.0.0.1", p2);
    rc = memcached_set(m, "r", 1, "v", 1, 0, 0);
    printf("set after reset %d\n", rc);
    memcached_free(m);

    /* push */
    memcached_st *s = memcached_create(NULL);
    memcached_server_add(s, "127.0.0.1", p1);
    memcached_server_add_with_weight(s, "127.0.0.1", p2, 2);
    memcached_behavior_set(s, MEMCACHED_BEHAVIOR_KETAMA, 1);
    memcached_behavior_set(s, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_st *d = memcached_create(NULL);
    memcached_server_add(d, "localhost", p2);
    printf("push %d\n", memcached_push(d, s));
    printf("after push: ketama %llu binary %llu\n",
           (unsigned long long)memcached_behavior_get(d, MEMCACHED_BEHAVIOR_KETAMA),
           (unsigned long long)memcached_behavior_get(d, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL));
    getters("after push", d);
    servers("after push", d);
    for (char c = 'a'; c <= 'h'; c++) {
        key[0] = c;
        rc = memcached_set(d, key, 1, "p", 1, 0, 0);
        size_t len = 0;
        uint32_t flags = 0;
        char *v = memcached_get(s, key, 1, &len, &flags, &rc);
        printf("push %c: set, get on the source %d\n", c, rc);
        free(v);
    }

    /* analyze */
    memcached_stat_st *st = memcached_stat(d, NULL, &rc);
    printf("stat %d\n", rc);
    memcached_analysis_st *an = memcached_analyze(d, st, &rc);
    printf("analyze %d %s\n", rc, an ? "result" : "NULL");
    memcached_analyze_free(an);
    memcached_stat_free(d, st);
    memcached_free(d);
    memcached_free(s);

    query_ids(p2);
    buffered_sets(p1, p2);
    placements(p1, p2);
    delete_expiration(p1);
    answers_are_not_errors(p1);
    namespaces(p1, p2);
    noreply_codes(p1);
    buffered_codes(p1);

    /* the library's version and the hash names the tools match --hash against */
    printf("lib_version %s\n", memcached_lib_version());
    for (int h = 0; h <= 13; h++) {
        const char *name = libmemcached_string_hash((memcached_hash_t) h);
        printf("string_hash %d %s\n", h, name ? name : "(null)");
    }
    return 0;
}
