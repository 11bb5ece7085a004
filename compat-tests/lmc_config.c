/* lmc_config.c - the real libmemcached 1.1.4's verdict on configuration strings and server
 * lists, one case per input line, in the format that src/ffi/libmemcached/compat.rs prints.
 *
 *   lmc_config config  < corpus   memcached() + libmemcached_check_configuration()
 *   lmc_config servers < corpus   memcached_servers_parse()
 *   lmc_config add < corpus       memcached_server_add_with_weight(), lines "host\tport\tweight"
 *                                 (host "NULL" passes NULL)
 *
 * Input lines use escapes: \n \t \r \\ \xHH (so a case may hold newlines). Output values are
 * escaped the same way. No I/O beyond stdin/stdout: servers are added, never contacted
 * (SOCKET_SEND/RECV_SIZE are read from the struct, as behavior_get would connect). The weight
 * and type of an instance are read at their offsets in the private memcached_instance_st
 * (64 and 108, see the spec's instance.txt): the public API has no getter for them. */
#include <libmemcached/memcached.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unescape(const char *in, char *out) {
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p != '\\' || !p[1]) { out[n++] = *p; continue; }
        p++;
        switch (*p) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'x': {
            char hex[3] = {p[1], p[1] ? p[2] : 0, 0};
            out[n++] = (char)strtoul(hex, NULL, 16);
            p += 2;
            break;
        }
        default: out[n++] = *p; break;
        }
    }
    out[n] = 0;
    return n;
}

static void put_escaped(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
}

static void config_case(const char *cfg, size_t len) {
    char err[2048];
    memset(err, 0, sizeof err);
    memcached_return_t rc = libmemcached_check_configuration(cfg, len, err, sizeof err);
    printf("check %d ", (int)rc);
    put_escaped(err, strlen(err));
    putchar('\n');
    memcached_st *memc = memcached(cfg, len);
    if (!memc) { puts("memcached NULL"); return; }
    uint32_t n = memcached_server_count(memc);
    printf("memcached ok servers=%u weighted=%d\n", n, (int)memc->ketama.weighted_);
    for (uint32_t i = 0; i < n; i++) {
        const memcached_instance_st *in = memcached_server_instance_by_position(memc, i);
        const char *name = memcached_server_name(in);
        uint32_t weight;
        int type;
        memcpy(&weight, (const char *)in + 64, sizeof weight);
        memcpy(&type, (const char *)in + 108, sizeof type);
        printf("server ");
        put_escaped(name, strlen(name));
        printf(" %u %u %d\n", (unsigned)memcached_server_port(in), weight, type);
    }
    printf("behaviors");
    for (int b = 0; b < MEMCACHED_BEHAVIOR_MAX; b++) {
        uint64_t v;
        if (b == MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE) v = (uint64_t)(int64_t)memc->send_size;
        else if (b == MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE) v = (uint64_t)(int64_t)memc->recv_size;
        else v = memcached_behavior_get(memc, (memcached_behavior_t)b);
        printf(" %llu", (unsigned long long)v);
    }
    putchar('\n');
    memcached_return_t nrc;
    const char *ns = memcached_callback_get(memc, MEMCACHED_CALLBACK_NAMESPACE, &nrc);
    printf("fetch_version %d pool %u %u namespace %s", (int)memc->flags.is_fetching_version, memc->configure.initial_pool_size,
           memc->configure.max_pool_size, ns ? "" : "NULL");
    if (ns) put_escaped(ns, strlen(ns));
    putchar('\n');
    memcached_free(memc);
}

static void servers_case(const char *list) {
    memcached_server_st *s = memcached_servers_parse(list);
    if (!s) { puts("parse NULL"); return; }
    uint32_t n = memcached_server_list_count(s);
    printf("parse count=%u\n", n);
    for (uint32_t i = 0; i < n; i++) {
        printf("server ");
        put_escaped(s[i].hostname, strlen(s[i].hostname));
        printf(" %u %u %d\n", (unsigned)s[i].port, s[i].weight, (int)s[i].type);
    }
    memcached_server_list_free(s);
}

static void add_case(char *line) {
    char *port = strchr(line, '\t'), *weight = port ? strchr(port + 1, '\t') : NULL;
    if (!weight) { puts("bad case"); return; }
    *port++ = 0;
    *weight++ = 0;
    memcached_st *memc = memcached_create(NULL);
    const char *host = strcmp(line, "NULL") ? line : NULL;
    memcached_return_t rc = memcached_server_add_with_weight(
        memc, host, (in_port_t)strtoul(port, NULL, 10), (uint32_t)strtoul(weight, NULL, 10));
    uint32_t n = memcached_server_count(memc);
    printf("add %d servers=%u\n", (int)rc, n);
    for (uint32_t i = 0; i < n; i++) {
        const memcached_instance_st *in = memcached_server_instance_by_position(memc, i);
        const char *name = memcached_server_name(in);
        uint32_t w;
        int type;
        memcpy(&w, (const char *)in + 64, sizeof w);
        memcpy(&type, (const char *)in + 108, sizeof type);
        printf("server ");
        put_escaped(name, strlen(name));
        printf(" %u %u %d\n", (unsigned)memcached_server_port(in), w, type);
    }
    memcached_free(memc);
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "config") && strcmp(argv[1], "servers") &&
                      strcmp(argv[1], "add"))) {
        fprintf(stderr, "usage: lmc_config config|servers|add < corpus\n");
        return 2;
    }
    int config = strcmp(argv[1], "config") == 0, add = strcmp(argv[1], "add") == 0;
    static char line[1 << 20], buf[1 << 20];
    unsetenv("LIBMEMCACHED");
    while (fgets(line, sizeof line, stdin)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\n') line[--l] = 0;
        printf("case ");
        put_escaped(line, l);
        putchar('\n');
        size_t len = unescape(line, buf);
        if (add) add_case(buf);
        else if (config) config_case(buf, len);
        else servers_case(buf);
    }
    return 0;
}
