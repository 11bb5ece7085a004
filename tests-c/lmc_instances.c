/* lmc_instances.c - server instances and statistics through libmemcached 1.1.4's C API, run
 * once on Debian's libmemcached.so.11 and once on ours (tests-c/lmc-instances.sh compares the
 * two outputs line by line). Reads the private memcached_instance_st fields real binaries read
 * (memcping: _hostname @0x40c0, port_ @0x10; memcstat: root @0xa0), indexes memcached_stat()'s
 * array with stride 224 and frees what pylibmc frees with libc free().
 *
 *   lmc_instances PORT1 PORT2 PORT3 DEADPORT
 *
 * Values that change from run to run (uptime, time, pid, rusage, connections, bytes read and
 * written) are printed as "set"/"zero" only. */
#include <libmemcached/memcached.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *volatile_keys[] = {"pid", "uptime", "time", "rusage_user", "rusage_system",
                                      "curr_connections", "total_connections",
                                      "connection_structures", "bytes_read", "bytes_written",
                                      "rusage_user_seconds", "rusage_user_microseconds",
                                      "rusage_system_seconds", "rusage_system_microseconds",
                                      "libevent", "reserved_fds", "rejected_connections",
                                      "time_in_listen_disabled_us", "max_connections",
                                      "response_obj_bytes", "read_buf_bytes", "read_buf_bytes_free",
                                      "read_buf_oom", "response_obj_count", "round_robin_fallback",
                                      "conn_yields", NULL};

/* Parts of names of the server's own housekeeping counters (LRU maintainer, buffers), which
 * move with timing. */
static const char *volatile_parts[] = {"lru", "moves_", "juggles", "read_buf", "number_",
                                       "age", "hits_to_", NULL};

static int is_volatile(const char *k, size_t len) {
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int) len, k);
    for (const char **v = volatile_keys; *v; v++)
        if (strcmp(*v, name) == 0) return 1;
    for (const char **v = volatile_parts; *v; v++)
        if (strstr(name, *v)) return 1;
    return 0;
}

static const memcached_st *the_memc;
static int show_fd = 1;
static int stop_at = -1, seen = 0;

/* The private instance fields, read at their offsets as Debian's binaries do. */
static void show_instance(const char *tag, const memcached_instance_st *in) {
    const char *p = (const char *) in;
    uint16_t port;
    int32_t fd;
    uint32_t weight, type, cursor_active;
    const void *root;
    memcpy(&port, p + 0x10, 2);
    memcpy(&fd, p + 20, 4);
    memcpy(&weight, p + 64, 4);
    memcpy(&type, p + 108, 4);
    memcpy(&cursor_active, p + 12, 4);
    memcpy(&root, p + 0xa0, sizeof root);
    printf("%s name=%s port=%u type=%s ver=%u.%u.%u | raw host=%s port=%u fd=%d weight=%u "
           "type=%u root=%s versions=%u.%u.%u cursor_active=%u\n",
           /* fd: -1 before a connect; the real library then shows its socket, the face
              keeps -1 (its sockets are the engine's) */
           tag, memcached_server_name(in), memcached_server_port(in), memcached_server_type(in),
           memcached_server_major_version(in), memcached_server_minor_version(in),
           memcached_server_micro_version(in), p + 0x40c0, port, show_fd ? fd : -1, weight, type,
           root == the_memc ? "memc" : root ? "other" : "NULL", (uint8_t) p[104],
           (uint8_t) p[106], (uint8_t) p[105], cursor_active);
}

static memcached_return_t cb_show(const memcached_st *m, const memcached_instance_st *in,
                                  void *ctx) {
    printf("  cursor(%s) memc=%s ", (const char *) ctx, m == the_memc ? "same" : "other");
    show_instance("", in);
    return MEMCACHED_SUCCESS;
}

static memcached_return_t cb_stop(const memcached_st *m, const memcached_instance_st *in,
                                  void *ctx) {
    (void) m;
    (void) ctx;
    int n = seen++;
    printf("  cb_stop #%d %s:%u\n", n, memcached_server_name(in), memcached_server_port(in));
    return n == stop_at ? MEMCACHED_FAILURE : MEMCACHED_SUCCESS;
}

