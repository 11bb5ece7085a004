/*
 * install_check_lmc.c - a libmemcached program as a user would write it,
 * built by tests-c/install-check.sh against the installed libmemcached face
 * (pkg-config omcache-libmemcached / libmemcached from the private directory)
 * and run without a server: a configuration string, a server list, and the
 * error a dead server gives.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#include <stdio.h>
#include <string.h>

#include <libmemcached/memcached.h>
#include <libmemcached/util.h>

#if LIBMEMCACHED_VERSION_HEX < 0x01000000
#error "libmemcached 1.0 or newer expected"
#endif

int main(void)
{
    const char *config = "--SERVER=127.0.0.1:1 --CONNECT-TIMEOUT=200 --BINARY-PROTOCOL";
    memcached_st *memc = memcached(config, strlen(config));
    if (memc == NULL) {
        fprintf(stderr, "memcached() failed\n");
        return 1;
    }
    if (memcached_server_count(memc) != 1 ||
        memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL) != 1) {
        fprintf(stderr, "configuration not applied\n");
        return 1;
    }
    memcached_return_t rc = memcached_set(memc, "k", 1, "v", 1, 0, 0);
    if (memcached_success(rc)) {
        fprintf(stderr, "a set to a closed port succeeded\n");
        return 1;
    }
    printf("set to a closed port: %s\n", memcached_strerror(memc, rc));
    memcached_free(memc);
    return 0;
}
