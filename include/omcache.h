/*
 * omcache.h - OMcache 0.3 compatible memcached client library
 *
 * Part of omcache-rs, a re-implementation of the OMcache 0.3 C API on a
 * Rust core.  Licensed under the Apache License, Version 2.0; see the file
 * LICENSE.
 *
 * Link with -lomcache (pkg-config omcache).
 */

#ifndef _OMCACHE_H
#define _OMCACHE_H 1

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif /* __cplusplus */

#include "omcache_cdef.h"

#ifdef __cplusplus
}
#endif /* __cplusplus */

/* Kept out of omcache_cdef.h, which cffi parses and which therefore holds
 * no preprocessor definitions. */
#define OMCACHE_VERSION 0x00000300  /* 0.3.0 */
#define OMCACHE_DELTA_NO_ADD 0xffffffffu
/* omcache_set_tls() and the other OMCACHE_0.3 TLS functions exist. */
#define OMCACHE_HAVE_TLS 1

#endif /* !_OMCACHE_H */