struct stat_ctx {
    int rows;
    int ret;
};

static memcached_return_t stat_cb(const memcached_instance_st *in, const char *key, size_t klen,
                                  const char *value, size_t vlen, void *ctx) {
    struct stat_ctx *c = ctx;
    c->rows++;
    if (is_volatile(key, klen))
        printf("  stat %u %.*s=%s\n", memcached_server_port(in) % 7, (int) klen, key,
               vlen ? "set" : "empty");
    else
        printf("  stat %u %.*s=%.*s\n", memcached_server_port(in) % 7, (int) klen, key,
               (int) vlen, value);
    return (memcached_return_t) c->ret;
}

static const char *vol(unsigned long long v) { return v ? "set" : "zero"; }

static void show_stat(const char *tag, const memcached_stat_st *s) {
    printf("%s pid=%s uptime=%s time=%s version=%s pointer_size=%lu threads=%lu curr_items=%lu "
           "total_items=%lu bytes=%llu cmd_get=%llu cmd_set=%llu get_hits=%llu get_misses=%llu "
           "evictions=%llu limit_maxbytes=%llu conns=%s rusage=%s read=%s written=%s root=%s\n",
           tag, s->pid == -1 ? "-1" : vol((unsigned long long) s->pid), vol(s->uptime),
           vol(s->time), s->version, s->pointer_size, s->threads, s->curr_items, s->total_items,
           s->bytes, s->cmd_get, s->cmd_set, s->get_hits, s->get_misses, s->evictions,
           s->limit_maxbytes, vol(s->curr_connections),
           vol(s->rusage_user_seconds + s->rusage_user_microseconds + s->rusage_system_seconds +
               s->rusage_system_microseconds + 1),
           vol(s->bytes_read), vol(s->bytes_written),
           s->root == the_memc ? "memc" : s->root ? "other" : "NULL");
}

