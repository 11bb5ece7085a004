/*
 * omcache_libmemcachedutil.h - the libmemcachedutil 1.1.4 API
 * (libmemcachedutil.so.2: memcached_pool_* and libmemcached_util_*), the 15
 * exported functions with the real prototypes.
 *
 * Installed as <libmemcached/util.h> and <libmemcachedutil-1.0/util.h> (and
 * the other <libmemcachedutil-1.0/...> names), as one-line wrappers.  It
 * includes the whole libmemcached API, as the real one does.
 */
#ifndef OMCACHE_LIBMEMCACHEDUTIL_H
#define OMCACHE_LIBMEMCACHEDUTIL_H

#include "omcache_libmemcached.h"

#ifdef __cplusplus
extern "C" {
#endif

/* memcached_pool_fetch() takes a relative timeout; its definition is in
 * <time.h> (POSIX), which the caller includes to fill one in. */
struct timespec;

/* ---- connection pool ---- */

struct memcached_pool_st; /* opaque */
typedef struct memcached_pool_st memcached_pool_st;

memcached_pool_st *memcached_pool_create(memcached_st *mmc, uint32_t initial, uint32_t max);
memcached_pool_st *memcached_pool(const char *option_string, size_t option_string_length);
memcached_st *memcached_pool_destroy(memcached_pool_st *pool);
memcached_st *memcached_pool_pop(memcached_pool_st *pool, bool block, memcached_return_t *rc);
memcached_return_t memcached_pool_push(memcached_pool_st *pool, memcached_st *mmc);
memcached_return_t memcached_pool_release(memcached_pool_st *pool, memcached_st *mmc);
memcached_st *memcached_pool_fetch(memcached_pool_st *pool, struct timespec *relative_time,
                                   memcached_return_t *rc);
memcached_return_t memcached_pool_behavior_set(memcached_pool_st *ptr, memcached_behavior_t flag,
                                               uint64_t data);
memcached_return_t memcached_pool_behavior_get(memcached_pool_st *ptr, memcached_behavior_t flag,
                                               uint64_t *value);

/* ---- one-shot helpers on a single server ---- */

bool libmemcached_util_flush(const char *hostname, in_port_t port, memcached_return_t *ret);
pid_t libmemcached_util_getpid(const char *hostname, in_port_t port, memcached_return_t *ret);
pid_t libmemcached_util_getpid2(const char *hostname, in_port_t port, const char *username,
                                const char *password, memcached_return_t *ret);
bool libmemcached_util_ping(const char *hostname, in_port_t port, memcached_return_t *ret);
bool libmemcached_util_ping2(const char *hostname, in_port_t port, const char *username,
                             const char *password, memcached_return_t *ret);
bool libmemcached_util_version_check(memcached_st *memc, uint8_t major_version,
                                     uint8_t minor_version, uint8_t micro_version);

#ifdef __cplusplus
}
#endif

#endif /* OMCACHE_LIBMEMCACHEDUTIL_H */
