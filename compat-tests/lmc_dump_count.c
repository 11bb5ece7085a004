/* lmc_dump_count.c - memcached_dump over the given servers: how many keys the callback saw, and
 * the return code. Usage: lmc_dump_count PORT... (run-php.sh: a stopped server among them). */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>

static memcached_return_t count_key(const memcached_st *m, const char *key, size_t len, void *ctx) {
    (void)m; (void)key; (void)len;
    ++*(size_t *)ctx;
    return MEMCACHED_SUCCESS;
}

int main(int argc, char **argv) {
    memcached_st *m = memcached_create(NULL);
    for (int i = 1; i < argc; i++) memcached_server_add(m, "127.0.0.1", (in_port_t)atoi(argv[i]));
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 500);
    size_t n = 0;
    memcached_dump_fn cb[1] = {count_key};
    memcached_return_t rc = memcached_dump(m, cb, &n, 1);
    printf("dump keys=%zu rc=%d %s\n", n, rc, memcached_strerror(m, rc));
    memcached_free(m);
    return 0;
}