static void stats_scenario(memcached_st *memc, const char *tag) {
    memcached_return_t rc = MEMCACHED_MAXIMUM_RETURN;
    memcached_stat_st *st = memcached_stat(memc, NULL, &rc);
    uint32_t n = memcached_server_count(memc);
    printf("%s stat rc=%d %s\n", tag, rc, st ? "array" : "NULL");
    if (!st) return;
    for (uint32_t i = 0; i < n; i++) {
        /* pylibmc: stats + index with a compiled-in stride of 224 */
        const memcached_stat_st *s = (const memcached_stat_st *) ((const char *) st + 224 * i);
        char t[64];
        snprintf(t, sizeof t, "%s stat[%u]", tag, i);
        show_stat(t, s);
    }
    memcached_return_t krc = MEMCACHED_MAXIMUM_RETURN;
    char **keys = memcached_stat_get_keys(memc, st, &krc);
    printf("%s get_keys rc=%d\n", tag, krc);
    int nk = 0;
    for (char **k = keys; k && *k; k++, nk++) {
        memcached_return_t vrc = MEMCACHED_MAXIMUM_RETURN;
        char *v = memcached_stat_get_value(memc, st, *k, &vrc);
        if (is_volatile(*k, strlen(*k)))
            printf("  %s=%s rc=%d\n", *k, v ? (*v ? "set" : "empty") : "NULL", vrc);
        else
            printf("  %s=%s rc=%d\n", *k, v ? v : "NULL", vrc);
        free(v); /* pylibmc and pgmemcache free these with free() */
    }
    printf("%s keys=%d\n", tag, nk);
    free(keys);
    memcached_return_t vrc = MEMCACHED_MAXIMUM_RETURN;
    char *v = memcached_stat_get_value(memc, st, "no_such_stat", &vrc);
    printf("%s get_value(no_such_stat)=%s rc=%d\n", tag, v ? v : "NULL", vrc);
    free(v);
    v = memcached_stat_get_value(memc, NULL, "pid", &vrc);
    printf("%s get_value(NULL stat)=%s rc=%d\n", tag, v ? v : "NULL", vrc);
    free(v);

    memcached_analysis_st *a = memcached_analyze(memc, st, &rc);
    if (a)
        printf("%s analyze rc=%d root=%s avg=%u oldest=%u(%s) least_free=%u most_consumed=%u "
               "hit_ratio=%.3f most_used=%llu least_remaining=%llu\n",
               tag, rc, a->root == the_memc ? "memc" : "other", a->average_item_size,
               a->oldest_server, vol(a->longest_uptime), a->least_free_server,
               a->most_consumed_server, a->pool_hit_ratio,
               (unsigned long long) a->most_used_bytes,
               (unsigned long long) a->least_remaining_bytes);
    else
        printf("%s analyze rc=%d NULL\n", tag, rc);
    free(a); /* memcstat frees it with free() */
    free(st); /* pylibmc */

    /* "detail off|dump" are groups of two words (a fresh server: the dump is empty). */
    static const char *groups[] = {"items", "slabs", "settings", "nonsense", "with space",
                                   "detail off", "detail dump", "detail", "detail  dump", NULL};
    for (const char **g = groups; *g; g++) {
        rc = MEMCACHED_MAXIMUM_RETURN;
        st = memcached_stat(memc, (char *) *g, &rc);
        printf("%s stat(%s) rc=%d %s", tag, *g, rc, st ? "array" : "NULL");
        if (st) printf(" pid=%d curr_items=%lu", st[0].pid, st[0].curr_items);
        printf("\n");
        memcached_stat_free(NULL, st); /* uses st->root */
    }

    struct stat_ctx c = {0, MEMCACHED_SUCCESS};
    rc = memcached_stat_execute(memc, NULL, stat_cb, &c);
    printf("%s stat_execute rc=%d rows>0=%d\n", tag, rc, c.rows > 0);
    c.rows = 0;
    c.ret = MEMCACHED_FAILURE;
    rc = memcached_stat_execute(memc, "items", stat_cb, &c);
    printf("%s stat_execute(items, failing callback) rc=%d\n", tag, rc);
    c.rows = 0;
    rc = memcached_stat_execute(memc, "nonsense", stat_cb, &c);
    printf("%s stat_execute(nonsense) rc=%d rows=%d\n", tag, rc, c.rows);
    c.rows = 0;
    rc = memcached_stat_execute(memc, "detail dump", stat_cb, &c);
    printf("%s stat_execute(detail dump) rc=%d rows=%d\n", tag, rc, c.rows);
}

static void by_key(memcached_st *memc, const char *tag) {
    uint32_t n = memcached_server_count(memc);
    unsigned counts[8] = {0};
    unsigned long sum = 0;
    for (int i = 0; i < 1000; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "key:%d", i);
        memcached_return_t rc = MEMCACHED_MAXIMUM_RETURN;
        const memcached_instance_st *in = memcached_server_by_key(memc, key, (size_t) len, &rc);
        if (!in) {
            printf("%s %s: NULL rc=%d\n", tag, key, rc);
            continue;
        }
        unsigned idx = n;
        for (uint32_t j = 0; j < n; j++)
            if (memcached_server_instance_by_position(memc, j) == in) idx = j;
        if (idx < 8) counts[idx]++;
        sum = sum * 31 + idx + 1;
        if (i < 3) printf("%s %s -> %u %s:%u rc=%d\n", tag, key, idx, memcached_server_name(in),
                          memcached_server_port(in), rc);
    }
    printf("%s 1000 keys: counts", tag);
    for (uint32_t j = 0; j < n && j < 8; j++) printf(" %u", counts[j]);
    printf(" checksum %lu\n", sum);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT1 PORT2 PORT3 DEADPORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char list[256];
    snprintf(list, sizeof list, "127.0.0.1:%s,127.0.0.1:%s 3,localhost:%s", argv[1], argv[2],
             argv[3]);
    memcached_return_t rc;
    memcached_st *memc = memcached_create(NULL);
    the_memc = memc;

    rc = memcached_server_cursor(memc, NULL, NULL, 0);
    printf("cursor on no servers rc=%d\n", rc);
    rc = MEMCACHED_MAXIMUM_RETURN;
    memcached_stat_st *st0 = memcached_stat(memc, NULL, &rc);
    printf("stat on no servers rc=%d %s\n", rc, st0 ? "array" : "NULL");
    free(st0);
    printf("version on no servers rc=%d\n", memcached_version(memc));
    printf("verbosity on no servers rc=%d\n", memcached_verbosity(memc, 1));
    rc = MEMCACHED_MAXIMUM_RETURN;
    printf("by_key on no servers %s rc=%d\n",
           memcached_server_by_key(memc, "a", 1, &rc) ? "instance" : "NULL", rc);
    printf("last disconnect %s\n", memcached_server_get_last_disconnect(memc) ? "set" : "NULL");

    memcached_server_st *servers = memcached_servers_parse(list);
    rc = memcached_server_push(memc, servers);
    memcached_server_list_free(servers);
    printf("push rc=%d count=%u\n", rc, memcached_server_count(memc));

    memcached_server_fn fns[2] = {cb_show, cb_show};
    rc = memcached_server_cursor(memc, fns, "ctx", 2);
    printf("cursor rc=%d\n", rc);
    memcached_server_fn stopper[2] = {cb_stop, cb_stop};
    stop_at = 1;
    seen = 0;
    rc = memcached_server_cursor(memc, stopper, NULL, 2);
    printf("cursor (callback 1 fails) rc=%d calls=%d\n", rc, seen);
    stop_at = 0;
    seen = 0;
    rc = memcached_server_cursor(memc, stopper, NULL, 1);
    printf("cursor (first call fails) rc=%d calls=%d\n", rc, seen);
    rc = memcached_server_cursor(memc, fns, NULL, 0);
    printf("cursor (0 callbacks) rc=%d\n", rc);

    for (uint32_t i = 0; i < 3; i++) {
        char t[32];
        snprintf(t, sizeof t, "by_position(%u)", i);
        show_instance(t, memcached_server_instance_by_position(memc, i));
        const memcached_instance_st *in = memcached_server_instance_by_position(memc, i);
        printf("  error=%s error_return=%d\n", memcached_server_error(in) ? "set" : "NULL",
               memcached_server_error_return(in));
    }
    printf("NULL instance: name=%s port=%u type=%s major=%u error=%s error_return=%d\n",
           memcached_server_name(NULL) ? "set" : "NULL", memcached_server_port(NULL),
           memcached_server_type(NULL), memcached_server_major_version(NULL),
           memcached_server_error(NULL) ? "set" : "NULL", memcached_server_error_return(NULL));

    printf("version rc=%d\n", memcached_version(memc));
    show_fd = 0;
    for (uint32_t i = 0; i < 3; i++) {
        char t[32];
        snprintf(t, sizeof t, "after version(%u)", i);
        show_instance(t, memcached_server_instance_by_position(memc, i));
    }
    printf("verbosity rc=%d\n", memcached_verbosity(memc, 0));

    for (int i = 0; i < 30; i++) {
        char key[16];
        int len = snprintf(key, sizeof key, "k%d", i);
        memcached_set(memc, key, (size_t) len, "value-value", 11 + (size_t) (i % 5), 0, 0);
        size_t vlen;
        uint32_t flags;
        free(memcached_get(memc, key, (size_t) len, &vlen, &flags, &rc));
        if (i % 3 == 0) free(memcached_get(memc, "miss", 4, &vlen, &flags, &rc));
    }
    stats_scenario(memc, "text");

    rc = MEMCACHED_MAXIMUM_RETURN;
    memcached_stat_st sst;
    memset(&sst, 0x55, sizeof sst);
    rc = memcached_stat_servername(&sst, NULL, "127.0.0.1", (in_port_t) atoi(argv[1]));
    printf("stat_servername rc=%d\n", rc);
    show_stat("stat_servername", &sst);
    rc = memcached_stat_servername(&sst, (char *) "items", "127.0.0.1", (in_port_t) atoi(argv[1]));
    printf("stat_servername(items) rc=%d pid=%d\n", rc, sst.pid);
    rc = memcached_stat_servername(&sst, NULL, "127.0.0.1", (in_port_t) atoi(argv[4]));
    printf("stat_servername(dead) rc=%d\n", rc);

    by_key(memc, "modula");
    rc = MEMCACHED_MAXIMUM_RETURN;
    printf("by_key(empty) %s rc=%d\n",
           memcached_server_by_key(memc, "", 0, &rc) ? "instance" : "NULL", rc);
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    by_key(memc, "ketama");
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    by_key(memc, "ketama_weighted");
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_MODULA);

    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    printf("binary version rc=%d\n", memcached_version(memc));
    printf("binary verbosity rc=%d\n", memcached_verbosity(memc, 0));
    stats_scenario(memc, "binary");
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0);

    /* a dead server: errors per instance, the last disconnected server */
    memcached_st *dead = memcached_create(NULL);
    the_memc = dead;
    memcached_server_add(dead, "127.0.0.1", (in_port_t) atoi(argv[4]));
    rc = memcached_version(dead);
    printf("dead version rc=%d\n", rc);
    const memcached_instance_st *din = memcached_server_instance_by_position(dead, 0);
    printf("dead error=%s error_return=%d major=%u\n",
           memcached_server_error(din) ? "set" : "NULL", memcached_server_error_return(din),
           memcached_server_major_version(din));
    const memcached_instance_st *last = memcached_server_get_last_disconnect(dead);
    /* the real library hands out a copy of the instance here: compare name and port only */
    printf("dead last disconnect %s %s:%u\n", last ? "set" : "NULL",
           last ? memcached_server_name(last) : "-", last ? memcached_server_port(last) : 0);
    rc = MEMCACHED_MAXIMUM_RETURN;
    memcached_stat_st *dst = memcached_stat(dead, NULL, &rc);
    printf("dead stat rc=%d %s\n", rc, dst ? "array" : "NULL");
    if (dst) show_stat("dead stat[0]", dst);
    memcached_stat_free(dead, dst);
    printf("dead verbosity rc=%d\n", memcached_verbosity(dead, 1));
    struct stat_ctx c = {0, 0};
    printf("dead stat_execute rc=%d rows=%d\n", memcached_stat_execute(dead, NULL, stat_cb, &c),
           c.rows);
    memcached_free(dead);
    the_memc = memc;

    /* server lists */
    memcached_server_st *l = memcached_server_list_append(NULL, "h1", 0, &rc);
    printf("append rc=%d count=%u\n", rc, memcached_server_list_count(l));
    l = memcached_server_list_append_with_weight(l, "h2", 2222, 5, &rc);
    l = memcached_server_list_append_with_weight(l, NULL, 0, 0, &rc);
    l = memcached_server_list_append(l, "/tmp/sock", 33, &rc);
    printf("append rc=%d count=%u\n", rc, memcached_server_list_count(l));
    for (uint32_t i = 0; i < memcached_server_list_count(l); i++)
        printf("  list[%u] %s:%u weight=%u type=%u\n", i, l[i].hostname, l[i].port, l[i].weight,
               (unsigned) l[i].type);
    memcached_server_free(l); /* memcaslap frees parsed lists this way */

    memcached_servers_reset(memc);
    printf("reset count=%u\n", memcached_server_count(memc));
    rc = memcached_server_cursor(memc, fns, NULL, 1);
    printf("cursor after reset rc=%d\n", rc);
    printf("add_unix_socket rc=%d\n", memcached_server_add_unix_socket(memc, "/tmp/no-such.sock"));
    printf("add_unix_socket(empty) rc=%d\n", memcached_server_add_unix_socket(memc, ""));
    printf("add_unix_socket_with_weight rc=%d\n",
           memcached_server_add_unix_socket_with_weight(memc, "/tmp/other.sock", 7));
    show_instance("socket", memcached_server_instance_by_position(memc, 0));
    show_instance("socket2", memcached_server_instance_by_position(memc, 1));
    rc = memcached_server_cursor(memc, fns, "sockets", 1);
    printf("cursor rc=%d\n", rc);
    memcached_free(memc);
    printf("done\n");
    return 0;
}
